#!/usr/bin/env bash
# colorize study end to end. `test_study.sh plans`: bad plans are refused
# (exit 2, naming the key) and shards cover every run exactly once.
# `test_study.sh run`: a tiny plan killed with SIGKILL mid-run resumes to one
# summary line per run and a written report.
set -uo pipefail
bin=${COLORIZE_BIN:?}
src=${COLORIZE_SOURCE_DIR:?}
plans=$src/tests/study
fails=0 passes=0
ok() { passes=$((passes + 1)); }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d)
trap 'pkill -9 -f "study run $plans/tiny.json --out $tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

part=${1:-all}
if [ "$part" != run ]; then
# 1. Refusals: exit 2, before anything runs, with the key and the reason.
check_refusal() { # plan expected-text
  out=$("$bin" study run "$plans/$1" --out "$tmp/refused" 2>&1); rc=$?
  if [ $rc -ne 2 ]; then bad "$1: exit $rc, expected 2 ($out)"; return; fi
  if ! grep -qF -- "$2" <<<"$out"; then bad "$1: message lacks '$2': $out"; return; fi
  [ -e "$tmp/refused" ] && { bad "$1: created the study folder"; return; }
  ok
}
check_refusal bad_unknown_option.json "base.colour: unknown option 'colour'"
check_refusal bad_value.json "unknown augmentation 'sideways'"
check_refusal bad_value.json "sweeps[0].values[0]"
check_refusal bad_type.json "base.width: expects a whole number"
check_refusal bad_duplicate_name.json "extra[1]: duplicate run name 'mine'"
check_refusal bad_unknown_key.json "sweep: unknown plan key"
check_refusal bad_runner_option.json "base.threads: 'threads' is set by"
check_refusal bad_range.json "--epochs 0 is out of range"
check_refusal bad_duplicate_key.json "duplicate object key"
check_refusal bad_test_value.json "test: expects true"
check_refusal bad_tags.json "tags: expects a list of strings"
check_refusal bad_compare_empty.json "compare[0]: 'no-such-run-*' selects no run of the plan"
check_refusal bad_compare_overlap.json "compare[0]: a run is on both sides"
# Plan-wide tags reach every run: the final comparison's lines say "final".
final=$("$bin" study list "$src/studies/final.json" --json)
[ "$(wc -l <<<"$final")" -eq 12 ] && [ "$(grep -c '"tags":\[[^]]*"final"' <<<"$final")" -eq 12 ] && ok ||
  bad "studies/final.json: 12 runs tagged final expected: $final"

# 2. Shards: for N = 1..5 the K/N slices of the seed plan cover every run once.
all=$("$bin" study list "$src/studies/seed.json" --json | sort)
n_all=$(wc -l <<<"$all")
[ "$n_all" -ge 40 ] && ok || bad "seed plan lists $n_all runs"
[ "$(wc -l < <(sort -u <<<"$all"))" -eq "$n_all" ] && ok || bad "seed plan has repeated runs"
for n in 1 2 3 4 5; do
  union=$(for k in $(seq 1 $n); do "$bin" study list "$src/studies/seed.json" --json --shard $k/$n; done | sort)
  [ "$union" = "$all" ] && ok || bad "shards of $n do not cover the plan exactly once"
done
# --only: the runs whose names match a pattern, and no others.
only=$("$bin" study list "$src/studies/seed.json" --json --only 'vgg-*,*-w32-*' |
  python3 -c 'import json,sys; [print(json.loads(l)["name"]) for l in sys.stdin]')
want=$(python3 -c 'import json,sys; [print(n) for n in (json.loads(l)["name"] for l in sys.stdin)
  if n.startswith("vgg-") or "-w32-" in n]' <<<"$all")
[ -n "$only" ] && [ "$(sort <<<"$only")" = "$(sort <<<"$want")" ] && ok || bad "--only selected: $only"
[ -z "$("$bin" study list "$src/studies/seed.json" --only 'nothing-like-this')" ] && ok ||
  bad "--only matched nothing"
# A run named as the plan names it, without the configuration hash.
bare=$("$bin" study list "$src/studies/seed.json" --json --only 'vgg-cls-w16-s1' |
  python3 -c 'import json,sys; print(" ".join(json.loads(l)["name"] for l in sys.stdin))')
[[ "$bare" =~ ^vgg-cls-w16-s1-[0-9a-f]{8}$ ]] && ok || bad "--only without the hash selected: $bare"
"$bin" study list "$src/studies/seed.json" --shard 3/2 >/dev/null 2>&1
[ $? -eq 2 ] && ok || bad "--shard 3/2 accepted"

fi
if [ "$part" != plans ]; then
# 3. A tiny plan, killed with SIGKILL in the middle of a run, then resumed.
# The data: 600 CIFAR-format records of smooth coloured patterns, made here.
python3 - "$tmp/tiny.bin" <<'PY'
import math, random, sys
rnd = random.Random(7)
with open(sys.argv[1], "wb") as f:
    for n in range(600):
        label = n % 10
        a, b, c = (rnd.uniform(0, 6.3) for _ in range(3))
        px = bytearray([label])
        for ch in range(3):
            for y in range(32):
                for x in range(32):
                    v = 0.5 + 0.45 * math.sin(a + ch * b + 0.2 * x * math.cos(c) + 0.2 * y * math.sin(c))
                    px.append(int(255 * v))
        f.write(px)
PY
out=$tmp/study
run() { "$bin" study run "$plans/tiny.json" --out "$out" --data "$tmp/tiny.bin" --eval-limit 100 "$@"; }
"$bin" study run "$plans/tiny.json" --out "$out" --data "$tmp/tiny.bin" --eval-limit 100 --jobs 2 --threads 2 \
  >"$tmp/log1" 2>&1 &
runner=$!
for _ in $(seq 1 600); do # until a run has finished its first epoch, at most 60 s
  compgen -G "$out/runs/*/log.jsonl" >/dev/null && break
  sleep 0.1
done
kill -9 $runner; wait $runner 2>/dev/null
sleep 0.5
if pgrep -af "train .*--out $out/runs" >&2; then bad "trainings outlived the killed runner"; fi
lines_before=$(cat "$out/summary.jsonl" 2>/dev/null | wc -l)
[ "$lines_before" -lt 3 ] && ok || bad "the kill came too late to test a resume ($lines_before lines)"
run --jobs 2 --threads 2 >"$tmp/log2" 2>&1
rc=$?
[ $rc -eq 0 ] && ok || { bad "resumed run exit $rc"; cat "$tmp/log2"; }
names=$(python3 -c 'import json,sys; [print(json.loads(l)["name"]) for l in open(sys.argv[1])]' "$out/summary.jsonl")
[ "$(wc -l <<<"$names")" -eq 3 ] && [ "$(sort -u <<<"$names" | wc -l)" -eq 3 ] && ok ||
  bad "summary.jsonl should hold each of 3 runs once: $names"
grep -q '"test_chroma_mse"' "$out/summary.jsonl" && grep -q '"test_mode_chroma_mse"' "$out/summary.jsonl" && ok ||
  bad "summary lines lack test metrics"
# Each run records its commit and the CPU its minutes came from.
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); sys.exit(not (r["cpu"] and r["commit"]))' \
  "$(compgen -G "$out/runs/*/run.json" | head -n 1)" && ok || bad "run.json lacks cpu or commit"
# A run stopped and resumed lists both starts, with the commit of each.
python3 - "$out"/runs/*/run.json <<'PY' && ok || bad "run.json does not list every start of a resumed run"
import json, sys
starts = [json.load(open(p))["starts"] for p in sys.argv[1:]]
sys.exit(not (all(s and all(x["commit"] and x["cpu"] for x in s) for s in starts) and max(map(len, starts)) == 2))
PY
# Done means done: a third start trains nothing.
run >"$tmp/log3" 2>&1
grep -q "3 done, 0 to run" "$tmp/log3" && ok || bad "a finished study started again: $(cat "$tmp/log3")"
# --time-limit: with one run left and less time than finished runs took,
# nothing starts and the summary is untouched.
cp -r "$out" "$tmp/limited"
head -n 2 "$out/summary.jsonl" >"$tmp/limited/summary.jsonl"
"$bin" study run "$plans/tiny.json" --out "$tmp/limited" --data "$tmp/tiny.bin" --eval-limit 100 \
  --time-limit 0.001 >"$tmp/log_limit" 2>&1
rc=$?
[ $rc -eq 0 ] && grep -q "not starting" "$tmp/log_limit" && grep -q "1 run(s) not started" "$tmp/log_limit" &&
  [ "$(wc -l <"$tmp/limited/summary.jsonl")" -eq 2 ] && ok ||
  bad "--time-limit: exit $rc, $(cat "$tmp/log_limit")"
# A restart finishes what it started first: with the first run's folder gone
# and the last run's summary line dropped (its state stays), one job and one
# run, the runner takes the last run, not the first in plan order.
cp -r "$out" "$tmp/order"
first=$(head -n 1 <<<"$("$bin" study list "$plans/tiny.json" --json)" | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
last=$(tail -n 1 <<<"$("$bin" study list "$plans/tiny.json" --json)" | python3 -c 'import json,sys; print(json.load(sys.stdin)["name"])')
rm -rf "$tmp/order/runs/$first"
grep -v -e "\"name\":\"$first\"" -e "\"name\":\"$last\"" "$out/summary.jsonl" >"$tmp/order/summary.jsonl"
"$bin" study run "$plans/tiny.json" --out "$tmp/order" --data "$tmp/tiny.bin" --eval-limit 100 --jobs 1 --threads 1 \
  --max-runs 1 >"$tmp/log_order" 2>&1
grep -q "started $last" "$tmp/log_order" && ! grep -q "started $first" "$tmp/log_order" &&
  grep -q "\"name\":\"$last\"" "$tmp/order/summary.jsonl" && ok ||
  bad "a run with a saved state did not go first: $(cat "$tmp/log_order")"
st=$("$bin" study status "$plans/tiny.json" --out "$out")
grep -q "3 done, 0 diverged, 0 running, 0 paused, 0 to do" <<<"$st" && ok || bad "status: $st"
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  "$bin" study report "$plans/tiny.json" --out "$out" --doc "$tmp/doc/STUDY.md" >/dev/null 2>&1 &&
    grep -q "## Learning rate" "$tmp/doc/STUDY.md" && [ -s "$out/img/lr_test_mse.png" ] &&
    grep -q "^| network | value | test chroma MSE | vs base | best val chroma MSE | val vs base |" "$tmp/doc/STUDY.md" &&
    grep -q "^## At a glance" "$tmp/doc/STUDY.md" && [ -s "$out/img/overview_val_sd.png" ] && ok ||
    bad "report not written"
else
  echo "note: python3-matplotlib missing, report not checked"
fi
# 4. A validation-only plan ("test": false): trained and summarised, never
# evaluated on the test split.
vout=$tmp/study_val
"$bin" study run "$plans/tiny_val.json" --out "$vout" --data "$tmp/tiny.bin" --jobs 2 --threads 2 >"$tmp/log4" 2>&1 &&
  [ "$(wc -l <"$vout/summary.jsonl")" -eq 5 ] && grep -q '"best_val_chroma_mse"' "$vout/summary.jsonl" &&
  ! grep -q '"test_' "$vout/summary.jsonl" && ! compgen -G "$vout/runs/*/test_*.json" >/dev/null &&
  "$bin" study status "$plans/tiny_val.json" --out "$vout" | grep -Eq '^done .* 0\.[0-9]{6} +-$' &&
  ! "$bin" study status "$plans/tiny_val.json" --out "$vout" | grep -q ' 0\.000000$' && ok ||
  bad "validation-only plan: $(cat "$tmp/log4" "$vout/summary.jsonl" 2>&1)"
# An import whose files are missing fails and is counted once: the run
# beside it ends the runner with "0 to go", not -1.
"$bin" study run "$plans/tiny_import.json" --out "$tmp/import" --data "$tmp/tiny.bin" --jobs 1 --threads 1 \
  >"$tmp/log_import" 2>&1
grep -q "cannot import" "$tmp/log_import" && grep -q "finished a-.*; 0 to go" "$tmp/log_import" &&
  ! grep -q -- "-1 to go" "$tmp/log_import" && ok || bad "import failure miscounted: $(cat "$tmp/log_import")"
if /usr/bin/python3 -c 'import matplotlib' 2>/dev/null; then
  "$bin" study report "$plans/tiny_val.json" --out "$vout" --doc "$tmp/docv/STUDY.md" >/dev/null 2>&1 &&
    grep -q "best validation chroma MSE" "$tmp/docv/STUDY.md" &&
    [ -s "$vout/img/lr_val_mse.png" ] &&
    grep -q "^## Single runs" "$tmp/docv/STUDY.md" && grep -q "^| unet-a | pair |" "$tmp/docv/STUDY.md" &&
    grep -q "^| \*\*seeds 1, 2\*\* |.*(n=2)" "$tmp/docv/STUDY.md" &&
    grep -q "^## Classification against regression" "$tmp/docv/STUDY.md" &&
    grep -q "^| vgg | vgg-reg | 0\.[0-9]* | 0\.[0-9]* | [+-]" "$tmp/docv/STUDY.md" &&
    [ -s "$vout/img/heads_val_mse.png" ] &&
    grep -q "^## Comparisons" "$tmp/docv/STUDY.md" &&
    grep -Eq "^\| unet against vgg \| 2 of 2 \| 0\.[0-9]{6} ± 0\.[0-9]{6} \| 2 of 2 \| .* \| [+-][0-9.]+ \([0-9.]+\) \|$" \
      "$tmp/docv/STUDY.md" && [ -s "$vout/img/compare_val_mse.png" ] && ok ||
    bad "validation-only report not written: $(cat "$tmp/docv/STUDY.md")"
fi
fi
echo "test_study $part: $passes passed, $fails failed"
[ $fails -eq 0 ]
