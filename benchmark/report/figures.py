"""Report figures as deterministic inline SVG, readable at 100 % zoom.

Rules every figure follows (tested): text ≥ 9 pt (12 CSS px at the SVG's natural size; figures are
at most 8.6 in wide so a 1200 px page never shrinks them), legends outside the plotting area
(right of the axes; :func:`layout_problems` checks the rendered boxes), no empty panels (a figure
with nothing to show returns ""), at most :data:`MAX_HIGHLIGHT` coloured lines per panel with the
rest in light grey, and numbers printed where a bar could be too short to see.

Every figure goes through :func:`to_svg`, which fixes what would otherwise vary between renders:
the SVG id salt (set per figure from its key), the ``Date`` metadata, text kept as text
(``svg.fonttype = 'none'``) in DejaVu Sans, and the XML prolog stripped so the ``<svg>`` element
can be inlined into HTML. Inputs are plain pandas/numpy objects; figures never read files.
"""
from __future__ import annotations

import io
from typing import Dict, List, Optional, Sequence

import matplotlib

matplotlib.use("Agg")  # headless, and the only backend whose output we control

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

SHOT_COLORS = {"many": "#1b9e77", "medium": "#7570b3", "few": "#d95f02"}
SHOT_LABELS = {"many": "Many (>100)", "medium": "Medium (20–100)", "few": "Few (<20)"}


def shot_labels(counts: Optional[pd.DataFrame] = None) -> dict:
    """Group labels with the thresholds a split was built with (its counts' many_above/few_below)."""
    if counts is not None and len(counts) and {"many_above", "few_below"} <= set(counts.columns):
        from benchmark.data.splits import GroupThresholds
        return GroupThresholds(float(counts["many_above"].iloc[0]), float(counts["few_below"].iloc[0])).labels()
    return dict(SHOT_LABELS)
PART_COLORS = {"head": "#1b9e77", "middle": "#7570b3", "tail": "#d95f02"}
GROUP_NAMES = ["H1", "H2", "H3", "M1", "M2", "M3", "M4", "T1", "T2", "T3"]
GREY = "#c4c4c4"
MAX_HIGHLIGHT = 4
MIN_FONT_PT = 9
MAX_WIDTH_IN = 8.6
HIGHLIGHT_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
RC = {
    "svg.hashsalt": "lt-skeleton-bench",
    "svg.fonttype": "none",
    "font.family": "DejaVu Sans",
    "font.size": 10,
    "axes.titlesize": 10,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "legend.title_fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "figure.dpi": 100,
    "savefig.bbox": "tight",
    "path.simplify": True,
}
#: problems found by :func:`layout_problems` in the figures rendered so far (tests read it)
LAYOUT_LOG: List[str] = []


def apply_style() -> None:
    # matplotlib's own copy of seaborn's "whitegrid" look: importing seaborn only for its theme cost
    # every report ~2 s (it imports scipy.stats), more than rendering a small report's figures
    plt.style.use("seaborn-v0_8-whitegrid")
    matplotlib.rcParams.update(RC)


def palette(names: Sequence[str]) -> Dict[str, str]:
    """A fixed, distinct colour per highlighted name (in the given order)."""
    return {n: HIGHLIGHT_COLORS[i % len(HIGHLIGHT_COLORS)] for i, n in enumerate(names)}


def highlight_methods(rows: pd.DataFrame, by: str = "tail_mean", limit: int = MAX_HIGHLIGHT) -> List[str]:
    """CE and BRL (the reference pair) plus the best others by ``by``, at most ``limit`` names."""
    methods = list(dict.fromkeys(str(m) for m in rows["method"])) if len(rows) else []
    out = [m for m in ("ce", "brl") if m in methods]
    if by in rows.columns:
        ranked = rows.assign(_v=rows[by].astype(float)).sort_values("_v", ascending=False, na_position="last")
        for m in ranked["method"]:
            if len(out) >= limit:
                break
            if str(m) not in out:
                out.append(str(m))
    return out[:limit]


def layout_problems(fig, key: str) -> List[str]:
    """Legends that overlap a plotting area, and text smaller than :data:`MIN_FONT_PT`."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    axes = [a for a in fig.axes if a.get_visible() and a.axison]
    legends = list(fig.legends) + [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    out = []
    for lg in legends:
        lb = lg.get_window_extent(r)
        for a in axes:
            ab = a.get_window_extent(r)
            if lb.overlaps(ab) and min(lb.x1, ab.x1) - max(lb.x0, ab.x0) > 1 and min(lb.y1, ab.y1) - max(lb.y0, ab.y0) > 1:
                out.append(f"{key}: legend overlaps the axes '{a.get_title() or a.get_label()}'")
    for t in fig.findobj(matplotlib.text.Text):
        if t.get_visible() and t.get_text().strip() and t.get_fontsize() < MIN_FONT_PT - 1e-6:
            out.append(f"{key}: text '{t.get_text()[:20]}' at {t.get_fontsize():.1f} pt")
    w = fig.get_size_inches()[0]
    if w > MAX_WIDTH_IN + 1e-6:
        out.append(f"{key}: figure {w:.1f} in wide (max {MAX_WIDTH_IN})")
    return out


def to_svg(fig, key: str) -> str:
    """Render ``fig`` to an inline-able, byte-reproducible SVG string and close it."""
    LAYOUT_LOG.extend(layout_problems(fig, key))
    # a per-figure salt: deterministic, and distinct element ids between figures on one page
    matplotlib.rcParams["svg.hashsalt"] = f"ltsb-{key}"
    buf = io.StringIO()
    # legends sit outside the axes and outside the layout: the saved box must still include them
    legends = list(fig.legends) + [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None}, bbox_extra_artists=legends)
    plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]                         # drop <?xml …?> and <!DOCTYPE …>
    return svg.replace("<svg", f'<svg class="fig" role="img" aria-label="{key}"', 1)


def legend_right(ax_or_fig, handles=None, labels=None, title: Optional[str] = None, anchor=None):
    """A legend outside the plotting area, right of the (last) axes."""
    kw = dict(loc="upper left", frameon=False, title=title, borderaxespad=0.0)
    if handles is not None:
        kw.update(handles=handles, labels=labels)
    if hasattr(ax_or_fig, "legends"):      # a figure: anchor right of the given axes
        lg = ax_or_fig.legend(bbox_to_anchor=(1.0, 1.0), bbox_transform=anchor.transAxes, **kw)
    else:
        lg = ax_or_fig.legend(bbox_to_anchor=(1.02, 1.0), **kw)
    # tight_layout must not squeeze the axes to make room: the saved bounding box grows instead
    lg.set_in_layout(False)
    return lg


def class_distribution(counts: pd.DataFrame, title: str, key: str, test_counts: Optional[np.ndarray] = None) -> str:
    """Training count per class in rank order (the long-tail profile), bars colored by Many/Medium/Few.

    ``counts`` has the columns of a split's counts.csv (class, name, count, rank, shot)."""
    apply_style()
    df = counts.sort_values("rank")
    c = len(df)
    fig, ax = plt.subplots(figsize=(6.0, 2.8))
    x = np.arange(c)
    colors = [SHOT_COLORS.get(s, "#999999") for s in df["shot"]]
    ax.bar(x, df["count"].to_numpy(), color=colors, width=0.9 if c < 150 else 1.0, linewidth=0)
    if test_counts is not None:
        ax.plot(x, np.asarray(test_counts)[df["class"].to_numpy()], color="#333333", lw=1.2,
                marker="." if c <= 30 else None, label="test samples")
    for s in ("many", "medium", "few"):
        n = int((df["shot"] == s).sum())
        if n:
            ax.bar([0], [0], color=SHOT_COLORS[s], label=f"{shot_labels(counts)[s]}: {n}")
    ax.set_xlabel("class, head → tail")
    ax.set_ylabel("training samples")
    ax.set_title(title)
    ax.set_xlim(-0.5, c - 0.5)
    if c <= 20 and "name" in df.columns:
        ax.set_xticks(x)
        ax.set_xticklabels([str(v) for v in df["name"]], rotation=45, ha="right")
    legend_right(ax, title="classes")
    return to_svg(fig, key)


def histogram(values: np.ndarray, title: str, xlabel: str, key: str, bins: int = 30) -> str:
    apply_style()
    fig, ax = plt.subplots(figsize=(3.8, 2.6))
    ax.hist(np.asarray(values, dtype=np.float64), bins=bins, color="#4c72b0", linewidth=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("samples")
    ax.set_title(title)
    return to_svg(fig, key)


def _lines(ax, df: pd.DataFrame, col: str, names: Sequence[str], highlight: Sequence[str], x) -> list:
    """Grey thin lines for the others first, the highlighted ones on top; returns legend handles."""
    pal = palette(list(highlight))
    handles, grey = [], None
    for n in [n for n in names if n not in highlight] + list(highlight):
        d = df[df[col] == n].sort_values("group")
        if d.empty:
            continue
        y = d.set_index("group")["error"].reindex(x).to_numpy(dtype=float)
        if n in highlight:
            e = d.set_index("group")["std"].reindex(x).to_numpy(dtype=float)
            (h,) = ax.plot(x, y, marker="o", ms=4, lw=1.8, color=pal[n], label=str(n), zorder=3)
            if np.isfinite(e).any():
                ax.fill_between(x, y - np.nan_to_num(e), y + np.nan_to_num(e), color=pal[n], alpha=0.12, lw=0)
            handles.append(h)
        else:
            (grey,) = ax.plot(x, y, lw=0.9, color=GREY, zorder=1, label="others")
    if grey is not None:
        handles.append(grey)
    return handles


def group_error_curves(df: pd.DataFrame, stream: str, highlight: Sequence[str], key: str) -> str:
    """Figs. 6/7 style: error per frequency group (head → tail) of every method on one stream;
    ``highlight`` in colour, the others grey. ``df`` columns: method, stream, group, error (%), std."""
    d = df[(df["stream"] == stream) & df["error"].notna()]
    if d.empty:
        return ""
    apply_style()
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    x = np.arange(1, 11)
    methods = list(dict.fromkeys(d["method"]))
    handles = _lines(ax, d, "method", methods, [m for m in highlight if m in methods], x)
    ax.set_xticks(x)
    ax.set_xticklabels(GROUP_NAMES)
    ax.set_xlabel("frequency group (H = head … T = tail)")
    ax.set_ylabel("error (%)")
    ax.set_title(f"stream {stream}: error per frequency group")
    legend_right(ax, handles, [h.get_label() for h in handles], title="method")
    return to_svg(fig, key)


def stream_error_curves(df: pd.DataFrame, primary: str, key: str) -> str:
    """Methods run on several streams: error per group per stream (primary stream and ensembles in
    colour), one small panel per such method; "" when every method has a single stream."""
    multi = [m for m, g in df[df["error"].notna()].groupby("method", sort=False) if g["stream"].nunique() > 1]
    if not multi:
        return ""
    apply_style()
    ncol = min(len(multi), 2)
    nrow = (len(multi) + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.0 * nrow), squeeze=False, sharey=True)
    x = np.arange(1, 11)
    handles: Dict[str, object] = {}
    for i, m in enumerate(multi):
        ax = axes[i // ncol][i % ncol]
        d = df[(df["method"] == m) & df["error"].notna()]
        streams = list(dict.fromkeys(d["stream"]))
        hl = ([primary] if primary in streams else []) + [s for s in streams if str(s).startswith("ens-")]
        for h in _lines(ax, d, "stream", streams, hl[:MAX_HIGHLIGHT], x):
            handles.setdefault(h.get_label(), h)
        ax.set_xticks(x)
        ax.set_xticklabels(GROUP_NAMES)
        ax.set_title(f"{m}: streams and ensembles")
        ax.set_ylabel("error (%)")
    for j in range(len(multi), nrow * ncol):
        axes[j // ncol][j % ncol].remove()
    fig.tight_layout()
    # one legend for all panels (a colour means the same stream everywhere), right of the top row
    legend_right(fig, list(handles.values()), list(handles), title="stream", anchor=axes[0][ncol - 1])
    return to_svg(fig, key)


def head_middle_tail_bars(df: pd.DataFrame, highlight: Sequence[str], key: str) -> str:
    """Fig. 7 style: head / middle / tail error (%) per method as three small panels of horizontal
    bars (methods sorted by tail error, best first), each bar labelled with its value so a zero
    error is still visible. ``df`` columns: method, part (head/middle/tail), error, std."""
    d = df[df["error"].notna()]
    if d.empty:
        return ""
    apply_style()
    parts = [p for p in ("head", "middle", "tail") if p in set(d["part"])]
    tail = d[d["part"] == parts[-1]].set_index("method")["error"]
    methods = sorted(set(d["method"]), key=lambda m: (tail.get(m, np.inf), str(m)))
    y = np.arange(len(methods))
    fig, axes = plt.subplots(1, len(parts), figsize=(2.2 * len(parts) + 1.4, 0.32 * len(methods) + 1.3),
                             sharey=True, squeeze=False)
    for ax, p in zip(axes[0], parts):
        sub = d[d["part"] == p].set_index("method")
        vals = np.array([float(sub["error"].get(m, np.nan)) for m in methods])
        errs = np.array([float(sub["std"].get(m, np.nan)) for m in methods])
        colors = [PART_COLORS[p] if m in highlight else GREY for m in methods]
        ax.barh(y, np.nan_to_num(vals), xerr=np.where(np.isfinite(errs), errs, 0), color=colors, height=0.7,
                error_kw={"lw": 0.8, "capsize": 2, "ecolor": "#555555"})
        top = max(np.nanmax(vals + np.nan_to_num(errs)) if np.isfinite(vals).any() else 1.0, 1.0)
        for yi, v in zip(y, vals):
            ax.text((0 if np.isnan(v) else v) + 0.02 * top, yi, "n/a" if np.isnan(v) else f"{v:.0f}",
                    va="center", fontsize=9, color="#222222")
        ax.set_xlim(0, top * 1.25)
        ax.set_title(f"{p} error (%)")
        ax.grid(axis="y", visible=False)
    axes[0][0].set_yticks(y)
    axes[0][0].set_yticklabels([str(m) for m in methods])
    axes[0][0].invert_yaxis()
    fig.tight_layout()
    return to_svg(fig, key)


def training_curves(df: pd.DataFrame, streams: Sequence[str], key: str) -> str:
    """Loss and monitoring top-1 per epoch, one line per stream (mean over seeds, band = min…max);
    the first :data:`MAX_HIGHLIGHT` streams in colour, the rest grey.

    ``df`` columns: stream, seed, epoch, loss, monitor_top1 (fraction or NaN)."""
    apply_style()
    hl = list(streams)[:MAX_HIGHLIGHT]
    pal = palette(hl)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(7.0, 2.7))
    handles = {}
    for s in [s for s in streams if s not in hl] + hl:
        d = df[df["stream"] == s]
        for ax, col, scale in ((a1, "loss", 1.0), (a2, "monitor_top1", 100.0)):
            g = d.groupby("epoch")[col].agg(["mean", "min", "max"]).dropna()
            if g.empty:
                continue
            color = pal.get(s, GREY)
            (h,) = ax.plot(g.index, g["mean"] * scale, color=color, lw=1.6 if s in hl else 0.9,
                           label=s if s in hl else "other streams", zorder=3 if s in hl else 1)
            handles.setdefault(h.get_label(), h)
            if s in hl and d["seed"].nunique() > 1:
                ax.fill_between(g.index, g["min"] * scale, g["max"] * scale, color=color, alpha=0.12, lw=0)
    a1.set_xlabel("epoch")
    a1.set_ylabel("training loss")
    a2.set_xlabel("epoch")
    a2.set_ylabel("monitor top-1 (%)")
    if handles:
        legend_right(a2, list(handles.values()), list(handles), title="stream")
    fig.tight_layout()
    return to_svg(fig, key)


def reliability_diagram(bins: Dict[str, Dict[str, list]], eces: Dict[str, str], key: str,
                        highlight: Optional[Sequence[str]] = None) -> str:
    """Accuracy vs confidence per bin (15 bins), one line per stream; ``highlight`` (default: the
    first streams) in colour with the ECE in the legend, the rest grey.

    ``bins``: stream → output of benchmark.metrics.reliability_bins (pooled over seeds)."""
    apply_style()
    streams = list(bins)
    hl = list(highlight or streams)[:MAX_HIGHLIGHT]
    pal = palette(hl)
    fig, ax = plt.subplots(figsize=(3.4, 3.2))
    ax.plot([0, 1], [0, 1], color="#888888", lw=0.8, ls="--")
    handles = {}
    for s in [s for s in streams if s not in hl] + hl:
        pts = [(c, a) for c, a in zip(bins[s]["confidence"], bins[s]["accuracy"]) if c is not None]
        if not pts:
            continue
        xs, ys = zip(*pts)
        lab = f"{s} (ECE {eces.get(s, 'n/a')})" if s in hl else "other streams"
        (h,) = ax.plot(xs, ys, marker="o" if s in hl else None, ms=3, lw=1.5 if s in hl else 0.9,
                       color=pal.get(s, GREY), label=lab, zorder=3 if s in hl else 1)
        handles.setdefault(lab, h)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("confidence")
    ax.set_ylabel("accuracy")
    legend_right(ax, list(handles.values()), list(handles), title="stream")
    fig.tight_layout()
    return to_svg(fig, key)


def confusion(cm: np.ndarray, title: str, key: str, class_order: Optional[np.ndarray] = None,
              names: Optional[Sequence[str]] = None) -> str:
    """Row-normalised confusion matrix (recall on the diagonal), classes ordered head → tail and
    labelled by name (up to 30 classes; more are labelled by every k-th name)."""
    apply_style()
    c = cm.shape[0]
    order = np.arange(c) if class_order is None else np.asarray(class_order)
    m = cm[np.ix_(order, order)]
    labels = [str(names[i]) if names is not None else str(i) for i in order]
    size = 4.4 if c <= 12 else (5.6 if c <= 30 else 6.4)
    fig, ax = plt.subplots(figsize=(size + 0.8, size))
    im = ax.imshow(m, cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of the true class")
    step = 1 if c <= 30 else int(np.ceil(c / 30))
    ticks = np.arange(0, c, step)
    ax.set_xticks(ticks)
    ax.set_yticks(ticks)
    ax.set_xticklabels([labels[i] for i in ticks], rotation=60, ha="right")
    ax.set_yticklabels([labels[i] for i in ticks])
    ax.grid(False)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (head → tail)")
    ax.set_title(title)
    fig.tight_layout()
    return to_svg(fig, key)
