#!/usr/bin/python3
"""EViT's token reduction inside an encoder block, in float64, as a parity fixture.

Writes --out (default tests/token_prune/evit_block.safetensors):
  block.0.{ln1,qkv,proj,ln2,fc1,fc2}.{weight,bias}   one pre-LN ViT block of
                                     width 16, 2 heads, MLP 24 (F32), the
                                     harness's own parameter names;
  input.x [2,16,16]                  16 tokens per request (no CLS token);
  input.keep [1] (I64)               tokens the block keeps (5);
  output.score [2,16]                each token's score (below), F32;
  output.kept [2,5] (I64)            the kept tokens' indices, highest score first;
  output.tokens [2,6,16]             the 5 kept tokens then the fused one, after
                                     the block's MLP, F32.

Why: EViT (Liang et al., "Not All Patches are What You Need", ICLR 2022;
youweiliang/evit, evit.py's Attention and Block with fuse_token=True and
helpers.py's complement_idx) keeps, between a block's attention and its MLP,
the tokens the CLS token attends to most and fuses the others into one token.
SigLIP has no CLS token, so the score here is the attention each token
receives, averaged over heads and over all queries (it sums to 1 over the
tokens). The reference below is written from those semantics in plain torch
(timm is not installed here) and in float64 from the stored float32 weights:
h = x + proj(attention(LN1(x))); the keep tokens of highest score, highest
first (torch.topk, sorted); the others, in ascending index order, summed into
one token weighted by their scores (not renormalised); then the MLP on the
keep + 1 tokens. The harness's EViT block is compared with the file within
the float32 bound.

Deterministic (a fixed seed, one thread): rerunning writes the same bytes. It
prints, as a self-check, that float32 keeps the same tokens in the same order
as float64 (with the keep-th and next scores more than 1e-6 apart) and
max|float32 - float64| / max(1, max|float64|). Test-only: Debian's
python3-torch (installed when missing). Usage (from the repository):
  scripts/evit_fixtures.py [--out tests/token_prune/evit_block.safetensors]
"""
import argparse
import math
import os
import sys

import debian_torch
from checkpoint_fixtures import write_safetensors
from token_merge_fixtures import draw_blocks

GENERATOR = "scripts/evit_fixtures.py"
WIDTH, HEADS, MLP, EPS = 16, 2, 24, 1e-6
TOKENS, BATCH, KEEP = 16, 2, 5
MARGIN = 1e-6  # the keep-th and (keep+1)-th scores must be further apart than this


def complement(torch, idx, n):
    """The indices in range(n) not in idx, ascending, [B, n - k] (EViT's complement_idx)."""
    keep = torch.zeros(idx.shape[0], n, dtype=torch.bool).scatter(1, idx, True)
    return torch.arange(n).expand(idx.shape[0], n)[~keep].reshape(idx.shape[0], n - idx.shape[1])


def evit_block(torch, w, x, dtype):
    """The block with EViT's keep-and-fuse, in `dtype`; returns (tokens, score, kept indices, sorted scores)."""
    w = {k: v.to(dtype) for k, v in w.items()}
    x = x.to(dtype)
    F = torch.nn.functional
    p = "block.0."
    n, d = x.shape[1], WIDTH // HEADS
    y = F.layer_norm(x, (WIDTH,), w[p + "ln1.weight"], w[p + "ln1.bias"], EPS)
    qkv = (y @ w[p + "qkv.weight"].t() + w[p + "qkv.bias"]).reshape(BATCH, n, 3, HEADS, d).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    attn = ((q @ k.transpose(-2, -1)) * d ** -0.5).softmax(dim=-1)  # [B, heads, N, N]
    out = (attn @ v).transpose(1, 2).reshape(BATCH, n, WIDTH)
    h = x + out @ w[p + "proj.weight"].t() + w[p + "proj.bias"]
    score = attn.mean(dim=(1, 2))  # attention received: mean over heads and queries, [B, N]
    _, idx = torch.topk(score, KEEP, dim=1, largest=True, sorted=True)
    kept = h.gather(1, idx[..., None].expand(-1, -1, WIDTH))
    rest = complement(torch, idx, n)
    fused = (h.gather(1, rest[..., None].expand(-1, -1, WIDTH)) * score.gather(1, rest)[..., None]).sum(1, keepdim=True)
    x = torch.cat([kept, fused], dim=1)
    m = F.layer_norm(x, (WIDTH,), w[p + "ln2.weight"], w[p + "ln2.bias"], EPS)
    m = F.gelu(m @ w[p + "fc1.weight"].t() + w[p + "fc1.bias"], approximate="tanh")
    x = x + m @ w[p + "fc2.weight"].t() + w[p + "fc2.bias"]
    return x, score, idx, score.sort(dim=1, descending=True).values


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/token_prune/evit_block.safetensors", help="the file written")
    args = ap.parse_args()
    debian_torch.ensure_torch("evit_fixtures", "test fixtures only")
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(29)
    w = draw_blocks(torch, 1, WIDTH, MLP)
    x = torch.randn(BATCH, TOKENS, WIDTH)
    with torch.no_grad():
        ref, ref_score, ref_idx, ref_sorted = evit_block(torch, w, x, torch.float64)
        f32, _, f32_idx, f32_sorted = evit_block(torch, w, x, torch.float32)
    if not torch.equal(ref_idx, f32_idx):
        sys.exit("evit_fixtures: float32 keeps other tokens than float64; change the seed")
    for s in (ref_sorted, f32_sorted):
        gap = (s[:, KEEP - 1] - s[:, KEEP]).min().item()
        if gap <= MARGIN:
            sys.exit(f"evit_fixtures: the {KEEP}th and {KEEP + 1}th scores are {gap:.1e} apart; change the seed")
    err = (f32.double() - ref).abs().max().item() / max(1.0, ref.abs().max().item())
    if not math.isfinite(err):
        sys.exit("evit_fixtures: non-finite output")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    tensors = [(k, v, "F32") for k, v in w.items()]
    tensors += [("input.x", x, "F32"), ("input.keep", torch.tensor([KEEP]), "I64"),
                ("output.score", ref_score, "F32"), ("output.kept", ref_idx, "I64"), ("output.tokens", ref, "F32")]
    write_safetensors(torch, args.out, tensors, {
        "generator": GENERATOR, "torch": torch.__version__,
        "semantics": "youweiliang/evit Block with fuse_token=True; "
                     "score = attention received, mean over heads and queries (no CLS)",
        "reference_dtype": "float64"})
    print(f"evit_fixtures: wrote {args.out}; float32 keeps the same tokens as float64; "
          f"max|float32 - float64| / max(1, max|float64|) = {err:.2e}")


if __name__ == "__main__":
    main()
