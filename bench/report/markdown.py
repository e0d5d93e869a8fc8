"""The Markdown version of the report: the same sections, figures linked as PNG files beside it."""

from __future__ import annotations

from collections.abc import Mapping

from .build import Report
from .tables import to_markdown


def render_markdown(report: Report, figure_paths: Mapping[tuple[str, str], str]) -> str:
    """``figure_paths``: (dataset, figure name) -> PNG path relative to the Markdown file."""
    lines = [f"# {report.title}", ""] + [f"{h}  " for h in report.header] + [""]
    for sec in report.sections:
        lines += [f"## {sec.dataset}", ""] + sec.summary + [""] + sec.notes
        for fig in sec.figures:
            path = figure_paths[(sec.dataset, fig.name)]
            lines += [f"![{fig.title}]({path})", "", f"*{fig.title}.* {fig.caption}", ""]
        for table in sec.tables:
            if table.display.empty and not table.notes:
                continue
            lines.append(to_markdown(table))
    if report.published:
        lines += ["## Published vs measured", ""]
        lines += [to_markdown(t) for t in report.published]
    return "\n".join(lines) + "\n"
