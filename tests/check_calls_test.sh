#!/usr/bin/env bash
# The layer check's call rule can fail: a CLI object that calls the model
# layer directly is refused by name, and the built CLI passes.
# Usage: tests/check_calls_test.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$(cd "$1" && pwd)
build=$(cd "$2" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fake=$tmp/CMakeFiles
mkdir -p "$fake/colorize_cli.dir/src/cli"
ln -s "$build/CMakeFiles/colorize_objects.dir" "$fake/colorize_objects.dir"
cat >"$tmp/bad.c" <<'C'
void cz_model_free(void *m);
const char *cz_arch_name(int a);
void cz_set_threads(int n);
const char *bad(void *m) { cz_set_threads(1); cz_model_free(m); return cz_arch_name(0); }
C
cc -c "$tmp/bad.c" -o "$fake/colorize_cli.dir/src/cli/bad.c.o"
if out=$(bash "$src/tools/check_layers.sh" --calls-only "$tmp" "$src" 2>&1); then
  echo "FAIL: a CLI object calling cz_model_free passed the check"; exit 1
fi
for want in "calls cz_model_free, defined in model" "calls cz_arch_name, defined in graph"; do
  grep -qF "$want" <<<"$out" || { echo "FAIL: no '$want' in:"; echo "$out"; exit 1; }
done
grep -qF cz_set_threads <<<"$out" && { echo "FAIL: the public cz_set_threads was refused"; exit 1; }
bash "$src/tools/check_layers.sh" --calls-only "$build" "$src" >/dev/null ||
  { echo "FAIL: the built CLI does not pass"; exit 1; }
echo "check_calls: a direct model call is refused by name; the built CLI passes"
