"""``bench ls methods|datasets|runs``: what is installed, and what is in a results folder."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.console import say
from bench.errors import BenchError


def add_parser(sub: argparse._SubParsersAction) -> None:
    ls = sub.add_parser("ls", help="list methods, datasets, or the runs in a results folder")
    ls.add_argument("what", choices=["methods", "datasets", "runs"])
    ls.add_argument("-v", "--verbose", action="store_true")
    ls.add_argument("--results", default="results", help="runs: the results folder")
    ls.add_argument("--failed", action="store_true", help="runs: only failed trials")
    ls.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from bench import registry

    if args.what == "methods":
        for name in registry.methods.names():
            s = registry.methods.get(name)
            bits = "multi-bit" if s.multi_bit else "one length per run"
            print(f"{name:<18} v{s.version:<4} {s.supervision:<13} {bits:<19} "
                  f"inputs: {', '.join(s.inputs)}")
            if args.verbose:
                from bench.tuning.space import describe_space, spec_space

                space = ", ".join(f"{k}={v}" for k, v in describe_space(spec_space(s)).items())
                print(f"    {s.description}\n    defaults: {dict(s.defaults)}\n"
                      f"    parameter types: {dict(s.param_types)}\n"
                      f"    search space (bench tune): {space or 'none'}"
                      f"{' (iterative: early stopping)' if s.iterative else ''}\n"
                      f"    reference: {dict(s.reference)}\n    resources: {dict(s.resources)}"
                      + ("\n    database codes: per-modality or unified (--database-codes)"
                         if s.unified_database else ""))
    elif args.what == "datasets":
        for name in registry.datasets.names():
            s = registry.datasets.get(name)
            print(f"{name:<22} presets: {', '.join(s.presets)} (default {s.default_preset}); "
                  f"provides: {', '.join(s.provides)}")
            if args.verbose:
                print(f"    {s.description}")
    else:
        from bench.results import ResultStore, describe_records

        root = Path(args.results).resolve()
        if not root.is_dir():
            raise BenchError(f"results folder {root} does not exist")
        records = ResultStore(root).load_records(warn=say)
        for line in describe_records(records, failed_only=args.failed,
                                     verbose=args.verbose):
            print(line)
    return 0
