// Released-checkpoint loading (harness/model/checkpoint.h) and its parity
// (parity/checkpoint.h) on the small Hugging Face-layout
// checkpoints of tests/checkpoints (scripts/checkpoint_fixtures.py), and every
// way a checkpoint can be bad.
#include <filesystem>

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include "evals/accuracy.h"
#include "evals/efficiency.h"
#include "evals/registry.h"
#include "evals/run_record.h"
#include "harness/base/safetensors.h"
#include "harness/model/checkpoint.h"
#include "harness/model/checkpoint_save.h"
#include "parity/checkpoint.h"
#include "harness/model/presets.h"
#include "runner/sweep_spec.h"
#include "parity/method.h"
#include "methods/registry.h"
#include "tests/test_util.h"

namespace laco {
namespace {

namespace fs = std::filesystem;

const std::string kDir = std::string(LACO_SOURCE_DIR) + "/tests/checkpoints";

/// A copy of fixture `name` (its folder and its reference file) in a fresh temporary folder.
std::string copy_fixture(const std::string& name, const std::string& test) {
  const std::string tmp = test::temp_dir("checkpoint_" + test);
  fs::copy(kDir + "/" + name, tmp + "/" + name, fs::copy_options::recursive);
  fs::copy_file(kDir + "/" + name + ".reference.safetensors", tmp + "/" + name + ".reference.safetensors");
  return tmp;
}

/// Rewrites a safetensors file through `edit` (which may rename, drop, add or change tensors).
void rewrite(const std::string& path, const std::function<void(NamedTensors&)>& edit) {
  const auto file = SafeTensors::load(path);
  NamedTensors tensors;
  for (const auto& name : file.names()) tensors.emplace_back(name, file.get(name).clone());
  edit(tensors);
  save_safetensors(path, tensors, file.metadata());
}

void edit_json(const std::string& path, const std::function<void(nlohmann::json&)>& edit) {
  auto j = nlohmann::json::parse(test::read_file(path));
  edit(j);
  test::write_file(path, j.dump(2));
}

torch::Tensor& tensor(NamedTensors& tensors, const std::string& name) {
  for (auto& [n, t] : tensors)
    if (n == name) return t;
  throw std::runtime_error("no tensor " + name);
}

TEST(Checkpoint, ParityPassesOnSiglipQwen2AndLlavaOnevisionLayouts) {
  for (const std::string name : {"siglip", "qwen2", "llava_onevision"}) {
    const auto report = run_parity(kDir + "/" + name + ".reference.safetensors");
    EXPECT_TRUE(report.pass()) << name;
    const size_t expected = name == "siglip" ? 4 : name == "qwen2" ? 1 : 2;  // 3 layers + post_layernorm; logits; features + logits
    EXPECT_EQ(report.outputs.size(), expected) << name;
    for (const auto& o : report.outputs) {
      // Derived from float32 arithmetic: far below the shared/parity 1e-4 only for short chains, never loose.
      EXPECT_GT(o.tolerance, 0) << o.name;
      EXPECT_LT(o.tolerance, 1e-3) << o.name;
      EXPECT_GT(o.max_ref, 1) << o.name << ": the reference output must not be trivially small";
    }
  }
}

TEST(Checkpoint, ChainLengthsCountTheRoundedOperationsByHand) {
  // 3 channels x 2 x 2 patch: 12 terms, + bias, + position = 14. One block of
  // width 4, 2 heads (d 2), 4 tokens, MLP 8: ln 12, qkv 5, scores 2, softmax 6,
  // x values 4, out_proj 5, residual 1, ln 12, fc1 5, GELU 8, fc2 9, residual 1 = 70.
  const auto e = EncoderOptions().image_size(4).patch_size(2).width(4).heads(2).mlp_dim(8).depth(1);
  EXPECT_EQ(encoder_chain_length(e, 0), 14);
  EXPECT_EQ(encoder_chain_length(e, 1), 84);
  EXPECT_EQ(encoder_chain_length(e, 1, true), 96);
  // One layer of width 4, 2 heads (head_dim 2), MLP 6, over 3 tokens: rms 7,
  // q 5, rope 3, scores 2, softmax 5, x values 3, o 4, residual 1, rms 7,
  // gate 4, SiLU 4, x up 1, down 6, residual 1 = 53; final rms 7, head 4.
  const auto l = LmOptions().vocab(10).width(4).layers(1).heads(2).kv_heads(1).mlp_dim(6);
  EXPECT_EQ(lm_chain_length(l, 3), 64);
  EXPECT_EQ(lm_chain_length(l, 3, 100), 164);
}

TEST(Checkpoint, APerturbedWeightFailsParity) {
  const auto tmp = copy_fixture("qwen2", "perturbed");
  rewrite(tmp + "/qwen2/model.safetensors",
          [](NamedTensors& t) { tensor(t, "model.layers.1.mlp.down_proj.weight")[0][0] += 0.05; });
  const auto report = run_parity(tmp + "/qwen2.reference.safetensors");
  EXPECT_FALSE(report.pass());
  fs::remove_all(tmp);
}

TEST(Checkpoint, ReadsTheShapeFromConfigJson) {
  const auto c = read_checkpoint_config(kDir + "/llava_onevision");
  EXPECT_EQ(c.kind, "llava_onevision");
  ASSERT_TRUE(c.encoder && c.lm);
  EXPECT_EQ(c.encoder->width(), 32);
  EXPECT_EQ(c.encoder->depth(), 3);  // vision_feature_layer -1: every block
  EXPECT_EQ(c.encoder->grid().tokens(), 16);
  EXPECT_EQ(c.lm->width(), 24);
  EXPECT_EQ(c.lm->kv_heads(), 2);
  EXPECT_DOUBLE_EQ(c.lm->rope_theta(), 1e6);
  EXPECT_TRUE(c.lm->tie_embeddings());
  const auto q = read_checkpoint_config(kDir + "/qwen2");
  EXPECT_DOUBLE_EQ(q.lm->rope_theta(), 1e4);
  EXPECT_FALSE(q.lm->tie_embeddings());
  // A SigLIP checkpoint gives the encoder; the LM comes from the preset.
  const auto s = read_checkpoint_config(kDir + "/siglip");
  const auto m = checkpoint_model(s, find_preset("tiny").model);
  EXPECT_EQ(m.encoder.width(), 32);
  EXPECT_FALSE(m.encoder.post_layernorm());
  EXPECT_EQ(m.lm.width(), find_preset("tiny").model.lm.width());
}

TEST(Checkpoint, LoadsTheNamesOfTransformers452AndAnEarlierFeatureLayer) {
  // transformers >= 4.52 saves model.vision_tower.*, model.language_model.*, lm_head.*.
  const auto tmp = copy_fixture("llava_onevision", "new_names");
  const std::string dir = tmp + "/llava_onevision";
  auto renamed = [](const std::string& n) {
    if (n.rfind("language_model.model.", 0) == 0) return "model.language_model." + n.substr(21);
    return "model." + n;
  };
  nlohmann::json index = nlohmann::json::parse(test::read_file(dir + "/model.safetensors.index.json"));
  nlohmann::json map = nlohmann::json::object();
  for (const auto& [n, f] : index["weight_map"].items()) map[renamed(n)] = f;
  // An untied head stored as lm_head.weight (sorting before every model.* name), equal to the embedding.
  map["lm_head.weight"] = "model-00002-of-00002.safetensors";
  index["weight_map"] = map;
  test::write_file(dir + "/model.safetensors.index.json", index.dump(2));
  for (const char* shard : {"/model-00001-of-00002.safetensors", "/model-00002-of-00002.safetensors"})
    rewrite(dir + shard, [&](NamedTensors& t) {
      for (auto& [n, v] : t) n = renamed(n);
      for (const auto& [n, v] : t)
        if (n == "model.language_model.embed_tokens.weight") {
          t.emplace_back("lm_head.weight", v.clone());
          break;
        }
    });
  edit_json(dir + "/config.json", [](nlohmann::json& j) {
    j["tie_word_embeddings"] = false;
    j["text_config"]["tie_word_embeddings"] = false;
  });
  EXPECT_FALSE(read_checkpoint_config(dir).lm->tie_embeddings());
  EXPECT_TRUE(run_parity(tmp + "/llava_onevision.reference.safetensors").pass());

  // vision_feature_layer -2: the projector takes block 2's output; block 3 is skipped, with that reason.
  edit_json(dir + "/config.json", [](nlohmann::json& j) { j["vision_feature_layer"] = -2; });
  const auto c = read_checkpoint_config(dir);
  EXPECT_EQ(c.encoder->depth(), 2);
  Mllm model(checkpoint_model(c, MllmOptions{}));
  const auto load = load_checkpoint(c, *model);
  const std::string skipped = nlohmann::json(load.skipped).dump();
  EXPECT_NE(skipped.find("16 tensors: a layer after the one whose hidden state the model uses"), std::string::npos)
      << skipped;
  EXPECT_EQ(load.dtypes.at("F16"), load.tensors);
  fs::remove_all(tmp);
}

TEST(Checkpoint, LoadingPutsTheStoredValuesIntoThePackedAndReshapedParameters) {
  const auto c = read_checkpoint_config(kDir + "/llava_onevision");
  Mllm model(checkpoint_model(c, MllmOptions{}));
  const auto load = load_checkpoint(c, *model);
  EXPECT_EQ(load.files.size(), 2u);
  EXPECT_EQ(load.sha256.size(), 64u);
  const auto shard = SafeTensors::load(kDir + "/llava_onevision/model-00001-of-00002.safetensors");
  auto stored = [&](const std::string& n) { return shard.get(n).to(torch::kFloat32); };
  const auto& block = model->encoder->blocks[1]->as<EncoderBlock>();
  const std::string p = "vision_tower.vision_model.";
  // SigLIP's separate q, k, v rows, in that order, in the packed qkv.
  EXPECT_TRUE(torch::equal(block->qkv->weight.narrow(0, 32, 32), stored(p + "encoder.layers.1.self_attn.k_proj.weight")));
  EXPECT_TRUE(torch::equal(block->qkv->bias.narrow(0, 64, 32), stored(p + "encoder.layers.1.self_attn.v_proj.bias")));
  // The position embedding [N, C] as [1, N, C]; the projector's linear_2 as projector.2.
  EXPECT_TRUE(torch::equal(model->encoder->pos_embed[0], stored(p + "embeddings.position_embedding.weight")));
  EXPECT_TRUE(torch::equal(model->projector->named_parameters()["2.bias"], stored("multi_modal_projector.linear_2.bias")));
}

TEST(Checkpoint, BadCheckpointsAreClearErrors) {
  const auto tmp = copy_fixture("qwen2", "bad");
  const std::string dir = tmp + "/qwen2", file = dir + "/model.safetensors";
  const std::string pristine = test::read_file(file), config = test::read_file(dir + "/config.json");
  auto load = [&] {
    const auto c = read_checkpoint_config(dir);
    DecoderLM lm(*c.lm);
    load_checkpoint(c, nullptr, lm.get());
  };
  auto restore = [&] {
    test::write_file(file, pristine);
    test::write_file(dir + "/config.json", config);
  };
  load();  // the pristine copy loads

  rewrite(file, [](NamedTensors& t) {
    t.erase(std::remove_if(t.begin(), t.end(), [](const auto& p) { return p.first == "model.layers.1.mlp.up_proj.weight"; }),
            t.end());
  });
  test::expect_error(load, {dir, "tensor 'model.layers.1.mlp.up_proj.weight' is missing", "layers.1.up_proj.weight"});
  restore();

  rewrite(file, [](NamedTensors& t) { tensor(t, "model.norm.weight") = torch::ones({31}, torch::kBFloat16); });
  test::expect_error(load, {file, "'model.norm.weight' has shape [31] but config.json implies [32]"});
  restore();

  rewrite(file, [](NamedTensors& t) { t.emplace_back("model.layers.0.self_attn.rotary_emb.inv_freq", torch::ones({4})); });
  test::expect_error(load, {file, "'model.layers.0.self_attn.rotary_emb.inv_freq' is not used", "strict"});
  restore();

  rewrite(file, [](NamedTensors& t) { tensor(t, "model.norm.weight") = torch::ones({32}, torch::kInt32); });
  test::expect_error(load, {file, "'model.norm.weight' is stored as Int", "F32, F16 or BF16"});
  restore();

  {  // A dtype the format does not define: the header says U88 where it said BF16.
    std::string bytes = pristine;
    const auto at = bytes.find("\"BF16\"");
    ASSERT_NE(at, std::string::npos);
    bytes.replace(at, 6, "\"U88\" ");
    test::write_file(file, bytes);
    test::expect_error(load, {file, "unknown dtype 'U88'", "allowed:", "BF16"});
    restore();
  }

  test::write_file(file, pristine.substr(0, pristine.size() - 100));  // truncated
  test::expect_error(load, {file, "out of range"});
  restore();

  // config.json that disagrees with the weights: a third layer that is not stored, a wider MLP.
  edit_json(dir + "/config.json", [](nlohmann::json& j) { j["num_hidden_layers"] = 3; });
  test::expect_error(load, {"tensor 'model.layers.2.", "is missing"});
  restore();
  edit_json(dir + "/config.json", [](nlohmann::json& j) { j["intermediate_size"] = 50; });
  test::expect_error(load, {file, "config.json implies [50, 32]"});
  restore();
  // Fields the harness cannot honour name the field and what it allows.
  edit_json(dir + "/config.json", [](nlohmann::json& j) { j["hidden_act"] = "gelu"; });
  test::expect_error(load, {"config.json", "$.hidden_act", "'gelu' is not supported", "allowed: silu"});
  restore();
  edit_json(dir + "/config.json", [](nlohmann::json& j) { j["rope_scaling"] = {{"type", "yarn"}, {"factor", 4}}; });
  test::expect_error(load, {"$.rope_scaling", "not supported"});
  restore();
  edit_json(dir + "/config.json", [](nlohmann::json& j) { j["model_type"] = "llama"; });
  test::expect_error(load, {"config.json", "$.model_type", "'llama' is not supported", "siglip_vision_model, siglip, qwen2, llava_onevision"});
  restore();
  fs::remove(dir + "/model.safetensors");
  test::expect_error(load, {dir, "no model.safetensors and no model.safetensors.index.json"});
  test::expect_error([&] { read_checkpoint_config(tmp + "/nowhere"); }, {"nowhere", "is not a folder"});
  fs::remove_all(tmp);
}

TEST(Checkpoint, ShardIndexProblemsAreClearErrors) {
  const auto tmp = copy_fixture("llava_onevision", "shards");
  const std::string dir = tmp + "/llava_onevision", index = dir + "/model.safetensors.index.json";
  const std::string pristine = test::read_file(index);
  auto load = [&] {
    const auto c = read_checkpoint_config(dir);
    Mllm model(checkpoint_model(c, MllmOptions{}));
    load_checkpoint(c, *model);
  };
  load();
  edit_json(index, [](nlohmann::json& j) { j["weight_map"]["image_newline"] = "model-00002-of-00002.safetensors"; });
  test::expect_error(load, {"model-00001-of-00002.safetensors", "'image_newline' is listed in", "under",
                            "model-00002-of-00002.safetensors"});
  test::write_file(index, pristine);
  edit_json(index, [](nlohmann::json& j) { j["weight_map"]["language_model.extra"] = "model-00002-of-00002.safetensors"; });
  test::expect_error(load, {index, "'language_model.extra' is listed there but", "does not hold it"});
  test::write_file(index, pristine);
  edit_json(index, [](nlohmann::json& j) { j["weight_map"]["image_newline"] = "../elsewhere.safetensors"; });
  test::expect_error(load, {index, "$.weight_map.image_newline", "must be a file name in the checkpoint folder"});
  fs::remove_all(tmp);
}

TEST(Checkpoint, ParityCaseErrors) {
  test::expect_error([&] { run_parity(kDir + "/qwen2.reference.safetensors", kDir + "/qwen2/model.safetensors"); },
                     {"--weights applies to method cases"});
  const auto tmp = copy_fixture("qwen2", "case");
  const auto file = SafeTensors::load(tmp + "/qwen2.reference.safetensors");
  auto meta = file.metadata();
  meta["kind"] = "siglip";
  NamedTensors tensors;
  for (const auto& n : file.names()) tensors.emplace_back(n, file.get(n));
  save_safetensors(tmp + "/qwen2.reference.safetensors", tensors, meta);
  test::expect_error([&] { run_parity(tmp + "/qwen2.reference.safetensors"); },
                     {"the case is for a siglip checkpoint", "describes a qwen2 one"});
  fs::remove_all(tmp);
}


// ------------------------------------------------------------ runs from a checkpoint

EfficiencyConfig efficiency_from(const std::string& dir, const std::string& method = "laco") {
  EfficiencyConfig c;
  c.preset = "tiny";
  c.model = dir;
  c.method = method;
  c.layer = "1/2";
  c.reps = 2;
  c.warmup = 0;
  c.stages = {"encoder", "prefill"};
  return c;
}

TEST(CheckpointRun, EfficiencyMeasuresTheCheckpointsArchitectureWithItsWeights) {
  const std::string dir = kDir + "/llava_onevision";
  const RunSpec spec = resolve_efficiency_config(efficiency_from(dir));
  EXPECT_EQ(spec.depth, 3);  // the checkpoint's encoder, not the tiny preset's 4 blocks
  EXPECT_EQ(spec.grid_in, "4x4");
  EXPECT_EQ(spec.checkpoint, dir);
  EXPECT_EQ(spec.checkpoint_sha256, checkpoint_sha256(dir));
  EXPECT_EQ(run_spec_from_json("efficiency", to_json(spec), "test"), spec);
  // The same weights elsewhere are the same run; the folder's name is not part of the key.
  const auto tmp = copy_fixture("llava_onevision", "run_key");
  EXPECT_EQ(resolve_efficiency_config(efficiency_from(tmp + "/llava_onevision")).key(), spec.key());

  const auto records = run_efficiency({spec});
  ASSERT_EQ(records.size(), 1u);
  const RunRecord& r = records[0];
  EXPECT_EQ(r.facts.at("checkpoint_load").at("tensors"), 81);
  EXPECT_EQ(r.facts.at("checkpoint_load").at("sha256"), spec.checkpoint_sha256);
  EXPECT_EQ(r.require("visual_tokens"), 2 * 4);  // tiny's 2 crops of the 4x4 grid merged 2x2
  // Every parameter but the method's came from the checkpoint (42 760 values loaded).
  EXPECT_NEAR((r.require("params") - r.require("params_compressor")) * 1e6, 42760, 0.5);
  EXPECT_GT(r.require("prefill_latency"), 0);

  // Files that change after the run was resolved are refused, not measured under the old key.
  rewrite(tmp + "/llava_onevision/model-00002-of-00002.safetensors",
          [](NamedTensors& t) { tensor(t, "language_model.model.norm.weight")[0] += 1; });
  RunSpec stale = resolve_efficiency_config(efficiency_from(tmp + "/llava_onevision"));
  stale.checkpoint_sha256 = spec.checkpoint_sha256;
  test::expect_error([&] { run_efficiency({stale}); }, {"changed since the run was resolved"});
  fs::remove_all(tmp);
}

TEST(CheckpointRun, AQwen2CheckpointTakesTheLmAndThePresetTheEncoder) {
  const RunSpec spec = resolve_efficiency_config(efficiency_from(kDir + "/qwen2", "pixel_shuffle"));
  EXPECT_EQ(spec.depth, find_preset("tiny").model.encoder.depth());
  const auto r = run_efficiency({spec}).at(0);
  EXPECT_EQ(r.facts.at("checkpoint_load").at("model_type"), "qwen2");
  EXPECT_GT(r.require("prefill_latency"), 0);
}

TEST(CheckpointRun, AccuracyStartsFromTheCheckpointInsteadOfStage0) {
  AccuracyConfig c;
  c.preset = "tiny";
  c.model = kDir + "/llava_onevision";
  c.method = "laco";
  c.layer = "1/2";
  c.steps1 = 2;
  c.steps2 = 2;
  const RunSpec spec = resolve_accuracy_config(c);
  EXPECT_EQ(spec.accuracy().steps0, 0);
  EXPECT_EQ(spec.accuracy().stage0_key, spec.checkpoint_sha256.substr(0, 16));
  EXPECT_TRUE(find_evaluation("accuracy").shared_work(spec, "cache").first.empty());  // no stage 0 to share
  EXPECT_EQ(run_spec_from_json("accuracy", to_json(spec), "test"), spec);
  const auto tmp = test::temp_dir("checkpoint_accuracy");
  const RunRecord r = run_accuracy(spec, {nullptr, tmp});
  EXPECT_EQ(r.facts.at("checkpoint_load").at("tensors"), 81);
  EXPECT_TRUE(r.facts.contains("stage0"));
  EXPECT_FALSE(fs::exists(tmp) && !fs::is_empty(tmp)) << "no stage-0 model is trained or cached";
  EXPECT_EQ(r.require("visual_tokens"), 4);
  EXPECT_EQ(r.predictions.size(), static_cast<size_t>(spec.accuracy().test_size));

  c.steps0 = 5;
  test::expect_error([&] { resolve_accuracy_config(c); }, {"--steps0", "stage 0 does not run", "allowed: 0 or unset"});
  c.steps0 = -1;
  const auto small = copy_fixture("qwen2", "small_vocab");
  edit_json(small + "/qwen2/config.json", [](nlohmann::json& j) { j["vocab_size"] = 40; });
  c.model = small + "/qwen2";
  test::expect_error([&] { resolve_accuracy_config(c); }, {"vocab_size 40", "vocabulary of 46 words"});
  fs::remove_all(small);
  fs::remove_all(tmp);
}

TEST(CheckpointRun, TheCliTakesModelAndParityTakesCheckpointCases) {
  const std::string laco = LACO_BIN;
  const auto tmp = test::temp_dir("checkpoint_cli");
  auto r = test::run_command(laco + " run --eval efficiency --preset tiny --model " + kDir +
                             "/siglip -m laco -l 1/2 --reps 1 --warmup 0 --stages encoder -o json --db " + tmp + "/r.db");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("\"model_type\": \"siglip_vision_model\""), std::string::npos) << r.output;
  // Stored with the run's configuration: a checkpoint's runs are selected by its digest.
  r = test::run_command(laco + " query --db " + tmp + "/r.db --where checkpoint=" + checkpoint_sha256(kDir + "/siglip") +
                        " --metrics encoder_latency -o csv");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(",done,tiny,laco,,1/2,"), std::string::npos) << r.output;
  fs::remove_all(tmp);
  r = test::run_command(laco + " parity " + kDir + "/llava_onevision.reference.safetensors");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("parity: PASS"), std::string::npos) << r.output;
  r = test::run_command(laco + " run --eval efficiency --preset tiny --model /nonexistent/ckpt");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.output.find("laco: error: checkpoint '/nonexistent/ckpt' is not a folder"), std::string::npos) << r.output;
}


TEST(CheckpointRun, ASweepSectionNamesTheCheckpointItsRunsStartFrom) {
  const std::string dir = kDir + "/llava_onevision";
  nlohmann::json spec = {
      {"name", "ckpt"},
      {"evals", {"efficiency"}},
      {"efficiency", {{"preset", "tiny"}, {"model", dir}, {"reps", 1}, {"warmup", 0}}},
      {"grids", {{{"name", "g"}, {"methods", {"laco", "pixel_shuffle"}}, {"placements", {"1/2", "1"}}, {"ratios", {2}}}}}};
  const Sweep sweep = parse_sweep(spec, "ckpt.json");
  ASSERT_EQ(sweep.runs.size(), 4u);
  for (const auto& r : sweep.runs) {
    EXPECT_EQ(r.spec.checkpoint, dir);
    EXPECT_EQ(r.spec.depth, 3);  // placements resolve against the checkpoint's encoder
  }
  spec["efficiency"]["model"] = "/nonexistent/ckpt";
  test::expect_error([&] { parse_sweep(spec, "ckpt.json"); }, {"ckpt.json: $.efficiency.model", "is not a folder"});
}

// ------------------------------------------------------------ fine-tuned folders

/// A model of a llava_onevision folder (as `laco generate` builds it: image_newline on) with `method`
/// inserted after vision block k, its weights drawn from `seed`; with `as_projector` the method maps to
/// the LM width and replaces the projector.
Mllm model_with(const CheckpointConfig& c, const std::string& method, int64_t k, uint64_t seed,
                bool as_projector = false, bool newline = true) {
  MllmOptions o = checkpoint_model(c, find_preset("cpu-small").model);
  o.image_newline = newline;
  torch::manual_seed(seed);
  Mllm m(o);
  if (method.empty()) return m;
  CompressorOptions co(o.encoder.width());
  co.ratio(2).block(k).depth(o.encoder.depth()).heads(o.encoder.heads());
  if (as_projector) co.out_dim(o.lm.width());
  m->insert(make_compressor(method, co), k, as_projector);
  return m;
}

nlohmann::json entry_for(const std::string& method, int64_t k, const std::string& projector = "mlp2x_gelu") {
  return {{"method", method},          {"options", nlohmann::json::object()}, {"layer", fmt::format("{}/3", k)},
          {"block_k", k},              {"depth", 3},                          {"ratio", 2},
          {"grid_policy", "pad"},      {"init", ""},                          {"projector", projector},
          {"prefix", kCompressorPrefix}, {"source_sha256", std::string(64, 'a')}, {"laco_commit", "test"}};
}

/// A fine-tune's effect: every parameter moved by a small random step.
void perturb(Mllm& m, uint64_t seed) {
  torch::NoGradGuard no_grad;
  torch::manual_seed(seed);
  for (auto& p : m->parameters()) p.add_(torch::randn_like(p) * 1e-2);
}

/// Every parameter and buffer of `a` bit-equal to `b`'s; the names compared in a message when not.
void expect_same_weights(Mllm& a, Mllm& b) {
  const auto pa = a->named_parameters(), pb = b->named_parameters();
  ASSERT_EQ(pa.size(), pb.size());
  for (const auto& p : pa) {
    ASSERT_TRUE(pb.contains(p.key())) << p.key();
    EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  }
  const auto ba = a->named_buffers(), bb = b->named_buffers();
  ASSERT_EQ(ba.size(), bb.size());
  for (const auto& t : ba) EXPECT_TRUE(torch::equal(t.value(), bb[t.key()])) << t.key();
}

/// Logits of the last position for two images and five text ids each: the same on both when the weights are.
torch::Tensor logits_of(Mllm& m) {
  torch::NoGradGuard no_grad;
  m->eval();
  torch::manual_seed(123);
  const auto images = torch::rand({2, 1, 3, 24, 24});
  const auto ids = torch::randint(0, std::min<int64_t>(1000, m->options().lm.vocab()), {2, 5});
  return m->prefill(images, ids);
}

SafeTensors only_file(const std::string& dir) { return SafeTensors::load(dir + "/model.safetensors"); }

TEST(CheckpointSave, AFineTunedModelWithItsCompressorRoundTripsBitForBit) {
  const std::string src = test::chat_checkpoint();
  const auto source = read_checkpoint_config(src);
  EXPECT_FALSE(source.compressor);
  Mllm tuned = model_with(source, "laco", 2, 1);
  load_checkpoint(source, *tuned);
  perturb(tuned, 7);
  const std::string out = test::temp_dir("checkpoint_save_roundtrip") + "/ft";
  const auto entry = entry_for("laco", 2);
  const CheckpointSave save = save_llava_onevision(*tuned, source, entry, out);
  const auto compressor = compressor_tensors(*tuned);
  ASSERT_EQ(compressor.size(), 6u);  // laco's mlp1: LayerNorm, Linear, GELU, Linear
  EXPECT_EQ(compressor[0].first, "laco_compressor.mlp1.0.weight");
  EXPECT_EQ(save.compressor_tensors, 6);
  EXPECT_EQ(save.copied_tensors, 2);  // post_layernorm, which the projector does not read
  EXPECT_EQ(save.model_tensors, 84 - 2 + 6);
  EXPECT_EQ(save.weight_files, std::vector<std::string>{"model.safetensors"});
  EXPECT_FALSE(fs::exists(out + "/model.safetensors.index.json"));

  // The folder: the source's other files byte for byte; config.json the source's plus the entry.
  for (const char* f : {"tokenizer.json", "tokenizer_config.json", "chat_template.json", "preprocessor_config.json",
                        "processor_config.json", "generation_config.json"}) {
    EXPECT_TRUE(std::find(save.copied_files.begin(), save.copied_files.end(), f) != save.copied_files.end()) << f;
    EXPECT_EQ(test::read_file(out + "/" + f), test::read_file(src + "/" + f)) << f;
  }
  auto written = nlohmann::json::parse(test::read_file(out + "/config.json"));
  EXPECT_EQ(written.at("laco_compressor"), entry);
  written.erase("laco_compressor");
  EXPECT_EQ(written, nlohmann::json::parse(test::read_file(src + "/config.json")));
  const std::string text = test::read_file(out + "/config.json");
  EXPECT_LT(text.find("\"architectures\""), text.find("\"model_type\"")) << "the source's key order is kept";
  EXPECT_GT(text.find("\"laco_compressor\""), text.find("\"text_config\"")) << "the entry comes last";
  const auto reread = read_checkpoint_config(out);
  ASSERT_TRUE(reread.compressor);
  EXPECT_EQ(*reread.compressor, entry);
  EXPECT_NE(reread.summary().find("fine-tuned with compressor 'laco' r=2 after vision block 2"), std::string::npos)
      << reread.summary();

  // The weights: the model's as F32 under the source's names, the ones it does not read as stored.
  const auto saved = only_file(out), stored = only_file(src);
  EXPECT_EQ(saved.metadata().at("format"), "pt");
  EXPECT_EQ(saved.get("language_model.model.norm.weight").scalar_type(), torch::kFloat32);
  EXPECT_EQ(saved.get("laco_compressor.mlp1.1.weight").scalar_type(), torch::kFloat32);
  for (const char* n : {"vision_tower.vision_model.post_layernorm.weight", "vision_tower.vision_model.post_layernorm.bias"}) {
    EXPECT_EQ(saved.get(n).scalar_type(), torch::kFloat16) << n;
    EXPECT_TRUE(torch::equal(saved.get(n), stored.get(n))) << n;
  }
  for (const auto& n : stored.names()) EXPECT_TRUE(saved.contains(n)) << n;

  // A fresh model, the same method inserted with other weights, takes every value back.
  const auto fresh_config = read_checkpoint_config(out);
  Mllm fresh = model_with(fresh_config, "laco", 2, 2);
  EXPECT_FALSE(torch::equal(fresh->encoder->compressor()->named_parameters()["mlp1.1.weight"],
                            tuned->encoder->compressor()->named_parameters()["mlp1.1.weight"]));
  const CheckpointLoad load = load_checkpoint(fresh_config, *fresh);
  EXPECT_EQ(load.compressor_tensors, 6);
  EXPECT_EQ(load.dtypes.at("F32"), load.tensors);
  EXPECT_EQ(load.tensors, 84 - 2 + 6);
  EXPECT_EQ(to_json(fresh_config, load).at("compressor_tensors"), 6);
  expect_same_weights(tuned, fresh);
  const auto want = logits_of(tuned), got = logits_of(fresh);
  EXPECT_TRUE(torch::equal(want, got));
  // ... which the fine-tune changed: the source's weights give other logits.
  Mllm original = model_with(source, "laco", 2, 1);
  load_checkpoint(source, *original);
  EXPECT_FALSE(torch::equal(logits_of(original), want));
  EXPECT_EQ(checkpoint_sha256(out).size(), 64u);
  EXPECT_EQ(nlohmann::json::parse(test::read_file(out + "/.laco-save.json")).at("complete"), true);

  // A fine-tuned folder as the source of another fine-tune: its compressor tensors are written once, from the model.
  perturb(fresh, 11);
  const std::string out2 = fs::path(out).parent_path().string() + "/ft2";
  const CheckpointSave second = save_llava_onevision(*fresh, fresh_config, entry, out2);
  EXPECT_EQ(second.compressor_tensors, 6);
  EXPECT_EQ(second.model_tensors, save.model_tensors);
  EXPECT_EQ(only_file(out2).names().size(), saved.names().size());
  Mllm third = model_with(read_checkpoint_config(out2), "laco", 2, 3);
  load_checkpoint(read_checkpoint_config(out2), *third);
  expect_same_weights(fresh, third);
  fs::remove_all(fs::path(out).parent_path());
  fs::remove_all(src);
}

TEST(CheckpointSave, AShardedSourceSavesShardsAndCopiesTheLayersTheModelDoesNotRun) {
  // The two-shard fixture with vision_feature_layer -2: block 3 is stored but not run, image_newline not used.
  const auto tmp = copy_fixture("llava_onevision", "save_shards");
  const std::string src = tmp + "/llava_onevision";
  edit_json(src + "/config.json", [](nlohmann::json& j) { j["vision_feature_layer"] = -2; });
  const auto source = read_checkpoint_config(src);
  ASSERT_EQ(source.encoder->depth(), 2);
  Mllm tuned = model_with(source, "laco", 1, 1, false, false);
  load_checkpoint(source, *tuned);
  perturb(tuned, 8);
  auto entry = entry_for("laco", 1);
  entry["depth"] = 2;
  entry["layer"] = "1/2";
  const std::string out = tmp + "/ft";
  // Shards of at most 4 KB: the embedding alone is larger, and goes into a shard of its own.
  const CheckpointSave save = save_llava_onevision(*tuned, source, entry, out, CheckpointSaveOptions{4096});
  ASSERT_GT(save.weight_files.size(), 2u);
  EXPECT_EQ(save.weight_files[0], fmt::format("model-00001-of-{:05d}.safetensors", save.weight_files.size()));
  EXPECT_EQ(save.copied_tensors, 16 + 2 + 1);  // block 3, post_layernorm, image_newline
  const auto index = nlohmann::json::parse(test::read_file(out + "/model.safetensors.index.json"));
  EXPECT_EQ(index.at("weight_map").at("laco_compressor.mlp1.3.bias"), save.weight_files.back());
  EXPECT_GT(index.at("metadata").at("total_size").get<int64_t>(), 0);
  std::map<std::string, int> held;
  for (const auto& [name, file] : index.at("weight_map").items()) ++held[file.get<std::string>()];
  for (const auto& f : save.weight_files)
    EXPECT_TRUE(fs::file_size(out + "/" + f) <= 4096 || held[f] == 1) << f << ": over the cap with " << held[f] << " tensors";

  const auto stored = SafeTensors::load(src + "/model-00001-of-00002.safetensors");
  const std::string layer = "vision_tower.vision_model.encoder.layers.2.mlp.fc1.weight";
  const std::string shard = index.at("weight_map").at(layer);
  const auto saved = SafeTensors::load(out + "/" + shard);
  EXPECT_EQ(saved.get(layer).scalar_type(), torch::kFloat16);
  EXPECT_TRUE(torch::equal(saved.get(layer), stored.get(layer)));

  Mllm fresh = model_with(read_checkpoint_config(out), "laco", 1, 3, false, false);
  const auto load = load_checkpoint(read_checkpoint_config(out), *fresh);
  EXPECT_EQ(load.files.size(), save.weight_files.size());
  expect_same_weights(tuned, fresh);
  EXPECT_TRUE(torch::equal(logits_of(tuned), logits_of(fresh)));

  // Saving again into the same folder, now as one file: the earlier shards and their index are removed.
  perturb(tuned, 9);
  const CheckpointSave again = save_llava_onevision(*tuned, source, entry, out);
  EXPECT_EQ(again.weight_files, std::vector<std::string>{"model.safetensors"});
  for (const auto& f : save.weight_files) EXPECT_FALSE(fs::exists(out + "/" + f)) << f;
  EXPECT_FALSE(fs::exists(out + "/model.safetensors.index.json"));
  const auto reread = read_checkpoint_config(out);
  load_checkpoint(reread, *fresh);
  expect_same_weights(tuned, fresh);
  fs::remove_all(tmp);
}

TEST(CheckpointSave, AMethodThatReplacedTheProjectorKeepsTheStoredProjector) {
  const std::string src = test::chat_checkpoint();
  const auto source = read_checkpoint_config(src);
  Mllm tuned = model_with(source, "pixel_shuffle", 3, 1, true);
  const auto first = load_checkpoint(source, *tuned);
  EXPECT_NE(nlohmann::json(first.skipped).dump().find("4 tensors: the method replaced the mlp2x_gelu projector"),
            std::string::npos);
  perturb(tuned, 4);
  const std::string out = test::temp_dir("checkpoint_save_projector") + "/ft";
  const auto save = save_llava_onevision(*tuned, source, entry_for("pixel_shuffle", 3, "method"), out);
  EXPECT_EQ(save.copied_tensors, 2 + 4);  // post_layernorm and the projector the method replaced, as stored
  const auto saved = only_file(out);
  EXPECT_EQ(saved.get("multi_modal_projector.linear_1.weight").scalar_type(), torch::kFloat16);
  Mllm fresh = model_with(read_checkpoint_config(out), "pixel_shuffle", 3, 2, true);
  load_checkpoint(read_checkpoint_config(out), *fresh);
  expect_same_weights(tuned, fresh);
  EXPECT_TRUE(torch::equal(logits_of(tuned), logits_of(fresh)));
  // The entry says the method is the projector: the same method followed by mlp2x_gelu is another model.
  Mllm after = model_with(read_checkpoint_config(out), "pixel_shuffle", 3, 2, false);
  test::expect_error([&] { load_checkpoint(read_checkpoint_config(out), *after); },
                     {out, "'pixel_shuffle' r=2 after vision block 3 as the projector",
                      "the model has 'pixel_shuffle' r=2 after block 3 inserted"});
  fs::remove_all(fs::path(out).parent_path());
  fs::remove_all(src);
}

TEST(CheckpointSave, WithoutACompressorTheFolderIsTheSourcesAndLacoGenerateAnswersTheSame) {
  const std::string src = test::chat_checkpoint();
  const auto source = read_checkpoint_config(src);
  Mllm plain = model_with(source, "", 0, 1);
  load_checkpoint(source, *plain);
  const std::string out = test::temp_dir("checkpoint_save_plain") + "/ft";
  const auto save = save_llava_onevision(*plain, source, nullptr, out);
  EXPECT_EQ(save.compressor_tensors, 0);
  EXPECT_FALSE(nlohmann::json::parse(test::read_file(out + "/config.json")).contains("laco_compressor"));
  EXPECT_FALSE(read_checkpoint_config(out).compressor);
  // F16 values widened to F32 are exact: the saved folder answers token for token as the source does.
  const std::string image = LACO_SOURCE_DIR "/tests/checkpoints/llava_onevision_chat_images/image1.png";
  auto ask = [&](const std::string& dir) {
    const auto r = test::run_command(std::string("OMP_WAIT_POLICY=PASSIVE ") + LACO_BIN + " generate --model " + dir +
                                     " --image " + image + " --prompt 'What is it?' --max-new-tokens 6 -o json 2>&1");
    EXPECT_EQ(r.status, 0) << r.output;
    const auto j = nlohmann::json::parse(r.output, nullptr, false);
    return j.is_object() ? j.value("generated_ids", nlohmann::json()).dump() : r.output;
  };
  const std::string want = ask(src);
  EXPECT_NE(want, "null");
  EXPECT_EQ(ask(out), want);
  fs::remove_all(fs::path(out).parent_path());
  fs::remove_all(src);
}

TEST(CheckpointSave, MismatchesAndStrayTensorsAreClearErrors) {
  const std::string src = test::chat_checkpoint();
  const auto source = read_checkpoint_config(src);
  Mllm tuned = model_with(source, "laco", 2, 1);
  load_checkpoint(source, *tuned);
  const std::string tmp = test::temp_dir("checkpoint_save_errors"), out = tmp + "/ft";
  save_llava_onevision(*tuned, source, entry_for("laco", 2), out);
  const std::string config = out + "/config.json", weights = out + "/model.safetensors";
  const std::string pristine_config = test::read_file(config), pristine_weights = test::read_file(weights);
  auto restore = [&] {
    test::write_file(config, pristine_config);
    test::write_file(weights, pristine_weights);
  };
  auto load_into = [&](const std::string& method, int64_t k) {
    return [&, method, k] {
      const auto c = read_checkpoint_config(out);
      Mllm m = model_with(c, method, k, 5);
      load_checkpoint(c, *m);
    };
  };
  load_into("laco", 2)();  // the pristine folder loads

  // Another method, another block, none: the folder says what it holds and what was inserted.
  test::expect_error(load_into("pixel_shuffle", 2),
                     {out, "config.json's laco_compressor holds 'laco' r=2 after vision block 2",
                      "the model has 'pixel_shuffle' r=2 after block 2 inserted"});
  test::expect_error(load_into("laco", 1), {out, "'laco' r=2 after vision block 2", "'laco' r=2 after block 1"});
  test::expect_error(load_into("", 0), {out, "'laco' r=2 after vision block 2", "no compressor inserted"});

  // Compressor tensors without the entry, an unknown one, a missing one.
  edit_json(config, [](nlohmann::json& j) { j.erase("laco_compressor"); });
  test::expect_error(load_into("laco", 2), {weights, "tensor 'laco_compressor.mlp1.0.weight' is a compressor's weight",
                                            config, "has no laco_compressor entry"});
  restore();
  rewrite(weights, [](NamedTensors& t) { t.emplace_back("laco_compressor.extra.weight", torch::ones({2})); });
  test::expect_error(load_into("laco", 2),
                     {weights, "tensor 'laco_compressor.extra.weight' is not a parameter or buffer of the inserted "
                               "compressor 'laco'",
                      "laco_compressor.mlp1.0.weight"});
  restore();
  rewrite(weights, [](NamedTensors& t) {
    t.erase(std::remove_if(t.begin(), t.end(), [](const auto& p) { return p.first == "laco_compressor.mlp1.3.weight"; }),
            t.end());
  });
  test::expect_error(load_into("laco", 2),
                     {out, "tensor 'laco_compressor.mlp1.3.weight' is missing", "encoder.compressor.mlp1.3.weight"});
  restore();

  // The entry, field by field: the file, the JSON path, what is allowed.
  auto bad_entry = [&](const std::function<void(nlohmann::json&)>& edit, const std::vector<std::string>& fragments) {
    edit_json(config, [&](nlohmann::json& j) { edit(j["laco_compressor"]); });
    test::expect_error([&] { read_checkpoint_config(out); }, fragments);
    restore();
  };
  bad_entry([](nlohmann::json& e) { e = "laco"; }, {config, "$.laco_compressor", "must be an object"});
  bad_entry([](nlohmann::json& e) { e.erase("block_k"); },
            {config, "$.laco_compressor.block_k", "missing", "required: method, prefix, block_k, ratio"});
  bad_entry([](nlohmann::json& e) { e["block_k"] = 4; }, {config, "$.laco_compressor.block_k", "4 is too large", "1..3"});
  bad_entry([](nlohmann::json& e) { e["ratio"] = 5; }, {config, "$.laco_compressor.ratio", "5 is not supported", "2, 3, 4"});
  bad_entry([](nlohmann::json& e) { e["prefix"] = "compressor."; },
            {config, "$.laco_compressor.prefix", "'compressor.' is not read", "allowed: laco_compressor."});
  bad_entry([](nlohmann::json& e) { e["method"] = 3; }, {config, "$.laco_compressor.method", "expected a string"});
  bad_entry([](nlohmann::json& e) { e["options"] = {{"zero_init", true}}; },
            {config, "$.laco_compressor.options.zero_init", "expected a string", "method options are strings"});
  bad_entry([](nlohmann::json& e) { e["projector"] = "mlp"; },
            {config, "$.laco_compressor.projector", "'mlp' is not read", "mlp2x_gelu, method"});
  bad_entry([](nlohmann::json& e) { e["grid_policy"] = "crop"; },
            {config, "$.laco_compressor.grid_policy", "'crop' is not read", "pad, interpolate, error"});
  bad_entry([](nlohmann::json& e) { e["depth"] = 26; }, {config, "$.laco_compressor.depth", "26 is too large", "3, the vision blocks"});

  // A save that did not finish is refused until the model is saved again.
  const std::string marker = test::read_file(out + "/.laco-save.json");
  edit_json(out + "/.laco-save.json", [](nlohmann::json& j) { j["complete"] = false; });
  test::expect_error([&] { read_checkpoint_config(out); }, {out + "/.laco-save.json", "did not finish", "save the model again"});
  test::write_file(out + "/.laco-save.json", marker);

  // Saving: the entry must describe the model; a compressor with weights needs one.
  const std::string again = tmp + "/again";
  test::expect_error([&] { save_llava_onevision(*tuned, source, nullptr, again); },
                     {again + "/config.json", "compressor 'laco' has weights but no laco_compressor entry was given"});
  test::expect_error([&] { save_llava_onevision(*tuned, source, entry_for("ldpv2", 2), again); },
                     {again + "/config.json", "the laco_compressor entry given describes 'ldpv2' r=2 after vision block 2",
                      "the model has 'laco' r=2 after block 2 inserted"});
  auto bad = entry_for("laco", 2);
  bad["prefix"] = "x.";
  test::expect_error([&] { save_llava_onevision(*tuned, source, bad, again); },
                     {again + "/config.json", "$.laco_compressor.prefix", "allowed: laco_compressor."});
  EXPECT_FALSE(fs::exists(again)) << "nothing is written when the entry is refused";

  // A user's folder is never written into; nor is the source.
  const std::string mine = tmp + "/mine";
  test::write_file(mine + "/notes.txt", "mine");
  test::expect_error([&] { save_llava_onevision(*tuned, source, entry_for("laco", 2), mine); },
                     {mine, "is not empty (notes.txt)", "not a folder laco saved", "nothing was written"});
  EXPECT_EQ(test::read_file(mine + "/notes.txt"), "mine");
  EXPECT_FALSE(fs::exists(mine + "/config.json"));
  EXPECT_FALSE(fs::exists(mine + "/.laco-save.json"));
  test::expect_error([&] { save_llava_onevision(*tuned, source, entry_for("laco", 2), src); },
                     {src, "is the source checkpoint folder"});
  test::write_file(tmp + "/file", "x");
  test::expect_error([&] { save_llava_onevision(*tuned, source, entry_for("laco", 2), tmp + "/file"); },
                     {tmp + "/file", "is not a folder"});
  fs::remove_all(tmp);
  fs::remove_all(src);
}

}  // namespace
}  // namespace laco
