#!/usr/bin/env python3
"""SVG plots of the trainings, with no plotting library (python3 alone).

  tools/plot_runs.py curves RUNS_DIR OUT.svg   validation chroma MSE per epoch, one line a run
  tools/plot_runs.py bars   RUNS_DIR OUT.svg   test chroma MSE (mean decoding) per run, with
                                               the grey and training-mean baselines of SPEC §2
Reads RUNS_DIR/*/log.jsonl and RUNS_DIR/*/test_mean.json (scripts/train_reference.sh).
"""
import glob
import json
import os
import sys

GREY, TRAIN_MEAN = 0.007916, 0.007557  # SPEC §2, seed-0 test split
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]
W, H, L, R, T, B = 780, 420, 84, 190, 30, 50  # size and margins


def runs(directory):
    for d in sorted(glob.glob(os.path.join(directory, "*"))):
        log = os.path.join(d, "log.jsonl")
        if os.path.exists(log):
            epochs = [json.loads(l) for l in open(log) if l.strip()]
            test = os.path.join(d, "test_mean.json")
            yield os.path.basename(d).replace("_w16", ""), epochs, \
                json.load(open(test)) if os.path.exists(test) else None


def svg(body, title):
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
            f'font-family="sans-serif" font-size="12">\n<rect width="100%" height="100%" fill="white"/>\n'
            f'<text x="{W / 2}" y="18" text-anchor="middle" font-size="14">{title}</text>\n'
            + "".join(body) + "</svg>\n")


def axes(y0, y1, ylabel, xticks):
    """Frame, y grid with labels, x ticks [(value, x, label)]; returns y -> pixel."""
    sy = lambda v: T + (H - T - B) * (y1 - v) / (y1 - y0)  # noqa: E731
    out = [f'<rect x="{L}" y="{T}" width="{W - L - R}" height="{H - T - B}" fill="none" stroke="black"/>\n']
    step = (y1 - y0) / 6
    for k in range(7):
        v = y0 + k * step
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" stroke="#ddd"/>'
                   f'<text x="{L - 6}" y="{sy(v) + 4:.1f}" text-anchor="end">{v:.5f}</text>\n')
    for x, label in xticks:
        out.append(f'<text x="{x:.1f}" y="{H - B + 16}" text-anchor="middle">{label}</text>\n')
    out.append(f'<text x="18" y="{(T + H - B) / 2}" transform="rotate(-90 18 {(T + H - B) / 2})" '
               f'text-anchor="middle">{ylabel}</text>\n')
    return out, sy


def curves(directory, path):
    rs = list(runs(directory))
    if not rs:
        sys.exit(f"{directory}: no runs with a log.jsonl")
    vals = [e["val_chroma_mse"] for _, es, _ in rs for e in es]
    n = max(len(es) for _, es, _ in rs)
    y0, y1 = min(vals) * 0.98, min(max(vals), 0.0075)
    sx = lambda e: L + (W - L - R) * (e - 1) / max(n - 1, 1)  # noqa: E731
    body, sy = axes(y0, y1, "validation chroma MSE", [(sx(e), str(e)) for e in range(1, n + 1)])
    body.append(f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">epoch</text>\n')
    for k, (name, es, _) in enumerate(rs):
        c = COLOURS[k % len(COLOURS)]
        dash = ' stroke-dasharray="5,3"' if "_reg" in name else ""
        pts = " ".join(f"{sx(e['epoch']):.1f},{sy(min(e['val_chroma_mse'], y1)):.1f}" for e in es)
        body.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"{dash}/>\n')
        ly = T + 14 + 18 * k
        body.append(f'<line x1="{W - R + 10}" x2="{W - R + 34}" y1="{ly - 4}" y2="{ly - 4}" stroke="{c}" '
                    f'stroke-width="2"{dash}/><text x="{W - R + 40}" y="{ly}">{name}</text>\n')
    open(path, "w").write(svg(body, "Validation chroma MSE per epoch (solid: cls, mean decoding; dashed: reg)"))


def bars(directory, path):
    rs = sorted(((name, t["chroma_mse"]) for name, _, t in runs(directory) if t), key=lambda r: r[1])
    if not rs:
        sys.exit(f"{directory}: no runs with a test_mean.json")
    y0, y1 = min(v for _, v in rs) * 0.95, GREY * 1.02
    slot = (W - L - R) / len(rs)
    body, sy = axes(y0, y1, "test chroma MSE", [])
    for k, (name, v) in enumerate(rs):
        x = L + slot * k + slot * 0.15
        c = "#2ca02c" if k == 0 else "#1f77b4"
        body.append(f'<rect x="{x:.1f}" y="{sy(v):.1f}" width="{slot * 0.7:.1f}" height="{H - B - sy(v):.1f}" '
                    f'fill="{c}"/><text x="{x + slot * 0.35:.1f}" y="{sy(v) - 4:.1f}" text-anchor="middle" '
                    f'font-size="10">{v:.6f}</text>\n')
        body.append(f'<text x="{x + slot * 0.35:.1f}" y="{H - B + 14}" text-anchor="middle" '
                    f'font-size="{10 if len(rs) > 8 else 11}">{name.replace("_strided", "_s")}</text>\n')
    for v, label in ((GREY, "grey (U = V = 0)"), (TRAIN_MEAN, "training-mean chroma")):
        body.append(f'<line x1="{L}" x2="{W - R}" y1="{sy(v):.1f}" y2="{sy(v):.1f}" stroke="#d62728" '
                    f'stroke-dasharray="6,3"/><text x="{W - R + 6}" y="{sy(v) + 4:.1f}">{label}</text>\n')
    open(path, "w").write(svg(body, "Test chroma MSE, seed-0 split (cls: mean decoding); lower is better"))


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("curves", "bars"):
        sys.exit(__doc__)
    (curves if sys.argv[1] == "curves" else bars)(sys.argv[2], sys.argv[3])


if __name__ == "__main__":
    main()
