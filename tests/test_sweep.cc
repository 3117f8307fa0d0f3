// Sweep specs (parsing, validation, expansion, shards) and `laco sweep` end to
// end: resume after SIGKILL, SIGINT, failures, shard union, Slurm script.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <map>
#include <numeric>
#include <set>
#include <sstream>
#include <thread>

#include "harness/base/error.h"
#include "harness/base/interrupt.h"
#include "harness/base/json_check.h"
#include "harness/model/mllm.h"
#include "harness/model/presets.h"
#include "evals/flops.h"
#include "runner/estimate.h"
#include "runner/power.h"
#include "runner/sweep.h"
#include "runner/sweep_spec.h"
#include "report/load.h"
#include "report/tables.h"
#include "report/render.h"
#include "results/merge.h"
#include "results/schema.h"
#include "results/sqlite.h"
#include "results/store.h"
#include "tests/sweep_fixture.h"
#include "tests/test_util.h"

namespace laco {
namespace {

using nlohmann::json;
const std::string kLaco = LACO_BIN;

json with(json spec, const std::string& pointer, const json& value) {
  spec[json::json_pointer(pointer)] = value;
  return spec;
}

void expect_spec_error(const json& spec, const std::vector<std::string>& fragments) {
  test::expect_error([&] { parse_sweep(spec, "t.json"); }, fragments);
}

// fastv acts inside the LM: at 1/4 and 1 it is one run, stored at 1, with a
// note; its after_layer default is written into the run (the key says what
// ran): FastV's K = 2, or, in an LM of 2 layers (tiny's), 1; tome and evit
// run at both placements.
TEST(SweepSpec, AMethodInsideTheLmIsOneRunAfterTheEncoderWithItsLayerWrittenOut) {
  const Sweep s =
      parse_sweep(with(test::tiny_spec("t", "efficiency"), "/grids/0/methods", {"tome", "evit", "fastv"}), "t.json");
  std::map<std::string, std::set<std::string>> layers;
  for (const auto& r : s.runs) {
    layers[r.spec.method].insert(r.spec.layer);
    if (r.spec.method == "fastv") EXPECT_EQ(r.spec.method_options, (MethodOptions{{"after_layer", "1"}}));
  }
  EXPECT_EQ(layers["fastv"], (std::set<std::string>{"1"}));
  EXPECT_EQ(layers["tome"], (std::set<std::string>{"1/4", "1"}));
  EXPECT_EQ(layers["evit"], (std::set<std::string>{"1/4", "1"}));
  bool noted = false;
  for (const auto& n : s.notes) noted = noted || n.find("`fastv` acts inside the LM") != std::string::npos;
  EXPECT_TRUE(noted);
  expect_spec_error(with(test::tiny_spec("t", "efficiency"), "/grids/0/methods",
                         json::parse(R"([{"name": "fastv", "options": {"after_layer": 2}}])")),
                    {"option 'after_layer' must leave a layer", "1..1 for a 2-layer LM, got 2"});
}

TEST(SweepSpec, ExpandsTheGridWithNoneOncePerSeedAndEfficiencyGroups) {
  const Sweep s = parse_sweep(test::tiny_spec(), "t.json");
  // accuracy: none once + avgpool, laco at 1/4 and 1; efficiency: the same five.
  ASSERT_EQ(s.runs.size(), 10u);
  size_t none = 0;
  std::set<std::string> keys;
  for (const auto& r : s.runs) {
    keys.insert(r.key);
    EXPECT_EQ(r.key.size(), 16u);
    if (r.spec.method == "none") {
      ++none;
      EXPECT_EQ(r.spec.layer, "1");
    }
  }
  EXPECT_EQ(none, 2u);  // one per evaluation
  EXPECT_EQ(keys.size(), s.runs.size());
  // 5 accuracy units (one run each) + one efficiency group: every method and
  // placement of one preset and seed is measured together (a report table
  // compares across all of them).
  ASSERT_EQ(s.units.size(), 6u);
  size_t grouped = 0;
  for (const auto& u : s.units)
    if (!u.group_key.empty()) {
      ++grouped;
      std::set<std::string> methods;
      std::set<int64_t> blocks;
      for (size_t i : u.runs) {
        EXPECT_EQ(s.runs[i].eval(), "efficiency");
        methods.insert(s.runs[i].spec.method);
        blocks.insert(s.runs[i].spec.block_k);
      }
      EXPECT_EQ(u.runs.size(), 5u);
      EXPECT_EQ(methods, (std::set<std::string>{"none", "avgpool", "laco"}));
      EXPECT_EQ(blocks.size(), 2u);
    }
  EXPECT_EQ(grouped, 1u);
  ASSERT_FALSE(s.notes.empty());
  EXPECT_NE(s.notes[0].find("`none` does not depend on the placement"), std::string::npos);
}

TEST(SweepSpec, KeysDependOnTheResolvedConfigurationNotOnHowThePlacementIsSpelt) {
  const Sweep a = parse_sweep(test::tiny_spec(), "t.json");
  // On the tiny efficiency preset (4 blocks) 1/4 is block 1; on accuracy (2 blocks) 1/4 is block 1 too.
  const Sweep b = parse_sweep(with(test::tiny_spec(), "/grids/0/placements", {"block:1", "1"}), "t.json");
  std::set<std::string> ka, kb;
  for (const auto& r : a.runs) ka.insert(r.key);
  for (const auto& r : b.runs) kb.insert(r.key);
  EXPECT_EQ(ka, kb);
  // A real change (the ratio, the seed, a step count) is a different run.
  const Sweep c = parse_sweep(with(test::tiny_spec(), "/grids/0/ratios", {3}), "t.json");
  const Sweep d = parse_sweep(with(test::tiny_spec(), "/accuracy/steps1", 2), "t.json");
  for (const Sweep* other : {&c, &d}) {
    size_t shared = 0;
    for (const auto& r : other->runs) shared += ka.count(r.key);
    EXPECT_LT(shared, other->runs.size());
  }
  EXPECT_EQ(run_key("accuracy", to_json(a.runs[0].spec)), a.runs[0].key);
  EXPECT_NE(run_key("efficiency", to_json(a.runs[0].spec)), a.runs[0].key);
}

TEST(SweepSpec, PlacementsThatResolveToTheSameBlockRunOnceWithANote) {
  // The tiny accuracy encoder has 2 blocks: 1/12, 1/6 and 1/4 all resolve to block 1.
  auto spec = with(test::tiny_spec(), "/grids/0/placements", {"1/12", "1/6", "1/4"});
  spec["evals"] = {"accuracy"};
  spec.erase("efficiency");
  const Sweep s = parse_sweep(spec, "t.json");
  EXPECT_EQ(s.runs.size(), 3u);  // none, avgpool at block 1, laco at block 1
  bool noted = false;
  for (const auto& n : s.notes) noted |= n.find("placements 1/12 and 1/6 both resolve to block 1") != std::string::npos;
  EXPECT_TRUE(noted);
  for (const auto& r : s.runs) EXPECT_EQ(r.grids, std::vector<std::string>{"g"});
}

TEST(SweepSpec, RunsSharedByTwoGridsRunOnceAndBelongToBoth) {
  auto spec = test::tiny_spec();
  spec["grids"].push_back(json::parse(R"({"name": "ratio", "methods": ["laco"], "placements": ["1/4"], "ratios": [2, 3]})"));
  const Sweep s = parse_sweep(spec, "t.json");
  EXPECT_EQ(s.runs.size(), 12u);  // + laco 1/4 r=3 for each evaluation
  size_t both = 0;
  for (const auto& r : s.runs) both += r.grids.size() == 2;
  EXPECT_EQ(both, 2u);  // laco 1/4 r=2, accuracy and efficiency
}

TEST(SweepSpec, InvalidSpecsNameTheFileThePathAndTheAllowedValues) {
  const json spec = test::tiny_spec();
  expect_spec_error(with(spec, "/evalz", 1), {"t.json: $.evalz: unknown key", "allowed: name, description, threads"});
  expect_spec_error(with(spec, "/grids/0/placement", {"1/4"}),
                    {"t.json: $.grids[0].placement: unknown key", "allowed: name, methods, placements, ratios, evals"});
  expect_spec_error(with(spec, "/accuracy/step1", 3), {"t.json: $.accuracy.step1: unknown key", "steps1"});
  expect_spec_error(with(spec, "/grids/0/methods/1", "lacoo"),
                    {"t.json: $.grids[0].methods[1]: unknown method 'lacoo'",
                     "allowed: none, avgpool, pixel_shuffle, laco, ldpv2, tokenpacker"});
  expect_spec_error(with(spec, "/grids/0/methods", json::array()),
                    {"t.json: $.grids[0].methods: empty", "allowed: one or more of none, avgpool"});
  expect_spec_error(with(spec, "/grids", json::array()), {"t.json: $.grids: empty"});
  expect_spec_error(with(spec, "/accuracy/seeds", json::array()), {"t.json: $.accuracy.seeds: empty"});
  expect_spec_error(with(spec, "/grids/0/ratios/0", 5),
                    {"t.json: $.grids[0].ratios[0]: ratio 5 is not supported", "allowed: 2, 3, 4"});
  expect_spec_error(with(spec, "/grids/0/ratios/0", 1), {"$.grids[0].ratios[0]: ratio 1 is not supported"});
  expect_spec_error(with(spec, "/grids/0/ratios/0", "2"),
                    {"$.grids[0].ratios[0]: expected an integer, got string \"2\"", "allowed: 2, 3, 4"});
  expect_spec_error(with(spec, "/grids/0/placements/0", "block:3"),
                    {"t.json: $.grids[0].placements[0] (accuracy preset 'tiny', 2 blocks)",
                     "block 3 is beyond the encoder's depth", "allowed: block:1 .. block:2"});
  expect_spec_error(with(spec, "/grids/0/placements/0", "2/1"), {"t.json: $.grids[0].placements[0]", "outside (0, 1]"});
  expect_spec_error(with(spec, "/grids/0/placements/1", "1/4"), {"$.grids[0].placements[1]: '1/4' repeats"});
  expect_spec_error(with(spec, "/grids/0/methods/2", json{{"name", "laco"}, {"options", {{"zero", true}}}}),
                    {"$.grids[0].methods[2].options.zero: method 'laco' has no option 'zero'",
                     "allowed: residual, zero_init"});
  expect_spec_error(with(spec, "/accuracy/preset", "huge"),
                    {"$.accuracy.preset: unknown accuracy preset 'huge'", "allowed: tiny, small, base"});
  expect_spec_error(with(spec, "/efficiency/preset", "huge"), {"$.efficiency.preset", "paper, cpu-small, tiny"});
  expect_spec_error(with(spec, "/efficiency/stages/0", "generate"),
                    {"$.efficiency.stages[0]: unknown stage 'generate'", "encoder, prefill", "decode"});
  expect_spec_error(with(spec, "/efficiency/gen_tokens", {16, 1}),
                    {"$.efficiency.gen_tokens[1]: 1 is too small", "allowed: an integer in [2, 1048576]"});
  expect_spec_error(with(spec, "/efficiency/gen_tokens", {16, 16}), {"$.efficiency.gen_tokens[1]", "repeats"});
  expect_spec_error(with(spec, "/efficiency/memory_budget_gib", "80"),
                    {"$.efficiency.memory_budget_gib: expected a number", "allowed: a number in"});
  expect_spec_error(with(spec, "/efficiency/memory_budget_gib", 0),
                    {"$.efficiency.memory_budget_gib: 0 is out of range"});
  expect_spec_error(with(spec, "/efficiency/reps", 0),
                    {"$.efficiency.reps: 0 is too small", "allowed: an integer in [1, 1000000]"});
  expect_spec_error(with(spec, "/evals", {"accuracy", "speed"}),
                    {"$.evals[1]: 'speed' is not an evaluation", "allowed: accuracy, efficiency"});
  expect_spec_error(with(spec, "/grids/0/evals", {"efficiency", "efficiency"}), {"$.grids[0].evals[1]", "repeats"});
  auto no_section = spec;
  no_section.erase("efficiency");
  expect_spec_error(no_section, {"t.json: $.efficiency: missing", "$.evals includes efficiency"});
  auto extra_section = spec;
  extra_section["evals"] = {"accuracy"};
  expect_spec_error(extra_section, {"t.json: $.efficiency: given, but $.evals does not include 'efficiency'"});
  expect_spec_error(with(spec, "/grid_policy", "crop"),
                    {"t.json: $.grid_policy", "'crop'", "allowed: pad, interpolate, error"});
  expect_spec_error(with(spec, "/name", "a b"), {"$.name: 'a b' is not a valid sweep name"});
  // An option value the method rejects is caught when the runs are resolved, before anything runs.
  expect_spec_error(with(spec, "/grids/0/methods/2", json{{"name", "laco"}, {"options", {{"zero_init", "maybe"}}}}),
                    {"t.json: $.grids[0].methods[2] (accuracy laco{zero_init=maybe} at 1/4, r=2, seed 0)", "maybe"});
}

// Budget sensitivity: a grid's "budgets" multiply stages 1 and 2 (not stage
// 0); budget 1 is exactly the run the grid makes without the key.
TEST(SweepSpec, BudgetsMultiplyStages1And2AndBudget1IsTheRunWithoutThem) {
  const json plain = test::tiny_spec("tiny", "accuracy");  // steps0 5, steps1 1, steps2 1
  const Sweep without = parse_sweep(plain, "t.json");
  const Sweep with_budgets = parse_sweep(with(plain, "/grids/0/budgets", {1, 4, 16}), "t.json");
  ASSERT_EQ(without.runs.size(), 5u);
  ASSERT_EQ(with_budgets.runs.size(), 15u);
  std::set<std::string> plain_keys, x1_keys, all_keys;
  for (const auto& r : without.runs) plain_keys.insert(r.key);
  std::map<int64_t, size_t> per_steps1;
  for (const auto& r : with_budgets.runs) {
    const auto& a = r.spec.accuracy();
    all_keys.insert(r.key);
    EXPECT_EQ(a.steps0, 5) << "stage 0 is not scaled";
    EXPECT_EQ(a.steps2, a.steps1);
    ++per_steps1[a.steps1];
    if (a.steps1 == 1) x1_keys.insert(r.key);
    EXPECT_EQ(r.key, r.spec.key());
    EXPECT_EQ(r.budget, a.steps1);
    EXPECT_EQ(r.label().find("budget="), a.steps1 == 1 ? std::string::npos : r.spec.label().size() + 1) << r.label();
  }
  EXPECT_EQ(per_steps1, (std::map<int64_t, size_t>{{1, 5}, {4, 5}, {16, 5}}));
  EXPECT_EQ(x1_keys, plain_keys) << "budget 1 orphans nothing";
  EXPECT_EQ(all_keys.size(), 15u) << "each budget is a run of its own";
  // Without steps in the section the preset's are scaled (tiny: 10 + 10).
  auto no_steps = with(plain, "/grids/0/budgets", {4});
  no_steps["accuracy"].erase("steps1");
  no_steps["accuracy"].erase("steps2");
  for (const auto& r : parse_sweep(no_steps, "t.json").runs) {
    EXPECT_EQ(r.spec.accuracy().steps1, 40);
    EXPECT_EQ(r.spec.accuracy().steps2, 40);
  }
  // A grid without budgets beside one with them: the x1 runs are shared and belong to both.
  auto two = with(plain, "/grids/0/budgets", {1, 4});
  two["grids"].push_back({{"name", "h"}, {"methods", {"laco"}}, {"placements", {"1/4"}}, {"ratios", {2}}});
  const Sweep shared = parse_sweep(two, "t.json");
  EXPECT_EQ(shared.runs.size(), 10u);
  size_t both = 0;
  for (const auto& r : shared.runs) both += r.grids == std::vector<std::string>{"g", "h"};
  EXPECT_EQ(both, 1u) << "laco at 1/4, x1";
}

// A grid's "seeds" replace its section's for that grid (the layer ablation
// at one seed beside the placements that get three); a section's "threads"
// win over the top level's, and --threads over both; --evals keeps one
// evaluation's runs.
TEST(SweepSpec, GridSeedsSectionThreadsAndTheEvalsFilter) {
  json spec = test::tiny_spec();  // seeds [0]; grid g: none, avgpool, laco at 1/4 and 1
  spec["grids"].push_back({{"name", "more"}, {"evals", {"accuracy"}}, {"methods", {"laco"}}, {"placements", {"1/4"}},
                           {"ratios", {2}}, {"seeds", {1, 2}}});
  spec["accuracy"]["threads"] = 1;
  spec["threads"] = 3;
  const Sweep s = parse_sweep(spec, "t.json");
  std::map<std::string, std::set<uint64_t>> seeds;  // eval method layer -> seeds
  for (const auto& r : s.runs) {
    seeds[r.spec.eval() + " " + r.spec.method + " " + r.spec.layer].insert(r.spec.seed);
    EXPECT_EQ(r.spec.threads, r.spec.is_accuracy() ? 1 : 3) << r.label();
  }
  EXPECT_EQ(seeds["accuracy laco 1/4"], (std::set<uint64_t>{0, 1, 2}));
  EXPECT_EQ(seeds["accuracy laco 1"], (std::set<uint64_t>{0}));
  EXPECT_EQ(seeds["efficiency laco 1/4"], (std::set<uint64_t>{0})) << "the grid's evals: accuracy only";
  EXPECT_EQ(s.runs.size(), 12u);
  // Seed-major within an evaluation: every seed-0 accuracy run comes before the first seed-1 run.
  size_t last0 = 0, first1 = s.runs.size();
  for (size_t i = 0; i < s.runs.size(); ++i) {
    if (s.runs[i].spec.seed == 0 && s.runs[i].spec.is_accuracy()) last0 = std::max(last0, i);
    if (s.runs[i].spec.seed == 1) first1 = std::min(first1, i);
  }
  EXPECT_LT(last0, first1);
  SweepOverrides o;
  o.threads = 2;
  o.evals = {"accuracy"};
  const Sweep acc = parse_sweep(spec, "t.json", o);
  EXPECT_EQ(acc.runs.size(), 7u);
  for (const auto& r : acc.runs) {
    EXPECT_TRUE(r.spec.is_accuracy());
    EXPECT_EQ(r.spec.threads, 2) << "--threads wins";
  }
  o.evals = {"latency"};
  test::expect_error([&] { parse_sweep(spec, "t.json", o); },
                     {"--evals: 'latency' is not an evaluation of t.json (allowed: accuracy, efficiency)"});
  expect_spec_error(with(spec, "/grids/1/seeds", {1, 1}), {"t.json: $.grids[1].seeds[1]: seed 1 repeats"});
  expect_spec_error(with(spec, "/accuracy/threads", 0), {"t.json: $.accuracy.threads: 0 is too small"});
}

TEST(SweepSpec, BadBudgetsNameTheFileThePathAndTheAllowedValues) {
  const json spec = test::tiny_spec("tiny", "accuracy");
  expect_spec_error(with(spec, "/grids/0/budgets", {1, 0}),
                    {"t.json: $.grids[0].budgets[1]: 0 is too small (allowed: integers >= 1)"});
  expect_spec_error(with(spec, "/grids/0/budgets", {-4}), {"t.json: $.grids[0].budgets[0]: -4 is too small"});
  expect_spec_error(with(spec, "/grids/0/budgets", {1.5}),
                    {"t.json: $.grids[0].budgets[0]: expected an integer", "allowed: integers >= 1"});
  expect_spec_error(with(spec, "/grids/0/budgets", 4),
                    {"t.json: $.grids[0].budgets: expected an array", "allowed: one or more distinct integers >= 1"});
  expect_spec_error(with(spec, "/grids/0/budgets", json::array()), {"t.json: $.grids[0].budgets: empty"});
  expect_spec_error(with(spec, "/grids/0/budgets", {4, 4}), {"t.json: $.grids[0].budgets[1]: budget 4 repeats"});
  // More steps than a stage may be given: refused when the runs are resolved, naming the run and the limit.
  expect_spec_error(with(spec, "/grids/0/budgets", {100000000}),
                    {"t.json: $.grids[0].methods[0] (accuracy none at 1/4, r=2, seed 0, budget x100000000)",
                     "steps1 1 x 100000000", "at most 10000000 steps"});
  // Efficiency does not train: a grid that includes it (here by default, from $.evals) cannot have budgets.
  const json both = test::tiny_spec();
  expect_spec_error(with(both, "/grids/0/budgets", {1, 4}),
                    {"t.json: $.grids[0].budgets: budgets scale", "'efficiency'",
                     "allowed: budgets in a grid whose \"evals\" are only [\"accuracy\"]"});
  expect_spec_error(with(with(both, "/grids/0/budgets", {1, 4}), "/grids/0/evals", {"efficiency"}),
                    {"t.json: $.grids[0].budgets", "'efficiency'"});
  EXPECT_EQ(parse_sweep(with(with(both, "/grids/0/budgets", {1, 4}), "/grids/0/evals", {"accuracy"}), "t.json").runs.size(),
            10u);
}

// Issue 41: a grid's claims give both runs of each claimed comparison at
// least the claim's rounds; they stay in their group (the rest keeps its own
// repetitions), and the sweep lists each claim with its two runs.
TEST(SweepSpec, ClaimsGiveTheirRunsMoreRoundsInTheSameGroup) {
  const auto spec = with(test::tiny_spec("t", "efficiency"), "/grids/0/claims", json::parse(R"([
      {"method": "laco", "placement": "1/4", "against": "1", "rounds": 7},
      {"method": "laco", "placement": "1/4", "against": "none"}])"));
  const Sweep s = parse_sweep(spec, "t.json");
  ASSERT_EQ(s.runs.size(), 5u);
  std::map<std::string, int64_t> reps;
  for (const auto& r : s.runs) reps[r.spec.method + "@" + r.spec.layer] = r.spec.efficiency().reps;
  EXPECT_EQ(reps, (std::map<std::string, int64_t>{
                      {"none@1", 6}, {"avgpool@1/4", 1}, {"avgpool@1", 1}, {"laco@1/4", 7}, {"laco@1", 7}}));
  ASSERT_EQ(s.units.size(), 1u) << "one measurement group still";
  EXPECT_EQ(s.units[0].runs.size(), 5u);
  ASSERT_EQ(s.claims.size(), 2u);
  EXPECT_EQ(s.claims[0].label, "efficiency laco 1/4 vs laco 1, r=2, seed 0");
  EXPECT_EQ(s.claims[0].rounds, 7);
  EXPECT_EQ(s.runs[s.claims[0].a].spec.layer, "1/4");
  EXPECT_EQ(s.runs[s.claims[0].b].spec.layer, "1");
  EXPECT_EQ(s.claims[1].label, "efficiency laco 1/4 vs none, r=2, seed 0");
  EXPECT_EQ(s.claims[1].rounds, kMinClaimRounds);
  EXPECT_EQ(s.runs[s.claims[1].b].spec.method, "none");
  // The claimed runs are other configurations (more repetitions): other keys than without claims.
  const Sweep plain = parse_sweep(test::tiny_spec("t", "efficiency"), "t.json");
  size_t same = 0;
  for (const auto& r : s.runs)
    for (const auto& p : plain.runs) same += r.key == p.key;
  EXPECT_EQ(same, 2u) << "avgpool's two runs only";

  auto claim = [&](const std::string& text) {
    return with(test::tiny_spec("t", "efficiency"), "/grids/0/claims", json::parse("[" + text + "]"));
  };
  expect_spec_error(claim(R"({"method": "tokenpacker", "placement": "1/4", "against": "1"})"),
                    {"t.json: $.grids[0].claims[0].method: 'tokenpacker' is not a method of this grid",
                     "allowed: none, avgpool, laco"});
  expect_spec_error(claim(R"({"method": "none", "placement": "1/4", "against": "1"})"),
                    {"$.grids[0].claims[0].method: 'none' is the reference"});
  expect_spec_error(claim(R"({"method": "laco", "placement": "1/2", "against": "1"})"),
                    {"$.grids[0].claims[0].placement: '1/2' is not a placement of this grid", "allowed: 1/4, 1"});
  expect_spec_error(claim(R"({"method": "laco", "placement": "1/4", "against": "1/4"})"),
                    {"$.grids[0].claims[0].against: '1/4' is not another placement", "allowed: \"none\", \"1\""});
  expect_spec_error(claim(R"({"method": "laco", "placement": "1/4", "against": "1", "rounds": 5})"),
                    {"$.grids[0].claims[0].rounds: 5 is too small", "an integer >= 6"});
  expect_spec_error(claim(R"({"method": "laco", "placement": "1/4"})"), {"$.grids[0].claims[0].against: missing"});
  expect_spec_error(claim(R"({"method": "laco", "placement": "1/4", "against": "1", "reps": 8})"),
                    {"$.grids[0].claims[0]", "reps", "method, placement, against, rounds"});
  auto no_none = with(claim(R"({"method": "laco", "placement": "1/4", "against": "none"})"), "/grids/0/methods",
                      {"avgpool", "laco"});
  expect_spec_error(no_none, {"$.grids[0].claims[0].against: 'none' is not among this grid's methods"});
  auto accuracy = with(test::tiny_spec("t", "accuracy"), "/grids/0/claims",
                       json::parse(R"([{"method": "laco", "placement": "1/4", "against": "1"}])"));
  expect_spec_error(accuracy, {"$.grids[0].claims: claims compare timings", "allowed: claims in a grid whose "
                               "\"evals\" include \"efficiency\""});
}

TEST(SweepSpec, FilesThatAreNotJsonAreRefusedWithTheirName) {
  const auto dir = test::temp_dir("sweep_json");
  test::write_file(dir + "/bad.json", "{\"evals\": [\"accuracy\",]}");
  test::expect_error([&] { load_sweep(dir + "/bad.json"); }, {dir + "/bad.json: invalid JSON"});
  test::expect_error([&] { load_sweep(dir + "/missing.json"); }, {dir + "/missing.json: cannot open"});
}

TEST(SweepSpec, TheShippedSpecsLoad) {
  const std::string dir = LACO_SWEEPS_DIR;
  std::map<std::string, Sweep> loaded;
  for (const char* name : {"smoke", "default", "full"}) {
    loaded[name] = load_sweep(dir + "/" + name + ".json");
    EXPECT_EQ(loaded[name].name, name);
    EXPECT_FALSE(loaded[name].runs.empty()) << name;
  }
  // Resolving a paper-preset run builds its compressor at width 1152 (~0.7 s
  // each); the grid is checked here against cpu-small instead, the paper
  // preset itself by the efficiency suite.
  auto paper = json::parse(test::read_file(dir + "/paper.json"));
  EXPECT_EQ(paper["efficiency"]["preset"], "paper");
  paper["efficiency"]["preset"] = "cpu-small";
  EXPECT_FALSE(parse_sweep(paper, dir + "/paper.json").runs.empty());
  // default.json: what docs/sweeps.md says it holds. The layer ablation: the
  // five placements are five blocks of the accuracy encoder (1, 2, 3, 6, 12
  // of 12), each method at all five, and the token reductions at 1/4 and 1,
  // all with seed 0 (seeds 1 and 2 are full.json's since issue 41), inserted
  // into one stage-0 model, one thread per run.
  std::map<std::string, std::set<uint64_t>> seeds;  // method@block -> seeds
  std::set<int64_t> blocks;
  std::set<std::string> stage0;
  size_t accuracy = 0;
  for (const auto& r : loaded["default"].runs) {
    if (r.eval() != "accuracy") continue;
    ++accuracy;
    EXPECT_EQ(r.spec.threads, 1);
    EXPECT_EQ(r.spec.depth, 12);
    stage0.insert(r.spec.accuracy().stage0_key);
    if (r.spec.method != "none") blocks.insert(r.spec.block_k);
    seeds[fmt::format("{}@{}", r.spec.method, r.spec.block_k)].insert(r.spec.seed);
  }
  EXPECT_EQ(loaded["default"].notes.size(), 4u)
      << "only the two `none` notes and the two `fastv` ones (after the encoder only), no placements sharing a block";
  EXPECT_EQ(blocks, (std::set<int64_t>{1, 2, 3, 6, 12}));
  EXPECT_EQ(stage0.size(), 1u);
  EXPECT_EQ(accuracy, 31u) << "26 of the layer ablation, 5 of the token reductions (tome, evit at 1/4 and 1, fastv at 1)";
  for (const auto& [run, s] : seeds) EXPECT_EQ(s, (std::set<uint64_t>{0})) << run;
  EXPECT_EQ(seeds.size(), 31u);
  // The claims: LaCo at 1/4 against after the encoder and both against none, 8 rounds; the rest of the group 3.
  ASSERT_EQ(loaded["default"].claims.size(), 3u);
  for (const auto& r : loaded["default"].runs) {
    if (r.eval() != "efficiency") continue;
    const bool claimed = r.spec.method == "none" || r.spec.method == "laco";
    EXPECT_EQ(r.spec.efficiency().reps, claimed ? 8 : 3) << r.spec.label();
  }
  EXPECT_EQ(loaded["full"].claims.size(), 3u);
  EXPECT_EQ(loaded["default"].runs.size() - accuracy, 16u) << "efficiency: eight methods at 1/4 and 1, fastv at 1";
  // The budget grid, at 1/4 and r = 2, 50 + 100, 200 + 400 and 800 + 1600
  // steps; x1 is the placement grid's run: full.json's, all nine methods
  // (fastv after the encoder), seeds 0, 1, 2, x1, x4 and x16. default.json
  // has none since issue 41 (its x4 runs paid for the claims' rounds).
  struct BudgetGrid {
    size_t runs = 0, shared = 0;
    std::map<int64_t, std::set<std::string>> methods;  // steps1 -> methods
    std::set<uint64_t> seeds;
  };
  auto budget_grid = [](const Sweep& sweep) {
    BudgetGrid g;
    for (const auto& r : sweep.runs) {
      if (std::find(r.grids.begin(), r.grids.end(), "budget") == r.grids.end()) continue;
      ++g.runs;
      g.shared += r.grids.size() > 1;
      EXPECT_EQ(r.spec.block_k, r.spec.method == "none" || r.spec.method == "fastv" ? 12 : 3) << r.spec.method;
      EXPECT_EQ(r.spec.accuracy().steps2, 2 * r.spec.accuracy().steps1);
      g.methods[r.spec.accuracy().steps1].insert(r.spec.method);
      g.seeds.insert(r.spec.seed);
    }
    return g;
  };
  const BudgetGrid main_job = budget_grid(loaded["default"]), full = budget_grid(loaded["full"]);
  EXPECT_EQ(main_job.runs, 0u);
  EXPECT_EQ(full.runs, 81u);
  EXPECT_EQ(full.shared, 27u) << "x1 is the placement grid's runs at 1/4 (fastv's at 1)";
  EXPECT_EQ(full.seeds, (std::set<uint64_t>{0, 1, 2}));
  ASSERT_EQ(full.methods.size(), 3u);
  for (int64_t steps1 : {50, 200, 800}) EXPECT_EQ(full.methods.at(steps1).size(), 9u) << steps1;
}

TEST(SweepSpec, ShardsPartitionTheWorkUnits) {
  const Sweep s = parse_sweep(test::tiny_spec(), "t.json");
  for (int n : {1, 2, 3, 8, 20}) {
    std::multiset<std::string> seen;
    for (int i = 1; i <= n; ++i) {
      const Sweep part = shard_sweep(s, i, n);
      for (const auto& r : part.runs) seen.insert(r.key);
      // Runs measured together stay together.
      for (const auto& u : part.units)
        for (size_t j : u.runs) EXPECT_EQ(run_key(part.runs[j].eval(), to_json(part.runs[j].spec)), part.runs[j].key);
    }
    std::multiset<std::string> all;
    for (const auto& r : s.runs) all.insert(r.key);
    EXPECT_EQ(seen, all) << n << " shards";
  }
  EXPECT_EQ(parse_shard("2/4"), std::make_pair(2, 4));
  test::expect_error([] { parse_shard("0/4"); }, {"--shard: '0/4' is not a shard", "1 <= i <= n"});
  test::expect_error([] { parse_shard("5/4"); }, {"'5/4'"});
  test::expect_error([] { parse_shard("x"); }, {"'x'"});
}

// --- laco sweep end to end ---------------------------------------------------

struct SweepDir {
  std::string dir, spec, db;
  explicit SweepDir(const std::string& name, const json& spec_json = test::tiny_spec()) {
    dir = test::temp_dir(name);
    spec = dir + "/spec.json";
    db = dir + "/laco.db";
    test::write_file(spec, spec_json.dump(2));
  }
  std::vector<std::string> args(const std::vector<std::string>& extra = {}) const {
    std::vector<std::string> a = {"sweep", spec, "--db", db, "--cache-dir", dir + "/cache"};
    a.insert(a.end(), extra.begin(), extra.end());
    return a;
  }
};

// No run is half-written: done runs hold their metrics, nothing else does.
void expect_consistent(const std::string& db) {
  EXPECT_TRUE(test::query_rows(db, "SELECT key FROM runs r WHERE status = 'done' AND NOT EXISTS "
                                   "(SELECT 1 FROM metrics m WHERE m.run_key = r.key AND m.name = 'visual_tokens')")
                  .empty());
  EXPECT_TRUE(test::query_rows(db, "SELECT key FROM runs r WHERE eval = 'accuracy' AND status = 'done' AND NOT EXISTS "
                                   "(SELECT 1 FROM metrics m WHERE m.run_key = r.key AND m.name = 'acc_mean')")
                  .empty());
  EXPECT_TRUE(test::query_rows(db, "SELECT DISTINCT m.run_key FROM metrics m JOIN runs r ON r.key = m.run_key "
                                   "WHERE r.status != 'done'")
                  .empty());
}

TEST(SweepRun, SmokeSpecRunsEverythingOnceThenSkipsAndQueryShowsEveryRun) {
  SweepDir d("sweep_smoke");
  const std::string smoke = std::string(LACO_SWEEPS_DIR) + "/smoke.json";
  const size_t total = load_sweep(smoke).runs.size();
  auto r = test::run_command(test::sweep_command(smoke, d.db));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(fmt::format("{} runs: {} done now, 0 skipped (done before), 0 failed now", total, total)),
            std::string::npos)
      << r.output;
  expect_consistent(d.db);
  EXPECT_EQ(test::query_rows(d.db, "SELECT count(*) FROM runs WHERE status = 'done'"),
            std::vector<std::string>{std::to_string(total)});
  // Provenance is stored with every run.
  EXPECT_TRUE(test::query_rows(d.db, "SELECT key FROM runs WHERE git_commit IS NULL OR host IS NULL OR started_at IS NULL"
                                     " OR wall_seconds IS NULL OR torch_version IS NULL OR threads IS NULL")
                  .empty());

  r = test::run_command(test::sweep_command(smoke, d.db));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(fmt::format("0 done now, {} skipped (done before)", total)), std::string::npos) << r.output;

  r = test::run_command(test::sweep_command(smoke, d.db, "--dry-run"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(fmt::format("{} done, 0 failed, 0 running elsewhere, 0 to run", total)), std::string::npos)
      << r.output;

  r = test::run_command(kLaco + " query --db " + d.db);
  ASSERT_EQ(r.status, 0) << r.output;
  for (const auto& key : test::query_rows(d.db, "SELECT key FROM runs")) EXPECT_NE(r.output.find(key), std::string::npos);
  EXPECT_NE(r.output.find("acc_mean (%)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("encoder_latency (ms)"), std::string::npos) << r.output;
  r = test::run_command(kLaco + " query --db " + d.db + " --where eval=efficiency --where method=laco -o csv");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1 + 3) << r.output;  // header + laco 1/4 r=2, r=3, 1
}

TEST(SweepRun, DryRunWritesNothingAndCountsWhatIsDone) {
  SweepDir d("sweep_dry");
  auto r = test::run_command(test::sweep_command(d.spec, d.db, "--dry-run"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("10 runs: 5 accuracy, 5 efficiency in 1 measurement group"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("does not exist yet"), std::string::npos) << r.output;
  EXPECT_FALSE(std::filesystem::exists(d.db));
}

// Issue 41: --dry-run says, per claim, what its rounds can detect at the
// noise the database's newest measurement of the preset stored; before
// there is one, it says so.
TEST(SweepRun, DryRunPrintsWhatEachClaimCanDetect) {
  SweepDir d("sweep_claims");
  auto spec = with(test::tiny_spec("claims", "efficiency"), "/grids/0/claims",
                   json::parse(R"([{"method": "laco", "placement": "1/4", "against": "1", "rounds": 8}])"));
  test::write_file(d.spec, spec.dump());
  auto before = test::run_command(test::sweep_command(d.spec, d.db, "--dry-run"));
  ASSERT_EQ(before.status, 0) << before.output;
  EXPECT_NE(before.output.find("claim efficiency laco 1/4 vs laco 1, r=2, seed 0: 8 rounds"), std::string::npos)
      << before.output;
  EXPECT_NE(before.output.find("not measured yet"), std::string::npos) << before.output;
  auto run = test::run_command(test::sweep_command(d.spec, d.db));
  ASSERT_EQ(run.status, 0) << run.output;
  auto after = test::run_command(test::sweep_command(d.spec, d.db, "--dry-run"));
  ASSERT_EQ(after.status, 0) << after.output;
  EXPECT_NE(after.output.find("8 rounds detect, at the 5% level with 80% power, a difference of encoder_latency"),
            std::string::npos)
      << after.output;
  EXPECT_NE(after.output.find("stored in the database as round_noise"), std::string::npos) << after.output;
  // The number is the function's, at the noise stored.
  sql::Connection db(d.db, sql::Connection::Mode::kReadOnly);
  const double noise = std::get<double>(
      db.scalar("SELECT json_extract(extra, '$.round_noise.encoder_latency') FROM runs WHERE method = 'laco' LIMIT 1"));
  const auto detectable = detectable_difference(8, noise);
  ASSERT_TRUE(detectable.has_value());
  EXPECT_NE(after.output.find(fmt::format("encoder_latency {:.1f}%", 100 * *detectable)), std::string::npos)
      << after.output;
  EXPECT_FALSE(detectable_difference(5, noise).has_value()) << "5 rounds never reach the 5% level";
}

TEST(SweepRun, KilledAtAnyMomentAndRerunEveryRunEndsUpDoneExactlyOnce) {
  SweepDir d("sweep_kill");
  const std::string log = d.dir + "/sweep.log";
  // Kill the sweep with SIGKILL while a run is in progress, several times,
  // each time a little further in, then let a last invocation finish.
  int kills = 0;
  for (int target = 0; target < 10; target += 3) {
    const pid_t pid = test::spawn_laco(d.args(), log);
    bool killed = false;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) break;  // finished on its own
      if (std::filesystem::exists(d.db)) {
        try {
          const auto done = test::query_rows(d.db, "SELECT count(*) FROM runs WHERE status = 'done'");
          const auto running = test::query_rows(d.db, "SELECT count(*) FROM runs WHERE status = 'running'");
          if (std::stoi(done[0]) >= target && running[0] != "0") {
            kill(pid, SIGKILL);
            EXPECT_EQ(test::wait_child(pid), 128 + SIGKILL);
            killed = true;
            ++kills;
            break;
          }
        } catch (const laco::Error&) {
          // The database is being created; look again.
        }
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    if (!killed) break;
    expect_consistent(d.db);
    EXPECT_NE(test::query_rows(d.db, "SELECT count(*) FROM runs WHERE status = 'running'"),
              std::vector<std::string>{"0"})
        << "the killed run is left marked running";
  }
  EXPECT_GE(kills, 2) << test::read_file(log);

  const pid_t last = test::spawn_laco(d.args(), log);
  ASSERT_EQ(test::wait_child(last), 0) << test::read_file(log);
  expect_consistent(d.db);
  EXPECT_EQ(test::query_rows(d.db, "SELECT status, count(*) FROM runs GROUP BY status"),
            std::vector<std::string>{"done|10"});
  EXPECT_EQ(test::query_rows(d.db, "SELECT count(DISTINCT key) FROM runs"), std::vector<std::string>{"10"});
  // Runs caught by a kill were started again: they ran more than once, and are stored once.
  EXPECT_GE(std::stoi(test::query_rows(d.db, "SELECT count(*) FROM runs WHERE attempts > 1")[0]), kills);
  const Sweep s = load_sweep(d.spec);
  for (const auto& run : s.runs)
    EXPECT_EQ(test::query_rows(d.db, "SELECT status FROM runs WHERE key = '" + run.key + "'"),
              std::vector<std::string>{"done"})
        << run.label();
}

TEST(SweepRun, SigintMarksTheCurrentRunAndStops) {
  SweepDir d("sweep_sigint");
  const std::string log = d.dir + "/sweep.log";
  const pid_t pid = test::spawn_laco(d.args(), log);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  bool sent = false;
  while (!sent && std::chrono::steady_clock::now() < deadline) {
    try {
      if (std::filesystem::exists(d.db) &&
          test::query_rows(d.db, "SELECT count(*) FROM runs WHERE status = 'running'")[0] != "0") {
        kill(pid, SIGINT);
        sent = true;
      }
    } catch (const laco::Error&) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  ASSERT_TRUE(sent);
  const int status = test::wait_child(pid);
  const std::string output = test::read_file(log);
  EXPECT_EQ(status, 130) << output;
  EXPECT_NE(output.find("interrupted: run the same command again to continue"), std::string::npos) << output;
  EXPECT_TRUE(test::query_rows(d.db, "SELECT key FROM runs WHERE status = 'running'").empty())
      << "the current run is marked before the process ends";
  expect_consistent(d.db);
  auto r = test::run_command(test::sweep_command(d.spec, d.db));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(test::query_rows(d.db, "SELECT status, count(*) FROM runs GROUP BY status"),
            std::vector<std::string>{"done|10"});
}

TEST(SweepRun, FailuresAreRecordedTheSweepGoesOnAndRetryFailedRerunsThem) {
  auto spec = test::tiny_spec();
  SweepDir d("sweep_fail");
  const std::string data = d.dir + "/data/test.jsonl";
  spec["accuracy"]["test_data"] = data;
  test::write_file(d.spec, spec.dump(2));
  test::write_file(data, "this is not json\n");

  // Bad test data is an input error (issue 40): refused with its file and line before any run is claimed.
  auto r = test::run_command(test::sweep_command(d.spec, d.db));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find(data + ":1:"), std::string::npos) << "the error names the file and line: " << r.output;
  EXPECT_TRUE(!std::filesystem::exists(d.db) || test::query_rows(d.db, "SELECT count(*) FROM runs WHERE status != "
                                                                        "'pending'") == std::vector<std::string>{"0"});

  // A failure while running (a metric that came out NaN) is recorded, and the sweep goes on.
  r = test::run_command(kLaco + " data export --preset tiny --split test --count 10 --out " + d.dir + "/data");
  ASSERT_EQ(r.status, 0) << r.output;
  r = test::run_command("LACO_FAULT_NAN_METRIC=acc_mean " + test::sweep_command(d.spec, d.db));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("5 done now, 0 skipped (done before), 5 failed now"), std::string::npos) << r.output;
  const auto errors = test::query_rows(d.db, "SELECT DISTINCT eval, error FROM runs WHERE status = 'failed'");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("accuracy|"), std::string::npos);
  EXPECT_NE(errors[0].find("metric acc_mean is nan"), std::string::npos) << errors[0];
  expect_consistent(d.db);

  // Without --retry-failed the failures stay, and say so.
  r = test::run_command(test::sweep_command(d.spec, d.db));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("5 failed before (rerun with --retry-failed)"), std::string::npos) << r.output;

  r = test::run_command(test::sweep_command(d.spec, d.db, "--retry-failed"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("5 done now, 5 skipped (done before), 0 failed now"), std::string::npos) << r.output;
  EXPECT_EQ(test::query_rows(d.db, "SELECT status, count(*) FROM runs GROUP BY status"),
            std::vector<std::string>{"done|10"});
  EXPECT_EQ(test::query_rows(d.db, "SELECT count(*) FROM runs WHERE error IS NOT NULL"), std::vector<std::string>{"0"});
}

TEST(SweepRun, OutOfMemoryIsRecordedAsAFailureOfTheRunsMeasuredTogether) {
  // A throughput batch of 2^24 requests (the most a spec may ask for) asks LibTorch for ~300 GB at once.
  const auto spec = json::parse(R"({"name": "oom", "evals": ["efficiency"],
    "efficiency": {"preset": "tiny", "batch": 16777216, "warmup": 0, "reps": 1, "stages": ["throughput"]},
    "grids": [{"methods": ["laco"], "placements": ["1/4", "1"], "ratios": [2]}]})");
  SweepDir d("sweep_oom", spec);
  auto r = test::run_command(test::sweep_command(d.spec, d.db));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("2 runs: 0 done now, 0 skipped (done before), 2 failed now"), std::string::npos) << r.output;
  const auto errors = test::query_rows(d.db, "SELECT status, error FROM runs");
  ASSERT_EQ(errors.size(), 2u);
  for (const auto& e : errors) {
    EXPECT_EQ(e.rfind("failed|", 0), 0u) << e;
    EXPECT_NE(e.find("can't allocate memory"), std::string::npos) << e;
    EXPECT_NE(e.find("the 2 runs measured together failed together"), std::string::npos) << e;
  }
  expect_consistent(d.db);
}

TEST(SweepRun, ShardUnionEqualsTheUnshardedSweepAndMergeIsIdempotent) {
  SweepDir d("sweep_shards");
  auto r = test::run_command(test::sweep_command(d.spec, d.db));
  ASSERT_EQ(r.status, 0) << r.output;
  std::string inputs;
  for (int i = 1; i <= 2; ++i) {
    const std::string shard = fmt::format("{}/shard{}.db", d.dir, i);
    r = test::run_command(test::sweep_command(d.spec, shard, fmt::format("--shard {}/2", i)));
    ASSERT_EQ(r.status, 0) << r.output;
    inputs += " " + shard;
  }
  const std::string merged = d.dir + "/merged.db";
  r = test::run_command(kLaco + " merge " + merged + inputs);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("10 runs added"), std::string::npos) << r.output;
  // Same runs, same status, same metrics (timings differ between runs; names
  // do not). Stage 0 is trained by whichever run of a seed comes first, which
  // alone records stage0_final_loss: that one depends on the order.
  auto without_stage0_loss = [](std::string dump) {
    std::string out, line;
    std::istringstream in(dump);
    while (std::getline(in, line))
      if (line.find("|stage0_final_loss|") == std::string::npos) out += line + "\n";
    return out;
  };
  EXPECT_EQ(without_stage0_loss(test::dump_runs(merged, false)), without_stage0_loss(test::dump_runs(d.db, false)));
  EXPECT_EQ(test::query_rows(merged, "SELECT sweep, count(*) FROM sweep_runs GROUP BY sweep"),
            std::vector<std::string>{"tiny|10"});

  const std::string before = test::dump_runs(merged, true);
  r = test::run_command(kLaco + " merge " + merged + inputs + inputs);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0 runs added, 0 replaced a run not done, 20 identical"), std::string::npos) << r.output;
  EXPECT_EQ(test::dump_runs(merged, true), before);
}

TEST(SweepRun, SlurmScriptRunsEachShardAndTheMergeJob) {
  SweepDir d("sweep_slurm");
  const std::string out = d.dir + "/cluster";
  auto r = test::run_command(kLaco + " slurm " + d.spec + " --shards 2 --time 01:00:00 --out " + out);
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string script = d.dir + "/array.sh";
  test::write_file(script, r.output);
  EXPECT_NE(r.output.find("#SBATCH --time=01:00:00"), std::string::npos);
  EXPECT_NE(r.output.find("#SBATCH --cpus-per-task=2"), std::string::npos);

  // Submission: the array, then a merge job that depends on it (sbatch faked).
  const std::string bin = d.dir + "/bin";
  test::write_file(bin + "/sbatch", "#!/bin/sh\necho \"$@\" >> " + d.dir + "/sbatch.log\necho 4242\n");
  std::filesystem::permissions(bin + "/sbatch", std::filesystem::perms::owner_all);
  r = test::run_command("PATH=" + bin + ":$PATH bash " + script);
  ASSERT_EQ(r.status, 0) << r.output;
  const std::string calls = test::read_file(d.dir + "/sbatch.log");
  EXPECT_NE(calls.find("--parsable --array=1-2 " + script), std::string::npos) << calls;
  EXPECT_NE(calls.find("--dependency=afterany:4242"), std::string::npos) << calls;
  EXPECT_NE(calls.find(script + " merge"), std::string::npos) << calls;

  // What the array tasks and the merge job do, run here in turn.
  for (int i = 1; i <= 2; ++i) {
    r = test::run_command(fmt::format("SLURM_ARRAY_TASK_ID={} SLURM_ARRAY_JOB_ID=4242 TMPDIR={} bash {}", i, d.dir, script));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_TRUE(std::filesystem::exists(fmt::format("{}/shards/shard-{}-of-2.db", out, i)));
  }
  r = test::run_command("bash " + script + " merge");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(test::query_rows(out + "/laco.db", "SELECT status, count(*) FROM runs GROUP BY status"),
            std::vector<std::string>{"done|10"});
  // A task run again resumes from its shard file: nothing is redone.
  r = test::run_command(fmt::format("SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_JOB_ID=4243 TMPDIR={} bash {}", d.dir, script));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0 done now"), std::string::npos) << r.output;

  r = test::run_command(kLaco + " slurm " + d.spec + " --shards 99");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("--shards: 99 (allowed: 1 .. 6"), std::string::npos) << r.output;
}

// A database written by the binary before the typed RunSpec
// (tests/fixtures/README.md): its runs keep their keys, so every run of the
// shipped smoke and default sweeps still counts as done.
// A database of the first version counts every shipped run whose model is
// unchanged as done, and exactly those: since each method starts as its
// reference does and is the projector after the encoder where its reference
// is one, pixel_shuffle, laco and ldpv2 (init) and tokenpacker after the
// encoder (projector) are new configurations; default.json's accuracy runs
// also have 500 test questions per family now (test_size 2500, was 1000),
// and every accuracy run is new since SynthVQA's spatial question became
// vertical (above, below: its vocabulary lost left and right), so what stays
// done is the efficiency runs of unchanged models; and of those only
// smoke.json's, since default.json's efficiency runs measure generation now
// (their configurations hold gen_tokens and memory_budget_gib, which the
// first version's runs never measured).
TEST(RunKeys, ADatabaseOfTheFirstVersionCountsEveryUnchangedShippedRunAsDone) {
  const std::string dir = test::temp_dir("v1_keys");
  const std::string db = dir + "/v1.db";
  std::filesystem::copy_file(LACO_FIXTURES_DIR "/v1_runs.db", db);
  struct Expected {
    int runs, done;
  };
  const std::map<std::string, Expected> expected = {{"smoke", {15, 4}}, {"default", {47, 0}}};
  for (const auto& [name, e] : expected) {
    const std::string spec = std::string(LACO_SWEEPS_DIR) + "/" + name + ".json";
    const auto r = test::run_command(kLaco + " sweep " + spec + " --db " + db + " --dry-run");
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find(fmt::format("{} done, 0 failed, 0 running elsewhere, {} to run ({} new", e.done,
                                        e.runs - e.done, e.runs - e.done)),
              std::string::npos)
        << name << ":\n" << r.output;
    EXPECT_EQ(parse_sweep(json::parse(test::read_file(spec)), spec).runs.size(), static_cast<size_t>(e.runs));
    // The runs still done are exactly those of unchanged models.
    std::istringstream lines(r.output);
    for (std::string line; std::getline(lines, line);) {
      if (line.find(" done ") == std::string::npos || line.find(" seed=") == std::string::npos) continue;
      const bool unchanged = line.find(" none ") != std::string::npos || line.find(" avgpool ") != std::string::npos ||
                             (line.find(" tokenpacker ") != std::string::npos && line.find(" 1 (block") == std::string::npos);
      EXPECT_TRUE(unchanged) << name << ": " << line;
    }
  }
}

// The stored configuration is the storage format of RunSpec: every run of the
// first version's database reads back into a RunSpec whose JSON and key are
// the stored ones, and a spec survives the round trip unchanged.
TEST(RunKeys, StoredConfigurationsRoundTripThroughRunSpec) {
  const std::string dir = test::temp_dir("v1_round_trip");
  const std::string db = dir + "/v1.db";
  std::filesystem::copy_file(LACO_FIXTURES_DIR "/v1_runs.db", db);
  std::vector<std::vector<std::string>> stored;  // key, eval, config
  {
    sql::Connection c = open_results_db(db, false);
    auto q = c.prepare("SELECT key, eval, config FROM runs ORDER BY key");
    while (q.step()) stored.push_back({q.text(0), q.text(1), q.text(2)});
  }
  ASSERT_EQ(stored.size(), 59u);
  for (const auto& row : stored) {
    const auto config = json::parse(row[2]);
    const RunSpec spec = run_spec_from_json(row[1], config, "fixture");
    EXPECT_EQ(spec.key(), row[0]) << row[2];
    json again = to_json(spec);
    if (!config.contains("stages")) again.erase("stages");  // recorded since the typed RunSpec
    EXPECT_EQ(again, config);
    EXPECT_EQ(run_spec_from_json(row[1], to_json(spec), "again"), spec);
  }
  EXPECT_EQ(load_done_runs(db).size(), 59u);
  test::expect_error([&] { run_spec_from_json("efficiency", json{{"preset", "tiny"}}, "x.db: run 1"); },
                     {"x.db: run 1", "configuration field 'method' is missing"});
  auto config = json::parse(stored[0][2]);
  config["ratio"] = "two";
  test::expect_error([&] { run_spec_from_json(stored[0][1], config, "x.db: run 2"); },
                     {"x.db: run 2", "'ratio' is string", "an integer"});
}

// After the encoder pixel_shuffle, LDPv2 and TokenPacker are the projector
// (as InternVL, MobileVLM V2 and TokenPacker build them) and every method
// starts as its reference does. Runs stored before these choices were
// recorded were "method + mlp2x_gelu" with trunc_normal: they read back as
// exactly that (their label says so, their key is unchanged) and are not
// counted as runs of the new default.
TEST(RunKeys, InitAndProjectorFollowTheReferenceAndOldRunsKeepTheirMeaning) {
  const MllmOptions& model = find_preset("tiny").model;
  RunRequest r;
  r.preset = "tiny";
  r.method = "pixel_shuffle";
  r.layer = "1";
  const RunSpec ext = resolve_method_placement(r, model);
  EXPECT_EQ(ext.projector, "method");
  EXPECT_EQ(ext.init, "torch_default");
  EXPECT_EQ(ext.method_label(), "pixel_shuffle");
  const json j = to_json(ext);
  EXPECT_EQ(j.at("projector"), "method");
  EXPECT_EQ(j.at("init"), "torch_default");
  EXPECT_EQ(run_spec_from_json("accuracy", j, "new"), ext);

  json old = j;
  old.erase("projector");
  old.erase("init");
  const RunSpec legacy = run_spec_from_json("accuracy", old, "old");
  EXPECT_EQ(legacy.init, "trunc_normal");
  EXPECT_EQ(legacy.projector, "mlp2x_gelu");
  EXPECT_EQ(legacy.method_label(), "pixel_shuffle{init=trunc_normal,projector=mlp2x_gelu}");
  EXPECT_EQ(legacy.key(), run_key("accuracy", old));
  EXPECT_NE(legacy.key(), ext.key());
  // Asking for the old layout and scheme gives the old run's key again.
  RunRequest ablation = r;
  ablation.projector = "mlp2x_gelu";
  ablation.init = "trunc_normal";
  EXPECT_EQ(resolve_method_placement(ablation, model).key(), legacy.key());

  // The model each evaluation builds from a run: the method maps to the LM
  // width and the mlp2x_gelu (and its FLOPs) are gone.
  Mllm m(model);
  const Compressor c = insert_method(m, ext);
  EXPECT_TRUE(m->method_is_projector());
  EXPECT_EQ(c->options().resolved_out_dim(), model.lm.width());
  EXPECT_EQ(count_flops(model, c.get(), ext.block_k, 1, 4, true).projector, 0.0);
  EXPECT_GT(count_flops(model, c.get(), ext.block_k, 1, 4, false).projector, 0.0);
  Mllm m2(model);
  insert_method(m2, resolve_method_placement(ablation, model));
  EXPECT_FALSE(m2->method_is_projector());

  // LaCo's shortcut lives in the encoder width: mlp2x_gelu follows it, as before.
  r.method = "laco";
  const RunSpec laco = resolve_method_placement(r, model);
  EXPECT_EQ(laco.projector, "mlp2x_gelu");
  EXPECT_FALSE(to_json(laco).contains("projector"));
  EXPECT_EQ(laco.method_label(), "laco");
  // TokenPacker's reference is trunc_normal: inside the encoder its key is what it always was.
  r.method = "tokenpacker";
  r.layer = "1/2";
  const RunSpec tp = resolve_method_placement(r, model);
  EXPECT_EQ(tp.init, "trunc_normal");
  EXPECT_EQ(tp.projector, "");
  EXPECT_FALSE(to_json(tp).contains("init"));
  r.init = "torch_default";
  EXPECT_EQ(resolve_method_placement(r, model).method_label(), "tokenpacker{init=torch_default}");
  // A method without weights has no scheme.
  r.method = "avgpool";
  EXPECT_EQ(resolve_method_placement(r, model).init, "");
  EXPECT_EQ(resolve_method_placement(r, model).method_label(), "avgpool");

  r.init = "xavier";
  test::expect_error([&] { resolve_method_placement(r, model); }, {"init", "'xavier'", "trunc_normal, torch_default"});
  r.init = "reference";
  r.projector = "own";
  test::expect_error([&] { resolve_method_placement(r, model); }, {"projector", "'own'", "reference, mlp2x_gelu"});
  expect_spec_error(with(test::tiny_spec(), "/grids/0/projector", "own"),
                    {"t.json", "$.grids[0].projector", "'own'", "reference, mlp2x_gelu"});
  expect_spec_error(with(test::tiny_spec(), "/grids/0/init", 3), {"t.json", "$.grids[0].init"});
}

// Hostile specs end in a clear error and exit 1, not a crash: a spec nested
// 100 000 deep was a SIGSEGV (the error path printed the value recursively).
TEST(SweepSpec, DeeplyNestedJsonIsRefusedNotACrash) {
  const std::string dir = test::temp_dir("deep_spec");
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  test::write_file(dir + "/deep.json", "{\"name\": " + deep + "}");
  auto r = test::run_command(kLaco + " sweep " + dir + "/deep.json --dry-run");
  EXPECT_EQ(r.status, 1) << r.output.substr(0, 500);
  EXPECT_NE(r.output.find("deep.json: invalid JSON: arrays and objects nested deeper than 64 levels"),
            std::string::npos) << r.output.substr(0, 500);
  // The limit: 64 levels parse, 65 do not; brackets inside strings do not count.
  json v;
  EXPECT_EQ(parse_json(std::string(64, '[') + std::string(64, ']'), v), "");
  EXPECT_NE(parse_json(std::string(65, '[') + std::string(65, ']'), v), "");
  EXPECT_EQ(parse_json("[\"" + std::string(100, '[') + "\\\"{\"]", v), "");
  EXPECT_EQ(v[0].get<std::string>().size(), 102u);
  // A long value in a message is cut, never printed whole.
  json wide = json::array();
  for (int i = 0; i < 100000; ++i) wide.push_back(i);
  EXPECT_LT(JsonChecker("x.json").describe(wide).size(), 60u);
}

// Issue 12, defect 1: two sweeps on one database used to run 14 of 15 runs
// twice (a claim was an unconditional UPDATE). Claims are atomic now: every
// run is measured once, by one of them, and both exit 0.
// Two `laco sweep` processes on d's spec, database and cache at once; both
// must exit 0 with the spec's 10 runs done. Their two logs, concatenated.
std::string run_two_sweeps(const SweepDir& d) {
  const pid_t a = test::spawn_laco(d.args(), d.dir + "/a.log");
  const pid_t b = test::spawn_laco(d.args(), d.dir + "/b.log");
  EXPECT_EQ(test::wait_child(a), 0) << test::read_file(d.dir + "/a.log");
  EXPECT_EQ(test::wait_child(b), 0) << test::read_file(d.dir + "/b.log");
  EXPECT_EQ(test::query_rows(d.db, "SELECT status, count(*) FROM runs GROUP BY status"),
            std::vector<std::string>{"done|10"});
  return test::read_file(d.dir + "/a.log") + test::read_file(d.dir + "/b.log");
}

TEST(SweepRun, TwoSweepsOnOneDatabaseRunEveryRunOnce) {
  SweepDir d("sweep_concurrent");
  const std::string logs = run_two_sweeps(d);
  EXPECT_EQ(test::query_rows(d.db, "SELECT count(*) FROM runs WHERE attempts != 1"), std::vector<std::string>{"0"})
      << logs;
}

// Two workers on one database and cache whose runs share one stage 0: one
// trains it, the other waits for it (a lock beside the cache file) and
// reuses it, instead of training the same model twice side by side.
TEST(SweepRun, TwoSweepsSharingAStage0TrainItOnce) {
  json spec = test::tiny_spec("shared", "accuracy");
  spec["accuracy"]["steps0"] = 150;  // long enough that the second worker starts while the first trains
  spec["accuracy"]["stage0_seed"] = 0;
  spec["accuracy"]["seeds"] = {0, 1};
  SweepDir d("sweep_shared_stage0", spec);
  const std::string logs = run_two_sweeps(d);
  EXPECT_EQ(test::query_rows(d.db, "SELECT json_extract(extra, '$.stage0_cached'), count(*) FROM runs GROUP BY 1"),
            (std::vector<std::string>{"0|1", "1|9"}))
      << logs;
  EXPECT_NE(logs.find("waiting for stage 0"), std::string::npos) << logs;
}

// A result is recorded only by the process holding the claim; a claim skips
// what another live process holds or what is already done.
TEST(ResultsStore, ClaimsAreConditionalAndOnlyTheHolderRecords) {
  const std::string dir = test::temp_dir("claims");
  const Sweep s = parse_sweep(test::tiny_spec(), "t.json");
  ResultStore store(dir + "/c.db", true);
  store.register_runs("tiny", {s.runs[0].planned(), s.runs[1].planned()});
  const std::vector<std::string> both = {s.runs[0].key, s.runs[1].key};
  EXPECT_EQ(store.claim(both, ""), both);
  // run 1: held by init (pid 1, alive) on this host: not ours to claim, record, fail or release.
  store.db().exec(fmt::format("UPDATE runs SET worker_pid = 1 WHERE key = '{}'", s.runs[1].key));
  EXPECT_TRUE(store.claim({s.runs[1].key}, "").empty());
  RunRecord r;
  r.add("acc_mean", 1, "%");
  test::expect_error([&] { store.record_done({{s.runs[1].key, r}}); }, {s.runs[1].key, "not held by this process"});
  store.record_failed({s.runs[1].key}, "x");
  store.release({s.runs[1].key});
  EXPECT_EQ(store.states({s.runs[1].key}).at(s.runs[1].key).status, "running");
  // run 0 is ours: recorded; then done, so not claimable again.
  store.record_done({{s.runs[0].key, r}});
  EXPECT_TRUE(store.claim({s.runs[0].key}, "").empty());
}

// Issue 12, defect 7: a seed of 2^64-1 ran as 2^63-1, "threads": 4294967297
// ran with 1 thread under the key of -t 1, 2147483648 was reported as
// -2147483648, and -t 0 / -t -1 fell back to the spec's value silently.
TEST(SweepSpec, IntegersOutsideTheirRangeAreRefusedWithTheRange) {
  const json spec = test::tiny_spec();
  expect_spec_error(with(spec, "/accuracy/seeds/0", 18446744073709551615ull),
                    {"t.json: $.accuracy.seeds[0]: 18446744073709551615 is too large",
                     "allowed: an integer in [0, 9223372036854775807]"});
  expect_spec_error(with(spec, "/threads", 4294967297ll),
                    {"t.json: $.threads: 4294967297 is too large (allowed: an integer in [1, 1024])"});
  expect_spec_error(with(spec, "/threads", 2147483648ll), {"t.json: $.threads: 2147483648 is too large"});
  expect_spec_error(with(spec, "/threads", 0), {"t.json: $.threads: 0 is too small (allowed: an integer in [1, 1024])"});
  expect_spec_error(with(spec, "/accuracy/steps0", 1e12), {"$.accuracy.steps0: expected an integer"});
  expect_spec_error(with(spec, "/accuracy/steps0", 100000000000ll),
                    {"$.accuracy.steps0: 100000000000 is too large (allowed: an integer in [0, 10000000])"});
  expect_spec_error(with(spec, "/efficiency/crops", 65), {"$.efficiency.crops: 65 is too large", "[1, 64]"});
  EXPECT_EQ(parse_sweep(with(spec, "/accuracy/seeds/0", 9223372036854775807ll), "t.json").runs[0].spec.seed,
            9223372036854775807ull);

  // The command line: every integer flag names its range; nothing falls back silently.
  const std::string dir = test::temp_dir("int_flags");
  test::write_file(dir + "/s.json", spec.dump());
  const std::string sweep = kLaco + " sweep " + dir + "/s.json --dry-run --db " + dir + "/x.db";
  for (const auto& [args, message] : std::vector<std::pair<std::string, std::string>>{
           {sweep + " -t 0", "--threads: Value 0 not in range 1 to 1024"},
           {sweep + " -t -1", "--threads: Value -1 not in range 1 to 1024"},
           {sweep + " -t 4294967297", "--threads: Value 4294967297 not in range 1 to 1024"},
           {kLaco + " run --preset tiny --seed 18446744073709551615",
            "--seed: Value 18446744073709551615 not in range 0 to 9223372036854775807"},
           {kLaco + " run --preset tiny --seed -1", "--seed: Value -1 not in range"},
           {kLaco + " run --eval efficiency --preset tiny --text-tokens 4294967297",
            "--text-tokens: 4294967297 is too large (allowed: an integer in [2, 1048576])"},
           {kLaco + " run --eval accuracy --preset tiny --steps0 99999999999999999999",
            "--steps0: '99999999999999999999' is not a 64-bit integer"}}) {
    const auto r = test::run_command(args);
    EXPECT_EQ(r.status, 1) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("laco: error: "), std::string::npos) << args << "\n" << r.output;
    EXPECT_NE(r.output.find(message), std::string::npos) << args << "\n" << r.output;
  }
}

// Issue 12, defect 8: a key given twice in a spec was accepted (the last won).
TEST(SweepSpec, DuplicateKeysAreRefused) {
  const std::string dir = test::temp_dir("dup_keys");
  std::string text = test::tiny_spec().dump();
  text.insert(1, "\"threads\": 1, \"threads\": 2, ");
  test::write_file(dir + "/dup.json", text);
  test::expect_error([&] { load_sweep(dir + "/dup.json"); },
                     {dir + "/dup.json: invalid JSON: $.threads: duplicate key 'threads'"});
}

// Issue 12, defect 8: SIGINT or SIGTERM before the first run (during start-up)
// ended the process by the signal; now the sweep stops with 130, runs
// nothing, and the next sweep does everything.
TEST(SweepRun, ASignalDuringStartUpEndsWith130AndRunsNothing) {
  SweepDir d("sweep_signal_start");
  for (int sig : {SIGINT, SIGTERM}) {
    const std::string log = d.dir + "/start-" + std::to_string(sig) + ".log";
    const pid_t pid = test::spawn_laco(d.args(), log, sig);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status)) << "ended by signal " << WTERMSIG(status) << "\n" << test::read_file(log);
    EXPECT_EQ(WEXITSTATUS(status), 130) << test::read_file(log);
    EXPECT_NE(test::read_file(log).find("interrupted: run the same command again to continue"), std::string::npos)
        << test::read_file(log);
    if (std::filesystem::exists(d.db))
      EXPECT_EQ(test::query_rows(d.db, "SELECT count(*) FROM runs WHERE status != 'pending'"),
                std::vector<std::string>{"0"});
  }
  auto r = test::run_command(test::sweep_command(d.spec, d.db));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(test::query_rows(d.db, "SELECT status, count(*) FROM runs GROUP BY status"),
            std::vector<std::string>{"done|10"});
}

// ... and a signal after the last run (here: with nothing left to run) is
// still reported as an interruption, not lost.
TEST(SweepRun, ASignalAfterTheLastRunStillEndsWith130) {
  SweepDir d("sweep_signal_end", test::tiny_spec("tiny", "efficiency"));
  SweepOptions o;
  o.db = d.db;
  o.cache_dir = d.dir + "/cache";
  const Sweep s = load_sweep(d.spec);
  clear_interrupt();
  ASSERT_EQ(run_sweep(s, o), 0);
  catch_interrupts();
  raise(SIGINT);
  EXPECT_EQ(run_sweep(s, o), 130);
  EXPECT_EQ(exit_status(0), 130);
  clear_interrupt();
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  EXPECT_EQ(test::query_rows(d.db, "SELECT status, count(*) FROM runs GROUP BY status"),
            std::vector<std::string>{"done|5"});
}

// Issue 12, defect 6: the stage-0 cache on a full disk left a partial .tmp,
// said "write failed" without a reason, and every following run trained
// stage 0 again to fail again. Needs a small tmpfs (root); skips otherwise.
TEST(SweepRun, AStage0CacheThatDoesNotFitFailsItsRunsWithoutRetraining) {
  SweepDir d("sweep_cache_full", test::tiny_spec("tiny", "accuracy"));
  std::filesystem::create_directories(d.dir + "/cache");
  const auto disk = test::Mount::tmpfs(d.dir + "/cache", 64);
  if (!disk.ok) GTEST_SKIP() << "no tmpfs mount on this machine (needs root)";
  test::fill_disk(d.dir + "/cache", 8192);
  auto r = test::run_command(test::sweep_command(d.spec, d.db));
  EXPECT_EQ(r.status, 1) << r.output;
  const auto errors = test::query_rows(d.db, "SELECT error FROM runs ORDER BY error");
  ASSERT_EQ(errors.size(), 5u) << r.output;
  size_t full = 0, not_retrained = 0;
  for (const auto& e : errors) {
    EXPECT_NE(e.find("cannot write: No space left on device (errno 28)"), std::string::npos) << e;
    if (e.find("was trained earlier in this process but could not be cached") != std::string::npos &&
        e.find("not trained again") != std::string::npos)
      ++not_retrained;
    else
      ++full;
  }
  EXPECT_EQ(full, 1u) << r.output;
  EXPECT_EQ(not_retrained, 4u) << r.output;
  EXPECT_EQ(test::query_rows(d.db, "SELECT count(*) FROM runs WHERE status = 'failed'"), std::vector<std::string>{"5"});
  for (const auto& entry : std::filesystem::directory_iterator(d.dir + "/cache")) {
    if (entry.path().extension() == ".lock") {  // the stage-0 lock: empty, and kept
      EXPECT_EQ(std::filesystem::file_size(entry.path()), 0u) << entry.path();
      continue;
    }
    EXPECT_EQ(entry.path().filename(), "filler") << "no partial file is left: " << entry.path();
  }
}

// Issue 13: only median/min/max of a timing survived and no test prediction
// did. Now every repetition and every question is stored, agrees with the
// metrics, survives a merge, and a database of schema version 1 is migrated
// with its report unchanged.
TEST(SweepRun, RawSamplesAndPredictionsAreStoredAndMerged) {
  json spec = test::tiny_spec();
  spec["efficiency"]["reps"] = 3;
  spec["grids"][0]["methods"] = {"none", "laco"};
  spec["grids"][0]["placements"] = {"1/4"};
  SweepDir d("sweep_raw", spec);
  auto r = test::run_command(test::sweep_command(d.spec, d.db));
  ASSERT_EQ(r.status, 0) << r.output;
  // Each run's log line names its headline metrics.
  EXPECT_NE(r.output.find("accuracy laco 1/4 (block 1/2) r=2 seed=0  ("), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("): acc_mean "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("): encoder_latency "), std::string::npos) << r.output;
  // Three repetitions of every timing, each metric the median of its samples.
  const auto counts = test::query_rows(d.db, "SELECT count(DISTINCT run_key), min(n), max(n) FROM (SELECT run_key, "
                                             "metric, count(*) AS n FROM samples GROUP BY run_key, metric)");
  EXPECT_EQ(counts, std::vector<std::string>{"2|3|3"});
  EXPECT_EQ(test::query_rows(d.db, "SELECT count(*) FROM metrics m WHERE m.name = 'encoder_latency' AND m.value != "
                                   "(SELECT value FROM samples s WHERE s.run_key = m.run_key AND s.metric = m.name "
                                   "ORDER BY value LIMIT 1 OFFSET 1)"),
            std::vector<std::string>{"0"});
  // Every test question of each accuracy run; the accuracies recompute from them.
  const auto runs = load_done_runs(d.db, {"eval=accuracy"});
  ASSERT_EQ(runs.size(), 2u);
  for (const auto& run : runs) {
    ASSERT_FALSE(run.predictions.empty());
    EXPECT_EQ(static_cast<int64_t>(run.predictions.size()), run.spec.accuracy().test_size);
    int64_t correct = 0;
    std::map<std::string, std::pair<int64_t, int64_t>> family;
    for (const auto& q : run.predictions) {
      correct += q.correct;
      EXPECT_EQ(q.correct, q.answer == q.predicted) << q.id;
      family[q.family].first += q.correct;
      ++family[q.family].second;
    }
    EXPECT_NEAR(run.require("acc_overall"), 100.0 * correct / run.predictions.size(), 1e-9);
    for (const auto& [f, c] : family)
      EXPECT_NEAR(run.require("acc_" + f), 100.0 * c.first / c.second, 1e-9) << f;
  }
  // A merge carries them.
  const std::string merged = d.dir + "/merged.db";
  merge_results(merged, {d.db});
  for (const char* table : {"samples", "predictions"})
    EXPECT_EQ(test::query_rows(merged, std::string("SELECT count(*) FROM ") + table),
              test::query_rows(d.db, std::string("SELECT count(*) FROM ") + table))
        << table;
}

TEST(RunKeys, ADatabaseOfSchemaVersion1IsMigratedAndReportsTheSame) {
  const std::string dir = test::temp_dir("v1_migrate");
  const std::string db = dir + "/v1.db";
  std::filesystem::copy_file(LACO_FIXTURES_DIR "/v1_runs.db", db);
  ASSERT_EQ(inspect_results_db(db), 1);
  const auto before = load_done_runs(db, {"sweep=smoke"});  // read without migrating
  ASSERT_EQ(before.size(), 15u);
  { ResultStore store(db, true); }  // a writer migrates
  EXPECT_EQ(inspect_results_db(db), results_schema_version());
  EXPECT_EQ(test::query_rows(db, "SELECT count(*) FROM samples"), std::vector<std::string>{"0"});
  const auto after = load_done_runs(db, {"sweep=smoke"});
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) EXPECT_EQ(to_json(after[i]).dump(), to_json(before[i]).dump());
  const RunIndex a(before, {}), b(after, {});
  for (size_t t = 0; t < build_tables(a, {}).size(); ++t)
    EXPECT_EQ(render_markdown(build_tables(b, {})[t]), render_markdown(build_tables(a, {})[t]));
}

// Issue 13: `laco run --db FILE` stores a single run as a sweep does, and the
// key is the sweep's: a sweep of the same configuration then skips it.
TEST(SweepRun, LacoRunWithDbStoresTheRunUnderTheSweepsKey) {
  SweepDir d("run_db", test::tiny_spec("tiny", "efficiency"));
  const std::string run = kLaco + " run --eval efficiency --preset tiny --method laco --layer 1/4 --ratio 2 --warmup 0 "
                                  "--reps 1 --stages encoder --db " + d.db;
  auto r = test::run_command(run);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("laco: stored 1 run(s) in " + d.db + " (sweep laco-run)"), std::string::npos) << r.output;
  EXPECT_EQ(test::query_rows(d.db, "SELECT count(*) FROM samples"), std::vector<std::string>{"1"});
  const auto dry = test::run_command(test::sweep_command(d.spec, d.db, "--dry-run"));
  EXPECT_NE(dry.output.find("1 done, 0 failed"), std::string::npos) << dry.output;
  // The same configuration again: resumed as a sweep is, nothing measured, the stored run shown, the database unchanged.
  const std::string before = test::dump_runs(d.db, true);
  r = test::run_command(run);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("1 of 1 run(s) were done in " + d.db + " already and are shown as stored"), std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("encoder_latency"), std::string::npos) << "the stored run's table: " << r.output;
  EXPECT_EQ(test::dump_runs(d.db, true), before);
}

// Issue 40: laco run --db resumes as a sweep does: what is done is shown as
// stored, what a killed process left running (or a failure left failed) is run.
TEST(SweepRun, LacoRunWithDbResumesAfterAKilledRun) {
  SweepDir d("run_resume", test::tiny_spec("tiny", "efficiency"));
  const std::string run = kLaco + " run --eval efficiency --preset tiny -m laco,avgpool -l 1/4 --ratio 2 "
                                  "--warmup 0 --reps 1 --stages encoder --db " + d.db;
  auto r = test::run_command(run);
  ASSERT_EQ(r.status, 0) << r.output;
  // As a process killed while measuring leaves it: one run `running`, held by a process that is gone.
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  {
    sql::Connection c(d.db, sql::Connection::Mode::kReadWrite);
    c.exec(fmt::format("UPDATE runs SET status = 'running', worker_pid = {} WHERE method = 'avgpool'",
                       static_cast<int64_t>(child)));
  }
  ASSERT_EQ(test::query_rows(d.db, "SELECT status FROM runs WHERE method = 'avgpool'"), std::vector<std::string>{"running"});
  r = test::run_command(run);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("1 of 2 run(s) were done in " + d.db + " already"), std::string::npos) << r.output;
  EXPECT_EQ(test::query_rows(d.db, "SELECT status, count(*) FROM runs GROUP BY status"),
            std::vector<std::string>{"done|2"});
  expect_consistent(d.db);
}

// The campaign's reproducer with a real SIGKILL: killed once its first
// configuration has committed, the same command finishes the rest.
TEST(SweepRun, LacoRunWithDbResumesAfterSigkill) {
  SweepDir d("run_sigkill", test::tiny_spec("tiny", "accuracy"));
  const std::string run = kLaco + " run --eval accuracy --preset tiny -m laco,avgpool -l 1/4 --steps0 20 --steps1 150 "
                                  "--steps2 150 --db " + d.db + " --cache-dir " + d.dir + "/cache";
  const std::string pid_file = d.dir + "/pid";
  ASSERT_EQ(std::system(("(" + run + " > " + d.dir + "/log 2>&1 & echo $! > " + pid_file + ")").c_str()), 0);
  pid_t pid = 0;
  for (int i = 0; i < 100 && pid == 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    std::istringstream(test::read_file(pid_file)) >> pid;
  }
  ASSERT_GT(pid, 0);
  bool killed = false;
  for (int i = 0; i < 3000 && !killed; ++i) {  // up to a minute
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    if (std::filesystem::exists(d.db) &&
        test::query_rows(d.db, "SELECT count(*) FROM runs WHERE status = 'done'") == std::vector<std::string>{"1"})
      killed = ::kill(pid, SIGKILL) == 0;
  }
  ASSERT_TRUE(killed) << test::read_file(d.dir + "/log");
  // Gone, or a zombie nobody reaps (its parent shell exited): either way it holds nothing.
  auto alive = [&] {
    const std::string stat = "/proc/" + std::to_string(pid) + "/stat";
    if (!std::filesystem::exists(stat)) return false;
    const std::string text = test::read_file(stat);
    const auto close = text.rfind(')');
    return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
  };
  for (int i = 0; i < 250 && alive(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_FALSE(alive());
  const auto states = test::query_rows(d.db, "SELECT status, count(*) FROM runs GROUP BY status ORDER BY status");
  EXPECT_NE(states, std::vector<std::string>{"done|2"}) << "killed before the second committed";
  const auto r = test::run_command(run);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("1 of 2 run(s) were done in " + d.db + " already"), std::string::npos) << r.output;
  EXPECT_EQ(test::query_rows(d.db, "SELECT status, count(*) FROM runs GROUP BY status"),
            std::vector<std::string>{"done|2"});
  expect_consistent(d.db);
}

// Issue 13: --dry-run predicts the sweep's duration from the wall times of
// finished runs of the same kind in the database, and says when it cannot.
TEST(SweepRun, DryRunEstimatesTheDurationFromPastRuns) {
  SweepDir d("dry_estimate", test::tiny_spec("tiny", "efficiency"));
  auto r = test::run_command(test::sweep_command(d.spec, d.db));
  ASSERT_EQ(r.status, 0) << r.output;
  r = test::run_command(test::sweep_command(d.spec, d.db, "--dry-run"));
  EXPECT_NE(r.output.find("nothing left to run"), std::string::npos) << r.output;
  // Five new configurations (more repetitions) of the same kind: predicted.
  json more = test::tiny_spec("tiny", "efficiency");
  more["efficiency"]["reps"] = 3;
  test::write_file(d.dir + "/more.json", more.dump());
  r = test::run_command(test::sweep_command(d.dir + "/more.json", d.db, "--dry-run"));
  EXPECT_NE(r.output.find("estimated duration: about "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("for 5 of the 5 runs to do"), std::string::npos) << r.output;
  // Accuracy runs: nothing of their kind in the database yet.
  test::write_file(d.dir + "/acc.json", test::tiny_spec("tiny", "accuracy").dump());
  r = test::run_command(test::sweep_command(d.dir + "/acc.json", d.db, "--dry-run"));
  EXPECT_NE(r.output.find("no estimate of the duration: no finished run of the same evaluations"), std::string::npos)
      << r.output;
}

// Runs at another stage 1 + 2 budget (grids' "budgets") are predicted from
// their steps: the training time of a past run scales with the step count,
// its evaluation and set-up do not. They were predicted at the x1 time.
TEST(SweepRun, DryRunEstimatesScaleAccuracyRunsByTheirSteps) {
  SweepDir d("dry_estimate_steps", test::tiny_spec("tiny", "accuracy"));
  auto r = test::run_command(test::sweep_command(d.spec, d.db));
  ASSERT_EQ(r.status, 0) << r.output;
  const json x1 = test::tiny_spec("tiny", "accuracy");
  const Sweep once = parse_sweep(x1, "x1.json"), four = parse_sweep(with(x1, "/grids/0/budgets", {4}), "x4.json");
  ASSERT_EQ(once.runs.size(), four.runs.size());
  std::vector<size_t> all(once.runs.size());
  std::iota(all.begin(), all.end(), size_t{0});
  sql::Connection db = open_results_db(d.db, false);
  const auto e1 = estimate_duration(once, all, db, d.dir + "/cache");
  const auto e4 = estimate_duration(four, all, db, d.dir + "/cache");
  ASSERT_EQ(e1.predicted, all.size());
  ASSERT_EQ(e4.predicted, all.size());
  double train = 0;  // stages 1 + 2 of the past runs, each the one run of its configuration
  for (const auto& v : test::query_rows(d.db, "SELECT value FROM metrics WHERE name IN ('stage1_time', 'stage2_time')"))
    train += std::stod(v);
  ASSERT_GT(train, 0.0);
  EXPECT_NEAR(e4.seconds - e1.seconds, 3.0 * train, 1e-6 * (1.0 + e4.seconds));
}

}  // namespace
}  // namespace laco

namespace laco {
namespace {

// Issue 39: `laco sweep` and `laco run` share one lifecycle (runner/sweep.h,
// execute_sweep): a record with a non-finite metric is refused and its runs
// are recorded as failed, never left `running` or stored with a NULL. The
// NaN is injected (LACO_FAULT_NAN_METRIC) where a diverged loss would put it.
TEST(SweepRun, ANonFiniteMetricFailsTheRunInASweep) {
  SweepDir d("nan_sweep", test::tiny_spec("tiny", "efficiency"));
  auto r = test::run_command("LACO_FAULT_NAN_METRIC=visual_tokens " + test::sweep_command(d.spec, d.db));
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("metric visual_tokens is nan (tokens)"), std::string::npos) << r.output;
  const auto states = test::query_rows(d.db, "SELECT DISTINCT status FROM runs");
  EXPECT_EQ(states, std::vector<std::string>{"failed"});
  EXPECT_EQ(test::query_rows(d.db, "SELECT count(*) FROM metrics"), std::vector<std::string>{"0"});
  expect_consistent(d.db);
  // Without the fault the same runs are rerun and done.
  r = test::run_command(test::sweep_command(d.spec, d.db, "--retry-failed"));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(test::query_rows(d.db, "SELECT DISTINCT status FROM runs"), std::vector<std::string>{"done"});
}

TEST(SweepRun, ANonFiniteMetricFailsTheRunInLacoRun) {
  SweepDir d("nan_run", test::tiny_spec("tiny", "efficiency"));
  const std::string run = kLaco + " run --eval efficiency --preset tiny --method laco,avgpool --layer 1/4,1 --ratio 2 "
                                  "--warmup 0 --reps 1 --stages encoder --db " + d.db;
  auto r = test::run_command("LACO_FAULT_NAN_METRIC=encoder_latency " + run);
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("metric encoder_latency is nan (ms)"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("recorded as failed in " + d.db), std::string::npos) << r.output;
  // Every run of the grid failed (each group fails together); none is left running.
  EXPECT_EQ(test::query_rows(d.db, "SELECT status, count(*) FROM runs GROUP BY status"),
            std::vector<std::string>{"failed|4"});
  expect_consistent(d.db);
  // Failed runs are claimable again: the same command, without the fault, runs them.
  r = test::run_command(run);
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(test::query_rows(d.db, "SELECT status, count(*) FROM runs GROUP BY status"),
            std::vector<std::string>{"done|4"});
  // And without a database the fault is an error too, with nothing printed as a result.
  r = test::run_command("LACO_FAULT_NAN_METRIC=encoder_latency " + kLaco +
                        " run --eval efficiency --preset tiny -m laco -l 1/4 --warmup 0 --reps 1 --stages encoder");
  EXPECT_EQ(r.status, 1) << r.output;
  EXPECT_NE(r.output.find("metric encoder_latency is nan"), std::string::npos) << r.output;
}

// One expansion: the runs `laco run` makes from its flags are the runs a
// sweep spec of the same grid makes (keys, order, groups), `none` and a
// method inside the LM placed alike.
TEST(SweepSpec, LacoRunExpandsItsFlagsAsTheSweepExpandsTheSameGrid) {
  const auto spec = json::parse(R"({"name": "same", "evals": ["efficiency"],
    "efficiency": {"preset": "tiny", "seeds": [3], "reps": 1, "warmup": 0, "stages": ["encoder"]},
    "grids": [{"methods": ["none", "laco", "fastv"], "placements": ["1/4", "1"], "ratios": [2, 3]}]})");
  const Sweep sweep = parse_sweep(spec, "same.json");
  SweepDir d("run_same", spec);
  const auto r = test::run_command(kLaco + " run --eval efficiency --preset tiny -m none,laco,fastv -l 1/4,1 -r 2,3 "
                                           "--seed 3 --reps 1 --warmup 0 --stages encoder --db " + d.db);
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("note: efficiency: `none` does not depend on the placement"), std::string::npos) << r.output;
  std::vector<std::string> keys;
  for (const auto& run : sweep.runs) keys.push_back(run.key);
  std::sort(keys.begin(), keys.end());
  EXPECT_EQ(test::query_rows(d.db, "SELECT key FROM runs ORDER BY key"), keys);
  EXPECT_EQ(test::query_rows(d.db, "SELECT count(DISTINCT group_key) FROM runs"), std::vector<std::string>{"1"});
  const auto dry = test::run_command(test::sweep_command(d.spec, d.db, "--dry-run"));
  EXPECT_NE(dry.output.find(fmt::format("{} done, 0 failed", keys.size())), std::string::npos) << dry.output;
}

}  // namespace
}  // namespace laco
