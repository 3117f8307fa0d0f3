// SynthVQA on disk: PNG images plus a JSONL file in the LLaVA conversation
// layout, one sample a line:
//   {"id": "test-000001", "image": "images/test-000001.png", "family": "color",
//    "conversations": [{"from": "human", "value": "<image>\nwhat color is the large shape ?"},
//                      {"from": "gpt", "value": "red"}]}
// The loader reads the same layout (PNG or JPEG), so users can bring their own.
#pragma once

#include <string>
#include <vector>

#include <torch/types.h>

#include "evals/synthvqa.h"

namespace laco {

/// Writes `samples` as DIR/<name>.jsonl and DIR/images/<id>.png; returns the JSONL path.
std::string export_vqa(const std::vector<VqaSample>& samples, const std::string& dir, const std::string& name);

/// Reads a JSONL file and its images (paths relative to the file). Every
/// malformed line, empty answer and missing image is collected and reported
/// together, with file and line, as one Error. Answers are normalised
/// (VqaVocabulary::normalize_answer) and may have several words; any answer is
/// accepted (a test answer the train data lacks is scored wrong, not refused).
/// `read_images` false checks the images exist but leaves them unread (the
/// vocabulary needs only the text).
std::vector<VqaSample> load_vqa(const std::string& jsonl_path, bool read_images = true);

struct VqaImageSize {
  int width = 0, height = 0;
};
/// An image's size from its header, nothing decoded: an Error naming the file
/// when it is not a regular file, not an image stb_image reads, over the
/// pixel limit (harness/base/limits.h) whatever its channels, or a PNG or
/// JPEG cut short (it lacks its closing chunk or marker).
VqaImageSize check_vqa_image(const std::string& path);
/// What a cache of something derived from a JSONL file is keyed by: its path
/// and the SHA-256 of its content (read within the data-file limit).
std::string vqa_data_identity(const std::string& path);

/// PNG/JPEG (1-4 channels, within the pixel limit: check_image) -> RGB. An Error names the file.
RgbImage read_vqa_image(const std::string& path);
void write_png(const std::string& path, const RgbImage& image);

/// Images -> [B, 1, 3, size, size] float in [-1, 1], resized bilinearly when
/// their size differs from `size`.
torch::Tensor images_to_tensor(const std::vector<const RgbImage*>& images, int64_t size);

}  // namespace laco
