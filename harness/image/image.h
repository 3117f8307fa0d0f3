// An image as Pillow hands it to transformers: `Image.open(path).convert("RGB")`,
// interleaved 8-bit RGB. A released model's accuracy depends on its pixels,
// so decoding reproduces Pillow's bytes, not merely a plausible picture:
//   JPEG through libjpeg-turbo (Debian's libjpeg62-turbo, the library Pillow
//     links) with Pillow's decoder settings: the colour space libjpeg finds
//     in the file (JFIF/Adobe markers), ISLOW DCT, fancy upsampling and block
//     smoothing on (libjpeg's defaults; Pillow changes them only in draft()),
//     one component (gray) replicated to R = G = B as convert("RGB") does;
//   PNG through libpng (Pillow decodes PNG itself; both are lossless, so the
//     samples are the file's): gray of 1, 2 and 4 bits scaled to 8 as Pillow's
//     unpackers do (x 255, x 85, x 17), gray + alpha and RGBA lose their alpha
//     (convert("RGB") drops it, never blends), palette indices looked up in
//     PLTE, tRNS ignored; no gamma, ICC or sBIT applied (Pillow applies none).
// tests/image/ (scripts/image_fixtures.py) holds Pillow's bytes for each kind:
// every one is reproduced byte for byte.
//
// Refused, with an Error naming the file, what it is and what is allowed:
// 16-bit PNG (Pillow keeps the high byte of RGB but clips 16-bit gray to 255),
// palette indices beyond PLTE, JPEG of other than 1 or 3 components (CMYK,
// YCCK), any other format. EXIF orientation is not applied (neither does
// Image.open(...).convert("RGB"), nor the datasets library's decoding).
//
// Untrusted input: the file is read whole within the file-size limit (laco
// limits: LACO_MAX_FILE_BYTES) and its width x height checked against the
// image-pixel limit (LACO_MAX_IMAGE_PIXELS) from its header, before anything
// is allocated for pixels; a corrupt or truncated file is an Error, never a
// crash or an exit (libjpeg's and libpng's error handlers are replaced).
//
//   const Image im = read_image("data/cat.jpg");  // im.rgb[3 * (y * im.width + x) + c]
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace laco {

/// Interleaved RGB8, row-major: rgb.size() == 3 * width * height.
struct Image {
  int64_t width = 0, height = 0;
  std::vector<uint8_t> rgb;
};

/// Usage: Image im = read_image("img.png");
/// PNG or JPEG, as Pillow's Image.open(path).convert("RGB") decodes it; an
/// Error naming the file for anything else, over a limit, corrupt or truncated.
Image read_image(const std::string& path);

/// The same from the file's bytes; `name` names it in errors. The pixel limit
/// is checked here; the byte limit is the caller's (read_image checks it).
Image decode_image(const std::string& bytes, const std::string& name);

}  // namespace laco
