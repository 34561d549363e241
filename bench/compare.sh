#!/usr/bin/env bash
# Side-by-side training/inference speed: colorize vs PyTorch on the same
# machine, one configuration after the other, for the 12 configurations of
# the engine issue (3 networks x 2 heads x widths 32 and 16, batch 128,
# 2 threads). PyTorch (Debian's python3-torch) is measured in both memory
# layouts at width 16 and the faster one is kept; at width 32 only the layout
# that won at width 16 for the same network and head is measured (to save
# time). PyTorch is skipped when not installed.
# Prints a Markdown table; raw JSON lines go to bench/results.jsonl.
# Usage: bench/compare.sh [STEPS]   (default 20 timed steps after 3 warm-up)
#        NO_TORCH=1 bench/compare.sh   (colorize only)
set -euo pipefail
cd "$(dirname "$0")/.."
steps=${1:-20}
bin=${COLORIZE_BIN:-build/colorize}
out=bench/results.jsonl
: > "$out"
have_torch=0
[ -z "${NO_TORCH:-}" ] && /usr/bin/python3 -c 'import torch' 2>/dev/null && have_torch=1
tcmalloc=/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4
[ -f "$tcmalloc" ] || tcmalloc=""
field() { python3 -c "import json,sys; print('%.1f' % json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }
echo "| network | head | w | colorize train img/s | PyTorch train img/s | ratio | colorize infer img/s | PyTorch infer img/s | colorize RSS MiB | PyTorch RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|"
declare -A layout_won
for w in 16 32; do
  for arch in vgg unet resnet; do
    for head in reg cls; do
      c=$("$bin" bench --arch "$arch" --head "$head" --width "$w" --batch 128 --threads 2 --steps "$steps" --json)
      echo "$c" >> "$out"
      ct=$(field "$c" train_img_s); ci=$(field "$c" infer_img_s); cr=$(field "$c" peak_rss_mib)
      pt="-"; pi="-"; pr="-"; ratio="-"
      if [ $have_torch = 1 ]; then
        best=""
        layouts="channels_last contiguous"
        [ "$w" != 16 ] && [ -n "${layout_won[$arch$head]:-}" ] && layouts=${layout_won[$arch$head]}
        for layout in $layouts; do
          p=$(OPENBLAS_NUM_THREADS=1 LD_PRELOAD=$tcmalloc /usr/bin/python3 bench/torch_bench.py \
              --arch "$arch" --head "$head" --width "$w" --batch 128 --threads 2 --steps "$steps" --layout $layout)
          echo "$p" >> "$out"
          if [ -z "$best" ] || python3 -c "import json,sys; sys.exit(0 if json.loads(sys.argv[1])['train_img_s'] > json.loads(sys.argv[2])['train_img_s'] else 1)" "$p" "$best"; then
            best=$p
            layout_won[$arch$head]=$layout
          fi
        done
        pt=$(field "$best" train_img_s); pi=$(field "$best" infer_img_s); pr=$(field "$best" peak_rss_mib)
        ratio=$(python3 -c "print('%.2fx' % ($ct / $pt))")
      fi
      echo "| $arch | $head | $w | $ct | $pt ${layout_won[$arch$head]:-} | $ratio | $ci | $pi | $cr | $pr |"
    done
  done
done
