"""``bench report``: figures, tables and a page from the records and the stored codes."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.console import say
from bench.cli.parsing import parse_bits
from bench.errors import BenchError
from bench.files import check_writable


def add_parser(sub: argparse._SubParsersAction) -> None:
    rp = sub.add_parser("report", help="figures, tables and an HTML/Markdown page from the "
                                       "records and stored codes")
    rp.add_argument("--results", default="results", help="results folder (default ./results)")
    rp.add_argument("--dataset", action="append", metavar="D",
                    help="only this dataset (a name, or a label such as "
                         "synthetic-features[n_items=1500]); repeatable; default: all")
    rp.add_argument("--out", default=None, help="output folder (default RESULTS/report)")
    rp.add_argument("--format", default="html,md,png",
                    help="comma-separated: html (self-contained page), md (Markdown; writes "
                         "the PNGs too), png, pdf (vector figures); default html,md,png")
    rp.add_argument("--bits", default=None, metavar="B",
                    help="code length of the precision-recall and precision@N curves "
                         "(default 32 when measured, else the middle one)")
    rp.add_argument("--reference", default=None, metavar="DIR",
                    help="published tables (default RESULTS/reference, else the checkout's "
                         "results/reference)")
    rp.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from bench.report import parse_formats, write_report

    formats = parse_formats(args.format)
    results_dir = Path(args.results).resolve()
    if not results_dir.is_dir():
        raise BenchError(f"results folder {results_dir} does not exist")
    reference = Path(args.reference).resolve() if args.reference else None
    if reference is not None and not reference.is_dir():
        raise BenchError(f"reference folder {reference} does not exist")
    curve_bits = None
    if args.bits:
        bits = parse_bits(args.bits)
        if len(bits) != 1 or bits[0] <= 0:
            raise BenchError(f"--bits takes one positive code length, got {args.bits!r}")
        curve_bits = bits[0]
    out = Path(args.out).resolve() if args.out else results_dir / "report"
    check_writable(out, "--out DIR writes the report elsewhere")  # before any work
    manifest = write_report(results_dir, out,
                            datasets=args.dataset or None, formats=formats,
                            reference_dir=reference, curve_bits=curve_bits, log=say)
    n_fig = sum(len(d["figures"]) for d in manifest["datasets"].values())
    n_tab = sum(len(d["tables"]) for d in manifest["datasets"].values())
    print(f"bench: report of {len(manifest['datasets'])} dataset(s): {n_fig} figures, {n_tab} "
          f"tables, {len(manifest['published'])} published tables, in {manifest['out']}")
    pages = {"html": "index.html", "md": "report.md"}
    for fmt in (f for f in formats if f in pages):
        print(f"bench: {Path(manifest['out']) / pages[fmt]}")
    return 0
