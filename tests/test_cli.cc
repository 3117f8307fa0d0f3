// The `laco` binary end to end: exit codes and messages a user sees.
#include <set>

#include <nlohmann/json.hpp>

#include "tests/test_util.h"

namespace laco {
namespace {

const std::string kLaco = LACO_BIN;

TEST(Cli, ParityPassesAndReportsEachOutput) {
  const std::string dir = test::parity_dir();
  if (dir.empty()) GTEST_SKIP() << "no shared/parity folder (set LACO_PARITY_DIR to point at one)";
  auto r = test::run_command(kLaco + " parity " + dir + "/pixel_shuffle.safetensors");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("output.shuffled"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("parity: PASS"), std::string::npos) << r.output;
}

TEST(Cli, ParityExitsNonZeroWhenTheErrorExceedsTheTolerance) {
  const std::string dir = test::parity_dir();
  if (dir.empty()) GTEST_SKIP() << "no shared/parity folder (set LACO_PARITY_DIR to point at one)";
  // TokenPacker agrees to ~2e-8, so a 1e-12 tolerance must fail.
  auto r = test::run_command(kLaco + " parity " + dir + "/tokenpacker_s2.safetensors --tol 1e-12");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("parity: FAIL"), std::string::npos) << r.output;
}

TEST(Cli, ErrorsNameTheProblemAndExitNonZero) {
  auto r = test::run_command(kLaco + " parity /nonexistent/case.safetensors");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("laco: error: /nonexistent/case.safetensors: cannot open: No such file or directory"), std::string::npos)
      << r.output;

  r = test::run_command(kLaco + " demo --ratio 5 --depth 2 --width 16 --heads 2 --mlp-dim 16");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("ratio 5 is not supported (allowed: 2, 3, 4"), std::string::npos) << r.output;

  r = test::run_command(kLaco + " demo --grid-policy crop");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--grid-policy: unknown grid policy 'crop' (allowed: pad, interpolate, error)"),
            std::string::npos)
      << r.output;

  r = test::run_command(kLaco + " nosuchcommand");
  EXPECT_NE(r.status, 0);
}

TEST(Cli, ParseErrorsSayLacoErrorAndExitOne) {
  // docs/cli.md's promise holds for CLI11's parse errors too (not its codes 104-109).
  for (const char* args : {" nosuchcommand", " run --no-such-flag", " run --ratio", " query --db"}) {
    auto r = test::run_command(kLaco + args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
    EXPECT_EQ(r.output.rfind("laco: error: ", 0), 0u) << args << "\n" << r.output;
  }
  // A setting of another evaluation is refused with the ones that apply.
  auto r = test::run_command(kLaco + " run --eval accuracy --preset tiny --crops 3");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("laco: error: --crops: not a setting of --eval accuracy (allowed: --steps0"), std::string::npos)
      << r.output;
  // One list of formats, one message, in every subcommand that prints a table.
  for (const char* cmd : {" run --preset tiny", " demo", " query --db /nonexistent/x.db",
                          " report --db /nonexistent/x.db", " sweep " LACO_SWEEPS_DIR "/smoke.json --dry-run --db /nonexistent/x.db"}) {
    r = test::run_command(kLaco + cmd + " -o xml");
    EXPECT_EQ(r.status, 1) << cmd << "\n" << r.output;
    EXPECT_NE(r.output.find("--format: unknown format 'xml' (allowed: table, md, csv, json)"), std::string::npos)
        << cmd << "\n" << r.output;
  }
}

TEST(Cli, NoSubcommandPrintsTheHelp) {
  auto r = test::run_command(kLaco);
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* s : {"Usage:", "Subcommands", "sweep", "report", "query"}) EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
}

TEST(Cli, DemoRunsEveryMethod) {
  auto r = test::run_command(kLaco + " demo --image-size 54 --patch-size 2 --width 16 --depth 4 --heads 2 --mlp-dim 32");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* m : {"none", "avgpool", "pixel_shuffle", "laco", "ldpv2", "tokenpacker", "tome", "evit"})
    EXPECT_NE(r.output.find(std::string("| ") + m), std::string::npos) << m;
  EXPECT_NE(r.output.find("14x14"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("1x196"), std::string::npos) << "tome and evit: the budget as a set\n" << r.output;
  EXPECT_EQ(r.output.find("| fastv"), std::string::npos) << "inside the LM: not an encoder's method\n" << r.output;
}

TEST(Cli, PredictPrintsEveryPlacementForEachLm) {
  auto r = test::run_command(kLaco + " predict --lm Qwen2-0.5B,Qwen2-7B --method laco -o csv");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("lm,method,r,layer,block,visual tokens,prefill,train full,train frozen_encoder,"),
            std::string::npos)
      << r.output;
  for (const char* row : {"Qwen2-0.5B,laco,2,1/12,2/26", "Qwen2-0.5B,laco,2,1/4,7/26", "Qwen2-7B,laco,2,1/2,13/26"})
    EXPECT_NE(r.output.find(row), std::string::npos) << row << "\n" << r.output;
  r = test::run_command(kLaco + " predict --lm Qwen2-70B");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("laco: error: --lm: unknown LM shape 'Qwen2-70B'"), std::string::npos) << r.output;
}

// The decode model against no compression: the paper preset's 5 crops of
// 27 x 27 tokens (3645) and 128 text tokens; Qwen2-0.5B caches 24 KiB a
// position, so 3645 + 128 + 255 positions are 94.40625 MiB, and r = 2 leaves
// 5 x 14 x 14 = 980 visual tokens (1363 positions, 31.9453125 MiB).
TEST(Cli, PredictDecodeComparesWithNoCompression) {
  auto r = test::run_command(kLaco + " predict --decode --lm Qwen2-0.5B --method laco -o csv");
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* row : {"Qwen2-0.5B,none,-,3645,94.40625,1,1,1,1,", "Qwen2-0.5B,laco,2,980,31.9453125,"})
    EXPECT_NE(r.output.find(row), std::string::npos) << row << "\n" << r.output;
  EXPECT_NE(r.output.find(",\"max batch, n=256\",max batch\n"), std::string::npos) << r.output;
  r = test::run_command(kLaco + " predict --decode --gen-tokens 1");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--gen-tokens: 1 is out of range (allowed: 2..1048576"), std::string::npos) << r.output;
  r = test::run_command(kLaco + " predict --decode --memory-budget-gib 0");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--memory-budget-gib: must be in (0, "), std::string::npos) << r.output;
}

TEST(Cli, RunMeasuresGenerationWithItsSettingsInTheConfiguration) {
  auto r = test::run_command(kLaco + " run --eval efficiency --preset tiny --stages decode --gen-tokens 3,2 "
                                     "--memory-budget-gib 0.5 --reps 1 --warmup 0 -o json 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto runs = nlohmann::json::parse(r.output);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0]["config"]["gen_tokens"], nlohmann::json::array({2, 3}));
  EXPECT_EQ(runs[0]["config"]["memory_budget_gib"], 0.5);
  std::set<std::string> metrics;
  for (const auto& m : runs[0]["metrics"]) metrics.insert(m["name"].get<std::string>());
  for (const char* m : {"decode_tpot_3", "decode_latency_2", "decode_throughput_3", "kv_cache_3", "max_batch_2"})
    EXPECT_TRUE(metrics.count(m)) << m;
  // The table a user reads shows the generation's figures.
  r = test::run_command(kLaco + " run --eval efficiency --preset tiny --stages decode --reps 1 --warmup 0 -o csv 2>/dev/null");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("decode_tpot_5,decode_latency_2,decode_latency_5,max_batch_5\n"),
            std::string::npos)
      << r.output;
  r = test::run_command(kLaco + " run --eval efficiency --preset tiny --memory-budget-gib lots");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--memory-budget-gib: 'lots' is not a number"), std::string::npos) << r.output;
  r = test::run_command(kLaco + " run --eval accuracy --gen-tokens 16");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("--gen-tokens: not a setting of --eval accuracy"), std::string::npos) << r.output;
}

TEST(Cli, MethodsListsTheRegistry) {
  auto r = test::run_command(kLaco + " methods");
  ASSERT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("zero_init"), std::string::npos);
}

}  // namespace
}  // namespace laco
