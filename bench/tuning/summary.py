"""The one-screen summary ``bench tune`` prints at the end."""

from __future__ import annotations

import os

from bench.results import ResultStore
from bench.tuning.driver import TuneSummary


def _params(values: dict) -> str:
    return " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in sorted(values.items()))


def summary_lines(summary: TuneSummary) -> list[str]:
    from bench.leaderboard import tuning_markdown, tuning_table

    try:
        load = f"load {os.getloadavg()[0]:.1f} now"
    except OSError:
        load = "load unknown"
    lines = ["", f"bench tune: done in {summary.wall_s:.0f} s ({os.cpu_count()} CPUs, {load}; "
                 f"run {summary.run_id})",
             f"{'study':<52} {'trials (new)':>12}  finished/pruned/failed  best validation"
             f"{'':<10} search"]
    for o in summary.outcomes:
        c = o.counts
        best = (f"{o.best['validation_score']:.4f} (trial {o.best['best_trial']})"
                if o.best else "none")
        counts = f"{c.get('finished', 0)}/{c.get('pruned', 0)}/{c.get('failed', 0)}"
        lines.append(f"{o.cell.name:<52} {f'{o.counted} (+{o.new_trials})':>12}  "
                     f"{counts:<22} {best:<25} {o.search_s:.0f} s")
        if o.best:
            lines.append(f"    best: {_params(o.best['params'])}")
        if o.problem:
            lines.append(f"    problem: {o.problem}")
    studies = {o.cell.name for o in summary.outcomes}
    table = tuning_table(ResultStore(summary.results_dir).load_records(), studies)
    if not table.empty:
        shown = table[["method", "budget", "bits", "direction", "default", "tuned", "delta"]]
        lines += ["", tuning_markdown(shown).rstrip()]
    if summary.records:
        failed = [r for r in summary.records if r.status == "failed"]
        lines.append(f"final runs: {len(summary.records)} ran, {len(summary.skipped)} already "
                     f"finished" + (f", {len(failed)} FAILED (see leaderboard.md)"
                                    if failed else ""))
    outputs = sorted({str(o.folder) for o in summary.outcomes})
    lines.append(f"outputs: {', '.join(outputs)} (trials.csv, best_params.json, "
                 "optimization_history.png, param_importances.png)")
    lines.append(f"studies: {summary.storage} (browse: optuna-dashboard {summary.storage})")
    if summary.leaderboard:
        lines.append(f"leaderboard: {summary.leaderboard['markdown']}")
    if summary.report:
        lines.append(f"report: {summary.report}")
    return lines
