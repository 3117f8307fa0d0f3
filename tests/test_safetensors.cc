#include <cstring>
#include <filesystem>
#include <fstream>

#include <torch/torch.h>

#include "harness/base/safetensors.h"
#include "tests/test_util.h"

namespace laco {
namespace {

// A file image: 8-byte little-endian length, the header text, then `data`.
std::string image(const std::string& header, const std::string& data = "") {
  std::string out(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + data;
}

TEST(SafeTensors, RoundTripsEveryDtypeShapeAndMetadata) {
  torch::manual_seed(20);
  NamedTensors tensors = {
      {"f32", torch::randn({2, 3})},
      {"f16", torch::randn({4}).to(torch::kFloat16)},
      {"bf16", torch::randn({1, 2, 2}).to(torch::kBFloat16)},
      {"f64", torch::randn({3}, torch::kFloat64)},
      {"i64", torch::arange(5)},
      {"i32", torch::arange(3, torch::kInt32)},
      {"u8", torch::arange(7, torch::kUInt8)},
      {"bool", torch::tensor({true, false, true})},
      {"scalar", torch::tensor(3.5)},
      {"empty", torch::zeros({0, 4})},
      {"strided", torch::randn({4, 4}).t()},
  };
  const std::map<std::string, std::string> meta = {{"method", "laco"}, {"note", "x"}};
  const std::string bytes = serialize_safetensors(tensors, meta);
  uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  EXPECT_EQ(header_len % 8, 0u) << "the header is padded to 8 bytes";

  const auto file = SafeTensors::parse(bytes, "mem");
  EXPECT_EQ(file.metadata(), meta);
  std::vector<std::string> order;
  for (const auto& [name, t] : tensors) {
    order.push_back(name);
    ASSERT_TRUE(file.contains(name));
    EXPECT_EQ(file.get(name).scalar_type(), t.scalar_type()) << name;
    EXPECT_TRUE(torch::equal(file.get(name), t)) << name;
  }
  EXPECT_EQ(file.names(), order);
}

TEST(SafeTensors, SaveIsAtomicAndLoadsBack) {
  const auto dir = test::temp_dir("safetensors");
  const auto path = dir + "/w.safetensors";
  save_safetensors(path, {{"a", torch::ones({2})}});
  save_safetensors(path, {{"b", torch::zeros({3})}});
  const auto file = SafeTensors::load(path);
  EXPECT_FALSE(file.contains("a"));
  EXPECT_TRUE(torch::equal(file.get("b"), torch::zeros({3})));
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove_all(dir);
}

TEST(SafeTensors, MalformedFilesAreRejectedWithTheFileAndTheProblem) {
  const std::string f32x2 = R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
  const std::string eight(8, '\1');
  struct Bad {
    std::string what, bytes;
    std::vector<std::string> fragments;
  };
  std::string past_end = image("{}");
  past_end[0] = 100;
  const std::vector<Bad> cases = {
      {"short header", "abc", {"short header", "3 bytes"}},
      {"length past the end", past_end, {"header length 100 runs past the end"}},
      {"not JSON", image("{not json"), {"not valid JSON"}},
      // Printing or freeing a 100 000-deep value recursed until the stack overflowed (SIGSEGV).
      {"nested too deep", image("{\"__metadata__\": {\"a\": " + std::string(100000, '[') + std::string(100000, ']') + "}}"),
       {"not valid JSON", "nested deeper than 64 levels"}},
      {"not an object", image("[1,2]"), {"must be a JSON object"}},
      {"missing dtype", image(R"({"t":{"shape":[2],"data_offsets":[0,8]}})", eight), {"'t'", "missing field 'dtype'"}},
      {"missing offsets", image(R"({"t":{"dtype":"F32","shape":[2]}})", eight), {"missing field 'data_offsets'"}},
      {"unknown dtype", image(R"({"t":{"dtype":"F12","shape":[2],"data_offsets":[0,8]}})", eight),
       {"'t'", "unknown dtype 'F12'", "F32, F16, BF16"}},
      {"negative shape", image(R"({"t":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", eight),
       {"shape entry must be a non-negative integer"}},
      {"offsets out of range", image(R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", eight),
       {"'t'", "data_offsets [0, 16] out of range", "8 bytes"}},
      {"offsets reversed", image(R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[8,0]}})", eight),
       {"data_offsets [8, 0] out of range"}},
      {"shape/size mismatch", image(R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", eight),
       {"'t'", "shape [3] of F32 needs 12 bytes", "span 8 bytes"}},
      {"huge shape", image(R"({"t":{"dtype":"F32","shape":[4294967296,4294967296,16],"data_offsets":[0,8]}})", eight),
       {"needs over 2^64 bytes"}},
      {"overlap",
       image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
             eight),
       {"'a' [0, 8] and 'b' [4, 8] overlap"}},
      // Issue 12, defect 8: only neighbours were compared, so a zero-length
      // tensor sorted between two overlapping ones hid the overlap.
      {"overlap behind an empty tensor",
       image(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
             R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
             eight),
       {"'a' [0, 8] and 'b' [4, 8] overlap"}},
      {"duplicate tensor name",
       image(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
             eight),
       {"duplicate key 't'"}},
      {"metadata not strings", image(R"({"__metadata__":{"k":1},)" + f32x2.substr(1), eight),
       {"__metadata__ value 'k' must be a string"}},
      {"offsets not a pair", image(R"({"t":{"dtype":"F32","shape":[2],"data_offsets":[0]}})", eight),
       {"must be [begin, end]"}},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    auto fragments = c.fragments;
    fragments.push_back("bad.safetensors");
    test::expect_error([&] { SafeTensors::parse(c.bytes, "bad.safetensors"); }, fragments);
  }
  // The valid baseline of those cases parses.
  EXPECT_NO_THROW(SafeTensors::parse(image(f32x2, eight), "good"));
}

TEST(SafeTensors, MissingTensorNamesTheFileAndWhatItHolds) {
  const auto file = SafeTensors::parse(serialize_safetensors({{"input.x", torch::ones({1})}}), "case.safetensors");
  test::expect_error([&] { file.get("output"); }, {"case.safetensors", "no tensor named 'output'", "input.x"});
}

TEST(SafeTensors, UnreadableFileIsAnError) {
  test::expect_error([] { SafeTensors::load("/nonexistent/x.safetensors"); },
                     {"/nonexistent/x.safetensors", "cannot open: No such file or directory"});
  // Issue 12, defect 8: a folder read as "short header: file has 0 bytes".
  const std::string dir = test::temp_dir("safetensors_dir");
  test::expect_error([&] { SafeTensors::load(dir); }, {dir + ": is a folder (allowed: a regular file)"});
}

TEST(SafeTensors, WritingRefusesReservedAndDuplicateNames) {
  test::expect_error([] { serialize_safetensors({{"__metadata__", torch::ones({1})}}); }, {"reserved"});
  test::expect_error([] { serialize_safetensors({{"a", torch::ones({1})}, {"a", torch::ones({1})}}); },
                     {"'a' appears twice"});
}

}  // namespace
}  // namespace laco
