"""``bench validate METHOD [--update-fingerprint]``: a quick check of a method plugin."""

from __future__ import annotations

import argparse

from bench.cli.parsing import parse_bits


def add_parser(sub: argparse._SubParsersAction) -> None:
    v = sub.add_parser("validate", help="check a method plugin quickly on small generated data")
    v.add_argument("method")
    v.add_argument("--bits", default="16,32")
    v.add_argument("--update-fingerprint", action="store_true",
                   help="record the method's version and source fingerprint in its package's "
                        "fingerprint.json (after deciding whether SPEC.version must change)")
    v.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from bench.validate import update_fingerprint, validate_method

    if args.update_fingerprint:
        print(update_fingerprint(args.method))
        return 0
    for line in validate_method(args.method, bits=parse_bits(args.bits)):
        print(line)
    return 0
