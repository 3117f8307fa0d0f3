#!/usr/bin/python3
"""FastV inside a Qwen2-style LM, in float64, as a parity fixture.

Writes --out (default tests/token_prune/fastv_lm.safetensors):
  embed_tokens.weight [32,16], norm.weight [16] and
  layers.{i}.{input_layernorm,q_proj,k_proj,v_proj,o_proj,
              post_attention_layernorm,gate_proj,up_proj,down_proj}.*
                                     a 3-layer LM of width 16, 4 heads over 2
                                     KV heads of 4, MLP 24, RoPE theta 1e6,
                                     tied embeddings (F32), the harness's own
                                     parameter names (harness/model/lm.cc);
  input.embeddings [2,16,16]         the prompt of each request: 12 visual
                                     positions (0..11), then 4 text (12..15);
  input.next [2,2,16]                two embeddings fed one at a time after it;
  input.visual [2] (I64)             (start, count) of the visual positions;
  input.after_layer [1] (I64)        K = 1: FastV scores after the first layer;
  input.keep [1] (I64)               visual positions kept (4 of 12);
  output.score [2,12]                layer K's attention of the last prompt
                                     position to each visual one, mean over heads;
  output.keep [2,4] (I64)            the kept visual positions, ascending;
  output.prompt [2,8,16]             the final-normed hidden states of the kept
                                     sequence (kept visual positions, then text);
  output.next [2,2,16]               the final-normed hidden states of the two
                                     next embeddings (F32 unless marked).

Why: FastV (Chen et al., ECCV 2024; pkunlp-icler/FastV, the "inplace" path of
LlamaModel.forward in its modified transformers modeling_llama.py, and
fastv_forward in its llava-hf copy for the KV cache) prunes visual tokens
inside the LM. The reference below is written from those semantics in plain
torch (transformers is not installed here), for each request on its own, in
float64 from the stored float32 weights: layers 1..K run over the whole prompt
(causal, RoPE at positions 0..T-1); layer K's attention probabilities of the
last prompt position (softmax of q k^T / sqrt(head_dim), causal, query head h
on KV head h // (heads / kv_heads)), averaged over the heads and restricted to
the visual positions, score them; the top `keep` are kept, sorted ascending;
layers K+1..L run on [kept visual positions, text positions] only, causal over
the compacted sequence, with RoPE at the ORIGINAL positions (FastV's
position_ids = keep_indexs). The next embeddings sit at original positions 16
and 17 and are pruned as FastV's KV-cache path prunes (once, at the prefill:
every later token attends to the same kept positions in layers K+1..L and to
every prompt position in layers 1..K); the reference computes them without a
cache, running layers 1..K over all 18 positions and layers K+1..L over [kept
prompt positions, 16, 17]. The LM is harness/model/lm.cc's (RMSNorm,
rotate-half RoPE with inv_freq = 1 / theta^(arange(0, hd, 2) / hd) computed in
float32 as Qwen2 does, biased q/k/v, unbiased o_proj, SwiGLU, final norm), fed
embeddings directly.

Deterministic (a fixed seed, one thread): rerunning writes the same bytes. It
prints, as a self-check, that float32 keeps the same positions as float64
(with the 4th and 5th visual scores more than 1e-6 apart in both) and
max|float32 - float64| / max(1, max|float64|) over output.prompt and
output.next. Test-only: Debian's python3-torch (installed when missing).
Usage (from the repository):
  scripts/fastv_fixtures.py [--out tests/token_prune/fastv_lm.safetensors]
"""
import argparse
import math
import os
import sys

import debian_torch
from checkpoint_fixtures import write_safetensors

GENERATOR = "scripts/fastv_fixtures.py"
VOCAB, WIDTH, LAYERS, HEADS, KV_HEADS, HEAD_DIM, MLP = 32, 16, 3, 4, 2, 4, 24
ROPE_THETA, EPS = 1e6, 1e-6
BATCH, TOKENS, VISUAL_START, VISUAL, NEXT = 2, 16, 0, 12, 2
AFTER_LAYER, KEEP = 1, 4
GAP = 1e-6  # the 4th and 5th visual scores must be further apart than this
SEED = 29


def draw(torch):
    """The LM's weights, drawn in float32 in a fixed order."""
    w = {"embed_tokens.weight": 0.5 * torch.randn(VOCAB, WIDTH)}
    q, kv = HEADS * HEAD_DIM, KV_HEADS * HEAD_DIM
    for i in range(LAYERS):
        p = f"layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + 0.1 * torch.randn(WIDTH)
        w[p + "q_proj.weight"] = 0.5 * torch.randn(q, WIDTH)
        w[p + "q_proj.bias"] = 0.1 * torch.randn(q)
        w[p + "k_proj.weight"] = 0.5 * torch.randn(kv, WIDTH)
        w[p + "k_proj.bias"] = 0.1 * torch.randn(kv)
        w[p + "v_proj.weight"] = 0.3 * torch.randn(kv, WIDTH)
        w[p + "v_proj.bias"] = 0.1 * torch.randn(kv)
        w[p + "o_proj.weight"] = 0.3 * torch.randn(WIDTH, q)
        w[p + "post_attention_layernorm.weight"] = 1 + 0.1 * torch.randn(WIDTH)
        w[p + "gate_proj.weight"] = 0.3 * torch.randn(MLP, WIDTH)
        w[p + "up_proj.weight"] = 0.3 * torch.randn(MLP, WIDTH)
        w[p + "down_proj.weight"] = 0.3 * torch.randn(WIDTH, MLP)
    w["norm.weight"] = 1 + 0.1 * torch.randn(WIDTH)
    return w


def rms_norm(torch, x, weight):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS) * weight


def rope_tables(torch, positions, dtype):
    """cos, sin [n, head_dim] at the given positions; inv_freq in float32 as Qwen2 computes it."""
    inv_freq = 1.0 / (ROPE_THETA ** (torch.arange(0, HEAD_DIM, 2, dtype=torch.float32) / HEAD_DIM))
    freqs = torch.outer(positions.to(dtype), inv_freq.to(dtype))
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()


def rotate_half(torch, v):
    half = v.shape[-1] // 2
    return torch.cat((-v[..., half:], v[..., :half]), dim=-1)


def layer(torch, w, i, x, positions):
    """Decoder layer i over x [1, n, WIDTH] at `positions` [n], causal in sequence order: (output, probs [1, HEADS, n, n])."""
    F = torch.nn.functional
    p = f"layers.{i}."
    n = x.shape[1]
    cos, sin = rope_tables(torch, positions, x.dtype)
    rope = lambda v: v * cos + rotate_half(torch, v) * sin
    h = rms_norm(torch, x, w[p + "input_layernorm.weight"])
    q = F.linear(h, w[p + "q_proj.weight"], w[p + "q_proj.bias"]).view(1, n, HEADS, HEAD_DIM).transpose(1, 2)
    k = F.linear(h, w[p + "k_proj.weight"], w[p + "k_proj.bias"]).view(1, n, KV_HEADS, HEAD_DIM).transpose(1, 2)
    v = F.linear(h, w[p + "v_proj.weight"], w[p + "v_proj.bias"]).view(1, n, KV_HEADS, HEAD_DIM).transpose(1, 2)
    q, k = rope(q), rope(k)
    groups = HEADS // KV_HEADS  # query head h reads KV head h // groups
    k, v = k.repeat_interleave(groups, dim=1), v.repeat_interleave(groups, dim=1)
    future = torch.ones(n, n, dtype=torch.bool).triu(1)
    logits = (q @ k.transpose(-1, -2) / math.sqrt(HEAD_DIM)).masked_fill(future, float("-inf"))
    probs = logits.softmax(dim=-1)
    attn = (probs @ v).transpose(1, 2).reshape(1, n, HEADS * HEAD_DIM)
    r = x + F.linear(attn, w[p + "o_proj.weight"])
    m = rms_norm(torch, r, w[p + "post_attention_layernorm.weight"])
    m = F.silu(F.linear(m, w[p + "gate_proj.weight"])) * F.linear(m, w[p + "up_proj.weight"])
    return r + F.linear(m, w[p + "down_proj.weight"]), probs


def fastv_request(torch, w, prompt, nxt):
    """One request, prompt [1, T, WIDTH] and nxt [1, NEXT, WIDTH]: (score [VISUAL], keep [KEEP], prompt out, next out)."""
    visual = torch.arange(VISUAL_START, VISUAL_START + VISUAL)
    # The prompt: layers 1..K over every position, layer K's attention scores the visual positions.
    x, positions = prompt, torch.arange(TOKENS)
    for i in range(AFTER_LAYER):
        x, probs = layer(torch, w, i, x, positions)
    score = probs[0].mean(dim=0)[TOKENS - 1, visual]
    keep = visual[score.topk(KEEP).indices].sort().values
    order = score.sort(descending=True).values
    gap = (order[KEEP - 1] - order[KEEP]).item()
    kept = torch.cat((torch.arange(VISUAL_START), keep, torch.arange(VISUAL_START + VISUAL, TOKENS))).sort().values
    x = x[:, kept, :]
    for i in range(AFTER_LAYER, LAYERS):
        x, _ = layer(torch, w, i, x, kept)  # RoPE at the original positions
    out_prompt = rms_norm(torch, x, w["norm.weight"])[0]
    # The next embeddings at positions T, T + 1: the same keep set (FastV prunes once, at the prefill).
    x, positions = torch.cat((prompt, nxt), dim=1), torch.arange(TOKENS + NEXT)
    for i in range(AFTER_LAYER):
        x, _ = layer(torch, w, i, x, positions)
    seq = torch.cat((kept, torch.arange(TOKENS, TOKENS + NEXT)))
    x = x[:, seq, :]
    for i in range(AFTER_LAYER, LAYERS):
        x, _ = layer(torch, w, i, x, seq)
    full = rms_norm(torch, x, w["norm.weight"])[0]
    if not torch.allclose(full[:kept.numel()], out_prompt, rtol=0, atol=1e-5):
        sys.exit("fastv_fixtures: the prompt's outputs depend on the next embeddings (not causal)")
    return score, keep, out_prompt, full[kept.numel():], gap


def fastv(torch, w, embeddings, nxt, dtype):
    """Every request on its own, in `dtype`: score [B, VISUAL], keep [B, KEEP], prompt [B, n, WIDTH], next, gaps."""
    w = {k: v.to(dtype) for k, v in w.items()}
    rows = [fastv_request(torch, w, embeddings[b:b + 1].to(dtype), nxt[b:b + 1].to(dtype)) for b in range(BATCH)]
    return tuple(torch.stack([r[j] for r in rows]) for j in range(4)) + ([r[4] for r in rows],)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/token_prune/fastv_lm.safetensors", help="the file written")
    args = ap.parse_args()
    debian_torch.ensure_torch("fastv_fixtures", "test fixtures only")
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    w = draw(torch)
    embeddings = torch.randn(BATCH, TOKENS, WIDTH)
    nxt = torch.randn(BATCH, NEXT, WIDTH)
    with torch.no_grad():
        score, keep, prompt, nxt_out, gaps = fastv(torch, w, embeddings, nxt, torch.float64)
        _, keep32, prompt32, nxt32, gaps32 = fastv(torch, w, embeddings, nxt, torch.float32)
    if not torch.equal(keep, keep32):
        sys.exit(f"fastv_fixtures: float32 keeps {keep32.tolist()}, float64 {keep.tolist()}; change the seed")
    if min(gaps + gaps32) <= GAP:
        sys.exit(f"fastv_fixtures: the 4th and 5th visual scores are within {GAP}; change the seed")
    ref = torch.cat((prompt.flatten(), nxt_out.flatten()))
    f32 = torch.cat((prompt32.flatten(), nxt32.flatten())).double()
    err = (f32 - ref).abs().max().item() / max(1.0, ref.abs().max().item())
    if not math.isfinite(err):
        sys.exit("fastv_fixtures: non-finite output")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    tensors = [(k, v, "F32") for k, v in w.items()]
    tensors += [("input.embeddings", embeddings, "F32"), ("input.next", nxt, "F32"),
                ("input.visual", torch.tensor([VISUAL_START, VISUAL]), "I64"),
                ("input.after_layer", torch.tensor([AFTER_LAYER]), "I64"), ("input.keep", torch.tensor([KEEP]), "I64"),
                ("output.score", score, "F32"), ("output.keep", keep, "I64"), ("output.prompt", prompt, "F32"),
                ("output.next", nxt_out, "F32")]
    write_safetensors(torch, args.out, tensors, {
        "generator": GENERATOR, "torch": torch.__version__,
        "semantics": "pkunlp-icler/FastV inplace: layer K's attention of the last prompt position, mean over heads; "
                     "kept visual positions sorted; original position ids",
        "reference_dtype": "float64"})
    print(f"fastv_fixtures: wrote {args.out}; keep {keep.tolist()}; float32 keeps as float64 "
          f"(4th - 5th visual score >= {min(gaps + gaps32):.2e}); "
          f"max|float32 - float64| / max(1, max|float64|) = {err:.2e}")


if __name__ == "__main__":
    main()
