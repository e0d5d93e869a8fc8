"""Running trial configs as Ray Tune trials (local Ray by default, a cluster by address)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def _limit_threads(n_cpus: int) -> None:
    """Keep a trial's thread pools (numba, torch) within the CPUs Ray gave it."""
    n = max(1, int(n_cpus))
    try:
        import numba

        numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
    except ImportError:
        pass
    try:
        import torch

        torch.set_num_threads(n)
    except ImportError:
        pass


def _trainable(config: dict[str, Any]) -> None:
    from ray import tune

    from bench.runner.trial import run_trial

    _limit_threads(config["trial"].get("resources", {}).get("cpu", 1))
    run_trial(config["trial"], report=tune.report)


def _resources(config: dict[str, Any]):
    from ray.tune import PlacementGroupFactory

    res = config["trial"].get("resources") or {}
    bundle = {"CPU": float(res.get("cpu", 1))}
    if float(res.get("gpu", 0)) > 0:
        bundle["GPU"] = float(res["gpu"])
    return PlacementGroupFactory([bundle])


def run_with_ray(configs: Sequence[dict[str, Any]], results_dir: Path, name: str,
                 address: str | None = None, num_cpus: int | None = None,
                 max_concurrent: int | None = None) -> dict[str, str | None]:
    """Run every config as one trial; returns {key: None if it finished, else the error}."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray
    from ray import tune

    if not ray.is_initialized():
        if address:
            ray.init(address=address, log_to_driver=True)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=True)
    trainable = tune.with_resources(_trainable, _resources)
    tuner = tune.Tuner(
        trainable,
        param_space={"trial": tune.grid_search(list(configs))},
        tune_config=tune.TuneConfig(
            max_concurrent_trials=max_concurrent,
            trial_name_creator=lambda t: t.config["trial"]["key"],
            trial_dirname_creator=lambda t: t.config["trial"]["key"][-40:],
        ),
        run_config=tune.RunConfig(
            name=name, storage_path=str(Path(results_dir).resolve() / "ray"), verbose=1,
            failure_config=tune.FailureConfig(max_failures=0),
        ),
    )
    grid = tuner.fit()
    outcome: dict[str, str | None] = {}
    for result in grid:
        key = result.config["trial"]["key"] if result.config else "?"
        outcome[key] = None if result.error is None else _one_line(result.error)
    return outcome


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    # Ray wraps the trial's exception; its last line is the original "Type: message".
    return text[-1] if text else type(error).__name__
