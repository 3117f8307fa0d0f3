#include "evals/lmms_eval_import.h"

#include <fmt/format.h>

#include "evals/benchmark.h"
#include "evals/chat.h"
#include "harness/base/error.h"
#include "harness/base/host.h"
#include "harness/base/sha256.h"
#include "harness/model/checkpoint.h"
#include "harness/model/placement.h"
#include "harness/score/task.h"
#include "methods/registry.h"

namespace laco {

namespace {

using nlohmann::json;

// lmms-eval's model_args "pretrained=lmms-lab/llava-onevision-qwen2-0.5b-ov,conv_template=qwen_1_5" -> the pretrained value.
std::string pretrained_of(const json& config) {
  const auto it = config.find("model_args");
  if (it == config.end() || !it->is_string()) return "";
  const std::string args = it->get<std::string>();
  size_t at = 0;
  while (at <= args.size()) {
    const size_t comma = std::min(args.find(',', at), args.size());
    const std::string item = args.substr(at, comma - at);
    if (item.rfind("pretrained=", 0) == 0) return item.substr(11);
    at = comma + 1;
  }
  return "";
}

// The identity of the questions asked: the task and each sample's doc id and
// target, in order. Two imports of one benchmark (another method's lmms-eval
// run) share it, so the report pairs them; a native run's file differs.
std::string questions_identity(const LmmsEvalTaskLog& log) {
  std::string text = log.lmms_task + "\n";
  for (const auto& s : log.samples) text += fmt::format("{}\t{}\n", s.doc_id, s.target.dump());
  return sha256_hex(text);
}

}  // namespace

RunRecord import_lmms_eval(const LmmsEvalImport& in, LmmsEvalRescore* rescore_out) {
  const LmmsEvalTaskLog log = read_lmms_eval_log(in.samples, in.results);
  if (log.task.empty())
    fail("{}: lmms-eval task '{}' has no laco scorer, so it cannot be rescored (allowed: {})", in.samples,
         log.lmms_task, [] {
           std::vector<std::string> names;
           for (const auto& [lmms, laco] : lmms_eval_task_names()) names.push_back(lmms);
           return fmt::format("{}", fmt::join(names, ", "));
         }());
  const TaskType& task = find_task(log.task);
  LmmsEvalRescore rescore = rescore_lmms_eval(log, task, lmms_eval_questions(log, task, in.benchmark));
  rescore.questions_from = in.benchmark.empty() ? "the samples" : in.benchmark;

  const RunRequest& r = in.request;
  const MethodInfo& method = find_method(r.method);
  RunSpec spec;
  spec.preset = kBenchmarkPreset;
  spec.method = r.method;
  spec.method_options = r.method_options;
  int64_t depth = in.encoder_depth;
  if (!r.model.empty()) {
    depth = ChatModel::encoder_depth(r.model);
    if (in.encoder_depth > 0 && in.encoder_depth != depth)
      fail("--encoder-depth {}: the checkpoint {} has {} encoder blocks", in.encoder_depth, r.model, depth);
    spec.checkpoint = r.model;
    spec.checkpoint_sha256 = checkpoint_sha256(r.model);
  } else {
    const std::string pretrained = pretrained_of(log.config);
    // No local copy: the model is what lmms-eval loaded, by its name.
    spec.checkpoint = pretrained.empty() ? "lmms-eval" : pretrained;
    spec.checkpoint_sha256 = "lmms-eval:" + spec.checkpoint;
  }
  if (depth < 1)
    fail("--encoder-depth: the vision tower's depth places the method (LLaVA-OneVision's SigLIP: 26); give it, or "
         "--model with a local copy of the checkpoint");
  spec.layer = method.reference ? "1" : r.layer;
  spec.depth = depth;
  spec.block_k = Placement::parse(spec.layer, "--layer").resolve(depth);
  spec.ratio = method.reference ? 2 : r.ratio;
  spec.grid_policy = r.grid_policy;
  spec.seed = r.seed;
  spec.threads = 1;
  if (spec.external()) spec.projector = method.own_projector ? "method" : "mlp2x_gelu";
  BenchmarkSettings b;
  b.task = task.name;
  b.data = in.samples;
  b.data_sha256 = questions_identity(log);
  const auto limit = log.config.find("limit");
  b.limit = limit != log.config.end() && limit->is_number() ? static_cast<int64_t>(limit->get<double>()) : 0;
  b.questions = static_cast<int64_t>(log.samples.size());
  b.max_new_tokens = 0;  // lmms-eval's, as its task config says (kept in the facts)
  b.origin = "lmms-eval";
  spec.settings = b;

  RunRecord rec;
  rec.spec = spec;
  for (size_t i = 0; i < log.samples.size(); ++i) {
    const LmmsEvalSample& s = log.samples[i];
    Response resp = scored_response(rescore.questions[i], s.response, rescore.scores[i]);
    resp.id = std::to_string(s.doc_id);  // lmms-eval's doc id (the benchmark file's ids are the same)
    resp.fields = s.fields;              // lmms-eval's, as it logged them
    rec.responses.push_back(std::move(resp));
  }
  add_benchmark_metrics(rec, rescore.questions);

  json lmms = {{"samples", {{"file", log.samples_path}, {"sha256", log.samples_sha256}}},
               {"results", {{"file", log.results_path}, {"sha256", log.results_sha256}}},
               {"task", log.lmms_task},
               {"config", log.config},
               {"git_hash", log.git_hash},
               {"version", log.version},
               {"date", log.date},
               {"reported", log.results}};
  json disagreements = json::array();
  auto listed = [&](const std::vector<LmmsEvalDisagreement>& all) {
    for (const auto& d : all)
      disagreements.push_back({{"doc_id", d.doc_id}, {"line", d.line}, {"metric", d.metric},
                               {"lmms_eval", std::isnan(d.lmms_eval) ? json() : json(d.lmms_eval)},
                               {"laco", std::isnan(d.laco) ? json() : json(d.laco)}});
  };
  listed(rescore.sample_disagreements);
  listed(rescore.aggregate_disagreements);
  lmms["disagreements"] = disagreements;
  rec.facts["lmms_eval"] = lmms;
  rec.facts["imported"] = fmt::format("from lmms-eval {} ({}), rescored by laco's {} scorer", log.version.empty() ? "(version not recorded)" : log.version, log.samples_path, task.name);
  rec.provenance = Provenance::here("lmms-eval (imported)");
  rec.provenance.started_at = log.date;
  rec.provenance.finished_at = utc_now();
  if (rescore_out) *rescore_out = std::move(rescore);
  return rec;
}

}  // namespace laco
