"""``bench mlflow sync``: upload to MLflow what the records say did not reach it, idempotently.

A trial whose tracking failed (the server was down when the run started, or went down during
the trial) still writes its record and codes; the record says ``tracking_state: "pending"``.
:func:`sync` logs each pending record the way the trial would have (:func:`bench.tracking.
log_record`), under the parent run of its driver run (found in the run's manifest, or created
once and noted there), then marks the record ``logged``.

Runs are matched by result key, driver run and attempt (the ``result_key``, ``run_id`` and
``attempt`` tags; or the run id the record noted), so a run the trial had started before the
outage is completed rather than duplicated, and running the sync again changes nothing.
``all_records=True`` checks every record against the store, not only the pending ones (e.g.
after moving to a new tracking server).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import tracking
from bench.errors import BenchError
from bench.results import ResultStore
from bench.runner.manifest import Manifest
from bench.schema import ResultRecord

Log = Callable[[str], None]
PARENT_STATUS = {"finished": "FINISHED", "failed": "FAILED", "killed": tracking.KILLED}


@dataclass
class SyncReport:
    checked: int = 0
    created: list[str] = field(default_factory=list)  #: keys whose run was created
    completed: list[str] = field(default_factory=list)  #: keys whose partial run was completed
    already: list[str] = field(default_factory=list)  #: keys already complete in the store
    parents_created: list[str] = field(default_factory=list)  #: driver run ids
    errors: list[tuple[str, str]] = field(default_factory=list)  #: (key, error)

    def lines(self) -> list[str]:
        out = [f"bench: mlflow sync: {self.checked} record(s) checked: {len(self.created)} run(s) "
               f"created, {len(self.completed)} completed, {len(self.already)} already logged, "
               f"{len(self.parents_created)} parent run(s) created, {len(self.errors)} left "
               "pending"]
        out += [f"bench:   {key}: {err}" for key, err in self.errors]
        return out


def pending_keys(results: Path, keys: Iterable[str] | None = None) -> set[str]:
    """Keys (of ``keys``, default all) whose record says its tracking is pending."""
    wanted = None if keys is None else set(keys)
    return {r.key for r in ResultStore(Path(results)).load_records()
            if r.tracking_state == "pending" and (wanted is None or r.key in wanted)}


def sync(results: Path, uri: str | None = None, experiment: str | None = None,
         all_records: bool = False, log: Log = print,
         keys: Iterable[str] | None = None) -> SyncReport:
    """Upload the pending records of ``results`` (see the module doc); ``keys`` restricts it
    to those results. ``uri`` and ``experiment`` default to those of each record's run (its
    manifest), then to the results folder's SQLite store and experiment ``bench``."""
    results = Path(results).resolve()
    if not results.is_dir():
        raise BenchError(f"results folder {results} does not exist")
    if uri is not None:
        tracking.check_uri(uri)  # before anything is read or written
    store = ResultStore(results)
    report = SyncReport()
    wanted = None if keys is None else set(keys)
    todo = [r for r in store.load_records(warn=log)
            if (r.tracking_state == "pending" or (all_records and r.tracking_state != "off"))
            and (wanted is None or r.key in wanted)]
    clients: dict[tuple[str, str], _Target] = {}
    for rec in sorted(todo, key=lambda r: (r.run.get("id") or "", r.key)):
        report.checked += 1
        manifest = Manifest.find(results, rec.run.get("id") or "")
        target_uri = uri or (manifest.tracking_uri if manifest else None) \
            or tracking.default_tracking_uri(results)
        name = experiment or (manifest.experiment if manifest else None) or tracking.EXPERIMENT
        target = clients.get((target_uri, name))
        if target is None:
            target = clients[(target_uri, name)] = _Target.open(target_uri, name, results)
        try:
            outcome = target.upload(rec, store, manifest, report)
        except _Failed as exc:
            report.errors.append((rec.key, str(exc)))
            continue
        getattr(report, outcome).append(rec.key)
    return report


class _Failed(Exception):
    pass


@dataclass
class _Target:
    """One tracking store and experiment."""

    uri: str
    experiment_id: str
    results: Path
    parents: dict[str, str] = field(default_factory=dict)  #: driver run id -> parent run id

    @classmethod
    def open(cls, uri: str, name: str, results: Path) -> _Target:
        tracking.check_uri(uri)
        try:
            return cls(uri, tracking.prepare_experiment(uri, results, name), results)
        except Exception as exc:  # noqa: BLE001 - one line: the store is not reachable
            raise BenchError(f"MLflow at {uri} is not reachable ({tracking.first_line(exc)}); "
                             "nothing was changed, the records stay pending") from None

    def client(self) -> Any:
        return tracking.client(self.uri)

    def _find(self, filter_string: str) -> list[Any]:
        return tracking.retry(lambda: self.client().search_runs(
            [self.experiment_id], filter_string=filter_string, max_results=100))

    def _exists(self, run_id: str | None) -> bool:
        if not run_id:
            return False
        try:
            run = tracking.retry(lambda: self.client().get_run(run_id))
        except Exception:  # noqa: BLE001 - absent (or another store's id)
            return False
        return run.info.experiment_id == self.experiment_id

    def parent_for(self, run_id: str, manifest: Manifest | None, report: SyncReport) -> str:
        if run_id in self.parents:
            return self.parents[run_id]
        parent = manifest.parent_run_id if manifest is not None else None
        if not self._exists(parent):
            found = self._find(f"tags.run_id = '{run_id}' and tags.kind = 'bench run'")
            parent = found[0].info.run_id if found else None
        if parent is not None:
            self._close_parent(parent, manifest)
        if parent is None:
            tags = {"kind": "bench run", "run_id": run_id, "bench.synced": "true"}
            if manifest is not None:
                tags.update({"command": manifest.command, "bench.sweep": manifest.sweep})
            logger = tracking.RunLogger(self.uri, self.experiment_id, run_name=run_id,
                                        tags=tags, warn=lambda m: None)
            if logger.error or logger.run_id is None:
                raise _Failed(f"cannot create the parent run: {logger.error}")
            status = PARENT_STATUS.get(manifest.status, "FINISHED") if manifest else "FINISHED"
            logger.end(status)
            parent = logger.run_id
            report.parents_created.append(run_id)
            if manifest is not None:
                manifest.parent_run_id = parent
                manifest.write(self.results)
        self.parents[run_id] = parent
        return parent

    def _close_parent(self, parent: str, manifest: Manifest | None) -> None:
        """End a parent run left RUNNING (its driver could not end it: the store was down)
        with the final status of its driver run's manifest; a run still going is left alone."""
        status = PARENT_STATUS.get(manifest.status) if manifest is not None else None
        if status is None:
            return
        run = tracking.retry(lambda: self.client().get_run(parent))
        if run.info.status == "RUNNING":
            tracking.retry(lambda: self.client().set_terminated(parent, status))

    def upload(self, rec: ResultRecord, store: ResultStore, manifest: Manifest | None,
               report: SyncReport) -> str:
        """Log ``rec``; returns which list of the report its key belongs to."""
        try:
            store.check_paths(rec)  # a record pointing outside the folder is never uploaded
        except BenchError as exc:
            raise _Failed(str(exc)) from None
        existing = self._trial_run(rec)
        # complete only with the record's own end status: a run whose driver died after its
        # status tag was set was closed as KILLED by the next driver and must still end FINISHED
        if existing is not None and existing.info.status == tracking.run_status(rec) \
                and existing.data.tags.get("status") == rec.status:
            self._mark_logged(rec, store, existing.info.run_id)
            parent = existing.data.tags.get("mlflow.parentRunId")
            if parent and self._exists(parent):  # its parent may still be left RUNNING
                self._close_parent(parent, manifest)
            return "already"
        parent = self.parent_for(rec.run.get("id") or "unknown", manifest, report)
        tags = tracking.trial_tags(
            key=rec.key, method=rec.method, dataset=rec.dataset,
            preset=str(rec.preset.get("name")), bits=rec.bits, budget=rec.budget,
            seed=rec.seed, group=rec.group,
            protocol_version=rec.definition.get("protocol_version"), env=rec.environment,
            attempt=rec.attempt, run_id=rec.run.get("id") or "")
        logger = tracking.RunLogger(
            self.uri, self.experiment_id, run_name=rec.key, tags=tags, parent_run_id=parent,
            warn=lambda m: None, run_id=existing.info.run_id if existing else None)
        logger.log_params(tracking.trial_params(
            method=rec.method, method_version=rec.method_version, dataset=rec.dataset,
            preset=str(rec.preset.get("name")), bits=rec.bits, budget=rec.budget,
            seed=rec.seed, params=rec.params))
        tracking.log_record(logger, rec, store.root,
                            store.record_path(rec.method, rec.dataset, rec.key),
                            tracking.run_status(rec))
        if logger.error is not None or logger.run_id is None:
            raise _Failed(logger.error or "the run could not be created")
        self._mark_logged(rec, store, logger.run_id)
        return "completed" if existing is not None else "created"

    def _trial_run(self, rec: ResultRecord) -> Any:
        """This record's run in the store (same result key, driver run and attempt), if any."""
        runs = self._find(f"tags.result_key = '{rec.key}'")
        same = [r for r in runs if r.info.run_id == rec.mlflow_run_id]
        same += [r for r in runs if r.data.tags.get("attempt") == str(rec.attempt)
                 and r.data.tags.get("run_id") == rec.run.get("id") and r not in same]
        return same[0] if same else None

    @staticmethod
    def _mark_logged(rec: ResultRecord, store: ResultStore, run_id: str) -> None:
        rec.mlflow_run_id, rec.tracking_error, rec.tracking_state = run_id, None, "logged"
        store.write_record(rec)
