"""MLflow tracking: the driver creates the store, the experiment and a parent run; each trial
logs its own child run (params, per-epoch metrics, final metrics, codes artifact, tags).

The embedded default is a SQLite file inside the results folder, with artifacts in
``<results>/mlartifacts``; ``--tracking-uri`` points at a server (use one on multi-node
clusters). Only ``MlflowClient`` is used, so no global MLflow state leaks between trials.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from bench.errors import BenchError

EXPERIMENT = "bench"
T = TypeVar("T")


def default_tracking_uri(results_dir: Path) -> str:
    return f"sqlite:///{(Path(results_dir).resolve() / 'mlflow.db').as_posix()}"


def _client(uri: str):
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _retry(fn: Callable[[], T], attempts: int = 8) -> T:
    """SQLite may answer 'database is locked' while another trial writes: retry a few times."""
    for i in range(attempts):
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - MLflow wraps the sqlite error in several types
            if "locked" not in str(exc).lower() or i == attempts - 1:
                raise
            time.sleep(0.2 * (i + 1))
    raise AssertionError("unreachable")


def prepare_experiment(uri: str, results_dir: Path, name: str = EXPERIMENT) -> str:
    """Create (or find) the experiment in the driver, before any trial starts; its id."""
    try:
        client = _client(uri)
        exp = client.get_experiment_by_name(name)
        if exp is not None:
            return exp.experiment_id
        artifacts = None
        if uri.startswith("sqlite:"):
            artifacts = (Path(results_dir).resolve() / "mlartifacts").as_uri()
        return client.create_experiment(name, artifact_location=artifacts)
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure here is a user-facing setup problem
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"cannot use MLflow tracking URI {uri!r}: {first}") from None


def _flatten(prefix: str, obj: Any, out: dict[str, Any]) -> None:
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = obj


class RunLogger:
    """One MLflow run (parent or trial)."""

    def __init__(self, uri: str, experiment_id: str, run_name: str, tags: Mapping[str, Any],
                 parent_run_id: str | None = None):
        from mlflow.entities import RunTag

        self._client = _client(uri)
        all_tags = {"mlflow.runName": run_name, **{k: str(v) for k, v in tags.items()}}
        if parent_run_id:
            all_tags["mlflow.parentRunId"] = parent_run_id
        run = _retry(lambda: self._client.create_run(
            experiment_id, tags={t.key: t.value for t in
                                 [RunTag(k, v) for k, v in all_tags.items()]}))
        self.run_id = run.info.run_id

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        flat: dict[str, Any] = {}
        _flatten("", params, flat)
        items = [Param(k, str(v)[:6000]) for k, v in sorted(flat.items())]
        for i in range(0, len(items), 100):
            _retry(lambda chunk=items[i:i + 100]: self._client.log_batch(self.run_id, params=chunk))

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        flat: dict[str, Any] = {}
        _flatten("", metrics, flat)
        items = [Metric(k, float(v), now, step) for k, v in sorted(flat.items())
                 if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v]
        for i in range(0, len(items), 500):
            _retry(lambda chunk=items[i:i + 500]: self._client.log_batch(self.run_id,
                                                                          metrics=chunk))

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        for k, v in tags.items():
            _retry(lambda k=k, v=v: self._client.set_tag(self.run_id, k, str(v)))

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        _retry(lambda: self._client.log_artifact(self.run_id, str(path), artifact_path))

    def end(self, status: str = "FINISHED") -> None:
        _retry(lambda: self._client.set_terminated(self.run_id, status))
