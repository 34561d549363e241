#!/usr/bin/env python3
"""Markdown table of the reference trainings (scripts/train_reference.sh).

Reads RUNS_DIR/*/log.jsonl (train min = the epochs' training time summed, so
interrupted and resumed runs count only work done) and test_<decode>.json (written by
`colorize eval --json`) and prints one row per run and decoding rule.
Usage: tools/results_table.py [RUNS_DIR]   (default runs/reference)
"""
import glob
import json
import os
import sys

CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def main():
    runs = sys.argv[1] if len(sys.argv) > 1 else "runs/reference"
    rows = []
    for d in sorted(glob.glob(os.path.join(runs, "*"))):
        log = os.path.join(d, "log.jsonl")
        if not os.path.exists(log):
            continue
        epochs = [json.loads(l) for l in open(log) if l.strip()]
        best = min(epochs, key=lambda e: e["val_chroma_mse"])
        wall = 0
        if os.path.exists(os.path.join(d, "wall_seconds")):
            wall = sum(int(x) for x in open(os.path.join(d, "wall_seconds")).read().split())
        train_s = sum(e["train_seconds"] for e in epochs)
        for t in sorted(glob.glob(os.path.join(d, "test_*.json"))):
            m = json.load(open(t))
            rows.append((os.path.basename(d), len(epochs), best, wall, train_s, m))
    print("| run | epochs | best val (epoch) | test chroma MSE | MSE U | MSE V | PSNR dB | colourfulness pred / true | bin acc U / V | CE | decode | train min |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, n, best, wall, train_s, m in rows:
        acc = f"{m['bin_acc_u']:.3f} / {m['bin_acc_v']:.3f}" if "bin_acc_u" in m else "-"
        ce = f"{m['cross_entropy']:.3f}" if "cross_entropy" in m else "-"
        wall_txt = f"{train_s / 60:.1f}"
        print(f"| {name} | {n} | {best['val_chroma_mse']:.6f} ({best['epoch']}) | **{m['chroma_mse']:.6f}** | "
              f"{m['mse_u']:.6f} | {m['mse_v']:.6f} | {m['psnr_rgb']:.2f} | "
              f"{m['colorfulness_pred']:.1f} / {m['colorfulness_true']:.1f} | {acc} | {ce} | {m['decode']} | {wall_txt} |")
    if rows:
        print("\nPer-class test chroma MSE:\n")
        print("| run | decode | " + " | ".join(CLASSES) + " |")
        print("|---|---|" + "---|" * len(CLASSES))
        for name, _, _, _, _, m in rows:
            print(f"| {name} | {m['decode']} | " + " | ".join(f"{x:.5f}" for x in m["per_class"]) + " |")


if __name__ == "__main__":
    main()
