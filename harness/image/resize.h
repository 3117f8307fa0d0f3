// Pillow's bicubic resize of an 8-bit RGB image, byte for byte: what
// transformers' image_transforms.resize runs (PIL's Image.resize(size,
// resample=BICUBIC), reducing_gap None, so no reduce() step first) for every
// LLaVA-OneVision crop. Pillow 9.4's libImaging/Resample.c (the same
// arithmetic through Pillow 11), rewritten:
//   - separable: a horizontal pass, then a vertical one; a pass whose size
//     does not change is skipped, and a same-size resize is a copy;
//   - each output pixel's taps: centre (x + 0.5) * in / out, support 2
//     scaled by the downscale factor (antialiasing; never below 2), bicubic
//     with a = -0.5 evaluated in double, normalised to sum 1, then rounded to
//     fixed point with 22 fractional bits (PRECISION_BITS = 32 - 8 - 2);
//   - sums in 32-bit integers from a half (1 << 21), shifted down and clipped
//     to 0..255 after each pass (the intermediate image is 8-bit too).
// tests/image/ holds Pillow's output for down- and up-scaling by integer and
// non-integer factors, one axis alone and 1 x 1, on sharp and smooth images:
// every byte equal.
//
//   const Image small = resize_bicubic(im, 384, 384);  // width, height
#pragma once

#include <cstdint>

#include "harness/image/image.h"

namespace laco {

/// Usage: Image out = resize_bicubic(in, width, height);
/// Pillow's in.resize((width, height), Image.BICUBIC); an Error unless both
/// sizes are positive (and the input is a well-formed RGB8 image).
Image resize_bicubic(const Image& in, int64_t width, int64_t height);

}  // namespace laco
