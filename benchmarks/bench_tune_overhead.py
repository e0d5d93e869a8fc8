"""Harness overhead per search trial of ``bench tune`` against calling the method directly.

Runs a real search (Ray Tune + OptunaSearch + MLflow + records, one trial at a time, no early
stopping, no final runs), then fits the method directly in this process with exactly the
parameters the search tried (same data, same seed) and scores each on the same validation
split. Prints, side by side: the direct time per configuration (fit + validation score), the
search's wall time per trial, the difference (the harness's overhead per trial: worker process
start, data loading in the worker, Optuna/Tune bookkeeping, MLflow and record writes), their
ratio, and the fixed costs (Ray start, the driver's data step, outputs). Example::

    python benchmarks/bench_tune_overhead.py                       # cca-itq, 8 trials
    python benchmarks/bench_tune_overhead.py --scheduler asha      # one process per trial
    python benchmarks/bench_tune_overhead.py --method gnah --trials 6 \\
        --set epochs=100 --set report_every=10
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--method", default="cca-itq")
    p.add_argument("--trials", type=int, default=8)
    p.add_argument("--dataset", default="synthetic-features")
    p.add_argument("--dataset-opt", action="append", default=["n_items=2000"])
    p.add_argument("--preset", default="small")
    p.add_argument("--budget", type=int, default=200)
    p.add_argument("--bits", type=int, default=32)
    p.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE")
    p.add_argument("--scheduler", default="none", choices=["none", "asha"],
                   help="none: worker processes serve several trials; asha: the ASHA path (one "
                        "worker process per trial), with a grace period no trial reaches, so "
                        "none is stopped and every trial compares with the direct call")
    p.add_argument("--results", default=None, help="results folder (default: a temporary one)")
    args = p.parse_args(argv)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

    import optuna
    import torch
    from threadpoolctl import threadpool_limits

    from bench import registry
    from bench.cli.parsing import parse_assignments
    from bench.params import check_param, method_params
    from bench.plugins import FitContext
    from bench.runner.data import load_dataset, prepare
    from bench.runner.driver import Execution, RunRequest
    from bench.runner.trial import validation_score
    from bench.runner.tune import init_ray
    from bench.tuning.driver import TuneRequest, tune
    from bench.tuning.search import MAX_ROUNDS

    results = Path(args.results or tempfile.mkdtemp(prefix="bench_tune_overhead_"))
    overrides = {f"{args.method}.{k}": v for k, v in
                 parse_assignments(args.set, "--set").items()}
    options = parse_assignments(args.dataset_opt, "--dataset-opt")
    req = TuneRequest(
        run=RunRequest(methods=[args.method], bits=[args.bits], dataset=args.dataset,
                       preset=args.preset, budgets=[args.budget], seeds=[0],
                       overrides=overrides, dataset_options=options, results_dir=results,
                       execution=Execution(max_concurrent=1), report=False),
        trials=args.trials, scheduler=args.scheduler, grace=MAX_ROUNDS, final=False)

    t0 = time.perf_counter()
    init_ray()
    t_ray = time.perf_counter() - t0
    quiet = []
    t0 = time.perf_counter()
    summary = tune(req, log=quiet.append)
    t_tune = time.perf_counter() - t0
    (outcome,) = summary.outcomes
    t_search = outcome.search_s
    study = optuna.load_study(study_name=outcome.cell.name,
                              storage=f"sqlite:///{results / 'tune' / 'optuna.db'}")
    trials = sorted(study.trials, key=lambda t: t.number)
    inside = [t.duration.total_seconds() for t in trials if t.duration is not None]

    # the same configurations, called directly (one thread, as in a trial)
    spec = registry.methods.get(args.method)
    base = method_params(spec, overrides)
    ds = load_dataset(args.dataset, None, str(results / "cache"), options)
    data = prepare(ds, registry.datasets.get(args.dataset).preset(args.preset), args.budget,
                   0, spec.inputs, spec.labels_at_encode)
    torch.set_num_threads(1)
    direct = []
    for t in trials:
        params = {**base, **{k: check_param(spec, k, v) for k, v in t.params.items()}}
        method = spec.load()([args.bits], params, 0, "cpu")
        ctx = FitContext(validation=data.validation, seed=0, device="cpu",
                         workdir=results / "direct", dataset=args.dataset, log=lambda m: None,
                         validate=lambda m=method: validation_score(m, data))
        with threadpool_limits(1):
            s = time.perf_counter()
            method.fit(data.train, ctx)
            score = validation_score(method, data)
            direct.append(time.perf_counter() - s)
        if t.value is not None and abs(score - t.value) > 1e-9:
            print(f"note: trial {t.number}: direct validation {score:.6f} != search "
                  f"{t.value:.6f}")

    n = len(trials)
    per_direct = statistics.mean(direct)
    per_search = t_search / n
    try:
        load = f"{os.getloadavg()[0]:.1f}"
    except OSError:
        load = "?"
    print(f"bench tune overhead: {args.method} on {args.dataset} ({options}), preset "
          f"{args.preset}, budget {args.budget}, {args.bits} bits, {n} trials one at a time, "
          f"scheduler {args.scheduler}; "
          f"{os.cpu_count()} CPUs, load {load} at the end")
    print(f"direct call (fit + validation score), mean per configuration: {per_direct:.3f} s")
    print(f"search wall time per trial (Tuner.fit / trials):             {per_search:.3f} s")
    print(f"  of which inside the trial (Optuna start->complete), mean:   "
          f"{statistics.mean(inside):.3f} s")
    print(f"harness overhead per search trial: {per_search - per_direct:.3f} s "
          f"(search/direct = {per_search / per_direct:.1f}x)")
    print(f"fixed costs: Ray start {t_ray:.1f} s; the rest of bench tune (data, study, outputs) "
          f"{t_tune - t_search:.1f} s; whole command {t_ray + t_tune:.1f} s")


if __name__ == "__main__":
    main()
