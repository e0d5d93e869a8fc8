"""``bench leaderboard [--recompute]``: rebuild the tables from the records."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.console import say
from bench.errors import BenchError
from bench.files import check_writable


def add_parser(sub: argparse._SubParsersAction) -> None:
    lb = sub.add_parser("leaderboard", help="rebuild the leaderboard tables from the records")
    lb.add_argument("--results", default="results")
    lb.add_argument("--out", default=None, help="output folder (default: the results folder)")
    lb.add_argument("--recompute", action="store_true",
                    help="first re-evaluate every stored codes file under the current metric "
                         "protocol and update the records whose metrics change")
    lb.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from bench.leaderboard import write_leaderboard

    results_dir = Path(args.results).resolve()
    if not results_dir.is_dir():
        raise BenchError(f"results folder {results_dir} does not exist")
    out = Path(args.out).resolve() if args.out else results_dir
    check_writable(out, "--out DIR writes the tables elsewhere")  # before any work
    if args.recompute:
        from bench.recompute import recompute_all

        report = recompute_all(results_dir, log=say)
        for line in report.lines():
            print(line)
    paths = write_leaderboard(results_dir, out, warn=say)
    print(paths["markdown"].read_text())
    print(f"bench: wrote {paths['long']}, {paths['pivot']}, {paths['markdown']}")
    return 0
