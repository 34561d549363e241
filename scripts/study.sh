#!/usr/bin/env bash
# The study as a long background job, from a pinned build of one commit.
#
#   scripts/study.sh start [COMMIT]   build COMMIT (default HEAD) in its own tree and
#                                     run the plan in the background (resumes)
#   scripts/study.sh stop             SIGTERM: every training saves its state
#   scripts/study.sh status           done / running / to do, with an ETA
#   scripts/study.sh publish          copy the summary, logs and test JSONs (no
#                                     model files) into docs/study/ and redo the report
#
# Environment: STUDY_PLAN (studies/seed.json), STUDY_DIR (runs outside the
# checkout, so a fresh clone resumes them: /var/tmp/colorize-study), STUDY_SRC
# (the pinned tree: /var/tmp/colorize-study-src), STUDY_PUB (docs/study) and
# STUDY_DOC (docs/STUDY.md) for publish, COLORIZE_DATA, STUDY_JOBS,
# STUDY_THREADS (threads in all, split between the jobs), STUDY_TIME_LIMIT
# (minutes: start no run expected to end later, for a machine that stops at a
# known time), STUDY_ONLY (run names to run, as in --only). Two plans can run
# at once with their own STUDY_DIR and STUDY_SRC, which default to the plan's
# name (STUDY_PLAN=studies/updates.json scripts/study.sh start); the new
# model's ablation predates that and names its folders:
#   STUDY_PLAN=studies/new_model.json STUDY_DIR=/var/tmp/colorize-new-model \
#   STUDY_SRC=/var/tmp/colorize-new-model-src STUDY_PUB=docs/new_model \
#   STUDY_DOC=docs/NEW_MODEL_ABLATION.md scripts/study.sh start
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
plan=${STUDY_PLAN:-studies/seed.json}
# Another plan's folders default to its name: studies/updates.json runs in
# /var/tmp/colorize-updates and publishes into docs/updates and docs/UPDATES.md.
name=$(basename "$plan" .json)
[ "$name" = seed ] && stem=study || stem=$name
dir=${STUDY_DIR:-/var/tmp/colorize-$stem}
src=${STUDY_SRC:-/var/tmp/colorize-$stem-src}
data=${COLORIZE_DATA:-$repo/data/cifar-10-batches-bin}
pub=${STUDY_PUB:-docs/$stem}
doc=${STUDY_DOC:-docs/$(tr '[:lower:]' '[:upper:]' <<<"$stem").md}
bin=$src/build/colorize

seed_from_docs() {
  # A new machine: the committed results count as done, so nothing reruns.
  # Only runs of this plan (a wrong STUDY_PUB must not import another's).
  mkdir -p "$dir/runs"
  if [ -f "$pub/summary.jsonl" ]; then
    touch "$dir/summary.jsonl"
    names=$("$bin" study list "$src/$plan" --json | python3 -c 'import json,sys; [print(json.loads(l)["name"]) for l in sys.stdin]')
    while IFS= read -r line; do
      name=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["name"])' "$line")
      grep -qxF "$name" <<<"$names" || continue
      grep -q "\"name\":\"$name\"" "$dir/summary.jsonl" || printf '%s\n' "$line" >>"$dir/summary.jsonl"
      if [ -d "$pub/runs/$name" ] && [ ! -d "$dir/runs/$name" ]; then cp -r "$pub/runs/$name" "$dir/runs/"; fi
    done <"$pub/summary.jsonl"
  fi
}

case "${1:-}" in
start)
  commit=$(git rev-parse "${2:-HEAD}")
  if pgrep -f "colorize study run $src/$plan" >/dev/null; then echo "study: $plan already running"; exit 1; fi
  [ -d "$data" ] || { echo "study: no CIFAR-10 at $data (run: build/colorize data fetch)"; exit 1; }
  # A fresh pinned tree each start: the checkout it came from may be a new clone.
  rm -rf "$src"
  git worktree prune
  git worktree add -q --detach "$src" "$commit"
  cmake -S "$src" -B "$src/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$src/build" -j "$(nproc)" --target colorize_cli >/dev/null
  seed_from_docs
  echo "study: commit $commit, plan $plan, runs in $dir; log $dir/study.log"
  setsid nohup nice -n 10 "$bin" study run "$src/$plan" --out "$dir" --data "$data" \
    ${STUDY_JOBS:+--jobs $STUDY_JOBS} ${STUDY_THREADS:+--threads $STUDY_THREADS} \
    ${STUDY_TIME_LIMIT:+--time-limit $STUDY_TIME_LIMIT} ${STUDY_ONLY:+--only "$STUDY_ONLY"} \
    >>"$dir/study.log" 2>&1 </dev/null &
  ;;
stop)
  pkill -TERM -f "colorize study run $src/$plan" && echo "study: stopping $plan (states are saved)" ||
    echo "study: $plan not running"
  ;;
status)
  "$bin" study status "$src/$plan" --out "$dir"
  ;;
publish)
  mkdir -p "$pub/runs"
  # This plan's lines, after the published lines of other plans (issue 11's
  # final runs are appended to the study's summary and must stay there).
  python3 - "$pub/summary.jsonl" "$dir/summary.jsonl" <<'PY'
import json, os, sys
pub, mine = sys.argv[1], [l for l in open(sys.argv[2]) if l.strip()]
names = {json.loads(l)["name"] for l in mine}
keep = [l for l in open(pub) if l.strip() and json.loads(l)["name"] not in names] if os.path.exists(pub) else []
with open(pub + ".tmp", "w") as f:
    f.writelines(keep + mine)
os.replace(pub + ".tmp", pub)
PY
  for d in "$dir"/runs/*/; do
    name=$(basename "$d")
    grep -q "\"name\":\"$name\"" "$dir/summary.jsonl" || continue
    mkdir -p "$pub/runs/$name"
    for f in log.jsonl run.json test_mean.json test_annealed.json test_mode.json; do
      [ -f "$d/$f" ] && cp "$d/$f" "$pub/runs/$name/"
    done
  done
  # The report comes from this checkout's tools and build, not the pinned one.
  rbin=$repo/build/colorize
  [ -x "$rbin" ] || rbin=$bin
  COLORIZE_TOOLS=$repo/tools "$rbin" study report "$plan" --out "$pub" --doc "$doc" --img "$pub/img"
  # The summary may also hold other plans' lines (the new model's final
  # runs): count this plan's.
  counts=$("$rbin" study status "$plan" --out "$pub" | grep -E '^[0-9]+ runs:' || true)
  echo "study: published into $pub and $doc: ${counts:-$(wc -l <"$pub/summary.jsonl") summary line(s)}"
  ;;
*)
  sed -n '2,20p' "$0"
  exit 2
  ;;
esac
