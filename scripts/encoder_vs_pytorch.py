#!/usr/bin/python3
"""The harness's encoder forward beside the encoder a PyTorch user gets for free.

For each shape (cpu-small: one request of 5 crops of 13 x 13 tokens; paper:
one 27 x 27 image of width 1152) and each placement (no compressor; LaCo,
r = 2, after block k = 1/4 depth), times single forwards under no_grad:
  pytorch   torch.nn.TransformerEncoder(TransformerEncoderLayer(norm_first=True,
            batch_first=True, activation="gelu")) with the same patch
            embedding, width, depth, heads, MLP and LayerNorm eps, in eval
            mode (PyTorch's fused native encoder-layer path), LaCo written as
            a PyTorch user would (pad, reshape, LayerNorm-Linear-GELU-Linear,
            plus the window mean over the real tokens);
  fused     the harness's inference path, and
  composed  the harness's op-by-op path, both in one `laco_bench
            --encoder-server=<shape>/<placement>` process (same weights).
The shapes come from that server, so both sides build the same encoder. The
three are interleaved forward by forward (the order rotates every forward;
the process that is not timing waits on a pipe, idle), after 2 warm-up
forwards each. Both sides run on 2 threads with OMP_WAIT_POLICY=PASSIVE (the
harness's setting; with libgomp's default wait policy and OpenBLAS's own
threads both sides slowed down about 3x on this machine). A ratio is
PyTorch's time over the harness's (above 1: the harness is faster), one per
interleaved triple; the summary is their median with a distribution-free
confidence interval for it (order statistics, coverage at least 95%).

Differences that remain by construction: PyTorch's fused layer has no tanh
GELU (it takes the exact one; the harness's encoder is SigLIP's tanh GELU).

A benchmark-only tool: it uses Debian's python3-torch (the same LibTorch
1.13 and OpenBLAS as the harness) and installs it when missing; the harness
never needs it. Usage (from the repository, after scripts/build.sh):
  scripts/encoder_vs_pytorch.py [--build build] [--shapes cpu-small,paper]
                                [--iterations 15] [--out results/encoder_vs_pytorch.json]
"""
import argparse
import datetime
import json
import math
import os
import platform
import socket
import statistics
import subprocess
import sys

import debian_torch
import time

THREADS = 2


def ensure_thread_env():
    """Both sides under the harness's thread settings (harness/base/threads.h): libgomp reads the wait policy
    when it loads, so the script re-executes itself once with them set."""
    want = {"OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(THREADS), "OPENBLAS_NUM_THREADS": str(THREADS)}
    if all(os.environ.get(k) == v for k, v in want.items()):
        return
    os.environ.update(want)
    os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)


def log(msg):
    print(f"[{datetime.datetime.now().strftime('%H:%M:%S')}] {msg}", flush=True)


class Harness:
    """One laco_bench --encoder-server process: forward(path) runs one forward and returns its milliseconds."""

    def __init__(self, bench, shape, placement):
        env = dict(os.environ, LACO_THREADS=str(THREADS))
        self.proc = subprocess.Popen([bench, f"--encoder-server={shape}/{placement}"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, env=env, text=True, bufsize=1)
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"encoder_vs_pytorch: {bench} --encoder-server={shape}/{placement} printed no shapes "
                     f"(exit {self.proc.wait()})")
        self.shapes = json.loads(line)

    def forward(self, path):
        self.proc.stdin.write(path + "\n")
        line = self.proc.stdout.readline()
        if not line:
            sys.exit(f"encoder_vs_pytorch: the encoder server stopped (exit {self.proc.wait()})")
        return float(line)

    def close(self):
        self.proc.stdin.write("quit\n")
        self.proc.stdin.close()
        self.proc.wait()


def build_pytorch(torch, c):
    """The same encoder from torch.nn, with LaCo after block k when c['block'] > 0."""
    nn = torch.nn
    width, heads, mlp, depth = int(c["width"]), int(c["heads"]), int(c["mlp_dim"]), int(c["depth"])
    k, r, eps = int(c["block"]), int(c["ratio"]), float(c["ln_eps"])

    def stack(n):
        layer = nn.TransformerEncoderLayer(width, heads, mlp, dropout=0.0, activation="gelu", layer_norm_eps=eps,
                                           batch_first=True, norm_first=True)
        return nn.TransformerEncoder(layer, n, enable_nested_tensor=False)

    side = int(c["image_size"]) // int(c["patch_size"])

    class Laco(nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = nn.Sequential(nn.LayerNorm(r * r * width), nn.Linear(r * r * width, width), nn.GELU(),
                                     nn.Linear(width, width))
            padded = -(-side // r) * r
            real = torch.zeros(padded, padded)
            real[:side, :side] = 1
            count = real.view(padded // r, r, padded // r, r).sum((1, 3)).reshape(-1, 1)
            self.register_buffer("inv_count", 1.0 / count)
            self.padded = padded

        def forward(self, x):
            b, _, ch = x.shape
            p, h2 = self.padded, self.padded // r
            x = nn.functional.pad(x.view(b, side, side, ch), (0, 0, 0, p - side, 0, p - side))
            s = x.view(b, h2, r, h2, r, ch).permute(0, 1, 3, 2, 4, 5).reshape(b, h2 * h2, r * r * ch)
            a = s.view(b, h2 * h2, r * r, ch).sum(2) * self.inv_count
            return self.mlp(s) + a

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            p = int(c["patch_size"])
            self.patch = nn.Conv2d(int(c["channels"]), width, p, stride=p)
            self.pos = nn.Parameter(torch.randn(1, side * side, width) * 0.02)
            self.before = stack(k if k > 0 else depth)
            self.laco = Laco() if k > 0 else None
            self.after = stack(depth - k) if 0 < k < depth else None

        def forward(self, images):
            x = self.patch(images).flatten(2).transpose(1, 2) + self.pos
            x = self.before(x)
            if self.laco is not None:
                x = self.laco(x)
            if self.after is not None:
                x = self.after(x)
            return x

    return Encoder().eval()


def pytorch_forward(torch, model, images):
    t0 = time.perf_counter()
    model(images)
    return (time.perf_counter() - t0) * 1e3


def median_ci(values, level=0.95):
    """Distribution-free CI for the median: the order statistics [x_(j), x_(n+1-j)] with the largest j whose
    coverage 1 - 2 P(Bin(n, 1/2) < j) is at least `level` (or [min, max] and its coverage when none is)."""
    xs, n = sorted(values), len(values)
    coverage = lambda j: 1 - 2 * sum(math.comb(n, i) for i in range(j)) / 2 ** n
    j = 1
    while j + 1 <= n // 2 and coverage(j + 1) >= level:
        j += 1
    return xs[j - 1], xs[n - j], coverage(j)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default="build", help="the CMake build folder holding laco_bench")
    ap.add_argument("--shapes", default="cpu-small,paper")
    ap.add_argument("--placements", default="none,laco")
    ap.add_argument("--iterations", type=int, default=15, help="timed forwards per side and case")
    ap.add_argument("--out", default="results/encoder_vs_pytorch.json", help="raw samples and the summary")
    args = ap.parse_args()
    if args.iterations < 6:
        sys.exit(f"encoder_vs_pytorch: --iterations must be >= 6 (a 95% interval for a median needs 6), "
                 f"got {args.iterations}")
    shapes, placements = args.shapes.split(","), args.placements.split(",")
    for s in shapes:
        if s not in ("cpu-small", "paper"):
            sys.exit(f"encoder_vs_pytorch: --shapes: unknown shape '{s}' (allowed: cpu-small, paper)")
    for p in placements:
        if p not in ("none", "laco"):
            sys.exit(f"encoder_vs_pytorch: --placements: unknown placement '{p}' (allowed: none, laco)")
    bench = os.path.join(args.build, "laco_bench")
    if not os.access(bench, os.X_OK):
        sys.exit(f"encoder_vs_pytorch: {bench} not found (build first: scripts/build.sh, or pass --build)")

    ensure_thread_env()
    debian_torch.ensure_torch("encoder_vs_pytorch", "benchmark only")
    import torch
    torch.set_num_threads(THREADS)
    torch.manual_seed(0)

    paths = ("pytorch", "fused", "composed")
    cases = [(s, p) for s in shapes for p in placements]
    total, done, start = len(cases) * args.iterations, 0, time.time()
    results, context = [], {}
    for shape, placement in cases:
        log(f"{shape}/{placement}: starting the encoder server")
        harness = Harness(bench, shape, placement)
        c = context = harness.shapes
        model = build_pytorch(torch, c)
        images = torch.randn(int(c["batch"]), int(c["channels"]), int(c["image_size"]), int(c["image_size"]))
        run = lambda path: pytorch_forward(torch, model, images) if path == "pytorch" else harness.forward(path)
        samples = {p: [] for p in paths}
        with torch.no_grad():
            for _ in range(2):
                for p in paths:
                    run(p)  # warm-up
            for i in range(args.iterations):
                order = paths[i % 3:] + paths[:i % 3]
                for p in order:
                    samples[p].append(run(p))
                done += 1
                el = time.time() - start
                log(f"{shape}/{placement} {i + 1}/{args.iterations}: "
                    + ", ".join(f"{p} {samples[p][-1]:.1f} ms" for p in paths)
                    + f" [{done}/{total}, {el:.0f} s elapsed, ETA {el / done * (total - done):.0f} s]")
        harness.close()
        summary = {"shape": shape, "placement": placement, "batch": int(c["batch"]), "block": int(c["block"]),
                   "iterations": args.iterations}
        for p in paths:
            summary[f"{p}_ms"] = statistics.median(samples[p])
        for p in ("fused", "composed"):
            ratios = [a / b for a, b in zip(samples["pytorch"], samples[p])]
            lo, hi, cov = median_ci(ratios)
            summary[f"pytorch_over_{p}"] = {"median": statistics.median(ratios), "ci_low": lo, "ci_high": hi,
                                            "ci_level": cov}
        results.append({"summary": summary, "samples_ms": samples})

    meta = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "host": socket.gethostname(), "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "threads": THREADS, "torch": torch.__version__,
            "harness": {k: context.get(k) for k in ("threads", "git_commit")}}
    if args.out:
        os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
        with open(args.out + ".tmp", "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)
        os.replace(args.out + ".tmp", args.out)

    print()
    print(f"Encoder forward, no_grad, {THREADS} threads, torch {torch.__version__}, harness "
          f"{meta['harness']['git_commit']}, {meta['date']}, {meta['cpus']} CPUs: {args.iterations} interleaved "
          f"forwards per side (medians; ratio = PyTorch time / harness time, above 1: the harness is faster)")
    print()
    print("| shape | compressor | batch | PyTorch ms | harness fused ms | harness composed ms "
          "| PyTorch / fused [CI] | PyTorch / composed [CI] |")
    print("|---|---|---|---|---|---|---|---|")
    for res in results:
        s = res["summary"]
        comp = f"LaCo r=2 after block {s['block']}" if s["block"] else "none"
        cells = []
        for path in ("fused", "composed"):
            q = s[f"pytorch_over_{path}"]
            cells.append(f"{q['median']:.3f} [{q['ci_low']:.3f}, {q['ci_high']:.3f}]")
        print(f"| {s['shape']} | {comp} | {s['batch']} | {s['pytorch_ms']:.1f} | {s['fused_ms']:.1f} "
              f"| {s['composed_ms']:.1f} | {cells[0]} | {cells[1]} |")
    levels = sorted({round(r["summary"]["pytorch_over_fused"]["ci_level"], 3) for r in results})
    print()
    print(f"CI: distribution-free for the median of the per-round ratios, coverage {', '.join(map(str, levels))}. "
          f"Raw samples: {args.out or 'not kept (--out empty)'}")


if __name__ == "__main__":
    main()
