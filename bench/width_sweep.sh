#!/usr/bin/env bash
# Throughput per FLOP across base widths (the "no cliff" check): for each
# network and head, colorize bench at widths 4, 8, 12, 16, 24, 32 (batch 128),
# REPS rounds over the widths, the median train and inference GFLOP/s of
# each and its ratio to width 16's.
# Usage: bench/width_sweep.sh [-r REPS] [-s STEPS] [-t THREADS] [-b BINARY] [ARCH/HEAD ...]
# Defaults: 3 reps, 6 steps, 2 threads, build/colorize, unet/cls resnet/cls.
# Raw JSON lines go to bench/width_sweep.jsonl. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=3 steps=6 threads=2 bin=build/colorize
while getopts r:s:t:b: o; do
  case $o in
  r) reps=$OPTARG ;; s) steps=$OPTARG ;; t) threads=$OPTARG ;; b) bin=$OPTARG ;;
  *) sed -n '2,8p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ -x "$bin" ] || { echo "width_sweep.sh: $bin is not an executable (build first)" >&2; exit 2; }
BENCH_CPU=$("$bin" bench --cpu) exec /usr/bin/python3 - "$reps" "$steps" "$threads" "$bin" "$@" <<'PY'
import json, os, statistics, subprocess, sys

reps, steps, threads = (int(v) for v in sys.argv[1:4])
binary = sys.argv[4]
nets = [a.split("/") for a in sys.argv[5:]] or [["unet", "cls"], ["resnet", "cls"]]
widths = [4, 8, 12, 16, 24, 32]
cpu = os.environ["BENCH_CPU"]
print(f"CPU: {cpu}; {reps} reps of {steps} steps, {threads} threads, batch 128")
print("| network | head | width | train img/s | train GF/s | /w16 | infer img/s | infer GF/s | /w16 | train %peak |")
print("|---|---|---|---|---|---|---|---|---|---|")
with open("bench/width_sweep.jsonl", "w") as raw:
    for arch, head in nets:
        got = {w: [] for w in widths}
        for _ in range(reps):
            for w in widths:
                out = subprocess.run([binary, "bench", "--arch", arch, "--head", head, "--width", str(w),
                                      "--batch", "128", "--threads", str(threads), "--steps", str(steps),
                                      "--warmup", "2", "--json"], check=True, capture_output=True, text=True).stdout
                j = json.loads(out)
                raw.write(out if out.endswith("\n") else out + "\n")
                got[w].append(j)
        med = {w: {k: statistics.median(j[k] for j in got[w])
                   for k in ("train_img_s", "infer_img_s", "gflops_train", "gflops_infer", "train_peak_fraction")}
               for w in widths}
        for w in widths:
            m, b = med[w], med[16]
            print(f"| {arch} | {head} | {w} | {m['train_img_s']:.1f} | {m['gflops_train']:.1f} | "
                  f"{m['gflops_train'] / b['gflops_train']:.2f} | {m['infer_img_s']:.1f} | {m['gflops_infer']:.1f} | "
                  f"{m['gflops_infer'] / b['gflops_infer']:.2f} | {100 * m['train_peak_fraction']:.1f}% |", flush=True)
PY
