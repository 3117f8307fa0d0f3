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
#include "parity/checkpoint.h"
#include "harness/model/presets.h"
#include "runner/sweep_spec.h"
#include "parity/method.h"
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

}  // namespace
}  // namespace laco
