#include "evals/chat.h"

#include <chrono>
#include <filesystem>
#include <optional>

#include <torch/torch.h>

#include "harness/base/error.h"
#include "harness/base/host.h"
#include "harness/base/threads.h"
#include "harness/image/image.h"
#include "harness/image/llava_processor.h"
#include "harness/model/anyres.h"
#include "harness/model/checkpoint.h"
#include "harness/model/presets.h"
#include "harness/text/chat.h"
#include "methods/registry.h"

namespace laco {
namespace fs = std::filesystem;

struct ChatModel::State {
  RunSpec spec;
  CheckpointConfig config;
  std::optional<ChatTokenizer> text;  ///< optional only because a tokenizer is built by loading
  ImageProcessorConfig processor;
  Mllm model{nullptr};
  nlohmann::json facts;
};

ChatModel::ChatModel() : s_(std::make_unique<State>()) {}
ChatModel::ChatModel(ChatModel&&) noexcept = default;
ChatModel& ChatModel::operator=(ChatModel&&) noexcept = default;
ChatModel::~ChatModel() = default;

namespace {

// The model of a llava_onevision folder: every part is the checkpoint's (the
// preset only fills what a llava_onevision config always states).
MllmOptions chat_model_options(const CheckpointConfig& config) {
  MllmOptions options = checkpoint_model(config, find_preset("cpu-small").model);
  options.image_newline = true;
  return options;
}

}  // namespace

ChatFolder read_chat_folder(const std::string& dir) {
  if (dir.empty()) fail("--model: a released LLaVA-OneVision checkpoint folder is required");
  CheckpointConfig config = read_checkpoint_config(dir);
  if (config.kind != "llava_onevision")
    fail("{}: a {} checkpoint cannot answer a question about an image (allowed: llava_onevision, e.g. "
         "llava-hf/llava-onevision-qwen2-0.5b-ov-hf)",
         dir, config.kind);
  ChatFolder s{std::move(config), load_chat_tokenizer(dir), read_image_processor_config(dir), {}};
  if (s.text.image != s.config.image_token)
    fail("{}: $.image_token_index is {} but the tokenizer ({}) gives '<image>' id {}", dir, s.config.image_token,
         s.text.file, s.text.image);
  std::vector<std::pair<int64_t, int64_t>> processor_pinpoints;
  for (const auto& p : s.processor.image_grid_pinpoints) processor_pinpoints.emplace_back(p.height, p.width);
  if (!s.config.grid_pinpoints.empty() && s.config.grid_pinpoints != processor_pinpoints)
    fail("{}: config.json's image_grid_pinpoints differ from preprocessor_config.json's: the model would pack the "
         "tiles on another grid than the processor cut",
         dir);
  if (s.processor.size != s.config.encoder->image_size())
    fail("{}: preprocessor_config.json crops {} px but the vision tower takes {} px", dir, s.processor.size,
         s.config.encoder->image_size());
  s.options = chat_model_options(s.config);
  return s;
}

RunRequest folder_request(const RunRequest& request, const CheckpointConfig& config) {
  if (!config.compressor) return request;
  const nlohmann::json& c = *config.compressor;
  const std::string method = c.at("method").get<std::string>();
  const std::string where = config.dir + "/config.json $.laco_compressor";
  const int64_t k = c.at("block_k").get<int64_t>(), ratio = c.at("ratio").get<int64_t>();
  if (request.method != method)
    fail("{}: the folder holds a fine-tuned '{}' (after block {}, r={}) and its LM was trained with it; run it with "
         "-m {} (its placement and ratio are the folder's), not '{}'",
         where, method, k, ratio, method, request.method);
  RunRequest r = request;
  r.method_options.clear();
  if (c.contains("options"))
    for (const auto& [key, value] : c.at("options").items()) r.method_options[key] = value.get<std::string>();
  r.layer = fmt::format("block:{}", k);
  r.ratio = ratio;
  if (c.contains("grid_policy")) r.grid_policy = parse_grid_policy(c.at("grid_policy").get<std::string>());
  if (c.contains("init") && !c.at("init").get<std::string>().empty()) r.init = c.at("init").get<std::string>();
  if (c.contains("projector"))
    r.projector = c.at("projector").get<std::string>() == "mlp2x_gelu" && find_method(method).own_projector
                      ? "mlp2x_gelu"
                      : "reference";
  return r;
}

void check_trained_method(const RunRequest& request, const CheckpointConfig& config) {
  if (request.allow_untrained || config.compressor || !find_method(request.method).has_weights()) return;
  fail("-m {}: the method has weights that must be trained, and {} does not hold them (a released model has no "
       "'{}' inside; inserted untrained it answers nothing the method would): fine-tune it first (laco train --model "
       "{} -m {} -l L -r R --data conversations.jsonl --out DIR, docs/training.md) and run the fine-tuned folder, or "
       "pass --allow-untrained to measure the untrained insertion (an ablation)",
       request.method, config.dir, request.method, config.dir, request.method);
}

Mllm build_chat_model(const ChatFolder& folder, const RunSpec& spec, nlohmann::json& facts) {
  torch::manual_seed(spec.seed);
  Mllm model(folder.options);
  check_anyres_method(insert_method(model, spec));
  model->eval();
  facts["checkpoint_load"] = load_run_checkpoint(*model, spec);
  return model;
}

int64_t ChatModel::encoder_depth(const std::string& dir) {
  return chat_model_options(read_checkpoint_config(dir)).encoder.depth();
}

namespace {

// The run a request makes of a chat folder: the folder's fine-tuned method
// fixes the method part, an untrained one is refused (unless allowed).
RunSpec resolve_in(const ChatFolder& folder, const RunRequest& request, Compressor* built) {
  const RunRequest r = folder_request(request, folder.config);
  check_trained_method(r, folder.config);
  return resolve_method_placement(r, folder.options, built);
}

}  // namespace

RunSpec ChatModel::resolve(const RunRequest& request) {
  Compressor built{nullptr};
  RunSpec spec = resolve_in(read_chat_folder(request.model), request, &built);
  check_anyres_method(built);  // refused here, before a run is claimed, not as a failed run
  return spec;
}

ChatModel ChatModel::load(const RunRequest& request) {
  ChatModel m;
  State& s = *m.s_;
  ChatFolder folder = read_chat_folder(request.model);
  set_threads(request.threads);
  s.spec = resolve_in(folder, request, nullptr);
  s.model = build_chat_model(folder, s.spec, s.facts);
  s.config = std::move(folder.config);
  s.text = std::move(folder.text);
  s.processor = std::move(folder.processor);
  s.facts["tokenizer"] = {{"file", s.text->file}, {"size", s.text->tokenizer.size()}};
  s.facts["chat_template"] = {{"file", s.text->chat_template.file}, {"field", s.text->chat_template.field},
                              {"format", "ChatML (LLaVA-NeXT qwen_1_5)"}};
  s.facts["image_processor"] = {{"size", s.processor.size}, {"pinpoints", s.processor.image_grid_pinpoints.size()},
                                {"anyres_max", s.config.anyres_max_tiles}};
  const MethodInfo& method = find_method(s.spec.method);
  s.facts["method"] = method.reference
                         ? s.spec.method_label()
                         : fmt::format("{} r={} at {} (after block {} of {})", s.spec.method_label(), s.spec.ratio,
                                       s.spec.layer, s.spec.block_k, s.spec.depth);
  if (s.config.compressor)
    s.facts["method_weights"] = fmt::format("fine-tuned: the folder's {}* tensors", kCompressorPrefix);
  else if (method.has_weights())
    s.facts["method_weights"] = fmt::format(
        "method '{}' has weights the checkpoint does not hold: they are its {} initialisation (seed {}), untrained, "
        "so its answers measure an untrained insertion (--allow-untrained)",
        s.spec.method, s.spec.init, s.spec.seed);
  return m;
}

std::vector<int64_t> ChatModel::prompt_ids(const std::string& question, const std::string& system, bool image) const {
  return s_->text->tokenizer.encode(chat_prompt(question, system, image));
}

ChatAnswer ChatModel::answer(const std::string& image_path, const std::string& question, int64_t max_new_tokens,
                             const std::string& system) const {
  State& s = *s_;  // the model's modules run non-const; answering changes nothing of it
  if (max_new_tokens < 1) fail("--max-new-tokens: must be >= 1, got {}", max_new_tokens);
  torch::NoGradGuard no_grad;
  ChatAnswer a;
  const auto t0 = std::chrono::steady_clock::now();
  const Image image = read_image(image_path);
  const ProcessedImage crops = process_image(image, s.processor);
  const std::vector<int64_t> ids = prompt_ids(question, system, true);
  a.preprocess_s = seconds_since(t0);
  a.image_height = crops.height, a.image_width = crops.width;
  a.best_height = crops.best_height, a.best_width = crops.best_width;
  a.crops = crops.pixel_values.size(0);
  const AnyresLayout layout{crops.height, crops.width, crops.rows, crops.cols, s.config.anyres_max_tiles};
  a.visual_tokens = anyres_tokens(s.model->anyres_tile_grid(), layout, true);

  int64_t start = -1;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != s.text->image) {
      a.input_ids.push_back(ids[i]);
      continue;
    }
    if (start >= 0) fail("--prompt: '<image>' appears more than once (one image, one placeholder)");
    start = static_cast<int64_t>(a.input_ids.size());
    a.input_ids.insert(a.input_ids.end(), static_cast<size_t>(a.visual_tokens), s.text->image);
  }
  a.prompt_tokens = static_cast<int64_t>(a.input_ids.size());
  if (a.prompt_tokens + max_new_tokens > s.config.context)
    fail("--prompt: {} prompt tokens ({} of them the image's) + {} new tokens exceed the model's context of {} "
         "positions ({}: max_position_embeddings)",
         a.prompt_tokens, a.visual_tokens, max_new_tokens, s.config.context, s.config.dir);

  const auto t1 = std::chrono::steady_clock::now();
  std::vector<double> stamps;
  const torch::Tensor features = s.model->image_features(crops.pixel_values, layout);
  if (features.size(0) != a.visual_tokens)
    fail("chat: the image packed to {} tokens, the prompt expected {}", features.size(0), a.visual_tokens);
  auto input = torch::tensor(a.input_ids, torch::kInt64).unsqueeze(0);
  auto embeddings = s.model->lm->embed(input);
  embeddings.select(0, 0).narrow(0, start, a.visual_tokens).copy_(features);
  const Generation g = s.model->generate_from(embeddings, s.model->lm_prune_span(start, a.visual_tokens),
                                              max_new_tokens, s.text->im_end,
                                              [&](int64_t) { stamps.push_back(seconds_since(t1)); });
  a.ttft_s = stamps.front();
  if (stamps.size() > 1) a.tpot_s = (stamps.back() - stamps.front()) / static_cast<double>(stamps.size() - 1);
  const auto out = g.ids.select(0, 0).contiguous();
  a.generated_ids.assign(out.data_ptr<int64_t>(), out.data_ptr<int64_t>() + out.numel());
  a.stopped = !a.generated_ids.empty() && a.generated_ids.back() == s.text->im_end;
  a.text = s.text->tokenizer.decode(a.generated_ids, true);
  return a;
}

const RunSpec& ChatModel::spec() const { return s_->spec; }
MllmImpl& ChatModel::model() const { return *s_->model; }
const nlohmann::json& ChatModel::facts() const { return s_->facts; }

nlohmann::json to_json(const ChatAnswer& a) {
  return {{"answer", a.text},
          {"stopped", a.stopped ? "im_end" : "max_new_tokens"},
          {"prompt_tokens", a.prompt_tokens},
          {"visual_tokens", a.visual_tokens},
          {"generated_tokens", a.generated_ids.size()},
          {"image", {{"height", a.image_height}, {"width", a.image_width}}},
          {"best_resolution", {{"height", a.best_height}, {"width", a.best_width}}},
          {"crops", a.crops},
          {"preprocess_s", a.preprocess_s},
          {"ttft_s", a.ttft_s},
          {"tpot_s", a.tpot_s},
          {"input_ids", a.input_ids},
          {"generated_ids", a.generated_ids}};
}

}  // namespace laco
