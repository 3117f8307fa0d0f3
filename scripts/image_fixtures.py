#!/usr/bin/python3
"""Small images and what Pillow and transformers make of them, for harness/image's tests.

Writes, under --out (default tests/image):
  *.png, *.jpg                      small images (at most 64 x 48 but one of 150 x 40):
                                    PNG as RGB, RGBA, gray (8, 2 and 1 bits), gray +
                                    alpha, palette (8 bits with tRNS, 4 bits),
                                    Adam7-interlaced; JPEG baseline 4:2:0, 4:2:2 and
                                    4:4:4, progressive, gray, odd sizes (partial MCUs);
                                    each either photograph-like (smooth fields with a
                                    1/f spectrum, soft shapes, grain: synthesised,
                                    no photo on this machine has a licence that lets
                                    it ship here) or sharp (checkerboards, 1-px lines,
                                    0/255 steps, noise); plus two that laco refuses
                                    (a 16-bit PNG, a CMYK JPEG);
  llava_ov_24/preprocessor_config.json
                                    LLaVA-OneVision's (llava-hf/llava-onevision-qwen2-
                                    0.5b-ov-hf) scaled from 384 to 24 px: size 24,
                                    pinpoints [24 i, 24 j] for i, j in 1..6, mean and
                                    std 0.5, rescale 1/255, bicubic;
  references.safetensors            decode.<image>  U8 [h, w, 3]: Image.open(p).convert("RGB");
                                    resize.<image>.<w>x<h>  U8 [h, w, 3]:
                                    .resize((w, h), Image.BICUBIC) of that;
                                    process.<image>.pixel_values  F32 [crops, 3, 24, 24]
                                    with .image_size, .best_resolution, .grid (I64 [2]);
  cases.json                        what each reference is (files, targets, sizes) and
                                    select_best_resolution / get_patch_output_size for
                                    80 image sizes under the real 384-px pinpoints.

Why: laco reads benchmark images and prepares them for released LLaVA-OneVision
checkpoints itself (harness/image), and a released model's accuracy depends on
its pixels: transformers' LlavaOnevisionImageProcessor decodes and resizes
through Pillow on uint8 images. These are the bytes laco must reproduce.
transformers is not installed here, so the processor's steps are written out
below in numpy + PIL as transformers runs them (models/llava_onevision/
image_processing_llava_onevision.py, image_processing_utils.py,
image_transforms.py, read at commits 03eac6f6d2af7e8562113f0b78d3d2d59a7d843d,
091630d58781404f2b35a7f5dff1c29bda71b549 and 000593ad84f26043f62917c541c57c4b71b9bc94
respectively; the same steps since v4.45): select_best_resolution, get_patch_output_size,
PIL resize, centred zero padding (divmod remainder after), tiles row-major
after the base image, rescale in float64 then cast to float32, normalise in
float32.

Deterministic: fixed seeds; running it twice writes byte-identical files (with
the same Pillow, libjpeg-turbo, zlib and numpy: Debian 12's). The safetensors
file is written by hand (no safetensors package).

Test-only: it uses Debian's python3-pil and python3-numpy (installed with
apt-get when missing, by scripts/debian_torch.py) and is never a
runtime dependency of the harness. Usage (from the repository):
  scripts/image_fixtures.py [--out tests/image]
"""
import argparse
import io
import json
import math
import os
import struct
import sys
import warnings
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import debian_torch  # noqa: E402

GENERATOR = "scripts/image_fixtures.py"


# ---------------------------------------------------------------------------
# files, written whole or not at all

def write_bytes(path, data):
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def write_json(path, obj):
    write_bytes(path, (json.dumps(obj, indent=1) + "\n").encode("utf-8"))


def write_safetensors(path, tensors):
    """tensors: list of (name, numpy array) in file order; dtypes uint8, int64, float32."""
    import numpy as np
    names = {np.dtype("uint8"): "U8", np.dtype("int64"): "I64", np.dtype("float32"): "F32"}
    header, blobs, offset = {}, [], 0
    for name, a in tensors:
        if name in header:
            raise ValueError(f"write_safetensors: duplicate tensor name {name}")
        a = np.ascontiguousarray(a)
        b = a.astype(a.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": names[a.dtype], "shape": [int(s) for s in a.shape],
                        "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    write_bytes(path, len(text).to_bytes(8, "little") + text + b"".join(blobs))


# ---------------------------------------------------------------------------
# PNG written by hand: the kinds Pillow does not write (2-bit gray, Adam7, 16 bits)

ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png_row(samples, bit_depth):
    """One scanline's bytes (filter type 0 first) from its samples, packed most significant bits first."""
    if bit_depth == 16:
        return b"\0" + b"".join(struct.pack(">H", int(s)) for s in samples)
    if bit_depth == 8:
        return b"\0" + bytes(int(s) for s in samples)
    out, acc, n = bytearray(), 0, 0
    for s in samples:
        acc = (acc << bit_depth) | int(s)
        n += bit_depth
        if n == 8:
            out.append(acc)
            acc, n = 0, 0
    if n:
        out.append(acc << (8 - n))
    return b"\0" + bytes(out)


def png_bytes(pixels, bit_depth, color_type, plte=None, trns=None, interlace=False):
    """pixels: numpy [h, w, channels] of sample values."""
    h, w = pixels.shape[:2]
    flat = pixels.reshape(h, w, -1)
    raw = b""
    passes = ADAM7 if interlace else [(0, 0, 1, 1)]
    for x0, y0, dx, dy in passes:
        sub = flat[y0::dy, x0::dx]
        if sub.shape[0] == 0 or sub.shape[1] == 0:
            continue  # an empty pass has no scanlines, not even filter bytes
        for row in sub:
            raw += png_row(row.reshape(-1), bit_depth)
    out = b"\x89PNG\r\n\x1a\n"
    out += png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 1 if interlace else 0))
    if plte is not None:
        out += png_chunk(b"PLTE", bytes(int(v) for v in plte.reshape(-1)))
    if trns is not None:
        out += png_chunk(b"tRNS", trns)
    out += png_chunk(b"IDAT", zlib.compress(raw, 9))
    out += png_chunk(b"IEND", b"")
    return out


# ---------------------------------------------------------------------------
# the pictures

def photo_like(np, rng, w, h):
    """A smooth picture with a photograph's statistics: a 1/f field of random
    waves (light and colour), a sky-to-ground gradient, soft disks, fine grain."""
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.zeros((h, w, 3))
    for k in range(1, 24):
        f = 0.012 * k
        theta = rng.uniform(0, math.pi)
        phase = rng.uniform(0, 2 * math.pi)
        wave = np.sin(2 * math.pi * f * (x * math.cos(theta) + y * math.sin(theta)) + phase) / k
        img += wave[..., None] * (0.6 + 0.4 * rng.uniform(0, 1, size=3))
    img = (img - img.min()) / (img.max() - img.min())
    sky = np.clip(1.0 - y / (0.55 * h), 0, 1)[..., None] * np.array([0.35, 0.55, 0.9])
    ground = np.clip((y - 0.45 * h) / (0.55 * h), 0, 1)[..., None] * np.array([0.25, 0.4, 0.15])
    img = 0.55 * img + 0.45 * (sky + ground)
    for _ in range(4):
        cx, cy, r = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0.08, 0.25) * min(w, h)
        # An edge a pixel or two wide (the exponent clipped: far from it exp would overflow, to the same 0 or 1).
        soft = 1 / (1 + np.exp(np.clip((np.hypot(x - cx, y - cy) - r) / 1.2, -60, 60)))
        img = img * (1 - 0.7 * soft[..., None]) + 0.7 * soft[..., None] * rng.uniform(0.1, 1.0, size=3)
    img += rng.normal(0, 0.012, size=img.shape)
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def sharp(np, rng, w, h):
    """What resampling finds hardest: a 1-px checkerboard, 1-px lines of saturated colours, 0/255 steps, noise."""
    img = np.zeros((h, w, 3), np.uint8)
    y, x = np.mgrid[0:h, 0:w]
    img[(x + y) % 2 == 0] = (255, 255, 255)
    left = x < w // 3
    img[left & (y % 4 == 0)] = (255, 0, 0)
    img[left & (x % 5 == 0)] = (0, 255, 0)
    img[left & ((x - y) % 7 == 0)] = (0, 0, 255)
    band = (x >= w // 3) & (x < 2 * w // 3)
    img[band] = np.where(((x[band] // 3) % 2 == 0)[:, None], 255, 0).astype(np.uint8)
    right = x >= 2 * w // 3
    img[right] = rng.integers(0, 256, size=(int(right.sum()), 3), dtype=np.uint8)
    return img


# ---------------------------------------------------------------------------
# transformers' LlavaOnevisionImageProcessor, step by step

def select_best_resolution(original_size, possible_resolutions):
    """image_processing_utils.select_best_resolution, as written there."""
    original_height, original_width = original_size
    best_fit = None
    max_effective_resolution = 0
    min_wasted_resolution = float("inf")
    for height, width in possible_resolutions:
        scale = min(width / original_width, height / original_height)
        downscaled_width, downscaled_height = int(original_width * scale), int(original_height * scale)
        effective_resolution = min(downscaled_width * downscaled_height, original_width * original_height)
        wasted_resolution = (width * height) - effective_resolution
        if effective_resolution > max_effective_resolution or (
                effective_resolution == max_effective_resolution and wasted_resolution < min_wasted_resolution):
            max_effective_resolution = effective_resolution
            min_wasted_resolution = wasted_resolution
            best_fit = (height, width)
    return best_fit


def get_patch_output_size(original_size, target_resolution):
    """image_processing_utils.get_patch_output_size, as written there."""
    original_height, original_width = original_size
    target_height, target_width = target_resolution
    scale_w = target_width / original_width
    scale_h = target_height / original_height
    if scale_w < scale_h:
        new_width = target_width
        new_height = min(math.ceil(original_height * scale_w), target_height)
    else:
        new_height = target_height
        new_width = min(math.ceil(original_width * scale_h), target_width)
    return new_height, new_width


def pil_resize(np, Image, array, size):
    """image_transforms.resize of a uint8 HWC array to size (height, width): through PIL, reducing_gap None."""
    height, width = size
    return np.array(Image.fromarray(array).resize((width, height), resample=Image.BICUBIC, reducing_gap=None))


def process(np, Image, rgb, cfg):
    """LlavaOnevisionImageProcessor.preprocess of one image (batch_num_images 1, so it is patched)."""
    size = (cfg["size"]["height"], cfg["size"]["width"])
    patch = size[0]
    image_size = rgb.shape[:2]
    best = select_best_resolution(image_size, cfg["image_grid_pinpoints"])
    # _resize_for_patching, _pad_for_patching (_get_padding_size: divmod, the remainder after)
    new_h, new_w = get_patch_output_size(image_size, best)
    resized = pil_resize(np, Image, rgb, (new_h, new_w))
    paste_x, r_x = divmod(best[1] - new_w, 2)
    paste_y, r_y = divmod(best[0] - new_h, 2)
    padded = np.pad(resized, ((paste_y, paste_y + r_y), (paste_x, paste_x + r_x), (0, 0)), mode="constant",
                    constant_values=0)
    # divide_to_patches: row-major; then the base image first
    patches = [padded[i:i + patch, j:j + patch] for i in range(0, best[0], patch) for j in range(0, best[1], patch)]
    crops = [pil_resize(np, Image, rgb, size)] + patches
    out = []
    mean = np.array(cfg["image_mean"], dtype=np.float32)
    std = np.array(cfg["image_std"], dtype=np.float32)
    for c in crops:
        c = pil_resize(np, Image, c, size)  # _preprocess resizes every crop again (to its own size: Pillow copies)
        c = (c.astype(np.float64) * cfg["rescale_factor"]).astype(np.float32)  # image_transforms.rescale
        c = (c - mean) / std  # image_transforms.normalize: float32 throughout
        out.append(c.transpose(2, 0, 1))
    grid = (best[0] // patch, best[1] // patch)
    return np.stack(out).astype(np.float32), image_size, best, grid


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/image", help="the folder the fixtures are written to")
    args = ap.parse_args()
    debian_torch.ensure_pil("image_fixtures", "test fixtures only")
    import numpy as np
    import PIL
    from PIL import Image, features
    # Pillow warns that a palette with tRNS bytes "should be converted to RGBA": the fixture wants it as it is.
    warnings.filterwarnings("ignore", message="Palette images with Transparency")
    os.makedirs(args.out, exist_ok=True)
    out = args.out
    rng = np.random.default_rng(20261209)

    photo = photo_like(np, rng, 64, 48)
    photo_wide = photo_like(np, rng, 150, 40)
    photo_tall = photo_like(np, rng, 17, 29)
    sharp_40 = sharp(np, rng, 40, 30)
    noise = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)

    files = {}  # name -> (bytes, what)

    def pil_save(name, image, what, **kw):
        b = io.BytesIO()
        image.save(b, **kw)
        files[name] = (b.getvalue(), what)

    # PNG
    pil_save("photo.png", Image.fromarray(photo), "photograph-like RGB, 64 x 48", format="PNG")
    pil_save("photo_wide.png", Image.fromarray(photo_wide), "photograph-like RGB, 150 x 40", format="PNG")
    pil_save("photo_tall.png", Image.fromarray(photo_tall), "photograph-like RGB, 17 x 29", format="PNG")
    pil_save("sharp.png", Image.fromarray(sharp_40), "sharp RGB: checkerboard, 1-px lines, steps, noise", format="PNG")
    pil_save("noise.png", Image.fromarray(noise), "uniform noise RGB, 32 x 32", format="PNG")
    alpha = rng.integers(0, 256, size=(21, 33), dtype=np.uint8)
    rgba = np.dstack([sharp(np, rng, 33, 21), alpha])
    pil_save("rgba.png", Image.fromarray(rgba, "RGBA"), "RGBA (convert drops alpha)", format="PNG")
    gray = photo_like(np, rng, 29, 17)[..., 1]
    pil_save("gray.png", Image.fromarray(gray, "L"), "8-bit gray", format="PNG")
    la = np.dstack([sharp(np, rng, 23, 19)[..., 0], rng.integers(0, 256, size=(19, 23), dtype=np.uint8)])
    pil_save("gray_alpha.png", Image.fromarray(la, "LA"), "8-bit gray + alpha", format="PNG")
    bits1 = Image.fromarray(((np.indices((13, 27)).sum(0) % 3) == 0).astype(np.uint8) * 255, "L").convert("1")
    pil_save("gray1.png", bits1, "1-bit gray (Pillow mode 1)", format="PNG")
    gray2 = rng.integers(0, 4, size=(11, 19, 1))
    files["gray2.png"] = (png_bytes(gray2, 2, 0), "2-bit gray, written by hand")
    pal = Image.fromarray(photo).quantize(colors=200, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    # tRNS for the first 50 entries: convert("RGB") ignores it
    pil_save("palette.png", pal, "8-bit palette of 200 colours with tRNS", format="PNG",
             transparency=bytes(range(0, 250, 5)))
    idx4 = rng.integers(0, 11, size=(15, 21, 1))
    plte4 = rng.integers(0, 256, size=(11, 3))
    files["palette4.png"] = (png_bytes(idx4, 4, 3, plte=plte4), "4-bit palette of 11 colours, written by hand")
    files["interlaced.png"] = (png_bytes(photo_tall, 8, 2, interlace=True), "Adam7-interlaced RGB, written by hand")
    rgb16 = rng.integers(0, 65536, size=(4, 5, 3))
    files["rgb16.png"] = (png_bytes(rgb16, 16, 2), "16-bit RGB: laco refuses it")

    # JPEG (Pillow's encoder, libjpeg-turbo)
    pil_save("photo_420.jpg", Image.fromarray(photo), "photograph-like, baseline 4:2:0, quality 85", format="JPEG",
             quality=85, subsampling=2)
    pil_save("photo_progressive.jpg", Image.fromarray(photo), "photograph-like, progressive 4:2:0", format="JPEG",
             quality=80, subsampling=2, progressive=True)
    pil_save("sharp_444.jpg", Image.fromarray(sharp_40), "sharp, baseline 4:4:4, quality 95", format="JPEG",
             quality=95, subsampling=0)
    pil_save("odd_422.jpg", Image.fromarray(photo_like(np, rng, 37, 23)), "37 x 23 (partial MCUs), 4:2:2",
             format="JPEG", quality=90, subsampling=1)
    pil_save("odd_420.jpg", Image.fromarray(photo_like(np, rng, 45, 27)), "45 x 27 (partial MCUs), 4:2:0",
             format="JPEG", quality=70, subsampling=2)
    pil_save("sharp_420.jpg", Image.fromarray(sharp_40), "sharp, baseline 4:2:0, quality 75", format="JPEG",
             quality=75, subsampling=2)
    pil_save("gray.jpg", Image.fromarray(gray, "L"), "gray (one component)", format="JPEG", quality=90)
    pil_save("cmyk.jpg", Image.fromarray(rng.integers(0, 256, size=(8, 8, 4), dtype=np.uint8), "CMYK"),
             "CMYK: laco refuses it", format="JPEG")
    refused = {"rgb16.png": "16-bit PNG", "cmyk.jpg": "CMYK JPEG"}

    for name, (data, _) in files.items():
        write_bytes(os.path.join(out, name), data)

    tensors, cases = [], {"decode": [], "refuse": [], "resize": [], "process": {}, "best_resolution": {}}
    decoded = {}
    for name, (_, what) in files.items():
        if name in refused:
            cases["refuse"].append({"file": name, "what": what})
            continue
        with Image.open(os.path.join(out, name)) as im:
            mode = im.mode
            rgb = np.array(im.convert("RGB"))
        decoded[name] = rgb
        key = "decode." + name
        tensors.append((key, rgb))
        cases["decode"].append({"file": name, "pillow_mode": mode, "what": what, "tensor": key})

    # Bicubic resizes: down and up, integer and not, one axis only (Pillow skips the other pass), extremes.
    targets = {
        "photo.png": [(24, 24), (16, 12), (37, 29), (96, 72), (70, 53), (7, 5), (64, 13), (20, 48), (1, 1), (65, 47)],
        "sharp.png": [(24, 24), (20, 15), (13, 11), (80, 60), (57, 31), (40, 7), (3, 30), (120, 9)],
        "noise.png": [(24, 24), (11, 11), (48, 48), (33, 31), (5, 64)],
        "photo_420.jpg": [(24, 24), (72, 48)],
    }
    for src, sizes in targets.items():
        for w, h in sizes:
            res = np.array(Image.fromarray(decoded[src]).resize((w, h), Image.BICUBIC))
            key = f"resize.{src}.{w}x{h}"
            tensors.append((key, res))
            cases["resize"].append({"source": src, "width": w, "height": h, "tensor": key})

    # The processor at 24 px: LLaVA-OneVision 0.5b's preprocessor_config.json with 384 -> 24.
    cfg = {
        "do_convert_rgb": True, "do_normalize": True, "do_pad": True, "do_rescale": True, "do_resize": True,
        "image_grid_pinpoints": [[24 * i, 24 * j] for i in range(1, 7) for j in range(1, 7)],
        "image_mean": [0.5, 0.5, 0.5], "image_processor_type": "LlavaOnevisionImageProcessor",
        "image_std": [0.5, 0.5, 0.5], "processor_class": "LlavaOnevisionProcessor", "resample": 3,
        "rescale_factor": 0.00392156862745098, "size": {"height": 24, "width": 24},
    }
    cfg_dir = os.path.join(out, "llava_ov_24")
    os.makedirs(cfg_dir, exist_ok=True)
    write_json(os.path.join(cfg_dir, "preprocessor_config.json"), cfg)
    cases["process"] = {"config": "llava_ov_24", "cases": []}
    for src in ["photo.png", "photo_wide.png", "photo_tall.png", "sharp.png"]:
        pv, image_size, best, grid = process(np, Image, decoded[src], cfg)
        prefix = "process." + src
        tensors += [(prefix + ".pixel_values", pv), (prefix + ".image_size", np.array(image_size, np.int64)),
                    (prefix + ".best_resolution", np.array(best, np.int64)),
                    (prefix + ".grid", np.array(grid, np.int64))]
        cases["process"]["cases"].append({"file": src, "prefix": prefix, "crops": int(pv.shape[0]),
                                          "image_size": list(image_size), "best_resolution": list(best),
                                          "grid": list(grid)})

    # select_best_resolution and get_patch_output_size under the real pinpoints (384 px, 1..6 x 1..6).
    pinpoints = [[384 * i, 384 * j] for i in range(1, 7) for j in range(1, 7)]
    sizes = [(1, 1), (384, 384), (383, 385), (768, 384), (10, 4000), (4000, 10), (2304, 2304), (5000, 5000),
             (480, 640), (640, 480), (1080, 1920), (1920, 1080), (336, 1008), (767, 769), (1, 2304), (385, 1)]
    while len(sizes) < 80:
        sizes.append((int(rng.integers(1, 4097)), int(rng.integers(1, 4097))))
    rows = []
    for h, w in sizes:
        bh, bw = select_best_resolution((h, w), pinpoints)
        nh, nw = get_patch_output_size((h, w), (bh, bw))
        rows.append([h, w, bh, bw, nh, nw])
    cases["best_resolution"] = {"pinpoints": "[384 i, 384 j] for i, j in 1..6",
                                "columns": ["height", "width", "best_height", "best_width", "resized_height",
                                            "resized_width"], "rows": rows}

    cases = {"generator": GENERATOR, "pillow": PIL.__version__, "libjpeg_turbo": features.version("jpg"),
             "zlib": features.version("zlib"), "numpy": np.__version__, **cases}
    write_safetensors(os.path.join(out, "references.safetensors"), tensors)
    write_json(os.path.join(out, "cases.json"), cases)
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(out) for f in fs)
    print(f"image_fixtures: Pillow {PIL.__version__}, libjpeg-turbo {features.version('jpg')}: "
          f"{len(files)} images, {len(cases['resize'])} resizes, {len(cases['process']['cases'])} processed, "
          f"{len(rows)} pinpoint choices; {total} bytes under {out}")


if __name__ == "__main__":
    main()
