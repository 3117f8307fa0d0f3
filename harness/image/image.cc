#include "harness/image/image.h"

#include <algorithm>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <memory>

// libjpeg's headers need <cstdio> first (FILE) and are plain C.
extern "C" {
#include <jerror.h>
#include <jpeglib.h>
}
#include <png.h>

#include <fmt/format.h>

#include "harness/base/error.h"
#include "harness/base/files.h"
#include "harness/base/limits.h"

namespace laco {
namespace {

// A progressive JPEG may carry any number of scans, each a pass over the
// whole image: thousands of tiny scans make a small file take minutes (the
// attack libjpeg-turbo's own fuzzers and djpeg -maxscans bound). Real files
// have about 10 (libjpeg's progressive script writes 10 for YCbCr).
constexpr int kMaxJpegScans = 256;

void check_pixels(const std::string& name, uint64_t width, uint64_t height) {
  check_input_limit(InputLimit::kImagePixels, fmt::format("{}: image of {} x {}", name, width, height),
                    width * height);
}

uint32_t be32(const std::string& b, size_t at) {
  uint32_t v = 0;
  for (size_t i = 0; i < 4; ++i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

bool starts_with(const std::string& b, const char* magic, size_t n) {
  return b.size() >= n && std::memcmp(b.data(), magic, n) == 0;
}

// What a file that is neither PNG nor JPEG is, for the error.
std::string other_format(const std::string& b) {
  if (starts_with(b, "GIF8", 4)) return "a GIF";
  if (starts_with(b, "BM", 2)) return "a BMP";
  if (starts_with(b, "RIFF", 4) && b.size() >= 12 && b.compare(8, 4, "WEBP") == 0) return "a WebP";
  if (starts_with(b, "II*\0", 4) || starts_with(b, "MM\0*", 4)) return "a TIFF";
  if (b.empty()) return "empty";
  std::string head;
  for (size_t i = 0; i < std::min<size_t>(b.size(), 8); ++i)
    head += fmt::format("{}{:02x}", i ? " " : "", static_cast<uint8_t>(b[i]));
  return fmt::format("not an image laco reads (it starts with bytes {})", head);
}

// ---------------------------------------------------------------------------
// JPEG. libjpeg reports errors through error_exit, whose default calls
// exit(): ours formats the message and longjmps back into the one function
// that called libjpeg (jpeg_header or jpeg_pixels below), which returns false.
// Those functions hold no object with a destructor and everything they change
// lives in the heap-allocated JpegState, so the jump skips nothing C++ needs.

struct JpegState {
  jpeg_decompress_struct cinfo{};
  jpeg_error_mgr errors{};
  jpeg_progress_mgr progress{};
  std::jmp_buf jump{};
  char message[JMSG_LENGTH_MAX + 64] = {};
  bool created = false;
  ~JpegState() {
    if (created) jpeg_destroy_decompress(&cinfo);
  }
};

JpegState* state_of(j_common_ptr c) { return static_cast<JpegState*>(c->client_data); }

void jpeg_error_exit(j_common_ptr c) {
  JpegState* s = state_of(c);
  (*c->err->format_message)(c, s->message);
  std::longjmp(s->jump, 1);
}

// Warnings (level -1) are libjpeg's way of going on over damaged data, as
// Pillow lets it, except one: the data ran out. libjpeg then invents an end of
// image and grey rows; Pillow refuses the file ("image file is truncated"),
// and so does this.
void jpeg_emit_message(j_common_ptr c, int level) {
  if (level >= 0) return;  // trace messages
  if (c->err->msg_code == JWRN_JPEG_EOF) {
    JpegState* s = state_of(c);
    (*c->err->format_message)(c, s->message);
    std::strncat(s->message, " (the file is truncated)", sizeof(s->message) - std::strlen(s->message) - 1);
    std::longjmp(s->jump, 1);
  }
  ++c->err->num_warnings;
}

void jpeg_output_message(j_common_ptr) {}  // nothing on stderr: errors reach the caller as laco::Error

void jpeg_progress(j_common_ptr c) {
  auto* d = reinterpret_cast<j_decompress_ptr>(c);
  if (d->input_scan_number > kMaxJpegScans) {
    JpegState* s = state_of(c);
    std::snprintf(s->message, sizeof(s->message), "more than %d scans (a progressive JPEG has about 10)",
                  kMaxJpegScans);
    std::longjmp(s->jump, 1);
  }
}

bool jpeg_header(JpegState* s, const std::string* bytes) {
  s->cinfo.err = jpeg_std_error(&s->errors);
  s->errors.error_exit = jpeg_error_exit;
  s->errors.emit_message = jpeg_emit_message;
  s->errors.output_message = jpeg_output_message;
  s->cinfo.client_data = s;
  if (setjmp(s->jump)) return false;
  jpeg_create_decompress(&s->cinfo);
  s->created = true;
  s->progress.progress_monitor = jpeg_progress;
  s->cinfo.progress = &s->progress;
  jpeg_mem_src(&s->cinfo, reinterpret_cast<const unsigned char*>(bytes->data()), bytes->size());
  jpeg_read_header(&s->cinfo, TRUE);
  return true;
}

bool jpeg_pixels(JpegState* s, uint8_t* out, size_t stride, int components) {
  if (setjmp(s->jump)) return false;
  jpeg_start_decompress(&s->cinfo);
  if (s->cinfo.output_width != s->cinfo.image_width || s->cinfo.output_height != s->cinfo.image_height ||
      s->cinfo.output_components != components) {
    std::snprintf(s->message, sizeof(s->message), "libjpeg decodes it to %u x %u x %d, not %u x %u x %d",
                  s->cinfo.output_width, s->cinfo.output_height, s->cinfo.output_components, s->cinfo.image_width,
                  s->cinfo.image_height, components);
    return false;
  }
  while (s->cinfo.output_scanline < s->cinfo.output_height) {
    JSAMPROW row = out + static_cast<size_t>(s->cinfo.output_scanline) * stride;
    if (jpeg_read_scanlines(&s->cinfo, &row, 1) != 1) {
      std::snprintf(s->message, sizeof(s->message), "no data at row %u", s->cinfo.output_scanline);
      return false;
    }
  }
  jpeg_finish_decompress(&s->cinfo);
  return true;
}

Image decode_jpeg(const std::string& bytes, const std::string& name) {
  auto s = std::make_unique<JpegState>();
  if (!jpeg_header(s.get(), &bytes)) fail("{}: corrupt JPEG (libjpeg: {})", name, s->message);
  jpeg_decompress_struct& c = s->cinfo;
  int components = 0;
  if (c.num_components == 1 && c.jpeg_color_space == JCS_GRAYSCALE) {
    components = 1;
    c.out_color_space = JCS_GRAYSCALE;
  } else if (c.num_components == 3 && (c.jpeg_color_space == JCS_YCbCr || c.jpeg_color_space == JCS_RGB)) {
    components = 3;
    c.out_color_space = JCS_RGB;
  } else {
    const char* space = c.jpeg_color_space == JCS_CMYK   ? "CMYK"
                        : c.jpeg_color_space == JCS_YCCK ? "YCCK"
                                                         : "an unknown colour space";
    fail("{}: a JPEG of {} components in {} is not read (allowed: 1 component, gray; 3 components, YCbCr or RGB)",
         name, c.num_components, space);
  }
  check_pixels(name, c.image_width, c.image_height);
  // Pillow's settings (libImaging/JpegDecode.c): libjpeg's defaults, stated here so that a change shows.
  c.dct_method = JDCT_ISLOW;
  c.do_fancy_upsampling = TRUE;
  c.do_block_smoothing = TRUE;
  c.scale_num = c.scale_denom = 1;
  Image im;
  im.width = c.image_width;
  im.height = c.image_height;
  const size_t stride = static_cast<size_t>(im.width) * static_cast<size_t>(components);
  std::vector<uint8_t> pixels(stride * static_cast<size_t>(im.height));
  if (!jpeg_pixels(s.get(), pixels.data(), stride, components))
    fail("{}: corrupt or truncated JPEG (libjpeg: {})", name, s->message);
  if (components == 3) {
    im.rgb = std::move(pixels);
  } else {  // convert("RGB") of mode L: R = G = B = L
    im.rgb.resize(pixels.size() * 3);
    for (size_t i = 0; i < pixels.size(); ++i) im.rgb[3 * i] = im.rgb[3 * i + 1] = im.rgb[3 * i + 2] = pixels[i];
  }
  return im;
}

// ---------------------------------------------------------------------------
// PNG. libpng's error callback must not return: ours keeps the message and
// png_longjmp()s to the setjmp of png_header or png_pixels, under the same
// rules as the JPEG side.

struct PngState {
  png_structp png = nullptr;
  png_infop info = nullptr;
  const std::string* bytes = nullptr;
  size_t at = 0;
  char message[256] = {};
  ~PngState() {
    if (png) png_destroy_read_struct(&png, info ? &info : nullptr, nullptr);
  }
};

void png_fail(png_structp png, png_const_charp message) {
  auto* s = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(s->message, sizeof(s->message), "%s", message);
  png_longjmp(png, 1);
}

void png_warn(png_structp, png_const_charp) {}

void png_read_bytes(png_structp png, png_bytep out, size_t n) {
  auto* s = static_cast<PngState*>(png_get_io_ptr(png));
  if (n > s->bytes->size() - s->at) png_error(png, "the file is truncated");
  std::memcpy(out, s->bytes->data() + s->at, n);
  s->at += n;
}

bool png_header(PngState* s) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_set_read_fn(s->png, s, png_read_bytes);
  // A bad checksum is an error in any chunk: Pillow refuses one in the chunks
  // before the image data too ("broken PNG file"); libpng would drop an
  // ancillary chunk and go on.
  png_set_crc_action(s->png, PNG_CRC_DEFAULT, PNG_CRC_ERROR_QUIT);
  png_read_info(s->png, s->info);
  return true;
}

bool png_set_up(PngState* s, bool unpack, bool interlaced) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  if (unpack) png_set_packing(s->png);  // 1, 2, 4-bit samples one to a byte, unscaled
  if (interlaced) png_set_interlace_handling(s->png);
  png_read_update_info(s->png, s->info);
  return true;
}

bool png_pixels(PngState* s, png_bytepp rows) {
  if (setjmp(png_jmpbuf(s->png))) return false;
  png_read_image(s->png, rows);
  // Not png_read_end: what follows the image data (text, IEND) is not needed,
  // and Pillow does not require it either.
  return true;
}

Image decode_png(const std::string& bytes, const std::string& name) {
  // The size, from IHDR (always the first chunk), before libpng allocates anything.
  if (bytes.size() < 33 || be32(bytes, 8) != 13 || bytes.compare(12, 4, "IHDR") != 0)
    fail("{}: corrupt PNG (no IHDR chunk first)", name);
  check_pixels(name, be32(bytes, 16), be32(bytes, 20));

  auto s = std::make_unique<PngState>();
  s->bytes = &bytes;
  s->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, s.get(), png_fail, png_warn);
  if (!s->png) fail("{}: cannot start libpng", name);
  s->info = png_create_info_struct(s->png);
  if (!s->info) fail("{}: cannot start libpng", name);
  if (!png_header(s.get())) fail("{}: corrupt PNG (libpng: {})", name, s->message);

  const int64_t width = png_get_image_width(s->png, s->info), height = png_get_image_height(s->png, s->info);
  const int depth = png_get_bit_depth(s->png, s->info), type = png_get_color_type(s->png, s->info);
  const bool interlaced = png_get_interlace_type(s->png, s->info) != PNG_INTERLACE_NONE;
  if (depth == 16)
    fail("{}: a 16-bit PNG is not read (allowed: 1, 2, 4 or 8 bits per sample; Pillow keeps the high byte of "
         "16-bit RGB but clips 16-bit gray, which laco does not reproduce)",
         name);
  int channels = 0;
  switch (type) {
    case PNG_COLOR_TYPE_GRAY: channels = 1; break;
    case PNG_COLOR_TYPE_PALETTE: channels = 1; break;
    case PNG_COLOR_TYPE_GRAY_ALPHA: channels = 2; break;
    case PNG_COLOR_TYPE_RGB: channels = 3; break;
    case PNG_COLOR_TYPE_RGB_ALPHA: channels = 4; break;
    default: fail("{}: PNG colour type {} is not read (allowed: 0, 2, 3, 4, 6)", name, type);
  }
  png_colorp palette = nullptr;
  int palette_size = 0;
  if (type == PNG_COLOR_TYPE_PALETTE && png_get_PLTE(s->png, s->info, &palette, &palette_size) != PNG_INFO_PLTE)
    fail("{}: corrupt PNG (a palette image without PLTE)", name);
  if (!png_set_up(s.get(), depth < 8, interlaced)) fail("{}: corrupt PNG (libpng: {})", name, s->message);
  const size_t stride = static_cast<size_t>(width) * static_cast<size_t>(channels);
  if (png_get_rowbytes(s->png, s->info) != stride)
    fail("{}: libpng reads {} bytes a row, not {} ({} channels of {} x {})", name, png_get_rowbytes(s->png, s->info),
         stride, channels, width, height);

  std::vector<uint8_t> samples(stride * static_cast<size_t>(height));
  std::vector<png_bytep> rows(static_cast<size_t>(height));
  for (int64_t y = 0; y < height; ++y) rows[static_cast<size_t>(y)] = samples.data() + static_cast<size_t>(y) * stride;
  if (!png_pixels(s.get(), rows.data())) fail("{}: corrupt or truncated PNG (libpng: {})", name, s->message);

  Image im;
  im.width = width;
  im.height = height;
  const size_t n = static_cast<size_t>(width) * static_cast<size_t>(height);
  im.rgb.resize(3 * n);
  uint8_t* out = im.rgb.data();
  if (type == PNG_COLOR_TYPE_PALETTE) {
    for (size_t i = 0; i < n; ++i) {
      const int index = samples[i];
      if (index >= palette_size)
        fail("{}: palette index {} at pixel ({}, {}) is beyond the palette's {} entries (allowed: 0 to {})", name,
             index, static_cast<int64_t>(i) % width, static_cast<int64_t>(i) / width, palette_size, palette_size - 1);
      out[3 * i] = palette[index].red;
      out[3 * i + 1] = palette[index].green;
      out[3 * i + 2] = palette[index].blue;
    }
  } else if (type == PNG_COLOR_TYPE_GRAY || type == PNG_COLOR_TYPE_GRAY_ALPHA) {
    // Pillow's unpackers: 1 bit to 0 or 255 (mode 1, then convert), 2 bits x 85, 4 bits x 17.
    const int scale = depth == 1 ? 255 : depth == 2 ? 85 : depth == 4 ? 17 : 1;
    for (size_t i = 0; i < n; ++i) {
      const auto v = static_cast<uint8_t>(samples[i * static_cast<size_t>(channels)] * scale);
      out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = v;
    }
  } else if (channels == 3) {
    im.rgb = std::move(samples);
  } else {  // RGBA: convert("RGB") drops alpha
    for (size_t i = 0; i < n; ++i) std::memcpy(out + 3 * i, samples.data() + 4 * i, 3);
  }
  return im;
}

}  // namespace

Image decode_image(const std::string& bytes, const std::string& name) {
  if (starts_with(bytes, "\x89PNG\r\n\x1a\n", 8)) return decode_png(bytes, name);
  if (starts_with(bytes, "\xff\xd8\xff", 3)) return decode_jpeg(bytes, name);
  fail("{}: {} (allowed: PNG, JPEG)", name, other_format(bytes));
}

Image read_image(const std::string& path) {
  return decode_image(read_file_bytes(path, InputLimit::kFileBytes), path);
}

}  // namespace laco
