"""Running trial configs as Ray Tune trials (a local Ray instance, or a cluster by address).

Each trial's config travels as plain JSON (``TrialConfig.to_dict``); :func:`trainable` and
:func:`resource_request` are the pieces other Tuners (``bench tune``) reuse. A trial that raises has
already written its ``failed`` record; Tune marks it errored and runs the others.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.schema import TrialConfig


def trainable(config: dict[str, Any]) -> None:
    """The Ray Tune function trainable: ``config["trial"]`` is a ``TrialConfig.to_dict()``;
    ``config["plugins"]`` the methods registered at run time in the driver (notebooks, tests)."""
    from ray import tune

    from bench import registry
    from bench.runner.trial import run_trial

    registry.methods.adopt(config.get("plugins") or {})
    run_trial(TrialConfig.from_dict(config["trial"]), report=tune.report)


def resource_request(resources: Mapping[str, float] | None):
    """A trial's resource request (its method's CPUs and GPUs) as a placement group."""
    from ray.tune import PlacementGroupFactory

    res = resources or {}
    bundle = {"CPU": float(res.get("cpu", 1))}
    if float(res.get("gpu", 0)) > 0:
        bundle["GPU"] = float(res["gpu"])
    return PlacementGroupFactory([bundle])


def placement(config: dict[str, Any]):
    """The placement group of a ``bench run`` trial (from its config)."""
    return resource_request(config["trial"].get("resources"))


def init_ray(address: str | None = None, num_cpus: int | None = None) -> None:
    """Connect to ``address`` or start a local instance (once per process)."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray

    if ray.is_initialized():
        return
    try:
        if address:
            ray.init(address=address, log_to_driver=True)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=True)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"cannot start {where}: {first}") from None


def run_with_ray(configs: Sequence[TrialConfig], results_dir: Path, name: str,
                 address: str | None = None, num_cpus: int | None = None,
                 max_concurrent: int | None = None,
                 reuse_workers: bool = True, verbose: bool = True) -> dict[str, str | None]:
    """Run every config as one trial; returns {key: None if it finished, else the error}.
    ``reuse_workers``: a worker process runs one trial after another (Ray Tune's
    ``reuse_actors``), keeping its imports and per-process caches (datasets, features);
    ``verbose``: Ray Tune's status table every few seconds (off when the caller shows the
    progress view)."""
    from ray import tune

    from bench import registry

    init_ray(address, num_cpus)
    tuner = tune.Tuner(
        tune.with_resources(trainable, placement),
        param_space={"trial": tune.grid_search([c.to_dict() for c in configs]),
                     "plugins": registry.methods.portable()},
        tune_config=tune.TuneConfig(
            max_concurrent_trials=max_concurrent, reuse_actors=reuse_workers,
            trial_name_creator=lambda t: t.config["trial"]["key"],
            trial_dirname_creator=lambda t: t.config["trial"]["key"][-40:],
        ),
        run_config=tune.RunConfig(
            name=name, storage_path=str(Path(results_dir).resolve() / "ray"),
            verbose=1 if verbose else 0,
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
