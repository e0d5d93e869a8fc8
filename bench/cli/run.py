"""``bench run``: flags -> :class:`bench.runner.driver.RunRequest` -> the driver."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.cli.console import say
from bench.cli.parsing import parse_assignments, parse_bits, parse_budgets, parse_ints, split_list
from bench.runner.driver import DEFAULT_DATASET, Execution, RunRequest
from bench.schema import DATABASE_CODES, DEFAULT_DATABASE_CODES


def add_parser(sub: argparse._SubParsersAction) -> None:
    r = sub.add_parser("run", help="run methods × bits × budgets × seeds as Ray Tune trials")
    add_run_options(r)
    r.add_argument("--seeds", default="0",
                   help="comma-separated seeds from 0 to 2^32-1 (budget draw, database order, "
                        "initialisation)")
    r.add_argument("--no-ray", action="store_true",
                   help="run trials one by one in this process (debugging)")
    r.add_argument("--database-codes", default=DEFAULT_DATABASE_CODES, choices=DATABASE_CODES,
                   help="how the retrieval database is coded: 'per-modality' (default: the "
                        "I→T database is the items' text codes, T→I their image codes) or "
                        "'unified' (each item from both modalities, as the CMFH, LSSH and SePH "
                        "papers; only methods that declare it). Part of every result key")
    r.set_defaults(func=main)


def add_run_options(r: argparse.ArgumentParser) -> None:
    """The options ``bench run`` shares with ``bench tune``."""
    r.add_argument("--methods", required=True, help="comma-separated method names")
    r.add_argument("--bits", default="16,32,64", help="comma-separated code lengths")
    r.add_argument("--dataset", default=DEFAULT_DATASET,
                   help=f"dataset (default {DEFAULT_DATASET})")
    r.add_argument("--encoder", default=None,
                   help="frozen encoder for datasets without features: 'bundled' (the "
                        "project's small CLIP; the default on generated data only) or an "
                        "open_clip model name with local weights; a real dataset without "
                        "features of its own needs it (no default there)")
    r.add_argument("--encoder-weights", default=None, metavar="FILE",
                   help="local weights file of --encoder (default: the bundled checkpoint, "
                        "or $BENCH_WEIGHTS_DIR/<name>.safetensors); never downloaded")
    r.add_argument("--preset", default=None, help="split protocol preset (dataset's default)")
    r.add_argument("--budgets", default="all",
                   help="training pairs: counts (20,40), fractions (0.5) or 'all'")
    r.add_argument("--set", action="append", metavar="[METHOD.]PARAM=VALUE",
                   help="override a hyperparameter (repeatable; checked against its type)")
    r.add_argument("--dataset-opt", action="append", metavar="KEY=VALUE",
                   help="dataset option, e.g. n_items=2000 (repeatable)")
    r.add_argument("--data-root", default=None, help="folder with the dataset's files")
    r.add_argument("--results", default="results", help="results folder (default ./results)")
    r.add_argument("--cache-dir", default=None, help="cache folder (default RESULTS/cache)")
    r.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI (default sqlite:///RESULTS/mlflow.db; 'none': no "
                        "tracking). Tracking is best effort: an outage never fails the run")
    r.add_argument("--experiment", default="bench", help="MLflow experiment name")
    r.add_argument("--address", default=None,
                   help="Ray cluster (GCS) address HOST:PORT, or 'auto' on a cluster node "
                        "(default: a local Ray instance). Joined and checked before any data "
                        "is loaded; a token-authenticated cluster needs RAY_AUTH_MODE=token and "
                        "its token (RAY_AUTH_TOKEN or RAY_AUTH_TOKEN_PATH)")
    r.add_argument("--num-cpus", type=int, default=None,
                   help="CPUs of the local Ray instance (>= 1; default: all)")
    r.add_argument("--max-concurrent", type=int, default=None, help="trials at once (>= 1)")
    r.add_argument("--max-retries", type=int, default=2, metavar="N",
                   help="retries of a trial whose node or worker process was lost (default 2); "
                        "a trial whose method raised is never retried")
    r.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    r.add_argument("--gpus-per-trial", type=float, default=None, metavar="F",
                   help="GPU request of every trial (e.g. 1 or 0.5 on GPU clusters; default: "
                        "each method's own request, 0 for all methods on CPU-only machines)")
    r.add_argument("--force", action="store_true", help="redo finished results")
    r.add_argument("--verbose", action="store_true",
                   help="Ray's own output on the terminal too (Ray Tune's status table instead "
                        "of the compact progress view); it always goes to "
                        "RESULTS/logs/<run id>-ray.log")
    r.add_argument("--yes", action="store_true",
                   help="run a grid of more than 500 trials (refused without it)")
    r.add_argument("--no-report", action="store_true",
                   help="skip the report of the run's dataset (RESULTS/report) at the end")


def request_from(args: argparse.Namespace, seeds: list[int] | None = None,
                 in_process: bool | None = None) -> RunRequest:
    """The run request of ``bench run`` (or, with ``seeds``, of ``bench tune``)."""
    return RunRequest(
        methods=split_list(args.methods), bits=parse_bits(args.bits), dataset=args.dataset,
        preset=args.preset, budgets=parse_budgets(args.budgets),
        seeds=seeds if seeds is not None else parse_ints(args.seeds, "seeds"),
        overrides=parse_assignments(args.set, "--set"),
        dataset_options=parse_assignments(args.dataset_opt, "--dataset-opt"),
        data_root=args.data_root, encoder=args.encoder, encoder_weights=args.encoder_weights,
        results_dir=Path(args.results), cache_dir=Path(args.cache_dir) if args.cache_dir else None,
        device=args.device, gpus_per_trial=args.gpus_per_trial, tracking_uri=args.tracking_uri,
        experiment=args.experiment, force=args.force,
        execution=Execution(in_process=args.no_ray if in_process is None else in_process,
                            address=args.address, num_cpus=args.num_cpus,
                            max_concurrent=args.max_concurrent, max_retries=args.max_retries,
                            verbose=args.verbose),
        command=" ".join(sys.argv), report=not args.no_report,
        database_codes=getattr(args, "database_codes", DEFAULT_DATABASE_CODES),
        confirmed=args.yes)


def main(args: argparse.Namespace) -> int:
    from bench.runner import driver

    summary = driver.run(request_from(args), log=say)
    if summary.leaderboard:
        print(f"bench: leaderboard {summary.leaderboard['long']} and "
              f"{summary.leaderboard['markdown']}")
        print(summary.leaderboard["markdown"].read_text())
    if summary.report:
        print(f"bench: report {summary.report}")
    for line in summary.failure_lines():
        print(line, file=sys.stderr)
    return summary.exit_code
