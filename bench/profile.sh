#!/usr/bin/env bash
# Where a training step's time goes, for the 16 bench configurations (4
# networks x 2 heads x widths 16 and 32, batch 128): `colorize bench
# --profile --json` for each, then one table with the whole step's share of
# the peak, the convolutions' own share (their FLOPs over their time alone)
# and what the other operations cost in % of the step.
# Usage: bench/profile.sh [-s STEPS] [-t THREADS] [-b BINARY] [-- BENCH OPTIONS]
# Defaults: 6 steps, 2 threads, build/colorize. Raw JSON lines go to
# bench/profile.jsonl. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
steps=6 threads=2 bin=build/colorize
while getopts s:t:b: o; do
  case $o in
  s) steps=$OPTARG ;; t) threads=$OPTARG ;; b) bin=$OPTARG ;;
  *) sed -n '2,9p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ -x "$bin" ] || { echo "profile.sh: $bin is not an executable (run scripts/setup.sh)" >&2; exit 2; }
out=bench/profile.jsonl
: >"$out"
for w in 16 32; do
  for a in vgg unet resnet resunet; do
    for h in reg cls; do
      "$bin" bench --arch "$a" --head "$h" --width "$w" --threads "$threads" --steps "$steps" --warmup 2 \
        --profile --json "$@" >>"$out"
    done
  done
done
cpu=$("$bin" bench --cpu)
echo "CPU: $cpu; $steps steps, $threads threads, batch 128"
exec /usr/bin/python3 - "$out" <<'EOF'
import json, sys

rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"peak: {rows[0]['peak_gflops']:.1f} GFLOP/s ({rows[0]['peak_isa']})\n")
print("| network | head | w | train img/s | step % of peak | convolutions % of peak | convolutions % of step"
      " | batchnorm % | reorders % | other % |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    p = r["profile_ms"]
    total = sum(p.values())
    conv = p["conv forward"] + p["conv backward-data"] + p["conv backward-weights"]
    rest = total - conv - p["batchnorm"] - p["reorders"]
    print(f"| {r['arch']} | {r['head']} | {r['width']} | {r['train_img_s']:.1f} | "
          f"{100 * r['train_peak_fraction']:.1f} | {100 * r['conv_peak_fraction']:.1f} | "
          f"{100 * conv / total:.1f} | {100 * p['batchnorm'] / total:.1f} | {100 * p['reorders'] / total:.1f} | "
          f"{100 * rest / total:.1f} |")
EOF
