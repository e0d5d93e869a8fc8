"""MLflow tracking, best effort: the driver creates the store, the experiment and a parent run;
each trial logs its own child run (params, per-epoch metrics, final metrics, codes and record
artifacts, tags).

Tracking never decides a result. Trials make no tracking call before their record and codes
are written (per-epoch metrics are kept and logged afterwards, with their steps and times);
every call is bounded (HTTP timeout and retries below, unless the environment
sets them) and a failing call disables tracking for that run with one warning, so an MLflow
outage costs at most one bounded wait per trial and never fails a trial or the run.

The embedded default is a SQLite file inside the results folder, with artifacts in
``<results>/mlartifacts``; ``--tracking-uri`` points at a server (use one on multi-node
clusters). Only ``MlflowClient`` is used, so no global MLflow state leaks between trials.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from bench.errors import BenchError
from bench.files import sqlite_url, url_scheme

EXPERIMENT = "bench"
SCHEMES = ("sqlite", "http", "https", "file", "databricks", "postgresql", "mysql", "mssql")
#: bounded MLflow HTTP calls: at most ~(1 + retries) * timeout seconds per call
HTTP_LIMITS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
               "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0.5"}
T = TypeVar("T")
Warn = Callable[[str], None]


def default_tracking_uri(results_dir: Path) -> str:
    return sqlite_url(Path(results_dir) / "mlflow.db")


def check_uri(uri: str) -> None:
    """A one-line BenchError for a URI MLflow cannot use at all (bad input, not an outage)."""
    if url_scheme(uri) not in SCHEMES:
        raise BenchError(f"--tracking-uri {uri!r}: not an MLflow tracking URI (expected "
                         "sqlite:///ABS/PATH.db or http(s)://HOST:PORT)")


def _bound_http_calls() -> None:
    for name, value in HTTP_LIMITS.items():
        os.environ.setdefault(name, value)


def _client(uri: str):
    _bound_http_calls()
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


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}" if text else type(exc).__name__


def prepare_experiment(uri: str, results_dir: Path, name: str = EXPERIMENT) -> str:
    """Create (or find) the experiment in the driver, before any trial starts; its id.
    Raises whatever MLflow raises (the driver turns it into a warning)."""
    client = _client(uri)
    exp = _retry(lambda: client.get_experiment_by_name(name))
    if exp is not None:
        return exp.experiment_id
    artifacts = None
    if uri.startswith("sqlite:"):
        artifacts = (Path(results_dir).resolve() / "mlartifacts").as_uri()
    return _retry(lambda: client.create_experiment(name, artifact_location=artifacts))


def _flatten(prefix: str, obj: Any, out: dict[str, Any]) -> None:
    if isinstance(obj, Mapping):
        for k, v in obj.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = obj


class RunLogger:
    """One MLflow run (parent or trial), best effort: the first failing call disables it,
    reports one warning through ``warn`` and keeps the error in ``error``."""

    def __init__(self, uri: str, experiment_id: str, run_name: str, tags: Mapping[str, Any],
                 parent_run_id: str | None = None, warn: Warn | None = None,
                 resume_run_id: str | None = None):
        """A new run, or (``resume_run_id``) an existing run of ``experiment_id`` set running
        again, e.g. a ``bench tune`` study's parent run when the study continues; a resumed run
        that no longer exists is replaced by a new one."""
        self.run_id: str | None = None
        self.error: str | None = None
        self._warn = warn or (lambda msg: print(msg, flush=True))
        self._client: Any = None

        def start() -> str:
            from mlflow.entities import RunTag

            self._client = _client(uri)
            if resume_run_id and self._resumable(resume_run_id, experiment_id):
                _retry(lambda: self._client.update_run(resume_run_id, status="RUNNING"))
                return resume_run_id
            all_tags = {"mlflow.runName": run_name, **{k: str(v) for k, v in tags.items()}}
            if parent_run_id:
                all_tags["mlflow.parentRunId"] = parent_run_id
            run = _retry(lambda: self._client.create_run(
                experiment_id, tags={t.key: t.value for t in
                                     [RunTag(k, v) for k, v in all_tags.items()]}))
            return run.info.run_id

        self.run_id = self._call(start)

    def _resumable(self, run_id: str, experiment_id: str) -> bool:
        try:
            run = self._client.get_run(run_id)
        except Exception:  # noqa: BLE001 - MLflow raises its own types for a missing run
            return False
        return run.info.experiment_id == experiment_id and run.info.lifecycle_stage == "active"

    @property
    def active(self) -> bool:
        return self.error is None and self.run_id is not None

    def _call(self, fn: Callable[[], T]) -> T | None:
        if self.error is not None:
            return None
        try:
            return fn()
        except Exception as exc:  # noqa: BLE001 - tracking is best effort, never fatal
            self.error = first_line(exc)
            self._warn(f"bench: warning: MLflow tracking stopped for this run ({self.error}); "
                       "results are still written to the results folder")
            return None

    def log_params(self, params: Mapping[str, Any]) -> None:
        def go() -> None:
            from mlflow.entities import Param

            flat: dict[str, Any] = {}
            _flatten("", params, flat)
            items = [Param(k, str(v)[:6000]) for k, v in sorted(flat.items())]
            for i in range(0, len(items), 100):
                chunk = items[i:i + 100]
                _retry(lambda c=chunk: self._client.log_batch(self.run_id, params=c))

        if self.active:
            self._call(go)

    def log_metrics(self, metrics: Mapping[str, Any], step: int = 0) -> None:
        def go() -> None:
            from mlflow.entities import Metric

            now = int(time.time() * 1000)
            flat: dict[str, Any] = {}
            _flatten("", metrics, flat)
            items = [Metric(k, float(v), now, step) for k, v in sorted(flat.items())
                     if isinstance(v, (int, float)) and not isinstance(v, bool) and v == v]
            for i in range(0, len(items), 500):
                chunk = items[i:i + 500]
                _retry(lambda c=chunk: self._client.log_batch(self.run_id, metrics=c))

        if self.active:
            self._call(go)

    def log_history(self, history: list[tuple[int, float, Mapping[str, float]]]) -> None:
        """Per-step metrics recorded earlier: (step, unix time, {name: value}) each."""
        def go() -> None:
            from mlflow.entities import Metric

            items = [Metric(k, float(v), int(t * 1000), step) for step, t, metrics in history
                     for k, v in sorted(metrics.items()) if v == v]
            for i in range(0, len(items), 500):
                chunk = items[i:i + 500]
                _retry(lambda c=chunk: self._client.log_batch(self.run_id, metrics=c))

        if self.active and history:
            self._call(go)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        def go() -> None:
            for k, v in tags.items():
                _retry(lambda k=k, v=v: self._client.set_tag(self.run_id, k, str(v)))

        if self.active:
            self._call(go)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        if self.active:
            self._call(lambda: _retry(lambda: self._client.log_artifact(
                self.run_id, str(path), artifact_path)))

    def end(self, status: str = "FINISHED") -> None:
        if self.active:
            self._call(lambda: _retry(lambda: self._client.set_terminated(self.run_id, status)))
