#include <set>

#include <torch/torch.h>

#include "evals/efficiency.h"
#include "evals/measure.h"
#include "evals/run_record.h"
#include "harness/base/memory.h"
#include "harness/base/progress.h"
#include "harness/model/presets.h"
#include "harness/print/printer.h"
#include "tests/test_util.h"

namespace laco {
namespace {

EfficiencyConfig tiny(const std::string& method = "laco", const std::string& layer = "1/4") {
  EfficiencyConfig c;
  c.preset = "tiny";
  c.method = method;
  c.layer = layer;
  c.reps = 2;
  c.warmup = 0;
  return c;
}

TEST(Efficiency, BadInputNamesTheFieldAndTheAllowedValues) {
  auto with = [](auto edit) {
    auto c = tiny();
    edit(c);
    return c;
  };
  test::expect_error([&] { resolve_efficiency_config(with([](auto& c) { c.preset = "huge"; })); },
                     {"--preset", "'huge'", "paper, cpu-small, tiny"});
  test::expect_error([&] { resolve_efficiency_config(with([](auto& c) { c.crops = 0; })); }, {"--crops", ">= 1", "0"});
  test::expect_error([&] { resolve_efficiency_config(with([](auto& c) { c.batch = 0; })); }, {"--batch", ">= 1"});
  test::expect_error([&] { resolve_efficiency_config(with([](auto& c) { c.train_batch = -3; })); }, {"--train-batch"});
  test::expect_error([&] { resolve_efficiency_config(with([](auto& c) { c.layer = "block:9"; })); },
                     {"--layer", "block 9 is beyond the encoder's depth", "block:1 .. block:4"});
  test::expect_error([&] { resolve_efficiency_config(with([](auto& c) { c.layer = "2"; })); }, {"--layer", "block:2"});
  test::expect_error([&] { resolve_efficiency_config(with([](auto& c) { c.method = "pooling"; })); },
                     {"unknown method 'pooling'"});
  test::expect_error([&] { resolve_efficiency_config(with([](auto& c) { c.ratio = 5; })); }, {"ratio 5"});
  test::expect_error([&] { resolve_efficiency_config(with([](auto& c) { c.stages = {"generate"}; })); },
                     {"--stages", "'generate'", "encoder, prefill"});
  test::expect_error([&] { resolve_efficiency_config(with([](auto& c) { c.gen_tokens = {16, 1}; })); },
                     {"--gen-tokens", "1 is out of range", "allowed: 2.."});
  test::expect_error([&] { resolve_efficiency_config(with([](auto& c) { c.memory_budget_gib = 0; })); },
                     {"--memory-budget-gib", "must be > 0"});
  test::expect_error([&] { resolve_efficiency_config(with([](auto& c) { c.device = "cuda"; })); },
                     {"--device", "allowed: cpu"});
  test::expect_error(
      [&] { resolve_efficiency_config(with([](auto& c) { c.grid_policy = GridPolicy::kError; })); },
      {"7x7", "not divisible"});
}

TEST(Efficiency, TokenCountsOnOddGrids) {
  for (auto [r, side] : {std::pair{2, 4}, {3, 3}, {4, 2}}) {
    auto c = tiny();
    c.ratio = r;
    const auto spec = resolve_efficiency_config(c);
    EXPECT_EQ(spec.grid_in, "7x7");
    EXPECT_EQ(spec.grid_out, fmt::format("{}x{}", side, side)) << "r=" << r;
  }
}

TEST(Efficiency, ATinyRunMeasuresEveryFigureWithItsUnit) {
  auto other = tiny("pixel_shuffle", "1");
  other.ratio = 3;
  std::vector<RunSpec> runs = {resolve_efficiency_config(tiny("laco", "1/4")),
                               resolve_efficiency_config(tiny("laco", "1")), resolve_efficiency_config(other)};
  Progress progress("test", efficiency_units(runs));
  progress.set_enabled(false);
  const auto records = run_efficiency(runs, &progress);
  ASSERT_EQ(records.size(), 3u);
  const auto& r = records[0];
  EXPECT_EQ(r.spec.block_k, 1);
  EXPECT_EQ(records[1].spec.block_k, 4);
  EXPECT_EQ(r.facts["measured_with"], 3);
  EXPECT_EQ(r.facts["encoder_inference_kernels"], "native_mha+gelu_tanh_vec");
  EXPECT_EQ(records[2].spec.method, "pixel_shuffle");
  EXPECT_EQ(records[2].spec.ratio, 3);
  // Every run has its own repetitions, training too (its state is built and freed in each round).
  for (const auto& rec : records)
    for (const char* m : {"encoder_latency", "train_step_time", "throughput", "train_step_time_frozen_encoder",
                          "train_step_time_frozen_encoder_lm"}) {
      ASSERT_TRUE(rec.samples.count(m)) << m;
      EXPECT_EQ(rec.samples.at(m).size(), 2u) << m;
    }
  EXPECT_GT(records[2].require("train_peak_tensor"), 0);
  EXPECT_EQ(r.require("visual_tokens"), 2 * 16);  // 2 crops x 4 x 4
  const std::map<std::string, std::string> units = {
      {"encoder_latency", "ms"},        {"prefill_latency", "ms"},       {"lm_prefill_latency", "ms"},
      {"throughput", "requests/s"},       {"train_step_time", "ms"},       {"optimizer_step_time", "ms"},
      {"inference_peak_tensor", "MiB"}, {"train_peak_tensor", "MiB"},    {"flops_train_step", "GFLOP"},
      {"train_gflops", "GFLOP/s"},      {"device_peak_gflops", "GFLOP/s"}, {"train_efficiency", "ratio"},
      {"train_step_time_frozen_encoder", "ms"}, {"train_step_time_frozen_encoder_lm", "ms"},
      {"train_gflops_frozen_encoder_lm", "GFLOP/s"}, {"params_trainable_frozen_encoder", "M"}};
  for (const auto& [name, unit] : units) {
    bool found = false;
    for (const auto& m : r.metrics)
      if (m.name == name) {
        found = true;
        EXPECT_EQ(m.unit, unit) << name;
        EXPECT_TRUE(std::isfinite(m.value) && m.value > 0) << name << " = " << m.value;
      }
    EXPECT_TRUE(found) << name;
  }
  // Each stage trains what it says: everything; all but the encoder's blocks;
  // the compressor and the projector (LaCo's MLP and mlp2x_gelu) only.
  EXPECT_DOUBLE_EQ(r.require("params_trainable"), r.require("params"));
  EXPECT_LT(r.require("params_trainable_frozen_encoder"), r.require("params_trainable"));
  EXPECT_LT(r.require("params_trainable_frozen_encoder_lm"), r.require("params_trainable_frozen_encoder"));
  EXPECT_GT(r.require("params_trainable_frozen_encoder_lm"), r.require("params_compressor"));
  EXPECT_LT(r.require("flops_train_step_frozen_encoder_lm"), r.require("flops_train_step"));
  EXPECT_LE(r.require("encoder_latency_min"), r.require("encoder_latency"));
  EXPECT_LE(r.require("encoder_latency"), r.require("encoder_latency_max"));
  // Training keeps activations, inference frees them as it goes.
  EXPECT_GT(r.require("train_peak_tensor"), r.require("inference_peak_tensor"));
  // Compressing after block 1 of 4 leaves less encoder work than after block 4.
  EXPECT_LT(r.require("flops_encoder"), records[1].require("flops_encoder"));
  EXPECT_EQ(r.provenance.threads.find("intra_op=2"), 0u) << r.provenance.threads;

  const auto json = to_json(records);
  EXPECT_EQ(json[0]["metrics"][0]["unit"], "tokens");
  EXPECT_EQ(json[0]["config"]["method"], "laco");
  const auto speedups = make_markdown_printer({/*pad=*/false})->print(speedups_table(records[0], records[1]));
  EXPECT_NE(speedups.find("FLOP-model speedup"), std::string::npos);
  EXPECT_NE(speedups.find("| training step |"), std::string::npos);
  EXPECT_NE(speedups.find("| training step, encoder + LM frozen |"), std::string::npos) << speedups;
  // Generation (the tiny preset's 2 and 5 tokens): the decode step's model is its bytes, equal at one ratio.
  EXPECT_NE(speedups.find("| time per token, n=5 |"), std::string::npos) << speedups;
  EXPECT_NE(speedups.find("1.000 (+0.0%)"), std::string::npos) << speedups;
  EXPECT_NE(speedups.find("| latency to token 2 |"), std::string::npos) << speedups;
}

// The decode stage: greedy generation timed token by token at batch 1 and
// at --batch, the KV cache as the decode model counts it, and the largest
// batch under the budget from weights + per-request memory, that sum checked
// against the measured batch.
TEST(Efficiency, DecodeMeasuresTimePerTokenLatencyAndTheLargestBatch) {
  auto decode = [](const std::string& method, const std::string& layer) {
    auto c = tiny(method, layer);
    c.stages = {"decode"};
    c.gen_tokens = {5, 2};
    c.batch = 3;
    return resolve_efficiency_config(c);
  };
  const std::vector<RunSpec> runs = {decode("none", "1"), decode("laco", "1/4"), decode("laco", "1")};
  EXPECT_EQ(runs[1].efficiency().gen_tokens, (std::vector<int64_t>{2, 5})) << "ascending";
  EXPECT_EQ(to_json(runs[1])["gen_tokens"], nlohmann::json::array({2, 5}));
  EXPECT_EQ(to_json(runs[1])["memory_budget_gib"], 0.0625) << "the tiny preset's";
  // Without the decode stage the configuration (and so the run key) is what it always was.
  auto encoder_only = tiny();
  encoder_only.stages = {"encoder"};
  EXPECT_FALSE(to_json(resolve_efficiency_config(encoder_only)).contains("gen_tokens"));
  EXPECT_EQ(efficiency_units(runs), 3 * 2);

  const auto records = run_efficiency(runs);
  ASSERT_EQ(records.size(), 3u);
  for (const auto& r : records) {
    SCOPED_TRACE(r.spec.label());
    for (const char* m : {"decode_latency_2", "decode_tpot_2", "decode_latency_5", "decode_tpot_5", "decode_ttft",
                          "decode_latency_5_batch", "decode_tpot_5_batch", "decode_throughput_5"}) {
      ASSERT_TRUE(r.samples.count(m)) << m;
      EXPECT_EQ(r.samples.at(m).size(), 2u) << m;
    }
    // Token 2 comes before token 5 of the same generation, and after the first.
    for (size_t i = 0; i < 2; ++i) {
      EXPECT_LT(r.samples.at("decode_ttft")[i], r.samples.at("decode_latency_2")[i]);
      EXPECT_LT(r.samples.at("decode_latency_2")[i], r.samples.at("decode_latency_5")[i]);
      EXPECT_NEAR(r.samples.at("decode_tpot_5")[i],
                  (r.samples.at("decode_latency_5")[i] - r.samples.at("decode_ttft")[i]) / 4, 1e-9);
      EXPECT_NEAR(r.samples.at("decode_throughput_5")[i], 3 * 5 / (r.samples.at("decode_latency_5_batch")[i] * 1e-3),
                  1e-6);
    }
    // The cache allocated for the last step holds prompt + 5 - 1 positions of
    // 2 layers x 2 KV heads x 8 x (k, v) x 4 bytes: as the decode model counts it.
    const double prompt = r.require("lm_tokens");
    EXPECT_DOUBLE_EQ(r.require("kv_cache_measured"), r.require("kv_cache_5"));
    EXPECT_DOUBLE_EQ(r.require("kv_cache_5") * 1024 * 1024, (prompt + 4) * 2 * 2 * 8 * 2 * 4);
    EXPECT_DOUBLE_EQ(r.require("kv_cache_2") * 1024 * 1024, (prompt + 1) * 2 * 2 * 8 * 2 * 4);
    // The memory model: weights + 3 x (inputs + KV cache + activation peak) against the measured batch of 3.
    EXPECT_LT(std::abs(r.require("decode_memory_model_error")), 0.25) << r.require("decode_peak_tensor_batch");
    const double mib = 1024 * 1024, inputs = (2 * 3 * 28 * 28 * 4 + 8 * 8) / mib;  // 2 crops of 3 x 28 x 28, 8 ids
    const double per_request = inputs + r.require("kv_cache_5") + r.require("decode_activation_peak");
    EXPECT_NEAR(r.require("decode_peak_tensor_batch_model"), r.require("weights") + 3 * per_request, 1e-9);
    EXPECT_EQ(r.require("max_batch_5"), std::floor((0.0625 * 1024 - r.require("weights")) / per_request));
    EXPECT_GE(r.require("max_batch_2"), r.require("max_batch_5"));
    EXPECT_GT(r.require("bytes_decode_step_5"), 0);
  }
  // Compression shortens the cache; inside the encoder or after it, the LM caches the same tokens.
  EXPECT_LT(records[1].require("kv_cache_5"), records[0].require("kv_cache_5"));
  EXPECT_EQ(records[1].require("kv_cache_5"), records[2].require("kv_cache_5"));
  EXPECT_EQ(records[1].require("bytes_decode_step_5"), records[2].require("bytes_decode_step_5"));
}

TEST(Efficiency, OneGroupPerPresetSeedThreadsAndSettings) {
  auto spec = [](auto edit) {
    auto c = tiny();
    edit(c);
    return resolve_efficiency_config(c);
  };
  const std::string base = efficiency_group(spec([](auto&) {}));
  // Methods, placements and ratios of one preset and seed are compared in one table: one group.
  EXPECT_EQ(efficiency_group(spec([](auto& c) { c.method = "pixel_shuffle"; c.layer = "1"; c.ratio = 3; })), base);
  EXPECT_EQ(efficiency_group(spec([](auto& c) { c.method = "none"; })), base);
  EXPECT_EQ(efficiency_group(spec([](auto& c) { c.method = "laco"; c.method_options = {{"zero_init", "true"}}; })), base);
  // The repetitions too: a claimed comparison's runs take more rounds in the same group (issue 41).
  EXPECT_EQ(efficiency_group(spec([](auto& c) { c.reps = 3; })), base);
  EXPECT_NE(spec([](auto& c) { c.reps = 3; }).key(), spec([](auto&) {}).key()) << "but not the same run";
  // Anything else is another measurement.
  EXPECT_NE(efficiency_group(spec([](auto& c) { c.seed = 1; })), base);
  EXPECT_NE(efficiency_group(spec([](auto& c) { c.warmup = 1; })), base);
  EXPECT_NE(efficiency_group(spec([](auto& c) { c.threads = 1; })), base);
  EXPECT_NE(efficiency_group(spec([](auto& c) { c.crops = 1; })), base);
}

// Issue 41: runs of one group with different repetitions. The group runs as
// many rounds as the most any run asks for; a run with fewer takes part in
// the first ones, so that its repetition i is round i of the others. Every
// record names the measurement (shared), its rounds and the group's noise.
TEST(Efficiency, ClaimedRunsTakeMoreRoundsInTheSameMeasurement) {
  auto with_reps = [](const std::string& method, const std::string& layer, int64_t reps) {
    auto c = tiny(method, layer);
    c.reps = reps;
    c.stages = {"encoder", "train"};
    return resolve_efficiency_config(c);
  };
  const std::vector<RunSpec> runs = {with_reps("laco", "1/4", 4), with_reps("laco", "1", 4),
                                     with_reps("avgpool", "1/4", 2)};
  const auto records = run_efficiency(runs);
  ASSERT_EQ(records.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const size_t reps = i < 2 ? 4u : 2u;
    for (const char* m : {"encoder_latency", "train_step_time", "train_step_time_frozen_encoder_lm"})
      EXPECT_EQ(records[i].samples.at(m).size(), reps) << m << " of run " << i;
    EXPECT_EQ(records[i].facts["measurement"], records[0].facts["measurement"]) << "one measurement";
    EXPECT_EQ(records[i].facts["rounds"], 4);
    EXPECT_TRUE(records[i].facts["measurement"].is_string());
    EXPECT_EQ(records[i].facts["measurement"].get<std::string>().size(), 16u);
  }
  // The noise: every timing, from the per-round log ratios of every two runs, as round_noise() computes it.
  std::vector<const RunRecord*> pointers = {&records[0], &records[1], &records[2]};
  const auto noise = round_noise(pointers);
  EXPECT_EQ(records[0].facts["round_noise"], noise);
  for (const char* m : {"encoder_latency", "train_step_time"}) {
    ASSERT_TRUE(noise.contains(m)) << m;
    EXPECT_GT(noise[m].get<double>(), 0) << m;
  }
  // Another measurement of the same runs is another id.
  const auto again = run_efficiency({runs[0], runs[1]});
  EXPECT_NE(again[0].facts["measurement"], records[0].facts["measurement"]);
  EXPECT_EQ(again[0].facts["measurement"], again[1].facts["measurement"]);
}

TEST(Efficiency, RoundNoiseIsThePooledSpreadOfPairedLogRatiosByHand) {
  RunRecord a, b, c;
  // a / b per round: 2, 2e^0.1, 2e^-0.1 -> log ratios centred: 0, 0.1, -0.1; sum of squares 0.02 over 2 df.
  a.samples["t"] = {2, 2 * std::exp(0.1), 2 * std::exp(-0.1)};
  b.samples["t"] = {1, 1, 1};
  EXPECT_NEAR(round_noise({&a, &b})["t"].get<double>(), 0.1, 1e-12);
  // c took part in the first two rounds only: c / a = 1, e^0.1 / e^0.1... its pairs use those rounds.
  c.samples["t"] = {2, 2 * std::exp(0.1)};
  // Pairs: (a, b) 0.02 / 2; (a, c) log ratios 0, 0 -> 0 / 1; (b, c) log 2, log 2 + 0.1 -> 0.005 / 1.
  EXPECT_NEAR(round_noise({&a, &b, &c})["t"].get<double>(), std::sqrt(0.025 / 4), 1e-12);
  // One round in common is no spread: nothing.
  RunRecord d;
  d.samples["t"] = {3};
  EXPECT_FALSE(round_noise({&a, &d}).contains("t"));
}

TEST(Efficiency, RoundsVisitEveryRunOnceInARotatedOrder) {
  for (size_t n : {1u, 2u, 5u, 36u})
    for (int64_t rounds : {1, 3, 5}) {
      std::vector<std::set<size_t>> positions(n);
      for (int64_t q = 0; q < rounds; ++q) {
        const auto order = round_order(n, q, rounds);
        ASSERT_EQ(order.size(), n);
        EXPECT_EQ(std::set<size_t>(order.begin(), order.end()).size(), n) << "a permutation";
        for (size_t j = 0; j < n; ++j) positions[order[j]].insert(j);
      }
      // No run keeps its place: with as many rounds as runs or fewer, each round puts it elsewhere.
      for (size_t i = 0; i < n; ++i)
        EXPECT_EQ(positions[i].size(), std::min<size_t>(n, static_cast<size_t>(rounds))) << n << " runs, run " << i;
    }
  // Six runs, three rounds: starts 0, 2, 4, so each run is early, midway and late once.
  EXPECT_EQ(round_order(6, 0, 3), (std::vector<size_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(round_order(6, 1, 3), (std::vector<size_t>{2, 3, 4, 5, 0, 1}));
  EXPECT_EQ(round_order(6, 2, 3), (std::vector<size_t>{4, 5, 0, 1, 2, 3}));
}

TEST(Efficiency, AGroupThatDoesNotFitFailsBeforeItIsBuilt) {
  const RunSpec first = resolve_efficiency_config(tiny());
  const int64_t mib = 1 << 20, gib = int64_t{1} << 30;
  // cpu-small-like: 36 models of 200 MiB and one training state fit in 20 GiB, not in 6.
  EXPECT_NO_THROW(check_group_fits(36, 200 * mib, 176 * mib, first, true, 20 * gib));
  test::expect_error([&] { check_group_fits(36, 200 * mib, 176 * mib, first, true, 6 * gib); },
                     {"36 configurations measured together", "preset tiny, seed 0", "7.7 GiB", "6.0 GiB is available",
                      "one training state of 704 MiB", "split the sweep"});
  // Inference only: no training state counted (36 x 200 MiB = 7.0 GiB).
  EXPECT_NO_THROW(check_group_fits(36, 200 * mib, 176 * mib, first, false, 8 * gib));
  EXPECT_NO_THROW(check_group_fits(36, 200 * mib, 176 * mib, first, true, 0));  // unknown: no check
}

TEST(Efficiency, StagesCanBeChosen) {
  auto c = tiny();
  c.stages = {"encoder"};
  const auto records = run_efficiency({resolve_efficiency_config(c)});
  EXPECT_TRUE(records[0].value("encoder_latency").has_value());
  EXPECT_FALSE(records[0].value("train_step_time").has_value());
  EXPECT_FALSE(records[0].value("device_peak_gflops").has_value());
}

TEST(MemoryCounter, CountsTensorBytesAndResetsThePeak) {
  install_memory_counter();
  ASSERT_TRUE(memory_counter_installed());
  const int64_t before = tensor_bytes();
  {
    auto t = torch::empty({1 << 20});  // 4 MiB
    EXPECT_GE(tensor_bytes() - before, 4 << 20);
    reset_memory_peaks();
    EXPECT_EQ(peak_tensor_bytes(), tensor_bytes());
    { auto u = torch::empty({1 << 19}); }  // 2 MiB, freed at once
    EXPECT_GE(peak_tensor_bytes() - tensor_bytes(), 2 << 20);
  }
  EXPECT_EQ(tensor_bytes(), before);
  EXPECT_GT(peak_rss_bytes(), 0);
}

TEST(Timing, MedianAndQuartilesInterpolate) {
  const auto s = TimingStats::from({5, 1, 3, 2, 4});
  EXPECT_DOUBLE_EQ(s.median_ms, 3);
  EXPECT_DOUBLE_EQ(s.min_ms, 1);
  EXPECT_DOUBLE_EQ(s.max_ms, 5);
  EXPECT_DOUBLE_EQ(s.q1_ms, 2);
  EXPECT_DOUBLE_EQ(TimingStats::from({1, 2, 3, 4}).median_ms, 2.5);
  test::expect_error([] { TimingStats::from({}); }, {"no samples"});
  int calls = 0;
  time_repeated([&] { ++calls; }, 2, 3);
  EXPECT_EQ(calls, 5);
}

TEST(Records, TablesShowUnitsAndDashesForMissingValues) {
  RunRecord a, b;
  a.spec.method = "laco";
  b.spec.method = "none";
  a.add("throughput", 3.5, "requests/s");
  const auto table = make_printer("md")->print(records_table({a, b}, {"method"}, {"throughput"}));
  EXPECT_NE(table.find("throughput (requests/s)"), std::string::npos) << table;
  EXPECT_NE(table.find("| none   |                       - |"), std::string::npos) << table;
  test::expect_error([&] { b.require("throughput"); }, {"no metric 'throughput'"});
  EXPECT_EQ(format_duration(65), "1m05s");
  EXPECT_EQ(format_duration(3725), "1h02m");
}

TEST(Presets, AreListedAndValid) {
  EXPECT_EQ(preset_names(), (std::vector<std::string>{"paper", "cpu-small", "tiny"}));
  const auto& paper = find_preset("paper");
  EXPECT_EQ(paper.model.encoder.grid(), (Grid{27, 27}));
  EXPECT_EQ(paper.model.lm.kv_heads(), 2);
  EXPECT_EQ(paper.crops, 5);
  for (const auto& p : presets()) {
    EXPECT_NO_THROW(p.model.encoder.validate()) << p.name;
    EXPECT_NO_THROW(p.model.lm.validate()) << p.name;
  }
  EXPECT_NE(format_presets().find("151936"), std::string::npos);
}

}  // namespace
}  // namespace laco
