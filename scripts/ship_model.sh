#!/usr/bin/env bash
# Make a finished training run the shipped model, and measure it.
#
#   scripts/ship_model.sh RUN_DIR
#
# RUN_DIR is a `colorize train` output directory (a study run's, for the
# shipped model studies/ship.json's) with its best-validation checkpoint
# best.safetensors. The script
#   1. copies it to models/colorize.safetensors (through a temporary file, so
#      an interrupted copy never leaves a broken shipped model);
#   2. writes models/test_metrics.json and the sample grid
#      docs/img/shipped_model_test_samples.png with `colorize eval` on the
#      test split, default (mean) decoding, single pass: the figure issue 11
#      and SPEC §4 ask for;
#   3. measures test-time flip averaging on the validation split, with and
#      without, which is how `colorize run`'s default is chosen
#      (models/val_flip.json);
#   4. runs tools/check_pytorch_interop.py on the shipped file.
# Environment: COLORIZE (the CLI, default build/colorize), COLORIZE_DATA
# (CIFAR-10, default data/cifar-10-batches-bin), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:?usage: scripts/ship_model.sh RUN_DIR}
bin=${COLORIZE:-build/colorize}
data=${COLORIZE_DATA:-data/cifar-10-batches-bin}
threads=${THREADS:-2}
[ -f "$run/best.safetensors" ] || { echo "ship_model.sh: $run/best.safetensors not found (is the run finished?)" >&2; exit 2; }
[ -x "$bin" ] || { echo "ship_model.sh: $bin is not an executable (run scripts/setup.sh)" >&2; exit 2; }
[ -d "$data" ] || { echo "ship_model.sh: no CIFAR-10 at $data (run: $bin data fetch)" >&2; exit 2; }

cp "$run/best.safetensors" models/colorize.safetensors.tmp
mv models/colorize.safetensors.tmp models/colorize.safetensors
echo "ship_model.sh: models/colorize.safetensors <- $run/best.safetensors"

"$bin" eval --model models/colorize.safetensors --data "$data" --threads "$threads" \
  --json models/test_metrics.json --samples docs/img/shipped_model_test_samples.png

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" eval --model models/colorize.safetensors --data "$data" --threads "$threads" --split val \
  --json "$tmp/val.json" >/dev/null
"$bin" eval --model models/colorize.safetensors --data "$data" --threads "$threads" --split val --flip \
  --json "$tmp/val_flip.json" >/dev/null
/usr/bin/python3 - "$tmp/val.json" "$tmp/val_flip.json" models/val_flip.json <<'PY'
import json, sys
one, flip = (json.load(open(p))["chroma_mse"] for p in sys.argv[1:3])
out = {"val_chroma_mse": one, "val_chroma_mse_flip": flip, "flip_change": flip / one - 1}
json.dump(out, open(sys.argv[3], "w"), indent=1)
print(f"validation chroma MSE {one:.6f}, with flip averaging {flip:.6f} ({100 * (flip / one - 1):+.2f} %)")
PY

/usr/bin/python3 tools/check_pytorch_interop.py models/colorize.safetensors
