#include "cli/predict.h"

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include "evals/flops.h"
#include "harness/base/text.h"
#include "harness/model/presets.h"
#include "harness/print/printer.h"

namespace laco {

void PredictCli::attach(CLI::App& app) {
  command = app.add_subcommand(
      "predict", "Predict, from the FLOP model alone, the speed-ups of compressing inside the encoder against after it "
      "(--decode: the decode model's speed-ups and largest batches against no compression; --train-hours: the "
      "predicted hours of a fine-tune stage)");
  auto& r = request;
  command->add_option("--preset", r.preset, "Efficiency preset: " + join(preset_names()))->capture_default_str();
  command->add_option("--lm", r.lms, "LM shapes, comma-separated: " + join(lm_shape_names()) + " (default: the preset's)")
      ->delimiter(',');
  command->add_option("--lm-width", r.lm_width, "LM hidden size (overrides the shape's)");
  command->add_option("--lm-layers", r.lm_layers, "LM layers");
  command->add_option("--lm-heads", r.lm_heads, "LM attention heads");
  command->add_option("--lm-kv-heads", r.lm_kv_heads, "LM key/value heads");
  command->add_option("--lm-mlp-dim", r.lm_mlp_dim, "LM MLP (intermediate) size");
  command->add_option("--lm-vocab", r.lm_vocab, "LM vocabulary");
  command->add_option("--crops", r.crops, "Images per request: base + crops (default: the preset's)");
  command->add_option("--text-tokens", r.text_tokens, "Text tokens per request (default: the preset's)");
  command->add_option("--method", r.methods, "Methods, comma-separated (default: every method but none)")
      ->delimiter(',');
  command->add_option("--layer", r.layers, "Placements, comma-separated")->delimiter(',')->capture_default_str();
  command->add_option("-r,--ratio", r.ratios, "Ratios, comma-separated")->delimiter(',')->capture_default_str();
  command->add_option("--causal", r.causal,
                      "How causal LM attention is counted: " + join(names_of(causal_counts())) +
                          " (default: as this build's kernel executes it, " +
                          name_of(causal_counts(), causal_count_in_use()) + ")");
  auto* decode_flag = command->add_flag(
      "--decode", decode, "Print the decode model's speed-ups and largest batches against no compression instead");
  auto* hours_flag =
      command->add_flag("--train-hours", train_hours,
                        "Print instead, with none as the reference, the training step's FLOPs per sample and the "
                        "predicted hours to train --samples samples in fine-tune stage --stage on a device of "
                        "--device-tflops at --mfu");
  hours_flag->excludes(decode_flag);
  command->add_option("--gen-tokens", r.gen_tokens, "Decode: generated tokens per request, comma-separated (default: the preset's)")
      ->delimiter(',');
  command->add_option("-b,--batch", r.batch, "Decode: requests decoded together (default: the preset's)");
  command->add_option("--memory-budget-gib", r.memory_budget_gib, "Decode: memory for the largest batch, GiB (default: the preset's)");
  command->add_option("--stage", r.stage,
                      "Train hours: fine-tune stage, 1 (frozen_encoder_lm: compressor and projector train) or 2 "
                      "(frozen_encoder: compressor, projector and LM train)")
      ->capture_default_str()
      ->needs(hours_flag);
  command->add_option("--samples", r.samples, "Train hours: samples trained (default: LCS-558K, LLaVA-OneVision's stage 1)")
      ->capture_default_str()
      ->needs(hours_flag);
  command->add_option("--device-tflops", r.device_tflops,
                      "Train hours: the device's peak, TFLOP/s, > 0 (default: 989, an H100 SXM's dense BF16 peak)")
      ->capture_default_str()
      ->needs(hours_flag);
  command->add_option("--mfu", r.mfu,
                      "Train hours: model FLOP utilisation assumed, in (0, 1] (default 0.4, an assumption: set it "
                      "from a measured step)")
      ->capture_default_str()
      ->needs(hours_flag);
  command->add_option("-o,--format", format, join(printer_formats()))->capture_default_str();
}

bool PredictCli::chosen() const { return command && command->parsed(); }

int PredictCli::run() const {
  check_printer_format(format);
  const PrintTable table =
      decode ? decode_table(request) : train_hours ? train_hours_table(request) : predict_table(request);
  fmt::print("{}", make_printer(format)->print(table));
  return 0;
}

}  // namespace laco
