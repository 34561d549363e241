#!/usr/bin/env bash
# Build the libFuzzer targets (clang, ASan + UBSan) into build-fuzz/ and run
# them one at a time. Usage: scripts/fuzz.sh [TARGET] [SECONDS] [RUNS]
#   TARGET   safetensors, model, png, jpeg, cifar, folder, or all (default)
#   SECONDS  per target (default 30)
#   RUNS     stop a target after this many executions instead (the long
#            run: scripts/fuzz.sh all 86400 10000000)
# Each run has a 2 GB memory cap and a 10 s cap per input, starts from a copy
# of the committed seeds (tests/fuzz/corpus/TARGET) in out/fuzz/corpus/, and
# saves a finding as a reproducer in out/fuzz/findings/ (replay one with
# build-fuzz/tests/fuzz/fuzz_TARGET FILE). Exit status 1 if any target found
# something.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-all}
seconds=${2:-30}
runs=${3:-}
all=(safetensors model png jpeg cifar folder)
if [ "$target" = all ]; then targets=("${all[@]}"); else targets=("$target"); fi
for t in "${targets[@]}"; do
  [ -d "tests/fuzz/corpus/$t" ] || { echo "fuzz.sh: unknown target '$t' (one of: ${all[*]} all)" >&2; exit 2; }
done
command -v clang >/dev/null || { echo "fuzz.sh: clang is missing (apt-get install clang libclang-rt-14-dev libomp-14-dev)" >&2; exit 2; }

CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCOLORIZE_FUZZ=ON \
  -DCOLORIZE_NATIVE=OFF >/dev/null
cmake --build build-fuzz -j "$(nproc)" --target $(printf 'fuzz_%s ' "${targets[@]}") >/dev/null

found=0
mkdir -p out/fuzz/findings
for t in "${targets[@]}"; do
  corpus=out/fuzz/corpus/$t
  mkdir -p "$corpus"
  cp -n tests/fuzz/corpus/$t/* "$corpus"/ 2>/dev/null || true
  log=out/fuzz/$t.log
  echo "fuzz.sh: $t for ${runs:+$runs executions or }${seconds} s (log $log)"
  set +e
  # libFuzzer's own threads stay at one; the library's OpenMP too.
  OMP_NUM_THREADS=1 ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    build-fuzz/tests/fuzz/fuzz_$t "$corpus" -dict=tests/fuzz/dict/$t.dict \
      -max_total_time="$seconds" ${runs:+-runs=$runs} -rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=10 \
      -artifact_prefix=out/fuzz/findings/$t- -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e

  if [ $rc -ne 0 ]; then
    found=1
    echo "fuzz.sh: $t FOUND something (exit $rc): $(ls -t out/fuzz/findings/$t-* 2>/dev/null | head -1)"
    grep -m3 -E "ERROR|SUMMARY" "$log" || true
  fi
  echo "fuzz.sh: $t: $(grep -o 'cov: [0-9]*' "$log" | tail -1), $(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log"), $(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log")"
done
exit $found
