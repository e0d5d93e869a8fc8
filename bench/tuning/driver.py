"""``bench tune``: a fair, leak-free hyperparameter search per cell, then fresh multi-seed runs
of each cell's best configuration as ordinary results.

A *cell* is method × dataset × bit set × budget: one persistent Optuna study searched by one
Ray Tune ``Tuner`` (``bench.tuning.search``) over the method's hyperparameters only. Fairness:
every cell of a command gets the same ``--trials`` and the same concurrency cap, and the best
configuration is chosen among a study's first ``--trials`` counted trials, so a study that ran
longer before gives no method an advantage. The objective is the held-out validation score
(``bench.runner.trial.VALIDATION_RULE``); search trials never encode the query set or the
retrieval database. Final evaluation runs the best configuration on ``--final-seeds`` through
the run driver (``bench.runner.driver``: ``plan`` for the data and the default configs,
``execute`` for the trials), so its records, codes and MLflow runs are like any other; each
states its origin (``ResultRecord.tuning``) and its definition names the study, so the
leaderboard shows it as its own row (``gnah (tuned: 40 trials)``).

Steps: :func:`check_tune` (no data, nothing written), the run driver's ``plan``, then per cell
:func:`search_cell`, then the final runs and the leaderboard (:func:`tune` does all).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import registry
from bench.errors import BenchError
from bench.params import check_param, method_params
from bench.plugins import MethodSpec
from bench.results import ResultStore
from bench.runner.driver import (
    MAX_SEED,
    Plan,
    RunRequest,
    check_request,
    check_trial_count,
    dataset_options,
    execute,
    new_run_id,
    plan,
    removed_on_error,
    run_report,
)
from bench.runner.grid import RunContext, bit_sets, make_trial
from bench.runner.trial import VALIDATION_METRIC, VALIDATION_RULE
from bench.schema import ResultRecord, TrialConfig, digest
from bench.splits import budget_label, canonical_budget
from bench.tuning import study as studies
from bench.tuning.search import MAX_ROUNDS, Scheduling
from bench.tuning.space import Dimension, describe_space, fixed_params, method_space

SCHEDULERS = ("auto", "asha", "none")
DEFAULT_CONCURRENCY = 2
MAX_TRIALS = 100_000
_STUDY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")
Log = Callable[[str], None]


@dataclass(frozen=True)
class TuneRequest:
    """Everything ``bench tune`` is asked to do. ``run`` holds the shared options; its seeds
    are the final seeds (``final=False``: search only, no final runs)."""

    run: RunRequest
    trials: int = 20
    scheduler: str = "auto"  #: auto = ASHA for iterative methods, none for the others
    space: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  #: method->param->SPEC
    study: str | None = None
    storage: str | None = None  #: None: sqlite:///RESULTS/tune/optuna.db
    search_seed: int = 0  #: the seed of every search trial (budget draw, init) and of TPE
    final: bool = True
    compare_defaults: bool = False  #: also run the default configuration on the final seeds
    grace: int = 2
    reduction: int = 3

    @property
    def storage_url(self) -> str:
        return self.storage or studies.default_storage(self.run.results_path)

    @property
    def max_concurrent(self) -> int:
        return self.run.execution.max_concurrent or DEFAULT_CONCURRENCY


@dataclass
class Cell:
    """One search: method × bit set × budget (the dataset is the request's)."""

    spec: MethodSpec
    bits: tuple[int, ...]
    budget: int | float | None
    space: dict[str, Dimension]
    params: dict[str, Any]  #: the base parameters: defaults updated by --set
    scheduling: Scheduling
    name: str = ""
    definition: dict[str, Any] = field(default_factory=dict)
    base: TrialConfig | None = None  #: the search trials' config before sampling

    @property
    def label(self) -> str:
        return (f"{self.spec.name} b{','.join(map(str, self.bits))} "
                f"n{budget_label(self.budget)}")


@dataclass
class CellOutcome:
    cell: Cell
    folder: Path
    new_trials: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    counted: int = 0
    interrupted_before: int = 0
    best: dict[str, Any] | None = None  #: best_params.json content
    outputs: dict[str, Path] = field(default_factory=dict)
    wall_s: float = 0.0
    search_s: float = 0.0  #: the Tuner's wall time (this run's trials)
    problem: str | None = None
    final_keys: list[str] = field(default_factory=list)


@dataclass
class TuneSummary:
    run_id: str
    results_dir: Path
    storage: str
    outcomes: list[CellOutcome]
    records: list[ResultRecord]  #: final (and default) records this command wrote
    skipped: list[str]
    leaderboard: dict[str, Path] | None
    wall_s: float
    report: Path | None = None  #: the report page of the dataset, when one was written

    @property
    def exit_code(self) -> int:
        bad = any(o.problem for o in self.outcomes) or any(r.status == "failed"
                                                           for r in self.records)
        return 1 if bad else 0


# --------------------------------------------------------------------------- 1. check


def _scheduling(req: TuneRequest, spec: MethodSpec) -> Scheduling:
    kind = req.scheduler
    if kind == "auto":
        kind = "asha" if spec.iterative else "none"
    return Scheduling(kind, req.grace, req.reduction)


def study_name(req: TuneRequest, cell: Cell, n_cells: int) -> str:
    """``--study`` (one cell) or ``--study``-method-bits-budget (several), else the cell's
    readable identity and content hash."""
    tail = f"{cell.spec.name}-b{'_'.join(map(str, cell.bits))}-n{budget_label(cell.budget)}"
    if req.study:
        return req.study if n_cells == 1 else f"{req.study}-{tail}"
    return f"{cell.spec.name}-{req.run.dataset}-b{'_'.join(map(str, cell.bits))}-" \
           f"n{budget_label(cell.budget)}-{digest(cell.definition)[:10]}"


def cell_definition(base: TrialConfig, space: Mapping[str, Dimension], scheduling: Scheduling,
                    search_seed: int) -> dict[str, Any]:
    """What defines a study: the trials' definition without seed, the space, the search."""
    definition = base.definition.as_dict()
    definition.pop("seed", None)
    return {"definition": definition,
            "space": {name: dim.as_dict() for name, dim in space.items()},
            "search": {"seed": search_seed, "objective": VALIDATION_METRIC, "mode": "max",
                       **scheduling.as_dict()}}


def check_tune(req: TuneRequest, log: Log = print) -> list[Cell]:
    """Every check that needs no data; the cells to search. Raises a one-line BenchError."""
    check_request(req.run)
    if isinstance(req.trials, bool) or not isinstance(req.trials, int) or \
            not 1 <= req.trials <= MAX_TRIALS:
        raise BenchError(f"--trials must be an integer from 1 to {MAX_TRIALS}, got "
                         f"{req.trials!r}")
    if req.scheduler not in SCHEDULERS:
        raise BenchError(f"--scheduler must be one of {', '.join(SCHEDULERS)}, got "
                         f"{req.scheduler!r}")
    if not 1 <= req.grace <= MAX_ROUNDS:
        raise BenchError(f"--asha-grace must be from 1 to {MAX_ROUNDS} rounds, got {req.grace}")
    if req.reduction < 2:
        raise BenchError(f"--asha-reduction must be at least 2, got {req.reduction}")
    if not 0 <= req.search_seed <= MAX_SEED:
        raise BenchError(f"--search-seed must be from 0 to {MAX_SEED}, got {req.search_seed}")
    if req.run.execution.in_process:
        raise BenchError("bench tune runs its searches through Ray Tune; --no-ray is not "
                         "available")
    if req.storage is not None:
        studies.check_storage_url(req.storage)
    if req.study is not None and not _STUDY_NAME.match(req.study):
        raise BenchError(f"--study {req.study!r}: use letters, digits, '.', '_' and '-' "
                         "(at most 120 characters, starting with a letter or digit)")
    for method in req.space:
        if method not in req.run.methods:
            raise BenchError(f"--space {method}.*: method {method!r} is not in --methods")
    cells = []
    for name in req.run.methods:
        spec = registry.methods.get(name)
        fixed = fixed_params(spec, req.run.overrides)
        space = method_space(spec, req.space.get(name, {}), fixed)
        if fixed and set(fixed) & set(spec.search_space):
            log(f"bench: note: {name}: {', '.join(sorted(set(fixed) & set(spec.search_space)))} "
                "fixed by --set, not searched")
        params = method_params(spec, req.run.overrides)
        for bits in bit_sets(spec, req.run.bits):
            for budget in req.run.budgets:
                cells.append(Cell(spec, tuple(bits), budget, space, params,
                                  _scheduling(req, spec)))
    if req.study is not None:
        _check_named_studies(req, cells)
    return cells


def _provisional_context(req: TuneRequest) -> RunContext:
    """The run context without the data (no fingerprint, no encoder): enough to compare a
    named study's cell definition before anything is loaded."""
    dspec = registry.datasets.get(req.run.dataset)
    return RunContext(dataset=dspec.name, preset=dspec.preset(req.run.preset),
                      results_dir=str(req.run.results_path), cache_dir=str(req.run.cache_path),
                      dataset_options=dataset_options(dspec, req.run.dataset_options))


def _distinct(cells: Sequence[Cell], ctx: RunContext, log: Log | None = None) -> list[Cell]:
    """The cells with canonical budgets (``ctx.train_pool``: ``all``, ``1.0`` and the pool
    size draw one training set, so they are one search), each search once."""
    out: dict[tuple[str, tuple[int, ...], Any], Cell] = {}
    for cell in cells:
        cell.budget = canonical_budget(cell.budget, ctx.train_pool)
        key = (cell.spec.name, cell.bits, cell.budget)
        if key in out and log is not None:
            log(f"bench: note: {cell.label}: the same training set as another budget of "
                "--budgets, searched once")
        out.setdefault(key, cell)
    return list(out.values())


def _define(req: TuneRequest, cells: Sequence[Cell], ctx: RunContext) -> None:
    for cell in cells:
        base = make_trial(cell.spec, cell.bits, cell.budget, req.search_seed, cell.params, ctx)
        cell.definition = cell_definition(base, cell.space, cell.scheduling, req.search_seed)
        cell.name = study_name(req, cell, len(cells))
        cell.base = replace(base, results_dir=str(study_folder(req, cell) / "trials"),
                            requested_seeds=(req.search_seed,), tracking=None)


def study_folder(req: TuneRequest, cell: Cell) -> Path:
    return req.run.results_path / "tune" / cell.name


def _check_named_studies(req: TuneRequest, cells: Sequence[Cell],
                         ignore: Sequence[str] = ("data_fingerprint", "encoder")) -> None:
    """A named study that exists must have the same cell definition (before the data is
    loaded: all but the data fingerprint and the encoder). Writes nothing."""
    _define(req, cells, _provisional_context(req))
    storage = studies.open_storage(req.storage_url, create=False)
    for cell in cells:
        if isinstance(cell.budget, float):  # its training set is known with the pool: later
            continue
        found = studies.find_study(storage, cell.name)
        if found is not None:
            studies.check_cell(found, cell.definition, ignore)


# --------------------------------------------------------------------------- 3. search


def _study_run(req: TuneRequest, study: Any, cell: Cell,
               log: Log) -> tuple[Any, tuple[str, str, str] | None]:
    """The study's MLflow parent run (the same run when the study continues) and where its
    trials log (uri, experiment id, parent run id); (None, None) without tracking."""
    if req.run.tracking_uri == "none":
        return None, None
    from bench import tracking

    results = req.run.results_path
    uri = req.run.tracking_uri or tracking.default_tracking_uri(results)
    try:
        experiment_id = tracking.prepare_experiment(uri, results, req.run.experiment)
    except Exception as exc:  # noqa: BLE001 - an outage must not stop the search
        log(f"bench: warning: MLflow tracking at {uri} is unavailable "
            f"({tracking.first_line(exc)}); searching without tracking")
        return None, None
    previous = study.user_attrs.get("mlflow") or {}
    resume = previous.get("run_id") if previous.get("uri") == studies.shown_url(uri) else None
    logger = tracking.RunLogger(
        uri, experiment_id, run_name=cell.name, warn=log, resume_run_id=resume,
        tags={"kind": "bench tune study", "study": cell.name, "method": cell.spec.name,
              "dataset": req.run.dataset, "bits": ",".join(map(str, cell.bits)),
              "budget": budget_label(cell.budget), "cell_digest": digest(cell.definition),
              "storage": studies.shown_url(req.storage_url)})
    if not logger.active:
        return None, None
    if logger.run_id != resume:
        logger.log_params({"space": describe_space(cell.space), "search_seed": req.search_seed,
                           **cell.scheduling.as_dict(), "method": cell.spec.name,
                           "dataset": req.run.dataset, "bits": list(cell.bits),
                           "budget": budget_label(cell.budget)})
        study.set_user_attr("mlflow", {"uri": studies.shown_url(uri), "run_id": logger.run_id,
                                       "experiment_id": experiment_id})
    return logger, (uri, experiment_id, logger.run_id)


def _best_info(req: TuneRequest, cell: Cell, window: Sequence[Any], best: Any,
               counts: Mapping[str, int]) -> dict[str, Any]:
    final_params = {**cell.params, **{k: check_param(cell.spec, k, v, source="search value")
                                      for k, v in best.params.items()}}
    return {"role": "final", "study": cell.name,
            "storage": studies.shown_url(req.storage_url), "trials": len(window),
            "best_trial": best.number, "validation_score": best.value,
            "validation_rule": VALIDATION_RULE, "params": dict(best.params),
            "final_params": final_params, "base_params": dict(cell.params),
            "space": describe_space(cell.space), "search_seed": req.search_seed,
            "scheduler": cell.scheduling.as_dict(), **counts}


def search_cell(req: TuneRequest, cell: Cell, run_id: str, log: Log) -> CellOutcome:
    """Create or continue the cell's study up to ``--trials`` counted trials, write its
    outputs, and find its best configuration. An interrupted search (Ctrl-C) marks its open
    trials as interrupted, writes the outputs and raises KeyboardInterrupt."""
    from bench.tuning.search import run_search

    started = time.time()
    folder = study_folder(req, cell)
    out = CellOutcome(cell=cell, folder=folder)
    storage = studies.open_storage(req.storage_url)
    study = studies.find_study(storage, cell.name)
    if study is None:
        study = studies.create_study(storage, cell.name, cell.definition)
    else:
        studies.check_cell(study, cell.definition)
    studies.claim(study, run_id, log, folder)
    interrupted = False
    parent = None
    try:
        stale = studies.reconcile(study)
        if stale:
            log(f"bench: {cell.name}: {len(stale)} trial(s) of an interrupted search (numbers "
                f"{', '.join(map(str, stale))}) marked failed; they do not count")
        done = len(studies.counted(study))
        todo = max(0, req.trials - done)
        more = (f" (more than --trials: its best among the first {req.trials} is used)"
                if done > req.trials else "")
        log(f"bench: {cell.name}: {done} of {req.trials} trial(s) done{more}, {todo} to run "
            f"(scheduler {cell.scheduling.scheduler}, at most {req.max_concurrent} at once; "
            f"space {', '.join(f'{k}={v}' for k, v in describe_space(cell.space).items())})")
        if todo:
            parent, tracking = _study_run(req, study, cell, log)
            sampler_seed = (req.search_seed * 1_000_003 + len(study.trials)) % (MAX_SEED + 1)
            t_search = time.time()
            try:
                run_search(base=cell.base, study=cell.name, storage=storage,
                           space={k: d.distribution() for k, d in cell.space.items()},
                           sampler_seed=sampler_seed, scheduling=cell.scheduling, trials=todo,
                           max_concurrent=req.max_concurrent, folder=folder, run_id=run_id,
                           plugins=registry.methods.portable(), tracking=tracking, log=log)
            except KeyboardInterrupt:
                interrupted = True
            out.search_s = time.time() - t_search
            left = studies.reconcile(study)
            out.new_trials = len(studies.counted(study)) - done
            interrupted = interrupted or bool(left) or out.new_trials < todo
        trials = studies.counted(study)
        window = trials[:req.trials]
        out.counted = len(window)
        out.counts = studies.state_counts(window)
        best = studies.best_of(window)
        if best is not None:
            out.best = _best_info(req, cell, window, best, out.counts)
        elif not interrupted:
            out.problem = (f"no trial of study {cell.name} finished (of {len(window)}: "
                           f"{out.counts}); nothing to evaluate")
        out.outputs = studies.write_outputs(study, folder, window, out.best, log)
        if parent is not None:
            parent.log_metrics({"trials_counted": len(window), **{
                f"trials_{k}": v for k, v in out.counts.items()},
                **({"best_validation_map": out.best["validation_score"]} if out.best else {})},
                step=len(window))
            parent.set_tags({"trials_requested": req.trials,
                             "best_trial": out.best["best_trial"] if out.best else "none"})
    finally:
        if parent is not None:
            parent.end("KILLED" if interrupted else "FINISHED")
        studies.release(study)
    out.wall_s = time.time() - started
    if interrupted:
        log(f"bench: {cell.name}: search interrupted after {out.new_trials} new trial(s); "
            "rerun the same command to continue the study")
        raise KeyboardInterrupt
    return out


# --------------------------------------------------------------------------- 4. final


def final_configs(req: TuneRequest, outcome: CellOutcome, ctx: RunContext) -> list[TrialConfig]:
    """The best configuration of a cell on every final seed, with its origin."""
    if outcome.best is None:
        return []
    cell, origin = outcome.cell, outcome.best
    return [make_trial(cell.spec, cell.bits, cell.budget, seed, origin["final_params"], ctx,
                       tuning=origin) for seed in req.run.seeds]


def _stamp(store: ResultStore, cfg: TrialConfig) -> None:
    """A finished tuned result found again (the study continued, its best did not change):
    its record now states the study's current origin (trials run, counts)."""
    rec = store.read(cfg.method, cfg.dataset, cfg.key)
    if rec is not None and cfg.tuning is not None and rec.tuning != dict(cfg.tuning):
        rec.tuning = dict(cfg.tuning)
        store.write_record(rec)


def _check_validation(req: TuneRequest, p: Plan) -> None:
    """The objective needs validation queries and their held-out database (the rule of
    ``bench.runner.trial.validation_score``)."""
    from bench.splits import validation_database

    split = p.split
    if len(split.validation) == 0 or len(validation_database(split, req.search_seed)) == 0:
        raise BenchError(f"preset {p.context.preset.name!r} of {req.run.dataset} has no "
                         "validation split (or no training pool for its held-out database); "
                         "bench tune needs one")


def tune(req: TuneRequest, log: Log = print) -> TuneSummary:
    """Check, plan, search every cell, run the best configurations, rebuild the leaderboard."""
    from bench.leaderboard import write_leaderboard
    from bench.runner.ray_log import RayOutput, ray_log_path
    from bench.runner.tune import init_ray

    started = time.time()
    cells = check_tune(req, log)
    finals = len(req.run.seeds) if req.final else 0
    per_cell = len(req.run.seeds) if req.final and req.compare_defaults else 0
    check_trial_count(len(cells) * (req.trials + finals + per_cell), req.run.confirmed,
                      "searches × (--trials + final runs)", log)
    run_id = new_run_id()
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    with removed_on_error(req.run):
        p = plan(req.run, log, run_id)
    _check_validation(req, p)
    cells = _distinct(cells, p.context, log)
    _define(req, cells, p.context)
    if req.study is not None:
        storage = studies.open_storage(req.storage_url, create=False)
        for cell in cells:
            found = studies.find_study(storage, cell.name)
            if found is not None:
                studies.check_cell(found, cell.definition)
    log(f"bench: tune: {len(cells)} search(es) of {req.trials} trial(s) each (the same budget "
        f"and at most {req.max_concurrent} trial(s) at once for every method); objective: "
        "held-out validation mAP, mean of both directions; the query set is never used")
    with RayOutput(ray_log_path(req.run.results_path, run_id), req.run.execution.verbose,
                   also=("optuna",)) as ray_output:
        log(f"bench: Ray's and Optuna's own output goes to {ray_output.path}"
            + (" (and here: --verbose)" if req.run.execution.verbose else ""))
        init_ray(req.run.execution.address, req.run.execution.num_cpus)
        ray_output.capture_workers()
        outcomes = [search_cell(req, cell, run_id, log) for cell in cells]

    store = ResultStore(req.run.results_path)
    todo, skipped = [], []
    if req.final:
        for outcome in outcomes:
            for cfg in final_configs(req, outcome, p.context):
                outcome.final_keys.append(cfg.key)
                done, why = store.check_finished(cfg.method, cfg.dataset, cfg.key)
                if done and not req.run.force:
                    skipped.append(cfg.key)
                    _stamp(store, cfg)
                else:
                    todo.append(cfg)
        if req.compare_defaults:
            todo += p.todo
            skipped += p.skipped
    if todo:
        log(f"bench: final evaluation: {len(todo)} trial(s) on seeds "
            f"{','.join(map(str, req.run.seeds))} ({len(skipped)} already finished)")
    records = execute(todo, req.run, run_id, log)
    paths = write_leaderboard(req.run.results_path, warn=log)
    report = run_report(req.run, log) if req.run.report and req.final else None
    return TuneSummary(run_id=run_id, results_dir=req.run.results_path,
                       storage=studies.shown_url(req.storage_url), outcomes=outcomes,
                       records=records, skipped=skipped, leaderboard=paths, report=report,
                       wall_s=time.time() - started)
