#include <cstdlib>
#include <filesystem>

#include <torch/torch.h>

#include "harness/base/safetensors.h"
#include "harness/print/printer.h"
#include "parity/method.h"
#include "tests/test_util.h"

namespace laco {
namespace {

// CI sets LACO_REQUIRE_PARITY=1 so that a missing shared/parity fails rather than skips.
std::string require_parity_dir() {
  const std::string dir = test::parity_dir();
  if (dir.empty() && std::getenv("LACO_REQUIRE_PARITY"))
    ADD_FAILURE() << "LACO_REQUIRE_PARITY is set but no parity folder was found (LACO_PARITY_DIR or ../shared/parity)";
  return dir;
}

#define LACO_NEED_PARITY_DIR(dir)                                                                    \
  const std::string dir = require_parity_dir();                                                     \
  if (dir.empty()) GTEST_SKIP() << "no shared/parity folder (set LACO_PARITY_DIR to point at one)"; \
  do {                                                                                               \
  } while (0)

class ParityCase : public ::testing::TestWithParam<std::string> {};

TEST_P(ParityCase, MatchesTheReference) {
  LACO_NEED_PARITY_DIR(dir);
  const auto report = run_parity(dir + "/" + GetParam());
  std::cout << make_printer("table")->print(parity_table(report));
  EXPECT_TRUE(report.pass());
  bool has_output = false;
  for (const auto& o : report.outputs) {
    EXPECT_LE(o.rel, 1e-4) << o.name;
    has_output |= o.name == "output";
  }
  EXPECT_TRUE(has_output);
}

INSTANTIATE_TEST_SUITE_P(Shared, ParityCase,
                         ::testing::Values("pixel_shuffle.safetensors", "ldpv2.safetensors",
                                           "tokenpacker_s2.safetensors", "tokenpacker_s3.safetensors",
                                           "tokenpacker_s4.safetensors"),
                         [](const auto& info) { return info.param.substr(0, info.param.find('.')); });

TEST(Parity, EveryCaseInTheFolderPasses) {
  LACO_NEED_PARITY_DIR(dir);
  int cases = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".safetensors") continue;
    const auto file = SafeTensors::load(entry.path().string());
    if (!file.metadata().count("method")) continue;  // a weights-only file
    ++cases;
    EXPECT_TRUE(run_parity(entry.path().string()).pass()) << entry.path();
  }
  EXPECT_GE(cases, 5);
}

TEST(Parity, PixelShuffleChecksTheShuffleAndTheProjector) {
  LACO_NEED_PARITY_DIR(dir);
  const auto report = run_parity(dir + "/pixel_shuffle.safetensors");
  ASSERT_EQ(report.outputs.size(), 2u);
  std::vector<std::string> names{report.outputs[0].name, report.outputs[1].name};
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"output", "output.shuffled"}));
}

// Rewrites a case with one weight nudged: parity must notice.
TEST(Parity, APerturbedWeightFails) {
  LACO_NEED_PARITY_DIR(dir);
  const auto original = SafeTensors::load(dir + "/ldpv2.safetensors");
  NamedTensors tensors;
  for (const auto& name : original.names()) {
    auto t = original.get(name).clone();
    if (name == "weight.mlp.mlp.2.bias") t[0] += 0.01;
    tensors.emplace_back(name, t);
  }
  const auto tmp = test::temp_dir("parity");
  save_safetensors(tmp + "/ldpv2.safetensors", tensors, original.metadata());
  const auto report = run_parity(tmp + "/ldpv2.safetensors");
  EXPECT_FALSE(report.pass());
  EXPECT_GT(report.outputs.at(0).rel, 1e-3);
  // The same case passes with a looser tolerance, so the comparison, not the load, failed.
  EXPECT_TRUE(run_parity(tmp + "/ldpv2.safetensors", "", 0.1).pass());
  std::filesystem::remove_all(tmp);
}

TEST(Parity, WrongOrIncompleteWeightsAreClearErrors) {
  LACO_NEED_PARITY_DIR(dir);
  test::expect_error([&] { run_parity(dir + "/tokenpacker_s2.safetensors", dir + "/ldpv2.safetensors"); },
                     {"ldpv2.safetensors", "no tensor named 'weight.q_proj_1.weight'"});
  // An extra weight under the prefix matches no parameter.
  const auto original = SafeTensors::load(dir + "/pixel_shuffle.safetensors");
  NamedTensors tensors;
  for (const auto& name : original.names()) tensors.emplace_back(name, original.get(name));
  tensors.emplace_back("weight.mlp1.9.weight", torch::ones({2}));
  const auto tmp = test::temp_dir("parity_extra");
  save_safetensors(tmp + "/ps.safetensors", tensors, original.metadata());
  test::expect_error([&] { run_parity(tmp + "/ps.safetensors"); },
                     {"weight.mlp1.9.weight", "match no parameter of method 'pixel_shuffle'"});
  // A reference configuration the method cannot take.
  auto meta = original.metadata();
  meta["ps_version"] = "v1";
  save_safetensors(tmp + "/v1.safetensors", tensors, meta);
  test::expect_error([&] { run_parity(tmp + "/v1.safetensors"); }, {"ps_version 'v1'", "allowed: v2"});
  std::filesystem::remove_all(tmp);
}

}  // namespace
}  // namespace laco
