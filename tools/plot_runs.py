#!/usr/bin/env python3
"""Plots of the reference trainings, drawn with matplotlib (Debian's python3-matplotlib).

  tools/plot_runs.py curves RUNS OUT.png   validation chroma MSE per epoch, one line a run
  tools/plot_runs.py bars   RUNS OUT.png   test chroma MSE (mean decoding) per run, with
                                           the grey and training-mean baselines of SPEC §2
RUNS is a folder of run folders (RUNS/NAME/log.jsonl, RUNS/NAME/test_mean.json, as
scripts/train_reference.sh writes them) or of flat copies (RUNS/NAME.log.jsonl,
RUNS/NAME.test_mean.json, as in docs/runs/).
"""
import glob
import json
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

GREY, TRAIN_MEAN = 0.007916, 0.007557  # SPEC §2, seed-0 test split


def load(path):
    return json.load(open(path)) if os.path.exists(path) else None


def runs(directory):
    found = []
    for log in sorted(glob.glob(os.path.join(directory, "*", "log.jsonl"))):
        d = os.path.dirname(log)
        found.append((os.path.basename(d), log, os.path.join(d, "test_mean.json")))
    for log in sorted(glob.glob(os.path.join(directory, "*.log.jsonl"))):
        name = os.path.basename(log)[: -len(".log.jsonl")]
        found.append((name, log, os.path.join(directory, name + ".test_mean.json")))
    for name, log, test in found:
        epochs = [json.loads(l) for l in open(log) if l.strip()]
        yield name.replace("_w16", ""), epochs, load(test)


def curves(directory, out):
    fig, ax = plt.subplots(figsize=(8, 4.4))
    for name, epochs, _ in runs(directory):
        ax.plot([e["epoch"] for e in epochs], [e["val_chroma_mse"] for e in epochs], marker=".", label=name)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation chroma MSE")
    ax.set_title("Validation chroma MSE per epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(out, dpi=110)


def bars(directory, out):
    rows = [(name, test["chroma_mse"]) for name, _, test in runs(directory) if test]
    rows.sort(key=lambda r: r[1])
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.4))
    ax.barh([r[0] for r in rows], [r[1] for r in rows], color="#1f77b4")
    for i, (_, v) in enumerate(rows):
        ax.text(v, i, f" {v:.6f}", va="center", fontsize=7)
    ax.axvline(GREY, color="grey", ls="--", label=f"grey {GREY}")
    ax.axvline(TRAIN_MEAN, color="#d62728", ls=":", label=f"training mean {TRAIN_MEAN}")
    ax.set_xlim(0.005, 0.0082)
    ax.invert_yaxis()
    ax.set_xlabel("test chroma MSE (mean decoding)")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in ("curves", "bars"):
        sys.exit(__doc__)
    (curves if sys.argv[1] == "curves" else bars)(sys.argv[2], sys.argv[3])
