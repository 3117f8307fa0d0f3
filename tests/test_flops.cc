#include <torch/torch.h>

#include "evals/flops.h"
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
  EXPECT_DOUBLE_EQ(f.encoder_pre, 3.0 * 1 * encoder_block_flops(m.encoder, 16));
  EXPECT_DOUBLE_EQ(f.compressor, 3.0 * 64);
  EXPECT_DOUBLE_EQ(f.encoder_post, 3.0 * 3 * encoder_block_flops(m.encoder, 4));
  EXPECT_DOUBLE_EQ(f.projector, projector_flops(12, 4, 4));
  EXPECT_DOUBLE_EQ(f.lm, 2.0 * lm_layer_flops(m.lm, 12 + 5));
  EXPECT_DOUBLE_EQ(f.lm_head_prefill, lm_head_flops(m.lm, 1));
  EXPECT_DOUBLE_EQ(f.lm_head_train, lm_head_flops(m.lm, 4));
  EXPECT_DOUBLE_EQ(f.train_step(), 3.0 * (f.encoder() + f.projector + f.lm + f.lm_head_train));
  // Without a compressor every block runs on the full grid.
  const auto none = count_flops(m, nullptr, 0, 3, 5);
  EXPECT_DOUBLE_EQ(none.encoder_pre, 3.0 * 4 * encoder_block_flops(m.encoder, 16));
  EXPECT_DOUBLE_EQ(none.encoder_post, 0.0);
}

}  // namespace
}  // namespace laco
