"""The ``bench`` parser (one subcommand per module of this package) and its error handling:
a ``BenchError`` is one line ``bench: error: ...`` and exit code 2."""

from __future__ import annotations

import argparse
import sys

from bench.cli import (
    datasets,
    leaderboard,
    ls,
    mlflow_tools,
    report,
    run,
    train_clip,
    tune,
    validate,
)
from bench.errors import BenchError

SUBCOMMANDS = (run, tune, leaderboard, report, ls, datasets, validate, train_clip, mlflow_tools)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench", description="cmh-bench: cross-modal hashing benchmarks")
    sub = p.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
