"""`bench tune` on real Ray Tune + Optuna + MLflow: a 6-trial ASHA search that prunes,
the study read back with the Optuna API, a rerun with --trials 8 that runs exactly 2 more, the
final multi-seed records shown as a tuned row, and the query-set guard (a spy method that logs
every item it is asked to encode)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
from conftest import register_plugins, toy_method_spec
from optuna.trial import TrialState

from bench.cli import main
from bench.plugins import FitContext, HashMethod, PairedData
from bench.results import ResultStore, load_codes

DATA = ["--dataset", "synthetic-features", "--dataset-opt", "n_items=600", "--preset", "small",
        "--num-cpus", "2", "--max-concurrent", "1", "--no-report"]
#: a small GNAH: 20 epochs, one validation round every 5 (4 rounds, then the final report)
GNAH = ["--methods", "gnah", "--bits", "16", "--budgets", "80", "--set", "gnah.epochs=20",
        "--set", "gnah.report_every=5", "--set", "gnah.hidden=256",
        "--set", "gnah.kmeans_restarts=2", "--set", "gnah.k_max=8"]
ASHA = ["--scheduler", "asha", "--asha-grace", "1", "--asha-reduction", "2"]


def study_of(results: Path) -> optuna.Study:
    storage = f"sqlite:///{results / 'tune' / 'optuna.db'}"
    (summary,) = optuna.get_all_study_summaries(storage)
    return optuna.load_study(study_name=summary.study_name, storage=storage)


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    results = tmp_path_factory.mktemp("tune")
    code = main(["tune", *GNAH, *DATA, *ASHA, "--trials", "6", "--final-seeds", "0,1",
                 "--results", str(results)])
    assert code == 0
    return results


def test_six_trial_asha_search_prunes_and_persists_the_study(searched):
    study = study_of(searched)
    trials = sorted(study.trials, key=lambda t: t.number)
    assert [t.number for t in trials] == list(range(6))
    states = [t.state for t in trials]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    assert set(states) <= {TrialState.PRUNED, TrialState.COMPLETE}
    assert study.user_attrs["cell"]["search"]["scheduler"] == "asha"
    for t in trials:
        assert set(t.params) == {"beta", "gamma", "k", "lr", "tau"}
        assert t.intermediate_values  # one value per validation round
        if t.state == TrialState.COMPLETE:  # 4 rounds + the final report
            assert len(t.intermediate_values) == 5 and t.value is not None
        else:
            assert len(t.intermediate_values) < 5
    # the study's folder: trials table, best parameters, plots
    folder = searched / "tune" / study.study_name
    table = pd.read_csv(folder / "trials.csv")
    assert list(table["number"]) == list(range(6)) and "params_lr" in table
    assert set(table["state"]) == {"COMPLETE", "PRUNED"}
    best = json.loads((folder / "best_params.json").read_text())
    assert best["best_trial"] == study.best_trial.number
    assert best["validation_score"] == pytest.approx(study.best_value)
    assert best["trials"] == 6 and best["pruned"] == states.count(TrialState.PRUNED)
    for png in ("optimization_history.png", "param_importances.png"):
        assert (folder / png).read_bytes()[:4] == b"\x89PNG"


def test_search_trials_are_recorded_apart_and_pruned_ones_never_finished(searched):
    study = study_of(searched)
    search = ResultStore(searched / "tune" / study.study_name / "trials").load_records()
    by_trial = {r.tuning["trial"]: r for r in search}
    for t in study.trials:
        rec = by_trial[t.number]
        assert rec.tuning["role"] == "search" and not rec.metrics and rec.codes is None
        if t.state == TrialState.PRUNED:
            assert rec.status == "pruned"
        else:
            assert rec.status == "finished"
            assert rec.validation["score"] == pytest.approx(t.value)
            assert len(rec.validation["rounds"]) == 4
    # the results' own records hold only the final runs, never a search trial
    main_records = ResultStore(searched).load_records()
    assert {r.tuning["role"] for r in main_records} == {"final"}


def test_mlflow_parent_run_per_study_and_child_run_per_trial(searched):
    from mlflow.tracking import MlflowClient

    study = study_of(searched)
    client = MlflowClient(f"sqlite:///{searched / 'mlflow.db'}")
    exp = client.get_experiment_by_name("bench")
    runs = client.search_runs([exp.experiment_id], max_results=200)
    (parent,) = [r for r in runs if r.data.tags.get("kind") == "bench tune study"]
    assert parent.info.run_name == study.study_name
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(children) == 6
    states = {int(r.data.tags["trial_number"]): r for r in children}
    for t in study.trials:
        run = states[t.number]
        want = "pruned" if t.state == TrialState.PRUNED else "finished"
        assert run.data.tags["status"] == want
        assert run.info.status == ("KILLED" if want == "pruned" else "FINISHED")
        assert set(run.data.params) == set(t.params)
        history = client.get_metric_history(run.info.run_id, "validation_map")
        assert len(history) >= len(t.intermediate_values)
    finals = [r for r in runs if r.data.tags.get("tuned_by") == study.study_name]
    assert len(finals) == 2


def test_final_records_state_their_origin_and_form_a_tuned_row(searched, capsys):
    study = study_of(searched)
    records = ResultStore(searched).load_records()
    assert sorted(r.seed for r in records) == [0, 1]
    for rec in records:
        assert rec.finished and rec.metrics and rec.codes["sha256"]
        t = rec.tuning
        assert t["study"] == study.study_name and t["trials"] == 6
        assert t["best_trial"] == study.best_trial.number
        assert t["validation_score"] == pytest.approx(study.best_value)
        assert rec.definition["tuned_by"] == study.study_name
        for name, value in study.best_params.items():
            assert rec.params[name] == pytest.approx(value) if isinstance(value, float) \
                else rec.params[name] == value
    md = (searched / "leaderboard.md").read_text()
    assert "gnah[epochs=20,hidden=256,k_max=8,kmeans_restarts=2,report_every=5] " \
           "(tuned: 6 trials)" in md and "(n=2/2)" in md
    assert "## Default vs tuned" in md
    long = pd.read_csv(searched / "leaderboard.csv")
    assert len(long) == 4 and long["method"].str.contains("tuned: 6 trials").all()
    # bench ls runs names the origin of the final runs and of the search trials
    capsys.readouterr()
    assert main(["ls", "runs", "--results", str(searched)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert sum(f"(tuned: study {study.study_name}, 6 trials)" in line for line in lines) == 2
    trials = searched / "tune" / study.study_name / "trials"
    assert main(["ls", "runs", "--results", str(trials)]) == 0
    out = capsys.readouterr().out
    assert all(f"(study {study.study_name}, trial {t.number})" in out for t in study.trials)


def test_rerun_with_more_trials_runs_exactly_the_difference(searched, capsys):
    study = study_of(searched)
    before = {t.number: (t.state, t.params) for t in study.trials}
    code = main(["tune", *GNAH, *DATA, *ASHA, "--trials", "8", "--final-seeds", "0,1",
                 "--results", str(searched)])
    assert code == 0
    out = capsys.readouterr().out
    assert "6 of 8 trial(s) done, 2 to run" in out
    study = study_of(searched)
    after = {t.number: (t.state, t.params) for t in study.trials}
    assert sorted(after) == list(range(8))
    assert {n: after[n] for n in before} == before  # finished trials are never repeated
    assert after[6][1] != before[0][1]  # the sampler did not restart from its first point
    records = [r for r in ResultStore(searched).load_records()
               if r.tuning and r.tuning["trials"] == 8]
    assert sorted(r.seed for r in records) == [0, 1]  # new best, or the same one restamped
    assert all(r.tuning["best_trial"] == study.best_trial.number for r in records)
    # a third run with the same --trials runs nothing and keeps everything
    assert main(["tune", *GNAH, *DATA, *ASHA, "--trials", "8", "--final-seeds", "0,1",
                 "--results", str(searched)]) == 0
    assert "8 of 8 trial(s) done, 0 to run" in capsys.readouterr().out
    assert len(study_of(searched).trials) == 8


# --------------------------------------------------------------------------- query-set guard


class QuerySpy(HashMethod):
    """Writes every item index it is asked to encode (with the fit's work folder, which tells
    a search trial from a final run) to ``log``; codes from a scaled random projection."""

    spec = replace(toy_method_spec("query-spy", "test_tune:QuerySpy",
                                   defaults={"scale": 1.0, "log": ""}), iterative=True,
                   search_space={"scale": {"type": "uniform", "low": 0.5, "high": 2.0}})

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        self.where = str(ctx.workdir)
        self.w = np.random.default_rng(self.seed).normal(size=(train.image_features.shape[1], 64))
        self.w *= self.params["scale"]
        for epoch in (1, 2):
            ctx.report(epoch, loss=1.0 / epoch)

    def encode(self, data: PairedData, modality) -> dict[int, np.ndarray]:
        with open(self.params["log"], "a") as fh:
            fh.write(json.dumps({"where": self.where, "index": data.index.tolist()}) + "\n")
        x = data.image_features if modality == "image" else data.text_features
        return {b: np.where(x @ self.w[:, :b] >= 0, 1, -1).astype(np.int8) for b in self.bits}


@pytest.fixture(scope="module", autouse=True)
def spy_registered():
    register_plugins({"query-spy": "test_tune:QuerySpy.spec"})


def test_search_never_encodes_or_evaluates_the_query_set(tmp_path):
    log = tmp_path / "encoded.jsonl"
    results = tmp_path / "results"
    assert main(["tune", "--methods", "query-spy", "--bits", "16", "--budgets", "50", *DATA,
                 "--set", f"query-spy.log={log}", "--trials", "3", "--scheduler", "none",
                 "--final-seeds", "0",
                 "--results", str(results), "--tracking-uri", "none"]) == 0
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    search = [c for c in calls if "/tune/" in c["where"]]
    final = [c for c in calls if "/tune/" not in c["where"]]
    assert search and final
    (rec,) = ResultStore(results).load_records()
    codes = load_codes(results / rec.codes["file"])
    query = set(codes["q_index"].tolist())
    seen_in_search = set().union(*(c["index"] for c in search))
    assert not seen_in_search & query  # never a query item during the search
    assert seen_in_search <= set(codes["r_index"].tolist())  # validation and its database
    # the positive control: the spy does see the query set when the final run encodes it
    assert query <= set().union(*(c["index"] for c in final))
    study = study_of(results)
    assert len(study.trials) == 3 and all(t.state == TrialState.COMPLETE for t in study.trials)
