#include "harness/image/llava_processor.h"

#include <array>
#include <cmath>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/json_check.h"
#include "harness/base/limits.h"
#include "harness/image/resize.h"

namespace laco {
namespace {

using nlohmann::json;

// LlavaOnevisionImageProcessor.__init__'s default pinpoints: 384 x {1..6} by {1..6}, rows first.
std::vector<Resolution> default_pinpoints() {
  std::vector<Resolution> p;
  for (int64_t i = 1; i <= 6; ++i)
    for (int64_t j = 1; j <= 6; ++j) p.push_back({384 * i, 384 * j});
  return p;
}

const std::vector<std::string> kFields = {
    "do_resize", "size", "image_grid_pinpoints", "resample", "do_rescale", "rescale_factor", "do_normalize",
    "image_mean", "image_std", "do_pad", "do_convert_rgb", "image_processor_type", "processor_class",
    // Saved by LLaVA-NeXT-era processors; LlavaOnevisionImageProcessor takes them as **kwargs and never crops.
    "crop_size", "do_center_crop"};

bool boolean(const JsonChecker& ck, const json& v, const std::string& path) {
  if (!v.is_boolean()) ck.error(path, "expected true or false, got {}", ck.describe(v));
  return v.get<bool>();
}

// image_mean / image_std: one number for every channel, or one per channel (transformers' normalize).
std::vector<double> per_channel(const JsonChecker& ck, const json& v, const std::string& path, bool positive) {
  const double min = positive ? 1e-30 : -1e30;
  const std::string allowed = positive ? "positive" : "finite";
  if (v.is_number()) {
    const double x = ck.number(v, path, min, 1e30);
    return {x, x, x};
  }
  if (!v.is_array() || v.size() != 3)
    ck.error(path, "expected a number or 3 numbers (one per RGB channel), got {} (allowed: {} numbers)", ck.describe(v),
             allowed);
  std::vector<double> out;
  for (size_t i = 0; i < 3; ++i) out.push_back(ck.number(v[i], fmt::format("{}[{}]", path, i), min, 1e30));
  return out;
}

// What process_image needs of a config, whether read from a file or built in code.
void check_config(const ImageProcessorConfig& c) {
  const std::string where = c.source.empty() ? "image processor config" : c.source;
  if (c.size < 1) fail("{}: size {} (allowed: a positive crop side)", where, c.size);
  if (c.resample != 3) fail("{}: resample {} is not supported (allowed: 3, PIL's BICUBIC)", where, c.resample);
  if (!c.do_convert_rgb)
    fail("{}: do_convert_rgb false is not supported (allowed: true; laco reads every image as RGB)", where);
  if (c.image_mean.size() != 3 || c.image_std.size() != 3)
    fail("{}: image_mean and image_std need 3 values (one per RGB channel), got {} and {}", where,
         c.image_mean.size(), c.image_std.size());
  if (c.image_grid_pinpoints.empty()) fail("{}: image_grid_pinpoints is empty (allowed: [height, width] pairs)", where);
  for (size_t i = 0; i < c.image_grid_pinpoints.size(); ++i) {
    const Resolution& p = c.image_grid_pinpoints[i];
    if (p.height < c.size || p.width < c.size || p.height % c.size || p.width % c.size)
      fail("{}: image_grid_pinpoints[{}] = [{}, {}] is not a grid of {} x {} tiles (allowed: positive multiples of "
           "size {})",
           where, i, p.height, p.width, c.size, c.size, c.size);
  }
}

}  // namespace

ImageProcessorConfig read_image_processor_config(const std::string& dir) {
  const std::string path = dir + "/preprocessor_config.json";
  const json j = read_json_file(path);
  const JsonChecker ck(path);
  ck.object(j, "$", kFields);
  ImageProcessorConfig c;
  c.source = path;
  c.image_grid_pinpoints = default_pinpoints();
  if (j.contains("image_processor_type")) {
    const std::string type = ck.string(j["image_processor_type"], "$.image_processor_type");
    if (type != "LlavaOnevisionImageProcessor")
      ck.error("$.image_processor_type",
               "'{}' is not reproduced (allowed: LlavaOnevisionImageProcessor, the slow processor resizing through "
               "Pillow)",
               type);
  }
  if (j.contains("processor_class")) ck.string(j["processor_class"], "$.processor_class");
  if (j.contains("size")) {
    // get_size_dict(size, default_to_square=False): an integer is the shortest edge.
    const json& s = j["size"];
    const std::string allowed = "{\"height\": n, \"width\": n} or {\"shortest_edge\": n} or n";
    if (s.is_number_integer()) {
      c.size = ck.integer(s, "$.size", 1, 1 << 16);
    } else if (s.is_object() && s.size() == 2 && s.contains("height") && s.contains("width")) {
      const int64_t h = ck.integer(s["height"], "$.size.height", 1, 1 << 16);
      const int64_t w = ck.integer(s["width"], "$.size.width", 1, 1 << 16);
      if (h != w)
        ck.error("$.size", "height {} and width {} differ (allowed: square crops, height = width; the tiles are "
                 "height x height)", h, w);
      c.size = h;
    } else if (s.is_object() && s.size() == 1 && s.contains("shortest_edge")) {
      c.size = ck.integer(s["shortest_edge"], "$.size.shortest_edge", 1, 1 << 16);
    } else {
      ck.error("$.size", "{} is not supported (allowed: {})", ck.describe(s), allowed);
    }
  }
  if (j.contains("image_grid_pinpoints")) {
    const json& p = ck.array(j["image_grid_pinpoints"], "$.image_grid_pinpoints", "[height, width] pairs");
    c.image_grid_pinpoints.clear();
    for (size_t i = 0; i < p.size(); ++i) {
      const std::string at = fmt::format("$.image_grid_pinpoints[{}]", i);
      if (!p[i].is_array() || p[i].size() != 2)
        ck.error(at, "expected [height, width], got {} (allowed: two positive integers)", ck.describe(p[i]));
      const Resolution s{ck.integer(p[i][0], at + "[0]", 1, 1 << 20), ck.integer(p[i][1], at + "[1]", 1, 1 << 20)};
      // The padded image is a pinpoint's pixels: bounded as an image is.
      check_input_limit(InputLimit::kImagePixels, fmt::format("{}: {}: a pinpoint of {} x {}", path, at, s.height,
                                                              s.width),
                        static_cast<uint64_t>(s.height * s.width));
      c.image_grid_pinpoints.push_back(s);
    }
  }
  if (j.contains("resample"))
    c.resample = ck.integer(j["resample"], "$.resample", 3, 3, "3, PIL's BICUBIC, the only filter reproduced");
  if (j.contains("do_resize")) c.do_resize = boolean(ck, j["do_resize"], "$.do_resize");
  if (j.contains("do_rescale")) c.do_rescale = boolean(ck, j["do_rescale"], "$.do_rescale");
  if (j.contains("rescale_factor")) c.rescale_factor = ck.number(j["rescale_factor"], "$.rescale_factor", 1e-30, 1e30);
  if (j.contains("do_normalize")) c.do_normalize = boolean(ck, j["do_normalize"], "$.do_normalize");
  if (j.contains("image_mean")) c.image_mean = per_channel(ck, j["image_mean"], "$.image_mean", false);
  if (j.contains("image_std")) c.image_std = per_channel(ck, j["image_std"], "$.image_std", true);
  if (j.contains("do_pad")) c.do_pad = boolean(ck, j["do_pad"], "$.do_pad");
  if (j.contains("do_convert_rgb")) {
    c.do_convert_rgb = boolean(ck, j["do_convert_rgb"], "$.do_convert_rgb");
    if (!c.do_convert_rgb)
      ck.error("$.do_convert_rgb", "false is not supported (allowed: true; laco reads every image as RGB)");
  }
  if (j.contains("do_center_crop")) boolean(ck, j["do_center_crop"], "$.do_center_crop");
  for (size_t i = 0; i < c.image_grid_pinpoints.size(); ++i) {
    const Resolution& p = c.image_grid_pinpoints[i];
    if (p.height % c.size || p.width % c.size)
      ck.error(fmt::format("$.image_grid_pinpoints[{}]", i),
               "[{}, {}] is not a grid of {} x {} tiles (allowed: multiples of size, {})", p.height, p.width, c.size,
               c.size, c.size);
  }
  check_config(c);
  return c;
}

Resolution select_best_resolution(int64_t height, int64_t width, const std::vector<Resolution>& pinpoints) {
  if (height < 1 || width < 1)
    fail("select_best_resolution: an image of {} x {} (allowed: positive sides)", width, height);
  // Python's arithmetic: true division (a correctly rounded double), int() truncates, the rest integers.
  bool found = false;
  Resolution best;
  int64_t max_effective = 0, min_wasted = 0;  // min_wasted starts at float('inf'): `found` stands for it
  for (const Resolution& p : pinpoints) {
    const double scale = std::min(static_cast<double>(p.width) / static_cast<double>(width),
                                  static_cast<double>(p.height) / static_cast<double>(height));
    const auto down_w = static_cast<int64_t>(static_cast<double>(width) * scale);
    const auto down_h = static_cast<int64_t>(static_cast<double>(height) * scale);
    const int64_t effective = std::min(down_w * down_h, width * height);
    const int64_t wasted = p.width * p.height - effective;
    if (effective > max_effective || (effective == max_effective && (!found || wasted < min_wasted))) {
      max_effective = effective;
      min_wasted = wasted;
      best = p;
      found = true;
    }
  }
  if (!found) fail("select_best_resolution: no pinpoints to choose from (allowed: at least one [height, width])");
  return best;
}

Resolution patch_output_size(int64_t height, int64_t width, Resolution target) {
  const double scale_w = static_cast<double>(target.width) / static_cast<double>(width);
  const double scale_h = static_cast<double>(target.height) / static_cast<double>(height);
  if (scale_w < scale_h)
    return {std::min(static_cast<int64_t>(std::ceil(static_cast<double>(height) * scale_w)), target.height),
            target.width};
  return {target.height, std::min(static_cast<int64_t>(std::ceil(static_cast<double>(width) * scale_h)), target.width)};
}

Image pad_for_patching(const Image& resized, Resolution target) {
  if (resized.height > target.height || resized.width > target.width)
    fail("pad_for_patching: an image of {} x {} does not fit in {} x {}", resized.width, resized.height, target.width,
         target.height);
  // _get_padding_size: paste_x, r_x = divmod(target_width - width, 2); (paste_x, paste_x + r_x).
  const int64_t left = (target.width - resized.width) / 2, top = (target.height - resized.height) / 2;
  Image out;
  out.width = target.width;
  out.height = target.height;
  out.rgb.assign(static_cast<size_t>(3 * target.width * target.height), 0);
  for (int64_t y = 0; y < resized.height; ++y)
    std::memcpy(out.rgb.data() + 3 * ((top + y) * target.width + left), resized.rgb.data() + 3 * y * resized.width,
                static_cast<size_t>(3 * resized.width));
  return out;
}

ProcessedImage process_image(const Image& image, const ImageProcessorConfig& config) {
  check_config(config);
  if (image.width < 1 || image.height < 1 || image.rgb.size() != static_cast<size_t>(3 * image.width * image.height))
    fail("process_image: not an RGB8 image of {} x {} ({} bytes)", image.width, image.height, image.rgb.size());
  const int64_t size = config.size;
  ProcessedImage p;
  p.height = image.height;
  p.width = image.width;
  const Resolution best = select_best_resolution(image.height, image.width, config.image_grid_pinpoints);
  p.best_height = best.height;
  p.best_width = best.width;
  p.rows = best.height / size;
  p.cols = best.width / size;
  const Resolution fit = patch_output_size(image.height, image.width, best);
  const Image padded = pad_for_patching(resize_bicubic(image, fit.width, fit.height), best);
  const Image base = resize_bicubic(image, size, size);

  // A byte's value after rescale and normalise, per channel: the same float
  // operations as transformers', once for each of the 256 bytes.
  std::array<std::array<float, 256>, 3> value{};
  for (int c = 0; c < 3; ++c) {
    const auto mean = static_cast<float>(config.image_mean[static_cast<size_t>(c)]);
    const auto sd = static_cast<float>(config.image_std[static_cast<size_t>(c)]);
    for (int v = 0; v < 256; ++v) {
      float x = static_cast<float>(v);  // normalize's astype(np.float32) when nothing rescaled
      if (config.do_rescale) x = static_cast<float>(static_cast<double>(v) * config.rescale_factor);
      if (config.do_normalize) x = (x - mean) / sd;
      value[static_cast<size_t>(c)][static_cast<size_t>(v)] = x;
    }
  }
  p.pixel_values = torch::empty({1 + p.rows * p.cols, 3, size, size}, torch::kFloat32);
  float* out = p.pixel_values.data_ptr<float>();
  const int64_t plane = size * size;
  // Crop `k` from `src` at (top, left): CHW into pixel_values[k].
  auto put = [&](int64_t k, const Image& src, int64_t top, int64_t left) {
    float* crop = out + k * 3 * plane;
    for (int64_t y = 0; y < size; ++y) {
      const uint8_t* row = src.rgb.data() + 3 * ((top + y) * src.width + left);
      for (int64_t x = 0; x < size; ++x)
        for (int64_t c = 0; c < 3; ++c)
          crop[c * plane + y * size + x] = value[static_cast<size_t>(c)][row[3 * x + c]];
    }
  };
  put(0, base, 0, 0);
  for (int64_t r = 0; r < p.rows; ++r)
    for (int64_t c = 0; c < p.cols; ++c) put(1 + r * p.cols + c, padded, r * size, c * size);
  return p;
}

}  // namespace laco
