"""One trial: load data, fit, encode, evaluate with the harness's metric engine, store.

:func:`run_trial` is plain Python: Ray Tune calls it through ``bench.runner.tune``, the
in-process executor and tests call it directly. Whatever happens, the trial leaves a record:
``finished`` (metrics, codes), ``failed`` (error type and message, stage, traceback file,
attempt, node, timing; then the exception propagates) or ``pruned`` (a reporter raised
:class:`TrialPruned`). No tracking call happens before the record and codes are written
(per-epoch metrics are kept and logged after), and tracking is best effort (``bench.tracking``).

A *search* trial (``bench tune``, ``search=True``) scores every ``ctx.report`` round on the
held-out validation split (reported as :data:`VALIDATION_METRIC`, so a scheduler can stop it
early) and, after ``fit``, the validation split only: the query set and the retrieval database
are never encoded or evaluated and no codes are written. Its record (``finished`` with the
validation score and no metrics, or ``pruned``, or ``failed``) goes to ``cfg.results_dir``,
which ``bench tune`` points at the study's own folder, never at the results' records.

Compute threads (torch, numba, BLAS/OpenMP) are pinned to the trial's CPU request in every
execution mode, so a result does not depend on the machine's core count or on how it ran.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench import registry
from bench.environment import environment
from bench.errors import BenchError
from bench.fingerprint import data_fingerprint, running_method_source
from bench.metrics import PROTOCOL, evaluate_retrieval, pack_codes
from bench.plugins import FitContext, HashMethod, PairedData
from bench.results import ResultStore
from bench.runner.data import TrialData, load_dataset, prepare, with_features
from bench.runner.progress import TrialProgress
from bench.runner.stages import StageClock
from bench.schema import (
    ErrorInfo,
    ResultRecord,
    TrialConfig,
    failed_record,
    pruned_record,
    record_identity,
)
from bench.splits import index_checksum

Reporter = Callable[[dict[str, Any]], None]
Log = Callable[[str], None]
#: what a search trial reports every round and at its end (mean validation mAP, both directions)
VALIDATION_METRIC = "validation_map"
#: the key of a trial's last report (present only when the trial ran to its end)
FINAL_MARKER = "finished"


class TrialPruned(Exception):  # noqa: N818 - a signal, not an error
    """Raised by a reporter (a scheduler, ``bench tune``) to stop a trial early; the trial
    writes a ``pruned`` record (``validation``: what the reporter knows, e.g. the last score)
    and returns it."""

    def __init__(self, message: str = "", validation: Mapping[str, Any] | None = None):
        super().__init__(message)
        self.validation = dict(validation or {})


def resolve_device(requested: str) -> str:
    """``auto`` -> cuda when available, else cpu; ``cuda`` without CUDA is an error. Torch is
    imported only when a GPU driver is present or torch is imported already, so that a trial of
    a numpy method never pays for it."""
    if requested == "cpu":
        return "cpu"
    available = False
    if "torch" in sys.modules or gpu_driver_present():
        try:
            import torch

            available = torch.cuda.is_available()
        except ImportError:
            available = False
    if requested == "cuda" and not available:
        raise BenchError("--device cuda: CUDA is not available here (torch.cuda.is_available() "
                         "is False); use --device cpu or auto")
    return "cuda" if available else "cpu"


#: files that exist where a GPU driver is installed (NVIDIA, AMD ROCm, WSL2's GPU bridge)
GPU_DRIVER_FILES = ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/kfd", "/dev/dxg")


def gpu_driver_present() -> bool:
    """False when no GPU driver is installed (torch.cuda.is_available() is then False too)."""
    return any(os.path.exists(p) for p in GPU_DRIVER_FILES)


@contextlib.contextmanager
def limited_threads(n: int) -> Iterator[int]:
    """Pin torch, numba and BLAS/OpenMP thread pools to ``n`` threads (restored after). Torch
    is not imported here: when it is not loaded yet, ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS``
    are set to ``n`` for the duration, so a torch loaded inside starts with ``n`` threads (and
    keeps them)."""
    n = max(1, int(n))
    with contextlib.ExitStack() as stack:
        torch = sys.modules.get("torch")
        if torch is not None:  # registered first, so restored last (after the OpenMP pools)
            stack.callback(torch.set_num_threads, torch.get_num_threads())
            torch.set_num_threads(n)
        else:
            for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                stack.callback(_restore_env, name, os.environ.get(name))
                os.environ[name] = str(n)
        try:
            import numba

            stack.callback(numba.set_num_threads, numba.get_num_threads())
            numba.set_num_threads(min(n, numba.config.NUMBA_NUM_THREADS))
        except ImportError:
            pass
        try:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=n))
        except ImportError:
            pass
        if torch is not None:
            torch.set_num_threads(n)  # threadpoolctl may have reset OpenMP
        yield n


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def encode_both(method: HashMethod, data: PairedData) -> dict[str, dict[int, np.ndarray]]:
    out = {"image": method.encode(data, "image"), "text": method.encode(data, "text")}
    for modality, per_bits in out.items():
        for b in method.bits:
            codes = per_bits.get(b)
            if codes is None or codes.shape != (len(data), b):
                got = None if codes is None else codes.shape
                raise ValueError(f"{method.spec.name}.encode({modality}) gave {got} for {b} bits, "
                                 f"expected {(len(data), b)}")
    return out


def encode_database(method: HashMethod, data: PairedData,
                    database_codes: str) -> dict[str, dict[int, np.ndarray]]:
    """The database codes each direction searches: ``{"image": ..., "text": ...}`` (T→I
    searches "image", I→T "text"). ``per-modality``: each modality coded alone; ``unified``:
    one set of codes from both modalities (:meth:`HashMethod.encode_unified`) for both."""
    if database_codes != "unified":
        return encode_both(method, data)
    codes = method.encode_unified(data)
    for b in method.bits:
        got = codes.get(b)
        if got is None or got.shape != (len(data), b):
            raise ValueError(f"{method.spec.name}.encode_unified gave "
                             f"{None if got is None else got.shape} for {b} bits, expected "
                             f"{(len(data), b)}")
    return {"image": codes, "text": codes}


def evaluate_codes(q: Mapping[str, np.ndarray], r: Mapping[str, np.ndarray],
                   q_labels: np.ndarray, r_labels: np.ndarray,
                   k_values: tuple[int, ...]) -> dict[str, dict[str, Any]]:
    """Both directions: image queries vs text database, and text queries vs image database."""
    return {
        "i2t": evaluate_retrieval(q["image"], r["text"], q_labels, r_labels, k_values=k_values),
        "t2i": evaluate_retrieval(q["text"], r["image"], q_labels, r_labels, k_values=k_values),
    }


VALIDATION_RULE = ("validation queries ranked against a held-out database (a seeded sample of "
                   "training-pool items, never the query set, never a query's own pair); mean "
                   "mAP@all of both directions at the first bit length")


def validation_score(method: HashMethod, data: TrialData,
                     database_codes: str = "per-modality") -> float | None:
    """The held-out validation signal of ``method``'s current encoder (see VALIDATION_RULE),
    its database coded as the trial's (``database_codes``)."""
    if len(data.validation) == 0 or len(data.validation_database) == 0:
        return None
    b = method.bits[0]
    q = encode_both(method, data.validation)
    db = encode_database(method, data.validation_database, database_codes)
    res = evaluate_codes({m: q[m][b] for m in q}, {m: db[m][b] for m in db},
                         data.labels[data.split.validation],
                         data.labels[data.validation_database_index],
                         (len(data.validation_database),))
    values = [res[d]["map_all"] for d in res if res[d]["map_all"] is not None]
    return float(np.mean(values)) if values else None


def run_trial(cfg: TrialConfig | Mapping[str, Any], report: Reporter | None = None,
              log: Log | None = None, search: bool = False) -> ResultRecord:
    """Run one trial and return its record (also written to the results folder);
    ``search``: a search trial (see the module doc). The trial holds its key's claim
    (:func:`bench.locks.claim_key`) throughout: while another driver computes the same key it
    waits, then returns that driver's record when it finished the key meanwhile (nothing is
    computed or logged twice). An interruption (KeyboardInterrupt, SystemExit) leaves no
    ``failed`` record: the key stays as it was, for a rerun to compute."""
    from bench.locks import claim_key

    cfg = cfg if isinstance(cfg, TrialConfig) else TrialConfig.from_dict(cfg)
    report = report or (lambda metrics: None)
    say = log or (lambda msg: print(f"[{cfg.key}] {msg}", flush=True))
    with claim_key(cfg.results_dir, cfg.key, cfg.run_id, log=say):
        other = finished_by_other_run(cfg)
        if other is not None:
            say(f"bench: {cfg.key}: finished meanwhile by run {other.run.get('id')} (another "
                "driver on this results folder); not computed again")
            score = other.validation.get("score")
            report({FINAL_MARKER: 1, **({VALIDATION_METRIC: score} if score is not None
                                        else {})})
            return other
        return _run_claimed(cfg, report, log, search)


def run_started(run_id: str, results_dir: str | Path) -> float | None:
    """When driver run ``run_id`` started (before it planned): the time in its id, else its
    manifest's; None when unknown."""
    from bench.runner.manifest import Manifest

    with contextlib.suppress(ValueError, IndexError):
        return time.mktime(time.strptime(run_id[4:19], "%Y%m%d-%H%M%S"))
    m = Manifest.find(Path(results_dir), run_id) if run_id else None
    return m.started if m is not None else None


def finished_by_other_run(cfg: TrialConfig) -> ResultRecord | None:
    """The verified finished record of ``cfg.key`` that another driver run wrote after this
    run started (so this run planned it as missing, or as one to redo with --force); else
    None."""
    store = ResultStore(Path(cfg.results_dir))
    done, _ = store.check_finished(cfg.method, cfg.dataset, cfg.key)
    rec = store.read(cfg.method, cfg.dataset, cfg.key) if done else None
    if rec is None or not cfg.run_id or (rec.run or {}).get("id") in (None, cfg.run_id):
        return None
    started = run_started(cfg.run_id, cfg.results_dir)
    try:
        written = store.record_path(cfg.method, cfg.dataset, cfg.key).stat().st_mtime
    except OSError:
        return None
    return rec if started is not None and written >= started else None


def _run_claimed(cfg: TrialConfig, report: Reporter, log: Log | None,
                 search: bool) -> ResultRecord:
    progress = TrialProgress.of(cfg)
    log = progress.logger(log or (lambda msg: print(f"[{cfg.key}] {msg}", flush=True)))
    store = ResultStore(Path(cfg.results_dir))
    previous = store.read(cfg.method, cfg.dataset, cfg.key)
    lost = store.attempts_of(cfg.key, cfg.run_id)  # attempts of this run whose worker died
    attempt = (previous.attempt if previous is not None and not previous.finished else 0) \
        + len(lost) + 1
    where = {"node": platform.node(), "ray_node": _ray_node()}
    store.start_attempt(cfg.key, cfg.run_id, {"attempt": attempt, **where})
    store.clear_partial_writes(cfg.method, cfg.dataset, cfg.key)
    started = time.time()
    stage = StageClock(on_enter=progress.stage)
    report = stage.harness(report)  # time waiting for Ray Tune is not the method's
    tracker = TrialTracker(cfg, log, attempt, progress)
    conditions = _conditions(cfg)
    common = {"attempt": attempt, "lost_attempts": lost, "tracking_state": tracker.state,
              **where}

    def _close(record: ResultRecord) -> None:  # after the record is written, whatever it says
        store.end_attempt(cfg.key)
        tracker.finish(record, store)
        progress.end(record.status)

    try:
        with limited_threads(conditions["threads"]):
            record = _run(cfg, store, report, log, tracker, stage, search)
        for name, value in common.items():
            setattr(record, name, value)
        record.threads = conditions["threads"]
        record.timing = {**record.timing, **_times(started, stage), "conditions": conditions}
        store.write_record(record)
    except TrialPruned as exc:
        record = pruned_record(cfg, {"last": str(exc) or None, "stage": stage.name,
                                     **exc.validation},
                               timing={**_times(started, stage), "conditions": conditions},
                               environment=environment(), device=_device_or_blank(cfg),
                               **common)
        store.write_record(record)
        _close(record)
        return record
    except BaseException as exc:
        if _not_a_failure(exc):  # interrupted, or a full disk: nothing is recorded
            with contextlib.suppress(OSError):
                store.end_attempt(cfg.key)
                store.clear_partial_writes(cfg.method, cfg.dataset, cfg.key)
                progress.end("interrupted")
            raise
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        tb_file = store.write_traceback(cfg.key, attempt, text)
        error = ErrorInfo(type=type(exc).__name__, message=_message(exc), stage=stage.name,
                          traceback_file=tb_file)
        record = failed_record(cfg, error,
                               timing={**_times(started, stage), "conditions": conditions},
                               environment=environment(), device=_device_or_blank(cfg),
                               **common)
        store.write_record(record)
        _close(record)
        raise
    _close(record)
    # Only the held-out validation score goes to Ray Tune (schedulers, searchers): test-query
    # metrics are in the record and never reach a tuner.
    score = record.validation.get("score")
    report({FINAL_MARKER: 1, **({VALIDATION_METRIC: score} if score is not None else {})})
    return record


def _not_a_failure(exc: BaseException) -> bool:
    """An interruption (Ctrl-C, SIGTERM, a stopped Ray worker) or a full disk: not the
    method's failure, and no record of it could be trusted (or written)."""
    return isinstance(exc, (KeyboardInterrupt, SystemExit)) or (
        isinstance(exc, OSError) and exc.errno == errno.ENOSPC)


def _device_or_blank(cfg: TrialConfig) -> str:
    """The device the trial ran (or would have run) on, for a failed or pruned record."""
    try:
        return resolve_device(cfg.device)
    except BenchError:
        return ""


def _ray_node() -> dict[str, str] | None:
    from bench.runner.ray_session import node_identity

    return node_identity()


def _times(started: float, stage: StageClock) -> dict[str, Any]:
    """Wall-clock span of the trial (unix times) and its steps' own times and peak memory."""
    ended = time.time()
    return {"total_s": ended - started, "started_at": round(started, 3),
            "ended_at": round(ended, 3), "stages": stage.profile()}


def _message(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:2000] if text else ""


def _conditions(cfg: TrialConfig) -> dict[str, Any]:
    """What a timing depends on, recorded with it."""
    try:
        load = round(os.getloadavg()[0], 2)
    except OSError:
        load = None
    return {"threads": max(1, int(float(dict(cfg.resources).get("cpu", 1)))),
            "cpu_count": os.cpu_count(), "load_avg_1m_at_start": load,
            "host": platform.node(), "processor": platform.processor() or platform.machine()}


def _run(cfg: TrialConfig, store: ResultStore, report: Reporter, log: Log,
         tracker: TrialTracker, stage: StageClock, search: bool = False) -> ResultRecord:
    spec = registry.methods.get(cfg.method)
    dspec = registry.datasets.get(cfg.dataset)
    stage.enter("data")
    ds = load_dataset(cfg.dataset, cfg.data_root, cfg.cache_dir,
                      dict(cfg.definition.dataset_options))
    expected = cfg.definition.data_fingerprint
    if expected and data_fingerprint(ds, cfg.data_root) != expected:
        raise BenchError(f"the data loaded here ({cfg.data_root or cfg.dataset}) is not the "
                         "data the run was planned with (content fingerprint differs); every "
                         "node must see the same dataset files")
    stage.enter("features")
    ds = with_features(ds, spec.inputs, cfg.encoder, cfg.cache_dir, log=log)
    stage.enter("split")
    preset = dspec.preset(cfg.preset_name)
    data = prepare(ds, preset, cfg.budget, cfg.seed, spec.inputs, spec.labels_at_encode)
    t_data = stage.seconds("data", "features", "split")

    stage.enter("method")
    device = resolve_device(cfg.device)
    method = spec.load()(list(cfg.bits), cfg.params, cfg.seed, device)
    workdir = Path(cfg.results_dir) / "work" / cfg.key
    workdir.mkdir(parents=True, exist_ok=True)

    rounds: list[tuple[int, float | None]] = []  # (epoch, validation score) of a search
    db_codes = cfg.definition.database_codes

    def validate() -> float | None:
        return validation_score(method, data, db_codes)

    def on_epoch(epoch: int, **metrics: Any) -> None:
        clean = {k: float(v) for k, v in metrics.items()
                 if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if search:  # every round is scored on the validation split
            score = validate()
            rounds.append((int(epoch), score))
            if score is not None:
                clean[VALIDATION_METRIC] = score
        tracker.epoch(int(epoch), clean)
        report({"epoch": int(epoch), **clean})

    ctx = FitContext(validation=data.validation, seed=cfg.seed, device=device, workdir=workdir,
                     dataset=cfg.dataset, report=on_epoch,
                     validate=validate, log=log)
    stage.enter("fit")
    method.fit(data.train, ctx)
    used_index = (data.train_index if method.train_rows_used is None
                  else data.train_index[method.train_rows_used])
    if search:
        stage.enter("validation")
        record = _finished_record(cfg, spec, method, data, ds, used_index, device,
                                  validate())
        record.validation["rounds"] = [[epoch, score] for epoch, score in rounds]
        record.timing = {"data_s": t_data, "fit_s": stage.seconds("fit"),
                         "validation_s": stage.seconds("validation")}
        return record

    stage.enter("encode")
    q_codes = encode_both(method, data.query)
    r_codes = encode_database(method, data.retrieval, db_codes)
    stage.enter("validation")
    val = validate()

    stage.enter("evaluate")
    k_values = cfg.definition.k_values or tuple(PROTOCOL["k_values"])
    q_labels, r_labels = data.labels[data.query_index], data.labels[data.retrieval_index]
    metrics: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {
        "q_index": data.query_index, "r_index": data.retrieval_index,
        "train_index": data.train_index, "train_index_used": used_index,
        "q_labels": q_labels, "r_labels": r_labels,
    }
    for b in method.bits:
        q = {m: q_codes[m][b] for m in q_codes}
        r = {m: r_codes[m][b] for m in r_codes}
        metrics[str(b)] = evaluate_codes(q, r, q_labels, r_labels, tuple(k_values))
        for role, codes in (("q", q), ("r", r)):
            arrays[f"{role}_img_{b}"] = pack_codes(codes["image"])
            arrays[f"{role}_txt_{b}"] = pack_codes(codes["text"])

    stage.enter("store")
    codes = store.write_codes(cfg.key, arrays)
    record = _finished_record(cfg, spec, method, data, ds, used_index, device, val)
    record.split["database_order_checksum"] = index_checksum({"retrieval": data.retrieval_index})
    record.metrics, record.protocol, record.codes = metrics, dict(PROTOCOL), codes
    record.timing = {"data_s": t_data, "fit_s": stage.seconds("fit"),
                     "encode_s": stage.seconds("encode"), "eval_s": stage.seconds("evaluate")}
    return record


def _finished_record(cfg: TrialConfig, spec: Any, method: HashMethod, data: TrialData,
                     ds: Any, used_index: np.ndarray, device: str,
                     val: float | None) -> ResultRecord:
    """The fields of a finished record that do not depend on query evaluation (a search
    trial's record has only these, with the validation rounds)."""
    return ResultRecord(
        key=cfg.key, status="finished", **record_identity(cfg),
        resolved_params=method.resolved_params,
        method_source=running_method_source(spec), supervision=spec.supervision,
        labels_at_encode=spec.labels_at_encode,
        features={k: v for k, v in (ds.info.get("features") or {}).items()
                  if k in ("file", "key")} or None,
        n_train=int(len(data.train_index)), n_train_used=int(len(used_index)),
        train_index_used=None if method.train_rows_used is None else used_index.tolist(),
        split={"checksum": data.split.checksum(), "sizes": data.split.sizes(),
               "train_checksum": index_checksum({"train": data.train_index}),
               "train_used_checksum": index_checksum({"train": used_index})},
        selection=method.selection_rule,
        validation={"score": val, "map_mean_first_bits": val, "rule": VALIDATION_RULE,
                    "queries": len(data.validation), "database": len(data.validation_database)},
        node=platform.node(), device=device, environment=environment(),
    )


#: a trial's per-epoch metrics for the driver to log (``work/<key>/`` of the results folder)
TRACKING_HISTORY = "tracking-history.json"


def history_path(results_dir: str | Path, key: str) -> Path:
    return Path(results_dir) / "work" / key / TRACKING_HISTORY


class TrialTracker:
    """A trial's MLflow child run, best effort. Nothing is sent before the record and codes
    are written: per-epoch metrics are kept (with their times) and logged at the end, so a
    tracking outage can neither lose a result nor slow the timed steps. :attr:`state` is what
    the record says: "off" (no tracking), "pending" (not, or not completely, logged yet: ``bench
    mlflow sync`` uploads it) or "logged".

    With ``tracking.by_driver`` the trial makes no tracking call at all: it keeps its per-epoch
    metrics in :func:`history_path` and the driver logs its record (:mod:`bench.runner.relay`,
    through :meth:`for_record`)."""

    def __init__(self, cfg: TrialConfig, log: Log, attempt: int, progress: TrialProgress,
                 env: Mapping[str, Any] | None = None):
        self.cfg, self.log, self.attempt, self.progress = cfg, log, attempt, progress
        self.env = env
        self.logger: Any = None
        self.state = "off" if cfg.tracking is None else "pending"
        self.history: list[tuple[int, float, dict[str, float]]] = []

    @classmethod
    def for_record(cls, cfg: TrialConfig, record: ResultRecord, log: Log) -> TrialTracker:
        """The tracker that logs ``record`` (written by a trial of ``cfg`` run with
        ``tracking.by_driver``) from the driver, with the trial's per-epoch metrics."""
        from dataclasses import replace

        assert cfg.tracking is not None
        tracker = cls(cfg.with_tracking(replace(cfg.tracking, by_driver=False)), log,
                      record.attempt, TrialProgress(None), env=record.environment)
        path = history_path(cfg.results_dir, cfg.key)
        with contextlib.suppress(OSError, ValueError):
            tracker.history = [(int(step), float(t), dict(m))
                               for step, t, m in json.loads(path.read_text())]
        return tracker

    def _open(self) -> Any:
        t = self.cfg.tracking
        if self.logger is None and t is not None and t.experiment_id is not None:
            from bench.tracking import RunLogger, trial_params, trial_tags

            cfg, d = self.cfg, self.cfg.definition
            self.logger = RunLogger(
                t.uri, t.experiment_id, run_name=cfg.key, parent_run_id=t.parent_run_id,
                warn=self.log,
                tags={**trial_tags(key=cfg.key, method=cfg.method, dataset=cfg.dataset,
                                   preset=cfg.preset_name, bits=cfg.bits, budget=d.budget,
                                   seed=cfg.seed, group=d.group,
                                   protocol_version=d.protocol_version,
                                   env=self.env or environment(),
                                   attempt=self.attempt, run_id=cfg.run_id),
                      **({"tuned_by": cfg.tuning.get("study"),
                          "tuning.role": cfg.tuning.get("role", "")} if cfg.tuning else {})})
            self.logger.log_params(trial_params(
                method=cfg.method, method_version=d.method_version, dataset=cfg.dataset,
                preset=cfg.preset_name, bits=cfg.bits, budget=d.budget, seed=cfg.seed,
                params=cfg.params))
        return self.logger

    def epoch(self, epoch: int, metrics: Mapping[str, float]) -> None:
        self.progress.epoch(epoch)
        if self.cfg.tracking is not None and metrics:
            self.history.append((epoch, time.time(),
                                 {f"train.{k}": v for k, v in metrics.items()}))

    def finish(self, record: ResultRecord, store: ResultStore) -> None:
        """Final metrics, artifacts and status; then the record notes the run id and whether
        everything reached MLflow ("logged") or not ("pending"). Never raises."""
        self.progress.stage("tracking")
        if self.cfg.tracking is not None and self.cfg.tracking.by_driver:
            path = history_path(self.cfg.results_dir, self.cfg.key)
            with contextlib.suppress(OSError):  # for the driver, which logs the record
                if self.history:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    path.write_text(json.dumps(self.history))
                else:  # not an earlier attempt's
                    path.unlink(missing_ok=True)
            return
        logger = self._open()
        if logger is None:
            return
        from bench.tracking import log_record, run_status

        logger.log_history(self.history)
        log_record(logger, record, store.root,
                   store.record_path(record.method, record.dataset, record.key),
                   run_status(record))
        record.mlflow_run_id = logger.run_id
        record.tracking_error = logger.error
        record.tracking_state = "logged" if logger.error is None else "pending"
        with contextlib.suppress(OSError):
            store.write_record(record)


__all__ = ["TrialPruned", "encode_both", "encode_database", "evaluate_codes", "run_trial",
           "validation_score", "limited_threads", "TrialTracker", "history_path",
           "resolve_device", "VALIDATION_RULE",
           "VALIDATION_METRIC", "FINAL_MARKER"]
