// One typed, fully resolved run: what `laco run`, `laco sweep`, the results
// database and the report all hand each other. It is resolved exactly once
// (evals/registry.h), from a spec section or from command-line flags, and
// its to_json/from_json pair is the storage format: the `config` column of
// the results database and the `config` of `laco run -o json`.
//
// The run key is a hash of that JSON (less the placement's spelling and the
// list of measured stages, which were never part of it), so databases written
// by earlier versions keep counting their runs as done.
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "evals/run_request.h"
#include "harness/model/compressor.h"
#include "harness/model/encoder.h"
#include "harness/model/grid.h"

namespace laco {

class Mllm;
class MllmImpl;
struct CheckpointConfig;
struct MllmOptions;

/// The settings of an accuracy run (SynthVQA insertion protocol) after the
/// preset's values were filled in.
struct AccuracySettings {
  int64_t steps0 = 0, steps1 = 0, steps2 = 0;
  double lr0 = 0, lr1 = 0, lr2 = 0;
  double curriculum = 0;
  int64_t batch = 0;
  int64_t test_size = 0;
  /// The seed of the stage-0 model (and data) every seed's run shares; -1:
  /// each seed has its own (every run stored before it was recorded).
  int64_t stage0_seed = -1;
  std::string train_data = "synthvqa";  ///< a LLaVA-layout JSONL, or "synthvqa"
  std::string test_data = "synthvqa";
  /// A 64-bit identity of everything stage 0 depends on (evals/accuracy.h). It
  /// has been part of every accuracy run's key since the first database; the
  /// stage-0 cache itself is keyed by SHA-256.
  std::string stage0_key;

  bool operator==(const AccuracySettings& o) const;
};

/// The settings of an efficiency run after the preset's values were filled in.
struct EfficiencySettings {
  bool external = false;  ///< block_k == depth: compression after the encoder
  int64_t crops = 0, text_tokens = 0, batch = 0, train_batch = 0, warmup = 0, reps = 0;
  std::string device = "cpu";
  std::string dtype = "float32";
  /// What is measured (efficiency_stage_names()); empty in runs stored before it was recorded.
  std::vector<std::string> stages;
  /// With the decode stage: the generated tokens per request measured
  /// (ascending) and the memory budget the largest batch is computed for;
  /// empty and 0 without it (and in every run stored before it was measured).
  std::vector<int64_t> gen_tokens;
  double memory_budget_gib = 0;

  bool operator==(const EfficiencySettings& o) const;
};

/// The settings of a benchmark run (a released model answering a benchmark
/// file's questions, scored as lmms-eval scores its task) after resolution,
/// or of a run imported from lmms-eval's logs.
struct BenchmarkSettings {
  std::string task;  ///< the task type (harness/score/task.h)
  /// The benchmark JSONL as given (not part of the run key: the file is its
  /// SHA-256, wherever it lives) and the SHA-256 of its bytes.
  std::string data, data_sha256;
  int64_t limit = 0;      ///< the first `limit` questions (0: all), as lmms-eval's --limit
  int64_t questions = 0;  ///< how many the run answers (after the limit)
  int64_t max_new_tokens = 0;  ///< greedy generation's limit (the task's, unless set)
  /// "laco" (answered here) or "lmms-eval" (imported from its --log_samples output).
  std::string origin = "laco";

  bool imported() const { return origin != "laco"; }
  bool operator==(const BenchmarkSettings& o) const;
};

/// The settings of a fine-tune (evals/finetune.h) after resolution: LLaVA-
/// OneVision's recipe on a conversation JSONL, the result saved in `out`.
struct FinetuneSettings {
  /// The conversation JSONL as given (not part of the run key: the file is
  /// its SHA-256) and the folder its images are read from ("": the JSONL's).
  std::string data, data_sha256, image_folder;
  int64_t conversations = 0;  ///< in the file
  int64_t stage = 1;          ///< 1: compressor + projector; 2: + LM and image_newline
  std::string train_encoder = "none";  ///< none, after (blocks after the placement), all
  int64_t epochs = 1;
  int64_t steps = 0;         ///< optimizer steps, resolved (epochs x conversations / accumulation, unless set)
  int64_t accumulation = 1;  ///< conversations per optimizer step (micro-batch 1)
  double lr = 0, projector_lr = 0, compressor_lr = 0, vision_lr = 0;
  double weight_decay = 0, warmup_ratio = 0, max_grad_norm = 0;
  int64_t max_length = 0;  ///< positions kept after the image's expansion (LLaVA's model_max_length)
  bool shuffle = true;
  bool activation_checkpointing = true;
  /// A resumable checkpoint every this many optimizer steps (0: none); not
  /// part of the run key (it does not change the result).
  int64_t save_every = 0;
  std::string out;  ///< the fine-tuned folder written at the end
  bool operator==(const FinetuneSettings& o) const;
};

/// Usage: RunSpec s = resolve_run(...); s.eval(); s.key(); to_json(s);
struct RunSpec {
  std::string preset;
  std::string method;
  MethodOptions method_options;
  std::string layer;        ///< the placement as given: 1/4, 0.25, 1, block:7
  int64_t block_k = 0;      ///< the block it resolves to (1..depth)
  int64_t depth = 0;        ///< encoder blocks
  int64_t ratio = 2;
  GridPolicy grid_policy = GridPolicy::kPad;
  /// The scheme the method's weights start from, resolved: "trunc_normal" or
  /// "torch_default"; "" for a method without weights. Runs stored before it
  /// was recorded used trunc_normal.
  std::string init;
  /// After the encoder: "method" (the method is the projector and maps to the
  /// LM width) or "mlp2x_gelu" (the method keeps the encoder width, mlp2x_gelu
  /// follows; every run stored before it was recorded); "" inside the encoder.
  std::string projector;
  std::string grid_in, grid_out;  ///< "12x12", "6x6"
  uint64_t seed = 0;
  int threads = 2;
  /// The checkpoint folder the model comes from (RunRequest::model) and the
  /// SHA-256 of its config.json and weight files (checkpoint_sha256); both
  /// "" for the preset's random model (every run stored before they were recorded).
  std::string checkpoint, checkpoint_sha256;
  std::variant<AccuracySettings, EfficiencySettings, BenchmarkSettings, FinetuneSettings> settings;

  /// "accuracy", "efficiency", "benchmark" or "finetune": the registry name of the settings held.
  const std::string& eval() const;
  bool is_accuracy() const { return std::holds_alternative<AccuracySettings>(settings); }
  bool is_efficiency() const { return std::holds_alternative<EfficiencySettings>(settings); }
  bool is_benchmark() const { return std::holds_alternative<BenchmarkSettings>(settings); }
  bool is_finetune() const { return std::holds_alternative<FinetuneSettings>(settings); }
  const AccuracySettings& accuracy() const;      ///< an Error when it is not an accuracy run
  const EfficiencySettings& efficiency() const;  ///< an Error when it is not an efficiency run
  const BenchmarkSettings& benchmark() const;    ///< an Error when it is not a benchmark run
  const FinetuneSettings& finetune() const;      ///< an Error when it is not a fine-tune
  bool external() const { return block_k == depth; }
  bool method_is_projector() const { return projector == "method"; }

  /// The first 16 hex digits of the SHA-256 of the evaluation and the stored
  /// configuration less `layer`, `stages` (1/4 and block:7 are one run),
  /// `checkpoint_dir` (a checkpoint is its SHA-256, wherever it lives) and
  /// `benchmark_data` (so is a benchmark file).
  std::string key() const;
  /// "accuracy laco{zero_init=true} 1/4 (block 2/8) r=2 seed=0"
  std::string label() const;
  /// "laco" or "laco{zero_init=true}"; a choice that is not the method's
  /// reference shows too: "pixel_shuffle{init=trunc_normal,projector=mlp2x_gelu}".
  std::string method_label() const;

  bool operator==(const RunSpec& o) const;
  bool operator!=(const RunSpec& o) const { return !(*this == o); }
};

/// The model a run measures: the preset's, or with `checkpoint` (a folder;
/// "" for none) the parts that checkpoint holds in their shape
/// (checkpoint_model). Resolution and the run itself both build it here.
MllmOptions run_model(const std::string& checkpoint, const MllmOptions& preset_model);

/// The common fields of a run: resolves the placement against this model's
/// encoder, the initialisation and the projector, and builds the method after
/// that block, which checks the ratio, the options, the grid policy and the
/// grid now; `model` is run_model(request.model, ...), whose checkpoint it
/// records with its digest. `settings` is left for the evaluation to fill. `built`, when
/// given, receives the compressor it built for those checks (make_run_compressor's).
RunSpec resolve_method_placement(const RunRequest& request, const MllmOptions& model, Compressor* built = nullptr);

/// An Error, naming the folder and what it holds, when `config` is a folder
/// fine-tuned with a method (its laco_compressor entry) and the run is not
/// that method after that block at that ratio: its LM and projector were
/// trained with it (resolve_method_placement calls it for every run with a
/// checkpoint, so a mismatch is refused before a run is claimed).
void check_folder_method(const RunSpec& run, const CheckpointConfig& config);
/// The request a resolved run was made from, as far as the model goes
/// (method, placement, ratio, initialisation, projector, seed, threads,
/// checkpoint): resolving it again gives the same method part of the run.
/// allow_untrained is true: the run was checked when it was resolved.
RunRequest request_of(const RunSpec& run);
/// The compressor a run inserts, built as the run says (out_dim the LM width
/// when it is the projector; the run's ratio, grid policy, block and initialisation).
Compressor make_run_compressor(const RunSpec& run, const MllmOptions& model);
/// Builds that compressor and inserts it into `model` after block k, as the
/// projector when the run says so. The one way every evaluation builds a run's model.
Compressor insert_method(Mllm& model, const RunSpec& run);

/// Loads the run's checkpoint into `model` (built from run_model and with the
/// method inserted) and checks that its files are still those the run was
/// resolved with (checkpoint_sha256); the provenance JSON for the run's facts.
nlohmann::json load_run_checkpoint(MllmImpl& model, const RunSpec& run);

/// The storage format (see the file comment).
nlohmann::json to_json(const RunSpec& spec);
/// The inverse of to_json for `eval`; every field is required (a missing or
/// mistyped one is an Error naming `where`, the field and what it should be),
/// except `stages`, which runs stored before it was recorded lack.
RunSpec run_spec_from_json(const std::string& eval, const nlohmann::json& config, const std::string& where);

/// The run key of a stored configuration (same as RunSpec::key()).
std::string run_key(const std::string& eval, const nlohmann::json& config);

/// "{zero_init=true}" for method options ("" when there are none).
std::string options_label(const MethodOptions& options);

}  // namespace laco
