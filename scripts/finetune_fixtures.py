#!/usr/bin/python3
"""A reference fine-tune (LLaVA-OneVision's stage-2 recipe, LaCo inside the vision tower) for the C++ trainer's test.

Writes, under --out (default tests/finetune):
  conversations.jsonl       6 conversations in LLaVA's layout, one JSON object a line (UTF-8, not ASCII-escaped):
                            {"id", "image": "../checkpoints/llava_onevision_chat_images/imageK.png" (relative to the
                            JSONL's folder), "conversations": [{"from": "human"|"gpt", "value"}, ...]}. They cover:
                            2 and 3 exchanges, an <image> not at the start of the first human value, a first turn
                            from "gpt", a user text with an inner "\\n" (after a letter: token 198) and one with
                            "\\n\\n" (token 271), non-ASCII text (French and Chinese), answers from 2 tokens to 55.
  laco_init.safetensors     the compressor's initial weights (F32), under the C++ module's names
                            (methods/pixel_shuffle.cc make_shuffle_mlp: Sequential(LayerNorm(128), Linear(128, 32),
                            GELU, Linear(32, 32))): mlp1.0.weight [128], mlp1.0.bias [128], mlp1.1.weight [32, 128],
                            mlp1.1.bias [32], mlp1.3.weight [32, 32], mlp1.3.bias [32]. Drawn here with
                            torch.manual_seed(INIT_SEED) in float32: Linear weights N(0, 0.1^2), biases N(0, 0.05^2),
                            LayerNorm weight 1 + N(0, 0.1^2), bias N(0, 0.1^2).
  reference.safetensors     the reference numbers (F64 unless said), with metadata describing each family:
      conv{i}.text_ids       I64 [T]  preprocess_qwen's input_ids (151646 for <image>, where LLaVA writes -200)
      conv{i}.text_labels    I64 [T]  preprocess_qwen's labels (-100 = IGNORE)
      conv{i}.input_ids      I64 [L]  after the image expansion (N copies of 151646) and truncation to max_length
      conv{i}.labels         I64 [L]  the same positions' labels (-100 at the N image positions)
      conv{i}.visual_tokens  I64 [1]  N, the packed image's feature vectors (compressed grid)
      conv{i}.image_features0 F64 [N, 16]  the initial model's packed image features (a debugging aid)
      conv{i}.loss0          F64 [1]  the initial model's loss on conversation i alone
      step{s}.loss           F64 [1]  s = 0..2: the mean of its two micro-batch losses (what HF's Trainer logs)
      step{s}.micro_losses   F64 [2]  the two micro-batch losses (before the division by 2)
      step{s}.lr_factor      F64 [1]  the cosine-with-warm-up multiplier the optimizer step ran at
      step{s}.grad_norm      F64 [1]  clip_grad_norm_'s total norm, before clipping
      after3.<name>          F64      every trainable parameter after the third optimizer step, under the
                                      transformers-layout name of tests/checkpoints/llava_onevision_chat
                                      (multi_modal_projector.linear_1.weight, image_newline,
                                      language_model.model.layers.0.self_attn.q_proj.weight, ...) and the
                                      compressor's as laco_compressor.<C++ name> (laco_compressor.mlp1.0.weight ...);
                                      except the embedding, see EMBEDDING below.
  EMBEDDING. language_model.model.embed_tokens.weight [152000, 16] is tied to the lm_head (the checkpoint stores it
  once, under that name, and so does this file). Through the tied head's softmax EVERY row gets a gradient on every
  micro-batch, so no row moves by weight decay alone and the full tensor (19 MB in F64) would be needed for an
  element-wise comparison. It is stored instead as, with D = after3 - initial (the checkpoint's F16 values), in F64:
      after3.language_model.model.embed_tokens.weight.rows      I64 [K] the sorted ids that occur in any
                                      conversation's text_ids (every row used as an input embedding or as a label)
      after3.language_model.model.embed_tokens.weight.at_rows   F64 [K, 16] those rows of after3, in full
      after3.language_model.model.embed_tokens.weight.delta_row_checksum  F64 [152000] for every row i,
                                      sum_j (j + 1) * D[i, j]  (j = 0..15; weights 1..16 also catch swapped columns)
      after3.language_model.model.embed_tokens.weight.delta_col_sum  F64 [16] sum_i D[i, j] over all rows
      after3.language_model.model.embed_tokens.weight.delta_sumsq    F64 [1]  sum of D^2 over the whole tensor
  The C++ test computes the same reductions from its trained embedding minus the checkpoint's values (in double).

The model. The tiny checkpoint tests/checkpoints/llava_onevision_chat (see scripts/llava_chat_fixtures.py: SigLIP
24 px / 6 px patches = a 4x4 token grid a crop, width 32, 3 blocks, no post_layernorm; projector linear_1 / erf GELU /
linear_2; image_newline; Qwen2 width 16, vocabulary 152000, tied lm_head) with method `laco` (methods/laco.cc) inserted
AFTER encoder block 2 of 3 with ratio r = 2: for every crop, S = space_to_channel(x, 4x4, 2) (harness/model/grid.cc:
[B, 16, 32] -> [B, 2, 2, 2, 2, 32] as (H', di, W', dj, C) -> permute (H', W', di, dj, C) -> [B, 4, 128]),
Y = mlp1(S) + A(S) with A(S) = the mean of the 4 channel groups of 32 (grid.cc channel_group_mean: 2x2 average
pooling; the 4x4 grid needs no padding), mlp1 = LayerNorm(128, eps 1e-5, LibTorch's default) -> Linear(128, 32) ->
exact (erf) GELU -> Linear(32, 32); then block 3 on the 2x2 grid, then the projector, then LLaVA-OneVision's anyres
packing as harness/model/anyres.cc computes it ON THE COMPRESSED TILE GRID (tile = 2x2 tokens): base crop's 4 tokens
first; the tiles arranged to a (2 rows) x (2 cols) map; unpad_image on it (int(round(x, 7)) as anyres.cc's int_round7);
anyres_max_9: ratio = sqrt(h * w / (9 * 2 * 2)), if > 1.1 torch bilinear interpolation (align_corners false) to
(int(h // ratio), int(w // ratio)); image_newline appended to every row; row-major. (transformers' pack_image_features
takes the tile side from the vision config, 4, and could not pack compressed tiles; LLaVA-NeXT's own llava_arch.py
takes unit = the side of the tiles it is given, as the C++ and this script do.) The images give
image0 24x24 -> 1x1 tile -> 4 + 2 x 3 = 10 tokens; image1 61x30 -> 2x3 tiles -> 4x6 map unpadded to 2x6 -> 18;
image2 100x70 -> 3x5 tiles -> 6x10 unpadded to 6x8, ratio 1.155 -> 5x6 -> 39; image3 16x70 -> 3x1 -> 6x2 -> 22.
The image processor is llava_chat_fixtures.preprocess (transformers' LlavaOnevisionImageProcessor). The LM is
checkpoint_fixtures.qwen2_forward (positions 0..L-1, micro-batch 1, no padding). Sanity check run first, every time:
without the compressor (tile 4x4) this pipeline reproduces llava_onevision_chat.reference.safetensors
image{0..3}.pixel_values exactly and image{0..3}.image_features to F32 rounding.

The labels (LLaVA-NeXT llava/train/train.py @df179663ae8b, LazySupervisedDataset._get_item ->
preprocess_multimodal -> preprocess_qwen, then llava/model/llava_arch.py prepare_inputs_labels_for_multimodal):
  * preprocess_multimodal: in every value with exactly one "<image>" that does not start with it:
    value.replace("<image>", "").strip(), then "<image>\\n" + value, then .strip() (inner spaces stay: "this  and");
  * preprocess_qwen: a first turn not from "human" is dropped (only the first); system turn
    "<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n"; each turn tokenised on its own as
    "<|im_start|>{user|assistant}\\n{value}<|im_end|>\\n" (apply_chat_template with LLaVA's reset template); labels
    IGNORE (-100) for the system and user turns, the turn's own ids for assistant turns (role header and the final
    "<|im_end|>\\n" included); then every id in [198 ("\\n"), 151644 <|im_start|>, 151645 <|im_end|>] anywhere gets its
    own id as label (even inside system and user turns: conv3's "shapes\\nAnswer" has a supervised 198 in a user
    turn, while its "them\\n\\nUse" gives "\\n\\n" = 271, another id, which stays IGNORE; "<image>\\n" gives
    151646, 198). <image> stays 151646 here (LLaVA: -200).
  * expansion: the <image> position is replaced by the image's N packed features, labels -100 for all N; then the
    first max_length positions are kept (input and labels alike; tokenizer_model_max_length). LLaVA's collator also
    cuts the text ids to model_max_length before the expansion; with the image before position max_length that gives
    the same result.
  * loss (transformers Qwen2ForCausalLM): logits[:-1] against labels[1:], cross-entropy mean over labels != -100.
    Only the supervised positions' logits are computed (the same numbers). Tokenisation: Hugging Face tokenizers (npm
    @anush008/tokenizers 0.6.0 via scripts/llava_chat_prompt_ids.mjs) on the checkpoint's derived tokenizer.json
    (llava_chat_fixtures.derived_tokenizer_json with the checkpoint's tokenizer_config.json).

The training (transformers' Trainer at LLaVA-NeXT's pin 1c39974a4c40 + LLaVATrainer.create_optimizer):
  * trainable: compressor + projector + image_newline + the whole LM (embed_tokens = tied lm_head, every layer, norms);
    frozen: the vision tower (blocks 1-2 run without gradients; block 3's weights are frozen but the gradient flows
    through it to the compressor).
  * groups: the LM and image_newline at lr 1e-3; multi_modal_projector.* at 2e-3 (mm_projector_lr); the compressor at
    5e-3 (compressor_lr). WEIGHT-DECAY RULE (by the parameter's role): 0.1 for every matrix (Linear weights), the
    embedding / tied lm_head, image_newline and the Qwen2 RMSNorm gains; 0 for every parameter whose name holds
    "bias" and every nn.LayerNorm parameter (the compressor's mlp1.0). That is LLaVA's own rule:
    LLaVATrainer.create_optimizer decays get_parameter_names(model, ALL_LAYERNORM_LAYERS) less the names holding
    "bias", and ALL_LAYERNORM_LAYERS is [nn.LayerNorm] at the pinned transformers: Qwen2RMSNorm is not one of them,
    so its gains decay (moot in LLaVA-OneVision's scripts, which set weight_decay 0).
  * torch.optim.AdamW(betas (0.9, 0.999), eps 1e-8): p *= 1 - lr * wd; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
    p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps). (PyTorch 2.x writes m as lerp: the same to an ulp.)
  * micro-batch 1 conversation, gradient accumulation 2: each micro-batch's mean loss / 2 is back-propagated, the
    gradients add up; then clip_grad_norm_(trainable, 1.0): total = ||(||g_p||_2 for every p)||_2 (torch's: the norm
    of the stacked per-parameter norms, computed in the gradients' dtype), every gradient *= min(1, 1 / (total +
    1e-6)); then the optimizer step; then the scheduler step; zero_grad.
  * get_cosine_schedule_with_warmup(num_warmup_steps = ceil(0.03 * 3) = 1, num_training_steps = 3): factor(step) =
    step / max(1, warmup) during warm-up, else max(0, 0.5 (1 + cos(pi * 2 * 0.5 * progress))), progress =
    (step - warmup) / max(1, total - warmup): optimizer steps 0, 1, 2 run at 0, 1, 0.5 (step 0 moves no parameter
    but fills Adam's moments).
  * data order = the file's (no shuffle): conversations 0, 1 -> step 0; 2, 3 -> step 1; 4, 5 -> step 2.
  * max_length 120 (MAX_LENGTH): exactly one conversation is cut, conversation 5 (TRUNCATED, id
    three_exchanges_long, 128 text ids + 39 visual - 1 = 166 positions), in the middle of its last assistant answer
    (positions 106..108 are its header, 109..163 its 55 content tokens: 11 kept); the others have 58..95 positions;
    every conversation keeps supervised labels. The script checks all of it.

Numerics: the reference runs in float64 from the checkpoint's F16 weights and laco_init's F32 values, converted
exactly; the pixel values are the processor's float32. The same run in float32 is printed beside it (max |f32 - f64|
per parameter group after 3 steps): the basis for the C++ test's tolerance. torch.set_num_threads(1); deterministic:
running it twice writes byte-identical files (sha256 printed).

Test-only: Debian's python3-torch / python3-numpy / python3-pil (installed when missing) and node with the npm package
(see scripts/hf_tokenizers.mjs; loaded from $TOKFIX_DIR, default /tmp/tokfix, installed there once). Usage, from the
repository: scripts/finetune_fixtures.py [--out tests/finetune]
"""
import argparse
import copy
import hashlib
import json
import math
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint_fixtures as cf  # noqa: E402
import debian_torch  # noqa: E402
import llava_chat_fixtures as lcf  # noqa: E402

GENERATOR = "scripts/finetune_fixtures.py"
DATE = "2026-12-08"
REPO = lcf.REPO
CHECKPOINT = os.path.join(REPO, "tests", "checkpoints", lcf.NAME)
CHAT_REFERENCE = os.path.join(REPO, "tests", "checkpoints", f"{lcf.NAME}.reference.safetensors")
LLAVA_NEXT = ("LLaVA-VL/LLaVA-NeXT @df179663ae8b83207df100a1f7af24caec633ff9: llava/train/train.py "
              "(preprocess_multimodal, preprocess_qwen, LazySupervisedDataset._get_item, "
              "DataCollatorForSupervisedDataset), llava/train/llava_trainer.py (LLaVATrainer.create_optimizer), "
              "llava/model/llava_arch.py (prepare_inputs_labels_for_multimodal); pyproject.toml pins "
              "transformers @1c39974a4c4036fd641bc1191cc32799f85715a4, torch 2.1.2")

IMAGE_STR, IMAGE_ID, IGNORE = "<image>", lcf.IMAGE_TOKEN, -100
SYSTEM = "You are a helpful assistant."
ROLES = {"human": "user", "gpt": "assistant"}

# the recipe
METHOD, BLOCK, RATIO = "laco", 2, 2
LR, PROJECTOR_LR, COMPRESSOR_LR = 1e-3, 2e-3, 5e-3
WEIGHT_DECAY, BETAS, EPS = 0.1, (0.9, 0.999), 1e-8
MAX_GRAD_NORM, GRAD_ACCUM, STEPS, WARMUP_RATIO = 1.0, 2, 3, 0.03
MAX_LENGTH = 120
TRUNCATED = 5
LACO_LN_EPS = 1e-5
INIT_SEED = 20261208
CHECKSUM_WEIGHTS = "j + 1"

IMG = "../checkpoints/llava_onevision_chat_images/image{}.png"
CONVERSATIONS = [
    {"id": "two_exchanges", "image": IMG.format(0), "conversations": [
        {"from": "human", "value": "<image>\nWhat is in the picture?"},
        {"from": "gpt", "value": "A red circle on a colour gradient."},
        {"from": "human", "value": "What colour is the circle?"},
        {"from": "gpt", "value": "Red."}]},
    {"id": "image_not_first", "image": IMG.format(1), "conversations": [
        {"from": "human", "value": "Look at this <image> and describe the colours."},
        {"from": "gpt", "value": "A blue rectangle and a yellow oval on a soft gradient."}]},
    {"id": "gpt_first", "image": IMG.format(3), "conversations": [
        {"from": "gpt", "value": "Hello! Please send me a picture."},
        {"from": "human", "value": "<image>\nIs this image taller than it is wide?"},
        {"from": "gpt", "value": "Yes, it is tall and narrow."}]},
    {"id": "newlines", "image": IMG.format(2), "conversations": [
        {"from": "human", "value": "<image>\nCount the shapes\nAnswer in one word."},
        {"from": "gpt", "value": "Three."},
        {"from": "human", "value": "Now list them\n\nUse commas."},
        {"from": "gpt", "value": "Rectangle, circle, triangle."}]},
    {"id": "non_ascii", "image": IMG.format(0), "conversations": [
        {"from": "human", "value": "<image>\nIs this a café sign? 这是什么颜色？"},
        {"from": "gpt", "value": "No, it is not a café. 这是红色的圆。"}]},
    {"id": "three_exchanges_long", "image": IMG.format(2), "conversations": [
        {"from": "human", "value": "<image>\nWhat shapes do you see?"},
        {"from": "gpt", "value": "A rectangle, a circle and a triangle."},
        {"from": "human", "value": "Where is the circle?"},
        {"from": "gpt", "value": "On the right."},
        {"from": "human", "value": "Describe the whole picture in detail."},
        {"from": "gpt", "value": "The background is a smooth gradient that runs from blue in the top left corner to "
                                 "yellow in the bottom right. A green rectangle sits in the upper left, a large white "
                                 "circle fills most of the right half, and a small purple triangle points upwards "
                                 "near the bottom left."}]},
]


# ---------------------------------------------------------------------------
# files

def read_safetensors(torch, np, path):
    """{name: tensor} (F16 / F32 / F64 / I64 as torch tensors) and the metadata of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", {})
    kinds = {"F16": "<f2", "F32": "<f4", "F64": "<f8", "I64": "<i8"}
    out = {}
    for name, h in header.items():
        a, b = h["data_offsets"]
        arr = np.frombuffer(blob[8 + n + a:8 + n + b], dtype=kinds[h["dtype"]]).reshape(h["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out, meta


_TENSOR_BYTES = cf.tensor_bytes


def tensor_bytes(torch, t, dtype):
    """checkpoint_fixtures.tensor_bytes plus F64 (little-endian float64), which that writer lacks."""
    if dtype == "F64":
        if t.dtype != torch.float64:
            raise ValueError(f"tensor_bytes: F64 needs a float64 tensor, got {t.dtype}")
        return t.detach().contiguous().cpu().numpy().astype("<f8").tobytes()
    return _TENSOR_BYTES(torch, t, dtype)


cf.tensor_bytes = tensor_bytes  # checkpoint_fixtures.write_safetensors looks it up at call time


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def write_jsonl(path, rows):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    os.replace(path + ".tmp", path)


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


# ---------------------------------------------------------------------------
# labels: LLaVA-NeXT's preprocess_multimodal + preprocess_qwen, expansion and truncation

def preprocess_multimodal(conversations):
    """train.py preprocess_multimodal (is_multimodal, mm_use_im_start_end false, no mmtag) on one conversation."""
    out = copy.deepcopy(conversations)
    for sentence in out:
        v = sentence["value"]
        if len(re.findall(IMAGE_STR, v)) == 1 and IMAGE_STR in v and not v.startswith(IMAGE_STR):
            v = v.replace(IMAGE_STR, "").strip()
            v = IMAGE_STR + "\n" + v
            v = v.strip()
        sentence["value"] = v.replace("QA_GT_caption_based_noisy", "")
    return out


def qwen_turns(source):
    """preprocess_qwen's rendered pieces: [(role, text)], the system turn first, a first non-human turn dropped."""
    if ROLES[source[0]["from"]] != ROLES["human"]:
        source = source[1:]
    turns = [("system", SYSTEM)] + [(ROLES.get(c["from"], c["from"]), c["value"]) for c in source]
    return [(role, f"<|im_start|>{role}\n{content}<|im_end|>\n") for role, content in turns]


def qwen_labels(turn_ids, roles, unmask):
    """preprocess_qwen's (input_id, target) from each turn's ids."""
    ids, labels = [], []
    for role, t in zip(roles, turn_ids):
        ids += t
        labels += [IGNORE] * len(t) if role in ("user", "system") else list(t)
    for k, x in enumerate(ids):
        if x in unmask:
            labels[k] = x
    return ids, labels


def expand(ids, labels, n, max_length):
    """prepare_inputs_labels_for_multimodal: <image> -> n positions (labels IGNORE), then the first max_length."""
    at = ids.index(IMAGE_ID)
    e_ids = ids[:at] + [IMAGE_ID] * n + ids[at + 1:]
    e_lab = labels[:at] + [IGNORE] * n + labels[at + 1:]
    return e_ids[:max_length], e_lab[:max_length], len(e_ids)


# ---------------------------------------------------------------------------
# the model

def siglip_layer(torch, w, c, x, i):
    """Encoder layer i (0-based) of checkpoint_fixtures.siglip_forward, on tokens x [B, N, hid]."""
    F = torch.nn.functional
    hid, heads, eps = c["hidden_size"], c["num_attention_heads"], c["layer_norm_eps"]
    d = hid // heads
    b, n, _ = x.shape
    lin = lambda v, name: F.linear(v, w[name + ".weight"], w[name + ".bias"])
    ln = lambda v, name: F.layer_norm(v, (hid,), w[name + ".weight"], w[name + ".bias"], eps)
    s = f"encoder.layers.{i}."
    r = x
    x = ln(x, s + "layer_norm1")
    q, k, v = (lin(x, s + "self_attn." + m).view(b, n, heads, d).transpose(1, 2)
               for m in ("q_proj", "k_proj", "v_proj"))
    att = torch.softmax(q @ k.transpose(-1, -2) * d ** -0.5, dim=-1)
    x = (att @ v).transpose(1, 2).reshape(b, n, hid)
    x = r + lin(x, s + "self_attn.out_proj")
    r = x
    x = ln(x, s + "layer_norm2")
    x = F.gelu(lin(x, s + "mlp.fc1"), approximate="tanh")
    return r + lin(x, s + "mlp.fc2")


def laco(torch, comp, x, side, r):
    """methods/laco.cc compress(): Y = mlp1(S) + A(S) on a side x side grid (no padding)."""
    F = torch.nn.functional
    b, _, c = x.shape
    h2 = side // r
    s = x.reshape(b, h2, r, h2, r, c).permute(0, 1, 3, 2, 4, 5).reshape(b, h2 * h2, r * r * c)
    y = F.layer_norm(s, (r * r * c,), comp["mlp1.0.weight"], comp["mlp1.0.bias"], LACO_LN_EPS)
    y = F.gelu(F.linear(y, comp["mlp1.1.weight"], comp["mlp1.1.bias"]))
    y = F.linear(y, comp["mlp1.3.weight"], comp["mlp1.3.bias"])
    return y + s.view(b, h2 * h2, r * r, c).mean(2)


def pack(torch, feats, image_size, grid, tile, newline):
    """harness/model/anyres.cc pack_anyres for tiles of tile x tile tokens: [n, hid]."""
    F = torch.nn.functional
    rows, cols = grid
    if feats.shape[0] != 1 + rows * cols or feats.shape[1] != tile * tile:
        raise AssertionError("pack: crop count or tile size")
    base = feats[0]
    f = feats[1:].view(rows, cols, tile, tile, -1).permute(4, 0, 2, 1, 3).contiguous().flatten(1, 2).flatten(2, 3)
    f = lcf.unpad_image(f, image_size)
    ch, h, w = f.shape
    ratio = math.sqrt(h * w / (lcf.MAX_NUM_PATCHES * tile * tile))
    if ratio > 1.1:
        f = F.interpolate(f[None], size=[int(h // ratio), int(w // ratio)], mode="bilinear", align_corners=False)[0]
    nl = newline[:, None, None].expand(ch, f.shape[1], 1)
    return torch.cat((base, torch.cat((f, nl), dim=-1).flatten(1, 2).transpose(0, 1)), dim=0)


class Model:
    """The checkpoint (+ compressor) in one dtype: frozen vision weights, trainable leaves in `params` (ordered)."""

    def __init__(self, torch, ckpt, comp_init, dt):
        self.torch, self.dt = torch, dt
        v = "vision_tower.vision_model."
        self.vision = {k[len(v):]: t.to(dt) for k, t in ckpt.items() if k.startswith(v)}
        self.params = {}
        for k, t in comp_init.items():
            self.params["laco_compressor." + k] = t
        for k, t in ckpt.items():
            if k.startswith("multi_modal_projector."):
                self.params[k] = t
        self.params["image_newline"] = ckpt["image_newline"]
        for k, t in ckpt.items():
            if k.startswith("language_model."):
                self.params[k] = t
        self.params = {k: t.to(dt).clone().requires_grad_(True) for k, t in self.params.items()}
        self.block2 = {}

    def comp(self):
        p = "laco_compressor."
        return {k[len(p):]: t for k, t in self.params.items() if k.startswith(p)}

    def lm(self):
        p = "language_model.model."
        lm = {k[len(p):]: t for k, t in self.params.items() if k.startswith(p)}
        lm["lm_head.weight"] = self.torch.eye(lcf.TEXT["hidden_size"], dtype=self.dt)  # final hidden states
        return lm

    def encode(self, key, pixels, compress):
        """[crops, tokens, 32]: blocks 1-2 (frozen, cached), the compressor when `compress`, block 3."""
        torch = self.torch
        if key not in self.block2:
            with torch.no_grad():
                states, _ = cf.siglip_forward(torch, self.vision, dict(lcf.VISION, num_hidden_layers=BLOCK),
                                              torch.from_numpy(pixels).to(self.dt))
            self.block2[key] = states[-1]
        x = self.block2[key]
        if compress:
            x = laco(torch, self.comp(), x, lcf.SIDE, RATIO)
        return siglip_layer(torch, self.vision, lcf.VISION, x, BLOCK)

    def image_features(self, key, img, compress=True):
        F = self.torch.nn.functional
        x = self.encode(key, img["pixels"], compress)
        p = self.params
        x = F.gelu(F.linear(x, p["multi_modal_projector.linear_1.weight"], p["multi_modal_projector.linear_1.bias"]))
        x = F.linear(x, p["multi_modal_projector.linear_2.weight"], p["multi_modal_projector.linear_2.bias"])
        tile = lcf.SIDE // RATIO if compress else lcf.SIDE
        return pack(self.torch, x, img["size"], img["grid"], tile, p["image_newline"])

    def loss(self, conv, images):
        """Qwen2ForCausalLM's loss on one conversation (its input_ids / labels already expanded and truncated)."""
        torch = self.torch
        F = torch.nn.functional
        emb = self.params["language_model.model.embed_tokens.weight"]
        feats = self.image_features(conv["image"], images[conv["image"]])
        if feats.shape[0] != conv["visual_tokens"]:
            raise AssertionError("visual token count")
        ids = conv["text_ids"]
        at = ids.index(IMAGE_ID)
        x = torch.cat((emb[torch.tensor(ids[:at])], feats, emb[torch.tensor(ids[at + 1:])]), dim=0)[:MAX_LENGTH]
        if x.shape[0] != len(conv["labels"]) or x.shape[0] != len(conv["input_ids"]):
            raise AssertionError("embeddings and labels differ in length")
        hidden = cf.qwen2_forward(torch, self.lm(), lcf.TEXT, x[None])[0]
        target = torch.tensor(conv["labels"][1:], dtype=torch.int64)
        keep = target != IGNORE
        logits = F.linear(hidden[:-1][keep], emb)  # the tied lm_head, at the supervised positions only
        return F.cross_entropy(logits, target[keep])


def param_group(name):
    if name.startswith("laco_compressor."):
        return "compressor"
    if name.startswith("multi_modal_projector."):
        return "projector"
    if name == "image_newline":
        return "image_newline"
    if name == "language_model.model.embed_tokens.weight":
        return "embedding"
    return "lm"


def decays(name):
    """LLaVA's weight-decay rule (the docstring's): no decay for names holding "bias" and nn.LayerNorm parameters."""
    if "bias" in name:
        return False
    if name == "laco_compressor.mlp1.0.weight":  # the compressor's nn.LayerNorm gain
        return False
    return True  # Qwen2RMSNorm gains decay: not in ALL_LAYERNORM_LAYERS


def cosine_factor(step, warmup, total, cycles=0.5):
    """transformers.get_cosine_schedule_with_warmup's lr_lambda."""
    if step < warmup:
        return float(step) / float(max(1, warmup))
    progress = float(step - warmup) / float(max(1, total - warmup))
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(cycles) * 2.0 * progress)))


def train(torch, model, convs, images):
    """HF Trainer semantics: returns per-step records; model.params end after the third optimizer step."""
    names = list(model.params)
    lrs = {"lm": LR, "projector": PROJECTOR_LR, "compressor": COMPRESSOR_LR}
    key = lambda n: param_group(n) if param_group(n) in ("projector", "compressor") else "lm"
    groups = [{"params": [model.params[n] for n in names if key(n) == k and decays(n) == dec], "lr": lrs[k],
               "weight_decay": WEIGHT_DECAY if dec else 0.0} for k in lrs for dec in (True, False)]
    if sum(len(g["params"]) for g in groups) != len(names):
        raise AssertionError("every trainable parameter in one group")
    opt = torch.optim.AdamW(groups, lr=LR, betas=BETAS, eps=EPS, weight_decay=0.0)
    warmup = math.ceil(WARMUP_RATIO * STEPS)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_factor(s, warmup, STEPS))
    trainable = [model.params[n] for n in names]
    records = []
    for step in range(STEPS):
        factor = cosine_factor(step, warmup, STEPS)
        if abs(opt.param_groups[0]["lr"] - LR * factor) > 1e-18:
            raise AssertionError("scheduler and formula disagree")
        micro = []
        for i in range(GRAD_ACCUM * step, GRAD_ACCUM * (step + 1)):
            loss = model.loss(convs[i], images)
            (loss / GRAD_ACCUM).backward()
            micro.append(loss.detach())
        norm = torch.nn.utils.clip_grad_norm_(trainable, MAX_GRAD_NORM)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        records.append({"micro": [float(m) for m in micro], "loss": float(sum(micro) / len(micro)),
                        "lr_factor": factor, "grad_norm": float(norm)})
    return records


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/finetune", help="the folder the fixtures are written to")
    args = ap.parse_args()
    debian_torch.ensure_torch("finetune_fixtures", "test fixtures only")
    debian_torch.ensure_pil("finetune_fixtures", "test fixtures only")
    import numpy as np
    import torch
    from PIL import Image
    torch.set_num_threads(1)  # one reduction order: byte-identical references run to run
    out = args.out
    os.makedirs(out, exist_ok=True)
    print(f"finetune_fixtures: torch {torch.__version__}, numpy {np.__version__}, writing {out}")

    # the checkpoint, its tokenizer, the sanity check against its chat reference
    ckpt16, _ = read_safetensors(torch, np, os.path.join(CHECKPOINT, "model.safetensors"))
    chat_ref, _ = read_safetensors(torch, np, CHAT_REFERENCE)
    with open(os.path.join(CHECKPOINT, "tokenizer_config.json"), encoding="utf-8") as f:
        tok_config = json.load(f)
    with open(lcf.SHARED_TOKENIZER, "rb") as f:
        shared_bytes = f.read()
    tokenizer_json = lcf.derived_tokenizer_json(json.loads(shared_bytes.decode("utf-8")), tok_config)
    by_content = {v["content"]: int(k) for k, v in tok_config["added_tokens_decoder"].items()}
    im_start, im_end = (by_content[t] for t in tok_config["additional_special_tokens"])
    if by_content[IMAGE_STR] != IMAGE_ID:
        raise AssertionError("<image> id")
    unmask = [198, im_start, im_end]

    images = {}
    for k in range(4):
        rel = IMG.format(k)
        with Image.open(os.path.normpath(os.path.join(out, rel))) as im:
            im.load()
            img = im.convert("RGB") if im.mode != "RGB" else im.copy()
        pixels, size, best, grid = lcf.preprocess(Image, np, img)
        images[rel] = {"pixels": pixels, "size": size, "grid": grid, "index": k}

    ckpt = {k: t.to(torch.float64) for k, t in ckpt16.items()}
    check = Model(torch, ckpt, {}, torch.float64)
    worst = 0.0
    with torch.no_grad():
        for rel, img in images.items():
            k = img["index"]
            if not torch.equal(torch.from_numpy(img["pixels"]), chat_ref[f"image{k}.pixel_values"]):
                sys.exit(f"finetune_fixtures: image{k} pixel values differ from the chat reference")
            mine = check.image_features(rel, img, compress=False)
            theirs = lcf.image_features(torch, ckpt, torch.from_numpy(img["pixels"]).double(), img["size"],
                                        (img["grid"][0] * lcf.TILE, img["grid"][1] * lcf.TILE))
            full, _ = cf.siglip_forward(torch, check.vision, lcf.VISION, torch.from_numpy(img["pixels"]).double())
            if not torch.equal(check.encode(rel, img["pixels"], False), full[-1]):
                sys.exit("finetune_fixtures: block-by-block SigLIP differs from checkpoint_fixtures.siglip_forward")
            if not torch.equal(mine, theirs):
                sys.exit(f"finetune_fixtures: image{k}: packing differs from llava_chat_fixtures.image_features")
            ref = chat_ref[f"image{k}.image_features"].double()
            err = (mine - ref).abs().max().item() / max(1.0, ref.abs().max().item())
            worst = max(worst, err)
            if mine.shape != ref.shape or err > 1e-6:
                sys.exit(f"finetune_fixtures: image{k}: features differ from the chat reference by {err:.3g}")
    print(f"sanity check: no compressor reproduces {os.path.relpath(CHAT_REFERENCE, REPO)} image{{0..3}}."
          f"image_features (max rel err {worst:.2e}, F32 rounding) and pixel_values exactly")

    # the compressor's initial weights
    torch.manual_seed(INIT_SEED)
    c, cin = lcf.VISION["hidden_size"], RATIO * RATIO * lcf.VISION["hidden_size"]
    comp_init = {
        "mlp1.0.weight": 1 + 0.1 * torch.randn(cin),
        "mlp1.0.bias": 0.1 * torch.randn(cin),
        "mlp1.1.weight": 0.1 * torch.randn(c, cin),
        "mlp1.1.bias": 0.05 * torch.randn(c),
        "mlp1.3.weight": 0.1 * torch.randn(c, c),
        "mlp1.3.bias": 0.05 * torch.randn(c),
    }
    init_path = os.path.join(out, "laco_init.safetensors")
    cf.write_safetensors(torch, init_path, [(k, v, "F32") for k, v in comp_init.items()],
                         {"generator": GENERATOR, "method": METHOD, "ratio": str(RATIO), "seed": str(INIT_SEED),
                          "module": "methods/pixel_shuffle.cc make_shuffle_mlp(128, 32): mlp1.0 LayerNorm(128), "
                                    "mlp1.1 Linear(128, 32), mlp1.2 GELU, mlp1.3 Linear(32, 32)",
                          "draw": "float32, torch.manual_seed(seed), in this order: 1 + 0.1 N, 0.1 N, 0.1 N, 0.05 N, "
                                  "0.1 N, 0.05 N"})

    # the data, written then read back as the C++ will read it
    jsonl = os.path.join(out, "conversations.jsonl")
    write_jsonl(jsonl, CONVERSATIONS)
    rows = read_jsonl(jsonl)
    convs, texts = [], []
    for r in rows:
        rel = r["image"]
        if rel not in images:
            raise AssertionError(f"unknown image {rel}")
        turns = qwen_turns(preprocess_multimodal(r["conversations"]))
        convs.append({"id": r["id"], "image": rel, "turns": turns})
        texts += [t for _, t in turns]
    tok = lcf.tokenize(texts, [], tokenizer_json)
    at = 0
    for cv in convs:
        n = len(cv["turns"])
        turn_ids = tok["ids"][at:at + n]
        at += n
        cv["turn_ids"] = turn_ids
        cv["text_ids"], cv["text_labels"] = qwen_labels(turn_ids, [r for r, _ in cv["turns"]], unmask)
        if cv["text_ids"].count(IMAGE_ID) != 1:
            raise AssertionError(f"{cv['id']}: one <image> expected")
        if cv["text_labels"][cv["text_ids"].index(IMAGE_ID)] != IGNORE:
            raise AssertionError("<image> label")

    model64 = Model(torch, ckpt, {k: v.double() for k, v in comp_init.items()}, torch.float64)
    with torch.no_grad():
        for cv in convs:
            cv["features0"] = model64.image_features(cv["image"], images[cv["image"]])
            cv["visual_tokens"] = cv["features0"].shape[0]
            cv["input_ids"], cv["labels"], cv["full_length"] = expand(cv["text_ids"], cv["text_labels"],
                                                                      cv["visual_tokens"], MAX_LENGTH)
    for i, cv in enumerate(convs):
        print(f"conv{i}: {len(cv['text_ids'])} text ids + {cv['visual_tokens']} visual - 1 = {cv['full_length']} "
              f"positions")
    # exactly one conversation cut, inside an assistant answer's content; every one keeps supervised labels
    cut = [i for i, cv in enumerate(convs) if cv["full_length"] > MAX_LENGTH]
    if cut != [TRUNCATED]:
        sys.exit(f"finetune_fixtures: max_length {MAX_LENGTH} cuts conversations {cut}, expected [{TRUNCATED}]")
    cv = convs[TRUNCATED]
    last = cv["turn_ids"][-1]
    start = cv["full_length"] - len(last)  # the last turn's first position after the expansion
    if cv["turns"][-1][0] != "assistant" or last[0] != im_start or last[2] != 198 or last[-2:] != [im_end, 198]:
        sys.exit("finetune_fixtures: the truncated conversation must end with an assistant turn")
    # <|im_start|> assistant \n | content | <|im_end|> \n: keep at least one content token, drop at least one
    if not start + 3 < MAX_LENGTH < start + len(last) - 2:
        sys.exit(f"finetune_fixtures: the cut at {MAX_LENGTH} is not inside the last answer's content "
                 f"(positions {start + 3}..{start + len(last) - 3})")
    for i, c_ in enumerate(convs):
        if not any(x != IGNORE for x in c_["labels"][1:]):
            sys.exit(f"finetune_fixtures: conversation {i} keeps no supervised label")

    # the reference (float64) and float32 beside it
    with torch.no_grad():
        loss0 = [float(model64.loss(cv, images)) for cv in convs]
    init64 = {k: v.detach().clone() for k, v in model64.params.items()}
    rec64 = train(torch, model64, convs, images)
    model32 = Model(torch, {k: t.to(torch.float32) for k, t in ckpt16.items()}, comp_init, torch.float32)
    with torch.no_grad():
        loss0_32 = [float(model32.loss(cv, images)) for cv in convs]
    rec32 = train(torch, model32, convs, images)

    # the fixture
    tensors = []
    meta = {
        "generator": GENERATOR, "date": DATE, "torch": torch.__version__, "reference_dtype": "float64",
        "checkpoint": f"tests/checkpoints/{lcf.NAME}", "llava_next": LLAVA_NEXT,
        "tokenizer": tok["reference"] + " on ../shared/tokenizers/qwen/tokenizer.json (sha256 "
                     + hashlib.sha256(shared_bytes).hexdigest() + ") with the added tokens of the checkpoint's "
                     "tokenizer_config.json (llava_chat_fixtures.derived_tokenizer_json)",
        "data": "conversations.jsonl (this folder), images relative to it", "conversations": str(len(convs)),
        "method": METHOD, "block": str(BLOCK), "ratio": str(RATIO),
        "compressor_init": "laco_init.safetensors (this folder), loaded into the compressor before training",
        "laco": "S = space_to_channel(x, 4x4, 2); Y = mlp1(S) + mean of S's 4 channel groups; "
                f"mlp1 LayerNorm eps {LACO_LN_EPS}, exact GELU",
        "anyres": "harness/model/anyres.cc on the compressed tile grid 2x2 "
                  "(anyres_max_9: ratio sqrt(h w / (9 * 2 * 2)))",
        "trainable": "compressor (laco_compressor.*), multi_modal_projector.*, image_newline, language_model.* "
                     "(embed_tokens = tied lm_head, layers, norm); vision tower frozen",
        "lr": str(LR), "projector_lr": str(PROJECTOR_LR), "compressor_lr": str(COMPRESSOR_LR),
        "lr_groups": "language_model.* and image_newline: lr; multi_modal_projector.*: projector_lr; compressor: "
                     "compressor_lr",
        "weight_decay": str(WEIGHT_DECAY),
        "weight_decay_rule": "LLaVA's (LLaVATrainer.create_optimizer): weight_decay for every parameter but those "
                             "whose name holds 'bias' and those of nn.LayerNorm modules (laco_compressor.mlp1.0.*); "
                             "Qwen2 RMSNorm gains and image_newline decay",
        "optimizer": f"torch.optim.AdamW betas {BETAS} eps {EPS}",
        "micro_batch": "1 conversation", "gradient_accumulation_steps": str(GRAD_ACCUM),
        "loss_scaling": "each micro-batch's mean loss / gradient_accumulation_steps is back-propagated",
        "max_grad_norm": str(MAX_GRAD_NORM),
        "clip": "torch clip_grad_norm_ over all trainable parameters: total = 2-norm of the per-parameter 2-norms; "
                "gradients *= min(1, max_grad_norm / (total + 1e-6))",
        "scheduler": "get_cosine_schedule_with_warmup, stepped after each optimizer step",
        "warmup_ratio": str(WARMUP_RATIO), "num_warmup_steps": str(math.ceil(WARMUP_RATIO * STEPS)),
        "num_training_steps": str(STEPS), "data_order": "the file's, no shuffle: step s takes conversations 2s, 2s+1",
        "max_length": str(MAX_LENGTH), "truncated_conversation": str(TRUNCATED),
        "truncation": f"conversation {TRUNCATED} ({convs[TRUNCATED]['id']}): {convs[TRUNCATED]['full_length']} "
                      f"positions cut to {MAX_LENGTH}, inside its last assistant answer",
        "labels": "LLaVA-NeXT preprocess_multimodal + preprocess_qwen (unmask 198, 151644, 151645), <image> kept as "
                  "151646; expansion: N positions of 151646 with label -100; truncation to max_length",
        "loss": "Qwen2ForCausalLM: logits[:-1] vs labels[1:], cross-entropy mean over labels != -100",
        "conv.text_ids": "I64 preprocess_qwen input_ids (151646 = <image>)",
        "conv.text_labels": "I64 preprocess_qwen labels (-100 ignored)",
        "conv.input_ids": "I64 after the image expansion and the truncation (151646 at image positions)",
        "conv.labels": "I64 labels of the same positions",
        "conv.visual_tokens": "I64 [1] packed image features N",
        "conv.image_features0": "F64 [N, 16] the initial model's packed image features (compressed)",
        "conv.loss0": "F64 [1] the initial model's loss on the conversation alone",
        "step.loss": "F64 [1] mean of the step's two micro-batch losses (HF's logged loss)",
        "step.micro_losses": "F64 [2] the two micro-batch losses",
        "step.lr_factor": "F64 [1] the schedule's multiplier the step ran at",
        "step.grad_norm": "F64 [1] total gradient norm before clipping",
        "after3": "F64: every trainable parameter after the third optimizer step, transformers-layout names, "
                  "laco_compressor.<C++ name> for the compressor",
        "after3.embedding": "language_model.model.embed_tokens.weight is tied to the lm_head and stored once: "
                            ".rows I64 [K] = sorted ids occurring in any conv's text_ids; .at_rows F64 [K, 16] = "
                            "those rows after 3 steps; with D = after3 - initial (checkpoint F16 values): "
                            ".delta_row_checksum F64 [152000] = sum_j (j + 1) D[i, j]; .delta_col_sum F64 [16] = "
                            "sum_i D[i, j]; .delta_sumsq F64 [1] = sum D^2. Every row has a gradient through the "
                            "tied head's softmax, so none moves by weight decay alone",
    }
    for i, cv in enumerate(convs):
        meta[f"conv{i}.id"] = cv["id"]
        meta[f"conv{i}.image"] = cv["image"]
        meta[f"conv{i}.turns"] = json.dumps([t for _, t in cv["turns"]], ensure_ascii=False)
        i64 = lambda v: torch.tensor(v, dtype=torch.int64)
        tensors += [
            (f"conv{i}.text_ids", i64(cv["text_ids"]), "I64"),
            (f"conv{i}.text_labels", i64(cv["text_labels"]), "I64"),
            (f"conv{i}.input_ids", i64(cv["input_ids"]), "I64"),
            (f"conv{i}.labels", i64(cv["labels"]), "I64"),
            (f"conv{i}.visual_tokens", i64([cv["visual_tokens"]]), "I64"),
            (f"conv{i}.image_features0", cv["features0"], "F64"),
            (f"conv{i}.loss0", torch.tensor([loss0[i]], dtype=torch.float64), "F64"),
        ]
    for s, r in enumerate(rec64):
        f64 = lambda v: torch.tensor(v, dtype=torch.float64)
        tensors += [(f"step{s}.loss", f64([r["loss"]]), "F64"), (f"step{s}.micro_losses", f64(r["micro"]), "F64"),
                    (f"step{s}.lr_factor", f64([r["lr_factor"]]), "F64"),
                    (f"step{s}.grad_norm", f64([r["grad_norm"]]), "F64")]
    emb_name = "language_model.model.embed_tokens.weight"
    rows_used = sorted({x for cv in convs for x in cv["text_ids"]})
    for name, p in model64.params.items():
        p = p.detach()
        if name != emb_name:
            tensors.append((f"after3.{name}", p, "F64"))
            continue
        d = p - init64[name]
        jw = torch.arange(1, d.shape[1] + 1, dtype=torch.float64)
        tensors += [
            (f"after3.{name}.rows", torch.tensor(rows_used, dtype=torch.int64), "I64"),
            (f"after3.{name}.at_rows", p[torch.tensor(rows_used)], "F64"),
            (f"after3.{name}.delta_row_checksum", d @ jw, "F64"),
            (f"after3.{name}.delta_col_sum", d.sum(0), "F64"),
            (f"after3.{name}.delta_sumsq", (d * d).sum().reshape(1), "F64"),
        ]
    by_group = {}
    for name, p in model64.params.items():
        g = param_group(name) if param_group(name) != "lm" else "lm (layers, norm)"
        diff = (model32.params[name].detach().double() - p.detach()).abs().max().item()
        moved = (p.detach() - init64[name]).abs().max().item()
        e = by_group.setdefault(g, [0.0, 0.0, 0.0, []])
        e[0], e[1], e[2] = max(e[0], diff), max(e[1], p.abs().max().item()), max(e[2], moved)
        e[3].append((diff, name))
    loss_drift = max(abs(a["loss"] - b["loss"]) for a, b in zip(rec64, rec32))
    norm_drift = max(abs(a["grad_norm"] - b["grad_norm"]) for a, b in zip(rec64, rec32))
    meta["float32_drift"] = ("max |float32 run - float64 run| after 3 steps, this script's torch: "
                             + ", ".join(f"{g} {e[0]:.1e}" for g, e in by_group.items())
                             + f"; step losses {loss_drift:.1e}, grad norms {norm_drift:.1e}")
    ref_path = os.path.join(out, "reference.safetensors")
    cf.write_safetensors(torch, ref_path, tensors, meta)

    # the report
    print(f"tokenizer: {tok['reference']}")
    for i, cv in enumerate(convs):
        sup = sum(1 for x in cv["labels"][1:] if x != IGNORE)
        print(f"conv{i} {cv['id']:22s} image{images[cv['image']]['index']}: text {len(cv['text_ids'])} ids, "
              f"{cv['visual_tokens']} visual, expanded {cv['full_length']} -> {len(cv['input_ids'])}, "
              f"{sup} supervised, loss0 {loss0[i]:.6f} (f32 {loss0_32[i] - loss0[i]:+.1e})")
    for s, (a, b) in enumerate(zip(rec64, rec32)):
        print(f"step{s}: lr factor {a['lr_factor']:.17g}, loss {a['loss']:.10f} (f32 {b['loss'] - a['loss']:+.1e}), "
              f"grad norm {a['grad_norm']:.10f} (f32 {b['grad_norm'] - a['grad_norm']:+.1e}), "
              f"micro {a['micro'][0]:.6f} {a['micro'][1]:.6f}")
    print("after 3 steps, float32 vs float64, per group: max |f32 - f64| (max |f64|, max |after3 - initial|):")
    for g, (diff, mx, moved, items) in by_group.items():
        worst_name = max(items)[1]
        print(f"  {g:20s} {diff:.3e}  (max|f64| {mx:.3f}, moved up to {moved:.3e}; worst {worst_name})")
    d32 = model32.params[emb_name].detach().double() - init64[emb_name]
    d64 = model64.params[emb_name].detach() - init64[emb_name]
    jw = torch.arange(1, 17, dtype=torch.float64)
    print(f"  embedding checksums: max |row checksum f32 - f64| {((d32 - d64) @ jw).abs().max().item():.3e} "
          f"(max |f64| {(d64 @ jw).abs().max().item():.3e}), "
          f"col sums {(d32.sum(0) - d64.sum(0)).abs().max().item():.3e}"
          f", sumsq {(d32 * d32).sum().item() - (d64 * d64).sum().item():+.3e} of {(d64 * d64).sum().item():.6e}")
    print(f"  embedding rows stored in full: {len(rows_used)}")
    print("files (sha256):")
    for p in (jsonl, init_path, ref_path):
        print(f"  {sha256(p)}  {os.path.getsize(p):9d}  {os.path.relpath(p, REPO)}")


if __name__ == "__main__":
    main()
