"""``bench datasets [list]``, ``bench datasets check PATH [--dataset NAME]`` and
``bench datasets split DATASET --preset P --data-root R --out DIR`` (see
:mod:`bench.dataset_tools`)."""

from __future__ import annotations

import argparse

from bench.cli.parsing import parse_assignments
from bench.errors import BenchError


def add_parser(sub: argparse._SubParsersAction) -> None:
    d = sub.add_parser("datasets", help="list datasets, layouts and presets; check a folder; "
                                        "write a preset's split index files")
    d.add_argument("action", nargs="?", choices=["list", "check", "split"], default="list")
    d.add_argument("path", nargs="?", help="check: the folder; split: the dataset name")
    d.add_argument("--dataset", default=None, help="check the folder as this dataset")
    d.add_argument("--preset", default=None, help="split: the preset (dataset's default)")
    d.add_argument("--data-root", default=None, help="split: the dataset's folder")
    d.add_argument("--out", default=None, help="split: output folder")
    d.add_argument("--cache-dir", default=None, help="split: cache folder")
    d.add_argument("--dataset-opt", action="append", metavar="KEY=VALUE",
                   help="dataset option (repeatable)")
    d.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from bench.dataset_tools import check_folder, list_datasets, write_split

    options = parse_assignments(args.dataset_opt, "--dataset-opt")
    if args.action == "list":
        list_datasets()
    elif args.action == "check":
        if not args.path:
            raise BenchError("bench datasets check needs a folder: bench datasets check PATH")
        check_folder(args.path, args.dataset, options)
    else:
        dataset = args.dataset or args.path
        if not dataset:
            raise BenchError("bench datasets split needs a dataset name")
        if not args.out:
            raise BenchError("bench datasets split needs --out DIR")
        write_split(dataset, args.preset, args.data_root, args.out, options, args.cache_dir)
    return 0
