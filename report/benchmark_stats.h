// The statistics of benchmark runs (evals/benchmark.h), recomputed from the
// questions they stored (evals/response.h) with the report's bootstrap
// (report/stats.h: the same fixed-seed generator and percentiles, so a report
// regenerates byte for byte):
//
// - a run's value of a metric: `score` (the mean per-question score x 100,
//   as the run stores it) or `task_NAME`, an aggregate of its task recomputed
//   with the task's own aggregate() on the responses (MME's perception sum,
//   POPE's F1), on lmms-eval's scale;
// - its 95% interval over seeds: a two-level bootstrap, seeds resampled,
//   then within each seed the resampling units, stratified by category (each
//   category keeps its number of units, as the accuracy bootstrap keeps each
//   family's: a benchmark's categories are fixed by its design, and MME's
//   sums run over them). A unit is a question, or an image with all its
//   questions where the task's aggregate reads an image's questions together
//   (TaskType::resample_images: MME's acc+ of an image pair); an image drawn
//   twice is two images to the aggregate (the copy is renamed IMAGE#2);
// - the difference of two runs: a paired bootstrap on the questions both
//   answered (same seed and question id; whole images where images are the
//   unit), the same resampled units applied to both runs.
//
// The aggregate sees what a response stores: its id, category, image id and
// reference answers (not a question's options or task-specific fields, nor
// the per-sample fields). Callers check with reproduces() that this gives
// the run's stored value before they rely on it.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "evals/response.h"
#include "evals/run_record.h"
#include "harness/score/task.h"
#include "report/evidence.h"
#include "report/stats.h"

namespace laco {

/// The metric a benchmark table leads with: "task_" + the task's headline,
/// or "score" (the mean per-question score) when its headline is "".
std::string benchmark_headline_metric(const TaskType& task);

/// The value of `metric` on `responses`: "score" -> 100 x the mean score;
/// "task_NAME" -> the aggregate NAME of task.aggregate. An Error for no
/// responses, another metric, or an aggregate the task does not report on them.
/// Usage: benchmark_value(find_task("mme"), "task_mme_perception_score", run.responses)
double benchmark_value(const TaskType& task, const std::string& metric, const std::vector<Response>& responses);

/// Whether the run's responses give back its stored `metric` (relative
/// difference below 1e-9): false for a run without responses or without
/// that metric, or whose task's aggregate needs what a response does not store.
bool reproduces(const RunRecord& run, const std::string& metric);

/// The resampling units of `responses`: each a list of indices into them
/// (one question, or one image's questions in order when
/// task.resample_images), grouped by stratum (category), strata and units in
/// first-seen order.
std::vector<std::vector<std::vector<size_t>>> resampling_units(const TaskType& task,
                                                               const std::vector<Response>& responses);

/// The raw data behind a benchmark value: each seed's responses of one run.
struct BenchmarkEvidence {
  std::string task;    ///< the task type (harness/score/task.h)
  std::string metric;  ///< "score" or "task_NAME"
  std::map<uint64_t, std::vector<Response>> seeds;
  /// The resample means of its interval, in draw order (benchmark_stat fills
  /// them). Every interval draws the same resamples, so two runs of the same
  /// seeds and questions have their paired differences here, by subtraction.
  std::vector<double> resampled;
};

/// The two-level bootstrap interval of the mean over seeds of `metric`
/// (each seed's responses of one run): per resample the seeds are drawn with
/// replacement, then within each its units (resampling_units) stratum by stratum.
Interval benchmark_interval(const TaskType& task, const std::string& metric,
                            const std::vector<std::vector<Response>>& seeds, int resamples = kBootstrapResamples);

/// The mean over seeds of each seed's value, with its two-level bootstrap
/// interval (`resamples` resamples) and the evidence to test it against
/// another row (`evidence`, its resample means filled in).
Stat benchmark_stat(const std::shared_ptr<BenchmarkEvidence>& evidence, int resamples = kBootstrapResamples);

/// Two runs of one seed aligned on the questions both answered: a[i] and
/// b[i] are the same question id, in a's order. Where images are the unit,
/// an image either run lacks a question of is left out whole.
struct PairedResponses {
  std::vector<Response> a, b;
};
PairedResponses pair_responses(const TaskType& task, const std::vector<Response>& a, const std::vector<Response>& b);

/// The paired bootstrap interval of the mean over seeds of value(a) - value(b):
/// per resample the seeds are drawn, then within each the same units for both
/// runs (the draws of benchmark_interval: on runs of the same seeds and
/// questions, the differences of their resamples).
Interval paired_benchmark_interval(const TaskType& task, const std::string& metric,
                                   const std::vector<PairedResponses>& seeds, int resamples = kBootstrapResamples);

/// a - b on the seeds both have (n: those seeds; mean: the mean over them of
/// the difference on their paired questions) with its paired interval;
/// missing (n = 0) when they share no seed with a question in common. Runs of
/// the same seeds and questions (in the same order) whose resample means
/// benchmark_stat filled are subtracted resample by resample (the same
/// interval as paired_benchmark_interval's, at no cost).
Stat benchmark_difference(const BenchmarkEvidence& a, const BenchmarkEvidence& b,
                          int resamples = kBootstrapResamples);

/// How many of the questions a and b both answered (same seed and id, over
/// their common seeds) have the same parsed answer.
struct AnswerAgreement {
  int64_t same = 0, paired = 0;
  int seeds = 0;  ///< the seeds with a question in common
};
AnswerAgreement answer_agreement(const BenchmarkEvidence& a, const BenchmarkEvidence& b);

}  // namespace laco
