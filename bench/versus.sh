#!/usr/bin/env bash
# Two colorize binaries side by side on the 16 bench configurations (4
# networks x 2 heads x widths 16 and 32, batch 128): for each configuration
# the two are run alternately REPS times (old, new, old, new, ...) so that a
# change in the machine's load hits both alike; the table gives each one's
# median train and inference img/s and the ratios new/old.
# Usage: bench/versus.sh OLD_BIN NEW_BIN [REPS] [STEPS]   (defaults 3 and 8)
# Raw JSON lines go to bench/versus.jsonl. Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 2 ] || { sed -n '2,8p' "$0"; exit 2; }
old=$1 new=$2 reps=${3:-3} steps=${4:-8}
for b in "$old" "$new"; do
  [ -x "$b" ] || { echo "versus.sh: $b is not an executable" >&2; exit 2; }
done
out=bench/versus.jsonl
: >"$out"
median() { /usr/bin/python3 -c 'import sys,statistics; print("%.1f" % statistics.median(map(float, sys.argv[1:])))' "$@"; }
field() { /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }
grep -m1 'model name' /proc/cpuinfo | sed 's/.*: /CPU: /'
echo "| network | head | w | old train | new train | ratio | old infer | new infer | ratio |"
echo "|---|---|---|---|---|---|---|---|---|"
for w in 16 32; do
  for arch in vgg unet resnet resunet; do
    for head in reg cls; do
      declare -a ot=() nt=() oi=() ni=()
      for ((r = 0; r < reps; r++)); do
        for which in old new; do
          bin=$old
          [ $which = new ] && bin=$new
          j=$("$bin" bench --arch $arch --head $head --width $w --batch 128 --threads 2 \
                --steps "$steps" --warmup 2 --json)
          echo "{\"binary\": \"$which\", \"result\": $j}" >>"$out"
          if [ $which = old ]; then
            ot+=("$(field "$j" train_img_s)"); oi+=("$(field "$j" infer_img_s)")
          else
            nt+=("$(field "$j" train_img_s)"); ni+=("$(field "$j" infer_img_s)")
          fi
        done
      done
      mot=$(median "${ot[@]}") mnt=$(median "${nt[@]}") moi=$(median "${oi[@]}") mni=$(median "${ni[@]}")
      rt=$(/usr/bin/python3 -c "print('%.3f' % ($mnt / $mot))")
      ri=$(/usr/bin/python3 -c "print('%.3f' % ($mni / $moi))")
      echo "| $arch | $head | $w | $mot | $mnt | $rt | $moi | $mni | $ri |"
      unset ot nt oi ni
    done
  done
done
