"""MLflow logging from the driver (bench.runner.relay): a trial run with ``by_driver``
tracking makes no tracking call; the driver's relay logs its record as the trial would have (one
child run under the parent, params, per-epoch and final metrics, artifacts) and marks it logged;
an outage leaves records pending without failing anything."""

from __future__ import annotations

import socket
import sys
from types import SimpleNamespace

from bench import tracking
from bench.results import ResultStore
from bench.runner.driver import Execution, RunRequest, plan
from bench.runner.relay import TrackingRelay
from bench.runner.trial import history_path, run_trial
from bench.schema import Tracking


def _configs(tmp_path, methods=("cca", "lsh")):
    req = RunRequest(methods=list(methods), bits=(16,), dataset="synthetic-features",
                     dataset_options={"n_items": 1500}, preset="small",
                     results_dir=tmp_path / "results", cache_dir=tmp_path / "cache",
                     device="cpu", report=False, execution=Execution(in_process=True))
    return plan(req, log=lambda m: None).todo


def test_driver_logs_each_trial_once_with_its_epoch_metrics(tmp_path):
    configs = _configs(tmp_path)
    results = tmp_path / "results"
    uri = tracking.default_tracking_uri(results)
    exp = tracking.prepare_experiment(uri, results, "relay")
    parent = tracking.RunLogger(uri, exp, run_name="parent", tags={"kind": "bench run"})
    t = Tracking(uri=uri, experiment_id=exp, parent_run_id=parent.run_id, experiment="relay",
                 by_driver=True)
    configs = [c.with_tracking(t) for c in configs]
    client = tracking.client(uri)
    store = ResultStore(results)
    for cfg in configs:
        rec = run_trial(cfg, log=lambda m: None)
        assert rec.tracking_state == "pending" and rec.mlflow_run_id is None
    assert client.search_runs([exp], filter_string="tags.mlflow.parentRunId != ''") == []
    cca = next(c for c in configs if c.method == "cca")
    assert history_path(cca.results_dir, cca.key).is_file()  # cca reports one epoch

    relay = TrackingRelay(configs, print, lambda: SimpleNamespace(tracking=t, logger=parent))
    relay.submit(cca.key)
    relay.submit(cca.key)  # heard twice: logged once
    relay.close()  # flushes the trial whose end was not heard (lsh)
    assert sorted(relay.logged) == sorted(c.key for c in configs)
    children = client.search_runs([exp], filter_string=f"tags.mlflow.parentRunId = "
                                                       f"'{parent.run_id}'")
    assert sorted(r.data.tags["result_key"] for r in children) == sorted(relay.logged)
    for cfg in configs:
        rec = store.read(cfg.method, cfg.dataset, cfg.key)
        run = next(r for r in children if r.data.tags["result_key"] == cfg.key)
        assert rec.tracking_state == "logged" and rec.mlflow_run_id == run.info.run_id
        assert run.info.status == "FINISHED" and run.data.params["method"] == cfg.method
        assert run.data.metrics["i2t.map_all.16"] == rec.metrics["16"]["i2t"]["map_all"]
        assert run.data.tags["git_commit"] == str(rec.environment.get("git_commit"))
    cca_run = next(r for r in children if r.data.tags["method"] == "cca")
    steps = client.get_metric_history(cca_run.info.run_id, "train.top_correlation")
    assert [m.step for m in steps] == [1]


def test_an_outage_leaves_records_pending_and_fails_nothing(tmp_path):
    configs = _configs(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there
    t = Tracking(uri=f"http://127.0.0.1:{port}", experiment_id="1", parent_run_id="p",
                 by_driver=True)
    configs = [c.with_tracking(t) for c in configs]
    for cfg in configs:
        run_trial(cfg, log=lambda m: None)
    said: list[str] = []
    relay = TrackingRelay(configs, said.append, lambda: SimpleNamespace(tracking=t))
    assert relay.close().tracking == t
    store = ResultStore(tmp_path / "results")
    for cfg in configs:
        rec = store.read(cfg.method, cfg.dataset, cfg.key)
        assert rec.finished and rec.tracking_state == "pending"
    assert relay.logged == []
    # the first upload failed (one warning); the second waited out the cool-down, untried
    assert sum("MLflow tracking stopped" in m for m in said) == 1, said


def test_a_by_driver_trial_never_imports_mlflow(tmp_path):
    """Run in a fresh interpreter: a trial with ``by_driver`` tracking loads no MLflow."""
    import json
    import subprocess

    cfg = _configs(tmp_path, methods=("lsh",))[0]
    cfg = cfg.with_tracking(Tracking(uri="sqlite:///unused.db", experiment_id="1",
                                     parent_run_id="p", by_driver=True))
    code = ("import json, sys; from bench.schema import TrialConfig; "
            "from bench.runner.trial import run_trial; "
            f"rec = run_trial(TrialConfig.from_dict(json.loads({json.dumps(cfg.to_dict())!r})), "
            "log=lambda m: None); "
            "assert rec.finished and rec.tracking_state == 'pending'; "
            "print('mlflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == "False", out.stdout + out.stderr



def test_a_new_sqlite_store_is_announced_in_one_bench_line(tmp_path):
    """MLflow's own INFO lines about creating its tables stay off the terminal (fresh
    interpreter: MLflow configures its logging on import); a second client says nothing."""
    import subprocess

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    code = ("from bench import tracking; "
            f"tracking.client({uri!r}).search_experiments(); "
            f"tracking.client({uri!r}).search_experiments()")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    text = out.stdout + out.stderr
    assert text.count("bench: creating the MLflow tracking store") == 1, text
    assert "database tables" not in text and "INFO" not in text, text
    assert (tmp_path / "mlflow.db").is_file()
