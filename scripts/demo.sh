#!/usr/bin/env bash
# The main job, from a fresh Debian 12 machine: install what is missing,
# build, then with the shipped model (models/colorize.safetensors, or
# $COLORIZE_MODEL) colourise the sample pictures into out/demo/, evaluate the
# model on the shipped test sample next to the grey baseline, and write
# out/demo/index.html (grey | colourised | original). No download.
# Options (for the page's test): --out DIR instead of out/demo; --bin FILE
# to use an already built CLI and skip the install and build.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/colorize
demo=out/demo
setup=1
while [ $# -gt 0 ]; do
  case $1 in
    --out) demo=$2; shift 2 ;;
    --bin) bin=$2; setup=0; shift 2 ;;
    *) echo "usage: scripts/demo.sh [--out DIR] [--bin FILE]" >&2; exit 2 ;;
  esac
done
[ $setup = 1 ] && scripts/setup.sh
model=${COLORIZE_MODEL:-models/colorize.safetensors}
t0=$(date +%s.%N)
mkdir -p "$demo/grey" "$demo/original"
cp samples/photos/grey/*.png "$demo/grey/"
cp samples/photos/original/*.png "$demo/original/"
"$bin" run --model "$model" samples/photos/grey --outdir "$demo/colour" --overwrite
"$bin" eval --model "$model" --data samples/cifar_test_sample.bin --split all \
  --json "$demo/eval.json" --samples "$demo/samples.png" | tee "$demo/eval.txt"

mse=$(sed -n 's/.*"chroma_mse": \([0-9.]*\).*/\1/p' "$demo/eval.json")
grey=$(sed -n 's/.*"grey_chroma_mse": \([0-9.]*\).*/\1/p' "$demo/eval.json")
{
  cat <<HTML
<!doctype html>
<html><head><meta charset="utf-8"><title>colorize demo</title>
<style>body{font-family:sans-serif;margin:2em}td{padding:4px;text-align:center}img{width:192px;image-rendering:pixelated}</style>
</head><body>
<h1>colorize demo</h1>
<p>Model <code>$model</code>. On the shipped sample of 300 CIFAR-10 test images its chroma MSE is
<b>$mse</b>; predicting no colour at all (grey) scores <b>$grey</b> (lower is better).</p>
<table><tr><th>grey input</th><th>colourised</th><th>original</th></tr>
HTML
  for f in "$demo"/grey/*.png; do
    n=$(basename "$f")
    echo "<tr><td><img src=\"grey/$n\"></td><td><img src=\"colour/$n\"></td><td><img src=\"original/$n\"></td></tr>"
  done
  cat <<HTML
</table>
<h2>Test sample: grey | prediction | truth</h2>
<img src="samples.png" style="width:auto">
</body></html>
HTML
} > "$demo/index.html"
echo "demo: chroma MSE $mse (grey baseline $grey); open $demo/index.html ($(python3 -c "print('%.1f' % ($(date +%s.%N) - $t0))") s after the build)"
