// LLaVA-OneVision's anyres packing, as transformers'
// LlavaOnevisionModel.pack_image_features lays out one image's features
// (read at transformers 4.57, models/llava_onevision/modeling_llava_onevision.py):
// the base crop's tokens first; then the tiles' tokens placed on one grid of
// rows x cols tiles, unpadded to the image's aspect (the rows or columns the
// processor's centred padding filled are cut), reduced by bilinear
// interpolation when they exceed anyres_max_N tiles' worth by more than 10%,
// and an image_newline token after each row. The processor expands `<image>`
// to exactly this count, so the count and the packing are one function pair.
//
// A compressor inside the encoder changes each tile's grid (12 x 12 at r = 2
// of SigLIP's 27 x 27 is 14 x 14 under 'pad'); the packing takes the grid
// the encoder outputs, as transformers would with its config's
// image_size // patch_size replaced by it: unpadding then cuts whole rows or
// columns of compressed tokens, in proportion, and the anyres_max_N limit is
// N tiles of the compressed grid.
#pragma once

#include <cstdint>

#include <torch/types.h>

#include "harness/model/grid.h"

namespace laco {

/// One image's anyres layout: its size and the tiles the processor cut.
struct AnyresLayout {
  int64_t height = 0, width = 0;  ///< the original image (image_sizes)
  int64_t rows = 0, cols = 0;     ///< tiles of its best resolution
  int64_t max_tiles = 9;          ///< vision_aspect_ratio "anyres_max_N"
};

/// The tiles' packed grid before the newlines.
struct AnyresShape {
  int64_t unpadded_h = 0, unpadded_w = 0;  ///< after unpad_image
  int64_t h = 0, w = 0;                    ///< after the anyres_max_N reduction (equal when none)
  bool reduced() const { return h != unpadded_h || w != unpadded_w; }
};

/// The packed grid for tiles of `tile` tokens each. Usage: anyres_shape({4, 4}, {37, 61, 1, 2, 9})
AnyresShape anyres_shape(Grid tile, const AnyresLayout& layout);
/// Tokens of the packed image: the base crop's, the tiles', and one newline per row when `newline`.
int64_t anyres_tokens(Grid tile, const AnyresLayout& layout, bool newline = true);

/// crops [1 + rows * cols, tile.tokens(), D] (base first, tiles row-major,
/// each token-row-major) -> [anyres_tokens(...), D]; `newline` [D], or
/// undefined for no newline tokens.
torch::Tensor pack_anyres(const torch::Tensor& crops, Grid tile, const AnyresLayout& layout,
                          const torch::Tensor& newline);

}  // namespace laco
