"""MLflow unavailable during a run: records say their tracking is 'pending'; `bench mlflow
sync` uploads them later under one parent run, idempotently (the server outage without a
cluster; the multi-node version with a real server that dies is in test_cluster.py)."""

from __future__ import annotations

import json
from collections import Counter

from bench.cli import main
from bench.local_cluster import free_port
from bench.results import ResultStore

SMALL = ["--dataset", "synthetic-features", "--dataset-opt", "n_items=400", "--preset", "small",
         "--bits", "16", "--no-report", "--no-ray"]


def runs_of(uri: str) -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("bench")
    return client.search_runs([exp.experiment_id], max_results=1000)


def test_pending_records_are_synced_once(tmp_path, capsys):
    results = tmp_path / "results"
    down = f"http://127.0.0.1:{free_port()}"  # nothing listens: MLflow is down all run long
    assert main(["run", "--methods", "lsh,cca-itq", *SMALL, "--seeds", "0,1",
                 "--results", str(results), "--tracking-uri", down]) == 0
    assert "'bench mlflow sync' uploads them later" in capsys.readouterr().err
    recs = ResultStore(results).load_records()
    assert len(recs) == 4 and {r.tracking_state for r in recs} == {"pending"}
    manifest = json.loads(next((results / "runs").glob("*.json")).read_text())
    assert manifest["tracking_uri"] == down and manifest["parent_run_id"] is None

    assert main(["mlflow", "sync", "--results", str(results)]) == 2  # still down: one line
    err = capsys.readouterr().err
    assert "is not reachable" in err and "nothing was changed" in err
    assert {r.tracking_state for r in ResultStore(results).load_records()} == {"pending"}

    store = f"sqlite:///{tmp_path / 'mlflow.db'}"  # the store is back (here: another URI)
    assert main(["mlflow", "sync", "--results", str(results), "--tracking-uri", store]) == 0
    assert "4 record(s) checked: 4 run(s) created, 0 completed, 0 already logged, 1 parent" \
        in capsys.readouterr().out
    assert main(["mlflow", "sync", "--results", str(results), "--tracking-uri", store,
                 "--all"]) == 0
    assert "4 record(s) checked: 0 run(s) created, 0 completed, 4 already logged, 0 parent" \
        in capsys.readouterr().out

    recs = ResultStore(results).load_records()
    assert {r.tracking_state for r in recs} == {"logged"}
    runs = runs_of(store)
    children = [r for r in runs if r.data.tags.get("result_key")]
    assert Counter(r.data.tags["result_key"] for r in children) == Counter(r.key for r in recs)
    parent_id = json.loads(next((results / "runs").glob("*.json")).read_text())["parent_run_id"]
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent_id}
    assert {r.info.run_id for r in children} == {r.mlflow_run_id for r in recs}
    assert all(r.info.status == "FINISHED" and "test.map_all.16" not in r.data.metrics
               and "i2t.map_all.16" in r.data.metrics for r in children)


def test_a_run_closed_as_killed_after_its_status_tag_is_completed(tmp_path, capsys):
    """The driver died after logging a trial's run (status tag set) but before ending it and
    marking the record logged; the next driver closed the RUNNING run as KILLED. The sync must
    end that run FINISHED, not count it as already logged (one FINISHED run per key)."""
    from mlflow.tracking import MlflowClient

    results, store = tmp_path / "results", f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["run", "--methods", "lsh", *SMALL, "--seeds", "0,1", "--results",
                 str(results), "--tracking-uri", store]) == 0
    rec = ResultStore(results).load_records()[0]
    MlflowClient(store).set_terminated(rec.mlflow_run_id, "KILLED")
    rec.tracking_state, rec.mlflow_run_id = "pending", None
    ResultStore(results).write_record(rec)
    capsys.readouterr()
    assert main(["mlflow", "sync", "--results", str(results), "--tracking-uri", store]) == 0
    assert "1 record(s) checked: 0 run(s) created, 1 completed" in capsys.readouterr().out
    children = [r for r in runs_of(store) if r.data.tags.get("result_key")]
    assert Counter(r.data.tags["result_key"] for r in children) == Counter(
        r.key for r in ResultStore(results).load_records())
    assert all(r.info.status == "FINISHED" for r in children)
