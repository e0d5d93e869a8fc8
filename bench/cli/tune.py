"""``bench tune``: flags -> :class:`bench.tuning.driver.TuneRequest` -> the tuning driver,
then a one-screen summary."""

from __future__ import annotations

import argparse

from bench.cli.console import say
from bench.cli.parsing import parse_ints
from bench.cli.run import add_run_options, request_from


def add_parser(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser(
        "tune", help="Optuna hyperparameter search per method × bits × budget (Ray Tune), "
                     "then the best configuration on fresh seeds",
        description="One persistent Optuna study per cell (method × dataset × bit set × "
                    "budget), searched through Ray Tune on the held-out validation split; every "
                    "method gets the same --trials. The best configuration is then run on "
                    "--final-seeds as ordinary results, shown as tuned rows in the leaderboard.")
    add_run_options(t)
    t.add_argument("--trials", type=int, default=20,
                   help="trials per study, the same for every method (default 20); a rerun "
                        "continues a study up to this many in total")
    t.add_argument("--scheduler", default="auto", choices=["auto", "asha", "none"],
                   help="early stopping: asha stops poor trials after their validation rounds; "
                        "auto (default) = asha for iterative methods, none for the others")
    t.add_argument("--asha-grace", type=int, default=2, metavar="ROUNDS",
                   help="ASHA: validation rounds every trial gets before it can be stopped "
                        "(default 2)")
    t.add_argument("--asha-reduction", type=int, default=3, metavar="F",
                   help="ASHA: reduction factor, the best 1/F go on at each rung (default 3)")
    t.add_argument("--space", action="append", metavar="METHOD.PARAM=SPEC",
                   help="search PARAM with SPEC instead of the method's own space: "
                        "uniform:LOW:HIGH, loguniform:LOW:HIGH, int:LOW:HIGH, logint:LOW:HIGH, "
                        "choice:A,B,... or off (repeatable)")
    t.add_argument("--final-seeds", default="0,1,2",
                   help="seeds of the final runs of each best configuration (default 0,1,2); "
                        "'none': search only")
    t.add_argument("--compare-defaults", action="store_true",
                   help="also run the untuned configuration on the final seeds (skipped when "
                        "already finished), for the default-vs-tuned table")
    t.add_argument("--search-seed", type=int, default=0,
                   help="seed of every search trial (budget draw, initialisation) and of the "
                        "TPE sampler (default 0)")
    t.add_argument("--study", default=None,
                   help="study name (default: method-dataset-bits-budget-<content hash>); with "
                        "several cells, a prefix")
    t.add_argument("--storage", default=None,
                   help="Optuna RDB storage URL (default sqlite:///RESULTS/tune/optuna.db); "
                        "browse it with optuna-dashboard URL")
    t.set_defaults(func=main)


def request_from_args(args: argparse.Namespace):
    from bench.tuning.driver import TuneRequest
    from bench.tuning.space import parse_space_args

    final = args.final_seeds.strip().lower() != "none"
    seeds = parse_ints(args.final_seeds, "final seeds") if final else [args.search_seed]
    run = request_from(args, seeds=seeds, in_process=False)
    return TuneRequest(
        run=run, trials=args.trials, scheduler=args.scheduler,
        space=parse_space_args(args.space, run.methods), study=args.study,
        storage=args.storage, search_seed=args.search_seed, final=final,
        compare_defaults=args.compare_defaults, grace=args.asha_grace,
        reduction=args.asha_reduction)


def main(args: argparse.Namespace) -> int:
    from bench.tuning.driver import tune
    from bench.tuning.summary import summary_lines

    summary = tune(request_from_args(args), log=say)
    for line in summary_lines(summary):
        print(line)
    return summary.exit_code


__all__ = ["add_parser", "main", "request_from_args"]
