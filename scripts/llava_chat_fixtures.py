#!/usr/bin/python3
"""A tiny LLaVA-OneVision chat checkpoint with the real Qwen tokenizer, and its end-to-end reference.

Writes, under --out (default tests/checkpoints):
  llava_onevision_chat/              a LlavaOnevisionForConditionalGeneration in the Hugging Face
                                     layout: config.json, model.safetensors (F16, random, tied
                                     embeddings, transformers' pre-4.52 tensor names as the
                                     llava_onevision fixture of checkpoint_fixtures.py), and the
                                     processor files of llava-hf/llava-onevision-qwen2-0.5b-ov-hf
                                     scaled to 24 px: preprocessor_config.json, processor_config.json,
                                     chat_template.json, tokenizer_config.json, generation_config.json.
                                     No tokenizer.json (11 MB): see derived_tokenizer_json below.
  llava_onevision_chat_images/       image{0..3}.png, small RGB pictures drawn here (gradients and
                                     shapes): 24x24, 61x30, 100x70 and 16x70 (width x height).
  llava_onevision_chat.reference.safetensors
                                     per image i, with metadata image{i}.file / .question / .prompt:
      image{i}.pixel_values   F32 [crops, 3, 24, 24]  the image processor's output
      image{i}.image_size     I64 [2]                 (height, width) of the PNG
      image{i}.input_ids      I64 [T]                 the prompt's ids, <image> expanded
      image{i}.image_features F32 [n, 16]             LlavaOnevisionModel.pack_image_features output
      image{i}.generated_ids  I64 [k]                 greedy continuation, k <= 8 (stops after 151645)
      metadata image{i}.margins                      each greedy step's top-1 - top-2 logit / top-1

The model. SigLIP vision tower (24 px images in 6 px patches: 16 tokens per crop, width 32,
3 layers, 4 heads, no head), projector linear_1 / erf GELU / linear_2, image_newline, and a Qwen2
LM (width 16, 2 heads of 8 over 1 KV head, 2 layers, vocabulary 152000 so that it covers the real
ids up to <video> 151647, tied lm_head). image_token_index 151646, vision_feature_layer -1,
vision_feature_select_strategy "full", vision_aspect_ratio "anyres_max_9", image_grid_pinpoints
[[24*i, 24*j] for i in 1..6 for j in 1..6] (the real 0.5b-ov's [[384*i, 384*j]] in the same order,
each entry (height, width)).

The tokenizer. The checkpoint stands for LLaVA-OneVision-qwen2, whose tokenizer is Qwen2's
byte-level BPE plus its own added tokens. ../shared/tokenizers/qwen/tokenizer.json has the same
vocabulary and merges but Qwen3's added tokens, so this folder's tokenizer.json is DERIVED, by
derived_tokenizer_json(): take ../shared/tokenizers/qwen/tokenizer.json (parsed as JSON) and replace
its top-level "added_tokens" list, and nothing else, by one entry per key of this folder's
tokenizer_config.json "added_tokens_decoder", in increasing numeric id order, each entry the object
{"id": <the key as an integer>, "content", "single_word", "lstrip", "rstrip", "normalized",
"special"} with the values of that key's object. Here that gives exactly five added tokens:
151643 <|endoftext|>, 151644 <|im_start|>, 151645 <|im_end|>, 151646 <image>, 151647 <video>, all
special, none single_word / lstrip / rstrip / normalized. (The BPE vocabulary holds ids 0..151642,
so nothing else refers to the dropped Qwen3 tokens.) A C++ test builds the same tokenizer the same
way.

The references follow transformers' sources, written out in plain torch/numpy/PIL below
(transformers is not installed here). Read from huggingface/transformers at these blobs:
models/llava_onevision/modeling_llava_onevision.py @001f85b38fb4 (pack_image_features,
get_image_features, get_anyres_image_grid_shape, image_size_to_num_patches, unpad_image),
models/llava_onevision/processing_llava_onevision.py (the 4.5x version with vision_aspect_ratio:
_expand_image_tokens, _get_number_of_features, _get_unpadded_features with int(round(x, 7))),
models/llava_onevision/image_processing_llava_onevision.py @03eac6f6d2af (the slow, PIL/numpy
LlavaOnevisionImageProcessor), image_processing_utils.py (select_best_resolution,
get_patch_output_size), image_transforms.py @000593ad84f2 (resize through PIL, rescale, normalize,
pad), models/llava_onevision/convert_llava_onevision_weights_to_hf.py @01080c629600 (the chat
template, the added <image>/<video> tokens), and SigLIP / Qwen2 as scripts/checkpoint_fixtures.py has
them. Semantics:
  * image processor (do_convert_rgb/resize/rescale/normalize/pad true, resample 3 = PIL BICUBIC):
    the PNG as a uint8 RGB array; best = select_best_resolution((h, w), pinpoints); the image
    resized with PIL bicubic (on uint8) to get_patch_output_size (the side that limits the scale
    takes the target, the other min(ceil(side * scale), target)); padded with 0 to `best`, centred
    (top/left get floor(diff / 2), bottom/right the rest); cut in 24x24 tiles, row-major; the crops
    are [the whole image resized to 24x24 with PIL bicubic] + tiles; each crop then
    rescaled as float64(x) * 0.00392156862745098 cast to float32, normalised in float32 as
    (x - 0.5f) / 0.5f, and put channels first;
  * token count (LlavaOnevisionProcessor._get_number_of_features with num_image_tokens 16):
    grid (best_h / 24, best_w / 24) of 4x4-patch tiles, current = (4 * grid_h, 4 * grid_w); if
    w / h > current_w / current_h: new_h = int(round(h * (current_w / w), 7)) and current_h -=
    2 * ((current_h - new_h) // 2), else the same on the width; if r = sqrt(current_h * current_w /
    (9 * 16)) > 1.1 the grid becomes (int(current_h // r), int(current_w // r)); count = 16 +
    rows * (cols + 1);
  * features (pack_image_features): SigLIP hidden state after the last layer (before
    post_layernorm) for every crop, projected; the base crop's 16 tokens first; the tiles' tokens
    arranged to the (4 * grid_h) x (4 * grid_w) map, unpadded by unpad_image (the same rule as the
    count, slicing padding..size-padding), down-sized when r > 1.1 by torch bilinear interpolation
    (align_corners False, no antialias) to (int(current_h // r), int(current_w // r)), then
    image_newline appended at the end of every row, read row-major; the script checks that the
    number of features equals the processor's count;
  * prompt: the qwen_1_5 conversation template of LLaVA-NeXT / lmms-eval's llava_onevision,
    "<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n<|im_start|>user\\n<image>\\n"
    "{question}<|im_end|>\\n<|im_start|>assistant\\n", tokenized by Hugging Face tokenizers (npm
    @anush008/tokenizers 0.6.0 through scripts/llava_chat_prompt_ids.mjs) on the derived
    tokenizer.json; its single <image> id 151646 then stands for `count` copies, and the script
    checks that tokenizing the text with <image> written `count` times (what the processor does)
    gives the same ids;
  * generation: greedy, at most 8 new tokens, stopping after <|im_end|> 151645; every step a full
    float64 forward (no KV cache) of the Qwen2 LM over the input embeddings, where the <image>
    positions hold the image features in order and every other position embed_tokens(id),
    positions 0..T-1; each generated token enters through embed_tokens. Every step's top-1 minus
    top-2 logit must exceed 1e-3 * max(1, |top-1|), or the script fails.
Weights are drawn in float32 with a fixed seed and rounded to float16; the references are computed
in float64 from exactly the stored values, with the pixel values as the float32 the processor
returns, cast to float64, and stored as F32. The script also runs the same pipeline in float32
and prints the differences, and prints sha256 of every file it writes (running it twice writes
byte-identical files).

Test-only: Debian's python3-torch, python3-numpy and python3-pil (installed when missing) and node
with the npm package in a temporary folder (see scripts/llava_chat_prompt_ids.mjs). Usage (from
the repository):
  scripts/llava_chat_fixtures.py [--out tests/checkpoints]
"""
import argparse
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint_fixtures as cf  # noqa: E402
import debian_torch  # noqa: E402

GENERATOR = "scripts/llava_chat_fixtures.py"
NAME = "llava_onevision_chat"
IMAGES_DIR = "llava_onevision_chat_images"
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_TOKENIZER = os.path.join(REPO, "..", "shared", "tokenizers", "qwen", "tokenizer.json")
PROMPT_IDS_MJS = os.path.join(REPO, "scripts", "llava_chat_prompt_ids.mjs")
TRANSFORMERS_READ = ("huggingface/transformers: modeling_llava_onevision.py @001f85b38fb4, "
                     "processing_llava_onevision.py (4.5x, vision_aspect_ratio), "
                     "image_processing_llava_onevision.py @03eac6f6d2af, image_transforms.py @000593ad84f2, "
                     "convert_llava_onevision_weights_to_hf.py @01080c629600")

# ---------------------------------------------------------------------------
# the checkpoint

TILE = 24                 # vision image_size: the processor's size and every crop's side
PATCH = 6
SIDE = TILE // PATCH      # 4 patches a side: 16 tokens a crop
IMAGE_TOKEN, VIDEO_TOKEN = 151646, 151647
BOS, EOS, PAD = 151643, 151645, 151643
PINPOINTS = [[TILE * i, TILE * j] for i in range(1, 7) for j in range(1, 7)]
MAX_NUM_PATCHES = 9       # anyres_max_9
MAX_NEW_TOKENS = 8
MARGIN = 1e-3             # each greedy step: top1 - top2 > MARGIN * max(1, |top1|)

VISION = {
    "model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
    "num_attention_heads": 4, "num_channels": 3, "image_size": TILE, "patch_size": PATCH,
    "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-06, "attention_dropout": 0.0, "vision_use_head": False,
}
TEXT = {
    "model_type": "qwen2", "vocab_size": 152000, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2,
    "num_attention_heads": 2, "num_key_value_heads": 1, "hidden_act": "silu", "max_position_embeddings": 32768,
    "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "rope_scaling": None, "tie_word_embeddings": True,
    "use_sliding_window": False, "attention_dropout": 0.0, "bos_token_id": BOS, "eos_token_id": EOS,
}
CONFIG = {
    "architectures": ["LlavaOnevisionForConditionalGeneration"], "model_type": "llava_onevision",
    "image_token_index": IMAGE_TOKEN, "video_token_index": VIDEO_TOKEN,
    "vision_feature_layer": -1, "vision_feature_select_strategy": "full", "vision_aspect_ratio": "anyres_max_9",
    "image_grid_pinpoints": PINPOINTS, "projector_hidden_act": "gelu", "multimodal_projector_bias": True,
    "use_image_newline_parameter": True, "tie_word_embeddings": True,
    "vision_config": VISION, "text_config": TEXT, "torch_dtype": "float16",
}
# Weight scales by kind: checkpoint_fixtures.SCALE's, except embeddings 0.3 (not 0.5) and matrices 0.5 (not
# 0.2), so that the layers, not the tied embedding of the last token, decide the next token (with SCALE's
# values every image's continuation is one token repeated). SEED is the first of 1..15 whose greedy steps all
# clear the margin with the largest smallest relative margin (0.0047) and 8 distinct tokens per image.
SEED = 12
CHAT_SCALE = {
    "embedding": lambda torch, s: torch.randn(s) * 0.3,
    "matrix": lambda torch, s: torch.randn(s) * 0.5,
}

# The processor files of llava-hf/llava-onevision-qwen2-0.5b-ov-hf, scaled to 24 px.
PREPROCESSOR = {
    "do_convert_rgb": True, "do_normalize": True, "do_pad": True, "do_rescale": True, "do_resize": True,
    "image_grid_pinpoints": PINPOINTS, "image_mean": [0.5, 0.5, 0.5],
    "image_processor_type": "LlavaOnevisionImageProcessor", "image_std": [0.5, 0.5, 0.5],
    "processor_class": "LlavaOnevisionProcessor", "resample": 3, "rescale_factor": 1 / 255,
    "size": {"height": TILE, "width": TILE},
}
PROCESSOR = {
    "image_token": "<image>", "num_image_tokens": SIDE * SIDE, "processor_class": "LlavaOnevisionProcessor",
    "video_token": "<video>", "vision_feature_select_strategy": "full",
}
# transformers' convert_llava_onevision_weights_to_hf.py chat_template (its '\n' are newlines).
CHAT_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n'}}"
    "{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}"
    "{# Render all video then #}{% for content in message['content'] | selectattr('type', 'equalto', 'video') %}"
    "{{ '<video>\n' }}{% endfor %}"
    "{# Render all text next #}{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] }}{% endfor %}"
    "{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] }}{% endgeneration %}{% endfor %}{% endif %}"
    "{{'<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)


def added_token(content):
    # AddedToken(content, special=True, normalized=False) as the conversion script adds them; Qwen2's own are the same.
    return {"content": content, "lstrip": False, "normalized": False, "rstrip": False, "single_word": False,
            "special": True}


TOKENIZER_CONFIG = {
    "add_prefix_space": False,
    "added_tokens_decoder": {
        str(BOS): added_token("<|endoftext|>"), "151644": added_token("<|im_start|>"), str(EOS): added_token("<|im_end|>"),
        str(IMAGE_TOKEN): added_token("<image>"), str(VIDEO_TOKEN): added_token("<video>"),
    },
    "additional_special_tokens": ["<|im_start|>", "<|im_end|>"],
    "bos_token": None,
    "chat_template": CHAT_TEMPLATE,
    "clean_up_tokenization_spaces": False,
    "eos_token": "<|im_end|>",
    "errors": "replace",
    "model_max_length": 32768,
    "pad_token": "<|endoftext|>",
    "processor_class": "LlavaOnevisionProcessor",
    "split_special_tokens": False,
    "tokenizer_class": "Qwen2Tokenizer",
    "unk_token": None,
}
GENERATION_CONFIG = {"_from_model_config": True, "bos_token_id": BOS, "eos_token_id": EOS}

SYSTEM = "You are a helpful assistant."
QWEN_1_5 = ("<|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n<image>\n{question}<|im_end|>\n"
            "<|im_start|>assistant\n")
# (width, height, question): square (one tile), wide (rows unpadded), large (anyres_max_9 reduction,
# columns unpadded), tall and narrow (columns unpadded).
IMAGES = [
    (24, 24, "What is shown in this image?"),
    (61, 30, "Describe the colors in this picture."),
    (100, 70, "How many shapes can you see? Answer in one word."),
    (16, 70, "Is this image taller than it is wide?"),
]


def derived_tokenizer_json(shared_tokenizer, tokenizer_config):
    """tokenizer.json for this checkpoint: `shared_tokenizer` (../shared/tokenizers/qwen/tokenizer.json,
    parsed) with its top-level "added_tokens" replaced by one entry per key of `tokenizer_config`'s
    "added_tokens_decoder", in increasing numeric id order, each {"id": int(key), "content", "single_word",
    "lstrip", "rstrip", "normalized", "special"} taken from that key's object. Nothing else changes."""
    decoder = tokenizer_config["added_tokens_decoder"]
    out = dict(shared_tokenizer)
    out["added_tokens"] = [
        {"id": int(k), **{f: decoder[k][f] for f in ("content", "single_word", "lstrip", "rstrip", "normalized",
                                                      "special")}}
        for k in sorted(decoder, key=int)]
    return out


class ChatWeights(cf.Weights):
    """checkpoint_fixtures.Weights with this checkpoint's scales (CHAT_SCALE over SCALE)."""

    def add(self, name, kind, shape):
        if name in self.t:
            raise ValueError(f"Weights: {name} drawn twice")
        self.names.append(name)
        self.t[name] = CHAT_SCALE.get(kind, cf.SCALE[kind])(self.torch, list(shape)).to(self.store)


def add_llava(w, vision, text):
    """A LlavaOnevisionForConditionalGeneration's tensors (pre-4.52 names, tied head) drawn into `w`, in order."""
    cf.add_siglip(w, "vision_tower.vision_model.", vision, head=False)
    w.affine("multi_modal_projector.linear_1", text["hidden_size"], vision["hidden_size"])
    w.affine("multi_modal_projector.linear_2", text["hidden_size"], text["hidden_size"])
    w.add("image_newline", "embedding", (text["hidden_size"],))
    cf.add_qwen2(w, "language_model.model.", text, lm_head=None)
    return w


def make_weights(torch):
    torch.manual_seed(SEED)
    return add_llava(ChatWeights(torch, torch.float16), VISION, TEXT)


# ---------------------------------------------------------------------------
# the images

def draw_image(Image, ImageDraw, np, index, width, height):
    """A small RGB picture: integer gradients and a few shapes (deterministic)."""
    x = np.arange(width, dtype=np.int64)[None, :]
    y = np.arange(height, dtype=np.int64)[:, None]
    r = (x * 255) // max(1, width - 1) + 0 * y
    g = (y * 255) // max(1, height - 1) + 0 * x
    b = 255 - (r + g) // 2
    arr = np.stack([r, g, b], axis=-1).astype(np.uint8)
    img = Image.fromarray(arr, mode="RGB")
    d = ImageDraw.Draw(img)
    if index == 0:
        d.ellipse((5, 5, 18, 18), fill=(250, 40, 30))
    elif index == 1:
        d.rectangle((6, 4, 24, 20), fill=(20, 20, 200))
        d.ellipse((34, 8, 55, 26), fill=(255, 230, 0))
    elif index == 2:
        d.rectangle((8, 10, 40, 35), fill=(0, 150, 60))
        d.ellipse((50, 20, 90, 60), fill=(240, 240, 240))
        d.polygon([(20, 65), (35, 42), (50, 65)], fill=(200, 0, 160))
    else:
        d.rectangle((3, 10, 12, 60), fill=(10, 10, 10))
        d.line((0, 35, 15, 35), fill=(255, 255, 255), width=2)
    return img


# ---------------------------------------------------------------------------
# LlavaOnevisionImageProcessor (slow), transformers' semantics in numpy + PIL

def select_best_resolution(original_size, possible_resolutions):
    """image_processing_utils.select_best_resolution: original_size and each resolution are (height, width)."""
    original_height, original_width = original_size
    best_fit, max_effective, min_wasted = None, 0, float("inf")
    for height, width in possible_resolutions:
        scale = min(width / original_width, height / original_height)
        downscaled_width, downscaled_height = int(original_width * scale), int(original_height * scale)
        effective = min(downscaled_width * downscaled_height, original_width * original_height)
        wasted = width * height - effective
        if effective > max_effective or (effective == max_effective and wasted < min_wasted):
            max_effective, min_wasted, best_fit = effective, wasted, (height, width)
    return best_fit


def get_patch_output_size(original_height, original_width, target_resolution):
    target_height, target_width = target_resolution
    scale_w = target_width / original_width
    scale_h = target_height / original_height
    if scale_w < scale_h:
        return min(math.ceil(original_height * scale_w), target_height), target_width
    return target_height, min(math.ceil(original_width * scale_h), target_width)


def pil_resize(Image, np, arr, height, width):
    """image_transforms.resize on a uint8 HWC array: PIL bicubic (resample 3), back to uint8 HWC."""
    return np.array(Image.fromarray(arr).resize((width, height), resample=3, reducing_gap=None))


def preprocess(Image, np, img):
    """(pixel_values float32 [crops, 3, 24, 24], (height, width), best resolution, (grid_h, grid_w))."""
    if img.mode != "RGB":
        raise ValueError("the fixture images are RGB")  # convert_to_rgb leaves RGB images as they are
    arr = np.array(img)  # uint8 [H, W, 3]
    height, width = arr.shape[:2]
    best = select_best_resolution((height, width), PINPOINTS)
    new_h, new_w = get_patch_output_size(height, width, best)
    resized = pil_resize(Image, np, arr, new_h, new_w)
    # _pad_for_patching recomputes the output size from the resized image: the same (new_h, new_w)
    if get_patch_output_size(new_h, new_w, best) != (new_h, new_w):
        raise AssertionError("get_patch_output_size is not idempotent here")
    top, r_y = divmod(best[0] - new_h, 2)
    left, r_x = divmod(best[1] - new_w, 2)
    padded = np.pad(resized, ((top, top + r_y), (left, left + r_x), (0, 0)), mode="constant", constant_values=0)
    tiles = [padded[i:i + TILE, j:j + TILE] for i in range(0, best[0], TILE) for j in range(0, best[1], TILE)]
    crops = [pil_resize(Image, np, arr, TILE, TILE)] + tiles
    # _preprocess: resize to 24x24 (PIL returns a copy when the size is already that), rescale, normalize
    mean = np.array(PREPROCESSOR["image_mean"], dtype=np.float32)
    std = np.array(PREPROCESSOR["image_std"], dtype=np.float32)
    out = []
    for c in crops:
        c = pil_resize(Image, np, c, TILE, TILE)
        c = (c.astype(np.float64) * PREPROCESSOR["rescale_factor"]).astype(np.float32)
        c = (c - mean) / std
        if c.dtype != np.float32:
            raise AssertionError("normalize left float32")
        out.append(c.transpose(2, 0, 1))
    return np.stack(out), (height, width), best, (best[0] // TILE, best[1] // TILE)


def processor_token_count(height, width, best):
    """LlavaOnevisionProcessor._get_number_of_features (num_image_tokens 16, anyres_max_9): (count, details)."""
    scale_h, scale_w = best[0] // TILE, best[1] // TILE
    cur_h, cur_w = SIDE * scale_h, SIDE * scale_w
    if width / height > cur_w / cur_h:
        new_h = int(round(height * (cur_w / width), 7))
        cur_h -= ((cur_h - new_h) // 2) * 2
    else:
        new_w = int(round(width * (cur_h / height), 7))
        cur_w -= ((cur_w - new_w) // 2) * 2
    unpadded, newline = cur_h * cur_w, cur_h
    rows, cols = cur_h, cur_w
    ratio = math.sqrt(cur_h * cur_w / (MAX_NUM_PATCHES * SIDE ** 2))
    if ratio > 1.1:
        rows, cols = int(cur_h // ratio), int(cur_w // ratio)
        unpadded, newline = rows * cols, rows
    return unpadded + newline + SIDE * SIDE, {"unpadded": (cur_h, cur_w), "ratio": ratio, "packed": (rows, cols)}


# ---------------------------------------------------------------------------
# LlavaOnevisionModel, transformers' semantics in plain torch

def unpad_image(tensor, original_size):
    original_height, original_width = original_size
    current_height, current_width = tensor.shape[1:]
    if original_width / original_height > current_width / current_height:
        new_height = int(round(original_height * (current_width / original_width), 7))
        padding = (current_height - new_height) // 2
        return tensor[:, padding:current_height - padding, :]
    new_width = int(round(original_width * (current_height / original_height), 7))
    padding = (current_width - new_width) // 2
    return tensor[:, :, padding:current_width - padding]


def image_features(torch, w, pixel_values, image_size, best):
    """get_image_features + pack_image_features for one image: [n, text hidden]."""
    F = torch.nn.functional
    vision = {k[len("vision_tower.vision_model."):]: v for k, v in w.items() if k.startswith("vision_tower.")}
    states, _ = cf.siglip_forward(torch, vision, VISION, pixel_values)
    x = states[CONFIG["vision_feature_layer"]]  # "full": every patch
    x = F.gelu(F.linear(x, w["multi_modal_projector.linear_1.weight"], w["multi_modal_projector.linear_1.bias"]))
    x = F.linear(x, w["multi_modal_projector.linear_2.weight"], w["multi_modal_projector.linear_2.bias"])
    grid_h, grid_w = best[0] // TILE, best[1] // TILE
    if x.shape[0] != grid_h * grid_w + 1:  # image_size_to_num_patches
        raise AssertionError("crop count")
    base, tiles = x[0], x[1:]
    f = tiles.view(grid_h, grid_w, SIDE, SIDE, -1).permute(4, 0, 2, 1, 3).contiguous()
    f = f.flatten(1, 2).flatten(2, 3)
    f = unpad_image(f, image_size)
    channels, cur_h, cur_w = f.shape
    ratio = math.sqrt(cur_h * cur_w / (MAX_NUM_PATCHES * SIDE ** 2))
    if ratio > 1.1:
        f = F.interpolate(f[None], [int(cur_h // ratio), int(cur_w // ratio)], mode="bilinear")[0]
    newline = w["image_newline"][:, None, None].expand(*f.shape[:-1], 1).to(f.dtype)
    f = torch.cat((f, newline), dim=-1).flatten(1, 2).transpose(0, 1)
    return torch.cat((base, f), dim=0)


def lm_last_hidden(torch, lm, embeds):
    """Qwen2Model's final-norm output at the last position, for input embeddings [T, hid]."""
    hid = TEXT["hidden_size"]
    ident = dict(lm)
    ident["lm_head.weight"] = torch.eye(hid, dtype=embeds.dtype)  # qwen2_forward's lm_head: identity
    return cf.qwen2_forward(torch, ident, TEXT, embeds[None])[0, -1]


def generate(torch, w, input_ids, feats):
    """Greedy decoding with full recomputation: (generated ids, logits at the first step, per-step margins)."""
    lm = {k[len("language_model.model."):]: v for k, v in w.items() if k.startswith("language_model.model.")}
    emb = lm["embed_tokens.weight"]
    x = emb[input_ids].clone()
    mask = input_ids == IMAGE_TOKEN
    if int(mask.sum()) != feats.shape[0]:
        raise AssertionError("image tokens and features differ in number")
    x[mask] = feats.to(x.dtype)
    generated, margins, first = [], [], None
    for _ in range(MAX_NEW_TOKENS):
        logits = emb @ lm_last_hidden(torch, lm, x)  # tied lm_head
        if first is None:
            first = logits
        top = torch.topk(logits, 2)
        top1, top2 = float(top.values[0]), float(top.values[1])
        nxt = int(top.indices[0])
        margins.append((top1 - top2, top1))
        generated.append(nxt)
        if nxt == EOS:
            break
        x = torch.cat((x, emb[nxt][None]), dim=0)
    return generated, first, margins


# ---------------------------------------------------------------------------
# tokenization through Hugging Face tokenizers (node)

def tokenize(texts, decode, tokenizer_json):
    with tempfile.TemporaryDirectory(prefix="llava_chat_") as tmp:
        tok_path = os.path.join(tmp, "tokenizer.json")
        with open(tok_path, "w", encoding="utf-8") as f:
            json.dump(tokenizer_json, f, ensure_ascii=False)
        req, out = os.path.join(tmp, "request.json"), os.path.join(tmp, "out.json")
        with open(req, "w", encoding="utf-8") as f:
            json.dump({"texts": texts, "decode": decode}, f, ensure_ascii=False)
        subprocess.run(["node", PROMPT_IDS_MJS, tok_path, req, out], check=True)
        with open(out, encoding="utf-8") as f:
            return json.load(f)


# ---------------------------------------------------------------------------

def ensure_pil():
    try:
        import PIL  # noqa: F401
        return
    except ImportError:
        pass
    if os.environ.get("LACO_PIL_INSTALL_TRIED"):
        sys.exit("llava_chat_fixtures: python3-pil is still missing after apt-get install")
    cmd = ["apt-get", "install", "-y", "--no-install-recommends", "python3-pil"]
    if os.geteuid() != 0:
        cmd = ["sudo"] + cmd
    print("llava_chat_fixtures: installing Debian's python3-pil (test fixtures only):", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
    os.environ["LACO_PIL_INSTALL_TRIED"] = "1"
    os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_json_file(path, obj, sort_keys=False, trailing_newline=True):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=sort_keys) + ("\n" if trailing_newline else ""))
    os.replace(path + ".tmp", path)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/checkpoints", help="the folder the fixtures are written to")
    args = ap.parse_args()
    debian_torch.ensure_torch("llava_chat_fixtures", "test fixtures only")
    debian_torch.ensure_pil("llava_chat_fixtures", "test fixtures only")
    ensure_pil()
    import numpy as np
    import PIL
    import torch
    from PIL import Image, ImageDraw
    torch.set_num_threads(1)  # one reduction order: byte-identical references run to run

    out = args.out
    folder, img_folder = os.path.join(out, NAME), os.path.join(out, IMAGES_DIR)
    os.makedirs(folder, exist_ok=True)
    os.makedirs(img_folder, exist_ok=True)
    print(f"llava_chat_fixtures: torch {torch.__version__}, numpy {np.__version__}, Pillow {PIL.__version__}, "
          f"writing {out}")

    # the checkpoint and its processor files
    w = make_weights(torch)
    cf.write_checkpoint(torch, out, NAME, CONFIG, w)
    write_json_file(os.path.join(folder, "preprocessor_config.json"), PREPROCESSOR, sort_keys=True)
    write_json_file(os.path.join(folder, "processor_config.json"), PROCESSOR, sort_keys=True)
    write_json_file(os.path.join(folder, "chat_template.json"), {"chat_template": CHAT_TEMPLATE}, sort_keys=True)
    write_json_file(os.path.join(folder, "tokenizer_config.json"), TOKENIZER_CONFIG, sort_keys=True)
    write_json_file(os.path.join(folder, "generation_config.json"), GENERATION_CONFIG, sort_keys=True)

    with open(SHARED_TOKENIZER, "rb") as f:
        shared_bytes = f.read()
    tokenizer_json = derived_tokenizer_json(json.loads(shared_bytes.decode("utf-8")), TOKENIZER_CONFIG)

    # images, processor outputs, prompts
    cases = []
    for i, (width, height, question) in enumerate(IMAGES):
        path = os.path.join(img_folder, f"image{i}.png")
        draw_image(Image, ImageDraw, np, i, width, height).save(path, format="PNG")
        with Image.open(path) as im:
            im.load()
            img = im.convert("RGB") if im.mode != "RGB" else im.copy()
        pixels, size, best, grid = preprocess(Image, np, img)
        count, detail = processor_token_count(size[0], size[1], best)
        prompt = QWEN_1_5.format(system=SYSTEM, question=question)
        cases.append(dict(file=f"{IMAGES_DIR}/image{i}.png", question=question, prompt=prompt, pixels=pixels,
                          size=size, best=best, grid=grid, count=count, detail=detail))

    texts = []
    for c in cases:
        texts += [c["prompt"], c["prompt"].replace("<image>", "<image>" * c["count"])]
    tok = tokenize(texts, [], tokenizer_json)
    for k, c in enumerate(cases):
        ids, expanded_text_ids = tok["ids"][2 * k], tok["ids"][2 * k + 1]
        if ids.count(IMAGE_TOKEN) != 1:
            raise AssertionError("the prompt must hold one <image> id")
        at = ids.index(IMAGE_TOKEN)
        c["input_ids"] = ids[:at] + [IMAGE_TOKEN] * c["count"] + ids[at + 1:]
        if c["input_ids"] != expanded_text_ids:
            raise AssertionError("expanding <image> in the text and in the ids disagree")
        c["prompt_ids"] = ids

    # the model, float64 from the stored weights (and float32 for the self-check)
    def run(dt):
        wv = w.view("", dt)
        res = []
        with torch.no_grad():
            for c in cases:
                px = torch.from_numpy(c["pixels"]).to(dt)
                feats = image_features(torch, wv, px, c["size"], c["best"])
                ids = torch.tensor(c["input_ids"], dtype=torch.int64)
                gen, first, margins = generate(torch, wv, ids, feats)
                res.append(dict(feats=feats, gen=gen, first=first, margins=margins))
        return res

    ref, f32 = run(torch.float64), run(torch.float32)

    failures = []
    tensors = []
    meta = {"checkpoint": NAME, "generator": GENERATOR, "torch": torch.__version__, "numpy": np.__version__,
            "pillow": PIL.__version__, "reference_dtype": "float64", "transformers_read": TRANSFORMERS_READ,
            "tokenizer": tok["reference"] + " on ../shared/tokenizers/qwen/tokenizer.json (sha256 "
                         + hashlib.sha256(shared_bytes).hexdigest() + ") with added_tokens from "
                         + NAME + "/tokenizer_config.json added_tokens_decoder",
            "images": str(len(cases)), "max_new_tokens": str(MAX_NEW_TOKENS), "eos_token_id": str(EOS),
            "margin": f"top1 - top2 > {MARGIN} * max(1, |top1|) at every greedy step"}
    for i, (c, r) in enumerate(zip(cases, ref)):
        if r["feats"].shape[0] != c["count"]:
            failures.append(f"image{i}: {r['feats'].shape[0]} features, the processor counts {c['count']}")
        for g in r["gen"]:
            if g in (IMAGE_TOKEN, VIDEO_TOKEN):
                failures.append(f"image{i}: generated the placeholder id {g}")
        for step, (m, top1) in enumerate(r["margins"]):
            if not m > MARGIN * max(1.0, abs(top1)):
                failures.append(f"image{i} step {step}: margin {m:.3g} at top1 {top1:.4g}")
        meta[f"image{i}.file"] = c["file"]
        meta[f"image{i}.question"] = c["question"]
        meta[f"image{i}.prompt"] = c["prompt"]
        # Each greedy step's top-1 minus top-2 logit (float64), beside top-1: the room float32 rounding has.
        meta[f"image{i}.margins"] = " ".join(f"{m:.4f}/{t:.3f}" for m, t in r["margins"])
        tensors += [
            (f"image{i}.pixel_values", torch.from_numpy(c["pixels"]), "F32"),
            (f"image{i}.image_size", torch.tensor(c["size"], dtype=torch.int64), "I64"),
            (f"image{i}.input_ids", torch.tensor(c["input_ids"], dtype=torch.int64), "I64"),
            (f"image{i}.image_features", r["feats"], "F32"),
            (f"image{i}.generated_ids", torch.tensor(r["gen"], dtype=torch.int64), "I64"),
        ]
    if failures:
        sys.exit("llava_chat_fixtures: " + "; ".join(failures))
    ref_path = os.path.join(out, f"{NAME}.reference.safetensors")
    cf.write_safetensors(torch, ref_path, tensors, meta)

    decoded = tokenize([], [r["gen"] for r in ref], tokenizer_json)["decoded"]
    print(f"tokenizer reference: {tok['reference']}")
    for i, (c, r, s) in enumerate(zip(cases, ref, f32)):
        d = c["detail"]
        feat_err = (s["feats"].double() - r["feats"]).abs().max().item() / max(1.0, r["feats"].abs().max().item())
        logit_err = (s["first"].double() - r["first"]).abs().max().item() / max(1.0, r["first"].abs().max().item())
        print(f"image{i}: {c['size'][1]}x{c['size'][0]} (w x h), best pinpoint {c['best'][0]}x{c['best'][1]} (h x w), "
              f"tiles {c['grid'][0]}x{c['grid'][1]} ({c['pixels'].shape[0]} crops)")
        print(f"  features: unpadded grid {d['unpadded'][0]}x{d['unpadded'][1]} "
              f"({d['unpadded'][0] * d['unpadded'][1]} + {d['unpadded'][0]} newlines + 16 base = "
              f"{d['unpadded'][0] * (d['unpadded'][1] + 1) + 16}), ratio {d['ratio']:.4f}, after anyres_max_9 "
              f"{d['packed'][0]}x{d['packed'][1]} -> {c['count']} image tokens")
        print(f"  prompt: {len(c['prompt_ids'])} ids before expansion, {len(c['input_ids'])} after; "
              f"question {c['question']!r}")
        print(f"  generated {r['gen']} = {decoded[i]!r}")
        print("  margins (top1 - top2 / top1): " + ", ".join(f"{m:.4f}/{t:.3f}" for m, t in r["margins"]))
        print(f"  float32 self-check: generated {'same' if s['gen'] == r['gen'] else 'DIFFERENT ' + str(s['gen'])}, "
              f"features {feat_err:.2e}, first logits {logit_err:.2e} (max|f32-f64| / max(1, max|f64|))")
    print("files (sha256):")
    written = [os.path.join(folder, f) for f in sorted(os.listdir(folder))]
    written += [os.path.join(img_folder, f) for f in sorted(os.listdir(img_folder))] + [ref_path]
    for p in written:
        print(f"  {sha256(p)}  {os.path.getsize(p):9d}  {os.path.relpath(p, out)}")


if __name__ == "__main__":
    main()
