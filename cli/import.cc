#include "cli/import.h"

#include <cmath>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/run.h"
#include "harness/base/error.h"
#include "harness/base/text.h"
#include "harness/model/placement.h"
#include "results/store.h"

namespace laco {

void ImportCli::attach(CLI::App& app) {
  command = app.add_subcommand("import", "Bring in results measured elsewhere as runs of the results database");
  command->require_subcommand(1);
  lmms_eval = command->add_subcommand(
      "lmms-eval", "An lmms-eval run's --log_samples output (one task's samples file and the run's results file), "
                   "rescored by laco's scorer for the task, as a benchmark run marked imported");
  auto* c = lmms_eval;
  c->add_option("--samples", import.samples, "lmms-eval's <date>_samples_<task>.jsonl")->required();
  c->add_option("--results", import.results, "lmms-eval's <date>_results.json of the same run")->required();
  c->add_option("--data", import.benchmark,
                "laco's benchmark JSONL with the task's questions, ids = lmms-eval doc ids (needed beyond MME and POPE, "
                "whose samples hold what scoring needs)");
  c->add_option("-m,--method", import.request.method, "The method the lmms-eval run had inside (lmms-eval does not know)")
      ->required();
  c->add_option("-l,--layer", import.request.layer, "Its placement: " + join(standard_placements()) + ", 0.25, block:K")->capture_default_str();
  c->add_option("-r,--ratio", import.request.ratio, "Its ratio")->capture_default_str();
  c->add_option("--option", options, "Method option KEY=VALUE (repeatable)");
  c->add_option("--model", import.request.model,
                "A local copy of the checkpoint lmms-eval ran: the encoder depth and the SHA-256 come from it");
  c->add_option("--encoder-depth", import.encoder_depth,
                "The vision tower's blocks, to place the method without --model (LLaVA-OneVision's SigLIP: 26)");
  c->add_option("--seed", import.request.seed, "The seed of the lmms-eval run (repeated runs of one configuration)")
      ->capture_default_str();
  c->add_option("--db", db, "Results database")->capture_default_str();
}

bool ImportCli::chosen() const { return command && command->parsed(); }

int ImportCli::run() {
  import.request.method_options = parse_method_options(options);
  LmmsEvalRescore rescore;
  RunRecord rec = import_lmms_eval(import, &rescore);
  const std::string key = rec.spec.key();

  ResultStore store(db, true);
  const auto states = store.states({key});
  if (states.count(key) && states.at(key).status == "done")
    fail("{}: run {} ({}) is there already: these samples, with this method, placement, ratio and seed, were imported "
         "before (allowed: another --seed for another lmms-eval run of one configuration, or another --db)",
         db, key, rec.spec.label());
  PlannedRun planned{key, rec.spec, {"lmms-eval"}};
  store.register_runs("lmms-eval-import", {planned});
  if (store.claim({key}, "").empty()) fail("{}: run {} is held by another process", db, key);
  try {
    store.record_done({{key, rec}});
  } catch (...) {
    store.release({key});
    throw;
  }

  const auto& lmms = rec.facts.at("lmms_eval");
  fmt::print("imported {} questions of lmms-eval task {} as run {} ({}) into {}\n", rec.responses.size(),
             lmms.at("task").get<std::string>(), key, rec.spec.label(), db);
  fmt::print("lmms-eval {} git {} model {} ({})\n", lmms.at("version").get<std::string>(),
             lmms.at("git_hash").get<std::string>(), lmms.at("config").value("model", std::string("?")),
             lmms.at("config").value("model_args", std::string("?")));
  fmt::print("rescored with laco's {} scorer (questions from {}):\n", rec.spec.benchmark().task,
             rescore.questions_from);
  for (const auto& m : rescore.aggregates) {
    const auto reported = lmms.at("reported").find(m.name);
    fmt::print("  {:<28} laco {:<12} lmms-eval {}\n", m.name, fmt::format("{:.6g}", m.value),
               reported == lmms.at("reported").end() ? std::string("-") : fmt::format("{:.6g}", reported->get<double>()));
  }
  const size_t n = rescore.sample_disagreements.size() + rescore.aggregate_disagreements.size();
  if (n == 0) {
    fmt::print("every question's score and every aggregate agree with lmms-eval's\n");
    return 0;
  }
  fmt::print("{} disagreement(s) with lmms-eval's scores (kept in the run's facts; the stored scores are laco's):\n", n);
  auto shown = [](double v) { return std::isnan(v) ? std::string("-") : fmt::format("{:.6g}", v); };
  for (const auto& d : rescore.sample_disagreements)
    fmt::print("  doc_id {} (line {}) {}: lmms-eval {}, laco {}\n", d.doc_id, d.line, d.metric, shown(d.lmms_eval),
               shown(d.laco));
  for (const auto& d : rescore.aggregate_disagreements)
    fmt::print("  aggregate {}: lmms-eval {}, laco {}\n", d.metric, shown(d.lmms_eval), shown(d.laco));
  return 0;
}

}  // namespace laco
