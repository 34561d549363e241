#!/usr/bin/env bash
# The installed library links with nothing but what colorize.pc says: install
# the build into a scratch prefix, compile the example as its header comment
# shows, colour the shipped frog. Usage: install_pkgconfig.sh BUILD_DIR CC
set -euo pipefail
build=$1 cc=$2 src=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/cz_install_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name colorize.pc)
export PKG_CONFIG_PATH=${pc%/colorize.pc}
# shellcheck disable=SC2046 # pkg-config's output is meant to be split
"$cc" "$src/examples/colorize_example.c" $(pkg-config --cflags --libs colorize) -o "$tmp/example"
"$tmp/example" "$tmp/prefix/share/colorize/colorize.safetensors" \
  "$src/samples/photos/grey/test22476_frog.png" "$tmp/frog.png"
