"""The Markdown version of the report: the same sections, figures linked as PNG files beside it."""

from __future__ import annotations

from collections.abc import Mapping

from .build import Report
from .tables import md_text, to_markdown


def render_markdown(report: Report, figure_paths: Mapping[tuple[str, str], str]) -> str:
    """``figure_paths``: (dataset, figure name) -> PNG path relative to the Markdown file."""
    lines = [f"# {md_text(report.title)}", ""] + [f"{md_text(h)}  " for h in report.header]
    lines.append("")
    for sec in report.sections:
        lines += [f"## {md_text(sec.dataset)}", ""] + [md_text(s) for s in sec.summary]
        lines += [""] + [md_text(n) for n in sec.notes]
        for fig in sec.figures:
            path = figure_paths[(sec.dataset, fig.name)]
            title = md_text(fig.title).replace("[", "\\[").replace("]", "\\]")
            lines += [f"![{title}]({path})", "", f"*{title}.* {md_text(fig.caption)}", ""]
        for table in sec.tables:
            if table.display.empty and not table.notes:
                continue
            lines.append(to_markdown(table))
    if report.published:
        lines += ["## Published vs measured", ""]
        lines += [to_markdown(t) for t in report.published]
    return "\n".join(lines) + "\n"
