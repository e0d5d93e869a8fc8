"""The ``bench`` parser (one subcommand per module of this package) and its error handling:
a ``BenchError`` is one line ``bench: error: ...`` and exit code 2."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import threading

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
from bench.files import no_space_line

SUBCOMMANDS = (run, tune, leaderboard, report, ls, datasets, validate, train_clip, mlflow_tools)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bench", description="cmh-bench: cross-modal hashing benchmarks")
    sub = p.add_subparsers(dest="command", required=True)
    for module in SUBCOMMANDS:
        module.add_parser(sub)
    return p


def _terminate(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run a subcommand. Exit codes: 0 done, 1 some trial failed, 2 a ``BenchError`` or a
    full disk (one line each), 130 interrupted (SIGINT, or SIGTERM for ``run`` and ``tune``:
    one line saying what finished and how to resume), 141 stdout closed early (``| head``:
    quietly, as other command-line tools)."""
    try:
        code = _main(argv)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the flush at exit must not fail again
        return 141


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    if args.command in ("run", "tune") and \
            threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.func(args) or 0)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:
        print("bench: interrupted" + (f" {exc}" if str(exc) else ""), file=sys.stderr)
        return 130
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        print(f"bench: error: {no_space_line(exc)}", file=sys.stderr)
        return 2
