#!/usr/bin/python3
"""Tokens/s of the harness's Qwen tokenizer against Hugging Face's, interleaved.

Why: issue 42 asks for the speed of the tokenizer beside its reference's, as
a benchmark (never a timed test). Both encode the same 939 strings
(tests/tokenizer/qwen_parity.json) with the same tokenizer.json
(../shared/tokenizers/qwen), one thread each, in R rounds; within a round
each side runs about --seconds seconds, and the order alternates between
rounds so that a machine that slows down over the run does not favour one
side. Reported: the median tokens/s of each side and the median per-round
ratio with a distribution-free interval for it (order statistics of the R
ratios, the binomial coverage stated).

Sides: laco (build/laco_bench --benchmark_filter=tokenizer_encode/qwen, one
encode() call per string, LACO_THREADS=1), hf-batch (encodeBatch over the
corpus: the Rust core, TOKENIZERS_PARALLELISM=false and RAYON_NUM_THREADS=1)
and hf-each (one awaited encode() per string through the Node binding).
Needs node and the npm package of scripts/tokenizer_fixtures.mjs in
$TOKFIX_DIR (default /tmp/tokfix; that script installs it).

Usage (from the repository, after a build): scripts/tokenizer_speed.py [--rounds 9] [--seconds 1]
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def laco(bench, seconds):
    env = dict(os.environ, LACO_THREADS="1", OMP_NUM_THREADS="1")
    out = subprocess.run([bench, "--benchmark_filter=^tokenizer_encode/qwen/", f"--benchmark_min_time={seconds}",
                          "--benchmark_format=json"], env=env, check=True, capture_output=True, text=True).stdout
    b = json.loads(out)["benchmarks"][0]
    return b["tokens"]


def hf(mode, seconds):
    env = dict(os.environ, TOKENIZERS_PARALLELISM="false", RAYON_NUM_THREADS="1")
    out = subprocess.run(["node", os.path.join(ROOT, "scripts", "tokenizer_speed.mjs"), "--mode", mode, "--seconds",
                          str(seconds)], env=env, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])["tokens_per_s"]


def median_interval(values):
    """The narrowest order-statistic interval for the median covering at least 95% (else min..max), and its coverage."""
    v = sorted(values)
    n = len(v)
    best = (0, n - 1)
    for k in range(n // 2):
        cover = 1 - 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
        if cover >= 0.95:
            best = (k, n - 1 - k)
    k = best[0]
    cover = 1 - 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return v[best[0]], v[best[1]], cover


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=9)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--bench", default=os.path.join(ROOT, "build", "laco_bench"))
    args = ap.parse_args()
    sides = {"laco": lambda: laco(args.bench, args.seconds), "hf-batch": lambda: hf("batch", args.seconds),
             "hf-each": lambda: hf("each", args.seconds)}
    rates = {k: [] for k in sides}
    for r in range(args.rounds):
        order = list(sides) if r % 2 == 0 else list(reversed(list(sides)))
        for k in order:
            rates[k].append(sides[k]())
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {rates[k][-1] / 1e3:.0f}k tokens/s" for k in sides),
              file=sys.stderr, flush=True)
    print(f"tokenizer speed, {args.rounds} rounds of ~{args.seconds:g} s per side, 1 thread each, "
          f"939 strings of tests/tokenizer/qwen_parity.json")
    for k in sides:
        print(f"  {k:9s} median {statistics.median(rates[k]) / 1e3:8.0f}k tokens/s "
              f"(min {min(rates[k]) / 1e3:.0f}k, max {max(rates[k]) / 1e3:.0f}k)")
    for ref in ("hf-batch", "hf-each"):
        ratios = [a / b for a, b in zip(rates["laco"], rates[ref])]
        lo, hi, cover = median_interval(ratios)
        print(f"  laco / {ref:8s} median ratio {statistics.median(ratios):.3f} "
              f"[{lo:.3f}, {hi:.3f}] ({cover:.1%} order-statistic interval over {len(ratios)} rounds)")


if __name__ == "__main__":
    main()
