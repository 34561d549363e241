#!/usr/bin/env bash
# Build and run every test (the README's test command). With --sanitize the
# suite is built in build-asan/ with AddressSanitizer + UBSan and run again,
# and each libFuzzer target runs for FUZZ_SECONDS (30) from its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test-tools
ctest --test-dir build --output-on-failure -j 2
if [ "${1:-}" = "--sanitize" ]; then
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DCOLORIZE_SANITIZE=ON -DCOLORIZE_NATIVE=OFF >/dev/null
  cmake --build build-asan -j "$(nproc)"
  ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j 2
  scripts/fuzz.sh all "${FUZZ_SECONDS:-30}"
fi
