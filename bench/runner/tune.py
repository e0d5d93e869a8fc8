"""Running trial configs as Ray Tune trials (a local Ray instance, or a cluster by address).

Each trial's config travels as plain JSON (``TrialConfig.to_dict``); :func:`trainable` and
:func:`resource_request` are the pieces other Tuners (``bench tune``) reuse.

Failures are of two kinds, and only one is retried:

* **The method raised** (a deterministic error of the method or its data): the trial writes its
  ``failed`` record and the trainable returns normally, so Tune does not retry it; the other
  trials go on.
* **The infrastructure failed** (the trial's node was lost, its worker process died, it ran out
  of memory and was killed, or its node cannot see the results folder): the trainable raises or
  simply vanishes, and Tune retries the trial up to ``max_retries`` times
  (:data:`DEFAULT_MAX_RETRIES`), elsewhere when its node is gone. A retry first looks for a
  finished record of its own run (an attempt may have died after writing it) so that no result
  is ever computed twice. A trial still without a record after the last retry gets a ``failed``
  record from the driver (:func:`bench.runner.driver.collect_records`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.schema import TrialConfig

#: infrastructure failures (node lost, worker died) of one trial retried this many times
DEFAULT_MAX_RETRIES = 2


def trainable(config: dict[str, Any]) -> None:
    """The Ray Tune function trainable: ``config["trial"]`` is a ``TrialConfig.to_dict()``;
    ``config["plugins"]`` the methods registered at run time in the driver (notebooks, tests)."""
    import platform

    from ray import tune

    from bench import registry
    from bench.results import ResultStore
    from bench.runner.manifest import check_visible
    from bench.runner.ray_session import node_identity
    from bench.runner.trial import run_trial

    registry.methods.adopt(config.get("plugins") or {})
    cfg = TrialConfig.from_dict(config["trial"])
    ray_node = node_identity() or {}
    check_visible(cfg.results_dir, cfg.run_id,
                  f"{platform.node()} (Ray node {ray_node.get('id', '?')[:12]})")
    store = ResultStore(Path(cfg.results_dir))
    done, _ = store.check_finished(cfg.method, cfg.dataset, cfg.key)
    if done and (store.read(cfg.method, cfg.dataset, cfg.key).run or {}).get("id") == cfg.run_id:
        store.end_attempt(cfg.key)  # an earlier attempt of this run finished it, then died
        tune.report({"finished": 1})
        return
    try:
        run_trial(cfg, report=tune.report)
    except Exception:
        rec = store.read(cfg.method, cfg.dataset, cfg.key)
        if rec is None or (rec.run or {}).get("id") != cfg.run_id or rec.status != "failed":
            raise  # no failed record of this attempt: not the method's error; Tune retries
        tune.report({"failed": 1})  # recorded; deterministic, so not retried


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
    """Connect to ``address`` or start a local instance (once per process); see
    :func:`bench.runner.ray_session.connect`."""
    from bench.runner.ray_session import connect

    connect(address, num_cpus)


def _heartbeat(results_dir: Path, run_id: str):
    """A Tune callback that touches the run's manifest every HEARTBEAT_S seconds."""
    from ray.tune import Callback

    from bench.runner.manifest import HEARTBEAT_S, Manifest

    class Heartbeat(Callback):
        last = 0.0

        def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
            if time.time() - self.last < HEARTBEAT_S:
                return
            self.last = time.time()
            from bench.runner.manifest import LOCK  # here: Tune pickles its callbacks

            with LOCK:
                m = Manifest.find(results_dir, run_id)
                if m is not None:
                    try:
                        m.touch(results_dir)
                    except OSError:
                        pass

    return Heartbeat()


def stop_on_signal():
    """A Tune stopper that ends every trial once SIGINT or SIGTERM was noted
    (:mod:`bench.runner.interrupt`)."""
    from ray.tune.stopper import Stopper

    class StopOnSignal(Stopper):
        def __call__(self, trial_id: str, result: dict) -> bool:
            return False

        def stop_all(self) -> bool:
            from bench.runner.interrupt import requested

            return requested() is not None

    return StopOnSignal()


def prepare_ray(configs: Sequence[TrialConfig], address: str | None = None,
                num_cpus: int | None = None) -> None:
    """Connect (or start a local instance) and check that every trial fits on a node; a
    one-line BenchError otherwise. Idempotent: callers run it before writing anything."""
    from bench.runner.ray_session import check_feasible

    init_ray(address, num_cpus)
    check_feasible([(f"method {c.method}", c.resources) for c in configs],
                   f"the Ray cluster at {address}" if address else "the local Ray instance")


def run_with_ray(configs: Sequence[TrialConfig], results_dir: Path, name: str,
                 address: str | None = None, num_cpus: int | None = None,
                 max_concurrent: int | None = None,
                 max_retries: int = DEFAULT_MAX_RETRIES, reuse_workers: bool = True,
                 verbose: bool = True, callbacks: Sequence[Any] = ()) -> dict[str, str | None]:
    """Run every config as one trial; returns {key: None if it ran to its end (its record
    says how), else the infrastructure error that stopped its last attempt}.
    ``max_retries``: infrastructure failures (node lost, worker died) retried per trial;
    ``reuse_workers``: a worker process runs one trial after another (Ray Tune's
    ``reuse_actors``), keeping its imports and per-process caches (datasets, features);
    ``verbose``: Ray Tune's status table every few seconds (off when the caller shows the
    progress view); ``callbacks``: more Tune callbacks (e.g. the driver's MLflow relay)."""
    from ray import tune

    from bench import registry

    prepare_ray(configs, address, num_cpus)
    run_id = configs[0].run_id if configs else name
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
            failure_config=tune.FailureConfig(max_failures=max_retries),
            stop=stop_on_signal(),
            callbacks=[_heartbeat(Path(results_dir).resolve(), run_id), *callbacks],
        ),
    )
    previous = os.environ.get("TUNE_DISABLE_SIGINT_HANDLER")
    os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = "1"  # the driver's stopper ends the trials
    try:
        grid = tuner.fit()
    finally:
        if previous is None:
            os.environ.pop("TUNE_DISABLE_SIGINT_HANDLER", None)
        else:
            os.environ["TUNE_DISABLE_SIGINT_HANDLER"] = previous
    outcome: dict[str, str | None] = {}
    for result in grid:
        key = result.config["trial"]["key"] if result.config else "?"
        outcome[key] = None if result.error is None else _one_line(result.error)
    return outcome


def _one_line(error: BaseException) -> str:
    text = [line for line in str(error).strip().splitlines() if line.strip()]
    # Ray wraps the trial's exception; its last line is the original "Type: message".
    return text[-1].strip()[:500] if text else type(error).__name__
