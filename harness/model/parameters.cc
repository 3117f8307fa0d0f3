#include "harness/model/parameters.h"

namespace laco {

int64_t lm_layer_parameters(const LmOptions& l) {
  const int64_t w = l.width(), q = l.heads() * l.head_dim(), kv = l.kv_heads() * l.head_dim();
  return 2 * w + (w * q + q) + 2 * (w * kv + kv) + q * w + 3 * w * l.mlp_dim();
}

int64_t lm_parameters(const LmOptions& l) {
  const int64_t head = l.tie_embeddings() ? 0 : l.vocab() * l.width();
  return l.vocab() * l.width() + l.layers() * lm_layer_parameters(l) + l.width() + head;
}

int64_t encoder_parameters(const EncoderOptions& e) {
  const int64_t c = e.width(), m = e.mlp_dim(), p = e.patch_size();
  const int64_t block = 4 * c + (3 * c * c + 3 * c) + (c * c + c) + (c * m + m) + (m * c + c);
  return (e.channels() * p * p * c + c) + e.grid().tokens() * c + e.depth() * block + (e.post_layernorm() ? 2 * c : 0);
}

int64_t projector_parameters(int64_t in, int64_t out) { return in * out + out + out * out + out; }

}  // namespace laco
