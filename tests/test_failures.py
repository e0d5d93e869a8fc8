"""Failures on record: a failing trial leaves a ``failed`` record and a
traceback, the others go on (in-process and in Ray), the run says so and exits non-zero, a
rerun retries only the failed keys; tracking failures never fail a trial or the run."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
from conftest import register_plugins, toy_method_spec

from bench.cli import main
from bench.plugins import FitContext, HashMethod, PairedData
from bench.results import ResultStore

SMALL = ["--dataset", "synthetic-features", "--dataset-opt", "n_items=600", "--preset", "small"]


class Flaky(HashMethod):
    """Fails for the seed named by ``fail_seed``; optionally breaks the MLflow store."""

    spec = toy_method_spec("flaky", "test_failures:Flaky",
                           {"fail_seed": -1, "break_tracking": ""}, multi_bit=True)

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        ctx.report(1, loss=1.0)
        if self.params["break_tracking"]:  # a real outage of a real store: corrupt its file
            Path(self.params["break_tracking"]).write_bytes(b"not a database" * 1000)
            ctx.report(2, loss=0.5)
        if self.seed == self.params["fail_seed"]:
            raise RuntimeError(f"planned failure for seed {self.seed}")
        self.w = np.random.default_rng(self.seed).normal(size=(train.image_features.shape[1], 64))

    def encode(self, data: PairedData, modality) -> dict[int, np.ndarray]:
        x = data.image_features if modality == "image" else data.text_features
        return {b: np.where(x @ self.w[:, :b] >= 0, 1, -1).astype(np.int8) for b in self.bits}


@pytest.fixture(scope="module", autouse=True)
def flaky_registered():
    register_plugins(methods={"flaky": "test_failures:Flaky.spec"})


def records(results: Path) -> dict[int, object]:
    return {r.seed: r for r in ResultStore(results).load_records()}


def test_in_process_failure_is_recorded_and_retried(tmp_path, capsys):
    args = ["run", "--methods", "flaky", "--bits", "16", *SMALL, "--seeds", "0,1,2",
            "--set", "flaky.fail_seed=1", "--results", str(tmp_path), "--no-ray"]
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert "1 of 3 trial(s) failed" in err and "planned failure for seed 1" in err
    recs = records(tmp_path)
    assert {s: r.status for s, r in recs.items()} == {0: "finished", 1: "failed", 2: "finished"}
    failed = recs[1]
    assert failed.error.type == "RuntimeError" and failed.error.stage == "fit"
    assert failed.attempt == 1 and failed.node and failed.timing["total_s"] > 0
    assert "planned failure" in (tmp_path / failed.error.traceback_file).read_text()
    assert failed.run["seeds"] == [0, 1, 2]
    md = (tmp_path / "leaderboard.md").read_text()
    assert "## Failed trials" in md and "failed: seed 1" in md and "(n=2/3" in md

    assert main(["ls", "runs", "--results", str(tmp_path), "--failed"]) == 0
    listing = capsys.readouterr().out
    assert failed.key in listing and "RuntimeError" in listing and "1 failed" in listing
    assert f"attempt 1  {failed.device}  " in listing and failed.device == "cpu"

    assert main(args) == 1  # the rerun retries only the failed key
    out, err = capsys.readouterr()
    assert "1 to run, 2 already finished" in out
    assert records(tmp_path)[1].attempt == 2
    assert (tmp_path / "failures" / failed.key / "attempt-2.txt").is_file()


def test_ray_failure_never_stops_the_others(tmp_path, capsys):
    """A real method failing inside a Ray trial (GNAH needs 4 pairs) next to one that works."""
    assert main(["run", "--methods", "lsh,gnah", "--bits", "16", *SMALL, "--budgets", "3",
                 "--num-cpus", "2", "--results", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "1 of 2 trial(s) failed" in err and "at least 4 training pairs" in err
    recs = {r.method: r for r in ResultStore(tmp_path).load_records()}
    assert recs["lsh"].status == "finished" and recs["lsh"].metrics
    assert recs["gnah"].status == "failed" and recs["gnah"].error.type == "ValueError"
    assert recs["gnah"].error.traceback_file


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_tracking_server_never_fails_the_run(tmp_path, capsys):
    uri = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    assert main(["run", "--methods", "flaky", "--bits", "16", *SMALL, "--tracking-uri", uri,
                 "--results", str(tmp_path), "--no-ray"]) == 0
    out, err = capsys.readouterr()
    assert "MLflow tracking at" in err and "unavailable" in err and "Traceback" not in err
    rec = records(tmp_path)[0]
    assert rec.status == "finished" and rec.mlflow_run_id is None
    assert (tmp_path / "leaderboard.md").is_file()


def test_tracking_outage_during_a_trial_keeps_its_result(tmp_path, capsys):
    db = tmp_path / "mlflow.db"
    assert main(["run", "--methods", "flaky", "--bits", "16", *SMALL, "--results",
                 str(tmp_path), "--set", f"flaky.break_tracking={db}", "--no-ray"]) == 0
    out, err = capsys.readouterr()
    assert "MLflow tracking stopped" in out + err and "Traceback" not in err
    rec = records(tmp_path)[0]
    assert rec.status == "finished" and rec.metrics and rec.tracking_error
    raw = json.loads(next((tmp_path / "records").rglob("*.json")).read_text())
    assert raw["codes"]["sha256"] and (tmp_path / raw["codes"]["file"]).is_file()


def test_driver_api_and_pruned_trials(tmp_path):
    """The API other drivers (bench tune) use: plan a typed request, run one trial with a
    reporter; a reporter raising TrialPruned leaves a 'pruned' record, never a result."""
    from bench.leaderboard import write_leaderboard
    from bench.runner.driver import RunRequest, check_request, plan
    from bench.runner.trial import TrialPruned, run_trial

    req = RunRequest(methods=["flaky"], bits=[16], dataset="synthetic-features",
                     preset="small", dataset_options={"n_items": 600}, seeds=[0, 1],
                     results_dir=tmp_path, tracking_uri="none")
    check_request(req)
    p = plan(req, log=lambda msg: None)
    assert [c.seed for c in p.todo] == [0, 1] and p.skipped == []
    finished = run_trial(p.todo[0], log=lambda msg: None)
    assert finished.status == "finished" and finished.validation["database"] > 0

    def stop(metrics):
        if metrics.get("epoch") == 1:
            raise TrialPruned("validation below the median at epoch 1")

    pruned = run_trial(p.todo[1], report=stop, log=lambda msg: None)
    assert pruned.status == "pruned" and not pruned.metrics and pruned.codes is None
    assert "median" in pruned.validation["last"]
    md = write_leaderboard(tmp_path)["markdown"].read_text()
    assert "(n=1/2; missing: seed 1)" in md  # a pruned trial is no result
    assert plan(req, log=lambda msg: None).skipped == [p.todo[0].key]


def test_a_restarted_trial_removes_what_a_killed_attempt_left_half_written(tmp_path):
    """A worker killed inside ``atomic_write`` leaves a hidden temporary file beside the record
    or codes file; the next attempt of that key removes it (nothing half-written stays), and
    other keys' files are left alone."""
    from bench.results import ResultStore
    from bench.runner.driver import RunRequest, plan
    from bench.runner.trial import run_trial

    req = RunRequest(methods=["lsh"], bits=[16], dataset="synthetic-features", preset="small",
                     dataset_options={"n_items": 600}, seeds=[0], results_dir=tmp_path,
                     tracking_uri="none")
    cfg = plan(req, log=lambda msg: None).todo[0]
    store = ResultStore(tmp_path)
    record = store.record_path(cfg.method, cfg.dataset, cfg.key)
    codes = store.codes_path(cfg.key)
    for path in (record, codes):
        path.parent.mkdir(parents=True, exist_ok=True)
    stale = [record.parent / f".{record.name}.k1ll3d.tmp",
             codes.parent / f".{codes.name}.k1ll3d.npz"]
    other = codes.parent / ".other-key.npz.abc.npz"
    for path in (*stale, other):
        path.write_bytes(b"half")
    assert run_trial(cfg, log=lambda msg: None).status == "finished"
    assert not [p for p in stale if p.exists()] and other.exists()
    assert record.is_file() and codes.is_file()
