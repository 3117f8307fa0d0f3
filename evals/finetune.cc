#include "evals/finetune.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <set>

#include <fmt/format.h>
#include <torch/torch.h>

#include "evals/chat.h"
#include "evals/finetune_data.h"
#include "evals/measure.h"
#include "harness/base/build_info.h"
#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/host.h"
#include "harness/base/interrupt.h"
#include "harness/base/json_check.h"
#include "harness/base/memory.h"
#include "harness/base/progress.h"
#include "harness/base/safetensors.h"
#include "harness/base/text.h"
#include "harness/base/threads.h"
#include "harness/model/adamw.h"
#include "harness/model/checkpoint_save.h"
#include "methods/registry.h"

namespace laco {
namespace fs = std::filesystem;

namespace {

constexpr int64_t kMaxSteps = 100000000;
// LLaVA-NeXT's scripts: stage 1 (pretrain_siglip.sh) learning_rate 1e-3,
// model_max_length 8192, per_device_train_batch_size 16; stage 2
// (finetune_ov.sh) learning_rate 1e-5, mm_vision_tower_lr 2e-6,
// model_max_length 32768, per-device batch 1 x gradient_accumulation_steps 2.
constexpr double kStage1Lr = 1e-3, kStage2Lr = 1e-5, kVisionLr = 2e-6;
constexpr int64_t kStage1MaxLength = 8192, kStage2MaxLength = 32768;
constexpr int64_t kStage1Accumulation = 16, kStage2Accumulation = 2;
const std::vector<std::string> kTrainEncoder = {"none", "after", "all"};
const std::vector<std::string> kBool = {"true", "false"};

// Fault injection for the kill-and-resume test (tests/test_finetune.cc):
// LACO_FAULT_KILL_AFTER_STEPS=N sends this process SIGKILL right after the
// N-th optimizer step this attempt took (and its checkpoint, if one was due),
// as a machine that dies would. Unset, nothing changes.
void inject_kill(int64_t steps_now) {
  const char* n = std::getenv("LACO_FAULT_KILL_AFTER_STEPS");
  if (n && *n && steps_now == std::atoll(n)) ::raise(SIGKILL);
}

// splitmix64 (Steele, Lea, Flood 2014): the data order's generator, written
// out so that an order is the same on every platform and library.
uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// The order of epoch `epoch`: the file's, or a Fisher-Yates shuffle drawn from (seed, epoch).
std::vector<int64_t> epoch_order(int64_t n, bool shuffle, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  if (!shuffle) return order;
  uint64_t state = seed ^ (0xD1B54A32D192ED03ULL * static_cast<uint64_t>(epoch + 1));
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(splitmix64(state) % static_cast<uint64_t>(i + 1));
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  return order;
}

bool truth(const std::string& text, const std::string& where) {
  if (text == "true") return true;
  if (text == "false") return false;
  fail("{}: '{}' (allowed: true, false)", where, text);
}

}  // namespace

const std::vector<SettingInfo>& finetune_settings() {
  using K = SettingKind;
  static const std::vector<SettingInfo> settings = {
      {"data", K::kString, 0, 0, 0, 0, {}, "Conversation JSONL in LLaVA's layout (docs/training.md)"},
      {"image_folder", K::kString, 0, 0, 0, 0, {}, "Folder the images are read from (default: the JSONL's)"},
      {"out", K::kString, 0, 0, 0, 0, {}, "Folder the fine-tuned model is saved to (Hugging Face layout)"},
      {"stage", K::kInteger, 1, 2, 0, 0, {}, "1: method + projector; 2: + LM and image_newline (LLaVA-OneVision)"},
      {"train_encoder", K::kString, 0, 0, 0, 0, kTrainEncoder,
       "Stage 2: vision blocks that train at vision_lr: none, after (the method), all"},
      {"epochs", K::kInteger, 1, 10000, 0, 0, {}, "Passes over the file (default 1, as LLaVA's scripts)"},
      {"steps", K::kInteger, 0, kMaxSteps, 0, 0, {}, "Optimizer steps (0: epochs x conversations / accumulation)"},
      {"accumulation", K::kInteger, 0, 1000000, 0, 0, {},
       "Conversations per optimizer step (0: 16 in stage 1, 2 in stage 2: LLaVA's per-device batches)"},
      {"lr", K::kNumber, 0, 0, 0, 1, {}, "Learning rate (0: 1e-3 in stage 1, 1e-5 in stage 2)"},
      {"projector_lr", K::kNumber, 0, 0, 0, 1, {}, "Projector's learning rate (0: lr)"},
      {"compressor_lr", K::kNumber, 0, 0, 0, 1, {}, "The method's learning rate (0: lr)"},
      {"vision_lr", K::kNumber, 0, 0, 0, 1, {}, "Vision blocks' learning rate (0: 2e-6, mm_vision_tower_lr)"},
      {"weight_decay", K::kNumber, 0, 0, 0, 1, {}, "AdamW's decoupled weight decay (default 0, as LLaVA's scripts)"},
      {"warmup_ratio", K::kNumber, 0, 0, 0, 1, {}, "Share of the steps warming up linearly (default 0.03)"},
      {"max_grad_norm", K::kNumber, 0, 0, 0, 1e6, {}, "Gradient clipping's total norm (default 1; 0: none)"},
      {"max_length", K::kInteger, 0, 10000000, 0, 0, {},
       "Positions kept after the image's expansion (0: 8192 in stage 1, 32768 in stage 2, at most the context)"},
      {"shuffle", K::kString, 0, 0, 0, 0, kBool, "Shuffle the conversations at each epoch (seeded; default true)"},
      {"activation_checkpointing", K::kString, 0, 0, 0, 0, kBool,
       "Recompute the encoder's and LM's blocks in backward instead of keeping their activations (default true)"},
      {"save_every", K::kInteger, 0, kMaxSteps, 0, 0, {},
       "A resumable checkpoint every N optimizer steps (default 100; 0: none)"},
  };
  return settings;
}

FinetuneConfig finetune_config(const RunRequest& request, const nlohmann::json& settings) {
  auto c = request_as<FinetuneConfig>(request);
  take_setting(settings, "data", c.data);
  take_setting(settings, "image_folder", c.image_folder);
  take_setting(settings, "out", c.out);
  take_setting(settings, "stage", c.stage);
  take_setting(settings, "train_encoder", c.train_encoder);
  take_setting(settings, "epochs", c.epochs);
  take_setting(settings, "steps", c.steps);
  take_setting(settings, "accumulation", c.accumulation);
  take_setting(settings, "lr", c.lr);
  take_setting(settings, "projector_lr", c.projector_lr);
  take_setting(settings, "compressor_lr", c.compressor_lr);
  take_setting(settings, "vision_lr", c.vision_lr);
  take_setting(settings, "weight_decay", c.weight_decay);
  take_setting(settings, "warmup_ratio", c.warmup_ratio);
  take_setting(settings, "max_grad_norm", c.max_grad_norm);
  take_setting(settings, "max_length", c.max_length);
  take_setting(settings, "shuffle", c.shuffle);
  take_setting(settings, "activation_checkpointing", c.activation_checkpointing);
  take_setting(settings, "save_every", c.save_every);
  return c;
}

RunSpec resolve_finetune_config(const FinetuneConfig& c) {
  if (c.preset != kFinetunePreset)
    fail("--preset: a fine-tune's model is its checkpoint's, whole (allowed: {})", kFinetunePreset);
  if (c.model.empty())
    fail("--model: a fine-tune needs a LLaVA-OneVision checkpoint folder (config.json, safetensors, tokenizer.json, "
         "a chat template, preprocessor_config.json)");
  if (c.out.empty()) fail("--out: a fine-tune needs the folder to save the fine-tuned model to");
  std::error_code ec;
  if (fs::exists(c.out, ec) && fs::exists(c.model, ec) && fs::equivalent(c.out, c.model, ec))
    fail("--out: '{}' is the --model folder; the fine-tuned model goes to a folder of its own", c.out);
  if (c.stage != 1 && c.stage != 2) fail("--stage: {} (allowed: 1, 2)", c.stage);
  if (std::find(kTrainEncoder.begin(), kTrainEncoder.end(), c.train_encoder) == kTrainEncoder.end())
    fail("--train-encoder: '{}' (allowed: {})", c.train_encoder, join(kTrainEncoder));
  if (c.stage == 1 && c.train_encoder != "none")
    fail("--train-encoder: stage 1 trains the method and the projector only, as LLaVA-OneVision's (allowed with "
         "stage 1: none; use --stage 2)");
  const ChatFolder folder = read_chat_folder(c.model);
  const RunRequest r = folder_request(c, folder.config);
  Compressor built{nullptr};
  RunSpec spec = resolve_method_placement(r, folder.options, &built);
  check_anyres_method(built);
  if (built && built->site() == MethodSite::kInLm)
    fail("-m {}: acts inside the LM; fine-tuning with it is not supported (allowed: the grid methods, and none)",
         spec.method);

  const ConversationFile data = load_conversations(c.data, c.image_folder);
  for (size_t i = 0; i < data.conversations.size(); ++i)  // every label problem now, not mid-run
    llava_qwen_labels(folder.text, data.conversations[i], kChatDefaultSystem,
                      fmt::format("{}:{}", c.data, data.lines[i]));

  FinetuneSettings t;
  t.data = c.data;
  t.data_sha256 = data.sha256;
  t.image_folder = c.image_folder;
  t.conversations = static_cast<int64_t>(data.conversations.size());
  t.stage = c.stage;
  t.train_encoder = c.train_encoder;
  t.epochs = c.epochs;
  t.accumulation = c.accumulation > 0 ? c.accumulation : c.stage == 1 ? kStage1Accumulation : kStage2Accumulation;
  const int64_t micro = c.epochs * t.conversations;
  t.steps = c.steps > 0 ? c.steps : micro / t.accumulation;
  if (t.steps < 1)
    fail("{}: {} conversations x {} epochs fill no optimizer step of {} conversations (--accumulation); lower it, "
         "or set --steps",
         c.data, t.conversations, c.epochs, t.accumulation);
  t.lr = c.lr > 0 ? c.lr : c.stage == 1 ? kStage1Lr : kStage2Lr;
  t.projector_lr = c.projector_lr > 0 ? c.projector_lr : t.lr;
  t.compressor_lr = c.compressor_lr > 0 ? c.compressor_lr : t.lr;
  t.vision_lr = c.vision_lr > 0 ? c.vision_lr : kVisionLr;
  if (c.weight_decay < 0 || c.warmup_ratio < 0 || c.warmup_ratio > 1 || c.max_grad_norm < 0)
    fail("--weight-decay, --warmup-ratio, --max-grad-norm: weight decay >= 0, warm-up ratio in [0, 1], norm >= 0");
  t.weight_decay = c.weight_decay;
  t.warmup_ratio = c.warmup_ratio;
  t.max_grad_norm = c.max_grad_norm;
  const int64_t max_length = c.max_length > 0 ? c.max_length : c.stage == 1 ? kStage1MaxLength : kStage2MaxLength;
  t.max_length = std::min(max_length, folder.config.context);
  if (t.max_length < 2) fail("--max-length: must be >= 2, got {}", t.max_length);
  t.shuffle = truth(c.shuffle, "--shuffle");
  t.activation_checkpointing = truth(c.activation_checkpointing, "--activation-checkpointing");
  t.save_every = c.save_every;
  if (t.save_every < 0) fail("--save-every: must be >= 0, got {}", t.save_every);
  t.out = c.out;
  spec.settings = t;
  return spec;
}

nlohmann::json compressor_entry(const RunSpec& run) {
  if (run.method == "none") return nullptr;
  nlohmann::json options = nlohmann::json::object();
  for (const auto& [k, v] : run.method_options) options[k] = v;
  return {{"method", run.method},
          {"options", options},
          {"layer", run.layer},
          {"block_k", run.block_k},
          {"depth", run.depth},
          {"ratio", run.ratio},
          {"grid_policy", to_string(run.grid_policy)},
          {"init", run.init},
          {"projector", run.projector},
          {"prefix", kCompressorPrefix},
          {"source_sha256", run.checkpoint_sha256},
          {"laco_commit", build_version()},
          {"run_key", run.key()},
          {"stage", run.finetune().stage}};
}

// ---------------------------------------------------------------------------

struct Finetuner::State {
  RunSpec spec;
  FinetuneSettings t;
  std::optional<ChatFolder> folder;
  Mllm model{nullptr};
  ConversationFile data;
  std::unique_ptr<AdamW> optimizer;
  std::vector<std::pair<std::string, torch::Tensor>> trainable;
  int64_t warmup = 0;
  int64_t step = 0;
  mutable int64_t order_epoch = -1;
  mutable std::vector<int64_t> order;
  nlohmann::json facts;
};

Finetuner::Finetuner(const RunSpec& run) : s_(std::make_unique<State>()) {
  State& s = *s_;
  s.spec = run;
  s.t = run.finetune();
  set_threads(run.threads);
  s.folder.emplace(read_chat_folder(run.checkpoint));
  s.data = load_conversations(s.t.data, s.t.image_folder);
  if (s.data.sha256 != s.t.data_sha256)
    fail("{}: the conversation file changed since the run was resolved (SHA-256 {} then, {} now); resolve the run "
         "again (a new run key)",
         s.t.data, s.t.data_sha256, s.data.sha256);
  s.model = build_chat_model(*s.folder, run, s.facts);
  s.model->train();

  // Which parameters train, and in which group (LLaVA's create_optimizer: a
  // learning rate per module, weight decay but for LayerNorms and biases).
  MllmImpl& m = *s.model;
  for (auto& p : m.parameters()) p.requires_grad_(false);
  std::set<const void*> compressor, projector, vision, no_decay;
  const Compressor& c = m.encoder->compressor();
  if (c)
    for (const auto& p : c->parameters()) compressor.insert(p.unsafeGetTensorImpl());
  for (const auto& p : m.projector->parameters()) projector.insert(p.unsafeGetTensorImpl());
  for (const auto& p : m.encoder->parameters())
    if (!compressor.count(p.unsafeGetTensorImpl())) vision.insert(p.unsafeGetTensorImpl());
  // LLaVA's rule: no decay for nn.LayerNorm parameters and names holding
  // "bias" (ALL_LAYERNORM_LAYERS is [nn.LayerNorm]: Qwen2's RMSNorm gains decay).
  for (const auto& module : m.modules(/*include_self=*/true))
    if (module->as<torch::nn::LayerNorm>())
      for (const auto& p : module->parameters(/*recurse=*/false)) no_decay.insert(p.unsafeGetTensorImpl());
  std::set<const void*> vision_trained;
  if (s.t.train_encoder == "all") {
    vision_trained = vision;
  } else if (s.t.train_encoder == "after") {
    for (int64_t b = run.block_k; b < static_cast<int64_t>(m.encoder->blocks->size()); ++b)
      for (const auto& p : m.encoder->blocks[b]->parameters()) vision_trained.insert(p.unsafeGetTensorImpl());
    if (m.encoder->post_layernorm)
      for (const auto& p : m.encoder->post_layernorm->parameters()) vision_trained.insert(p.unsafeGetTensorImpl());
  }
  std::map<std::string, AdamWGroup> groups;
  auto group = [&](const std::string& name, double lr, bool decay) -> AdamWGroup& {
    const std::string key = decay ? name : name + "_no_decay";
    auto& g = groups[key];
    g.name = key;
    g.lr = lr;
    g.weight_decay = decay ? s.t.weight_decay : 0.0;
    return g;
  };
  for (auto& item : m.named_parameters(/*recurse=*/true)) {
    const std::string& name = item.key();
    torch::Tensor& p = item.value();
    const void* id = p.unsafeGetTensorImpl();
    const bool decay = !no_decay.count(id) && name.find("bias") == std::string::npos;
    AdamWGroup* g = nullptr;
    if (compressor.count(id)) g = &group("compressor", s.t.compressor_lr, decay);
    else if (projector.count(id)) g = &group("projector", s.t.projector_lr, decay);
    else if (vision.count(id)) g = vision_trained.count(id) ? &group("vision", s.t.vision_lr, decay) : nullptr;
    else if (s.t.stage == 2) g = &group("lm", s.t.lr, decay);  // the LM and image_newline
    if (!g) continue;
    p.requires_grad_(true);
    g->params.push_back(p);
    s.trainable.emplace_back(name, p);
  }
  if (s.trainable.empty())
    fail("finetune: nothing trains: method '{}' has no weights, its projector none, and stage {} freezes the rest "
         "(use --stage 2, or a method with weights)",
         run.method, s.t.stage);
  std::vector<AdamWGroup> list;
  nlohmann::json recipe = nlohmann::json::array();
  for (auto& [name, g] : groups) {
    int64_t values = 0;
    for (const auto& p : g.params) values += p.numel();
    recipe.push_back({{"group", name}, {"lr", g.lr}, {"weight_decay", g.weight_decay}, {"tensors", g.params.size()},
                      {"params", values}});
    list.push_back(std::move(g));
  }
  s.optimizer = std::make_unique<AdamW>(std::move(list));
  s.warmup = warmup_steps(s.t.warmup_ratio, s.t.steps);
  m.encoder->set_activation_checkpointing(s.t.activation_checkpointing);
  m.lm->set_activation_checkpointing(s.t.activation_checkpointing);
  s.facts["recipe"] = {{"groups", recipe},
                       {"warmup_steps", s.warmup},
                       {"schedule", "linear warm-up, cosine to 0 (get_cosine_schedule_with_warmup)"},
                       {"optimizer", "AdamW betas (0.9, 0.999), eps 1e-8"},
                       {"micro_batch", 1},
                       {"labels", "LLaVA-NeXT preprocess_qwen (df17966), image tokens -100"},
                       {"data_order", s.t.shuffle ? "Fisher-Yates per epoch from splitmix64(seed, epoch)" : "the file's"}};
}

Finetuner::~Finetuner() = default;

int64_t Finetuner::steps() const { return s_->t.steps; }
int64_t Finetuner::step() const { return s_->step; }
MllmImpl& Finetuner::model() { return *s_->model; }
const AdamW& Finetuner::optimizer() const { return *s_->optimizer; }
const nlohmann::json& Finetuner::facts() const { return s_->facts; }
std::vector<std::pair<std::string, torch::Tensor>> Finetuner::trainable() const { return s_->trainable; }

int64_t Finetuner::conversation_of(int64_t micro_batch) const {
  const int64_t n = s_->t.conversations;
  const int64_t epoch = micro_batch / n;
  if (epoch != s_->order_epoch) {
    s_->order = epoch_order(n, s_->t.shuffle, s_->spec.seed, epoch);
    s_->order_epoch = epoch;
  }
  return s_->order[static_cast<size_t>(micro_batch % n)];
}

FinetuneExample Finetuner::example(int64_t index) const {
  const auto i = static_cast<size_t>(index);
  return make_example(*s_->folder, *s_->model, s_->data.conversations.at(i), s_->t.max_length,
                      fmt::format("{}:{}", s_->t.data, s_->data.lines.at(i)));
}

namespace {

// The LM's input: the text's embeddings with the image's features where `<image>` stood.
torch::Tensor example_embeddings(MllmImpl& m, const FinetuneExample& e) {
  auto ids = torch::tensor(e.input_ids, torch::kInt64).unsqueeze(0);
  auto embeddings = m.lm->embed(ids);
  if (e.image_tokens == 0) return embeddings;
  auto features = m.image_features(e.crops, e.layout).narrow(0, 0, e.image_tokens).unsqueeze(0);
  const int64_t t = embeddings.size(1), after = e.image_start + e.image_tokens;
  return torch::cat({embeddings.narrow(1, 0, e.image_start), features, embeddings.narrow(1, after, t - after)}, 1);
}

}  // namespace

torch::Tensor Finetuner::loss(const FinetuneExample& e) {
  MllmImpl& m = *s_->model;
  std::vector<int64_t> at, targets;
  for (size_t p = 0; p + 1 < e.labels.size(); ++p)
    if (e.labels[p + 1] != kIgnoreLabel) at.push_back(static_cast<int64_t>(p)), targets.push_back(e.labels[p + 1]);
  if (at.empty()) fail("finetune: the example has no supervised label (its loss is undefined)");
  auto hidden = m.lm->forward(example_embeddings(m, e)).select(0, 0);
  // Logits only where a label is: the vocabulary is 151,936 wide, and the
  // loss reads no other position (Qwen2ForCausalLM computes them all).
  auto logits = m.lm->logits(hidden.index_select(0, torch::tensor(at, torch::kInt64)));
  return torch::nn::functional::cross_entropy(logits, torch::tensor(targets, torch::kInt64));
}

torch::Tensor Finetuner::logits(const FinetuneExample& e) {
  torch::NoGradGuard no_grad;
  MllmImpl& m = *s_->model;
  return m.lm->logits(m.lm->forward(example_embeddings(m, e)).select(0, 0));
}

FinetuneStep Finetuner::train_step() {
  State& s = *s_;
  if (s.step >= s.t.steps) fail("finetune: all {} steps are done", s.t.steps);
  const auto t0 = std::chrono::steady_clock::now();
  FinetuneStep r;
  s.optimizer->zero_grad();
  double sum = 0;
  int64_t counted = 0;
  for (int64_t j = 0; j < s.t.accumulation; ++j) {
    const FinetuneExample e = example(conversation_of(s.step * s.t.accumulation + j));
    ++r.conversations;
    r.positions += static_cast<int64_t>(e.input_ids.size());
    r.truncated += e.truncated;
    if (e.supervised == 0) {
      ++r.unsupervised;
      continue;
    }
    r.supervised += e.supervised;
    auto l = loss(e);
    (l / static_cast<double>(s.t.accumulation)).backward();
    sum += l.item<double>();
    ++counted;
  }
  r.loss = counted > 0 ? sum / static_cast<double>(counted) : 0.0;
  r.grad_norm = s.t.max_grad_norm > 0 ? s.optimizer->clip_grad_norm(s.t.max_grad_norm) : s.optimizer->grad_norm();
  r.lr_factor = cosine_warmup_factor(s.step, s.warmup, s.t.steps);
  s.optimizer->step(r.lr_factor);
  s.optimizer->zero_grad();
  ++s.step;
  r.seconds = seconds_since(t0);
  return r;
}

void Finetuner::save_state(const std::string& dir, const nlohmann::json& counters) const {
  nlohmann::json state = counters;
  state["step"] = s_->step;
  state["run_key"] = s_->spec.key();
  state["build"] = build_version();
  state["saved_at"] = utc_now();
  write_file_set(dir, {{"trainable.safetensors", serialize_safetensors(s_->trainable)},
                       {"optimizer.safetensors", serialize_safetensors(s_->optimizer->state())},
                       {"state.json", state.dump(1) + "\n"}});
}

nlohmann::json Finetuner::load_state(const std::string& dir) {
  const nlohmann::json state = read_json_file(dir + "/state.json");
  const std::string where = dir + "/state.json";
  if (!state.is_object() || !state.contains("step") || !state["step"].is_number_integer())
    fail("{}: $.step must be an integer", where);
  const int64_t step = state["step"].get<int64_t>();
  if (step < 0 || step > s_->t.steps) fail("{}: $.step is {} (allowed: 0..{})", where, step, s_->t.steps);
  const SafeTensors weights = SafeTensors::load(dir + "/trainable.safetensors");
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : s_->trainable) {
    const auto& t = weights.get(name);
    if (t.sizes() != p.sizes() || t.scalar_type() != p.scalar_type())
      fail("{}/trainable.safetensors: '{}' is not its parameter's shape or dtype", dir, name);
    p.copy_(t);
  }
  if (weights.names().size() != s_->trainable.size())
    fail("{}/trainable.safetensors: {} tensors, the run trains {}", dir, weights.names().size(), s_->trainable.size());
  s_->optimizer->load_state(SafeTensors::load(dir + "/optimizer.safetensors"), dir + "/optimizer.safetensors");
  if (s_->optimizer->steps() != step)
    fail("{}: the optimizer took {} steps, state.json says {}", dir, s_->optimizer->steps(), step);
  s_->step = step;
  return state;
}

void Finetuner::save(const std::string& out) const {
  save_llava_onevision(*s_->model, s_->folder->config, compressor_entry(s_->spec), out);
}

// ---------------------------------------------------------------------------

namespace {

// What a run keeps across attempts: its curves and counters (state.json).
struct Counters {
  std::vector<std::pair<int64_t, double>> loss, grad_norm, lr;
  std::vector<double> step_seconds;
  int64_t conversations = 0, supervised = 0, positions = 0, truncated = 0, unsupervised = 0;

  nlohmann::json to_json() const {
    return {{"loss", loss},
            {"grad_norm", grad_norm},
            {"lr", lr},
            {"step_seconds", step_seconds},
            {"conversations", conversations},
            {"supervised", supervised},
            {"positions", positions},
            {"truncated", truncated},
            {"unsupervised", unsupervised}};
  }
  static Counters from_json(const nlohmann::json& j, const std::string& where) {
    Counters c;
    try {
      c.loss = j.at("loss").get<decltype(c.loss)>();
      c.grad_norm = j.at("grad_norm").get<decltype(c.grad_norm)>();
      c.lr = j.at("lr").get<decltype(c.lr)>();
      c.step_seconds = j.at("step_seconds").get<std::vector<double>>();
      c.conversations = j.at("conversations").get<int64_t>();
      c.supervised = j.at("supervised").get<int64_t>();
      c.positions = j.at("positions").get<int64_t>();
      c.truncated = j.at("truncated").get<int64_t>();
      c.unsupervised = j.at("unsupervised").get<int64_t>();
    } catch (const nlohmann::json::exception& e) {
      fail("{}: not a fine-tune's counters ({})", where, e.what());
    }
    return c;
  }
};

}  // namespace

RunRecord run_finetune(const RunSpec& run, const RunContext& context) {
  const FinetuneSettings& t = run.finetune();
  Progress* progress = context.progress;
  RunRecord rec;
  rec.spec = run;
  rec.provenance = Provenance::here("cpu");
  rec.provenance.started_at = utc_now();
  const auto wall0 = std::chrono::steady_clock::now();
  if (progress) progress->note("loading " + run.checkpoint);
  Finetuner f(run);
  rec.facts = f.facts();

  // An interrupted attempt's last checkpoint, when it is this run's and this build's.
  const std::string root = t.out + ".resume";
  Counters counters;
  int64_t resumed = 0;
  std::error_code ec;
  if (fs::exists(root + "/latest", ec)) {
    std::string name = read_file_bytes(root + "/latest");
    while (!name.empty() && (name.back() == '\n' || name.back() == '\r')) name.pop_back();
    const std::string dir = root + "/" + name;
    const nlohmann::json state = read_json_file(dir + "/state.json");
    const std::string key = state.value("run_key", ""), build = state.value("build", "");
    if (name.rfind("step-", 0) != 0 || name.find('/') != std::string::npos)
      fail("{}/latest: names '{}' (allowed: step-N, written by laco train); remove {} to start over", root, name, root);
    if (key != run.key())
      fail("{}: holds a checkpoint of run {}, not of this run ({}); remove it, or use another --out", root, key,
           run.key());
    if (build == build_version()) {
      counters = Counters::from_json(f.load_state(dir), dir + "/state.json");
      resumed = f.step();
    } else {
      rec.facts["resume_discarded"] = fmt::format("{} was written by build {}, this is {}: started over", dir, build,
                                                  build_version());
    }
  }
  rec.facts["resumed_from_step"] = resumed;
  if (progress && resumed > 0)
    progress->advance(resumed, fmt::format("{} of {} steps from {}", resumed, t.steps, root));

  // The training's peak from here: the model resident, its activations,
  // gradients and optimizer state; not the load's conversions before, nor the
  // save's serialisation after.
  reset_memory_peaks();
  const auto t_train = std::chrono::steady_clock::now();
  double step_seconds_now = 0;
  int64_t positions_now = 0, steps_now = 0;
  while (f.step() < f.steps()) {
    throw_if_interrupted();
    const FinetuneStep s = f.train_step();
    const int64_t step = f.step();
    counters.loss.emplace_back(step, s.loss);
    counters.grad_norm.emplace_back(step, s.grad_norm);
    counters.lr.emplace_back(step, s.lr_factor);
    counters.step_seconds.push_back(s.seconds);
    counters.conversations += s.conversations;
    counters.supervised += s.supervised;
    counters.positions += s.positions;
    counters.truncated += s.truncated;
    counters.unsupervised += s.unsupervised;
    step_seconds_now += s.seconds;
    positions_now += s.positions;
    if (progress)
      progress->step(fmt::format("step {}/{} loss {:.4f} {:.0f} tokens/s", step, f.steps(), s.loss,
                                 static_cast<double>(s.positions) / std::max(s.seconds, 1e-9)));
    if (t.save_every > 0 && step % t.save_every == 0 && step < f.steps()) {
      const std::string name = fmt::format("step-{}", step);
      f.save_state(root + "/" + name, counters.to_json());
      write_file_atomically(root + "/latest", name + "\n");
      for (const auto& entry : fs::directory_iterator(root, ec))
        if (entry.is_directory() && entry.path().filename() != name) fs::remove_all(entry.path(), ec);
    }
    inject_kill(++steps_now);
  }
  const double train_seconds = seconds_since(t_train);
  const int64_t train_peak = peak_rss_bytes();

  if (progress) progress->note("saving " + t.out);
  f.save(t.out);
  fs::remove_all(root, ec);  // the run is whole in OUT; a rerun of a recorded run does not start

  rec.series["loss"] = counters.loss;
  rec.series["grad_norm"] = counters.grad_norm;
  rec.series["lr_factor"] = counters.lr;
  rec.samples["step_time"] = counters.step_seconds;
  const size_t last = std::min<size_t>(10, counters.loss.size());
  double tail = 0;
  for (size_t i = counters.loss.size() - last; i < counters.loss.size(); ++i) tail += counters.loss[i].second;
  rec.add("final_loss", tail / static_cast<double>(last), "nats");
  rec.add("first_loss", counters.loss.front().second, "nats");
  rec.add("steps", static_cast<double>(f.steps()), "steps");
  rec.add("conversations_trained", static_cast<double>(counters.conversations), "conversations");
  rec.add("supervised_tokens", static_cast<double>(counters.supervised), "tokens");
  rec.add("positions", static_cast<double>(counters.positions), "tokens");
  rec.add("truncated", static_cast<double>(counters.truncated), "conversations");
  rec.add("unsupervised", static_cast<double>(counters.unsupervised), "conversations");
  int64_t params = 0;
  for (const auto& [name, p] : f.trainable()) params += p.numel();
  rec.add("trainable_params", static_cast<double>(params), "params");
  rec.add("step_time_p50", median(counters.step_seconds), "s");
  if (step_seconds_now > 0) rec.add("tokens_per_s", static_cast<double>(positions_now) / step_seconds_now, "tokens/s");
  rec.add("train_time", train_seconds, "s");
  rec.add("peak_rss", static_cast<double>(train_peak) / (1024.0 * 1024.0 * 1024.0), "GiB");
  rec.facts["out"] = t.out;
  rec.facts["activation_checkpointing"] = t.activation_checkpointing;
  rec.provenance.threads = describe_threads();
  rec.provenance.finished_at = utc_now();
  rec.provenance.wall_seconds = seconds_since(wall0);
  return rec;
}

}  // namespace laco
