#!/usr/bin/env bash
# The layer check (docs/layers.md): every source file belongs to the layer of
# its folder under src/, every public header (include/colorize/) to the layer
# that implements it, and an include may point only down the order
#
#   cli -> app -> model -> backend -> graph -> core,   io and data beside:
#   model and app may use data and io, data may use io, io and data use core.
#
# The CLI includes public headers, its own (src/cli/*.h), the app layer's
# (its interface: train.h, evaluate.h, bench.h, ...) and core's platform
# helpers (util.h, paths.h); never model, backend, graph, io or data. The dnnl
# and ref backends are private to their folders: only backend/dnnl includes
# <dnnl.h>, and neither includes the other's headers. Prints FILE:LINE and the
# include for each offence; exit status 1 if there is one.
# Usage: tools/check_layers.sh [--graph] [--calls BUILD_DIR] [SOURCE_DIR]
#   --graph  also print the include graph: each layer and the layers it includes
#   --calls  also check the built CLI's calls (app headers include model
#            headers, so an include check alone lets the CLI reach past app):
#            every cz_ function a CLI object calls is public, app or core
#   --calls-only BUILD_DIR  that check alone
set -euo pipefail
graph=0
calls=""
includes=1
while [ $# -gt 0 ]; do
  case $1 in
    --graph) graph=1; shift ;;
    --calls) calls=$(cd "$2" && pwd); shift 2 ;;
    --calls-only) calls=$(cd "$2" && pwd); includes=0; shift 2 ;;
    *) break ;;
  esac
done
cd "${1:-$(dirname "$0")/..}"

# What each layer may include besides itself.
declare -A allowed=(
  [core]=""
  [io]="core"
  [data]="io core"
  [graph]="core"
  [backend]="graph core"
  [backend/dnnl]="backend graph core"
  [backend/ref]="backend graph core"
  [model]="backend graph data io core"
  [app]="model backend graph data io core"
  [cli]="app core"
)
# The public headers, by the layer that implements them.
declare -A public=(
  [error.h]=core [colorspace.h]=core [image.h]=io [safetensors.h]=io
  [threads.h]=backend [dataset.h]=data [colorize.h]=app
)

layer_of() { # path -> layer ("" outside every layer)
  case $1 in
    include/colorize/*) echo "${public[${1##*/}]:-?}" ;;
    src/backend/dnnl/*) echo backend/dnnl ;;
    src/backend/ref/*) echo backend/ref ;;
    src/*/*) local d=${1#src/}; echo "${d%%/*}" ;;
    *) echo "" ;;
  esac
}

declare -A header=() # bare name -> path
declare -A uses=()   # layer -> " layer layer ..." it includes
fail=0
for h in $(find src -name '*.h' | sort); do
  b=${h##*/}
  if [ -n "${header[$b]:-}" ]; then
    echo "$h: the header name $b is taken by ${header[$b]} (every folder is on the include path)"
    fail=1
  fi
  header[$b]=$h
done
for f in $(find include/colorize -name '*.h' | sort); do
  [ "$(layer_of "$f")" = "?" ] && { echo "$f: a public header in no layer (add it to tools/check_layers.sh)"; fail=1; }
done

for f in $( ((includes)) && find src include/colorize -name '*.[ch]' | sort); do
  from=$(layer_of "$f")
  if [ -z "$from" ]; then
    echo "$f: warning: in no layer folder (move it into one of src/*/)" >&2
    continue
  fi
  [ "$from" = "?" ] && continue
  while IFS=: read -r line text; do
    inc=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]*)[>"].*/\1/' <<<"$text")
    if [[ $text =~ \< ]]; then # a system header: only the dnnl backend talks to oneDNN
      if [[ $inc == dnnl* && $from != backend/dnnl ]]; then
        echo "$f:$line: $text (oneDNN belongs to src/backend/dnnl)"
        fail=1
      fi
      continue
    fi
    case $inc in
      colorize/*) target=include/$inc ;;
      */*) target=src/$inc ;;
      *) target=${header[$inc]:-} ;;
    esac
    if [ -z "$target" ] || [ ! -f "$target" ]; then
      [ -f "$(dirname "$f")/$inc" ] && target=$(dirname "$f")/$inc
    fi
    if [ -z "$target" ] || [ ! -f "$target" ]; then
      echo "$f:$line: $text (no such header in src/ or include/colorize/)"
      fail=1
      continue
    fi
    to=$(layer_of "$target")
    [ "$to" != "$from" ] && [[ ${uses[$from]:-} != *" $to "* ]] && uses[$from]="${uses[$from]:-} $to "
    [[ $target == include/colorize/* ]] && pub=1 || pub=0
    ok=0
    if [ "$from" = cli ] && [ "$pub" = 1 ]; then
      ok=1
    elif [ "$to" = "$from" ] || [[ " ${allowed[$from]} " == *" $to "* ]]; then
      ok=1
    fi
    # a public header includes only public headers
    [[ $f == include/* && $pub = 0 ]] && ok=0
    if [ "$ok" = 0 ]; then
      why="$from may not include $to"
      [ -z "$to" ] && why="it is in no layer folder: move it into one of src/*/"
      [ "$from" = cli ] && why="the CLI includes public, app and core headers only"
      [[ $f == include/* ]] && why="a public header includes only public headers"
      echo "$f:$line: $text ($why: $target)"
      fail=1
    fi
  done < <(grep -nE '^[[:space:]]*#[[:space:]]*include' "$f" || true)
done
if [ "$graph" = 1 ]; then
  for l in cli app model backend backend/dnnl backend/ref graph data io core; do
    echo "$l -> $(tr -s ' ' '\n' <<<"${uses[$l]:-}" | sort | xargs)"
  done
fi
check_calls() { # BUILD_DIR: the CLI's objects against the library's
  local b=$1 o sym def n=0
  local lib=$b/CMakeFiles/colorize_objects.dir/src
  [ -d "$b/CMakeFiles/colorize_cli.dir/src/cli" ] && [ -d "$lib" ] ||
    { echo "$b: no CLI or library objects (build first)"; fail=1; return; }
  declare -A where=() # symbol -> layer that defines it
  while read -r o; do
    local layer
    layer=$(layer_of "src/${o#"$lib"/}")
    while read -r sym; do where[$sym]=$layer; done < <(nm -g --defined-only "$o" | awk '{print $3}')
  done < <(find "$lib" -name '*.o')
  declare -A pubsym=() # every cz_ name the public headers mention
  while read -r sym; do pubsym[$sym]=1; done < <(grep -ohE '\bcz_[a-z0-9_]+' include/colorize/*.h | sort -u)
  for o in "$b"/CMakeFiles/colorize_cli.dir/src/cli/*.o; do
    while read -r sym; do
      def=${where[$sym]:-}
      [ -z "$def" ] && continue # libc, jansson, ...
      n=$((n + 1))
      case $def in app | core | cli) continue ;; esac
      [ -n "${pubsym[$sym]:-}" ] && continue
      echo "$(basename "${o%.o}"): calls $sym, defined in $def and not public (reach it through app)"
      fail=1
    done < <(nm -u "$o" | awk '{print $2}' | grep '^cz_' || true)
  done
  [ "$n" -gt 0 ] || { echo "$b: the CLI calls no library function (wrong folder?)"; fail=1; }
}
[ -n "$calls" ] && check_calls "$calls"
if [ "$fail" = 0 ]; then
  ((includes)) && echo "check_layers: every include points down the layers"
  [ -n "$calls" ] && echo "check_layers: the CLI calls public, app and core functions only"
fi
exit "$fail"
