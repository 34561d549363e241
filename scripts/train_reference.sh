#!/usr/bin/env bash
# Train the six reference configurations (3 networks x 2 heads) and the
# project's own network (resunet, both heads) at width 16 for 10 epochs with the calibration recipe (Adam 1e-3 constant, batch 128,
# random horizontal flips, best-validation checkpoint) on the seed-0 split,
# then evaluate each best model on the test split. Resumable: run it again
# after an interruption and every unfinished run continues from its state.
# Usage: scripts/train_reference.sh [RUNS_DIR]   (default runs/reference)
#        CONFIGS="unet:reg vgg:cls" scripts/train_reference.sh   (a subset)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-runs/reference}
bin=${COLORIZE_BIN:-build/colorize}
mkdir -p "$runs"
configs=${CONFIGS:-unet:reg resunet:reg vgg:reg resnet:reg unet:cls vgg:cls resnet:cls resunet:cls}
for cfg in $configs; do
  arch=${cfg%:*} head=${cfg#*:}
  out="$runs/${arch}_${head}_w16"
  if [ -f "$out/log.jsonl" ] && [ "$(wc -l < "$out/log.jsonl")" -ge 10 ]; then
    echo "== $out: done"
  else
    resume=()
    [ -f "$out/state.safetensors" ] && resume=(--resume)
    echo "== $out: training"
    start=$(date +%s)
    "$bin" train --arch "$arch" --head "$head" --width 16 --epochs 10 --batch 128 --lr 1e-3 \
      --optim adam --schedule const --aug flip --seed 0 --out "$out" "${resume[@]}"
    echo "$(( $(date +%s) - start ))" >> "$out/wall_seconds"
  fi
  if [ "$head" = cls ]; then decodes="mean annealed mode"; else decodes="mean"; fi
  for d in $decodes; do
    [ -f "$out/test_${d}.json" ] || "$bin" eval --model "$out/best.safetensors" --split test \
      --decode "$d" --json "$out/test_${d}.json" > /dev/null
  done
done
