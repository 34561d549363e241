#!/usr/bin/env bash
# 1 rank against 2 ranks (1 thread each) on this machine, whole-command wall
# times of one short training (docs/distributed.md):
#   bench/ddp_scaling.sh DATA_DIR [RUNS] [OUT_DIR]
# Prints one line per run and the medians; OUT_DIR keeps the runs' logs.
set -euo pipefail
data=${1:?usage: bench/ddp_scaling.sh DATA_DIR [RUNS] [OUT_DIR]}
runs=${2:-3}
out=${3:-$(mktemp -d)}
bin=${COLORIZE_BIN:-build/colorize}
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
mpi=(mpirun -np 2 --oversubscribe --bind-to none --mca btl self,tcp --mca btl_tcp_if_include lo
     --mca oob_tcp_if_include lo)
args=(train --data "$data" --arch unet --head cls --width 16 --epochs 1 --batch 128 --limit-train 3000
      --limit-val 1000 --threads 1)
mkdir -p "$out"
median() { sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
for ranks in 1 2; do
  : >"$out/wall_$ranks.txt"
  : >"$out/train_$ranks.txt"
  for r in $(seq 1 "$runs"); do
    dir=$out/r${ranks}_$r
    rm -rf "$dir"
    launch=()
    [ "$ranks" -gt 1 ] && launch=("${mpi[@]}")
    t0=$(date +%s.%N)
    "${launch[@]}" "$bin" "${args[@]}" --out "$dir" >"$dir.log" 2>&1
    t1=$(date +%s.%N)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
    train_s=$(sed -n 's/.*"train_seconds": \([0-9.]*\).*/\1/p' "$dir/log.jsonl")
    echo "$wall" >>"$out/wall_$ranks.txt"
    echo "$train_s" >>"$out/train_$ranks.txt"
    echo "ranks $ranks run $r: wall $wall s, training loop $train_s s"
  done
done
for ranks in 1 2; do
  echo "ranks $ranks: median wall $(median <"$out/wall_$ranks.txt") s," \
       "median training loop $(median <"$out/train_$ranks.txt") s (23 steps of 128)"
done
