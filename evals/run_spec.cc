#include "evals/run_spec.h"

#include <algorithm>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/sha256.h"
#include "harness/base/text.h"
#include "harness/base/threads.h"
#include "harness/model/checkpoint.h"
#include "harness/model/mllm.h"
#include "harness/model/placement.h"
#include "methods/registry.h"

namespace laco {

using nlohmann::json;

bool AccuracySettings::operator==(const AccuracySettings& o) const {
  return steps0 == o.steps0 && steps1 == o.steps1 && steps2 == o.steps2 && lr0 == o.lr0 && lr1 == o.lr1 &&
         lr2 == o.lr2 && curriculum == o.curriculum && batch == o.batch && test_size == o.test_size &&
         train_data == o.train_data && test_data == o.test_data && stage0_key == o.stage0_key &&
         stage0_seed == o.stage0_seed;
}

bool EfficiencySettings::operator==(const EfficiencySettings& o) const {
  return external == o.external && crops == o.crops && text_tokens == o.text_tokens && batch == o.batch &&
         train_batch == o.train_batch && warmup == o.warmup && reps == o.reps && device == o.device &&
         dtype == o.dtype && stages == o.stages && gen_tokens == o.gen_tokens &&
         memory_budget_gib == o.memory_budget_gib;
}

bool BenchmarkSettings::operator==(const BenchmarkSettings& o) const {
  return task == o.task && data == o.data && data_sha256 == o.data_sha256 && limit == o.limit &&
         questions == o.questions && max_new_tokens == o.max_new_tokens && origin == o.origin;
}

bool FinetuneSettings::operator==(const FinetuneSettings& o) const {
  return data == o.data && data_sha256 == o.data_sha256 && image_folder == o.image_folder &&
         conversations == o.conversations && stage == o.stage && train_encoder == o.train_encoder &&
         epochs == o.epochs && steps == o.steps && accumulation == o.accumulation && lr == o.lr &&
         projector_lr == o.projector_lr && compressor_lr == o.compressor_lr && vision_lr == o.vision_lr &&
         weight_decay == o.weight_decay && warmup_ratio == o.warmup_ratio && max_grad_norm == o.max_grad_norm &&
         max_length == o.max_length && shuffle == o.shuffle && activation_checkpointing == o.activation_checkpointing &&
         save_every == o.save_every && out == o.out;
}

bool RunSpec::operator==(const RunSpec& o) const {
  return preset == o.preset && method == o.method && method_options == o.method_options && layer == o.layer &&
         block_k == o.block_k && depth == o.depth && ratio == o.ratio && grid_policy == o.grid_policy &&
         init == o.init && projector == o.projector && grid_in == o.grid_in && grid_out == o.grid_out &&
         seed == o.seed && threads == o.threads && checkpoint == o.checkpoint &&
         checkpoint_sha256 == o.checkpoint_sha256 && settings == o.settings;
}

const std::string& RunSpec::eval() const {
  static const std::string kAccuracy = "accuracy", kEfficiency = "efficiency", kBenchmark = "benchmark",
                           kFinetune = "finetune";
  return is_accuracy() ? kAccuracy : is_efficiency() ? kEfficiency : is_benchmark() ? kBenchmark : kFinetune;
}

const AccuracySettings& RunSpec::accuracy() const {
  if (!is_accuracy()) fail("run {} is an {} run, not an accuracy run", label(), eval());
  return std::get<AccuracySettings>(settings);
}

const EfficiencySettings& RunSpec::efficiency() const {
  if (!is_efficiency()) fail("run {} is an {} run, not an efficiency run", label(), eval());
  return std::get<EfficiencySettings>(settings);
}

const FinetuneSettings& RunSpec::finetune() const {
  if (!is_finetune()) fail("run {} is an {} run, not a fine-tune", label(), eval());
  return std::get<FinetuneSettings>(settings);
}

const BenchmarkSettings& RunSpec::benchmark() const {
  if (!is_benchmark()) fail("run {} is an {} run, not a benchmark run", label(), eval());
  return std::get<BenchmarkSettings>(settings);
}

std::string options_label(const MethodOptions& options) {
  if (options.empty()) return "";
  std::vector<std::string> items;
  for (const auto& [k, v] : options) items.push_back(k + "=" + v);
  return "{" + join(items, ",") + "}";
}

std::string RunSpec::method_label() const {
  MethodOptions shown = method_options;
  // Not method options (the method does not read them), but as much a part of
  // what the row is: shown when they are not what the method's reference does.
  if (const MethodInfo* info = lookup_method(method)) {
    if (!init.empty() && info->has_weights() && init != to_string(info->reference_init)) shown["init"] = init;
    if (projector == "mlp2x_gelu" && info->own_projector) shown["projector"] = projector;
  }
  return method + options_label(shown);
}

std::string RunSpec::label() const {
  const bool imported = is_benchmark() && benchmark().imported();
  return fmt::format("{} {} {} (block {}/{}) r={} seed={}{}{}", eval(), method_label(), layer, block_k, depth, ratio,
                     seed, checkpoint.empty() ? "" : " model=" + checkpoint,
                     imported ? " imported from " + benchmark().origin : "");
}

std::string run_key(const std::string& eval, const json& config) {
  json c = config;
  c.erase("layer");
  c.erase("stages");
  c.erase("checkpoint_dir");  // a checkpoint is its digest: the same weights are one run wherever they live
  c.erase("benchmark_data");  // and a benchmark file is its digest
  c.erase("finetune_data");   // and so is a fine-tune's conversation file
  c.erase("save_every");      // how often a fine-tune keeps a resumable checkpoint does not change it
  return sha256_hex(eval + "\n" + c.dump()).substr(0, 16);
}

std::string RunSpec::key() const { return run_key(eval(), to_json(*this)); }

const std::vector<std::string>& projector_choices() {
  static const std::vector<std::string> choices = {"reference", "mlp2x_gelu"};
  return choices;
}

void check_projector_choice(const std::string& text, const std::string& where) {
  if (std::find(projector_choices().begin(), projector_choices().end(), text) == projector_choices().end())
    fail("{}: unknown choice '{}' (allowed: {})", where, text, join(projector_choices()));
}

MllmOptions run_model(const std::string& checkpoint, const MllmOptions& preset_model) {
  return checkpoint.empty() ? preset_model : checkpoint_model(read_checkpoint_config(checkpoint), preset_model);
}

RunSpec resolve_method_placement(const RunRequest& r, const MllmOptions& model, Compressor* built) {
  const EncoderOptions& encoder = model.encoder;
  RunSpec s;
  s.preset = r.preset;
  if (!r.model.empty()) {
    s.checkpoint = r.model;
    s.checkpoint_sha256 = checkpoint_sha256(r.model);
  }
  s.method = r.method;
  s.method_options = r.method_options;
  if (const auto& complete = find_method(r.method).complete_options) complete(s.method_options, model);
  s.layer = r.layer;
  s.depth = encoder.depth();
  s.block_k = Placement::parse(r.layer, "--layer").resolve(s.depth);
  s.ratio = r.ratio;
  s.grid_policy = r.grid_policy;
  s.seed = r.seed;
  s.threads = r.threads;
  if (r.threads < 1) fail("--threads: must be >= 1, got {}", r.threads);
  const MethodInfo& info = find_method(r.method);
  const InitScheme init = parse_init_scheme(r.init, "init");
  if (info.has_weights()) s.init = to_string(init == InitScheme::kReference ? info.reference_init : init);
  check_projector_choice(r.projector, "projector");
  if (s.external()) s.projector = info.own_projector && r.projector == "reference" ? "method" : "mlp2x_gelu";
  const auto compressor = make_run_compressor(s, model);
  const Grid grid = encoder.grid();
  compressor->check_input_grid(grid);
  if (compressor->site() == MethodSite::kInLm) {
    if (s.block_k != s.depth)
      fail("--layer: method '{}' acts inside the LM, so the encoder's tokens leave it complete: its placement is 1 "
           "(after the encoder), got {}",
           r.method, r.layer);
    const LmPrune prune = compressor->lm_prune(grid, 1);
    if (prune.after_layer >= model.lm.layers())
      fail("method '{}': option 'after_layer' must leave a layer to run on the kept tokens: 1..{} for a {}-layer LM, "
           "got {}",
           r.method, model.lm.layers() - 1, model.lm.layers(), prune.after_layer);
  }
  s.grid_in = grid.str();
  s.grid_out = compressor->output_grid(grid).str();
  if (!r.model.empty()) check_folder_method(s, read_checkpoint_config(r.model));
  if (built) *built = compressor;
  return s;
}

void check_folder_method(const RunSpec& s, const CheckpointConfig& config) {
  if (!config.compressor) return;
  const nlohmann::json& c = *config.compressor;
  const std::string method = c.at("method").get<std::string>();
  const int64_t k = c.at("block_k").get<int64_t>(), ratio = c.at("ratio").get<int64_t>();
  if (s.method != method || s.block_k != k || s.ratio != ratio)
    fail("{}: the folder holds '{}' fine-tuned after block {} at r={}, and its other weights were trained with it; a "
         "run of it is that method there (-m {} -l block:{} -r {}), not '{}' after block {} at r={}",
         config.dir, method, k, ratio, method, k, ratio, s.method, s.block_k, s.ratio);
}

RunRequest request_of(const RunSpec& run) {
  RunRequest r;
  r.preset = run.preset;
  r.model = run.checkpoint;
  r.method = run.method;
  r.method_options = run.method_options;
  r.layer = run.layer;
  r.ratio = run.ratio;
  r.grid_policy = run.grid_policy;
  r.init = run.init.empty() ? "reference" : run.init;
  r.projector = run.projector == "mlp2x_gelu" && find_method(run.method).own_projector ? "mlp2x_gelu" : "reference";
  r.seed = run.seed;
  r.threads = run.threads;
  r.allow_untrained = true;
  return r;
}

Compressor make_run_compressor(const RunSpec& run, const MllmOptions& model) {
  CompressorOptions o(model.encoder.width());
  o.ratio(run.ratio).grid_policy(run.grid_policy).block(run.block_k).depth(model.encoder.depth()).heads(model.encoder.heads());
  if (run.method_is_projector()) o.out_dim(model.lm.width());
  if (!run.init.empty()) o.init(parse_init_scheme(run.init, "init"));
  return make_compressor(run.method, o, run.method_options);
}

json load_run_checkpoint(MllmImpl& model, const RunSpec& run) {
  const CheckpointConfig config = read_checkpoint_config(run.checkpoint);
  const CheckpointLoad load = load_checkpoint(config, model);
  if (load.sha256 != run.checkpoint_sha256)
    fail("{}: the checkpoint's files changed since the run was resolved (SHA-256 {} then, {} now); resolve the run "
         "again (a new run key)",
         run.checkpoint, run.checkpoint_sha256, load.sha256);
  return to_json(config, load);
}

Compressor insert_method(Mllm& model, const RunSpec& run) {
  Compressor c = make_run_compressor(run, model->options());
  model->insert(c, run.block_k, run.method_is_projector());
  return c;
}

json to_json(const RunSpec& s) {
  json c = {{"preset", s.preset},
            {"method", s.method},
            {"method_options", json(s.method_options)},
            {"layer", s.layer},
            {"block_k", s.block_k},
            {"depth", s.depth},
            {"ratio", s.ratio},
            {"grid_policy", to_string(s.grid_policy)},
            {"grid_in", s.grid_in},
            {"grid_out", s.grid_out},
            {"seed", s.seed},
            {"threads", s.threads}};
  // Written only where they differ from what every run stored before they
  // were recorded did (trunc_normal; mlp2x_gelu after the encoder), so that
  // those runs keep their keys, and a run that differs gets a new one.
  if (!s.init.empty() && s.init != "trunc_normal") c["init"] = s.init;
  if (s.projector == "method") c["projector"] = s.projector;
  // Flat, so that `--where checkpoint=SHA256` selects a checkpoint's runs.
  if (!s.checkpoint.empty()) c.update({{"checkpoint", s.checkpoint_sha256}, {"checkpoint_dir", s.checkpoint}});
  if (const auto* a = std::get_if<AccuracySettings>(&s.settings)) {
    c.update({{"steps0", a->steps0},
              {"steps1", a->steps1},
              {"steps2", a->steps2},
              {"lr0", a->lr0},
              {"lr1", a->lr1},
              {"lr2", a->lr2},
              {"curriculum", a->curriculum},
              {"batch", a->batch},
              {"train_data", a->train_data},
              {"test_data", a->test_data},
              {"test_size", a->test_size},
              {"stage0_key", a->stage0_key}});
    if (a->stage0_seed >= 0) c["stage0_seed"] = a->stage0_seed;  // absent: per-seed stage 0, as before
  } else if (const auto* b = std::get_if<BenchmarkSettings>(&s.settings)) {
    c.update({{"task", b->task},
              {"benchmark_data", b->data},
              {"benchmark_sha256", b->data_sha256},
              {"limit", b->limit},
              {"questions", b->questions},
              {"max_new_tokens", b->max_new_tokens},
              {"origin", b->origin}});
  } else if (const auto* t = std::get_if<FinetuneSettings>(&s.settings)) {
    c.update({{"finetune_data", t->data},
              {"finetune_sha256", t->data_sha256},
              {"image_folder", t->image_folder},
              {"conversations", t->conversations},
              {"stage", t->stage},
              {"train_encoder", t->train_encoder},
              {"epochs", t->epochs},
              {"steps", t->steps},
              {"accumulation", t->accumulation},
              {"lr", t->lr},
              {"projector_lr", t->projector_lr},
              {"compressor_lr", t->compressor_lr},
              {"vision_lr", t->vision_lr},
              {"weight_decay", t->weight_decay},
              {"warmup_ratio", t->warmup_ratio},
              {"max_grad_norm", t->max_grad_norm},
              {"max_length", t->max_length},
              {"shuffle", t->shuffle},
              {"activation_checkpointing", t->activation_checkpointing},
              {"save_every", t->save_every},
              {"out", t->out}});
  } else {
    const auto& e = std::get<EfficiencySettings>(s.settings);
    c.update({{"external", e.external},
              {"crops", e.crops},
              {"text_tokens", e.text_tokens},
              {"batch", e.batch},
              {"train_batch", e.train_batch},
              {"warmup", e.warmup},
              {"reps", e.reps},
              {"device", e.device},
              {"dtype", e.dtype},
              {"stages", e.stages}});
    // Only with the decode stage, so that the keys of runs without it stay those they always had.
    if (!e.gen_tokens.empty()) c.update({{"gen_tokens", e.gen_tokens}, {"memory_budget_gib", e.memory_budget_gib}});
  }
  return c;
}

namespace {

// Reads fields of a stored configuration; errors name the source and the field.
class Fields {
 public:
  Fields(const json& c, std::string where) : c_(c), where_(std::move(where)) {
    if (!c_.is_object()) fail("{}: the configuration is not a JSON object", where_);
  }
  const json& at(const char* key, bool (json::*check)() const noexcept, const char* what) const {
    auto it = c_.find(key);
    if (it == c_.end()) fail("{}: configuration field '{}' is missing (allowed: {})", where_, key, what);
    if (!((*it).*check)()) fail("{}: configuration field '{}' is {} (allowed: {})", where_, key, it->type_name(), what);
    return *it;
  }
  std::string str(const char* key) const { return at(key, &json::is_string, "a string").get<std::string>(); }
  int64_t integer(const char* key) const { return at(key, &json::is_number_integer, "an integer").get<int64_t>(); }
  int64_t integer_in(const char* key, int64_t min, int64_t max) const {
    const auto& v = at(key, &json::is_number_integer, "an integer");
    const bool big = v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX);
    if (big || v.get<int64_t>() < min || v.get<int64_t>() > max)
      fail("{}: configuration field '{}' is {} (allowed: an integer in [{}, {}])", where_, key, v.dump(), min, max);
    return v.get<int64_t>();
  }
  double real(const char* key) const { return at(key, &json::is_number, "a number").get<double>(); }
  bool boolean(const char* key) const { return at(key, &json::is_boolean, "true or false").get<bool>(); }
  const json& object(const char* key) const { return at(key, &json::is_object, "an object"); }
  bool has(const char* key) const { return c_.contains(key); }
  const std::string& where() const { return where_; }

 private:
  const json& c_;
  std::string where_;
};

}  // namespace

RunSpec run_spec_from_json(const std::string& eval, const json& config, const std::string& where) {
  const Fields f(config, where);
  RunSpec s;
  s.preset = f.str("preset");
  s.method = f.str("method");
  for (const auto& [k, v] : f.object("method_options").items()) {
    if (!v.is_string()) fail("{}: method option '{}' is {} (allowed: a string)", where, k, v.type_name());
    s.method_options[k] = v.get<std::string>();
  }
  s.layer = f.str("layer");
  s.block_k = f.integer("block_k");
  s.depth = f.integer("depth");
  s.ratio = f.integer("ratio");
  s.grid_policy = parse_grid_policy(f.str("grid_policy"), where + ": grid_policy");
  s.grid_in = f.str("grid_in");
  s.grid_out = f.str("grid_out");
  s.seed = static_cast<uint64_t>(f.integer_in("seed", 0, kMaxSeed));
  s.threads = static_cast<int>(f.integer_in("threads", 1, kMaxThreads));
  // Absent: what runs did before these were recorded (see to_json).
  const MethodInfo* info = lookup_method(s.method);
  if (f.has("init")) {
    s.init = f.str("init");
    parse_init_scheme(s.init, where + ": init");
    if (s.init == "reference")
      fail("{}: configuration field 'init' is 'reference' (allowed: trunc_normal, torch_default)", where);
  } else if (!info || info->has_weights()) {
    s.init = "trunc_normal";
  }
  if (f.has("projector")) {
    s.projector = f.str("projector");
    if (s.projector != "method") fail("{}: configuration field 'projector' is '{}' (allowed: method)", where, s.projector);
  } else if (s.block_k == s.depth) {
    s.projector = "mlp2x_gelu";
  }
  if (f.has("checkpoint")) {
    s.checkpoint_sha256 = f.str("checkpoint");
    s.checkpoint = f.str("checkpoint_dir");
  }
  if (eval == "accuracy") {
    AccuracySettings a;
    a.steps0 = f.integer("steps0");
    a.steps1 = f.integer("steps1");
    a.steps2 = f.integer("steps2");
    a.lr0 = f.real("lr0");
    a.lr1 = f.real("lr1");
    a.lr2 = f.real("lr2");
    a.curriculum = f.real("curriculum");
    a.batch = f.integer("batch");
    a.test_size = f.integer("test_size");
    a.train_data = f.str("train_data");
    a.test_data = f.str("test_data");
    a.stage0_key = f.str("stage0_key");
    if (f.has("stage0_seed")) a.stage0_seed = f.integer_in("stage0_seed", 0, kMaxSeed);
    s.settings = a;
  } else if (eval == "efficiency") {
    EfficiencySettings e;
    e.external = f.boolean("external");
    e.crops = f.integer("crops");
    e.text_tokens = f.integer("text_tokens");
    e.batch = f.integer("batch");
    e.train_batch = f.integer("train_batch");
    e.warmup = f.integer("warmup");
    e.reps = f.integer("reps");
    e.device = f.str("device");
    e.dtype = f.str("dtype");
    if (f.has("stages")) {
      for (const auto& v : f.at("stages", &json::is_array, "an array of stage names")) {
        if (!v.is_string()) fail("{}: configuration field 'stages' holds {} (allowed: stage names)", where, v.type_name());
        e.stages.push_back(v.get<std::string>());
      }
    }
    if (f.has("gen_tokens")) {
      for (const auto& v : f.at("gen_tokens", &json::is_array, "an array of token counts")) {
        if (!v.is_number_integer() || v.get<int64_t>() < 1)
          fail("{}: configuration field 'gen_tokens' holds {} (allowed: integers >= 1)", where, v.dump());
        e.gen_tokens.push_back(v.get<int64_t>());
      }
      e.memory_budget_gib = f.real("memory_budget_gib");
    }
    s.settings = e;
  } else if (eval == "benchmark") {
    BenchmarkSettings b;
    b.task = f.str("task");
    b.data = f.str("benchmark_data");
    b.data_sha256 = f.str("benchmark_sha256");
    b.limit = f.integer_in("limit", 0, INT64_MAX);
    b.questions = f.integer_in("questions", 0, INT64_MAX);
    b.max_new_tokens = f.integer_in("max_new_tokens", 0, INT64_MAX);
    b.origin = f.str("origin");
    s.settings = b;
  } else if (eval == "finetune") {
    FinetuneSettings t;
    t.data = f.str("finetune_data");
    t.data_sha256 = f.str("finetune_sha256");
    t.image_folder = f.str("image_folder");
    t.conversations = f.integer_in("conversations", 0, INT64_MAX);
    t.stage = f.integer_in("stage", 1, 2);
    t.train_encoder = f.str("train_encoder");
    t.epochs = f.integer_in("epochs", 1, INT64_MAX);
    t.steps = f.integer_in("steps", 0, INT64_MAX);
    t.accumulation = f.integer_in("accumulation", 1, INT64_MAX);
    t.lr = f.real("lr");
    t.projector_lr = f.real("projector_lr");
    t.compressor_lr = f.real("compressor_lr");
    t.vision_lr = f.real("vision_lr");
    t.weight_decay = f.real("weight_decay");
    t.warmup_ratio = f.real("warmup_ratio");
    t.max_grad_norm = f.real("max_grad_norm");
    t.max_length = f.integer_in("max_length", 1, INT64_MAX);
    t.shuffle = f.boolean("shuffle");
    t.activation_checkpointing = f.boolean("activation_checkpointing");
    t.save_every = f.integer_in("save_every", 0, INT64_MAX);
    t.out = f.str("out");
    s.settings = t;
  } else {
    fail("{}: unknown evaluation '{}' (allowed: accuracy, efficiency, benchmark, finetune)", where, eval);
  }
  return s;
}

}  // namespace laco
