"""Report tables: a display frame (formatted strings), the numbers behind it (written as CSV),
a title and the protocol line that says how the numbers were made."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

import pandas as pd

from bench.leaderboard import md_cell


@dataclass
class Table:
    name: str                 # file stem of the CSV (unique within a dataset section)
    title: str
    protocol: str             # tie policy, metric, split, selection rule, aggregation
    display: pd.DataFrame     # what the page shows: strings, columns in order
    data: pd.DataFrame        # the numbers (CSV), one row per value
    notes: list[str] = field(default_factory=list)
    csv: str = ""             # where the numbers were written, relative to the page


def fmt(value: float | None, digits: int = 4, signed: bool = False) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def mean_std(mean: float, std: float | None, n: int, digits: int = 4,
             of: int | None = None) -> str:
    """``0.8318 ± 0.0012 (n=3)`` (``n=2 of 3`` when ``of`` seeds were asked for and fewer
    finished); no ± for a single value; ``—`` if missing."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)) or n == 0:
        return "—"
    count = f"n={n}" + (f" of {of}" if of and of > n else "")
    if n > 1 and std is not None and not math.isnan(std):
        return f"{mean:.{digits}f} ± {std:.{digits}f} ({count})"
    return f"{mean:.{digits}f} ({count})"


def number(value: float | None, digits: int = 3) -> str:
    """A positive quantity with ``digits`` significant digits (costs)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}g}" if abs(value) < 10 ** digits else f"{value:,.0f}"


def to_markdown(table: Table, level: int = 3) -> str:
    lines = [f"{'#' * level} {md_text(table.title)}", "",
             f"*Protocol:* {md_text(table.protocol)}", ""]
    if table.display.empty:
        lines += [] if table.notes else ["No results.", ""]
    else:
        cols = [str(c) for c in table.display.columns]
        lines += ["| " + " | ".join(_md(c) for c in cols) + " |", "|" + "---|" * len(cols)]
        for _, row in table.display.iterrows():
            lines.append("| " + " | ".join(_md(str(v)) for v in row) + " |")
        lines.append("")
    lines += [f"{md_text(n)}\n" for n in table.notes]
    if table.csv:
        lines += [f"Data: [{table.csv}]({table.csv})", ""]
    return "\n".join(lines)


def _md(text: str) -> str:
    return md_cell(text)


def md_text(text: str) -> str:
    """A line of Markdown text from labels and messages: HTML escaped, one line."""
    return html.escape(" ".join(str(text).splitlines()), quote=False)


def to_html(table: Table, anchor: str) -> str:
    parts = [f'<section class="table" id="{html.escape(anchor)}">',
             f"<h3>{html.escape(table.title)}</h3>",
             f'<p class="protocol"><b>Protocol:</b> {html.escape(table.protocol)}</p>']
    if table.display.empty:
        parts += [] if table.notes else ["<p>No results.</p>"]
    else:
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.display.columns)
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
            for _, row in table.display.iterrows())
        parts.append(f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
                     f"<tbody>{body}</tbody></table></div>")
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in table.notes]
    if table.csv:
        parts.append(f'<p class="note">Data: <a href="{html.escape(table.csv)}">'
                     f"{html.escape(table.csv)}</a></p>")
    parts.append("</section>")
    return "\n".join(parts)
