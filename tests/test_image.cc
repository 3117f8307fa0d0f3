// harness/image against its references: Pillow 9.4 (Debian 12's python3-pil,
// with the libjpeg-turbo laco links) for decoding and bicubic resizing, and
// transformers' LlavaOnevisionImageProcessor written out in numpy + PIL for
// pixel_values (tests/image/, scripts/image_fixtures.py). Every comparison is
// exact: decoded and resized bytes equal, pixel_values equal to the bit (the
// task allows 1/255 in bytes and 1/255/std in pixel values; none is used, and
// the largest difference is printed). Then what must be an error: files laco
// does not reproduce, corrupt, truncated and mutated files (an Error or the
// file's own pixels, never a crash), files over the byte and pixel limits, and
// preprocessor_config.json fields it does not support.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include <nlohmann/json.hpp>

#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/safetensors.h"
#include "harness/image/image.h"
#include "harness/image/llava_processor.h"
#include "harness/image/resize.h"
#include "tests/test_util.h"

namespace laco {
namespace {

using nlohmann::json;

const std::string kDir = LACO_SOURCE_DIR "/tests/image";

struct Fixtures {
  json cases;
  SafeTensors refs;
};

const Fixtures& fixtures() {
  static const Fixtures f{json::parse(test::read_file(kDir + "/cases.json")),
                          SafeTensors::load(kDir + "/references.safetensors")};
  return f;
}

// Sets an environment variable for the scope of a test.
struct ScopedEnv {
  std::string name;
  ScopedEnv(std::string n, const std::string& value) : name(std::move(n)) { ::setenv(name.c_str(), value.c_str(), 1); }
  ~ScopedEnv() { ::unsetenv(name.c_str()); }
};

// The largest |a - b| over the bytes of `im` and a U8 [h, w, 3] reference; -1 when the sizes differ.
int max_byte_diff(const Image& im, const torch::Tensor& ref) {
  if (ref.dim() != 3 || ref.size(0) != im.height || ref.size(1) != im.width || ref.size(2) != 3) return -1;
  const auto r = ref.contiguous();
  const uint8_t* p = r.data_ptr<uint8_t>();
  int worst = 0;
  for (size_t i = 0; i < im.rgb.size(); ++i) worst = std::max(worst, std::abs(int(im.rgb[i]) - int(p[i])));
  return worst;
}

TEST(ImageDecode, EveryFileIsPillowsRgbByteForByte) {
  const Fixtures& f = fixtures();
  int files = 0, jpegs = 0;
  for (const auto& c : f.cases["decode"]) {
    const std::string file = c["file"];
    SCOPED_TRACE(file + " (" + c["what"].get<std::string>() + ", Pillow mode " + c["pillow_mode"].get<std::string>() +
                 ")");
    const Image im = read_image(kDir + "/" + file);
    const int diff = max_byte_diff(im, f.refs.get(c["tensor"]));
    EXPECT_EQ(diff, 0) << "largest byte difference from Pillow (-1: another size, " << im.width << " x " << im.height
                       << ")";
    ++files;
    jpegs += file.size() > 4 && file.substr(file.size() - 4) == ".jpg";
  }
  EXPECT_EQ(files, 20);
  EXPECT_EQ(jpegs, 7) << "baseline 4:2:0, 4:2:2, 4:4:4, progressive, gray and odd sizes";
}

TEST(ImageDecode, RefusesWhatItDoesNotReproduce) {
  test::expect_error([] { read_image(kDir + "/rgb16.png"); },
                     {kDir + "/rgb16.png: a 16-bit PNG is not read", "allowed: 1, 2, 4 or 8 bits"});
  test::expect_error([] { read_image(kDir + "/cmyk.jpg"); },
                     {kDir + "/cmyk.jpg: a JPEG of 4 components in", "is not read",
                      "allowed: 1 component, gray; 3 components, YCbCr or RGB"});
  test::expect_error([] { decode_image("GIF89a\x01\x00\x01\x00", "a.gif"); },
                     {"a.gif: a GIF (allowed: PNG, JPEG)"});
  test::expect_error([] { decode_image("", "empty.png"); }, {"empty.png: empty (allowed: PNG, JPEG)"});
  test::expect_error([] { decode_image("hello, world", "x.png"); },
                     {"x.png: not an image laco reads (it starts with bytes 68 65 6c 6c 6f 2c 20 77)"});
  const std::string dir = test::temp_dir("image_missing");
  test::expect_error([&] { read_image(dir + "/none.png"); }, {dir + "/none.png"});
}

TEST(ImageDecode, CorruptAndTruncatedFilesAreErrors) {
  const std::string jpeg = read_file_bytes(kDir + "/photo_420.jpg");
  const std::string progressive = read_file_bytes(kDir + "/photo_progressive.jpg");
  const std::string png = read_file_bytes(kDir + "/photo.png");
  test::expect_error([&] { decode_image(jpeg.substr(0, jpeg.size() / 2), "half.jpg"); },
                     {"half.jpg: corrupt or truncated JPEG", "the file is truncated"});
  test::expect_error([&] { decode_image(progressive.substr(0, progressive.size() * 2 / 3), "p.jpg"); },
                     {"p.jpg: corrupt or truncated JPEG", "the file is truncated"});
  test::expect_error([&] { decode_image(jpeg.substr(0, 40), "head.jpg"); }, {"head.jpg: corrupt JPEG (libjpeg: "});
  test::expect_error([&] { decode_image(png.substr(0, png.size() / 2), "half.png"); },
                     {"half.png: corrupt or truncated PNG (libpng: the file is truncated)"});
  std::string bad_crc = png;
  const size_t idat = bad_crc.find("IDAT") + 10;  // a byte of the image data: its chunk's checksum fails
  bad_crc[idat] = static_cast<char>(bad_crc[idat] ^ 0x10);
  test::expect_error([&] { decode_image(bad_crc, "crc.png"); }, {"crc.png: corrupt or truncated PNG (libpng: "});
  test::expect_error([&] { decode_image(png.substr(0, 20), "short.png"); },
                     {"short.png: corrupt PNG (no IHDR chunk first)"});
}

// Every prefix of a file and random byte flips: an Error, or an image; a
// prefix's image must be the whole file's (a PNG decodes once its image data
// is complete, as Pillow's does). Never a crash, an exit or a hang.
TEST(ImageDecode, PrefixesAndMutationsAreErrorsOrTheirOwnPixels) {
  for (const std::string file : {"gray.jpg", "photo_progressive.jpg", "palette4.png", "interlaced.png"}) {
    SCOPED_TRACE(file);
    const std::string bytes = read_file_bytes(kDir + "/" + file);
    const Image whole = decode_image(bytes, file);
    int decoded = 0, refused = 0;
    for (size_t n = 0; n < bytes.size(); n += 1 + n / 64) {
      try {
        const Image im = decode_image(bytes.substr(0, n), file);
        EXPECT_TRUE(im.rgb == whole.rgb) << "a prefix of " << n << " bytes decoded to other pixels";
        ++decoded;
      } catch (const Error&) {
        ++refused;
      }
    }
    EXPECT_GT(refused, 10);
    std::mt19937 rng(7);
    for (int k = 0; k < 150; ++k) {
      std::string m = bytes;
      for (int flips = 0; flips < 3; ++flips) m[rng() % m.size()] = static_cast<char>(rng());
      try {
        const Image im = decode_image(m, file);
        EXPECT_EQ(im.rgb.size(), static_cast<size_t>(3 * im.width * im.height));
      } catch (const Error&) {
      }
    }
  }
}

TEST(ImageDecode, LimitsAreCheckedBeforeDecoding) {
  const std::string photo = kDir + "/photo.png";
  {
    ScopedEnv env("LACO_MAX_FILE_BYTES", "1000");
    test::expect_error([&] { read_image(photo); },
                       {photo + ": 5467 bytes is more than the limit of 1000 bytes",
                        "raise it with LACO_MAX_FILE_BYTES=N"});
  }
  {
    ScopedEnv env("LACO_MAX_IMAGE_PIXELS", "3000");
    test::expect_error([&] { read_image(photo); },
                       {photo + ": image of 64 x 48: 3072 pixels is more than the limit of 3000 pixels",
                        "LACO_MAX_IMAGE_PIXELS=N"});
    test::expect_error([&] { read_image(kDir + "/photo_420.jpg"); },
                       {kDir + "/photo_420.jpg: image of 64 x 48: 3072 pixels is more than the limit"});
  }
  // Headers that ask for 20000 x 20000 and 60000 x 50000: refused from the header, nothing allocated for them.
  std::string png = read_file_bytes(kDir + "/gray.png");
  for (int i = 0; i < 2; ++i) {
    const uint32_t v = 20000;
    for (int b = 0; b < 4; ++b)
      png[static_cast<size_t>(16 + 4 * i + b)] = static_cast<char>((v >> (24 - 8 * b)) & 0xff);
  }
  test::expect_error([&] { decode_image(png, "bomb.png"); },
                     {"bomb.png: image of 20000 x 20000: 400000000 pixels is more than the limit",
                      "LACO_MAX_IMAGE_PIXELS"});
  std::string jpeg = read_file_bytes(kDir + "/gray.jpg");
  const size_t sof = jpeg.find("\xff\xc0");
  ASSERT_NE(sof, std::string::npos);
  jpeg[sof + 5] = static_cast<char>(50000 >> 8), jpeg[sof + 6] = static_cast<char>(50000 & 0xff);  // height
  jpeg[sof + 7] = static_cast<char>(60000 >> 8), jpeg[sof + 8] = static_cast<char>(60000 & 0xff);  // width
  test::expect_error([&] { decode_image(jpeg, "bomb.jpg"); },
                     {"bomb.jpg: image of 60000 x 50000: 3000000000 pixels is more than the limit"});
}

TEST(ImageResize, PillowBicubicByteForByte) {
  const Fixtures& f = fixtures();
  int cases = 0, worst = 0;
  for (const auto& c : f.cases["resize"]) {
    const std::string src = c["source"];
    const auto w = c["width"].get<int64_t>(), h = c["height"].get<int64_t>();
    SCOPED_TRACE(fmt::format("{} to {} x {}", src, w, h));
    const Image in = read_image(kDir + "/" + src);
    const int diff = max_byte_diff(resize_bicubic(in, w, h), f.refs.get(c["tensor"]));
    EXPECT_EQ(diff, 0) << "largest byte difference from Pillow (-1: another size)";
    worst = std::max(worst, diff);
    ++cases;
  }
  EXPECT_EQ(cases, 25);
  std::printf("[ resize ] %d resizes, largest byte difference from Pillow: %d\n", cases, worst);
}

TEST(ImageResize, ASameSizeResizeIsACopyAndSizesMustBePositive) {
  const Image in = read_image(kDir + "/sharp.png");
  EXPECT_TRUE(resize_bicubic(in, in.width, in.height).rgb == in.rgb);
  test::expect_error([&] { resize_bicubic(in, 0, 5); }, {"cannot resize to 0 x 5"});
  test::expect_error([] { resize_bicubic(Image{2, 2, {}}, 4, 4); }, {"not an RGB8 image of 2 x 2 (0 bytes)"});
}

TEST(ImageProcessor, PinpointsAndResizeSizesAsTransformersChoosesThem) {
  std::vector<Resolution> pinpoints;
  for (int64_t i = 1; i <= 6; ++i)
    for (int64_t j = 1; j <= 6; ++j) pinpoints.push_back({384 * i, 384 * j});
  const auto& rows = fixtures().cases["best_resolution"]["rows"];
  ASSERT_EQ(rows.size(), 80u);
  for (const auto& r : rows) {
    const auto h = r[0].get<int64_t>(), w = r[1].get<int64_t>();
    SCOPED_TRACE(fmt::format("{} x {} (height x width)", h, w));
    const Resolution best = select_best_resolution(h, w, pinpoints);
    EXPECT_EQ(best, (Resolution{r[2].get<int64_t>(), r[3].get<int64_t>()}));
    EXPECT_EQ(patch_output_size(h, w, best), (Resolution{r[4].get<int64_t>(), r[5].get<int64_t>()}));
  }
  // By hand: 480 x 640 fits 768 x 768 at scale 1.2 (576 x 768, more than its own pixels), 768 x 1152 wastes more.
  EXPECT_EQ(select_best_resolution(480, 640, pinpoints), (Resolution{768, 768}));
  EXPECT_EQ(patch_output_size(480, 640, {768, 768}), (Resolution{576, 768}));
  // A tie on both goes to the first pinpoint.
  EXPECT_EQ(select_best_resolution(10, 10, {{20, 30}, {30, 20}}), (Resolution{20, 30}));
  test::expect_error([] { select_best_resolution(10, 10, {}); }, {"no pinpoints"});
}

TEST(ImageProcessor, PaddingIsCentredWithTheOddPixelAfter) {
  const Image in{3, 2, std::vector<uint8_t>(18, 200)};
  const Image out = pad_for_patching(in, {5, 6});  // 3 more rows: 1 above, 2 below; 3 more columns: 1 left, 2 right
  ASSERT_EQ(out.width, 6);
  ASSERT_EQ(out.height, 5);
  for (int64_t y = 0; y < 5; ++y)
    for (int64_t x = 0; x < 6; ++x) {
      const bool inside = y >= 1 && y < 3 && x >= 1 && x < 4;
      EXPECT_EQ(out.rgb[static_cast<size_t>(3 * (y * 6 + x))], inside ? 200 : 0) << x << ", " << y;
    }
  test::expect_error([&] { pad_for_patching(in, {1, 6}); }, {"does not fit"});
}

TEST(ImageProcessor, PixelValuesAsTransformersToTheBit) {
  const Fixtures& f = fixtures();
  const auto& process = f.cases["process"];
  const ImageProcessorConfig cfg = read_image_processor_config(kDir + "/" + process["config"].get<std::string>());
  EXPECT_EQ(cfg.size, 24);
  EXPECT_EQ(cfg.image_grid_pinpoints.size(), 36u);
  // The task's tolerance: a byte (1/255) through normalisation (1/std).
  const double tolerance = 1.0 / 255.0 / 0.5;
  double worst = 0;
  for (const auto& c : process["cases"]) {
    const std::string file = c["file"], prefix = c["prefix"];
    SCOPED_TRACE(file);
    const ProcessedImage p = process_image(read_image(kDir + "/" + file), cfg);
    const auto ref = f.refs.get(prefix + ".pixel_values");
    EXPECT_EQ((std::vector<int64_t>{p.height, p.width}), c["image_size"].get<std::vector<int64_t>>());
    EXPECT_EQ((std::vector<int64_t>{p.best_height, p.best_width}), c["best_resolution"].get<std::vector<int64_t>>());
    EXPECT_EQ((std::vector<int64_t>{p.rows, p.cols}), c["grid"].get<std::vector<int64_t>>());
    EXPECT_EQ(f.refs.get(prefix + ".best_resolution")[0].item<int64_t>(), p.best_height);
    ASSERT_EQ(p.pixel_values.sizes(), ref.sizes());
    ASSERT_EQ(p.pixel_values.scalar_type(), torch::kFloat32);
    const double diff = (p.pixel_values.to(torch::kFloat64) - ref.to(torch::kFloat64)).abs().max().item<double>();
    EXPECT_LE(diff, tolerance);
    EXPECT_EQ(diff, 0.0) << "pixel_values differ from transformers' (within the tolerance, but not equal)";
    worst = std::max(worst, diff);
  }
  std::printf("[ processor ] largest |pixel_values - transformers'|: %g (tolerance %g)\n", worst, tolerance);
}

// Writes `json_text` as dir/preprocessor_config.json and reads it back.
ImageProcessorConfig config_of(const std::string& dir, const std::string& json_text) {
  test::write_file(dir + "/preprocessor_config.json", json_text);
  return read_image_processor_config(dir);
}

TEST(ImageProcessor, ConfigDefaultsAndTheFieldsItRefuses) {
  const std::string dir = test::temp_dir("image_config");
  const std::string file = dir + "/preprocessor_config.json";
  const ImageProcessorConfig d = config_of(dir, "{}");
  EXPECT_EQ(d.size, 384);
  EXPECT_EQ(d.image_grid_pinpoints.size(), 36u);
  EXPECT_EQ(d.image_grid_pinpoints[1], (Resolution{384, 768}));
  EXPECT_EQ(d.image_mean[0], 0.48145466);
  EXPECT_EQ(d.rescale_factor, 1.0 / 255.0);
  EXPECT_EQ(config_of(dir, R"({"size": {"shortest_edge": 48}, "image_grid_pinpoints": [[48, 96]]})").size, 48);
  EXPECT_EQ(config_of(dir, R"({"size": 32, "image_grid_pinpoints": [[32, 32]], "image_std": 0.25})").image_std,
            (std::vector<double>{0.25, 0.25, 0.25}));
  EXPECT_EQ(config_of(dir, R"({"crop_size": {"height": 384, "width": 384}, "do_center_crop": true})").size, 384);

  const std::vector<std::pair<std::string, std::vector<std::string>>> bad = {
      {R"({"resample": 2})", {"$.resample: 2 is too small (allowed: 3, PIL's BICUBIC"}},
      {R"({"resample": "bicubic"})", {"$.resample: expected an integer"}},
      {R"({"size": {"height": 24, "width": 32}})", {"$.size: height 24 and width 32 differ (allowed: square"}},
      {R"({"size": {"longest_edge": 24}})", {"$.size: object", "allowed: {\"height\": n, \"width\": n}"}},
      {R"({"size": 24, "image_grid_pinpoints": [[24, 24], [24, 36]]})",
       {"$.image_grid_pinpoints[1]: [24, 36] is not a grid of 24 x 24 tiles (allowed: multiples of size"}},
      {R"({"image_grid_pinpoints": [[384]]})", {"$.image_grid_pinpoints[0]: expected [height, width]"}},
      {R"({"image_grid_pinpoints": []})", {"$.image_grid_pinpoints: empty"}},
      {R"({"image_grid_pinpoints": [[384, 384000]]})", {"$.image_grid_pinpoints[0]: a pinpoint of 384 x 384000",
                                                          "LACO_MAX_IMAGE_PIXELS"}},
      {R"({"image_mean": [0.5, 0.5]})", {"$.image_mean: expected a number or 3 numbers"}},
      {R"({"image_std": [0.5, 0, 0.5]})", {"$.image_std[1]: 0 is out of range"}},
      {R"({"rescale_factor": "1/255"})", {"$.rescale_factor: expected a number"}},
      {R"({"do_normalize": 1})", {"$.do_normalize: expected true or false"}},
      {R"({"do_convert_rgb": false})", {"$.do_convert_rgb: false is not supported (allowed: true"}},
      {R"({"image_processor_type": "LlavaOnevisionImageProcessorFast"})",
       {"$.image_processor_type: 'LlavaOnevisionImageProcessorFast' is not reproduced (allowed: "
        "LlavaOnevisionImageProcessor"}},
      {R"({"max_image_tiles": 4})", {"$.max_image_tiles: unknown key (allowed: do_resize, size"}},
      {R"({"size": 24, "size": 32})", {"not valid JSON", "duplicate key 'size'"}},
      {"[1, 2", {"not valid JSON"}},
  };
  for (const auto& [text, fragments] : bad) {
    SCOPED_TRACE(text);
    std::vector<std::string> want = fragments;
    want.push_back(file + ": ");
    test::expect_error([&] { config_of(dir, text); }, want);
  }
  test::expect_error([] { read_image_processor_config("/nonexistent"); }, {"/nonexistent/preprocessor_config.json"});
}

TEST(ImageProcessor, AConfigBuiltInCodeIsCheckedToo) {
  ImageProcessorConfig c;
  c.size = 24;
  c.image_grid_pinpoints = {{24, 30}};
  const Image im{4, 4, std::vector<uint8_t>(48, 9)};
  test::expect_error([&] { process_image(im, c); }, {"image_grid_pinpoints[0] = [24, 30] is not a grid of 24 x 24"});
  c.image_grid_pinpoints = {{24, 48}};
  c.resample = 2;
  test::expect_error([&] { process_image(im, c); }, {"resample 2 is not supported (allowed: 3"});
  c.resample = 3;
  const ProcessedImage p = process_image(im, c);
  EXPECT_EQ(p.pixel_values.sizes(), (std::vector<int64_t>{3, 3, 24, 24}));
  // A flat image stays flat: (9/255 - mean) / std everywhere but the padding, which is a zero byte.
  const float nine = (static_cast<float>(9.0 / 255.0) - static_cast<float>(0.48145466)) /
                     static_cast<float>(0.26862954);
  EXPECT_EQ(p.pixel_values[0][0][5][5].item<float>(), nine);
}

}  // namespace
}  // namespace laco
