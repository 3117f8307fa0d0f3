// LLaVA-OneVision's image processor (transformers' LlavaOnevisionImageProcessor,
// the slow one every released checkpoint's preprocessor_config.json names) for
// one image, as its preprocess() runs on a single image (batch_num_images 1,
// so the image is patched, "anyres"):
//   1. the best pinpoint (select_best_resolution: the largest effective
//      resolution, then the least waste);
//   2. the image resized, aspect kept, to fit it (get_patch_output_size:
//      math.ceil, then min with the target), by Pillow's bicubic (resize.h);
//   3. padded with zeros to the pinpoint, centred, the odd pixel right or
//      below (_get_padding_size: divmod), on uint8 before rescaling;
//   4. cut into size x size tiles, row-major (divide_to_patches), after the
//      whole image resized to size x size (the base crop, crop 0);
//   5. every crop rescaled, x * rescale_factor in float64 then cast to float32
//      (image_transforms.rescale), and normalised, (x - mean) / std in float32
//      with mean and std cast to float32 (image_transforms.normalize), CHW.
// Read from transformers (v4 line): models/llava_onevision/
// image_processing_llava_onevision.py at 03eac6f6d2af7e8562113f0b78d3d2d59a7d843d,
// image_transforms.py at 000593ad84f26043f62917c541c57c4b71b9bc94,
// image_processing_utils.py (select_best_resolution) at
// 091630d58781404f2b35a7f5dff1c29bda71b549; these steps are unchanged since the
// model was added in v4.45. (v5's LlavaOnevisionImageProcessorPil takes the
// tile side from crop_size and center-crops when asked: not this.)
// tests/image/ holds pixel_values written by those steps in numpy + PIL
// (scripts/image_fixtures.py): equal to the bit.
//
// What a single image makes no use of: do_pad pads the crop count of a batch
// to its largest; do_resize resizes every crop to size again (each is already
// size x size: Pillow copies). A config this does not reproduce (resample
// other than 3, height != width, pinpoints not multiples of the size,
// do_convert_rgb false) is an Error naming the file, the field and what is
// allowed, never a guess; a field left out takes transformers' default.
//
//   const ImageProcessorConfig cfg = read_image_processor_config("ckpt");
//   const ProcessedImage p = process_image(read_image("cat.jpg"), cfg);  // p.pixel_values [crops, 3, 384, 384]
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <torch/types.h>

#include "harness/image/image.h"

namespace laco {

/// A height and a width, in that order (transformers' (height, width) tuples:
/// a pinpoint, a best or target resolution).
struct Resolution {
  int64_t height = 0, width = 0;
  bool operator==(const Resolution& o) const { return height == o.height && width == o.width; }
  bool operator!=(const Resolution& o) const { return !(*this == o); }
};

/// preprocessor_config.json of a LLaVA-OneVision checkpoint, checked.
struct ImageProcessorConfig {
  std::string source;           ///< the file it was read from ("" when built in code), for errors
  int64_t size = 384;           ///< crop side: size {"height", "width"} (equal) or {"shortest_edge"}
  std::vector<Resolution> image_grid_pinpoints;  ///< (height, width), each a multiple of size
  bool do_resize = true;
  bool do_rescale = true;
  double rescale_factor = 1.0 / 255.0;
  bool do_normalize = true;
  std::vector<double> image_mean{0.48145466, 0.4578275, 0.40821073};  ///< OPENAI_CLIP_MEAN, transformers' default
  std::vector<double> image_std{0.26862954, 0.26130258, 0.27577711};  ///< OPENAI_CLIP_STD
  bool do_convert_rgb = true;
  bool do_pad = true;
  int64_t resample = 3;  ///< PIL's BICUBIC, the only one reproduced
};

/// Usage: auto cfg = read_image_processor_config("checkpoints/llava-onevision-qwen2-0.5b-ov-hf");
/// Reads `dir`/preprocessor_config.json (within the file-size limit); a field
/// left out takes LlavaOnevisionImageProcessor's default (size 384, pinpoints
/// 384 x {1..6} by {1..6}, CLIP's mean and std, ...); an unknown field or an
/// unsupported value is an Error naming the file, the field and what is allowed.
ImageProcessorConfig read_image_processor_config(const std::string& dir);

/// One image prepared for the model.
struct ProcessedImage {
  torch::Tensor pixel_values;  ///< float32 [1 + rows * cols, 3, size, size]: the base crop, then the tiles row-major
  int64_t height = 0, width = 0;            ///< the original size (transformers' image_sizes)
  int64_t best_height = 0, best_width = 0;  ///< the chosen pinpoint
  int64_t rows = 0, cols = 0;               ///< tiles: best_height / size, best_width / size
};

/// Usage: ProcessedImage p = process_image(read_image(path), cfg);
ProcessedImage process_image(const Image& image, const ImageProcessorConfig& config);

/// transformers' select_best_resolution((height, width), pinpoints): the
/// pinpoint of the largest effective resolution (the image's pixels after
/// scaling it to fit, int() of each side, at most its own pixel count), then of
/// the least waste (pinpoint pixels less that); the first wins a tie. An Error
/// when no pinpoint has a positive effective resolution.
Resolution select_best_resolution(int64_t height, int64_t width, const std::vector<Resolution>& pinpoints);

/// transformers' get_patch_output_size: the size the image is resized to
/// before padding to `target` (the side with the smaller scale fills it; the
/// other is ceil(side x scale), at most the target's).
Resolution patch_output_size(int64_t height, int64_t width, Resolution target);

/// transformers' _pad_for_patching of an image already of patch_output_size:
/// zeros around it to `target`, centred, the odd pixel right or below.
Image pad_for_patching(const Image& resized, Resolution target);

}  // namespace laco
