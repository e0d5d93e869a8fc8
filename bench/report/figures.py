"""The report's figures (matplotlib, Agg canvas, no display): one consistent style, labelled
axes with units, the legend outside the data, one colour per leaderboard row in every figure.

Each builder takes frames that are already aggregated and returns a ``Figure``: the PNG (and
PDF) bytes plus what was drawn, read off the matplotlib artists before saving (panels, their
labelled lines with their data, bars, bands, error bars) so that tests and the page can check it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import colormaps, rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure as MplFigure
from matplotlib.ticker import FuncFormatter, NullFormatter, NullLocator

from .data import DIRECTION_NAMES, DIRECTIONS, SHORT_DIRECTION

STYLE = {
    "font.size": 10, "axes.titlesize": 10, "axes.labelsize": 10, "legend.fontsize": 9,
    "axes.grid": True, "grid.alpha": 0.3, "grid.linewidth": 0.6,
    "axes.spines.top": False, "axes.spines.right": False,
    "lines.linewidth": 1.8, "lines.markersize": 5, "errorbar.capsize": 3,
    "figure.dpi": 100, "savefig.dpi": 100, "pdf.fonttype": 42,
}
PANEL_SIZE = (4.6, 3.4)  # inches per panel


@dataclass
class Figure:
    name: str                      # file stem
    title: str
    caption: str
    png: bytes
    pdf: bytes | None
    panels: list[dict[str, Any]] = field(default_factory=list)


def palette(rows: Iterable[str]) -> dict[str, str]:
    """A fixed colour per row label (sorted order; tab10, tab20 beyond ten rows)."""
    names = sorted(set(rows))
    cmap = colormaps["tab10" if len(names) <= 10 else "tab20"]
    n = cmap.N
    return {name: _hex(cmap(i % n)) for i, name in enumerate(names)}


def _hex(rgba: Sequence[float]) -> str:
    return "#" + "".join(f"{round(c * 255):02x}" for c in rgba[:3])


def describe(fig: MplFigure) -> list[dict[str, Any]]:
    """What each panel of ``fig`` draws, read off its artists (labelled lines with their data,
    bars, error bar sets, bands)."""
    panels = []
    for ax in fig.axes:
        lines = [{"label": ln.get_label(), "x": [float(v) for v in ln.get_xdata()],
                  "y": [float(v) for v in ln.get_ydata()]}
                 for ln in ax.get_lines() if not ln.get_label().startswith("_")]
        bars = [{"label": c.get_label(), "heights": [float(p.get_height()) for p in c.patches]}
                for c in ax.containers if isinstance(c, BarContainer)]
        panels.append({
            "title": ax.get_title(), "xlabel": ax.get_xlabel(), "ylabel": ax.get_ylabel(),
            "lines": lines, "bars": bars,
            "n_bars": sum(len(b["heights"]) for b in bars),
            "n_errorbars": sum(isinstance(c, ErrorbarContainer) for c in ax.containers),
            "n_bands": sum(isinstance(c, PolyCollection) for c in ax.collections),
        })
    return panels


def _render(fig: MplFigure, name: str, title: str, caption: str, pdf: bool) -> Figure:
    fig.suptitle(title, fontsize=11)
    panels = describe(fig)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    pdf_bytes = None
    if pdf:
        pbuf = io.BytesIO()
        fig.savefig(pbuf, format="pdf", bbox_inches="tight", metadata={"CreationDate": None})
        pdf_bytes = pbuf.getvalue()
    return Figure(name, title, caption, buf.getvalue(), pdf_bytes, panels)


def _figure(n_rows: int, n_cols: int, sharey: bool = True) -> tuple[MplFigure, np.ndarray]:
    fig = MplFigure(figsize=(PANEL_SIZE[0] * n_cols, PANEL_SIZE[1] * n_rows + 0.9),
                    layout="constrained")
    axes = fig.subplots(n_rows, n_cols, sharey=sharey, squeeze=False)
    return fig, axes


def _legend(fig: MplFigure, axes: np.ndarray) -> None:
    """One legend for the figure, below the panels (outside the data)."""
    handles, labels = [], []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels(), strict=True):
            if lab not in labels:
                handles.append(h)
                labels.append(lab)
    if handles:
        ncols = 1 if max(len(s) for s in labels) > 45 else min(3, len(labels))
        fig.legend(handles, labels, loc="outside lower center", ncols=ncols, frameon=False)


def _log_ticks(ax, values: Sequence[float], base: int) -> None:
    ax.set_xscale("log", base=base)
    ax.set_xticks(list(values))
    ax.set_xticklabels([f"{v:g}" for v in values])
    ax.xaxis.set_minor_locator(NullLocator())


def _plain_log(ax, axis: str = "x") -> None:
    """Log scale with plain tick labels (1, 10, 100, 0.001) and no minor labels."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    (ax.set_xscale if axis == "x" else ax.set_yscale)("log")
    target.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    target.set_minor_formatter(NullFormatter())


def _line_label(row: str, budgets: dict[str, str]) -> str:
    return f"{row} (budget {budgets[row]})" if len(set(budgets.values())) > 1 else row


def _direction_panels(frame: pd.DataFrame, colours: dict[str, str], x: str, y: str,
                      sort: str, marker: str = "o", err: str | None = None):
    """A panel per direction, a line per row (``frame``: row, budget, direction, x, y); the
    line label names the row's budget when the rows' budgets differ. ``err``: a column of
    ± error bars, drawn where there are several seeds (``count`` > 1)."""
    fig, axes = _figure(1, 2)
    budgets = frame.groupby("row")["budget"].first().astype(str).to_dict()
    for ax, direction in zip(axes[0], DIRECTIONS, strict=True):
        part = frame[frame["direction"] == direction]
        for row in sorted(part["row"].unique()):
            r = part[part["row"] == row].sort_values(sort).dropna(subset=[y])
            xs, ys = r[x].to_numpy(float), r[y].to_numpy(float)
            ax.plot(xs, ys, marker=marker, color=colours[row], label=_line_label(row, budgets))
            if err is not None and (r["count"] > 1).any():
                ax.errorbar(xs, ys, yerr=np.nan_to_num(r[err].to_numpy(float)), fmt="none",
                            ecolor=colours[row])
        ax.set_title(DIRECTION_NAMES[direction])
    return fig, axes


def map_vs_bits(cells: pd.DataFrame, colours: dict[str, str], dataset: str,
                pdf: bool = False) -> Figure:
    """mAP@all against code length, one panel per direction, one line per row with error bars
    (± std over seeds). ``cells``: cell_stats rows (row, budget, bits, direction, mean, std)."""
    with rc_context(STYLE):
        fig, axes = _direction_panels(cells, colours, "bits", "mean", "bits", err="std")
        for ax in axes[0]:
            _log_ticks(ax, sorted(int(b) for b in cells["bits"].unique()), 2)
            ax.set_xlabel("code length (bits)")
        axes[0, 0].set_ylabel("mAP@all (mean ± std over seeds)")
        _legend(fig, axes)
        one = set(cells["budget"].astype(str))
        budget = f", budget {next(iter(one))}" if len(one) == 1 else ""
        return _render(fig, "map_vs_bits", f"{dataset}: mAP@all vs code length{budget}",
                       "Lines: mean over seeds; error bars: ± one standard deviation over seeds.",
                       pdf)


def map_vs_budget(cells: pd.DataFrame, colours: dict[str, str], dataset: str,
                  pdf: bool = False) -> Figure:
    """mAP@all against training pairs (GNAH-style), a panel per bits × direction, lines with
    ± std bands over seeds. ``cells``: cell_stats rows with ``n_train`` (pairs, mean)."""
    bits_list = sorted(cells["bits"].astype(int).unique())
    with rc_context(STYLE):
        fig, axes = _figure(len(bits_list), 2)
        xs = sorted(cells["n_train"].dropna().astype(int).unique())
        for i, bits in enumerate(bits_list):
            for ax, direction in zip(axes[i], DIRECTIONS, strict=True):
                part = cells[(cells["direction"] == direction) & (cells["bits"] == bits)]
                for row in sorted(part["row"].unique()):
                    r = part[part["row"] == row].sort_values("n_train")
                    x, y = r["n_train"].to_numpy(float), r["mean"].to_numpy(float)
                    sd = np.nan_to_num(r["std"].to_numpy(float))
                    ax.plot(x, y, marker="o", color=colours[row], label=row)
                    if (r["count"] > 1).any():
                        ax.fill_between(x, y - sd, y + sd, color=colours[row], alpha=0.18,
                                        linewidth=0)
                if xs and xs[-1] / max(xs[0], 1) >= 4:
                    _log_ticks(ax, xs, 2)
                ax.set_title(f"{SHORT_DIRECTION[direction]}, {bits} bits")
                ax.set_xlabel("training pairs (count)")
            axes[i, 0].set_ylabel("mAP@all (mean ± std)")
        _legend(fig, axes)
        return _render(fig, "map_vs_budget", f"{dataset}: mAP@all vs training pairs",
                       "Lines: mean over seeds; bands: ± one standard deviation over seeds; "
                       "x: training pairs the method was given (its own cap is in its label).",
                       pdf)


def pr_curves(curves: pd.DataFrame, colours: dict[str, str], dataset: str, bits: int,
              pdf: bool = False) -> Figure:
    """Precision against recall over Hamming radius 0..bits (seed means), a panel per
    direction. ``curves``: mean_curves rows (row, budget, direction, curve, x, precision,
    recall)."""
    with rc_context(STYLE):
        fig, axes = _direction_panels(curves[curves["curve"] == "pr"], colours, "recall",
                                      "precision", "x", marker=".")
        for ax in axes[0]:
            ax.set_xlim(0, 1.02)
            ax.set_xlabel("recall (fraction of relevant items within radius)")
        axes[0, 0].set_ylabel("precision (fraction relevant)")
        _legend(fig, axes)
        return _render(fig, f"pr_curve_{bits}",
                       f"{dataset}: precision–recall over Hamming radius, {bits} bits",
                       "One point per Hamming radius 0..L (items within the radius are "
                       "retrieved), macro-averaged over queries, then over seeds; recomputed "
                       "from the stored codes with the metric engine.", pdf)


def precision_at_n(curves: pd.DataFrame, colours: dict[str, str], dataset: str, bits: int,
                   pdf: bool = False) -> Figure:
    """Precision@N against N (seed means), a panel per direction."""
    with rc_context(STYLE):
        fig, axes = _direction_panels(curves[curves["curve"] == "p_at_n"], colours, "x",
                                      "precision", "x", marker=".")
        for ax in axes[0]:
            _plain_log(ax, "x")
            ax.set_xlabel("N, items retrieved (log scale)")
        axes[0, 0].set_ylabel("precision@N (fraction relevant)")
        _legend(fig, axes)
        return _render(fig, f"precision_at_n_{bits}",
                       f"{dataset}: precision@N, {bits} bits",
                       "Hamming ranking, ties by database index; mean over queries, then over "
                       "seeds; recomputed from the stored codes with the metric engine.", pdf)


def cost_bars(costs: pd.DataFrame, colours: dict[str, str], dataset: str,
              pdf: bool = False) -> Figure:
    """Fit time and encoding throughput per row (bars) at each bit length."""
    speed_col = next((c for c in ("encode_both_items_s", "encode_image_items_s")
                      if c in costs.columns), None)
    panels = [("fit_s_mean", "fit time (s, log scale)")]
    if speed_col:
        panels.append((speed_col, "encoding throughput (items/s, log scale)"))
    rows = sorted(costs["row"].unique())
    bits_list = sorted(costs["bits"].astype(int).unique())
    width = 0.8 / max(len(rows), 1)
    with rc_context(STYLE):
        fig, axes = _figure(1, len(panels), sharey=False)
        for ax, (col, label) in zip(axes[0], panels, strict=True):
            for i, row in enumerate(rows):
                r = costs[costs["row"] == row].set_index("bits")
                heights = [float(r.loc[b, col]) if b in r.index and r.loc[b, col] > 0
                           else np.nan for b in bits_list]
                pos = np.arange(len(bits_list)) - 0.4 + width * (i + 0.5)
                ax.bar(pos, np.nan_to_num(heights), width=width, color=colours[row], label=row)
            _plain_log(ax, "y")
            ax.set_xticks(np.arange(len(bits_list)))
            ax.set_xticklabels([str(b) for b in bits_list])
            ax.set_xlabel("code length (bits)")
            ax.set_ylabel(label)
            ax.grid(axis="x", visible=False)
        _legend(fig, axes)
        return _render(fig, "costs", f"{dataset}: training and encoding cost",
                       "Mean over seeds of the trial's wall-clock fit time and of its encoding "
                       "throughput (query and retrieval sets).", pdf)


def map_vs_fit_time(cells: pd.DataFrame, costs: pd.DataFrame, colours: dict[str, str],
                    dataset: str, pdf: bool = False) -> Figure:
    """Quality against training cost: mAP@all (mean of both directions) against fit time, one
    line per row through its bit lengths."""
    quality = cells.groupby(["row", "bits"])["mean"].mean().rename("map").reset_index()
    merged = quality.merge(costs[["row", "bits", "fit_s_mean"]], on=["row", "bits"])
    with rc_context(STYLE):
        fig, axes = _figure(1, 1)
        ax = axes[0, 0]
        for row in sorted(merged["row"].unique()):
            r = merged[merged["row"] == row].sort_values("bits")
            ax.plot(r["fit_s_mean"].to_numpy(float), r["map"].to_numpy(float), marker="o",
                    color=colours[row], label=row)
            for _, p in r.iterrows():
                ax.annotate(f"{int(p['bits'])}", (p["fit_s_mean"], p["map"]), fontsize=8,
                            xytext=(3, 3), textcoords="offset points")
        _plain_log(ax, "x")
        ax.set_xlabel("fit time (s, log scale)")
        ax.set_ylabel("mAP@all (mean of I→T and T→I)")
        ax.set_title("points labelled with their code length (bits)")
        _legend(fig, axes)
        return _render(fig, "map_vs_fit_time", f"{dataset}: quality vs training cost",
                       "Seed means; fit time is the trial's wall-clock fit (a multi-bit method "
                       "trains every length in one fit).", pdf)
