#!/usr/bin/env bash
# Install into a temporary prefix, then build the example against the
# installed colorize.pc twice, shared (libcolorize.so.0) and static
# (libcolorize.a), run both on a shipped picture and compare their outputs
# with the build tree's CLI. Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d /tmp/cz_install_XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cmake --install "$build" --prefix "$tmp/p" >/dev/null
lib=$(find "$tmp/p" -name 'libcolorize.so.0' -print -quit)
[ -n "$lib" ] || { echo "install_test: libcolorize.so.0 not installed"; exit 1; }
libdir=$(dirname "$lib")
[ -f "$libdir/libcolorize.a" ] || { echo "install_test: libcolorize.a not installed"; exit 1; }
soname=$(readelf -d "$lib" | sed -n 's/.*SONAME.*\[\(.*\)\]/\1/p')
[ "$soname" = libcolorize.so.0 ] || { echo "install_test: soname is '$soname'"; exit 1; }
export PKG_CONFIG_PATH=$libdir/pkgconfig
pic=$src/samples/photos/grey/test22476_frog.png
model=$tmp/p/share/colorize/colorize.safetensors

cc -o "$tmp/ex_shared" "$src/examples/colorize_example.c" $(pkg-config --cflags --libs colorize) \
   -Wl,-rpath,"$libdir"
# ldd's output is captured first: with pipefail, `ldd | grep -q` fails at
# random when grep exits before ldd has written everything (SIGPIPE).
deps=$(ldd "$tmp/ex_shared")
grep -q "libcolorize.so.0 => $libdir" <<<"$deps" ||
  { echo "install_test: the shared example does not load the installed libcolorize.so.0"; exit 1; }
static_libs=$(pkg-config --static --libs colorize | sed 's/-lcolorize//')
cc -o "$tmp/ex_static" "$src/examples/colorize_example.c" $(pkg-config --cflags colorize) \
   "$libdir/libcolorize.a" $static_libs
deps=$(ldd "$tmp/ex_static")
if grep -q libcolorize <<<"$deps"; then
  echo "install_test: the static example loads libcolorize.so"; exit 1
fi
"$tmp/ex_shared" "$model" "$pic" "$tmp/shared.png"
"$tmp/ex_static" "$model" "$pic" "$tmp/static.png"
"$tmp/p/bin/colorize" run --model "$model" "$pic" -o "$tmp/cli.png" 2>/dev/null
cmp "$tmp/shared.png" "$tmp/cli.png" && cmp "$tmp/static.png" "$tmp/cli.png"
echo "install_test: shared and static builds from colorize.pc agree with the CLI"
