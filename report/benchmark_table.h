// The benchmark tables of `laco report`: released-checkpoint runs on a
// benchmark file (evals/benchmark.h), one table per task, benchmark file
// (its SHA-256), checkpoint (its SHA-256) and --limit, so that runs that
// differ in anything but the method, its placement and ratio, and the seed
// are never in one table. A row is a method at a placement and ratio (seeds
// pooled; a run imported from lmms-eval is a row of its own), with:
//
// - the task's headline (MME's perception sum, POPE's F1, else the mean
//   per-question score) recomputed from the stored responses, mean over seeds
//   [95% two-level bootstrap interval] (report/benchmark_stats.h);
// - its difference to `none` of the same origin on the same questions
//   [95% paired bootstrap interval], the share of those questions whose
//   parsed answer is unchanged, and how many were paired;
// - mean visual tokens per question, TTFT p50 and p90 (from the responses;
//   "-" for imported runs, which have no costs), questions and seeds.
//
// Bold marks the best headline and every one not significantly different
// from it (the paired bootstrap, Table::mark_best); `none` is not ranked.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "evals/run_record.h"
#include "report/table.h"

namespace laco {

/// What identifies a benchmark table: task, benchmark file SHA-256, checkpoint SHA-256, limit.
struct BenchmarkTableKey {
  std::string task, data_sha256, checkpoint_sha256;
  int64_t limit = 0;

  bool operator<(const BenchmarkTableKey& o) const;
  bool operator==(const BenchmarkTableKey& o) const;
};
/// The key of a benchmark run (an Error for another evaluation's run).
BenchmarkTableKey benchmark_table_key(const RunSpec& spec);

/// The table of one key's runs, all of `runs` having that key (an Error
/// otherwise). Runs of one origin that differ in more than the method, its
/// placement and ratio, and the seed (max_new_tokens, threads, ...) are
/// refused with an Error naming the fields and their values.
Table benchmark_table(const std::vector<RunRecord>& runs);

/// One table per key among the benchmark runs of `runs` (others are left
/// out), in key order; none without benchmark runs. Each is named
/// benchmark_TASK_FILE8_CHECKPOINT8[_limitN] (the digests' first 8 hex
/// digits) and belongs to the `benchmark` entry of the table registry.
std::vector<Table> benchmark_tables(const std::vector<RunRecord>& runs);

}  // namespace laco
