// Limits on what laco takes from outside, one place for each: every file,
// image and spec is untrusted, and a small file must not make laco allocate
// gigabytes (a 380 KB PNG that decodes to 20000 x 20000 pixels, a config
// that asks for a 10^9-wide model, /dev/zero read as a spec, a spec of a
// million seeds). Each limit has a name, a default far above any real input,
// and an environment variable that raises it (or a flag, where the command
// has one); an input over it is refused with an error naming the input, its
// size, the limit and how to raise it. docs/cli.md lists them (`laco limits`).
//
//   check_input_limit(InputLimit::kImagePixels, path, width * height);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace laco {

enum class InputLimit {
  kFileBytes,     ///< a text or JSON file read whole: a spec, config.json, an index, tokenizer.json
  kDataBytes,     ///< a data file read whole: safetensors (a checkpoint shard, a stage-0 cache, a parity case), a JSONL's digest
  kHeaderBytes,   ///< a safetensors file's JSON header
  kLineBytes,     ///< one line of a JSONL file
  kImagePixels,   ///< width x height of an image, from its header, before it is decoded
  kSweepRuns,     ///< the runs a sweep spec (or laco run's flags) expands to
};

struct InputLimitInfo {
  InputLimit id;
  std::string name;  ///< "file bytes"
  std::string env;   ///< the environment variable that raises it
  uint64_t fallback = 0;
  std::string unit;  ///< "bytes", "pixels", "runs"
  std::string what;  ///< one line: what it bounds and why the default
};

/// Every limit, in the order docs/cli.md lists them.
const std::vector<InputLimitInfo>& input_limits();
/// A limit's value: its environment variable when set (a positive integer,
/// else an Error naming the variable), else its default.
uint64_t input_limit(InputLimit limit);
/// An Error unless value <= the limit: "`subject`: value unit is more than
/// the limit of N unit (name; raise it with ENV=N)". `how` adds another way
/// to raise it ("--max-runs N").
void check_input_limit(InputLimit limit, const std::string& subject, uint64_t value, const std::string& how = "");

}  // namespace laco
