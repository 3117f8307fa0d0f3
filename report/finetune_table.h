// The fine-tune tables of `laco report`: a released LLaVA-OneVision
// checkpoint fine-tuned with a compression method inside (`laco train`,
// evals/finetune.h), one table per conversation file (its SHA-256, the
// config's finetune_sha256): training losses on different data are not
// comparable, so fine-tunes on two files are never in one table.
//
// A row is one fine-tuned model (its out folder): fine-tunes are never pooled,
// but for the seeds of one otherwise equal configuration (everything but the
// seed, the out folder and the paths of the data file and checkpoint, whose
// digests stay), which are one row with each value's mean over the seeds and
// its 95% t interval (report/stats.h t_interval; one seed: the value). A
// seed fine-tuned twice (two out folders) keeps its runs as rows of their own.
// Nothing is ranked: one training run has no repetitions to tell noise from
// a difference. The HTML report draws each table's loss curves beside it
// (finetune_loss_charts: the training loss at every optimizer step, one line
// per run).
//
// The table registry (report/tables.cc) lists it as "finetune".
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "evals/run_record.h"
#include "report/plots.h"
#include "report/table.h"

namespace laco {

/// "finetune_DATA8": the table of the fine-tunes on the conversation file of
/// `spec` (a fine-tune's; DATA8 = the first 8 hex digits of its SHA-256).
std::string finetune_table_name(const RunSpec& spec);

/// The table of fine-tunes on one conversation file (an Error for an empty
/// list, another evaluation's run, or runs on two files). Columns: method,
/// placement (`1/4 (k=7)`), r, stage, steps x accumulation, trained
/// (conversations), first loss, final loss, step time p50, throughput
/// (tokens/s), peak RSS, checkpoint (the source's SHA-256, 8 digits), out
/// (the folder, or the seeds' folders), seeds.
Table finetune_table(const std::vector<RunRecord>& runs);

/// One table per conversation file among the fine-tunes of `runs` (others
/// are left out), by file digest; none without fine-tunes. Each belongs to
/// the `finetune` entry of the table registry.
std::vector<Table> finetune_tables(const std::vector<RunRecord>& runs);

/// Per table of finetune_tables(runs) that has a loss curve: its name and
/// the chart of the training loss at each optimizer step (the runs' series
/// "loss"), one line per run in the table's row order.
std::vector<std::pair<std::string, Chart>> finetune_loss_charts(const std::vector<RunRecord>& runs);

}  // namespace laco
