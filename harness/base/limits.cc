#include "harness/base/limits.h"

#include <cstdlib>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/text.h"

namespace laco {

const std::vector<InputLimitInfo>& input_limits() {
  static const std::vector<InputLimitInfo> limits = {
      {InputLimit::kFileBytes, "file bytes", "LACO_MAX_FILE_BYTES", uint64_t{64} << 20, "bytes",
       "a text or JSON file read whole (a sweep spec, config.json, a shard index, tokenizer.json; Qwen2's is 7 MB)"},
      {InputLimit::kDataBytes, "data file bytes", "LACO_MAX_DATA_BYTES", uint64_t{16} << 30, "bytes",
       "a data file read whole: safetensors (a checkpoint shard, a stage-0 cache, a parity case; 0.9B float32 "
       "parameters are 3.6 GB), a JSONL data file for its digest"},
      {InputLimit::kHeaderBytes, "safetensors header bytes", "LACO_MAX_HEADER_BYTES", uint64_t{100} << 20, "bytes",
       "the JSON header of a safetensors file (the format's own reader refuses more than 100 MB)"},
      {InputLimit::kLineBytes, "JSONL line bytes", "LACO_MAX_LINE_BYTES", uint64_t{1} << 20, "bytes",
       "one line of a JSONL data file (a question with its conversation)"},
      {InputLimit::kImagePixels, "image pixels", "LACO_MAX_IMAGE_PIXELS", uint64_t{40} << 20, "pixels",
       "width x height of an image, read from its header before it is decoded, whatever its channels (40 M "
       "pixels: 120 MB as RGB; benchmark images are under 16 M)"},
      {InputLimit::kSweepRuns, "sweep runs", "LACO_MAX_SWEEP_RUNS", 100000, "runs",
       "the runs one sweep spec, or one laco run, expands to (also laco sweep --max-runs)"},
  };
  return limits;
}

namespace {

const InputLimitInfo& info_of(InputLimit limit) {
  for (const auto& l : input_limits())
    if (l.id == limit) return l;
  fail("input limit {} is not registered", static_cast<int>(limit));
}

}  // namespace

uint64_t input_limit(InputLimit limit) {
  const InputLimitInfo& l = info_of(limit);
  const char* text = std::getenv(l.env.c_str());
  if (!text || !*text) return l.fallback;
  const auto v = parse_int(text);
  if (!v || *v < 1) fail("{}={}: not a positive integer (allowed: the most {} of {}; default {})", l.env, text, l.unit, l.name, l.fallback);
  return static_cast<uint64_t>(*v);
}

void check_input_limit(InputLimit limit, const std::string& subject, uint64_t value, const std::string& how) {
  const uint64_t max = input_limit(limit);
  if (value <= max) return;
  const InputLimitInfo& l = info_of(limit);
  fail("{}: {} {} is more than the limit of {} {} ({}; raise it with {}=N{})", subject, value, l.unit, max, l.unit, l.name,
       l.env, how.empty() ? std::string() : " or " + how);
}

}  // namespace laco
