"""`bench run` through real Ray Tune trials and a real SQLite MLflow store."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from bench.cli import main
from bench.metrics import evaluate_retrieval, unpack_codes
from bench.results import ResultStore, load_codes

ARGS = ["--methods", "lsh,cca-itq", "--bits", "16,32", "--dataset", "synthetic-features",
        "--dataset-opt", "n_items=1500",
        "--preset", "small", "--num-cpus", "2"]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    results = tmp_path_factory.mktemp("results")
    assert main(["run", *ARGS, "--results", str(results)]) == 0
    return results


def test_records_codes_and_leaderboard(finished_run):
    store = ResultStore(finished_run)
    records = store.load_records()
    assert sorted((r.method, tuple(r.bits)) for r in records) == [
        ("cca-itq", (16,)), ("cca-itq", (32,)), ("lsh", (16,)), ("lsh", (32,))]
    for r in records:
        assert r.status == "finished" and r.split["checksum"] and r.environment["git_commit"]
        assert r.protocol["version"] == 2 and "seeded order" in r.protocol["ties"]
        assert r.mlflow_run_id and r.tracking_error is None and r.tracking_state == "logged"
        assert r.definition["data_fingerprint"] and r.codes["sha256"]
        assert r.timing["conditions"]["threads"] == 1
        stages = r.timing["stages"]  # each step's own time and peak memory
        assert {"data", "fit", "encode", "validation", "evaluate", "store"} <= set(stages)
        assert r.timing["fit_s"] == pytest.approx(stages["fit"]["s"], abs=1e-3)
        assert stages["fit"]["peak_rss_mib"] > 0
        assert r.timing["started_at"] < r.timing["ended_at"]
    logs = list((finished_run / "logs").glob("run-*-ray.log"))  # Ray's own output
    assert len(logs) == 1 and "experiment state" in logs[0].read_text()
    long = pd.read_csv(finished_run / "leaderboard.csv")
    assert len(long) == 8 and set(long["direction"]) == {"i2t", "t2i"}
    pivot = (finished_run / "leaderboard.md").read_text()
    assert "cca-itq" in pivot and "I→T / 16" in pivot.replace("synthetic-features / ", "")


def test_codes_reload_and_reproduce_the_metrics(finished_run):
    store = ResultStore(finished_run)
    rec = next(r for r in store.load_records() if r.method == "cca-itq")
    b = rec.bits[0]
    z = load_codes(store.root / rec.codes["file"])
    q_img = unpack_codes(z[f"q_img_{b}"], b)
    r_txt = unpack_codes(z[f"r_txt_{b}"], b)
    again = evaluate_retrieval(q_img, r_txt, z["q_labels"], z["r_labels"])
    assert again["map_all"] == pytest.approx(rec.metrics[str(b)]["i2t"]["map_all"], abs=1e-12)
    assert not set(z["q_index"]) & set(z["r_index"])
    assert set(z["train_index"]) <= set(z["r_index"])
    assert not (z["r_index"][1:] > z["r_index"][:-1]).all()  # seeded order, not dataset order


def test_cca_itq_beats_lsh(finished_run):
    long = pd.read_csv(finished_run / "leaderboard.csv")
    m = long.pivot_table(index=["bits", "direction"], columns="method", values="map_all")
    assert (m["cca-itq"] > m["lsh"]).all(), m


def test_mlflow_store(finished_run):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{finished_run / 'mlflow.db'}")
    exp = client.get_experiment_by_name("bench")
    runs = client.search_runs([exp.experiment_id])
    parents = [r for r in runs if r.data.tags.get("kind") == "bench run"]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId")]
    assert len(parents) == 1 and len(children) == 4
    child = children[0]
    assert child.data.tags["mlflow.parentRunId"] == parents[0].info.run_id
    for tag in ("method", "dataset", "bits", "budget", "seed", "harness_version", "git_commit"):
        assert tag in child.data.tags
    assert any(k.startswith("i2t.map_all") for k in child.data.metrics)
    assert child.data.params["hp.center" if child.data.tags["method"] == "lsh" else "hp.reg"]
    arts = {a.path for a in client.list_artifacts(child.info.run_id)}
    assert {"codes", "record"} <= arts
    assert child.info.status == "FINISHED"


def test_rerun_skips_and_force_redoes(finished_run, capsys):
    store = ResultStore(finished_run)
    mtimes = {p: p.stat().st_mtime_ns for p in store.records_dir.rglob("*.json")}
    assert main(["run", *ARGS, "--results", str(finished_run), "--no-ray"]) == 0
    assert "0 to run, 4 already finished" in capsys.readouterr().out
    assert {p: p.stat().st_mtime_ns for p in store.records_dir.rglob("*.json")} == mtimes
    assert main(["run", "--methods", "lsh", "--bits", "16", "--dataset", "synthetic-features",
                 "--dataset-opt", "n_items=1500",
                 "--preset", "small", "--results", str(finished_run), "--force", "--no-ray"]) == 0
    assert "1 to run, 0 already finished" in capsys.readouterr().out
    now = {p: p.stat().st_mtime_ns for p in store.records_dir.rglob("*.json")}
    assert set(now) == set(mtimes)
    changed = [p for p in now if now[p] != mtimes[p]]
    assert len(changed) == 1 and changed[0].name.startswith("lsh-synthetic-features-b16-")


def test_changed_hyperparameter_is_a_new_result(finished_run, capsys):
    assert main(["run", "--methods", "cca-itq", "--bits", "16", "--dataset", "synthetic-features",
                 "--dataset-opt", "n_items=1500",
                 "--preset", "small", "--set", "reg=0.01", "--results", str(finished_run),
                 "--no-ray"]) == 0
    assert "1 to run, 0 already finished" in capsys.readouterr().out
    keys = [p.stem for p in (finished_run / "records" / "cca-itq").rglob("*.json")]
    assert len(keys) == 3


def test_leaderboard_command(finished_run, tmp_path, capsys):
    assert main(["leaderboard", "--results", str(finished_run), "--out", str(tmp_path)]) == 0
    df = pd.read_csv(tmp_path / "leaderboard.csv")
    assert {"map_all", "map_at_50", "p_at_50", "map_tie_aware", "split_checksum"} <= set(df.columns)
    rec = json.loads(next((finished_run / "records").rglob("*.json")).read_text())
    row = df[df.result_key == rec["key"]].iloc[0]
    assert np.isclose(row["map_all"], rec["metrics"][str(row["bits"])][row["direction"]]["map_all"])
