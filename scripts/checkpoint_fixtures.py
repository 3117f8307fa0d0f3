#!/usr/bin/python3
"""Tiny random checkpoints in the Hugging Face layout, with float64 reference outputs.

Writes, under --out (default tests/checkpoints):
  siglip/                            config.json + model.safetensors (F32): a
                                     SiglipVisionModel, 3 layers of width 32,
                                     24 px images in 6 px patches, with the
                                     attention-pooling head (stored, unused);
  siglip.reference.safetensors       input.pixel_values [2,3,24,24],
                                     output.hidden_states.{1,2,3} and
                                     output.post_layernorm [2,16,32];
  qwen2/                             config.json + model.safetensors (BF16): a
                                     Qwen2ForCausalLM, vocabulary 96, width 32,
                                     2 layers, 4 heads over 2 KV heads, untied
                                     lm_head;
  qwen2.reference.safetensors        input.input_ids [2,7], output.logits [2,7,96];
  llava_onevision/                   config.json + model.safetensors.index.json +
                                     model-0000{1,2}-of-00002.safetensors (F16): a
                                     LlavaOnevisionForConditionalGeneration under
                                     transformers' pre-4.52 names (vision_tower.*,
                                     multi_modal_projector.*, image_newline in the
                                     first shard, language_model.* in the second),
                                     tied embeddings;
  llava_onevision.reference.safetensors
                                     input.pixel_values [1,3,24,24],
                                     input.input_ids [1,5],
                                     output.image_features [1,16,24] and
                                     output.logits [1,21,96] (the 16 image tokens
                                     first, then the 5 text tokens).

Why: harness/model/checkpoint.cc loads checkpoints of these three kinds into
the harness's own encoder and LM, and its tests check the loaded model's
outputs against what transformers computes from the same files. No released
checkpoint can be downloaded here and transformers is not installed, so the
checkpoints are random and tiny, and the references come from transformers'
semantics (SiglipVisionModel, Qwen2ForCausalLM, LlavaOnevision's vision
features + projector + LM) written out below in plain torch. The weights are
drawn in float32, rounded to the fixture's storage dtype, and the references
are computed in float64 from exactly the rounded (stored) values, then stored
as F32. The safetensors files are written by hand (no safetensors package).

Deterministic: each fixture draws from its own fixed torch.manual_seed, so
running the script twice writes byte-identical files. It also prints, as a
self-check, max|float32 - float64| / max(1, max|float64|) for every output,
with the same forwards run in float32.

Test-only: it uses Debian's python3-torch (installed when missing) and is
never a runtime dependency of the harness. Usage (from the repository):
  scripts/checkpoint_fixtures.py [--out tests/checkpoints]
"""
import argparse
import json
import math
import os
import sys

import debian_torch

GENERATOR = "scripts/checkpoint_fixtures.py"


# ---------------------------------------------------------------------------
# safetensors, written by hand

def tensor_bytes(torch, t, dtype):
    """The raw little-endian bytes of `t` as safetensors dtype `dtype` (t must already hold that dtype's values)."""
    t = t.detach().contiguous().cpu()
    if dtype == "F32":
        return t.to(torch.float32).numpy().astype("<f4").tobytes()
    if dtype == "I64":
        return t.to(torch.int64).numpy().astype("<i8").tobytes()
    if dtype in ("F16", "BF16"):
        want = torch.float16 if dtype == "F16" else torch.bfloat16
        if t.dtype != want:
            raise ValueError(f"tensor_bytes: {dtype} needs a {want} tensor, got {t.dtype}")
        return t.view(torch.int16).numpy().astype("<i2").tobytes()
    raise ValueError(f"tensor_bytes: unsupported dtype {dtype}")


def write_safetensors(torch, path, tensors, metadata=None):
    """tensors: list of (name, tensor, dtype) in file order. Returns the number of data bytes."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t, dtype in tensors:
        if name in header:
            raise ValueError(f"write_safetensors: duplicate tensor name {name}")
        b = tensor_bytes(torch, t, dtype)
        header[name] = {"dtype": dtype, "shape": [int(s) for s in t.shape], "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)  # the format pads the header to a multiple of 8 bytes
    with open(path + ".tmp", "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)
    return offset


def write_json(path, obj, sort_keys=False):
    with open(path + ".tmp", "w") as f:
        f.write(json.dumps(obj, indent=2, sort_keys=sort_keys) + "\n")
    os.replace(path + ".tmp", path)


# ---------------------------------------------------------------------------
# random weights, rounded to the storage dtype

SCALE = {
    "matrix": lambda torch, s: torch.randn(s) * 0.2,
    "bias": lambda torch, s: torch.randn(s) * 0.1,
    "norm_weight": lambda torch, s: 1 + 0.1 * torch.randn(s),
    "norm_bias": lambda torch, s: 0.1 * torch.randn(s),
    "embedding": lambda torch, s: torch.randn(s) * 0.5,
}


class Weights:
    """Named tensors drawn in order from torch's generator and rounded to `store` (a torch dtype)."""

    def __init__(self, torch, store):
        self.torch, self.store, self.names, self.t = torch, store, [], {}

    def add(self, name, kind, shape):
        if name in self.t:
            raise ValueError(f"Weights: {name} drawn twice")
        self.names.append(name)
        self.t[name] = SCALE[kind](self.torch, list(shape)).to(self.store)  # drawn in float32, then rounded

    def affine(self, name, out_dim, in_dim, bias=True):
        self.add(name + ".weight", "matrix", (out_dim, in_dim))
        if bias:
            self.add(name + ".bias", "bias", (out_dim,))

    def layer_norm(self, name, dim):
        self.add(name + ".weight", "norm_weight", (dim,))
        self.add(name + ".bias", "norm_bias", (dim,))

    def view(self, prefix, dtype):
        """The tensors under `prefix` (prefix stripped), as `dtype`: the exact stored values."""
        return {n[len(prefix):]: self.t[n].to(dtype) for n in self.names if n.startswith(prefix)}


def add_siglip(w, p, c, head):
    hid, inter, ch, patch = c["hidden_size"], c["intermediate_size"], c.get("num_channels", 3), c["patch_size"]
    n = (c["image_size"] // patch) ** 2
    w.add(p + "embeddings.patch_embedding.weight", "matrix", (hid, ch, patch, patch))
    w.add(p + "embeddings.patch_embedding.bias", "bias", (hid,))
    w.add(p + "embeddings.position_embedding.weight", "embedding", (n, hid))
    for i in range(c["num_hidden_layers"]):
        s = f"{p}encoder.layers.{i}."
        w.layer_norm(s + "layer_norm1", hid)
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            w.affine(s + "self_attn." + proj, hid, hid)
        w.layer_norm(s + "layer_norm2", hid)
        w.affine(s + "mlp.fc1", inter, hid)
        w.affine(s + "mlp.fc2", hid, inter)
    w.layer_norm(p + "post_layernorm", hid)
    if head:  # SiglipMultiheadAttentionPoolingHead: stored, not part of the reference outputs
        w.add(p + "head.probe", "embedding", (1, 1, hid))
        w.add(p + "head.attention.in_proj_weight", "matrix", (3 * hid, hid))
        w.add(p + "head.attention.in_proj_bias", "bias", (3 * hid,))
        w.affine(p + "head.attention.out_proj", hid, hid)
        w.layer_norm(p + "head.layernorm", hid)
        w.affine(p + "head.mlp.fc1", inter, hid)
        w.affine(p + "head.mlp.fc2", hid, inter)


def add_qwen2(w, p, c, lm_head):
    hid, inter, vocab = c["hidden_size"], c["intermediate_size"], c["vocab_size"]
    kv = c["num_key_value_heads"] * (hid // c["num_attention_heads"])
    w.add(p + "embed_tokens.weight", "embedding", (vocab, hid))
    for i in range(c["num_hidden_layers"]):
        s = f"{p}layers.{i}."
        w.add(s + "input_layernorm.weight", "norm_weight", (hid,))
        w.affine(s + "self_attn.q_proj", hid, hid)
        w.affine(s + "self_attn.k_proj", kv, hid)
        w.affine(s + "self_attn.v_proj", kv, hid)
        w.affine(s + "self_attn.o_proj", hid, hid, bias=False)
        w.add(s + "post_attention_layernorm.weight", "norm_weight", (hid,))
        w.affine(s + "mlp.gate_proj", inter, hid, bias=False)
        w.affine(s + "mlp.up_proj", inter, hid, bias=False)
        w.affine(s + "mlp.down_proj", hid, inter, bias=False)
    w.add(p + "norm.weight", "norm_weight", (hid,))
    if lm_head:
        w.add(lm_head, "matrix", (vocab, hid))


# ---------------------------------------------------------------------------
# transformers' semantics in plain torch (any float dtype; the references use float64)

def siglip_forward(torch, w, c, pixel_values):
    """SiglipVisionTransformer without the head: (hidden_states after layers 1..L, post_layernorm output)."""
    F = torch.nn.functional
    hid, heads, eps, patch = c["hidden_size"], c["num_attention_heads"], c["layer_norm_eps"], c["patch_size"]
    d = hid // heads
    x = F.conv2d(pixel_values, w["embeddings.patch_embedding.weight"], w["embeddings.patch_embedding.bias"],
                 stride=patch)
    x = x.flatten(2).transpose(1, 2)  # [B, N, hid], patches in row-major order
    x = x + w["embeddings.position_embedding.weight"][None]  # position ids 0..N-1
    b, n, _ = x.shape
    lin = lambda v, name: F.linear(v, w[name + ".weight"], w[name + ".bias"])
    ln = lambda v, name: F.layer_norm(v, (hid,), w[name + ".weight"], w[name + ".bias"], eps)
    states = []
    for i in range(c["num_hidden_layers"]):
        s = f"encoder.layers.{i}."
        r = x
        x = ln(x, s + "layer_norm1")
        q, k, v = (lin(x, s + "self_attn." + m).view(b, n, heads, d).transpose(1, 2)
                   for m in ("q_proj", "k_proj", "v_proj"))
        att = torch.softmax(q @ k.transpose(-1, -2) * d ** -0.5, dim=-1)  # no mask
        x = (att @ v).transpose(1, 2).reshape(b, n, hid)
        x = r + lin(x, s + "self_attn.out_proj")
        r = x
        x = ln(x, s + "layer_norm2")
        x = F.gelu(lin(x, s + "mlp.fc1"), approximate="tanh")  # gelu_pytorch_tanh
        x = r + lin(x, s + "mlp.fc2")
        states.append(x)
    return states, ln(x, "post_layernorm")


def rms_norm(torch, x, weight, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def qwen2_forward(torch, w, c, x):
    """Qwen2Model + lm_head on input embeddings x [B, T, hid] (positions 0..T-1): logits [B, T, vocab]."""
    F = torch.nn.functional
    hid, heads, kvh, eps = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["rms_norm_eps"]
    d, g = hid // heads, heads // kvh
    b, t, _ = x.shape
    dt = x.dtype
    inv_freq = 1.0 / (c["rope_theta"] ** (torch.arange(0, d, 2, dtype=dt) / d))
    freqs = torch.outer(torch.arange(t, dtype=dt), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()  # [T, d]

    def rotate_half(v):
        v1, v2 = v[..., :d // 2], v[..., d // 2:]
        return torch.cat((-v2, v1), dim=-1)

    rope = lambda v: v * cos + rotate_half(v) * sin
    causal = torch.ones(t, t, dtype=torch.bool).triu(1)
    for i in range(c["num_hidden_layers"]):
        s = f"layers.{i}."
        lin = lambda v, name, bias=True: F.linear(v, w[s + name + ".weight"], w[s + name + ".bias"] if bias else None)
        r = x
        x = rms_norm(torch, x, w[s + "input_layernorm.weight"], eps)
        q = rope(lin(x, "self_attn.q_proj").view(b, t, heads, d).transpose(1, 2))
        k = rope(lin(x, "self_attn.k_proj").view(b, t, kvh, d).transpose(1, 2))
        v = lin(x, "self_attn.v_proj").view(b, t, kvh, d).transpose(1, 2)
        k, v = k.repeat_interleave(g, dim=1), v.repeat_interleave(g, dim=1)  # KV head j serves heads j*g..j*g+g-1
        scores = (q @ k.transpose(-1, -2) * d ** -0.5).masked_fill(causal, float("-inf"))
        x = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, t, hid)
        x = r + lin(x, "self_attn.o_proj", bias=False)
        r = x
        x = rms_norm(torch, x, w[s + "post_attention_layernorm.weight"], eps)
        x = F.silu(lin(x, "mlp.gate_proj", False)) * lin(x, "mlp.up_proj", False)
        x = r + lin(x, "mlp.down_proj", False)
    x = rms_norm(torch, x, w["norm.weight"], eps)
    return F.linear(x, w["lm_head.weight"])


def llava_forward(torch, w, c, pixel_values, input_ids):
    """(image_features [B, N, text hid], logits [B, N + T, vocab])."""
    F = torch.nn.functional
    vc, tc = c["vision_config"], c["text_config"]
    vision = {k[len("vision_tower.vision_model."):]: v for k, v in w.items() if k.startswith("vision_tower.")}
    states, _ = siglip_forward(torch, vision, vc, pixel_values)
    feats = states[c["vision_feature_layer"]]  # -1: the last layer, before post_layernorm; "full": every patch
    x = F.linear(feats, w["multi_modal_projector.linear_1.weight"], w["multi_modal_projector.linear_1.bias"])
    x = F.gelu(x)  # projector_hidden_act "gelu": the exact (erf) GELU
    feats = F.linear(x, w["multi_modal_projector.linear_2.weight"], w["multi_modal_projector.linear_2.bias"])
    lm = {k[len("language_model.model."):]: v for k, v in w.items() if k.startswith("language_model.model.")}
    lm["lm_head.weight"] = lm["embed_tokens.weight"]  # tie_word_embeddings
    x = torch.cat((feats, lm["embed_tokens.weight"][input_ids]), dim=1)
    return feats, qwen2_forward(torch, lm, tc, x)


# ---------------------------------------------------------------------------
# the fixtures

SIGLIP = {
    "architectures": ["SiglipVisionModel"], "model_type": "siglip_vision_model", "hidden_size": 32,
    "intermediate_size": 64, "num_hidden_layers": 3, "num_attention_heads": 4, "num_channels": 3, "image_size": 24,
    "patch_size": 6, "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-06, "vision_use_head": True,
    "torch_dtype": "float32",
}
QWEN2 = {
    "architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 96, "hidden_size": 32,
    "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
    "hidden_act": "silu", "max_position_embeddings": 64, "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
    "tie_word_embeddings": False, "use_sliding_window": False, "rope_scaling": None, "torch_dtype": "bfloat16",
}
LLAVA = {
    "architectures": ["LlavaOnevisionForConditionalGeneration"], "model_type": "llava_onevision",
    "vision_feature_layer": -1, "vision_feature_select_strategy": "full", "projector_hidden_act": "gelu",
    "image_token_index": 95, "vision_aspect_ratio": "anyres_max_9", "tie_word_embeddings": True,
    "vision_config": {
        "model_type": "siglip_vision_model", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
        "num_attention_heads": 4, "image_size": 24, "patch_size": 6, "hidden_act": "gelu_pytorch_tanh",
        "layer_norm_eps": 1e-06, "vision_use_head": False,
    },
    "text_config": {
        "model_type": "qwen2", "vocab_size": 96, "hidden_size": 24, "intermediate_size": 40, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "rms_norm_eps": 1e-06, "rope_theta": 1000000.0,
        "tie_word_embeddings": True, "hidden_act": "silu",
    },
    "torch_dtype": "float16",
}
SEEDS = {"siglip": 1001, "qwen2": 1002, "llava_onevision": 1003}
SEMANTICS = {
    "siglip": "transformers SiglipVisionModel (SiglipVisionTransformer: Conv2d patch embedding + position "
              "embedding, pre-LN encoder layers with tanh GELU, post_layernorm; hidden_states.i = output of encoder "
              "layer i; the attention-pooling head is stored but not used)",
    "qwen2": "transformers Qwen2ForCausalLM (RMSNorm, q/k/v with bias, default rotary embedding, grouped-query "
             "causal attention, SwiGLU MLP, final norm, untied lm_head; positions 0..T-1, no padding)",
    "llava_onevision": "transformers LlavaOnevisionForConditionalGeneration, reduced: image_features = "
                       "multi_modal_projector(linear_1, erf GELU, linear_2) of the SigLIP hidden state of the last "
                       "encoder layer before post_layernorm (vision_feature_layer -1, strategy full, one 24 px image, "
                       "no anyres crops, no image_newline); logits = Qwen2 LM (tied lm_head) over "
                       "[image_features, embed_tokens(input_ids)], positions 0..N+T-1",
}
DTYPE_NAME = {"float32": "F32", "float16": "F16", "bfloat16": "BF16"}


def metadata(torch, name):
    return {"checkpoint": name, "kind": name, "semantics": SEMANTICS[name], "generator": GENERATOR,
            "torch": torch.__version__, "reference_dtype": "float64"}


def store_dtype(torch, config):
    return {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}[config["torch_dtype"]]


def model_tensors(w, names, config):
    dt = DTYPE_NAME[config["torch_dtype"]]
    return [(n, w.t[n], dt) for n in names]


def write_checkpoint(torch, out, name, c, w, shards=None):
    """config.json and the weights: one model.safetensors, or `shards` ([(file, names)]) with their index."""
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, "config.json"), c)
    if shards is None:
        write_safetensors(torch, os.path.join(folder, "model.safetensors"), model_tensors(w, w.names, c),
                          {"format": "pt"})
        return
    total, weight_map = 0, {}
    for shard, names in shards:
        total += write_safetensors(torch, os.path.join(folder, shard), model_tensors(w, names, c), {"format": "pt"})
        weight_map.update({n: shard for n in names})
    write_json(os.path.join(folder, "model.safetensors.index.json"),
               {"metadata": {"total_size": total}, "weight_map": weight_map}, sort_keys=True)


def write_reference(torch, out, name, inputs, run):
    """name.reference.safetensors: the inputs ([(name, tensor, dtype)]) and run(float64)'s outputs as F32.
    Returns the float64 outputs and, for the self-check, run(float32)'s."""
    ref = run(torch.float64)
    tensors = inputs + [(k, v, "F32") for k, v in ref.items()]
    write_safetensors(torch, os.path.join(out, f"{name}.reference.safetensors"), tensors, metadata(torch, name))
    return ref, run(torch.float32)


def make_siglip(torch, out):
    torch.manual_seed(SEEDS["siglip"])
    c = SIGLIP
    w = Weights(torch, store_dtype(torch, c))
    add_siglip(w, "vision_model.", c, head=c["vision_use_head"])
    pixels = torch.randn(2, c["num_channels"], c["image_size"], c["image_size"])
    write_checkpoint(torch, out, "siglip", c, w)

    def run(dt):
        states, post = siglip_forward(torch, w.view("vision_model.", dt), c, pixels.to(dt))
        outs = {f"output.hidden_states.{i + 1}": s for i, s in enumerate(states)}
        outs["output.post_layernorm"] = post
        return outs

    return write_reference(torch, out, "siglip", [("input.pixel_values", pixels, "F32")], run)


def make_qwen2(torch, out):
    torch.manual_seed(SEEDS["qwen2"])
    c = QWEN2
    w = Weights(torch, store_dtype(torch, c))
    add_qwen2(w, "model.", c, lm_head=None if c["tie_word_embeddings"] else "lm_head.weight")
    ids = torch.randint(0, c["vocab_size"], (2, 7), dtype=torch.int64)
    write_checkpoint(torch, out, "qwen2", c, w)

    def run(dt):
        lm = w.view("model.", dt)
        lm["lm_head.weight"] = (w.t["lm_head.weight"] if "lm_head.weight" in w.t else w.t["model.embed_tokens.weight"]
                                ).to(dt)
        return {"output.logits": qwen2_forward(torch, lm, c, lm["embed_tokens.weight"][ids])}

    return write_reference(torch, out, "qwen2", [("input.input_ids", ids, "I64")], run)


def make_llava(torch, out):
    torch.manual_seed(SEEDS["llava_onevision"])
    c = LLAVA
    vc, tc = c["vision_config"], c["text_config"]
    store = store_dtype(torch, c)
    w = Weights(torch, store)
    add_siglip(w, "vision_tower.vision_model.", vc, head=vc["vision_use_head"])
    w.affine("multi_modal_projector.linear_1", tc["hidden_size"], vc["hidden_size"])
    w.affine("multi_modal_projector.linear_2", tc["hidden_size"], tc["hidden_size"])
    w.add("image_newline", "embedding", (tc["hidden_size"],))
    add_qwen2(w, "language_model.model.", tc,
              lm_head=None if c["tie_word_embeddings"] else "language_model.lm_head.weight")
    # Pixel values exactly representable in the checkpoint's float16, so a consumer that casts them to the
    # weights' dtype (as transformers does) and one that keeps float32 see the same input.
    pixels = torch.randn(1, vc.get("num_channels", 3), vc["image_size"], vc["image_size"]).to(store).float()
    # Text tokens only: id image_token_index (95) is transformers' placeholder for image features.
    ids = torch.randint(0, c["image_token_index"], (1, 5), dtype=torch.int64)
    write_checkpoint(torch, out, "llava_onevision", c, w, shards=[
        ("model-00001-of-00002.safetensors", [n for n in w.names if not n.startswith("language_model.")]),
        ("model-00002-of-00002.safetensors", [n for n in w.names if n.startswith("language_model.")])])

    def run(dt):
        feats, logits = llava_forward(torch, w.view("", dt), c, pixels.to(dt), ids)
        return {"output.image_features": feats, "output.logits": logits}

    return write_reference(torch, out, "llava_onevision",
                           [("input.pixel_values", pixels, "F32"), ("input.input_ids", ids, "I64")], run)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/checkpoints", help="the folder the fixtures are written to")
    args = ap.parse_args()
    debian_torch.ensure_torch("checkpoint_fixtures", "test fixtures only")
    import torch
    torch.set_num_threads(1)  # one reduction order: byte-identical references run to run
    os.makedirs(args.out, exist_ok=True)
    print(f"checkpoint_fixtures: torch {torch.__version__}, writing {args.out}")
    print("self-check, max|float32 - float64| / max(1, max|float64|):")
    for name, make in (("siglip", make_siglip), ("qwen2", make_qwen2), ("llava_onevision", make_llava)):
        with torch.no_grad():
            ref, f32 = make(torch, args.out)
        for k, v in ref.items():
            err = (f32[k].double() - v).abs().max().item() / max(1.0, v.abs().max().item())
            if not math.isfinite(err):
                sys.exit(f"checkpoint_fixtures: {name} {k}: non-finite output")
            print(f"  {name:16s} {k:28s} {list(v.shape)!s:14s} max|ref| {v.abs().max().item():8.3f}  {err:.2e}")


if __name__ == "__main__":
    main()
