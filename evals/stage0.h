// Stage 0 of the accuracy protocol: the uncompressed MLLM every method is
// inserted into, trained once per configuration and cached on disk, keyed by
// what it depends on (its configuration, the stage-0 sources' SHA-256 and
// the LibTorch version). Not a stage-0 source itself: how the cache is found,
// locked and reported does not change the weights (evals/vqa_training.h does).
#pragma once

#include <cstdint>
#include <string>

#include "evals/accuracy_presets.h"
#include "evals/run_record.h"
#include "evals/run_request.h"
#include "evals/run_spec.h"
#include "evals/vqa_training.h"

namespace laco {

/// The seed of a run's stage 0 and data: its stage0_seed when shared, else its own seed.
uint64_t accuracy_data_seed(const RunSpec& run);

/// The stage-0 cache file of a run in `cache_dir`: named by the SHA-256 of
/// the configuration stage 0 depends on (preset, model, data, steps, seed,
/// and for user train data its vocabulary's size and SHA-256).
std::string stage0_cache_path(const RunSpec& run, const std::string& cache_dir);
/// Why that file cannot be reused ("" when it can; "absent" when there is
/// none): its stored key must equal the configuration plus this build's code
/// identity (stage0_sources_sha256() and the LibTorch version), else the
/// answer names what differs. A file that cannot be reused is trained again
/// and replaced, and the run says why (its `stage0_retrained` fact and a log line).
std::string stage0_cache_problem(const RunSpec& run, const std::string& cache_dir);

/// The 64-bit identity of everything stage 0 of a resolved `run` depends on
/// (AccuracySettings::stage0_key, part of every accuracy run's key): 16 hex digits.
std::string stage0_identity(const RunSpec& run);

/// Stage 0 of `run` in `model` (built by new_stage0_model from the run's data
/// seed): its weights from the cache in context.cache_dir when a file of this
/// configuration and code is there, else trained on `train` and cached (one
/// process at a time: others wait for the file and reuse it). Its facts,
/// loss and validation curves go into `record`; returns the seconds spent
/// training (0 when cached).
double pretrain_stage0(Mllm& model, const RunSpec& run, const AccuracyPreset& preset, const VqaBatches& train,
                       const RunContext& context, RunRecord& record);

}  // namespace laco
