#!/usr/bin/env bash
# colorize binaries side by side on the 16 bench configurations (4 networks
# x 2 heads x widths 16 and 32, batch 128): for each configuration the
# commands are run in turn REPS times (a, b, c, a, b, c, ...) so that a
# change in the machine's load hits all alike; the table gives each one's
# median train and inference img/s and its ratios to the first.
# Usage: bench/versus.sh [-r REPS] [-s STEPS] [-t THREADS] CMD CMD [CMD...]
#   CMD   LABEL=BINARY [bench options], e.g. "old=/tmp/old/colorize"
#         "new8=build/colorize --channel-block 8"; a bare BINARY is labelled
#         by its position (a, b, ...)
# Defaults: 3 reps, 8 steps, 2 threads. Raw JSON lines go to bench/versus.jsonl.
# Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
reps=3 steps=8 threads=2
while getopts r:s:t: o; do
  case $o in
  r) reps=$OPTARG ;; s) steps=$OPTARG ;; t) threads=$OPTARG ;;
  *) sed -n '2,12p' "$0"; exit 2 ;;
  esac
done
shift $((OPTIND - 1))
[ $# -ge 2 ] || { sed -n '2,12p' "$0"; exit 2; }
# The CPU as the first command's binary names it in its results.
first=${1%% *}
BENCH_CPU=$("${first#*=}" bench --cpu) exec /usr/bin/python3 - "$reps" "$steps" "$threads" "$@" <<'EOF'
import json, os, shlex, statistics, subprocess, sys

reps, steps, threads = (int(v) for v in sys.argv[1:4])
cmds = []
for i, spec in enumerate(sys.argv[4:]):
    label, _, rest = spec.partition("=") if "=" in spec.split()[0] else (chr(97 + i), "", spec)
    argv = shlex.split(rest)
    try:
        subprocess.run(argv[:1] + ["--help"], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        sys.exit(f"versus.sh: {label}: cannot run {argv[0]}: {e}")
    cmds.append((label, argv))

cpu = os.environ["BENCH_CPU"]
print(f"CPU: {cpu}; {reps} reps of {steps} steps, {threads} threads, batch 128")
head = ["network", "head", "w"]
for label, _ in cmds:
    head += [f"{label} train"] + ([f"/{cmds[0][0]}"] if label != cmds[0][0] else [])
for label, _ in cmds:
    head += [f"{label} infer"] + ([f"/{cmds[0][0]}"] if label != cmds[0][0] else [])
print("| " + " | ".join(head) + " |")
print("|" + "---|" * len(head))
with open("bench/versus.jsonl", "w") as raw:
    for w in (16, 32):
        for arch in ("vgg", "unet", "resnet", "resunet"):
            for hd in ("reg", "cls"):
                got = {label: ([], []) for label, _ in cmds}
                for _ in range(reps):
                    for label, argv in cmds:
                        out = subprocess.run(argv[:1] + ["bench"] + argv[1:] + ["--arch", arch, "--head", hd, "--width", str(w),
                                                     "--batch", "128", "--threads", str(threads), "--steps",
                                                     str(steps), "--warmup", "2", "--json"],
                                             check=True, capture_output=True, text=True).stdout
                        j = json.loads(out)
                        raw.write(json.dumps({"binary": label, "command": argv, "result": j}) + "\n")
                        raw.flush()
                        got[label][0].append(j["train_img_s"])
                        got[label][1].append(j["infer_img_s"])
                med = {label: [statistics.median(v) for v in got[label]] for label in got}
                base = med[cmds[0][0]]
                row = [arch, hd, str(w)]
                for k in (0, 1):
                    for label, _ in cmds:
                        row.append(f"{med[label][k]:.1f}")
                        if label != cmds[0][0]:
                            row.append(f"{med[label][k] / base[k]:.3f}")
                print("| " + " | ".join(row) + " |", flush=True)
EOF
