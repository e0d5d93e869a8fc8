"""The Ray Tune side of one search cell, in the driver: a ``Tuner`` with Ray's
``OptunaSearch`` (TPE, seeded, dict space) over the study in the RDB storage, an optional ASHA
scheduler, a concurrency cap, and a callback that logs each trial as an MLflow child run of the
study's parent run and prints progress.

Ray's ``OptunaSearch`` tells Optuna COMPLETE with the last intermediate value when a scheduler
stops a trial, and also when a trial raised after reporting; :class:`StudySearch` tells PRUNED
and FAIL instead, so the study's states say what happened. Only the driver writes to the study.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.results import ResultStore
from bench.runner.trial import FINAL_MARKER, VALIDATION_METRIC
from bench.schema import TrialConfig, pruned_record
from bench.tuning.trial import search_config

MODE = "max"
#: ASHA's ceiling on rounds (reports); trials end long before it
MAX_ROUNDS = 100_000
Log = Callable[[str], None]


@dataclass(frozen=True)
class Scheduling:
    """How a cell's trials are scheduled (part of the cell definition)."""

    scheduler: str  #: "asha" or "none"
    grace: int = 2  #: ASHA: rounds every trial gets before it can be stopped
    reduction: int = 3  #: ASHA: keep the best 1/reduction at each rung

    def as_dict(self) -> dict[str, Any]:
        if self.scheduler == "none":
            return {"scheduler": "none"}
        return {"scheduler": self.scheduler, "grace_rounds": self.grace,
                "reduction_factor": self.reduction, "time_attr": "training_iteration"}


def study_search(space: Mapping[str, Any], study: str, storage: Any, seed: int):
    """Ray's OptunaSearch on the stored study, seeded TPE, states told faithfully."""
    import optuna
    from optuna.trial import TrialState
    from ray.tune.search import Searcher
    from ray.tune.search.optuna import OptunaSearch

    class StudySearch(OptunaSearch):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.last_step: dict[str, int] = {}

        def on_trial_result(self, trial_id: str, result: dict) -> None:
            super().on_trial_result(trial_id, result)
            self.last_step[trial_id] = result.get("training_iteration", 0)

        def suggest(self, trial_id: str) -> dict[str, Any] | None:
            params = super().suggest(trial_id)
            if params is None or params == Searcher.FINISHED:
                return params
            ot_trial = self._ot_trials[trial_id]
            ot_trial.set_user_attr("ray_trial_id", trial_id)
            return {"hp": params, "number": ot_trial.number}

        def on_trial_complete(self, trial_id: str, result: dict | None = None,
                              error: bool = False) -> None:
            ot_trial = self._ot_trials.get(trial_id)
            if ot_trial is None or trial_id in self._completed_trials:
                return super().on_trial_complete(trial_id, result, error)
            if error or FINAL_MARKER not in (result or {}):
                step, value = (result or {}).get("training_iteration"), \
                    (result or {}).get(VALIDATION_METRIC)
                if not error and value is not None and step is not None and \
                        step > self.last_step.get(trial_id, 0):  # the round that stopped it
                    ot_trial.report(value, step)
                self._ot_study.tell(ot_trial, state=TrialState.FAIL if error
                                    else TrialState.PRUNED, skip_if_finished=True)
                self._completed_trials.add(trial_id)
                return None
            return super().on_trial_complete(trial_id, result, error)

    sampler = optuna.samplers.TPESampler(seed=seed, constant_liar=True)
    return StudySearch(space=dict(space), metric=VALIDATION_METRIC, mode=MODE, sampler=sampler,
                       study_name=study, storage=storage)


def make_scheduler(scheduling: Scheduling):
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

    if scheduling.scheduler == "asha":
        return ASHAScheduler(time_attr="training_iteration", max_t=MAX_ROUNDS,
                             grace_period=scheduling.grace,
                             reduction_factor=scheduling.reduction)
    return FIFOScheduler()


def trial_callback(study: str, base: TrialConfig, tracking: tuple[str, str, str] | None,
                   log: Log, todo: int):
    """A Ray Tune callback: one MLflow child run per trial (params, the validation score of
    every round, state) and a progress line when a trial ends. Pruned trials whose worker was
    stopped before it wrote its ``pruned`` record get one here."""
    from ray.tune import Callback

    from bench.tracking import RunLogger

    store = ResultStore(Path(base.results_dir))

    class StudyCallback(Callback):
        def __init__(self) -> None:
            self.loggers: dict[str, RunLogger] = {}
            self.rounds: dict[str, list[list[Any]]] = {}  # trial id -> [[epoch, score], ...]
            self.ended = 0
            self.best: tuple[float, int] | None = None

        def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            if tracking is None:
                return
            uri, experiment_id, parent = tracking
            number = trial.config["number"]
            logger = RunLogger(
                uri, experiment_id, run_name=f"{study}/trial-{number}", parent_run_id=parent,
                warn=log, tags={"kind": "bench tune trial", "study": study,
                                "trial_number": number, "method": base.method,
                                "dataset": base.dataset, "bits": ",".join(map(str, base.bits)),
                                "budget": base.definition.budget, "seed": base.seed,
                                "status": "running"})
            logger.log_params(trial.config["hp"])
            self.loggers[trial.trial_id] = logger

        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict,
                            **info: Any) -> None:
            if FINAL_MARKER not in result:
                self.rounds.setdefault(trial.trial_id, []).append(
                    [result.get("epoch"), result.get(VALIDATION_METRIC)])
            logger = self.loggers.get(trial.trial_id)
            if logger is not None and result.get(VALIDATION_METRIC) is not None:
                extra = {"epoch": result["epoch"]} if "epoch" in result else {}
                logger.log_metrics({VALIDATION_METRIC: result[VALIDATION_METRIC], **extra},
                                   step=int(result.get("training_iteration", 0)))

        def on_trial_complete(self, iteration: int, trials: list, trial: Any,
                              **info: Any) -> None:
            last = trial.last_result or {}
            if FINAL_MARKER in last:
                self._end(trial, "finished", last.get(VALIDATION_METRIC))
            else:
                self._record_pruned(trial, last)
                self._end(trial, "pruned", last.get(VALIDATION_METRIC))

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._end(trial, "failed", None)

        def _record_pruned(self, trial: Any, last: Mapping[str, Any]) -> None:
            cfg = search_config(base, study, trial.config["number"], trial.config["hp"])
            rec = store.read(cfg.method, cfg.dataset, cfg.key)
            if rec is not None and rec.status == "pruned" and \
                    (rec.tuning or {}).get("trial") == trial.config["number"]:
                return
            rounds = self.rounds.get(trial.trial_id, [])
            if last and FINAL_MARKER not in last and (
                    not rounds or rounds[-1][0] != last.get("epoch")):
                rounds = [*rounds, [last.get("epoch"), last.get(VALIDATION_METRIC)]]
            store.write_record(pruned_record(
                cfg, {"last": f"stopped by the scheduler after round {len(rounds)}",
                      "stage": "fit", "score": last.get(VALIDATION_METRIC), "rounds": rounds,
                      "written_by": "driver (the trial was stopped before it wrote one)"}))

        def _error(self, trial: Any) -> str:
            """The error a failed trial recorded (type, message, traceback file)."""
            cfg = search_config(base, study, trial.config["number"], trial.config["hp"])
            rec = store.read(cfg.method, cfg.dataset, cfg.key)
            if rec is None or rec.error is None:
                return "the trial ended without a record (see Ray's log above)"
            where = f"; traceback {store.root / rec.error.traceback_file}" \
                if rec.error.traceback_file else ""
            return f"{rec.error.type}: {rec.error.message[:200]}{where}"

        def _end(self, trial: Any, status: str, score: float | None) -> None:
            self.ended += 1
            number = trial.config.get("number")
            rounds = int((trial.last_result or {}).get("training_iteration", 0))
            if status == "finished" and score is not None and (
                    self.best is None or score > self.best[0]):
                self.best = (score, number)
            what = {"finished": f"finished, validation mAP {score:.4f}" if score is not None
                    else "finished",
                    "pruned": f"pruned after {rounds} round(s)"
                              + (f" (validation mAP {score:.4f})" if score is not None else ""),
                    "failed": f"failed: {self._error(trial)}"}[status]
            best = (f"; best this run {self.best[0]:.4f} (trial {self.best[1]})"
                    if self.best else "")
            log(f"bench: {study}: trial {number} {what} [{self.ended}/{todo}]{best}")
            self.rounds.pop(trial.trial_id, None)
            logger = self.loggers.pop(trial.trial_id, None)
            if logger is not None:
                logger.set_tags({"status": status, "rounds": rounds,
                                 "optuna_state": {"finished": "COMPLETE", "pruned": "PRUNED",
                                                  "failed": "FAIL"}[status]})
                if score is not None:
                    logger.log_metrics({"final_validation_map" if status == "finished"
                                        else "last_validation_map": score}, step=rounds)
                logger.end({"finished": "FINISHED", "pruned": "KILLED",
                            "failed": "FAILED"}[status])

    return StudyCallback()


def run_search(*, base: TrialConfig, study: str, storage: Any, space: Mapping[str, Any],
               sampler_seed: int, scheduling: Scheduling, trials: int, max_concurrent: int,
               folder: Path, run_id: str, plugins: Mapping[str, Any],
               tracking: tuple[str, str, str] | None, log: Log) -> None:
    """Run ``trials`` new trials of ``study`` through one Ray Tune Tuner (Ray already started)."""
    from ray import tune

    from bench.runner.tune import resource_request
    from bench.tuning.trial import trainable

    cell = {"trial": base.to_dict(), "study": study, "plugins": dict(plugins)}
    tuner = tune.Tuner(
        tune.with_resources(tune.with_parameters(trainable, cell=cell),
                            resource_request(base.resources)),
        tune_config=tune.TuneConfig(
            metric=VALIDATION_METRIC, mode=MODE,
            search_alg=study_search(space, study, storage, sampler_seed),
            scheduler=make_scheduler(scheduling), num_samples=trials,
            max_concurrent_trials=max_concurrent,
            # a worker process serves several trials (no process start), except under a
            # scheduler that stops trials: with actor reuse Ray 2.60 was seen to leave the
            # trial after a stopped one PENDING for good (its cached actor idle)
            reuse_actors=scheduling.scheduler == "none",
            trial_name_creator=lambda t: f"trial-{t.config['number']}",
            trial_dirname_creator=lambda t: f"trial-{t.config['number']}-{t.trial_id}",
        ),
        run_config=tune.RunConfig(
            name=run_id, storage_path=str(folder / "ray"), verbose=0,
            failure_config=tune.FailureConfig(max_failures=0),
            callbacks=[trial_callback(study, base, tracking, log, trials)],
        ),
    )
    tuner.fit()
