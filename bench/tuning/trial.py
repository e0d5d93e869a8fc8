"""One search trial of ``bench tune``, as Ray Tune runs it.

The trainable gets the cell (the search's base trial config and the plugins registered at run
time) through ``tune.with_parameters`` and the sampled hyperparameters and the Optuna trial
number through its config (``{"hp": {...}, "number": n}``). It runs
:func:`bench.runner.trial.run_trial` in search mode: validation rounds only, the query set and
the retrieval database are never encoded. When the scheduler stops the trial, Ray ends its
``tune.report`` call with ``SystemExit``; the reporter turns that into
:class:`~bench.runner.trial.TrialPruned`, so the trial writes a ``pruned`` record, not a failure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from bench import registry
from bench.params import check_param
from bench.runner.trial import FINAL_MARKER, VALIDATION_METRIC, TrialPruned
from bench.schema import TrialConfig


def search_config(base: TrialConfig, study: str, number: int,
                  values: Mapping[str, Any]) -> TrialConfig:
    """The config of trial ``number`` of ``study``: ``base`` with the sampled ``values``
    (checked and canonical, as ``--set`` values are)."""
    spec = registry.methods.get(base.method)
    params = {**base.params, **{k: check_param(spec, k, v, source="search value")
                                for k, v in values.items()}}
    cfg = base.with_params(params)
    return replace(cfg, tuning={"role": "search", "study": study, "trial": int(number)})


def pruning_reporter(report: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    """``report`` that raises TrialPruned when the scheduler stopped the trial (Ray ends the
    call with SystemExit); at the final report the trial is over anyway, so it just returns."""
    rounds: list[list[Any]] = []  # [epoch, validation score] of every round

    def wrapped(metrics: dict[str, Any]) -> None:
        final = FINAL_MARKER in metrics
        if not final:
            rounds.append([metrics.get("epoch"), metrics.get(VALIDATION_METRIC)])
        try:
            report(metrics)
        except SystemExit:
            if final:
                return
            score = rounds[-1][1] if rounds else None
            raise TrialPruned(f"stopped by the scheduler after round {len(rounds)}",
                              {"score": score, "rounds": rounds}) from None

    return wrapped


def trainable(config: dict[str, Any], cell: dict[str, Any]) -> None:
    """The Ray Tune function trainable of a search."""
    from ray import tune

    from bench.runner.trial import run_trial

    registry.methods.adopt(cell.get("plugins") or {})
    base = TrialConfig.from_dict(cell["trial"])
    cfg = search_config(base, cell["study"], config["number"], config["hp"])
    run_trial(cfg, report=pruning_reporter(tune.report), search=True)
