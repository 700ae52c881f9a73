"""Report figures as deterministic inline SVG (docs/workflow.md).

Every figure goes through :func:`to_svg`, which fixes what would otherwise vary between renders:
the SVG id salt (set per figure from its key, so ids are also unique across the figures of one
page), the ``Date`` metadata, text kept as text (``svg.fonttype = 'none'``) in DejaVu Sans, and the
XML prolog stripped so the ``<svg>`` element can be inlined into HTML. Inputs are plain
pandas/numpy objects prepared by :mod:`benchmark.report.render`; figures never read files.
"""
from __future__ import annotations

import io
from typing import Dict, Mapping, Optional, Sequence

import matplotlib

matplotlib.use("Agg")  # headless, and the only backend whose output we control

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

SHOT_COLORS = {"many": "#1b9e77", "medium": "#7570b3", "few": "#d95f02"}
SHOT_LABELS = {"many": "Many (>100)", "medium": "Medium (20–100)", "few": "Few (<20)"}


def shot_labels(counts: Optional[pd.DataFrame] = None) -> dict:
    """Group labels with the thresholds a split was built with (its counts' many_above/few_below)."""
    if counts is not None and len(counts) and {"many_above", "few_below"} <= set(counts.columns):
        from benchmark.data.splits import GroupThresholds
        return GroupThresholds(float(counts["many_above"].iloc[0]), float(counts["few_below"].iloc[0])).labels()
    return dict(SHOT_LABELS)
GROUP_NAMES = ["Head1", "Head2", "Head3", "Mid1", "Mid2", "Mid3", "Mid4", "Tail1", "Tail2", "Tail3"]
RC = {
    "svg.hashsalt": "lt-skeleton-bench",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "legend.fontsize": 8,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "figure.dpi": 100,
    "savefig.bbox": "tight",
    "path.simplify": True,
}


def apply_style() -> None:
    sns.set_theme(style="whitegrid", rc={"font.family": "DejaVu Sans"})
    matplotlib.rcParams.update(RC)


def palette(names: Sequence[str]) -> Dict[str, tuple]:
    """A fixed color per name (in the given, already sorted order)."""
    pal = sns.color_palette("tab10" if len(names) <= 10 else "tab20", n_colors=max(len(names), 1))
    return {n: pal[i % len(pal)] for i, n in enumerate(names)}


def to_svg(fig, key: str) -> str:
    """Render ``fig`` to an inline-able, byte-reproducible SVG string and close it."""
    # a per-figure salt: deterministic, and distinct element ids between figures on one page
    matplotlib.rcParams["svg.hashsalt"] = f"ltsb-{key}"
    buf = io.StringIO()
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]                         # drop <?xml …?> and <!DOCTYPE …>
    # natural size from width/height; CSS (max-width: 100%, height: auto) shrinks it on narrow pages
    return svg.replace("<svg", f'<svg class="fig" role="img" aria-label="{key}"', 1)


def class_distribution(counts: pd.DataFrame, title: str, key: str, test_counts: Optional[np.ndarray] = None) -> str:
    """Training count per class in rank order (the long-tail profile), bars colored by Many/Medium/Few.

    ``counts`` has the columns of a split's counts.csv (class, count, rank, shot)."""
    apply_style()
    df = counts.sort_values("rank")
    c = len(df)
    fig, ax = plt.subplots(figsize=(7.0, 2.6))
    x = np.arange(c)
    colors = [SHOT_COLORS.get(s, "#999999") for s in df["shot"]]
    ax.bar(x, df["count"].to_numpy(), color=colors, width=0.9 if c < 150 else 1.0, linewidth=0)
    if test_counts is not None:
        ax.plot(x, np.asarray(test_counts)[df["class"].to_numpy()], color="#333333", lw=1.0, marker="." if c <= 30 else None,
                label="test samples")
    labels = shot_labels(counts)
    for s in ("many", "medium", "few"):
        n = int((df["shot"] == s).sum())
        ax.bar([0], [0], color=SHOT_COLORS[s], label=f"{labels[s]}: {n} classes")
    ax.set_xlabel("class (sorted by training count, head → tail)")
    ax.set_ylabel("samples")
    ax.set_title(title)
    ax.set_xlim(-0.5, c - 0.5)
    if c <= 30:
        ax.set_xticks(x)
        ax.set_xticklabels([str(v) for v in df["class"]])
    ax.legend(loc="upper right", frameon=False)
    return to_svg(fig, key)


def histogram(values: np.ndarray, title: str, xlabel: str, key: str, bins: int = 30) -> str:
    apply_style()
    fig, ax = plt.subplots(figsize=(3.6, 2.4))
    ax.hist(np.asarray(values, dtype=np.float64), bins=bins, color="#4c72b0", linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("samples")
    ax.set_title(title)
    return to_svg(fig, key)


def group_error_curves(df: pd.DataFrame, methods: Sequence[str], streams: Sequence[str], key: str) -> str:
    """Figs. 6/7 style: error per frequency group (head → tail), one line per method, a panel per stream.

    ``df`` columns: method, stream, group (1..10), error (%), std (% or NaN)."""
    apply_style()
    pal = palette(list(methods))
    n = len(streams)
    ncol = min(n, 3)
    nrow = (n + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.3 * ncol, 2.6 * nrow), squeeze=False, sharey=True)
    x = np.arange(1, 11)
    for i, stream in enumerate(streams):
        ax = axes[i // ncol][i % ncol]
        for m in methods:
            d = df[(df["method"] == m) & (df["stream"] == stream)].sort_values("group")
            if d.empty:
                continue
            y = d.set_index("group")["error"].reindex(x).to_numpy(dtype=float)
            e = d.set_index("group")["std"].reindex(x).to_numpy(dtype=float)
            ax.plot(x, y, marker="o", ms=3, lw=1.2, color=pal[m], label=m)
            if np.isfinite(e).any():
                ax.fill_between(x, y - np.nan_to_num(e), y + np.nan_to_num(e), color=pal[m], alpha=0.15, lw=0)
        ax.set_title(f"stream {stream}")
        ax.set_xticks(x)
        ax.set_xticklabels(GROUP_NAMES, rotation=60)
        ax.set_ylabel("error (%)")
    for j in range(n, nrow * ncol):
        axes[j // ncol][j % ncol].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    for a in axes.flat:
        h, l = a.get_legend_handles_labels()
        for hh, ll in zip(h, l):
            if ll not in labels:
                handles.append(hh)
                labels.append(ll)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.12 / nrow))
    fig.legend(handles, labels, loc="upper center", ncol=min(len(labels), 6), frameon=False)
    return to_svg(fig, key)


def head_middle_tail_bars(df: pd.DataFrame, methods: Sequence[str], streams: Sequence[str], key: str) -> str:
    """Fig. 7 style bars: head/middle/tail error (%) per method, a panel per stream.

    ``df`` columns: method, stream, part (head/middle/tail), error, std."""
    apply_style()
    parts = ["head", "middle", "tail"]
    part_colors = {"head": "#1b9e77", "middle": "#7570b3", "tail": "#d95f02"}
    n = len(streams)
    ncol = min(n, 3)
    nrow = (n + ncol - 1) // ncol
    width = max(3.3, 0.45 * len(methods) + 1.2)
    fig, axes = plt.subplots(nrow, ncol, figsize=(width * ncol, 2.6 * nrow), squeeze=False, sharey=True)
    for i, stream in enumerate(streams):
        ax = axes[i // ncol][i % ncol]
        x = np.arange(len(methods))
        for j, p in enumerate(parts):
            vals, errs = [], []
            for m in methods:
                d = df[(df["method"] == m) & (df["stream"] == stream) & (df["part"] == p)]
                vals.append(float(d["error"].iloc[0]) if len(d) else np.nan)
                errs.append(float(d["std"].iloc[0]) if len(d) and pd.notna(d["std"].iloc[0]) else 0.0)
            ax.bar(x + (j - 1) * 0.27, vals, width=0.27, yerr=errs, color=part_colors[p], label=p,
                   error_kw={"lw": 0.8, "capsize": 1.5})
        ax.set_xticks(x)
        ax.set_xticklabels(methods, rotation=45, ha="right")
        ax.set_title(f"stream {stream}")
        ax.set_ylabel("error (%)")
    for j in range(n, nrow * ncol):
        axes[j // ncol][j % ncol].axis("off")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.12 / nrow))
    fig.legend(handles, labels, loc="upper center", ncol=3, frameon=False)
    return to_svg(fig, key)


def training_curves(df: pd.DataFrame, streams: Sequence[str], key: str) -> str:
    """Loss and the 1-clip test-split monitor top-1 per epoch, one line per stream (mean over seeds, band = min…max).

    ``df`` columns: stream, seed, epoch, loss, test_top1_monitor (fraction or NaN)."""
    apply_style()
    pal = palette(list(streams))
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.0, 2.5))
    for s in streams:
        d = df[df["stream"] == s]
        if d.empty:
            continue
        for ax, col, scale in ((a1, "loss", 1.0), (a2, "test_top1_monitor", 100.0)):
            g = d.groupby("epoch")[col].agg(["mean", "min", "max"]).dropna()
            if g.empty:
                continue
            ax.plot(g.index, g["mean"] * scale, color=pal[s], lw=1.2, label=s)
            if d["seed"].nunique() > 1:
                ax.fill_between(g.index, g["min"] * scale, g["max"] * scale, color=pal[s], alpha=0.15, lw=0)
    a1.set_xlabel("epoch")
    a1.set_ylabel("training loss")
    a2.set_xlabel("epoch")
    a2.set_ylabel("monitor top-1, 1 clip (%)")
    a1.legend(frameon=False, title="stream")
    fig.tight_layout()
    return to_svg(fig, key)


def reliability_diagram(bins: Mapping[str, Mapping[str, list]], eces: Mapping[str, str], key: str) -> str:
    """Accuracy vs confidence per bin (15 bins), one line per stream; the legend gives the ECE.

    ``bins``: stream → output of benchmark.metrics.reliability_bins (pooled over seeds)."""
    apply_style()
    streams = list(bins)
    pal = palette(streams)
    fig, ax = plt.subplots(figsize=(3.4, 3.1))
    ax.plot([0, 1], [0, 1], color="#888888", lw=0.8, ls="--")
    for s in streams:
        b = bins[s]
        pts = [(c, a) for c, a in zip(b["confidence"], b["accuracy"]) if c is not None]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker="o", ms=3, lw=1.2, color=pal[s], label=f"{s} (ECE {eces.get(s, 'n/a')})")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    ax.legend(frameon=False, loc="upper left")
    fig.tight_layout()
    return to_svg(fig, key)


def confusion(cm: np.ndarray, title: str, key: str, class_order: Optional[np.ndarray] = None) -> str:
    """Row-normalised confusion matrix (recall on the diagonal), classes ordered head → tail."""
    apply_style()
    c = cm.shape[0]
    order = np.arange(c) if class_order is None else np.asarray(class_order)
    m = cm[np.ix_(order, order)]
    size = 3.4 if c <= 30 else 4.6
    fig, ax = plt.subplots(figsize=(size, size * 0.9))
    im = ax.imshow(m, cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if c <= 30:
        ax.set_xticks(np.arange(c))
        ax.set_yticks(np.arange(c))
        ax.set_xticklabels([str(v) for v in order], rotation=90)
        ax.set_yticklabels([str(v) for v in order])
    ax.grid(False)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (head → tail)")
    ax.set_title(title)
    fig.tight_layout()
    return to_svg(fig, key)
