#!/usr/bin/python3
"""Token Merging (ToMe) over encoder blocks, in float64, as a parity fixture.

Writes --out (default tests/token_merge/tome_blocks.safetensors):
  block.{i}.{ln1,qkv,proj,ln2,fc1,fc2}.{weight,bias}   3 pre-LN ViT blocks of
                                     width 16, 2 heads, MLP 24 (F32), the
                                     harness's own parameter names;
  input.x [2,16,16]                  16 tokens (a 4 x 4 grid) per request;
  input.r [3] (I64)                  tokens each block merges (4, 4, 4: to 4);
  output.tokens [2,4,16], output.size [2,4,1]
                                     after the third block, F32.

Why: harness/model/encoder.cc's EncoderBlock::forward_merging implements ToMe
inside a block (tome/patch/timm.py's ToMeBlock and ToMeAttention, with
tome/merge.py's bipartite_soft_matching and merge_wavg, facebookresearch/ToMe).
The reference below is written from those semantics in plain torch (timm is
not installed here) and in float64 from the stored float32 weights: the
attention adds log(size) to every key's logit once sizes exist (after the
first merge), the tokens alternate into A (even) and B (odd), each A token's
edge is its most cosine-similar B token by the keys averaged over heads, the
r most similar edges merge (sum of size x token, then divided by the summed
size), and the result is [the other A tokens, most similar edge first; B].
The MLP runs on the merged tokens. tests/test_token_merge.cc loads the file
and compares the harness's blocks within the float32 bound.

Deterministic (a fixed seed, one thread): rerunning writes the same bytes. It
prints, as a self-check, that float32 chooses the same merges as float64 and
max|float32 - float64| / max(1, max|float64|). Test-only: Debian's
python3-torch (installed when missing). Usage (from the repository):
  scripts/token_merge_fixtures.py [--out tests/token_merge/tome_blocks.safetensors]
"""
import argparse
import math
import os
import sys

import debian_torch
from checkpoint_fixtures import write_safetensors

GENERATOR = "scripts/token_merge_fixtures.py"
WIDTH, HEADS, MLP, EPS = 16, 2, 24, 1e-6
TOKENS, BATCH, R = 16, 2, [4, 4, 4]


def draw_blocks(torch, blocks, width, mlp):
    """Weights of `blocks` pre-LN ViT blocks (harness names block.{i}.*), drawn in float32 in a fixed order."""
    w = {}
    for i in range(blocks):
        p = f"block.{i}."
        w[p + "ln1.weight"] = 1 + 0.1 * torch.randn(width)
        w[p + "ln1.bias"] = 0.1 * torch.randn(width)
        w[p + "qkv.weight"] = 0.3 * torch.randn(3 * width, width)
        w[p + "qkv.bias"] = 0.1 * torch.randn(3 * width)
        w[p + "proj.weight"] = 0.3 * torch.randn(width, width)
        w[p + "proj.bias"] = 0.1 * torch.randn(width)
        w[p + "ln2.weight"] = 1 + 0.1 * torch.randn(width)
        w[p + "ln2.bias"] = 0.1 * torch.randn(width)
        w[p + "fc1.weight"] = 0.3 * torch.randn(mlp, width)
        w[p + "fc1.bias"] = 0.1 * torch.randn(mlp)
        w[p + "fc2.weight"] = 0.3 * torch.randn(width, mlp)
        w[p + "fc2.bias"] = 0.1 * torch.randn(width)
    return w


def matching(torch, metric, r):
    """ToMe's bipartite soft matching: (unmerged A, merged A, their B) indices, each [B, n]."""
    r = min(r, metric.shape[1] // 2)
    m = metric / metric.norm(dim=-1, keepdim=True)
    a, b = m[:, ::2, :], m[:, 1::2, :]
    best, best_b = (a @ b.transpose(-1, -2)).max(dim=-1)
    order = best.argsort(dim=-1, descending=True)
    merged = order[:, :r]
    return order[:, r:], merged, best_b.gather(-1, merged)


def merge_sum(torch, x, unmerged, merged, into):
    src, dst = x[:, ::2, :], x[:, 1::2, :]
    c = x.shape[-1]
    moved = src.gather(1, merged[..., None].expand(-1, -1, c))
    dst = dst.scatter_reduce(1, into[..., None].expand(-1, -1, c), moved, reduce="sum")
    return torch.cat([src.gather(1, unmerged[..., None].expand(-1, -1, c)), dst], dim=1)


def tome_blocks(torch, w, x, dtype):
    """The three blocks with ToMe, in `dtype`; also returns every block's choice of merges."""
    w = {k: v.to(dtype) for k, v in w.items()}
    x = x.to(dtype)
    size, choices = None, []
    F = torch.nn.functional
    for i, r in enumerate(R):
        p = f"block.{i}."
        n, d = x.shape[1], WIDTH // HEADS
        h = F.layer_norm(x, (WIDTH,), w[p + "ln1.weight"], w[p + "ln1.bias"], EPS)
        qkv = (h @ w[p + "qkv.weight"].t() + w[p + "qkv.bias"]).reshape(BATCH, n, 3, HEADS, d).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        logits = (q @ k.transpose(-2, -1)) * d ** -0.5
        if size is not None:  # proportional attention
            logits = logits + size.log()[:, None, None, :, 0]
        attn = (logits.softmax(dim=-1) @ v).transpose(1, 2).reshape(BATCH, n, WIDTH)
        x = x + attn @ w[p + "proj.weight"].t() + w[p + "proj.bias"]
        unmerged, merged, into = matching(torch, k.mean(1), r)
        choices.append((unmerged, merged, into))
        if size is None:
            size = torch.ones_like(x[..., :1])
        x = merge_sum(torch, x * size, unmerged, merged, into)
        size = merge_sum(torch, size, unmerged, merged, into)
        x = x / size
        m = F.layer_norm(x, (WIDTH,), w[p + "ln2.weight"], w[p + "ln2.bias"], EPS)
        m = F.gelu(m @ w[p + "fc1.weight"].t() + w[p + "fc1.bias"], approximate="tanh")
        x = x + m @ w[p + "fc2.weight"].t() + w[p + "fc2.bias"]
    return x, size, choices


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="tests/token_merge/tome_blocks.safetensors", help="the file written")
    args = ap.parse_args()
    debian_torch.ensure_torch("token_merge_fixtures", "test fixtures only")
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(29)
    w = draw_blocks(torch, len(R), WIDTH, MLP)
    x = torch.randn(BATCH, TOKENS, WIDTH)
    with torch.no_grad():
        ref, ref_size, ref_choices = tome_blocks(torch, w, x, torch.float64)
        f32, _, f32_choices = tome_blocks(torch, w, x, torch.float32)
    for i, (a, b) in enumerate(zip(ref_choices, f32_choices)):
        if not all(torch.equal(p, q) for p, q in zip(a, b)):
            sys.exit(f"token_merge_fixtures: block {i}: float32 merges other tokens than float64; change the seed")
    err = (f32.double() - ref).abs().max().item() / max(1.0, ref.abs().max().item())
    if not math.isfinite(err):
        sys.exit("token_merge_fixtures: non-finite output")
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    tensors = [(k, v, "F32") for k, v in w.items()]
    tensors += [("input.x", x, "F32"), ("input.r", torch.tensor(R), "I64"), ("output.tokens", ref, "F32"),
                ("output.size", ref_size, "F32")]
    write_safetensors(torch, args.out, tensors, {"generator": GENERATOR, "torch": torch.__version__,
                                                 "semantics": "facebookresearch/ToMe ToMeBlock, prop_attn=True",
                                                 "reference_dtype": "float64"})
    print(f"token_merge_fixtures: wrote {args.out}; float32 merges as float64 in every block; "
          f"max|float32 - float64| / max(1, max|float64|) = {err:.2e}")


if __name__ == "__main__":
    main()
