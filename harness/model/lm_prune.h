// Visual-token pruning inside the LM (FastV, Chen et al., ECCV 2024): after
// layer K, only the visual positions the last prompt position attends to
// most stay; the later layers hold and see only them, at their original
// positions. Its own header because the LM executes it and the methods
// (harness/model/compressor.h) describe it.
#pragma once

#include <cstdint>

namespace laco {

/// Usage: LmPrune{2, 0, 729, 196} keeps 196 of the 729 visual positions 0..728 after layer 2.
struct LmPrune {
  int64_t after_layer = 0;  ///< K in 1..layers - 1; 0: no pruning
  int64_t start = 0;        ///< the first visual position of the prompt
  int64_t count = 0;        ///< visual positions start..start + count - 1
  int64_t keep = 0;         ///< how many of them layers K + 1.. keep (1..count)

  bool active() const { return after_layer > 0; }
  int64_t dropped() const { return active() ? count - keep : 0; }
  /// Positions layer `layer` (1-based) holds of a prompt of `prompt` positions.
  int64_t positions(int64_t layer, int64_t prompt) const { return layer > after_layer && active() ? prompt - dropped() : prompt; }
};

}  // namespace laco
