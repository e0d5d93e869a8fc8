"""``write_report``: the report's entry point for ``bench report``, the end of ``bench run`` and
any other driver (e.g. a tuning command). Everything is built in memory first, then each file is
written atomically, so a failure leaves no half-written file.

Layout under the output folder (default ``RESULTS/report``)::

    index.html                     self-contained page (figures embedded)
    report.md                      Markdown version (links the PNGs)
    report.json                    manifest: figures (with what each panel draws) and tables
    <dataset>/figures/<name>.png   (and .pdf with --format pdf)
    <dataset>/tables/<name>.csv    the numbers of every table and curve
    published/<name>.csv           published vs measured, one row per value
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.files import atomic_write_bytes
from bench.schema import json_safe

from .build import Report, build_report
from .costs import LATENCY_QUERIES
from .data import load_results
from .html import render_html
from .markdown import render_markdown
from .published import load_references

FORMATS = ("html", "md", "png", "pdf")
DEFAULT_FORMATS = ("html", "md", "png")


def parse_formats(text: str | Sequence[str]) -> tuple[str, ...]:
    items = [f.strip().lower() for f in (text.split(",") if isinstance(text, str) else text)]
    items = [f for f in items if f]
    bad = [f for f in items if f not in FORMATS]
    if bad or not items:
        raise BenchError(f"--format takes a comma-separated list of {', '.join(FORMATS)}; "
                         f"got {text!r}")
    return tuple(dict.fromkeys(items))


def default_reference_dir(results_dir: Path) -> Path | None:
    """``RESULTS/reference`` when it exists, else the source checkout's ``results/reference``."""
    for folder in (Path(results_dir) / "reference",
                   Path(__file__).resolve().parents[2] / "results" / "reference"):
        if folder.is_dir():
            return folder
    return None


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "dataset"


def write_report(results_dir: Path, out_dir: Path | None = None, *,
                 datasets: Sequence[str] | None = None,
                 formats: Sequence[str] = DEFAULT_FORMATS,
                 reference_dir: Path | None = None, curve_bits: int | None = None,
                 latency_queries: int = LATENCY_QUERIES,
                 log: Callable[[str], None] = lambda msg: None) -> dict[str, Any]:
    """Build the report of ``results_dir`` and write it; returns the manifest (also written as
    ``report.json``) with the output folder under ``"out"`` and every written path under
    ``"files"``. The Markdown page needs the PNGs, so ``md`` writes them too."""
    formats = parse_formats(formats)
    results = load_results(Path(results_dir), datasets, warn=log)
    out = Path(out_dir or Path(results_dir) / "report").resolve()
    refs = load_references(reference_dir or default_reference_dir(Path(results_dir)))
    report = build_report(results, refs, curve_bits, pdf="pdf" in formats,
                          latency_queries=latency_queries, log=log)
    files = _files(report, formats)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for rel, data in files.items():
            atomic_write_bytes(out / rel, data)
    except OSError as exc:
        raise BenchError(f"cannot write the report to {out} ({exc.strerror})") from None
    manifest = json.loads((files["report.json"]).decode())
    manifest["out"] = str(out)
    manifest["files"] = sorted(str(out / rel) for rel in files)
    return manifest


def _files(report: Report, formats: tuple[str, ...]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    fig_paths: dict[tuple[str, str], str] = {}
    manifest: dict[str, Any] = {"title": report.title, "header": report.header,
                                "formats": list(formats), "datasets": {}, "published": []}
    for sec in report.sections:
        base = slug(sec.dataset)
        entry: dict[str, Any] = {"figures": [], "tables": [], "notes": sec.notes}
        for fig in sec.figures:
            png = f"{base}/figures/{fig.name}.png"
            fig_paths[(sec.dataset, fig.name)] = png
            if "png" in formats or "md" in formats:
                files[png] = fig.png
            if fig.pdf is not None:
                files[f"{base}/figures/{fig.name}.pdf"] = fig.pdf
            entry["figures"].append({"name": fig.name, "title": fig.title, "png": png,
                                     "pdf": f"{base}/figures/{fig.name}.pdf" if fig.pdf else None,
                                     "panels": fig.panels})
        for table in sec.tables:
            table.csv = f"{base}/tables/{table.name}.csv"
            files[table.csv] = table.data.to_csv(index=False).encode()
            entry["tables"].append(_table_entry(table))
        manifest["datasets"][sec.dataset] = entry
    for table in report.published:
        table.csv = f"published/{table.name}.csv"
        files[table.csv] = table.data.to_csv(index=False).encode()
        manifest["published"].append(_table_entry(table))
    if "html" in formats:
        files["index.html"] = render_html(report).encode()
    if "md" in formats:
        files["report.md"] = render_markdown(report, fig_paths).encode()
    files["report.json"] = json.dumps(json_safe(manifest), indent=1).encode()
    return files


def _table_entry(table) -> dict[str, Any]:
    return {"name": table.name, "title": table.title, "protocol": table.protocol,
            "csv": table.csv, "columns": [str(c) for c in table.display.columns],
            "rows": table.display.astype(str).values.tolist(), "notes": table.notes}
