// `laco demo`: every method inside one encoder, as a quick look at what each
// does to the token grid and what it costs. Not a benchmark (that is
// `laco run --eval efficiency`): a median of three forward passes.
#pragma once

#include <cstdint>
#include <string>

#include "harness/model/encoder.h"
#include "harness/print/table.h"

namespace laco {

struct DemoOptions {
  EncoderOptions encoder = EncoderOptions().image_size(378).patch_size(14).width(128).depth(8).heads(4).mlp_dim(512);
  std::string placement = "1/4";
  int64_t ratio = 2;
  GridPolicy grid_policy = GridPolicy::kPad;
  int64_t batch = 2;
  int64_t threads = 2;
  uint64_t seed = 0;
};

/// Runs the demo: one row per method (title: the encoder and placement).
PrintTable run_demo(const DemoOptions& options);

}  // namespace laco
