#include <cmath>

#include <torch/torch.h>

#include "evals/decode.h"
#include "evals/flops.h"
#include "evals/predict.h"
#include "harness/model/presets.h"
#include "harness/model/attention.h"
#include "methods/registry.h"
#include "tests/test_util.h"

namespace laco {
namespace {

// 8 px / patch 4: a 2 x 2 grid (N = 4), width 4, MLP 8.
EncoderOptions hand_encoder() { return EncoderOptions().image_size(8).patch_size(4).width(4).depth(2).heads(2).mlp_dim(8); }

TEST(FlopModel, EncoderBlockByHand) {
  // qkv 2*4*4*12 = 384, proj 2*4*4*4 = 128, fc1 2*4*4*8 = 256, fc2 2*4*8*4 = 256,
  // scores 2*4*4*4 = 128, mixing 128: 1280.
  EXPECT_DOUBLE_EQ(encoder_block_flops(hand_encoder(), 4), 1280.0);
  // Patch embedding: 4 patches, each 3*4*4 inputs to 4 outputs: 2*4*48*4.
  EXPECT_DOUBLE_EQ(patch_embed_flops(hand_encoder()), 1536.0);
}

TEST(FlopModel, LmLayerByHand) {
  // T = 3, width 4, 2 heads of 2, 1 KV head, MLP 6:
  // q 2*3*4*4 = 96, k 48, v 48, o 96, scores 2*3*3*4 = 72, mixing 72,
  // gate + up + down 3 * 2*3*4*6 = 432: 864.
  EXPECT_DOUBLE_EQ(lm_layer_flops(LmOptions().width(4).heads(2).kv_heads(1).mlp_dim(6), 3), 864.0);
  EXPECT_DOUBLE_EQ(lm_head_flops(LmOptions().width(4).vocab(10), 3), 240.0);
  EXPECT_DOUBLE_EQ(projector_flops(5, 4, 6), 2.0 * 5 * (24 + 36));
}

// vocab 50, width 16, 2 layers, 4 heads of 4, 2 KV heads (q 16, kv 8), MLP 24.
LmOptions hand_lm() { return LmOptions().vocab(50).width(16).layers(2).heads(4).kv_heads(2).mlp_dim(24); }

TEST(DecodeModel, ParametersByHandAndAsTheModulesRegisterThem) {
  // A layer: norms 2*16, q 16*16+16, k and v 2*(16*8+8), o 16*16, SwiGLU 3*16*24: 1984.
  // Tied: embedding 50*16 + 2 layers + final norm 16 = 4784; untied adds a 50 x 16 head.
  EXPECT_EQ(lm_parameters(hand_lm()), 4784);
  EXPECT_EQ(lm_parameters(hand_lm().tie_embeddings(false)), 5584);
  // Patch embedding 3*4*4*4 + 4, position 4 tokens x 4, a block 4*4 + (48+12) + (16+4) + (32+8) + (32+4) = 172.
  EXPECT_EQ(encoder_parameters(hand_encoder()), 196 + 16 + 2 * 172);
  EXPECT_EQ(projector_parameters(4, 6), 4 * 6 + 6 + 6 * 6 + 6);
  auto numel = [](const torch::nn::Module& m) {
    int64_t n = 0;
    for (const auto& p : m.parameters()) n += p.numel();
    return n;
  };
  for (bool tied : {true, false}) EXPECT_EQ(numel(*DecoderLM(hand_lm().tie_embeddings(tied))), lm_parameters(hand_lm().tie_embeddings(tied)));
  for (bool post : {false, true})
    EXPECT_EQ(numel(*VisionEncoder(hand_encoder().post_layernorm(post))), encoder_parameters(hand_encoder().post_layernorm(post)));
  MllmOptions o;
  o.encoder = hand_encoder();
  o.lm = hand_lm();
  EXPECT_EQ(numel(*Mllm(o)->projector), projector_parameters(4, 16));
  for (const auto& shape : lm_shapes())  // Qwen2-0.5B: 494 M parameters (its model card), tied
    if (shape.name == "Qwen2-0.5B") EXPECT_NEAR(static_cast<double>(lm_parameters(shape.lm)) / 1e6, 494.0, 0.5);
}

TEST(DecodeModel, StepsByHand) {
  // KV cache: keys and values, 2 layers, 2 KV heads of 4, float32: 128 bytes a position.
  EXPECT_DOUBLE_EQ(kv_bytes_per_position(hand_lm()), 128.0);
  EXPECT_DOUBLE_EQ(kv_cache_bytes(hand_lm(), 10), 1280.0);
  EXPECT_DOUBLE_EQ(kv_cache_bytes(hand_lm(), 10, 2), 640.0);
  // One step over 10 positions, per request and layer: q 2*16*16 + k, v 2*2*16*8 = 1024, o 512,
  // SwiGLU 6*16*24 = 2304, scores and mixing 2*2*10*16 = 640: 4480; 2 layers + head 2*16*50: 10560.
  const DecodeStep s = decode_step(hand_lm(), 10, 3);
  EXPECT_DOUBLE_EQ(s.flops, 3 * 10560.0);
  // Weights read once for the batch: layers 2*1984 + norm 16 + head 50*16 + 3 embedding rows of 16, float32.
  EXPECT_DOUBLE_EQ(s.weight_bytes, (3968 + 16 + 800 + 48) * 4.0);
  EXPECT_DOUBLE_EQ(s.kv_bytes, 3 * 1280.0);
  EXPECT_DOUBLE_EQ(s.intensity(), s.flops / (s.weight_bytes + s.kv_bytes));
  // After a prompt of 8, 3 tokens: 2 steps, over 9 and 10 positions (the first token ends the prefill).
  const DecodeStep sum = decode_steps(hand_lm(), 8, 3, 1);
  EXPECT_DOUBLE_EQ(sum.flops, (9280 + 128 * 9) + (9280 + 128 * 10.0));
  EXPECT_DOUBLE_EQ(sum.weight_bytes, 2 * (3968 + 16 + 800 + 16) * 4.0);
  EXPECT_DOUBLE_EQ(sum.kv_bytes, (9 + 10) * 128.0);
  EXPECT_DOUBLE_EQ(decode_steps(hand_lm(), 8, 1, 1).bytes(), 0.0) << "one token: the prefill alone";
  // Bandwidth-bound: at batch 1 far below 1 FLOP per byte; the attention's KV share stays at heads / (2 kv_heads).
  EXPECT_LT(decode_step(find_lm_shape("Qwen2-0.5B").lm, 4000, 1).intensity(), 1.0);
}

TEST(DecodeModel, MemoryBudgetByHand) {
  EXPECT_EQ(max_batch(100, 10, 30), 3);  // 10 + 3 x 30 = 100 fits exactly
  EXPECT_EQ(max_batch(100, 10, 31), 2);
  EXPECT_EQ(max_batch(40, 10, 30), 1);
  EXPECT_EQ(max_batch(39, 10, 30), 0) << "not even one request";
  EXPECT_EQ(max_batch(5, 10, 1), 0) << "the weights alone exceed the budget";
  EXPECT_EQ(max_batch(100, 10, 0), 0) << "no per-request memory: nothing to divide by";
  // Qwen2-0.5B's KV cache: 24 layers x 2 KV heads x 64 x 2 x 4 bytes = 24 KiB a position; 80 GiB less
  // 4 GiB of weights holds 76 GiB / (3700 x 24 KiB) = 897 requests of 3700 positions.
  const double kib = 1024, gib = 1024 * 1024 * kib;
  const double per = kv_cache_bytes(find_lm_shape("Qwen2-0.5B").lm, 3700);
  EXPECT_DOUBLE_EQ(per, 3700 * 24 * kib);
  EXPECT_EQ(max_batch(80 * gib, 4 * gib, per), 897);
}

TEST(FlopModel, EveryMethodByHand) {
  // C = 4, r = 2 on a 4 x 4 grid: N = 16 tokens in, N' = 4 out.
  const Grid g{4, 4};
  auto count = [&](const std::string& m, MethodOptions o = {}) {
    return make_compressor(m, CompressorOptions(4).ratio(2), o)->flops(g);
  };
  EXPECT_DOUBLE_EQ(count("none"), 0.0);
  EXPECT_DOUBLE_EQ(count("avgpool"), 64.0);                          // one add per input element
  EXPECT_DOUBLE_EQ(count("pixel_shuffle"), 2.0 * 4 * (16 * 4 + 16));  // 640
  EXPECT_DOUBLE_EQ(count("laco"), 640.0 + 64.0);                     // + the shortcut
  EXPECT_DOUBLE_EQ(count("laco", {{"residual", "false"}}), 640.0);
  // MLP over 16 tokens 2*16*(16+16) = 1024, pooling 64, depthwise 3x3 2*9*4*4 = 288.
  EXPECT_DOUBLE_EQ(count("ldpv2"), 1376.0);
  // q_proj 128, k/v MLPs 2*2*16*(16+16) = 2048, in-projection 128 + 1024,
  // scores and mixing 4*16*4 = 256, out_proj 128, output MLP 2*4*32 = 256.
  EXPECT_DOUBLE_EQ(count("tokenpacker"), 3968.0);
}

TEST(FlopModel, OddGridsCountThePaddedWork) {
  auto avg = make_compressor("avgpool", CompressorOptions(4).ratio(2));
  EXPECT_DOUBLE_EQ(avg->flops({5, 5}), 6.0 * 6 * 4);
  auto ps = make_compressor("pixel_shuffle", CompressorOptions(4).ratio(4));
  EXPECT_DOUBLE_EQ(ps->flops({27, 27}), 2.0 * 49 * (64 * 4 + 16));
}

TEST(FlopModel, StagesSplitAtBlockK) {
  MllmOptions m;
  m.encoder = EncoderOptions().image_size(16).patch_size(4).width(4).depth(4).heads(2).mlp_dim(8);  // 4 x 4 grid
  m.lm = LmOptions().vocab(10).width(4).layers(2).heads(2).kv_heads(1).mlp_dim(6);
  auto c = make_compressor("avgpool", CompressorOptions(4).ratio(2).block(1));
  const auto f = count_flops(m, c.get(), /*k=*/1, /*crops=*/3, /*text=*/5);
  EXPECT_DOUBLE_EQ(f.encoder_pre.total(), 3.0 * 1 * encoder_block_flops(m.encoder, 16));
  EXPECT_DOUBLE_EQ(f.compressor, 3.0 * 64);
  EXPECT_DOUBLE_EQ(f.encoder_post.total(), 3.0 * 3 * encoder_block_flops(m.encoder, 4));
  EXPECT_DOUBLE_EQ(f.projector, projector_flops(12, 4, 4));
  EXPECT_DOUBLE_EQ(f.lm.total(), 2.0 * lm_layer_flops(m.lm, 12 + 5));
  EXPECT_DOUBLE_EQ(f.lm_head_prefill, lm_head_flops(m.lm, 1));
  EXPECT_DOUBLE_EQ(f.lm_head_train, lm_head_flops(m.lm, 4));
  // avgpool has nothing to train: its backward is the input gradient alone (2x).
  EXPECT_FALSE(f.compressor_has_weights);
  EXPECT_DOUBLE_EQ(f.train_step(),
                   3.0 * (f.encoder() - f.compressor + f.projector + f.lm.total() + f.lm_head_train) + 2.0 * f.compressor);
  // Without a compressor every block runs on the full grid.
  const auto none = count_flops(m, nullptr, 0, 3, 5);
  EXPECT_DOUBLE_EQ(none.encoder_pre.total(), 3.0 * 4 * encoder_block_flops(m.encoder, 16));
  EXPECT_DOUBLE_EQ(none.encoder_post.total(), 0.0);
}

TEST(FlopModel, BlocksSplitWeightProductsFromAttention) {
  // The encoder block by hand above: qkv + proj + fc1 + fc2 = 1024 with a weight, scores + mixing 256.
  const auto e = encoder_block_parts(hand_encoder(), 4);
  EXPECT_DOUBLE_EQ(e.weights, 1024.0);
  EXPECT_DOUBLE_EQ(e.activations, 256.0);
  // The LM layer by hand above: 720 with a weight, 144 of attention over all 3 x 3 pairs; a kernel
  // that skips the masked half does 6 pairs: 2 * 2 * 6 * 4 = 96.
  const auto l = LmOptions().width(4).heads(2).kv_heads(1).mlp_dim(6);
  EXPECT_DOUBLE_EQ(lm_layer_parts(l, 3).weights, 720.0);
  EXPECT_DOUBLE_EQ(lm_layer_parts(l, 3).activations, 144.0);
  EXPECT_DOUBLE_EQ(lm_layer_parts(l, 3, CausalCount::kLowerTriangle).activations, 96.0);
  EXPECT_DOUBLE_EQ(lm_layer_flops(l, 3, CausalCount::kLowerTriangle), 816.0);
  EXPECT_EQ(name_of(causal_counts(), causal_count_in_use()), std::string(attention_backend()) == "sdpa"
                                                                  ? "lower_triangle"
                                                                  : "full");
}

// The model of StagesSplitAtBlockK with pixel_shuffle (which has weights)
// after block 1, 3 crops, 5 text tokens. Per part, forward FLOPs (weights,
// attention): patch embedding 3 x 6144; blocks 1 (16 tokens) 3 x (4096, 4096);
// pixel_shuffle 3 x 640; blocks 2-4 (4 tokens) 9 x (1024, 256); projector 768;
// 2 LM layers over 17 tokens 2 x (4080, 4624); head over 4 positions 320.
// All: 74 944.
TEST(FlopModel, TrainingRegimesByHand) {
  MllmOptions m;
  m.encoder = EncoderOptions().image_size(16).patch_size(4).width(4).depth(4).heads(2).mlp_dim(8);
  m.lm = LmOptions().vocab(10).width(4).layers(2).heads(2).kv_heads(1).mlp_dim(6);
  auto c = make_compressor("pixel_shuffle", CompressorOptions(4).ratio(2).block(1));
  const auto f = count_flops(m, c.get(), 1, 3, 5, false, CausalCount::kFull);
  EXPECT_DOUBLE_EQ(f.prefill() - f.lm_head_prefill + f.lm_head_train, 74944.0);
  // Every part trains: 3 x 74 944.
  EXPECT_DOUBLE_EQ(f.train_step(TrainRegime::kFull), 224832.0);
  EXPECT_DOUBLE_EQ(f.train_step(), 224832.0);
  // Encoder frozen: patch + block 1 once (18 432 + 24 576); pixel_shuffle 3x (5 760); blocks 2-4 frozen
  // after it, 2 x 9 216 + 3 x 2 304 = 25 344; projector 3x (2 304); LM 3x (3 x 17 408 = 52 224), head 3x (960).
  EXPECT_DOUBLE_EQ(f.train_step(TrainRegime::kFrozenEncoder), 129600.0);
  // Encoder and LM frozen: the LM 2 x 8 160 + 3 x 9 248 = 44 064, the head 2x (640).
  EXPECT_DOUBLE_EQ(f.train_step(TrainRegime::kFrozenEncoderLm), 121120.0);
  // With causal attention counted as the lower triangle the LM's attention is 2 x 2 448 instead of 2 x 4 624.
  const auto tri = count_flops(m, c.get(), 1, 3, 5, false, CausalCount::kLowerTriangle);
  EXPECT_DOUBLE_EQ(tri.train_step(TrainRegime::kFrozenEncoderLm), 121120.0 - 3.0 * 2 * (4624 - 2448));

  // No compressor, or one with nothing to train: the backward starts at the projector, the whole encoder is one forward.
  const auto none = count_flops(m, nullptr, 0, 3, 5, false, CausalCount::kFull);
  EXPECT_DOUBLE_EQ(none.train_step(TrainRegime::kFrozenEncoder),
                   none.encoder() + 3.0 * (none.projector + none.lm.total() + none.lm_head_train));
  auto avg = make_compressor("avgpool", CompressorOptions(4).ratio(2).block(1));
  const auto a = count_flops(m, avg.get(), 1, 3, 5, false, CausalCount::kFull);
  EXPECT_DOUBLE_EQ(a.train_step(TrainRegime::kFrozenEncoderLm),
                   a.encoder() + 3.0 * a.projector + 2.0 * a.lm.weights + 3.0 * a.lm.activations +
                       2.0 * a.lm_head_train);
  // After the encoder the frozen encoder is one forward in both frozen regimes.
  auto ext = make_compressor("pixel_shuffle", CompressorOptions(4).ratio(2).block(4));
  const auto e = count_flops(m, ext.get(), 4, 3, 5, false, CausalCount::kFull);
  EXPECT_DOUBLE_EQ(e.encoder_post.total(), 0.0);
  EXPECT_DOUBLE_EQ(e.train_step(TrainRegime::kFrozenEncoder),
                   e.encoder() + 2.0 * e.compressor + 3.0 * (e.projector + e.lm.total() + e.lm_head_train));
}

double cell(const PrintTable& t, size_t row, const std::string& column) {
  for (size_t c = 0; c < t.columns.size(); ++c)
    if (t.columns[c].name == column) return std::get<double>(t.rows.at(row).at(c));
  ADD_FAILURE() << "no column " << column;
  return 0;
}

TEST(Predict, EveryCellIsTheFlopModelsRatioToTheSameMethodAfterTheEncoder) {
  PredictRequest r;
  r.preset = "tiny";
  r.methods = {"laco", "avgpool"};
  r.layers = {"1/4", "1/2"};
  r.causal = "full";
  const auto t = predict_table(r);
  ASSERT_EQ(t.rows.size(), 4u);
  const Preset& p = find_preset("tiny");
  auto flops = [&](const std::string& method, int64_t k) {
    auto c = make_compressor(method, CompressorOptions(p.model.encoder.width()).ratio(2).block(k));
    return count_flops(p.model, c.get(), k, p.crops, p.text_tokens, false, CausalCount::kFull);
  };
  const int64_t depth = p.model.encoder.depth();
  for (size_t i = 0; i < 4; ++i) {
    const std::string method = i < 2 ? "laco" : "avgpool";
    const int64_t k = i % 2 == 0 ? 1 : 2;  // 1/4 and 1/2 of 4 blocks
    EXPECT_EQ(std::get<std::string>(t.rows[i][3]), i % 2 == 0 ? "1/4" : "1/2");
    EXPECT_EQ(std::get<std::string>(t.rows[i][4]), fmt::format("{}/{}", k, depth));
    const auto in = flops(method, k), ext = flops(method, depth);
    EXPECT_DOUBLE_EQ(cell(t, i, "prefill"), ext.prefill() / in.prefill()) << i;
    EXPECT_DOUBLE_EQ(cell(t, i, "train full"), ext.train_step() / in.train_step()) << i;
    EXPECT_DOUBLE_EQ(cell(t, i, "train frozen_encoder_lm"),
                     ext.train_step(TrainRegime::kFrozenEncoderLm) / in.train_step(TrainRegime::kFrozenEncoderLm))
        << i;
  }
}

TEST(Predict, ReproducesTheIssuesEstimatesForThePaperPresetAndQwen2Sizes) {
  // Issue 15's estimates for LaCo at 1/4 against after the encoder, paper preset, counted in full:
  // x1.73 training and x1.74 prefill with Qwen2-0.5B, x1.30 for a step with the encoder and the LM
  // frozen, about x1.11 training with a 7B-shaped LM.
  PredictRequest r;
  r.lms = {"Qwen2-0.5B", "Qwen2-7B"};
  r.methods = {"laco"};
  r.layers = {"1/4"};
  r.causal = "full";
  const auto t = predict_table(r);
  ASSERT_EQ(t.rows.size(), 2u);
  EXPECT_NEAR(cell(t, 0, "train full"), 1.73, 0.005);
  EXPECT_NEAR(cell(t, 0, "prefill"), 1.74, 0.005);
  EXPECT_NEAR(cell(t, 0, "train frozen_encoder_lm"), 1.30, 0.02);  // this model: 1.284
  EXPECT_NEAR(cell(t, 1, "train full"), 1.11, 0.01);
  // Counting the causal half only shrinks the LM's share: the speed-ups grow.
  r.causal = "lower_triangle";
  EXPECT_GT(cell(predict_table(r), 0, "prefill"), cell(t, 0, "prefill"));
}

TEST(Predict, BadRequestsNameTheFlagAndTheAllowedValues) {
  auto refused = [](const PredictRequest& r, const std::string& message) {
    try {
      predict_table(r);
      ADD_FAILURE() << "accepted; expected: " << message;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  PredictRequest r;
  r.lms = {"Qwen2-70B"};
  refused(r, "--lm: unknown LM shape 'Qwen2-70B' (allowed: Qwen2-0.5B, Qwen2-1.5B, Qwen2-7B)");
  r = {};
  r.lm_heads = 5;  // does not divide 896
  refused(r, "--lm paper's LM with heads 5: ");
  r = {};
  r.methods = {"none"};
  refused(r, "--method: none compresses nothing");
  r = {};
  r.causal = "half";
  refused(r, "--causal: unknown causal count 'half' (allowed: full, lower_triangle)");
  r = {};
  r.crops = 0;
  refused(r, "--crops: must be in 1..64");
  r = {};
  r.layers = {"2/1"};
  refused(r, "--layer");
}

std::string text_cell(const PrintTable& t, size_t row, const std::string& column) {
  for (size_t c = 0; c < t.columns.size(); ++c)
    if (t.columns[c].name == column) return std::get<std::string>(t.rows.at(row).at(c));
  ADD_FAILURE() << "no column " << column;
  return "";
}

TEST(PredictTrainHours, HoursAreSamplesTimesTheStepOverPeakTimesMfu) {
  PredictRequest r;
  r.preset = "tiny";
  r.methods = {"laco"};
  r.layers = {"1/4", "1"};
  r.causal = "full";
  r.crops = 2;
  r.text_tokens = 6;
  r.samples = 1000;
  r.device_tflops = 0.5;
  r.mfu = 0.25;
  const Preset& p = find_preset("tiny");
  auto flops = [&](const char* method, int64_t k) {
    if (!method) return count_flops(p.model, nullptr, 0, 2, 6, false, CausalCount::kFull);
    auto c = make_compressor(method, CompressorOptions(p.model.encoder.width()).ratio(2).block(k));
    return count_flops(p.model, c.get(), k, 2, 6, false, CausalCount::kFull);
  };
  const int64_t depth = p.model.encoder.depth();
  for (int64_t stage : {1, 2}) {
    r.stage = stage;
    const TrainRegime regime = stage == 1 ? TrainRegime::kFrozenEncoderLm : TrainRegime::kFrozenEncoder;
    EXPECT_EQ(train_stage_regime(stage), regime);
    const auto t = train_hours_table(r);
    ASSERT_EQ(t.rows.size(), 3u);  // none, laco at 1/4, laco after the encoder
    EXPECT_EQ(text_cell(t, 0, "method"), "none");
    EXPECT_EQ(text_cell(t, 0, "layer"), "-");
    EXPECT_EQ(text_cell(t, 1, "block"), fmt::format("1/{}", depth));
    EXPECT_EQ(text_cell(t, 2, "block"), fmt::format("{}/{}", depth, depth));
    const double steps[] = {flops(nullptr, 0).train_step(regime), flops("laco", 1).train_step(regime),
                            flops("laco", depth).train_step(regime)};
    const double none_hours = 1000.0 * steps[0] / (0.5e12 * 0.25) / 3600.0;
    for (size_t i = 0; i < 3; ++i) {
      const double hours = 1000.0 * steps[i] / (0.5 * 1e12 * 0.25) / 3600.0;
      EXPECT_NEAR(cell(t, i, "train step / sample"), steps[i] / 1e12, 1e-9 * steps[i] / 1e12) << stage << " " << i;
      EXPECT_NEAR(cell(t, i, "predicted time"), hours, 1e-9 * hours) << stage << " " << i;
      EXPECT_NEAR(cell(t, i, "vs none"), none_hours / hours, 1e-9 * none_hours / hours) << stage << " " << i;
    }
    EXPECT_GT(cell(t, 1, "vs none"), cell(t, 2, "vs none"));  // inside the encoder beats after it
    // The title states what a reviewer needs to recompute.
    for (const std::string& s : {std::string("stage ") + std::to_string(stage), name_of(train_regimes(), regime),
                                 std::string("1000 samples"), std::string("2 crops"), std::string("6 text tokens"),
                                 std::string("0.5 TFLOP/s"), std::string("0.25 MFU"), std::string("counted full")})
      EXPECT_NE(t.title.find(s), std::string::npos) << s << " not in: " << t.title;
  }
  // By hand for one number: the default device and MFU.
  EXPECT_NEAR(predicted_train_hours(2e12, 558128, 989, 0.4), 558128 * 2e12 / (989e12 * 0.4) / 3600, 1e-12);
  EXPECT_NEAR(predicted_train_hours(2e12, 558128, 989, 0.4), 0.784, 0.001);
}

TEST(PredictTrainHours, DefaultsAreLcs558kOnAnH100AtMfu04AndTheNotesSaySo) {
  const PredictRequest r;
  EXPECT_EQ(r.stage, 1);
  EXPECT_EQ(r.samples, 558128);
  EXPECT_EQ(r.device_tflops, 989.0);
  EXPECT_EQ(r.mfu, 0.4);
  PredictRequest q;
  q.preset = "tiny";
  q.methods = {"avgpool"};
  std::string notes;
  for (const auto& n : train_hours_table(q).notes) notes += n + "\n";
  for (const char* s : {"LCS-558K", "H100 SXM's dense BF16 peak", "MFU 0.4 is an assumption"})
    EXPECT_NE(notes.find(s), std::string::npos) << s << " not in:\n" << notes;
}

TEST(PredictTrainHours, BadFlagsNameTheFlagAndTheAllowedValues) {
  auto refused = [](const PredictRequest& r, const std::string& message) {
    try {
      train_hours_table(r);
      ADD_FAILURE() << "accepted; expected: " << message;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    }
  };
  PredictRequest base;
  base.preset = "tiny";
  base.methods = {"avgpool"};
  for (double mfu : {0.0, -0.1, 1.01, std::nan("")}) {
    PredictRequest r = base;
    r.mfu = mfu;
    refused(r, "--mfu: must be in (0, 1]");
  }
  PredictRequest r = base;
  r.mfu = 1;
  EXPECT_NO_THROW(train_hours_table(r));
  for (double tflops : {0.0, -5.0, std::nan(""), HUGE_VAL}) {
    r = base;
    r.device_tflops = tflops;
    refused(r, "--device-tflops: must be a finite number > 0");
  }
  for (int64_t samples : {int64_t{0}, int64_t{-3}}) {
    r = base;
    r.samples = samples;
    refused(r, "--samples: must be at least 1");
  }
  for (int64_t stage : {int64_t{0}, int64_t{3}}) {
    r = base;
    r.stage = stage;
    refused(r, "--stage: must be 1 (frozen_encoder_lm: compressor and projector train) or 2 (frozen_encoder: ");
  }
}

}  // namespace
}  // namespace laco
