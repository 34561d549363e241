#!/usr/bin/env python3
"""Write a study's Markdown report and its plots (matplotlib).

Called by `colorize study report`, which passes the plan's runs with their
summary lines as one JSON file:

    python3 tools/study_report.py --input RUNS.json --doc docs/STUDY.md --img docs/study/img

A section per factor: a table (test chroma MSE, mean +- sd where seeds exist,
best validation epoch, colourfulness against the truth's, train minutes) and
two plots (test MSE against the factor's value per network; validation
curves). A plan's `compare` entries get a table of group means, sds and
Welch's t. Findings written by hand are read from findings.md beside the
summary (the study folder) and placed after the tables they discuss.
"""
import argparse
import json
import math
import os
import statistics
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

FACTOR_TITLES = {
    "seed": "Seeds of the base recipe (the noise)",
    "lr": "Learning rate",
    "schedule": "Learning-rate schedule",
    "aug": "Augmentation",
    "batch": "Batch size (learning rate kept)",
    "width": "Width",
    "long": "30 epochs with the cosine schedule",
}


# What the tables and plots read: the test split's chroma MSE, or in a
# validation-only plan ("test": false) the best validation chroma MSE.
METRIC = {"key": "test_chroma_mse", "name": "test chroma MSE", "colour": "test_colorfulness", "short": "test"}


def fmt(x, digits=6):
    return "–" if x is None else f"{x:.{digits}f}"


def mean_sd(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None, None
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else None)


def cell_key(run):
    c = run["config"]
    return (c.get("arch"), c.get("head"))


def read_log(out, name):
    path = os.path.join(out, "runs", name, "log.jsonl")
    rows = []
    try:
        with open(path) as f:
            for line in f:
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    except OSError:
        pass
    return rows


def base_runs(runs, arch, head):
    """Base recipe runs of one network/head, every seed."""
    return [r for r in runs if cell_key(r) == (arch, head) and r["factor"] in ("base", "seed")]


def summary_of(run):
    s = run.get("summary")
    return s if s and s.get("status") == "done" else None


def stat_row(rs):
    """Mean +- sd of the finished runs' test MSE, and their other columns."""
    done = [summary_of(r) for r in rs if summary_of(r)]
    m, sd = mean_sd([s.get(METRIC["key"]) for s in done])
    vm, vsd = mean_sd([s.get("best_val_chroma_mse") for s in done])
    epochs = [s.get("best_epoch") for s in done]
    colour = mean_sd([s.get(METRIC["colour"] + "_pred") for s in done])[0]
    truth = mean_sd([s.get(METRIC["colour"] + "_true") for s in done])[0]
    minutes = mean_sd([s.get("train_seconds", 0) / 60 for s in done])[0]
    diverged = any((r.get("summary") or {}).get("status") == "diverged" for r in rs)
    return {"n": len(done), "of": len(rs), "mean": m, "sd": sd, "val": vm, "val_sd": vsd, "epochs": epochs,
            "colour": colour, "truth": truth, "minutes": minutes, "diverged": diverged}


def mse_text(st):
    if st["diverged"] and st["n"] == 0:
        return "diverged"
    if st["n"] == 0:
        return "not run yet"
    if st["sd"] is not None:
        return f"{st['mean']:.6f} ± {st['sd']:.6f} (n={st['n']})"
    return f"{st['mean']:.6f}"


def factor_values(runs, factor):
    vals = []
    for r in runs:
        if r["factor"] == factor and r["value"] not in vals:
            vals.append(r["value"])
    return vals


def base_value(runs, factor):
    """The base recipe's value of a one-option factor (None for objects)."""
    for r in runs:
        if r["factor"] == factor:
            opt = None
            if r["value"].startswith("{"):
                return "base recipe"
            for k, v in r["config"].items():
                if fmt_value(v) == r["value"]:
                    opt = k
            for b in runs:
                if b["factor"] == "base" and opt and opt in b["config"]:
                    return fmt_value(b["config"][opt])
    return "base"


def fmt_value(v):
    if isinstance(v, bool):
        return "on" if v else "off"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def show_value(v):
    """A factor's value as a reader wants it: several options as "epochs 30,
    schedule cosine" rather than their JSON."""
    if isinstance(v, str) and v.startswith("{"):
        try:
            obj = json.loads(v)
        except json.JSONDecodeError:
            return v
        return ", ".join(f"{k} {fmt_value(x)}" for k, x in obj.items())
    return v


def numeric(vals):
    try:
        return [float(v) for v in vals]
    except ValueError:
        return None


def save_plot(fig, img_dir, filename):
    """Lay out, write and close a figure; its path."""
    fig.tight_layout()
    path = os.path.join(img_dir, filename)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_factor(factor, rows, img_dir, runs, out, bval=None):
    """Test MSE against the value, one line per network/head; validation curves."""
    files = []
    cells = sorted({(a, h) for (a, h, _, _) in rows})
    if numeric([v for (_, _, v, _) in rows]) is None:
        return [bar_plot(factor, rows, img_dir, bval)] + curve_plot(factor, cells, img_dir, runs, out)
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for arch, head in cells:
        pts = [(v, st) for (a, h, v, st) in rows if (a, h) == (arch, head) and st["mean"] is not None]
        if not pts:
            continue
        xs_text = [v for v, _ in pts]
        xs = numeric(xs_text)
        order = sorted(range(len(pts)), key=lambda i: xs[i]) if xs else range(len(pts))
        x = [xs[i] if xs else xs_text[i] for i in order]
        y = [pts[i][1]["mean"] for i in order]
        e = [pts[i][1]["sd"] or 0 for i in order]
        ax.errorbar(x, y, yerr=e, marker="o", capsize=3, label=f"{arch}/{head}")
        if xs and factor in ("lr", "batch"):
            ax.set_xscale("log")
    ax.set_xlabel(factor)
    ax.set_ylabel(METRIC["name"])
    ax.set_title(FACTOR_TITLES.get(factor, factor))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    path = save_plot(fig, img_dir, f"{factor}_{METRIC['short']}_mse.png")
    files.append(path)
    return files + curve_plot(factor, cells, img_dir, runs, out)


def bar_plot(factor, rows, img_dir, bval):
    """Values that are not numbers (augmentations, schedules, ablations):
    one bar per network and value, the bases hatched."""
    done = [(a, h, v, st) for (a, h, v, st) in rows if st["mean"] is not None]
    fig, ax = plt.subplots(figsize=(7.0, 0.9 + 0.32 * max(len(done), 1)))
    labels = [f"{a}/{h}: {show_value(v)}" for (a, h, v, _) in done]
    means = [st["mean"] for (_, _, _, st) in done]
    errs = [st["sd"] or 0 for (_, _, _, st) in done]
    bars = ax.barh(range(len(done)), means, xerr=errs, capsize=3, color="tab:blue")
    for bar, (_, _, v, _) in zip(bars, done):
        if v == bval:
            bar.set_color("tab:grey")
    ax.set_yticks(range(len(done)))
    ax.set_yticklabels(labels, fontsize=7)
    ax.invert_yaxis()
    if means:
        lo, hi = min(m - e for m, e in zip(means, errs)), max(m + e for m, e in zip(means, errs))
        pad = (hi - lo) * 0.15 or hi * 0.01
        ax.set_xlim(lo - pad, hi + pad)
    ax.set_xlabel(METRIC["name"] + " (grey: the base recipe)")
    ax.set_title(FACTOR_TITLES.get(factor, factor))
    ax.grid(alpha=0.3, axis="x")
    path = save_plot(fig, img_dir, f"{factor}_{METRIC['short']}_mse.png")
    return path


def curve_plot(factor, cells, img_dir, runs, out):
    """Validation curves of the factor's runs and their bases."""
    files = []
    fig, ax = plt.subplots(figsize=(6.4, 3.6))
    for r in runs:
        if r["factor"] != factor and not (r["factor"] == "base" and factor != "seed"):
            continue
        if r["factor"] == "base" and cell_key(r) not in cells:
            continue
        log = read_log(out, r["name"])
        if not log:
            continue
        label = f"{r['config'].get('arch')}/{r['config'].get('head')} {show_value(r['value']) or 'base'}"
        ax.plot([l["epoch"] for l in log], [l["val_chroma_mse"] for l in log], marker=".", label=label)
    ax.set_xlabel("epoch")
    ax.set_ylabel("validation chroma MSE")
    ax.set_title(f"Validation curves: {FACTOR_TITLES.get(factor, factor)}")
    ax.grid(alpha=0.3)
    if ax.lines:
        ax.legend(fontsize=6, ncol=2)
    path = save_plot(fig, img_dir, f"{factor}_val_curves.png")
    files.append(path)
    return files


def delta_text(x, base_mean, base_sd):
    """A value against its base: percent, and seed sds where the base has them."""
    if x is None or not base_mean:
        return "–"
    text = f"{(x / base_mean - 1) * 100:+.1f} %"
    if base_sd:
        text += f" ({(x - base_mean) / base_sd:+.1f} sd)"
    return text


def with_val():
    """Test plans show the validation figure beside the test one: the
    findings choose on validation."""
    return METRIC["key"] != "best_val_chroma_mse"


def row_cells(st, base=None):
    """The MSE, vs-base, (validation,) epoch, colourfulness and minutes cells of a row."""
    delta = "–" if base is None else delta_text(st["mean"], base["mean"], base["sd"])
    colour = "–" if st["colour"] is None else f"{st['colour']:.1f} ({st['truth']:.1f})"
    epochs = ", ".join(str(e) for e in st["epochs"]) or "–"
    minutes = "–" if st["minutes"] is None else f"{st['minutes']:.1f}"
    cells = [mse_text(st), delta]
    if with_val():
        val = "–" if st["val"] is None else fmt(st["val"]) + (f" ± {st['val_sd']:.6f}" if st["val_sd"] else "")
        cells += [val, "–" if base is None else delta_text(st["val"], base["val"], base["val_sd"])]
    return cells + [epochs, colour, minutes]


def row_text(arch, head, value, st, base=None):
    return "| " + " | ".join([f"{arch}/{head}", value] + row_cells(st, base)) + " |"


def header_cells():
    cells = [METRIC["name"], "vs base"]
    if with_val():
        cells += ["best val chroma MSE", "val vs base"]
    return cells + ["best val epoch", "colourfulness (truth)", "train min"]


def header():
    cells = ["network", "value"] + header_cells()
    return ["| " + " | ".join(cells) + " |", "|" + "---|" * len(cells)]


def seed_section(runs):
    lines = [f"## {FACTOR_TITLES['seed']}", "",
             "The base recipe with seeds 0, 1, 2 (initialisation, order and augmentation; the split stays "
             "seed 0). The sd here is the yardstick for every other table.", ""] + header()
    cells = []
    for r in runs:
        if r["factor"] == "seed" and cell_key(r) not in cells:
            cells.append(cell_key(r))
    for arch, head in cells:
        rs = sorted(base_runs(runs, arch, head), key=lambda r: r["config"].get("seed", 0))
        for r in rs:
            lines.append(row_text(arch, head, f"seed {r['config'].get('seed', 0)}", stat_row([r])))
        lines.append(row_text(arch, head, "**all seeds**", stat_row(rs)))
    return lines + [""]


def plan_base(runs):
    """The base recipe's runs of the plan's first network (every seed)."""
    for r in runs:
        if r["factor"] == "base":
            return base_runs(runs, *cell_key(r))
    return []


def section(factor, runs, img_dir, doc_dir, out):
    lines = [f"## {FACTOR_TITLES.get(factor, factor)}", ""] + header()
    values = factor_values(runs, factor)
    cells = []
    for r in runs:
        if r["factor"] == factor and cell_key(r) not in cells:
            cells.append(cell_key(r))
    bval = base_value(runs, factor)
    rows = []
    for arch, head in cells:
        own = base_runs(runs, arch, head)
        if own:
            base = stat_row(own)
            lines.append(row_text(arch, head, f"{bval} (base)", base))
            rows.append((arch, head, bval, base))
        else:
            # a value that changes the network itself (an ablation's
            # "without"): read against the plan's base
            base = stat_row(plan_base(runs))
        for v in values:
            rs = [r for r in runs if r["factor"] == factor and r["value"] == v and cell_key(r) == (arch, head)]
            if not rs:
                continue
            st = stat_row(rs)
            lines.append(row_text(arch, head, show_value(v), st, base))
            rows.append((arch, head, v, st))
    lines.append("")
    for path in plot_factor(factor, rows, img_dir, runs, out, bval):
        rel = os.path.relpath(path, doc_dir)
        lines.append(f"![{os.path.basename(path)}]({rel})")
    return lines + [""]


def config_delta(run, base):
    """A run's options that differ from the base run's, as text."""
    if base is None:
        return ""
    c, b = run["config"], base["config"]
    keys = [k for k in c if k != "seed" and b.get(k) != c[k]] + [k for k in b if k not in c]
    return ", ".join(f"{k} {fmt_value(c[k]) if k in c else '(default)'}" for k in keys) or "the base recipe"


def extra_base(runs, r):
    """The base recipe's runs an extra run is read against: its own
    network's where the plan has them, else the plan's first network's."""
    return base_runs(runs, *cell_key(r)) or plan_base(runs)


def extra_section(runs):
    """Single runs on top of the base, grouped by their tags."""
    extras = [r for r in runs if r["factor"] == "extra"]
    if not extras:
        return []
    first = (plan_base(runs) or [None])[0]
    lines = ["## Single runs", "",
             "The plan's `extra` runs, each against the base recipe of its own network, or of the plan's first "
             f"network ({first['config'].get('arch')}/{first['config'].get('head')}) where the plan has no "
             "base for it." if first else "", "",
             "| " + " | ".join(["run", "tags", "what differs from the base"] + header_cells()) + " |",
             "|" + "---|" * (3 + len(header_cells()))]
    groups = {}
    for r in extras:
        bruns = extra_base(runs, r)
        tags = ", ".join(t for t in r.get("tags", []) if t != "extra") or "–"
        name = r["name"].rsplit("-", 1)[0]
        cells = [name, tags, config_delta(r, bruns[0] if bruns else None)] + row_cells(stat_row([r]),
                                                                                       stat_row(bruns))
        lines.append("| " + " | ".join(cells) + " |")
        key = json.dumps({k: v for k, v in r["config"].items() if k != "seed"}, sort_keys=True)
        groups.setdefault(key, []).append(r)
    # Runs that differ only in their seed are also read together.
    for rs in groups.values():
        if len(rs) > 1:
            bruns = extra_base(runs, rs[0])
            seeds = ", ".join(str(r["config"].get("seed", 0)) for r in rs)
            what = config_delta(rs[0], bruns[0] if bruns else None)
            cells = [f"**seeds {seeds}**", "–", what] + row_cells(stat_row(rs), stat_row(bruns))
            lines.append("| " + " | ".join(cells) + " |")
    return lines + [""]


def run_label(r):
    if r["factor"] in ("base", "extra"):
        return "base recipe" if r["factor"] == "base" else r["value"]
    return f"{r['factor']} {show_value(r['value'])}"


def labelled_rows_plot(fig, ax, labels, xlabel, title, img_dir, doc_dir, filename):
    """Finish a plot of one labelled row per item (top to bottom), save it,
    and return the Markdown lines that show it."""
    ax.set_yticks(range(len(labels)))
    ax.set_yticklabels(labels, fontsize=8)
    ax.set_ylim(len(labels) - 0.5, -0.5)
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8)
    path = save_plot(fig, img_dir, filename)
    return [f"![{filename}]({os.path.relpath(path, doc_dir)})", ""]


def head_pairs(runs):
    """Regression runs with the classification run of the same recipe and
    seed: the configurations differ in the head alone."""
    def key(r):
        return json.dumps({k: v for k, v in r["config"].items() if k != "head"}, sort_keys=True)
    cls = {key(r): r for r in runs if r["config"].get("head") == "cls"}
    return [(cls[key(r)], r) for r in runs if r["config"].get("head") == "reg" and key(r) in cls]


def heads_section(runs, img_dir, doc_dir):
    """Whether classification's lead over regression holds across the sweep."""
    pairs = head_pairs(runs)
    if not pairs:
        return []
    lines = ["## Classification against regression", "",
             "Each regression run beside the classification run of the same recipe and seed (the same "
             "network; only the head and its loss differ). Negative: regression is better.", "",
             "| network | recipe | cls val | reg val | reg vs cls (val) |"
             + (" cls test | reg test | reg vs cls (test) |" if with_val() else ""),
             "|---|---|---|---|---|" + ("---|---|---|" if with_val() else "")]
    shown = []
    for c, r in pairs:
        sc, sr = summary_of(c), summary_of(r)
        vc, vr = (sc or {}).get("best_val_chroma_mse"), (sr or {}).get("best_val_chroma_mse")
        tc, tr = (sc or {}).get("test_chroma_mse"), (sr or {}).get("test_chroma_mse")
        cells = [r["config"].get("arch"), run_label(r), fmt(vc), fmt(vr) if sr else "not run yet",
                 delta_text(vr, vc, None)]
        if with_val():
            cells += [fmt(tc), fmt(tr), delta_text(tr, tc, None)]
        lines.append("| " + " | ".join(cells) + " |")
        if vc is not None and vr is not None:
            shown.append((f"{r['config'].get('arch')}: {run_label(r)}", vc, vr))
    lines.append("")
    if shown:
        # Dots joined by a line, not bars: bars on a cut axis would
        # exaggerate a 1 % gap.
        fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.35 * len(shown)))
        for y, (_, vc, vr) in enumerate(shown):
            ax.plot([vc, vr], [y, y], color="tab:grey", lw=1)
        ax.plot([v for _, v, _ in shown], range(len(shown)), "o", label="classification")
        ax.plot([v for _, _, v in shown], range(len(shown)), "s", label="regression")
        lines += labelled_rows_plot(fig, ax, [t for t, _, _ in shown], "best validation chroma MSE",
                                    "Classification against regression, same recipe and seed", img_dir, doc_dir,
                                    "heads_val_mse.png")
    return lines


def welch(a, b):
    """Welch's t of mean(a) - mean(b) and its Welch-Satterthwaite degrees
    of freedom; (None, None) unless both sides have two values or more."""
    if len(a) < 2 or len(b) < 2:
        return None, None
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0:
        return None, None
    t = (statistics.mean(a) - statistics.mean(b)) / math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return t, df


def group_text(vals, names):
    """A comparison side's cells: how many of its runs finished, mean ± sd."""
    m, sd = mean_sd(vals)
    return f"{len(vals)} of {len(names)}", (fmt(m) + (f" ± {sd:.6f}" if sd else "")) if vals else "not run yet"


def compare_section(comparisons, runs, img_dir, doc_dir):
    """The plan's declared comparisons: two groups of runs (seeds of two
    recipes, as a rule), on validation, with the seed spread of each side."""
    if not comparisons:
        return []
    by_name = {r["name"]: r for r in runs}

    def values(names, key):
        return [v for v in ((summary_of(by_name[n]) or {}).get(key) for n in names) if v is not None]

    lines = ["## Comparisons", "",
             "The plan's `compare` entries: each group's finished runs (mean ± sd over them), the difference "
             "of the means and Welch's t with its degrees of freedom (two runs or more a side). With three "
             "seeds a side, |t| above about 4.3 (df near 2) to 2.8 (df near 4) is a 5 % two-sided test.", "",
             "| comparison | runs | best val chroma MSE | against | best val chroma MSE | difference | t (df) |"
             + (" test difference |" if with_val() else ""),
             "|---|---|---|---|---|---|---|" + ("---|" if with_val() else "")]
    shown = []
    for c in comparisons:
        a, b = values(c["runs"], "best_val_chroma_mse"), values(c["against"], "best_val_chroma_mse")
        na, ta = group_text(a, c["runs"])
        nb, tb = group_text(b, c["against"])
        diff = "–"
        if a and b:
            d = statistics.mean(a) - statistics.mean(b)
            diff = f"{d:+.6f} ({100 * d / statistics.mean(b):+.1f} %)"
        t, df = welch(a, b)
        cells = [c["title"], na, ta, nb, tb, diff, "–" if t is None else f"{t:+.1f} ({df:.1f})"]
        if with_val():
            test_a, test_b = values(c["runs"], METRIC["key"]), values(c["against"], METRIC["key"])
            cells.append(delta_text(statistics.mean(test_a), statistics.mean(test_b), None)
                         if test_a and test_b else "–")
        lines.append("| " + " | ".join(cells) + " |")
        if a and b:
            shown.append((c["title"], a, b))
    lines.append("")
    if shown:
        fig, ax = plt.subplots(figsize=(7.0, 1.3 + 0.45 * len(shown)))
        for y, (_, a, b) in enumerate(shown):
            ax.plot(a, [y - 0.12] * len(a), "o", color="tab:blue", label="runs" if y == 0 else None)
            ax.plot(b, [y + 0.12] * len(b), "s", color="tab:orange", label="against" if y == 0 else None)
            ax.plot([statistics.mean(a)] * 2, [y - 0.3, y + 0.06], color="tab:blue", lw=1.5)
            ax.plot([statistics.mean(b)] * 2, [y - 0.06, y + 0.3], color="tab:orange", lw=1.5)
        lines += labelled_rows_plot(fig, ax, [t for t, _, _ in shown],
                                    "best validation chroma MSE (points: runs; ticks: means)", "Comparisons",
                                    img_dir, doc_dir, "compare_val_mse.png")
    return lines


def overview_section(runs, img_dir, doc_dir):
    """Every finished run against its network's base recipe, on validation,
    in units of that base's seed sd: what matters, at a glance."""
    points, one_seed = [], []
    for r in runs:
        s = summary_of(r)
        if r["factor"] in ("base", "seed") or not s or s.get("best_val_chroma_mse") is None:
            continue
        own = base_runs(runs, *cell_key(r)) or plan_base(runs)
        b = stat_row(own)
        if not b["val_sd"]:
            if "/".join(cell_key(r)) not in one_seed:
                one_seed.append("/".join(cell_key(r)))
            continue
        points.append((run_label(r), "/".join(cell_key(r)), (s["best_val_chroma_mse"] - b["val"]) / b["val_sd"]))
    if not points:
        return []
    rows = []
    for label, _, _ in points:
        if label not in rows:
            rows.append(label)
    nets = []
    for _, net, _ in points:
        if net not in nets:
            nets.append(net)
    fig, ax = plt.subplots(figsize=(7.0, 1.2 + 0.3 * len(rows)))
    ax.axvspan(-2, 2, color="tab:grey", alpha=0.12, lw=0)
    ax.axvspan(-1, 1, color="tab:grey", alpha=0.22, lw=0)
    ax.axvline(0, color="k", lw=0.8)
    for i, net in enumerate(nets):
        off = (i - (len(nets) - 1) / 2) * 0.18
        pts = [(rows.index(lab), z) for lab, n, z in points if n == net]
        ax.plot([z for _, z in pts], [y + off for y, _ in pts], "o", label=net)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(rows, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("best validation chroma MSE against the network's base recipe, in seed sd "
                  "(shaded: 1 and 2 sd; left is better)", fontsize=8)
    ax.set_title("Every run against its base")
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=8)
    path = save_plot(fig, img_dir, "overview_val_sd.png")
    return ["## At a glance", "",
            "Each finished run's best validation chroma MSE minus its network's base-recipe mean, divided by "
            "the sd of that base over its seeds. Inside the darker band a difference is within one seed sd: "
            "noise until more seeds say otherwise."
            + (f" Left out: {', '.join(one_seed)}, whose base recipe has one seed and so no sd." if one_seed else ""),
            "", f"![overview_val_sd.png]({os.path.relpath(path, doc_dir)})", ""]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--input", required=True)
    ap.add_argument("--doc", required=True)
    ap.add_argument("--img", required=True)
    args = ap.parse_args()
    with open(args.input) as f:
        data = json.load(f)
    runs, out = data["runs"], data["out"]
    if not data.get("test", True):
        METRIC.update(key="best_val_chroma_mse", name="best validation chroma MSE", colour="val_colorfulness",
                      short="val")
    os.makedirs(args.img, exist_ok=True)
    doc_dir = os.path.dirname(os.path.abspath(args.doc))
    os.makedirs(doc_dir, exist_ok=True)
    done = sum(1 for r in runs if (r.get("summary") or {}).get("status") in ("done", "diverged"))
    name = os.path.splitext(os.path.basename(data["plan"]))[0]
    lines = ["# The study" if name == "seed" else f"# Study `{name}`", "",
             f"Generated by `colorize study report {data['plan']}` from `{out}/summary.jsonl`; "
             "do not edit by hand (findings live in `findings.md` beside the summary).", ""]
    if data.get("about"):
        lines += [data["about"], ""]
    if data.get("test", True):
        what = ("Every figure is the test split's per-pixel chroma MSE (SPEC §4) of the best-validation "
                "checkpoint, `mean` decoding for classification")
    else:
        what = ("A validation-only plan: every figure is the best epoch's validation chroma MSE (SPEC §4), "
                "`mean` decoding for classification; the test split is not evaluated")
    lines += [f"**Progress: {done} of {len(runs)} runs finished.** {what}; a difference means something only "
              "against the seed-to-seed spread.", ""]
    findings = os.path.join(out, "findings.md")
    factors = []
    for r in runs:
        if r["factor"] not in ("base", "extra") and r["factor"] not in factors:
            factors.append(r["factor"])
    factors.sort(key=lambda f: (f != "seed",))
    lines += overview_section(runs, args.img, doc_dir)
    for factor in factors:
        lines += seed_section(runs) if factor == "seed" else section(factor, runs, args.img, doc_dir, out)
    lines += compare_section(data.get("compare"), runs, args.img, doc_dir)
    lines += heads_section(runs, args.img, doc_dir)
    lines += extra_section(runs)
    text = ""
    if os.path.exists(findings):
        with open(findings) as f:
            text = f.read().rstrip()
    if not text.startswith("## "):  # the file may bring its own heading
        lines += ["## Findings", ""]
    lines += [text or "(Written once the runs are in.)", ""]
    todo = [r["name"] for r in runs if not r.get("summary")]
    if todo:
        lines += ["## Not finished yet", "", ", ".join(f"`{n}`" for n in todo), ""]
    tmp = args.doc + ".tmp"
    with open(tmp, "w") as f:
        f.write("\n".join(lines))
    os.replace(tmp, args.doc)
    print(f"study report: {args.doc} ({done} of {len(runs)} runs), plots in {args.img}", file=sys.stderr)


if __name__ == "__main__":
    main()
