"""The self-contained HTML page: figures embedded as PNG data URIs, inline CSS, no script and
no network request, so it opens anywhere (and in a headless browser in the tests)."""

from __future__ import annotations

import base64
import html
import re

from .build import Report
from .tables import to_html

CSS = """
body { font-family: -apple-system, "Segoe UI", "DejaVu Sans", Arial, sans-serif; margin: 0;
       color: #1d1d1f; background: #fff; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 1.2em 2em 3em; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.3em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
h3 { font-size: 1.05em; margin: 1.4em 0 0.3em; }
.header p { margin: 0.1em 0; color: #555; font-size: 0.9em; }
nav ul { columns: 2; font-size: 0.9em; }
figure { margin: 1.2em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; }
.protocol { font-size: 0.85em; color: #444; background: #f6f8fa; padding: 0.4em 0.6em;
            border-left: 3px solid #9ab; }
.note { font-size: 0.85em; color: #555; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: 0.82em; margin: 0.4em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.5em; text-align: left; white-space: nowrap; }
th { background: #f0f3f6; }
tbody tr:nth-child(even) { background: #fafbfc; }
"""


def anchor(*parts: str) -> str:
    return "-".join(re.sub(r"[^a-z0-9]+", "-", p.lower()).strip("-") for p in parts)


def render_html(report: Report) -> str:
    toc, body = [], []
    for sec in report.sections:
        sid = anchor("dataset", sec.dataset)
        toc.append(f'<li><a href="#{sid}">{html.escape(sec.dataset)}</a></li>')
        body.append(f'<section id="{sid}"><h2>{html.escape(sec.dataset)}</h2>')
        body += [f"<p>{html.escape(s)}</p>" for s in sec.summary]
        body += [f'<p class="note">{html.escape(n)}</p>' for n in sec.notes]
        for fig in sec.figures:
            data = base64.b64encode(fig.png).decode("ascii")
            body.append(
                f'<figure id="{anchor(sec.dataset, fig.name)}"><img alt="{html.escape(fig.title)}"'
                f' src="data:image/png;base64,{data}"><figcaption><b>{html.escape(fig.title)}.'
                f"</b> {html.escape(fig.caption)}</figcaption></figure>")
        for table in sec.tables:
            if table.display.empty and not table.notes:
                continue
            body.append(to_html(table, anchor(sec.dataset, table.name)))
        body.append("</section>")
    if report.published:
        toc.append('<li><a href="#published">Published vs measured</a></li>')
        body.append('<section id="published"><h2>Published vs measured</h2>')
        body += [to_html(t, anchor("published", t.name)) for t in report.published]
        body.append("</section>")
    header = "".join(f"<p>{html.escape(h)}</p>" for h in report.header)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(report.title)}</title><style>{CSS}</style></head>\n"
        f"<body><main><h1>{html.escape(report.title)}</h1><div class=\"header\">{header}</div>"
        f"<nav><ul>{''.join(toc)}</ul></nav>\n" + "\n".join(body) + "\n</main></body></html>\n")
