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
3. :func:`execute` - MLflow parent run (best effort), then the trials through Ray Tune or in
   this process. One trial's failure never stops the others; every trial leaves a record, and a
   trial whose worker died without one gets a ``failed`` record from the driver.
4. :func:`run` - all of the above, then the leaderboard and the report of the run's dataset.
"""

from __future__ import annotations

import contextlib
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
from bench.runner.grid import RunContext, check_overrides, expand
from bench.schema import ErrorInfo, ResultRecord, Tracking, TrialConfig, failed_record
from bench.splits import budget_label, draw_budget, make_split

DEFAULT_DATASET = "synthetic-scenes"
MAX_BITS = 4096
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
    #: a Ray worker runs trial after trial, keeping its imports and loaded data (False: a fresh
    #: worker process per trial, about 10 s each)
    reuse_workers: bool = True
    #: Ray Tune's own status table instead of the compact progress view
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
    for spec in specs:
        method_params(spec, req.overrides)  # types and ranges of every --set value
    _check_resources(req, specs)
    _check_device(req)
    _check_encoder_file(req, dspec)
    if req.tracking_uri not in (None, "none"):
        from bench.tracking import check_uri

        check_uri(req.tracking_uri)
    _check_budgets_cheaply(req, dspec, preset)


def _check_resources(req: RunRequest, specs: Sequence[Any]) -> None:
    ex = req.execution
    if req.gpus_per_trial is not None and not req.gpus_per_trial >= 0:
        raise BenchError(f"--gpus-per-trial must be >= 0, got {req.gpus_per_trial}")
    if ex.max_concurrent is not None and ex.max_concurrent < 1:
        raise BenchError(f"--max-concurrent must be at least 1, got {ex.max_concurrent}")
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
    n = dspec.size(req.dataset_options)
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
    store.scan(warn=log)  # quarantine unreadable records now, with a warning
    dspec = registry.datasets.get(req.dataset)
    preset = dspec.preset(req.preset)
    data_root = str(Path(req.data_root).expanduser().resolve()) if req.data_root else None
    log(f"bench: loading dataset {req.dataset} ...")
    ds = load_dataset(req.dataset, data_root, str(cache), dict(req.dataset_options))
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
        data_fingerprint=fingerprint, dataset_options=dict(req.dataset_options),
        data_root=data_root, encoder=encoder, device=req.device,
        gpus_per_trial=req.gpus_per_trial, run_id=run_id or new_run_id(),
        requested_seeds=tuple(int(s) for s in req.seeds))
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
            log: Log = print) -> list[ResultRecord]:
    """Run ``configs``; returns the record each left (finished or failed), in order."""
    if not configs:
        return []
    results = req.results_path
    parent = _open_parent_run(req, results, run_id, len(configs), log)
    if parent is not None:
        tracking = Tracking(uri=parent[0], experiment_id=parent[1],
                            parent_run_id=parent[2].run_id)
        configs = [c.with_tracking(tracking) for c in configs]
    status = "FAILED"
    try:
        if req.execution.in_process:
            from bench.runner.local import run_in_process

            errors = run_in_process(configs, log)
        else:
            errors = _run_with_ray(configs, req, run_id)
        records = collect_records(configs, errors, run_id)
        status = "FINISHED" if all(r.finished for r in records) else "FAILED"
        return records
    finally:
        if parent is not None:
            parent[2].end(status)


def _run_with_ray(configs: Sequence[TrialConfig], req: RunRequest,
                  run_id: str) -> dict[str, str | None]:
    """Ray Tune, shown as the compact progress view (Ray Tune's status table with
    ``verbose``)."""
    from bench.runner.progress import ProgressView
    from bench.runner.tune import run_with_ray

    ex = req.execution
    view = contextlib.nullcontext() if ex.verbose else \
        ProgressView(configs, req.results_path, run_id)
    with view:
        return run_with_ray(configs, req.results_path, run_id, address=ex.address,
                            num_cpus=ex.num_cpus, max_concurrent=ex.max_concurrent,
                            reuse_workers=ex.reuse_workers, verbose=ex.verbose)


def _open_parent_run(req: RunRequest, results: Path, run_id: str, n_trials: int,
                     log: Log) -> tuple[str, str, Any] | None:
    """(uri, experiment id, parent RunLogger), or None (no tracking, or MLflow unavailable:
    one warning, and the run goes on without it)."""
    if req.tracking_uri == "none":
        return None
    from bench import tracking

    uri = req.tracking_uri or tracking.default_tracking_uri(results)
    try:
        experiment_id = tracking.prepare_experiment(uri, results, req.experiment)
    except Exception as exc:  # noqa: BLE001 - an outage must not stop the run
        log(f"bench: warning: MLflow tracking at {uri} is unavailable "
            f"({tracking.first_line(exc)}); running without tracking, results are still written")
        return None
    parent = tracking.RunLogger(
        uri, experiment_id, run_name=run_id, warn=log,
        tags={"kind": "bench run", "methods": ",".join(req.methods),
              "command": req.command or " ".join(sys.argv), "run_id": run_id})
    if not parent.active:
        return None
    parent.log_params({"methods": ",".join(req.methods), "bits": list(req.bits),
                       "dataset": req.dataset, "budgets": [budget_label(b) for b in req.budgets],
                       "seeds": list(req.seeds), "n_trials": n_trials})
    return uri, experiment_id, parent


def collect_records(configs: Sequence[TrialConfig], errors: Mapping[str, str | None],
                    run_id: str) -> list[ResultRecord]:
    """The record each trial of this run left. A trial without one of this run (its worker
    died, e.g. killed for memory or a lost node) gets a ``failed`` record here."""
    out = []
    for cfg in configs:
        store = ResultStore(Path(cfg.results_dir))
        rec = store.read(cfg.method, cfg.dataset, cfg.key)
        if rec is None or rec.run.get("id") != run_id:
            previous = rec.attempt if rec is not None and not rec.finished else 0
            err = errors.get(cfg.key) or "the trial ended without writing its record"
            rec = failed_record(cfg, ErrorInfo(type="WorkerDied", message=err, stage="worker"),
                                attempt=previous + 1, node="")
            store.write_record(rec)
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
    """Check, plan, execute, rebuild the leaderboard, write the report."""
    from bench.leaderboard import write_leaderboard

    check_request(req)
    run_id = new_run_id()
    p = plan(req, log, run_id)
    for key, why in p.redo.items():
        log(f"bench: redoing {key}: {why}")
    n_skip = len(p.skipped)
    log(f"bench: {len(p.configs)} trial(s): {len(p.todo)} to run, {n_skip} already finished"
        f"{' (use --force to redo them)' if n_skip and not req.force else ''}")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    records = execute(p.todo, req, run_id, log)
    paths = write_leaderboard(req.results_path, warn=log)
    report = run_report(req, log) if req.report else None
    return RunSummary(run_id=run_id, results_dir=req.results_path, planned=len(p.configs),
                      skipped=p.skipped, records=records, leaderboard=paths, report=report)
