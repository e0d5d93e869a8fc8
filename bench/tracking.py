"""MLflow tracking, best effort: the driver creates the store, the experiment and a parent run;
each trial logs its own child run (params, per-epoch metrics, final metrics, codes and record
artifacts, tags).

Tracking never decides a result. Trials make no tracking call before their record and codes
are written (per-epoch metrics are kept and logged afterwards, with their steps and times);
every call is bounded (HTTP timeout and retries below, unless the environment
sets them) and a failing call disables tracking for that run with one warning, so an MLflow
outage costs at most one bounded wait per trial and never fails a trial or the run.

A record says what reached MLflow (``tracking_state``): "logged", "pending" (the store was
down, or went down during the trial: ``bench mlflow sync`` uploads it later, see
:mod:`bench.mlflow_sync`) or "off". :func:`log_record` is the one way a finished, failed or pruned
record is logged, by the trial itself and by the sync.

The embedded default is a SQLite file inside the results folder, with artifacts in
``<results>/mlartifacts`` (a copied or moved results folder has its store pointed at its own
``mlartifacts`` by the next driver: :func:`relocate_artifacts`); ``--tracking-uri`` points at a
server (use one on multi-node
clusters). Only ``MlflowClient`` is used, so no global MLflow state leaks between trials.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlsplit

from bench.errors import BenchError
from bench.files import inside, sqlite_file, sqlite_url, url_scheme

EXPERIMENT = "bench"
SCHEMES = ("sqlite", "http", "https", "file", "databricks", "postgresql", "mysql", "mssql")
#: bounded MLflow HTTP calls: at most ~(1 + retries) * timeout seconds, plus 1 + 2 s of backoff,
#: per call (MLflow's own defaults allow minutes per call: 7 retries, 120 s timeouts)
HTTP_LIMITS = {"MLFLOW_HTTP_REQUEST_TIMEOUT": "10", "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
               "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
               "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
               # no "View run at" line (and its extra request) each time a run ends
               "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT": "true"}
#: a RUNNING parent or trial run whose driver died is closed with this status
KILLED = "KILLED"
T = TypeVar("T")
Warn = Callable[[str], None]
#: tracking URIs whose outage was reported: one warning per outage for all the runs of this
#: process (a call that succeeds, or a new run's experiment set-up, ends the outage)
_DOWN: set[str] = set()


def default_tracking_uri(results_dir: Path) -> str:
    return sqlite_url(Path(results_dir) / "mlflow.db")


def check_uri(uri: str) -> None:
    """A one-line BenchError for a URI MLflow cannot use at all (bad input, not an outage), or
    one carrying credentials (they would be written into run manifests and MLflow tags)."""
    scheme = url_scheme(uri)
    if scheme not in SCHEMES:
        raise BenchError(f"--tracking-uri {uri!r}: not an MLflow tracking URI (expected "
                         "sqlite:///ABS/PATH.db or http(s)://HOST:PORT)")
    if has_credentials(uri, scheme in ("http", "https")):
        raise BenchError("--tracking-uri: credentials in the URI (a password, or a token in its "
                         "query) would be written into run manifests and MLflow tags; give "
                         "them in MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (a "
                         "server) or the database's own means (e.g. PGPASSWORD, ~/.pgpass, "
                         "~/.my.cnf) instead")


#: a query parameter whose name contains one of these (lower case, letters only) carries a
#: credential; :data:`_SECRET_WORDS` must be a whole word of the name (``api_key``, ``pwd``)
_SECRET_PARTS = ("password", "passwd", "token", "secret", "credential", "apikey", "accesskey",
                 "privatekey")
_SECRET_WORDS = {"pass", "pwd", "key", "sig", "signature"}
_SECRET_IN_VALUE = re.compile(r"(?i)\b(pwd|password|token|secret)\s*=")


def has_credentials(uri: str, any_userinfo: bool = False) -> bool:
    """Whether ``uri`` carries a credential: a password in its userinfo (``u:p@host``; any
    userinfo when ``any_userinfo``), or a query parameter that looks like one (``?token=``,
    ``password``, ``access_token``, ``sslpassword``, an ODBC string with ``PWD=``, ...)."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "@" in uri or "?" in uri  # unparseable: refuse what might hide a secret
    userinfo, at, _ = parts.netloc.rpartition("@")
    if at and (any_userinfo or ":" in userinfo):
        return True
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        letters = re.sub(r"[^a-z]", "", name.lower())
        words = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower())
        if any(p in letters for p in _SECRET_PARTS) or _SECRET_WORDS & set(words) \
                or _SECRET_IN_VALUE.search(value):
            return True
    return False


def _bound_http_calls() -> None:
    for name, value in HTTP_LIMITS.items():
        os.environ.setdefault(name, value)


#: MLflow's loggers that announce a new SQLite store's schema set-up on the terminal
STORE_SETUP_LOGGERS = ("mlflow.store.db.utils", "alembic")


def client(uri: str):
    """An MlflowClient for ``uri``; a SQLite store about to be created is announced in one
    ``bench:`` line instead of MLflow's own log lines (its schema set-up takes a few seconds)."""
    _bound_http_calls()
    from mlflow.tracking import MlflowClient

    for name in STORE_SETUP_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    # its error log (a traceback) repeats the exception it raises, which RunLogger reports
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    ensure_store(uri)
    return MlflowClient(tracking_uri=uri)


#: next to a SQLite store: written once its creation (every schema migration) completed
READY_SUFFIX = ".ready"


def ensure_store(uri: str) -> None:
    """Create the SQLite store of ``uri`` completely, once, under a file lock (two drivers,
    or a driver and ``bench mlflow serve``, may start together), then mark it ready. A store
    without the mark whose schema is not MLflow's current one was interrupted while being
    created (killed, a full disk): recreated when it holds no run, else a BenchError with the
    fix. Nothing for other URIs."""
    db = sqlite_file(uri)
    if db is None or db.with_name(db.name + READY_SUFFIX).exists():
        return
    from bench.locks import FileLock

    for name in STORE_SETUP_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    db.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(db.with_name(db.name + ".lock")):
        ready = db.with_name(db.name + READY_SUFFIX)
        if ready.exists():
            return
        if db.exists() and not _store_complete(db):
            runs = _count_runs(db)
            if runs:
                raise BenchError(
                    f"the MLflow store {db} was interrupted while being created (its schema "
                    f"is incomplete) and holds {runs} run(s); back it up and run 'mlflow db "
                    f"upgrade {uri}', or move it aside and run 'bench mlflow sync' to upload "
                    "the results again")
            print(f"bench: the MLflow store {db} was interrupted while being created and "
                  "holds no run; recreating it", file=sys.stderr, flush=True)
            _remove_store(db)
        if not db.exists():
            print(f"bench: creating the MLflow tracking store {db} (a new store takes a few "
                  "seconds)", file=sys.stderr, flush=True)
        try:
            _create_store(uri)
        except BaseException:
            if not _store_complete(db) and not _count_runs(db):
                _remove_store(db)  # half a store counts for nothing
            raise
        from bench.files import atomic_write_bytes

        atomic_write_bytes(ready, b"ok\n")


def _create_store(uri: str) -> None:
    """The store as MLflow's client creates it on first use (tables, every migration)."""
    from mlflow.tracking import MlflowClient

    MlflowClient(tracking_uri=uri).search_experiments(max_results=1)


def _sqlite_query(db: Path, sql: str) -> list[tuple]:
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _store_complete(db: Path) -> bool:
    """Whether ``db`` has MLflow's current schema revision (every migration applied)."""
    from mlflow.store.db.utils import _get_latest_schema_revision

    try:
        rows = _sqlite_query(db, "SELECT version_num FROM alembic_version")
    except Exception:  # noqa: BLE001 - no such table, not a database, ...
        return False
    return [r[0] for r in rows] == [_get_latest_schema_revision()]


def _count_runs(db: Path) -> int:
    try:
        return int(_sqlite_query(db, "SELECT COUNT(*) FROM runs")[0][0])
    except Exception:  # noqa: BLE001 - no runs table yet
        return 0


def _remove_store(db: Path) -> None:
    for path in (db, *(db.with_name(db.name + s) for s in ("-journal", "-wal", "-shm"))):
        path.unlink(missing_ok=True)


def retry(fn: Callable[[], T], attempts: int = 8) -> T:
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
    if "database or disk is full" in text or "No space left on device" in text:
        return f"{type(exc).__name__}: no space left on device (the store's disk is full)"
    return f"{type(exc).__name__}: {text.splitlines()[0][:300]}" if text else type(exc).__name__


def prepare_experiment(uri: str, results_dir: Path, name: str = EXPERIMENT) -> str:
    """Create (or find) the experiment in the driver, before any trial starts; its id.
    Raises whatever MLflow raises (the driver turns it into a warning)."""
    _DOWN.discard(uri)
    mc = client(uri)
    artifacts = None
    if uri.startswith("sqlite:"):
        artifacts = (Path(results_dir).resolve() / ARTIFACTS).as_uri()
        relocate_artifacts(uri, results_dir)
    exp = retry(lambda: mc.get_experiment_by_name(name))
    if exp is not None:
        return exp.experiment_id
    return retry(lambda: mc.create_experiment(name, artifact_location=artifacts))


ARTIFACTS = "mlartifacts"


def relocate_artifacts(uri: str, results_dir: Path) -> int:
    """The default store (``<results>/mlflow.db``) of a results folder that was copied or
    moved still names the old folder's ``mlartifacts`` in its experiments and runs (MLflow
    stores absolute locations): point them at this folder's, where the copy has its files,
    so that new artifacts land here. Returns the number of experiments changed; nothing for
    any other store."""
    import sqlite3

    db = sqlite_file(uri)
    root = Path(results_dir).resolve()
    if db is None or not db.exists() or db.resolve().parent != root:
        return 0
    here = (root / ARTIFACTS).as_uri()
    rows = _sqlite_query(db, "SELECT experiment_id, artifact_location FROM experiments")
    moved = [(eid, loc) for eid, loc in rows if isinstance(loc, str)
             and loc.startswith("file://") and not loc.startswith(here + "/") and loc != here
             and f"/{ARTIFACTS}" in loc]
    if not moved:
        return 0
    con = sqlite3.connect(db, timeout=30)
    try:
        with con:
            for eid, loc in moved:
                old = loc[:loc.rindex(f"/{ARTIFACTS}") + len(ARTIFACTS) + 1]
                new = here + loc[len(old):]
                con.execute("UPDATE experiments SET artifact_location = ? WHERE experiment_id = ?",
                            (new, eid))
                con.execute("UPDATE runs SET artifact_uri = ? || substr(artifact_uri, ?) "
                            "WHERE experiment_id = ? AND substr(artifact_uri, 1, ?) = ?",
                            (here, len(old) + 1, eid, len(old), old))
    finally:
        con.close()
    return len(moved)


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
                 run_id: str | None = None, resume_run_id: str | None = None):
        """Create a run; with ``run_id`` continue that existing run (tags added); with
        ``resume_run_id`` set an existing run of ``experiment_id`` running again (e.g. a ``bench
        tune`` study's parent run when the study continues; a resumed run that no longer exists
        is replaced by a new one)."""
        self.run_id: str | None = None
        self.error: str | None = None
        self.created = False  #: this logger created the run (it has only what it logged)
        self._warn = warn or (lambda msg: print(msg, flush=True))
        self._client: Any = None
        self._uri = uri

        if run_id is not None:
            def attach() -> str:
                self._client = client(uri)
                retry(lambda: self._client.get_run(run_id))
                for k, v in tags.items():
                    retry(lambda k=k, v=v: self._client.set_tag(run_id, k, str(v)))
                return run_id

            self.run_id = self._call(attach)
            return

        def start() -> str:
            from mlflow.entities import RunTag

            self._client = client(uri)
            if resume_run_id and self._resumable(resume_run_id, experiment_id):
                retry(lambda: self._client.update_run(resume_run_id, status="RUNNING"))
                return resume_run_id
            all_tags = {"mlflow.runName": run_name, **{k: str(v) for k, v in tags.items()}}
            if parent_run_id:
                all_tags["mlflow.parentRunId"] = parent_run_id
            run = retry(lambda: self._client.create_run(
                experiment_id, tags={t.key: t.value for t in
                                     [RunTag(k, v) for k, v in all_tags.items()]}))
            self.created = True
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
            out = fn()
        except Exception as exc:  # noqa: BLE001 - tracking is best effort, never fatal
            self.error = first_line(exc)
            if self._uri not in _DOWN:  # the first run to meet this outage says so
                _DOWN.add(self._uri)
                self._warn(f"bench: warning: MLflow tracking stopped for this run "
                           f"({self.error}); results are still written to the results folder")
            return None
        _DOWN.discard(self._uri)
        return out

    def log_params(self, params: Mapping[str, Any]) -> None:
        def go() -> None:
            from mlflow.entities import Param

            flat: dict[str, Any] = {}
            _flatten("", params, flat)
            items = [Param(k, str(v)[:6000]) for k, v in sorted(flat.items())]
            for i in range(0, len(items), 100):
                chunk = items[i:i + 100]
                retry(lambda c=chunk: self._client.log_batch(self.run_id, params=c))

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
                retry(lambda c=chunk: self._client.log_batch(self.run_id, metrics=c))

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
                retry(lambda c=chunk: self._client.log_batch(self.run_id, metrics=c))

        if self.active and history:
            self._call(go)

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        def go() -> None:
            from mlflow.entities import RunTag

            items = [RunTag(k, str(v)) for k, v in tags.items()]
            for i in range(0, len(items), 100):  # one call per 100 tags
                chunk = items[i:i + 100]
                retry(lambda c=chunk: self._client.log_batch(self.run_id, tags=c))

        if self.active:
            self._call(go)

    def log_artifact(self, path: Path, artifact_path: str | None = None) -> None:
        if self.active:
            self._call(lambda: retry(lambda: self._client.log_artifact(
                self.run_id, str(path), artifact_path)))

    def end(self, status: str = "FINISHED") -> None:
        if self.active:
            self._call(lambda: retry(lambda: self._client.set_terminated(self.run_id, status)))

    def reopen(self) -> list[str]:
        """Mark this (parent) run RUNNING again (a new driver takes over the sweep of a dead
        one) and close its children still RUNNING (see :meth:`close_running_children`)."""
        if self.active:
            self._call(lambda: retry(lambda: self._client.update_run(self.run_id,
                                                                     status="RUNNING")))
        return self.close_running_children()

    def close_running_children(self) -> list[str]:
        """Close this parent's child runs still marked RUNNING as KILLED: their trial's worker
        died (a lost node, a killed driver) before it could end them. Their ids."""
        def go() -> list[str]:
            run = retry(lambda: self._client.get_run(self.run_id))
            children = retry(lambda: self._client.search_runs(
                [run.info.experiment_id],
                filter_string=f"tags.mlflow.parentRunId = '{self.run_id}' and "
                              "attributes.status = 'RUNNING'", max_results=10000))
            for child in children:
                retry(lambda c=child: self._client.set_terminated(c.info.run_id, KILLED))
            return [c.info.run_id for c in children]

        return (self._call(go) or []) if self.active else []

    def metric_keys(self) -> set[str]:
        """The metric keys the run already has (empty when unknown; for a run this logger
        created, none but what it logged through :meth:`log_history`, which never holds a
        final metric, so no call)."""
        if self.created:
            return set()
        run = self._call(lambda: retry(lambda: self._client.get_run(self.run_id))) \
            if self.active else None
        return set(run.data.metrics) if run is not None else set()


def trial_tags(*, key: str, method: str, dataset: str, preset: str, bits: Any, budget: Any,
               seed: int, group: str, protocol_version: Any, env: Mapping[str, Any],
               attempt: int, run_id: str) -> dict[str, Any]:
    """The tags of a trial's MLflow run (``result_key``, ``attempt`` and the driver's
    ``run_id`` identify it)."""
    return {"method": method, "dataset": dataset, "preset": preset,
            "bits": ",".join(map(str, bits)), "budget": budget, "seed": seed,
            "result_key": key, "attempt": attempt, "run_id": run_id, "result_group": group,
            "protocol_version": protocol_version,
            "harness_version": env.get("harness_version"), "git_commit": env.get("git_commit")}


def trial_params(*, method: str, method_version: str, dataset: str, preset: str, bits: Any,
                 budget: Any, seed: int, params: Mapping[str, Any]) -> dict[str, Any]:
    return {"method": method, "method_version": method_version, "dataset": dataset,
            "preset": preset, "bits": list(bits), "budget": budget, "seed": seed,
            "hp": dict(params)}


def log_record(logger: RunLogger, record: Any, results_root: Path, record_file: Path,
               status: str) -> None:
    """Log a trial's outcome to its run: final metrics and the codes (finished) or the error
    (failed), the record file, the status tag; then end the run with ``status``. Metrics the
    run already has are not logged twice (``bench mlflow sync`` may complete a run)."""
    if record.finished:
        final = {f"{d}.map_all.{b}": m[d]["map_all"] for b, m in record.metrics.items()
                 for d in m}
        final.update({"fit_time_s": record.timing.get("fit_s"),
                      "encode_time_s": record.timing.get("encode_s"),
                      "validation_map": record.validation.get("score")})
        have = logger.metric_keys()
        logger.log_metrics({k: v for k, v in final.items() if k not in have}, step=0)
        if record.codes:
            logger.log_artifact(inside(results_root, record.codes["file"], "codes file"),
                                "codes")
    elif record.error is not None:
        logger.set_tags({"error": f"{record.error.type}: {record.error.message}"[:5000]})
    logger.set_tags({"status": record.status})
    logger.log_artifact(record_file, "record")
    logger.end(status)


def run_status(record: Any) -> str:
    """The MLflow status of a trial's run, from its record."""
    return {"finished": "FINISHED", "failed": "FAILED", "pruned": KILLED}[record.status]
