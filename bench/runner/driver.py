"""The run driver: a typed :class:`RunRequest` in, a :class:`RunSummary` out.

``bench run``, ``bench tune`` and tests all go through it; the CLI only turns flags into a
request. The steps are public so that other drivers can reuse them:

1. :func:`check_request` - every check that needs no data, in milliseconds (names, numbers,
   parameter types and ranges, seeds, resources, device, files, budgets against the pool size
   when the dataset declares its size). Bad input is a one-line ``BenchError`` before anything
   is written.
2. :func:`plan` - load the dataset and fingerprint its content, check every method's data
   requirements and every budget against the real split, extract the frozen encoder's features
   once, and build the complete trial configs (final keys); then sort them into trials to run
   and trials already finished (a finished record whose codes file matches its checksum).
3. :func:`execute` - the run's manifest (``runs/<run id>.json``, :mod:`bench.runner.manifest`),
   the MLflow parent run (best effort; a dead earlier driver of the same sweep has its parent
   run taken over, so a sweep's runs stay under one parent), then the trials through Ray Tune
   or in this process. One trial's failure never stops the others; every trial leaves a
   record, and a trial whose worker died without one (after its infrastructure retries, see
   :mod:`bench.runner.tune`) gets a ``failed`` record from the driver. A key another driver
   on the same results folder computes is waited for and counted as done
   (:mod:`bench.locks`); an interruption is no failure (:mod:`bench.runner.interrupt`).
4. :func:`run` - all of the above, then the leaderboard and the report of the run's dataset.
   With ``--address`` the cluster is joined and checked (reachable, authenticated, able to host
   every trial's CPU/GPU request) before any data is loaded.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import registry
from bench.errors import BenchError
from bench.files import writable_dir
from bench.params import method_params
from bench.results import ResultStore
from bench.runner.grid import (
    RunContext,
    bit_sets,
    check_database_codes,
    check_overrides,
    expand,
)
from bench.schema import (
    DEFAULT_DATABASE_CODES,
    ErrorInfo,
    ResultRecord,
    Tracking,
    TrialConfig,
    failed_record,
)
from bench.splits import budget_label, draw_budget, make_split

DEFAULT_DATASET = "synthetic-scenes"
#: the longest code length ``--bits`` accepts (published tables stop at 128; 1,024-bit codes
#: already need 128 bytes per item and modality)
MAX_BITS = 1024
#: a grid of more trials than this needs ``--yes`` (``RunRequest.confirmed``)
MAX_TRIALS_UNCONFIRMED = 500
MAX_SEED = 2**32 - 1
DEVICES = ("auto", "cpu", "cuda")
Log = Callable[[str], None]


@dataclass(frozen=True)
class Execution:
    """How trials run: through Ray Tune (a local instance, or a cluster at ``address``) or one
    by one in this process."""

    in_process: bool = False
    address: str | None = None
    num_cpus: int | None = None  #: CPUs of the local Ray instance (default: all)
    max_concurrent: int | None = None  #: trials at once (default: as resources allow)
    #: infrastructure failures (node lost, worker died) retried per trial; method errors never
    max_retries: int = 2
    #: a Ray worker runs trial after trial, keeping its imports and loaded data (False: a fresh
    #: worker process per trial, about 10 s each)
    reuse_workers: bool = True
    #: Ray's own output on the terminal too (Ray Tune's status table instead of the compact
    #: progress view); it always goes to RESULTS/logs/<run id>-ray.log
    verbose: bool = False


@dataclass(frozen=True)
class RunRequest:
    """Everything ``bench run`` is asked to do (values already parsed, not yet checked)."""

    methods: Sequence[str]
    bits: Sequence[int] = (16, 32, 64)
    dataset: str = DEFAULT_DATASET
    preset: str | None = None
    budgets: Sequence[int | float | None] = (None,)
    seeds: Sequence[int] = (0,)
    overrides: Mapping[str, Any] = field(default_factory=dict)  #: "param" or "method.param"
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    data_root: str | None = None
    encoder: str | None = None  #: frozen encoder for datasets without features
    encoder_weights: str | None = None
    results_dir: Path = Path("results")
    cache_dir: Path | None = None
    device: str = "auto"
    gpus_per_trial: float | None = None  #: overrides every method's GPU request
    tracking_uri: str | None = None  #: None: sqlite:///RESULTS/mlflow.db; "none": no tracking
    experiment: str = "bench"
    force: bool = False  #: redo finished trials
    execution: Execution = field(default_factory=Execution)
    command: str = ""  #: the command line, for the MLflow parent run
    report: bool = True  #: end with the report of the run's dataset (bench.report)
    #: how the retrieval database is coded (bench.schema.DATABASE_CODES); part of every key
    database_codes: str = DEFAULT_DATABASE_CODES
    #: ``--yes``: go ahead with a grid of more than MAX_TRIALS_UNCONFIRMED trials
    confirmed: bool = False

    @property
    def results_path(self) -> Path:
        return Path(self.results_dir).expanduser().resolve()

    @property
    def cache_path(self) -> Path:
        return (Path(self.cache_dir).expanduser().resolve() if self.cache_dir
                else self.results_path / "cache")


@dataclass
class Plan:
    request: RunRequest
    context: RunContext
    configs: list[TrialConfig]
    todo: list[TrialConfig]
    skipped: list[str]  #: keys already finished
    redo: dict[str, str]  #: key -> why a stored record is not reused
    split: Any = None  #: the dataset's split (bench.splits.Split) under the preset


@dataclass
class RunSummary:
    run_id: str
    results_dir: Path
    planned: int
    skipped: list[str]
    records: list[ResultRecord]  #: the records this run wrote (finished and failed)
    leaderboard: dict[str, Path] | None = None
    report: Path | None = None  #: the report page, when one was written

    @property
    def failed(self) -> list[ResultRecord]:
        return [r for r in self.records if r.status == "failed"]

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0

    def failure_lines(self) -> list[str]:
        if not self.failed:
            return []
        lines = [f"bench: {len(self.failed)} of {len(self.records)} trial(s) failed; their "
                 f"records (status 'failed') are in {self.results_dir / 'records'}, tracebacks "
                 f"in {self.results_dir / 'failures'}; a rerun retries them:"]
        for r in self.failed:
            err = r.error
            what = f"{err.type}: {err.message}" if err else "unknown error"
            where = f" (during {err.stage}, attempt {r.attempt})" if err and err.stage else ""
            lines.append(f"bench:   {r.key}: {what}{where}")
        return lines


# --------------------------------------------------------------------------- 1. check


def check_request(req: RunRequest) -> None:
    """Every check that needs no data (fast). Raises a one-line BenchError."""
    if not req.methods:
        raise BenchError("no method given")
    if len(set(req.methods)) != len(req.methods):
        raise BenchError(f"a method is listed twice in {','.join(req.methods)}")
    specs = [registry.methods.get(m) for m in req.methods]
    if not req.bits:
        raise BenchError("no bit lengths given")
    for b in req.bits:
        if isinstance(b, bool) or not isinstance(b, int) or not 0 < b <= MAX_BITS:
            raise BenchError(f"bits must be positive integers (at most {MAX_BITS}), got {b!r}")
    if len(set(req.bits)) != len(req.bits):
        raise BenchError(f"a bit length is listed twice in {list(req.bits)}")
    dspec = registry.datasets.get(req.dataset)
    preset = dspec.preset(req.preset)
    dataset_options(dspec, req.dataset_options)
    if not req.budgets:
        raise BenchError("no budget given")
    if len({budget_label(b) for b in req.budgets}) != len(req.budgets):
        raise BenchError(f"a budget is listed twice in {[budget_label(b) for b in req.budgets]}")
    if not req.seeds:
        raise BenchError("no seed given")
    for s in req.seeds:
        if isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= MAX_SEED:
            raise BenchError(f"seeds must be integers from 0 to {MAX_SEED}, got {s!r}")
    if len(set(req.seeds)) != len(req.seeds):
        raise BenchError(f"a seed is listed twice in {list(req.seeds)}")
    check_overrides(specs, req.overrides)
    check_database_codes(specs, req.database_codes)
    for spec in specs:
        method_params(spec, req.overrides)  # types and ranges of every --set value
    _check_resources(req, specs)
    _check_device(req)
    _check_encoder_file(req, dspec)
    if req.tracking_uri not in (None, "none"):
        from bench.tracking import check_uri

        check_uri(req.tracking_uri)
    _check_budgets_cheaply(req, dspec, preset)


def check_trial_count(n: int, confirmed: bool, what: str, log: Log) -> None:
    """Say how many trials are planned; more than MAX_TRIALS_UNCONFIRMED need ``--yes``."""
    log(f"bench: {n:,} trial(s) planned ({what})")
    if n > MAX_TRIALS_UNCONFIRMED and not confirmed:
        raise BenchError(f"{n:,} trials planned ({what}), more than "
                         f"{MAX_TRIALS_UNCONFIRMED}; pass --yes to run them all")


def dataset_options(dspec: Any, options: Mapping[str, Any]) -> dict[str, Any]:
    """``--dataset-opt`` values checked against the dataset's declared options (a real
    dataset's: its layouts' options) and canonical; a one-line BenchError."""
    allowed = None
    if not dspec.option_types and dspec.layouts:
        from bench.io.layouts import layout_options

        allowed = layout_options(dspec.layouts)
    return dspec.check_options(options, allowed)


def _check_resources(req: RunRequest, specs: Sequence[Any]) -> None:
    ex = req.execution
    if req.gpus_per_trial is not None and not req.gpus_per_trial >= 0:
        raise BenchError(f"--gpus-per-trial must be >= 0, got {req.gpus_per_trial}")
    if req.gpus_per_trial and not ex.address and not ex.in_process:
        _check_local_gpus(req.gpus_per_trial)
    if ex.max_concurrent is not None and ex.max_concurrent < 1:
        raise BenchError(f"--max-concurrent must be at least 1, got {ex.max_concurrent}")
    if ex.max_retries < 0:
        raise BenchError(f"--max-retries must be at least 0, got {ex.max_retries}")
    if ex.num_cpus is not None:
        if ex.num_cpus < 1:
            raise BenchError(f"--num-cpus must be at least 1, got {ex.num_cpus}")
        if ex.address:
            raise BenchError("--num-cpus sizes a local Ray instance; it cannot be combined "
                             "with --address (the cluster has its own resources)")
        need = max(float(s.resources.get("cpu", 1)) for s in specs)
        if need > ex.num_cpus:
            raise BenchError(f"--num-cpus {ex.num_cpus} is less than a trial's CPU request "
                             f"({need:g}); no trial could ever start")


def _check_local_gpus(per_trial: float) -> None:
    """A local Ray instance has this machine's GPUs: refuse a GPU request it cannot host
    before any data is generated (the cluster case is checked when joining it)."""
    import torch

    have = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if per_trial > have:
        raise BenchError(f"--gpus-per-trial {per_trial:g}: this machine has "
                         f"{'no GPU' if have == 0 else f'{have} GPU(s)'}; lower "
                         "--gpus-per-trial (0 on CPU-only machines) or use --address with a "
                         "GPU cluster")


def _check_device(req: RunRequest) -> None:
    if req.device not in DEVICES:
        raise BenchError(f"--device must be one of {', '.join(DEVICES)}, got {req.device!r}")
    if req.device == "cuda" and not req.execution.address:
        from bench.runner.trial import resolve_device

        resolve_device("cuda")


def _check_encoder_file(req: RunRequest, dspec: Any) -> None:
    """The encoder's weights file must exist when the run may need it (the dataset has no
    features of its own, or an encoder is named)."""
    from bench.encoders.compat import missing_open_clip
    from bench.encoders.models import BUNDLED, locate_weights

    if req.encoder is not None or req.encoder_weights:
        locate_weights(req.encoder or BUNDLED, req.encoder_weights)
    elif not dspec.needs_root and not {"image_features", "text_features"} <= set(dspec.provides):
        locate_weights(BUNDLED, None)
    else:
        return
    problem = missing_open_clip()
    if problem:
        raise BenchError(problem)


def _check_budgets_cheaply(req: RunRequest, dspec: Any, preset: Any) -> None:
    """Budgets against the training pool before any data is generated, when the dataset knows
    its size from its options and the preset needs no labels."""
    n = dspec.size(dataset_options(dspec, req.dataset_options))
    if n is None or preset.fixed or preset.query_per_class or preset.train_per_class:
        return
    split = make_split(n, preset)
    for b in req.budgets:
        draw_budget(split, b, 0)


# --------------------------------------------------------------------------- 2. plan


def plan(req: RunRequest, log: Log = print, run_id: str | None = None) -> Plan:
    """Load and check the data, extract features, build the trials (see the module doc)."""
    from bench.fingerprint import data_fingerprint
    from bench.runner.data import (
        check_requirements,
        load_dataset,
        needs_encoder,
        uses_features,
        with_features,
    )

    results = writable_dir(req.results_path)
    cache = req.cache_path
    store = ResultStore(results)
    store.scan(warn=log, quarantine=True)  # quarantine unreadable records now, with a warning
    dspec = registry.datasets.get(req.dataset)
    preset = dspec.preset(req.preset)
    data_root = str(Path(req.data_root).expanduser().resolve()) if req.data_root else None
    options = dataset_options(dspec, req.dataset_options)
    log(f"bench: loading dataset {req.dataset} ...")
    ds = load_dataset(req.dataset, data_root, str(cache), options)
    fingerprint = data_fingerprint(ds, data_root)
    specs = [registry.methods.get(m) for m in req.methods]
    split = make_split(len(ds.items), preset, dict(ds.fixed_split) if ds.fixed_split else None,
                       labels=ds.items.labels)
    for b in req.budgets:
        draw_budget(split, b, 0)
    encoder = None
    if any(uses_features(s.inputs) for s in specs) and needs_encoder(ds):
        encoder = _encoder_for(req, dspec)
        ds = with_features(ds, ("image_features", "text_features"), encoder, str(cache), log=log)
    elif req.encoder is not None or req.encoder_weights:
        log(f"bench: note: dataset {ds.name} has features of its own (or no method here reads "
            "features); --encoder is not used")
    for spec in specs:
        check_requirements(ds, spec.name, spec.inputs, spec.requires)
    if ds.items.labels is None:
        raise BenchError(f"dataset {ds.name!r} has no labels: it cannot be evaluated")
    ctx = RunContext(
        dataset=dspec.name, preset=preset, results_dir=str(results), cache_dir=str(cache),
        data_fingerprint=fingerprint, dataset_options=options,
        data_root=data_root, encoder=encoder, device=req.device,
        gpus_per_trial=req.gpus_per_trial, run_id=run_id or new_run_id(),
        requested_seeds=tuple(int(s) for s in req.seeds), database_codes=req.database_codes,
        train_pool=len(split.train_pool))
    configs = expand(req.methods, req.bits, req.budgets, req.seeds, req.overrides, ctx)
    todo, skipped, redo = [], [], {}
    for cfg in configs:
        done, why = store.check_finished(cfg.method, cfg.dataset, cfg.key)
        if done and not req.force:
            skipped.append(cfg.key)
            continue
        if why:
            redo[cfg.key] = why
        todo.append(cfg)
    return Plan(request=req, context=ctx, configs=configs, todo=todo, skipped=skipped,
                redo=redo, split=split)


#: what a results folder holds before its first trial: the cache and Ray's log
_BEFORE_TRIALS = ("cache", "logs")


def _missing(path: Path) -> Path | None:
    """The topmost folder of ``path`` (itself included) that does not exist yet."""
    top = None
    for p in (path, *path.parents):
        if p.exists():
            break
        top = p
    return top


@contextlib.contextmanager
def removed_on_error(req: RunRequest):
    """On an error while planning (before any trial), remove the folders this run created:
    the cache folder, and the results folder when it holds nothing but the cache and logs;
    a folder that existed before is never touched."""
    import shutil

    results = req.results_path
    new_results, new_cache = _missing(results), _missing(req.cache_path)
    try:
        yield
    except BaseException:
        if new_cache is not None and not (new_results is not None
                                          and new_cache.is_relative_to(new_results)):
            shutil.rmtree(new_cache, ignore_errors=True)
        if new_results is not None and results.is_dir() and all(
                e.name in _BEFORE_TRIALS or (e.is_dir() and not any(e.iterdir()))
                for e in results.iterdir()):
            shutil.rmtree(new_results, ignore_errors=True)
        raise


def _encoder_for(req: RunRequest, dspec: Any) -> dict[str, Any]:
    from bench.encoders.models import BUNDLED, resolve_encoder

    name = req.encoder
    if name is None and req.encoder_weights:
        name = BUNDLED
    if name is None:
        if dspec.needs_root:
            raise BenchError(
                f"dataset {dspec.name!r} has images and captions but no features; name a "
                "frozen encoder with --encoder MODEL --encoder-weights FILE (e.g. ViT-B-32 with a "
                "local OpenAI file); '--encoder bundled' forces the project's tiny CLIP, which is "
                "trained on generated scenes only")
        name = BUNDLED
    return resolve_encoder(name, req.encoder_weights).as_config()


def new_run_id() -> str:
    return time.strftime("run-%Y%m%d-%H%M%S-") + uuid.uuid4().hex[:6]


# --------------------------------------------------------------------------- 3. execute


def execute(configs: Sequence[TrialConfig], req: RunRequest, run_id: str,
            log: Log = print, sweep: str | None = None) -> list[ResultRecord]:
    """Run ``configs``; returns the record each left (finished or failed), in order.
    ``sweep`` (default: from the configs' keys) names the sweep for taking over a dead run.
    Through Ray, Ray's own output goes to ``<results>/logs/<run id>-ray.log``
    (:mod:`bench.runner.ray_log`; also on the terminal with ``execution.verbose``)."""
    if not configs:
        return []
    if req.execution.in_process:
        return _execute(configs, req, run_id, log, sweep)
    from bench.runner.ray_log import RayOutput, ray_log_path

    path = ray_log_path(req.results_path, run_id)
    log(f"bench: Ray's own output goes to {path}"
        + (" (and here: --verbose)" if req.execution.verbose else ""))
    with RayOutput(path, req.execution.verbose) as ray_output:
        return _execute(configs, req, run_id, log, sweep, ray_output)


def _execute(configs: Sequence[TrialConfig], req: RunRequest, run_id: str, log: Log,
             sweep: str | None, ray_output: Any = None) -> list[ResultRecord]:
    from bench.runner.manifest import LOCK, Manifest, dead_runs, sweep_id

    results = req.results_path
    if not req.execution.in_process:  # Ray up and able to host every trial, before any write
        from bench.runner.tune import prepare_ray

        prepare_ray(configs, req.execution.address, req.execution.num_cpus)
        ray_output.capture_workers()
    manifest = Manifest(run_id=run_id, sweep=sweep or sweep_id([c.key for c in configs]),
                        command=req.command or " ".join(sys.argv), n_trials=len(configs),
                        address=req.execution.address, experiment=req.experiment)
    manifest.write(results)  # before any trial: trials check that they can see it
    dead = dead_runs(results, manifest.sweep, exclude=run_id)
    for d in dead:
        log(f"bench: run {d.run_id} of this sweep (driver {d.pid} on {d.host}) died without "
            "finishing; this run takes it over")
    relay = None
    if req.execution.in_process or req.tracking_uri == "none":
        parent = _open_parent_run(req, results, run_id, len(configs), log, manifest, dead)
    else:  # Ray: the driver's relay opens the parent run while Tune starts, and logs trials
        from bench import tracking
        from bench.runner.relay import TrackingRelay

        uri = req.tracking_uri or tracking.default_tracking_uri(results)
        manifest.tracking_uri = uri

        def open_parent() -> _Parent | None:
            opened = _open_parent_run(req, results, run_id, len(configs), log, manifest, dead)
            with LOCK:
                manifest.write(results)
            return opened

        relay = TrackingRelay(configs, log, open_parent)
        parent = _Parent(Tracking(uri=uri, experiment_id=None, experiment=req.experiment,
                                  by_driver=True))
    for d in dead:
        d.taken_over_by = run_id
        d.close(results, "killed")
    with LOCK:
        manifest.write(results)
    if parent is not None:
        configs = [c.with_tracking(parent.tracking) for c in configs]
    status = "FAILED"
    try:
        errors, stopped = _run_trials(configs, req, run_id, log, relay)
        if stopped is not None:
            status = "KILLED"
            raise _interrupted(configs, run_id, stopped)
        if relay is not None:
            parent, relay = relay.close(), None
        records = collect_records(configs, errors, run_id)
        status = "FINISHED" if all(r.finished for r in records) else "FAILED"
        return records
    finally:
        if relay is not None:  # interrupted: what is queued, not the rest (they stay pending)
            parent = relay.close(flush=False)
        if parent is not None and parent.logger is not None:
            parent.logger.close_running_children()  # attempts whose worker died
            parent.logger.end(status)
        with LOCK:
            _close_manifest(manifest, results, "interrupted" if status == "KILLED"
                            else status.lower())


def _run_trials(configs: Sequence[TrialConfig], req: RunRequest, run_id: str, log: Log,
                relay: Any) -> tuple[dict[str, str | None], str | None]:
    """The trials, in this process or through Ray; (errors by key, the name of the signal
    that interrupted them or None), see :mod:`bench.runner.interrupt`."""
    from bench.runner.interrupt import on_signals, signal_name

    errors: dict[str, str | None] = {}
    try:
        with on_signals(raise_at_once=req.execution.in_process) as stopped:
            if req.execution.in_process:
                from bench.runner.local import run_in_process

                errors = run_in_process(configs, log)
            else:
                errors = _run_with_ray(configs, req, run_id,
                                       [relay.callback()] if relay is not None else [])
            return errors, stopped()
    except KeyboardInterrupt:
        return errors, signal_name()


def _interrupted(configs: Sequence[TrialConfig], run_id: str, stopped: str) -> BaseException:
    """What an interrupted run raises (nothing is recorded for the trials it cut off; their
    attempts of this run are no longer 'running')."""
    from bench.runner.interrupt import RunInterrupted

    finished = 0
    for cfg in configs:
        store = ResultStore(Path(cfg.results_dir))
        finished += store.check_finished(cfg.method, cfg.dataset, cfg.key)[0]
        if store.attempts_of(cfg.key, run_id):
            store.end_attempt(cfg.key)
    return RunInterrupted(stopped, finished, len(configs))


def _close_manifest(manifest: Any, results: Path, status: str) -> None:
    """Close the run's manifest; on a full disk overwrite it in place (a rename needs room for
    a second copy) so that it does not stay 'running'."""
    try:
        manifest.close(results, status)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        with contextlib.suppress(OSError):
            manifest.close_in_place(results, status)


@dataclass
class _Parent:
    """The MLflow parent run of a driver run (``logger`` None: the store is unavailable and
    the trials' tracking is pending)."""

    tracking: Tracking
    logger: Any = None


def _run_with_ray(configs: Sequence[TrialConfig], req: RunRequest, run_id: str,
                  callbacks: Sequence[Any] = ()) -> dict[str, str | None]:
    """Ray Tune, shown as the compact progress view (Ray Tune's status table with
    ``verbose``); ``callbacks``: more Tune callbacks (the MLflow relay)."""
    from bench.runner.progress import ProgressView
    from bench.runner.tune import run_with_ray

    ex = req.execution
    view = contextlib.nullcontext() if ex.verbose else \
        ProgressView(configs, req.results_path, run_id)
    with view:
        return run_with_ray(configs, req.results_path, run_id, address=ex.address,
                            num_cpus=ex.num_cpus, max_concurrent=ex.max_concurrent,
                            max_retries=ex.max_retries, reuse_workers=ex.reuse_workers,
                            verbose=ex.verbose, callbacks=callbacks)


def _open_parent_run(req: RunRequest, results: Path, run_id: str, n_trials: int, log: Log,
                     manifest: Any, dead: Sequence[Any]) -> _Parent | None:
    """The parent run: a dead run's parent taken over (reopened, its RUNNING children closed
    as KILLED), or a new one; None when the run asked for no tracking. MLflow being
    unavailable is one warning, and the trials' records say their tracking is pending."""
    if req.tracking_uri == "none":
        return None
    from bench import tracking

    uri = req.tracking_uri or tracking.default_tracking_uri(results)
    manifest.tracking_uri = uri
    pending = _Parent(Tracking(uri=uri, experiment_id=None, experiment=req.experiment))
    try:
        experiment_id = tracking.prepare_experiment(uri, results, req.experiment)
    except Exception as exc:  # noqa: BLE001 - an outage must not stop the run
        log(f"bench: warning: MLflow tracking at {uri} is unavailable "
            f"({tracking.first_line(exc)}); running without it: results are still written and "
            "their records say tracking 'pending' ('bench mlflow sync' uploads them later)")
        return pending
    tags = {"kind": "bench run", "methods": ",".join(req.methods),
            "command": req.command or " ".join(sys.argv), "run_id": run_id,
            "bench.sweep": manifest.sweep}
    parent = None
    for d in reversed(dead):  # the newest dead run's parent
        if d.parent_run_id:
            parent = tracking.RunLogger(uri, experiment_id, run_name=run_id, warn=log,
                                        run_id=d.parent_run_id,
                                        tags={"bench.taken_over_by": run_id})
            if parent.active:
                killed = parent.reopen()
                log(f"bench: MLflow parent run {d.parent_run_id} of the dead run continues "
                    f"({len(killed)} of its trial runs left RUNNING closed as KILLED)")
                break
            parent = None
    if parent is None:
        parent = tracking.RunLogger(uri, experiment_id, run_name=run_id, warn=log, tags=tags)
        if not parent.active:
            return pending
        parent.log_params({"methods": ",".join(req.methods), "bits": list(req.bits),
                           "dataset": req.dataset,
                           "budgets": [budget_label(b) for b in req.budgets],
                           "seeds": list(req.seeds), "n_trials": n_trials})
    manifest.parent_run_id = parent.run_id
    manifest.continues = [d.run_id for d in dead]
    return _Parent(Tracking(uri=uri, experiment_id=experiment_id,
                            parent_run_id=parent.run_id, experiment=req.experiment), parent)


def collect_records(configs: Sequence[TrialConfig], errors: Mapping[str, str | None],
                    run_id: str) -> list[ResultRecord]:
    """The record each trial of this run left, as the driver sees the results folder. A trial
    without one of this run (its worker died, e.g. killed for memory or a lost node, and the
    retries were spent), or whose codes file the driver cannot read back, gets a ``failed``
    record here: nothing counts as finished unless the driver can verify it. A verified
    finished record of another run (a second driver on the same results folder computed the
    key) counts as done, and a finished record is never replaced by a failure (the failure is
    returned, not written: the record's check already makes a rerun redo it)."""
    out = []
    for cfg in configs:
        store = ResultStore(Path(cfg.results_dir))
        rec = store.read(cfg.method, cfg.dataset, cfg.key)
        problem = None
        if rec is not None and rec.finished:
            ok, why = store.check_finished(cfg.method, cfg.dataset, cfg.key)
            problem = None if ok else f"its record is here but {why}"
        elif rec is None or rec.run.get("id") != run_id:
            problem = errors.get(cfg.key) or "the trial ended without writing its record"
        if problem is not None:
            attempts = store.attempts_of(cfg.key, run_id)
            last = attempts[-1] if attempts else {}
            previous = rec.attempt if rec is not None and not rec.finished \
                and rec.run.get("id") != run_id else 0
            rec = failed_record(
                cfg, ErrorInfo(type="WorkerDied", message=problem, stage="worker"),
                attempt=max(previous + 1, int(last.get("attempt") or 0)),
                node=str(last.get("node") or ""), ray_node=last.get("ray_node"),
                lost_attempts=attempts,
                tracking_state="off" if cfg.tracking is None else "pending")
            current = store.read(cfg.method, cfg.dataset, cfg.key)
            if current is None or not current.finished:  # never a failure over a result
                store.write_record(rec)
            store.end_attempt(cfg.key)
        out.append(rec)
    return out


# --------------------------------------------------------------------------- 4. run


def run_report(req: RunRequest, log: Log = print) -> Path | None:
    """The report of the run's dataset (figures, tables, HTML and Markdown; no PDF). A failure
    is a warning: the records and the leaderboard are already written."""
    try:
        from bench.report import write_report

        manifest = write_report(req.results_path, datasets=[req.dataset])
    except Exception as exc:  # noqa: BLE001 - the results are safe; say why and go on
        log(f"bench: warning: report not written ({type(exc).__name__}: {exc}); "
            f"`python -m bench report --results {req.results_path}` retries")
        return None
    return Path(manifest["out"]) / "index.html"


def run(req: RunRequest, log: Log = print) -> RunSummary:
    """Check, (join the cluster,) plan, execute, rebuild the leaderboard, write the report."""
    from bench.leaderboard import write_leaderboard

    check_request(req)
    per_budget_seed = sum(len(bit_sets(registry.methods.get(m), req.bits)) for m in req.methods)
    check_trial_count(per_budget_seed * len(req.budgets) * len(req.seeds), req.confirmed,
                      "methods × bits × budgets × seeds; a multi-bit method's lengths share "
                      "one trial", log)
    if req.execution.address and not req.execution.in_process:
        _join_cluster(req, log)
    run_id = new_run_id()
    with removed_on_error(req):
        p = plan(req, log, run_id)
    for key, why in p.redo.items():
        log(f"bench: redoing {key}: {why}")
    n_skip = len(p.skipped)
    log(f"bench: {len(p.configs)} trial(s): {len(p.todo)} to run, {n_skip} already finished"
        f"{' (use --force to redo them)' if n_skip and not req.force else ''}")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    from bench.runner.interrupt import RunInterrupted
    from bench.runner.manifest import sweep_id

    sweep = sweep_id([c.key for c in p.configs])
    _say_resuming(req.results_path, sweep, p, log)
    try:
        records = execute(p.todo, req, run_id, log, sweep=sweep)
    except RunInterrupted as exc:
        raise RunInterrupted(exc.signal_name, exc.finished, exc.total, n_skip) from None
    sync_pending(req, [c.key for c in p.configs], log)
    paths = write_leaderboard(req.results_path, warn=log)
    report = run_report(req, log) if req.report else None
    return RunSummary(run_id=run_id, results_dir=req.results_path, planned=len(p.configs),
                      skipped=p.skipped, records=records, leaderboard=paths, report=report)


def _say_resuming(results: Path, sweep: str, p: Plan, log: Log) -> None:
    """One line when an earlier run of this sweep was interrupted (or killed)."""
    from bench.runner.manifest import RUNS, Manifest

    earlier = [m for m in map(Manifest.load, sorted((results / RUNS).glob("*.json")))
               if m is not None and m.sweep == sweep and m.status in ("interrupted", "killed")]
    if earlier and p.todo:
        log(f"bench: resuming: {len(p.skipped)} of {len(p.configs)} trial(s) already finished "
            f"(run {earlier[-1].run_id} was {earlier[-1].status}); computing only the "
            f"{len(p.todo)} missing")


def sync_pending(req: RunRequest, keys: Sequence[str], log: Log) -> None:
    """Upload the results of this sweep whose MLflow tracking is pending (e.g. a trial whose
    driver was killed while it logged, or the store came back), if the store answers now;
    otherwise one warning: ``bench mlflow sync`` does it later."""
    if req.tracking_uri == "none":
        return
    from bench import tracking
    from bench.mlflow_sync import pending_keys, sync

    todo = pending_keys(req.results_path, keys)
    if not todo:
        return
    uri = req.tracking_uri or tracking.default_tracking_uri(req.results_path)
    try:
        report = sync(req.results_path, uri, req.experiment, log=log, keys=todo)
    except BenchError as exc:
        log(f"bench: warning: {len(todo)} result(s) not in MLflow yet ({exc}); "
            f"'python -m bench mlflow sync --results {req.results_path}' uploads them later")
        return
    done = len(report.created) + len(report.completed) + len(report.already)
    log(f"bench: MLflow: {done} result(s) whose tracking was pending are logged now"
        + (f"; {len(report.errors)} still pending" if report.errors else ""))


def _join_cluster(req: RunRequest, log: Log) -> None:
    """Connect to the cluster and check that it can host every method's trials, before any
    data is loaded (one line and exit 2 when not)."""
    from bench.runner.grid import trial_resources
    from bench.runner.ray_session import alive_nodes, check_feasible, connect

    address = req.execution.address
    connect(address)
    nodes = alive_nodes()
    cpus = sum(float((n.get("Resources") or {}).get("CPU", 0)) for n in nodes)
    gpus = sum(float((n.get("Resources") or {}).get("GPU", 0)) for n in nodes)
    log(f"bench: joined the Ray cluster at {address}: {len(nodes)} node(s), {cpus:g} CPUs, "
        f"{gpus:g} GPUs")
    check_feasible([(f"method {m}", trial_resources(registry.methods.get(m), req.gpus_per_trial))
                    for m in req.methods], f"the Ray cluster at {address}")
