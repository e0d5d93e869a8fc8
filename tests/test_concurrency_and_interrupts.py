"""Two drivers on one results folder, Ctrl-C / SIGTERM, and a full disk, with real processes:
a key is computed by one driver only (a claim that dies with its process), an interruption is
said as such (exit 130, manifest ``interrupted``, MLflow parent KILLED, no failure records) and
a rerun resumes, a full disk is one line, and a half-created MLflow store is found."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import register_plugins, toy_method_spec

from bench.errors import BenchError
from bench.plugins import FitContext, HashMethod, PairedData
from bench.results import ResultStore

TESTS = Path(__file__).resolve().parent
SMALL = ["--dataset", "synthetic-features", "--dataset-opt", "n_items=600", "--preset", "small",
         "--bits", "16", "--no-report"]
#: a driver process: registers the test method, then ``bench ...`` with the given arguments
DRIVER = ("import sys; sys.path.insert(0, {tests!r}); from conftest import register_plugins; "
          "register_plugins(methods={{'sleepy': 'test_concurrency_and_interrupts:Sleepy.spec'}});"
          " from bench.cli import main; sys.exit(main(sys.argv[1:]))")


class Sleepy(HashMethod):
    """Sign of a seeded random projection, after ``sleep_s`` seconds of "training"."""

    spec = toy_method_spec("sleepy", "test_concurrency_and_interrupts:Sleepy",
                           {"sleep_s": 0.0}, multi_bit=True)

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        time.sleep(float(self.params["sleep_s"]))
        ctx.report(1, loss=1.0)
        self.w = np.random.default_rng(self.seed).normal(size=(train.image_features.shape[1], 64))

    def encode(self, data: PairedData, modality) -> dict[int, np.ndarray]:
        x = data.image_features if modality == "image" else data.text_features
        return {b: np.where(x @ self.w[:, :b] >= 0, 1, -1).astype(np.int8) for b in self.bits}


@pytest.fixture(scope="module", autouse=True)
def sleepy_registered():
    register_plugins(methods={"sleepy": "test_concurrency_and_interrupts:Sleepy.spec"})


def start(args: list[str], **kw) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS), str(TESTS.parent),
                                                        os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-c", DRIVER.format(tests=str(TESTS)), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=TESTS.parent, **kw)


def run_args(results: Path, seeds: str, sleep_s: float, *more: str) -> list[str]:
    return ["run", "--methods", "sleepy", *SMALL, "--seeds", seeds, "--set",
            f"sleepy.sleep_s={sleep_s}", "--results", str(results), *more]


def statuses(results: Path) -> dict[int, str]:
    return {r.seed: r.status for r in ResultStore(results).load_records()}


def mlflow_runs(results: Path) -> list[tuple[str, str, str | None]]:
    """(status, run name, result_key tag) of every MLflow run in the results' SQLite store."""
    con = sqlite3.connect(results / "mlflow.db")
    try:
        return con.execute(
            "SELECT r.status, r.name, t.value FROM runs r LEFT JOIN tags t ON "
            "t.run_uuid = r.run_uuid AND t.key = 'result_key'").fetchall()
    finally:
        con.close()


def manifests(results: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((results / "runs").glob("*.json"))]


# --------------------------------------------------------------------------- 1. two drivers


def test_a_claim_dies_with_its_process(tmp_path):
    from bench.locks import busy, claim_key

    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from bench.locks import FileLock; "
         f"FileLock({str(tmp_path / 'claims' / 'k.lock')!r}, {{'run_id': 'run-a'}}).acquire(); "
         "print('held', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, cwd=TESTS.parent)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert busy(tmp_path, "k") and not busy(tmp_path, "other")
    finally:
        holder.kill()
        holder.wait()
    assert not busy(tmp_path, "k")  # the dead process's claim is free: taken over at once
    said: list[str] = []
    with claim_key(tmp_path, "k", "run-b", log=said.append) as lock:
        assert lock.held and lock.owner()["run_id"] == "run-b"
    assert said == []


def test_a_finished_record_of_another_run_is_never_replaced_by_a_failure(tmp_path):
    """The driver of run B sees records run A finished: they count, nothing is written."""
    from bench.cli import main
    from bench.runner.driver import RunRequest, collect_records, plan

    assert main(run_args(tmp_path, "0,1", 0, "--no-ray", "--tracking-uri", "none")) == 0
    files = sorted((tmp_path / "records").rglob("*.json"))
    before = [p.read_bytes() for p in files]
    req = RunRequest(methods=["sleepy"], bits=[16], dataset="synthetic-features",
                     dataset_options={"n_items": 600}, preset="small", seeds=[0, 1],
                     results_dir=tmp_path, tracking_uri="none", force=True)
    p = plan(req, log=lambda msg: None, run_id="run-b")
    records = collect_records(p.configs, {}, "run-b")
    assert [r.status for r in records] == ["finished", "finished"]
    assert [p.read_bytes() for p in files] == before


def test_two_drivers_share_one_results_folder(tmp_path):
    """Overlapping sweeps (seeds 0-2 and 1-3) started together on one results folder and one
    new MLflow SQLite store: both exit 0, every key is computed once (one codes file, one
    finished record and one MLflow child run each), no failure record, no store error."""
    a = start(run_args(tmp_path, "0,1,2", 1.0, "--no-ray"))
    b = start(run_args(tmp_path, "1,2,3", 1.0, "--no-ray"))
    (_, err_a), (_, err_b) = a.communicate(timeout=240), b.communicate(timeout=240)
    for code, err in ((a.returncode, err_a), (b.returncode, err_b)):
        assert code == 0, err[-3000:]
        assert "Traceback" not in err and "already exists" not in err, err[-3000:]
        assert "alembic" not in err.lower(), err[-3000:]
    assert statuses(tmp_path) == {0: "finished", 1: "finished", 2: "finished", 3: "finished"}
    assert len(list((tmp_path / "codes").glob("*.npz"))) == 4
    assert not list((tmp_path / "failures").glob("*"))
    children = [key for status, _, key in mlflow_runs(tmp_path) if key]
    assert sorted(children) == sorted({r.key for r in ResultStore(tmp_path).load_records()})


@pytest.mark.slow
def test_two_ray_drivers_share_one_results_folder(tmp_path):
    """The same through Ray (two local Ray instances): a trial whose key the other driver
    computes waits in its worker and counts that driver's record."""
    a = start(run_args(tmp_path, "0,1,2", 1.0, "--num-cpus", "1"))
    b = start(run_args(tmp_path, "0,1,2", 1.0, "--num-cpus", "1"))
    (_, err_a), (_, err_b) = a.communicate(timeout=400), b.communicate(timeout=400)
    for code, err in ((a.returncode, err_a), (b.returncode, err_b)):
        assert code == 0, err[-3000:]
        assert "Traceback" not in err and "already exists" not in err, err[-3000:]
    assert statuses(tmp_path) == {0: "finished", 1: "finished", 2: "finished"}
    assert len(list((tmp_path / "codes").glob("*.npz"))) == 3
    children = [key for status, _, key in mlflow_runs(tmp_path) if key]
    assert sorted(children) == sorted({r.key for r in ResultStore(tmp_path).load_records()})


def test_bench_tune_claims_a_study_atomically(tmp_path):
    import optuna

    from bench.tuning import study as studies

    study = optuna.create_study(study_name="s")
    studies.claim(study, "run-a", print, tmp_path)
    other = optuna.create_study(study_name="s")  # a second driver's handle on the same study
    with pytest.raises(BenchError, match="is being searched by run run-a"):
        studies.claim(other, "run-b", print, tmp_path)
    studies.release(study)
    studies.claim(other, "run-b", print, tmp_path)
    studies.release(other)


# --------------------------------------------------------------------------- 2. Ctrl-C


def _wait_for_finished(results: Path, proc: subprocess.Popen, n: int, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if sum(s == "finished" for s in statuses(results).values()) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(f"no {n} finished record(s) in time: {proc.poll()}")


def _check_interrupted(results: Path, code: int, err: str, total: int) -> int:
    assert code == 130, err[-3000:]
    assert "Traceback" not in err and "WorkerDied" not in err, err[-3000:]
    lines = [line for line in err.splitlines() if line.startswith("bench: interrupted")]
    assert len(lines) == 1 and f"of {total} trial(s) finished" in lines[0], err[-3000:]
    assert "rerun the same command to resume" in lines[0]
    assert not any(s == "failed" for s in statuses(results).values())
    assert [m["status"] for m in manifests(results)] == ["interrupted"]
    parents = [s for s, name, key in mlflow_runs(results) if key is None]
    assert parents == ["KILLED"]
    return sum(s == "finished" for s in statuses(results).values())


def test_ctrl_c_is_an_interruption_and_the_rerun_resumes(tmp_path):
    args = run_args(tmp_path, "0,1,2,3", 1.0, "--no-ray")
    proc = start(args)
    _wait_for_finished(tmp_path, proc, 1, 120)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    done = _check_interrupted(tmp_path, proc.returncode, err, 4)
    assert 1 <= done < 4
    again = start([*args, "--tracking-uri", "none"])  # the same keys; no store to open
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err[-3000:]
    assert f"resuming: {done} of 4 trial(s) already finished" in out
    assert f"{4 - done} to run, {done} already finished" in out
    assert statuses(tmp_path) == {s: "finished" for s in range(4)}


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_through_ray_is_an_interruption(tmp_path, sig):
    proc = start(run_args(tmp_path, "0,1,2,3", 3, "--num-cpus", "1"))
    _wait_for_finished(tmp_path, proc, 1, 180)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    done = _check_interrupted(tmp_path, proc.returncode, err, 4)
    assert done < 4


# --------------------------------------------------------------------------- 3. disk full


@pytest.fixture
def tiny_disk(tmp_path):
    """A real 3 MB tmpfs (root only; skipped where mounting is refused)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mnt)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (not root, or no mount permission)")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_a_full_disk_is_one_line_and_nothing_half_written_counts(tiny_disk, tmp_path):
    cache = tmp_path / "cache"  # the data cache elsewhere: the results fill the disk
    proc = start(["run", "--methods", "sleepy", "--dataset", "synthetic-features",
                  "--dataset-opt", "n_items=1500", "--preset", "small", "--bits", "16,32,64",
                  "--seeds", ",".join(map(str, range(40))), "--no-ray", "--no-report",
                  "--results", str(tiny_disk), "--cache-dir", str(cache)])
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    errors = [line for line in err.splitlines() if line.startswith("bench: error:")]
    assert len(errors) == 1 and "no space left on device writing " in errors[0], err[-3000:]
    store = ResultStore(tiny_disk)
    for rec in store.load_records():  # every record counted is whole, with its codes
        assert rec.status == "finished" and store.check_finished(rec.method, rec.dataset,
                                                                 rec.key)[0]
    assert [m["status"] for m in manifests(tiny_disk)] == ["failed"]
    assert not [p for p in tiny_disk.rglob(".*.tmp")] + [p for p in tiny_disk.rglob(".*.npz")]
    from bench.tracking import _store_complete

    db = tiny_disk / "mlflow.db"  # the store is whole (and marked so), or not there at all
    assert not db.exists() or (_store_complete(db) and (tiny_disk / "mlflow.db.ready").exists())


HALF_STORES = """
import shutil, sqlite3, sys
from pathlib import Path
from mlflow.tracking import MlflowClient
from bench.tracking import READY_SUFFIX, ensure_store
empty, full = Path(sys.argv[1]), Path(sys.argv[2])
ensure_store(f"sqlite:///{empty}")
shutil.copy(empty, full)
client = MlflowClient(tracking_uri=f"sqlite:///{full}")
client.create_run(client.create_experiment("e"))
for db in (empty, full):
    con = sqlite3.connect(db)
    con.execute("UPDATE alembic_version SET version_num = '451aebb31d03'")  # an early revision
    con.commit()
    con.close()
empty.with_name(empty.name + READY_SUFFIX).unlink()
"""


def _half_stores(tmp_path: Path) -> tuple[Path, Path]:
    """Two stores whose schema set-up stopped part-way (the alembic revision is not the head,
    no ready mark), as a process killed while creating one or a full disk leaves it: one
    without runs, one with a run."""
    empty, full = tmp_path / "empty" / "mlflow.db", tmp_path / "full" / "mlflow.db"
    empty.parent.mkdir()
    full.parent.mkdir()
    subprocess.run([sys.executable, "-c", HALF_STORES, str(empty), str(full)], check=True,
                   cwd=TESTS.parent, capture_output=True)
    return empty, full


def test_a_half_created_store_is_recreated_or_named(tmp_path):
    from bench.tracking import _store_complete, ensure_store, prepare_experiment

    empty, full = _half_stores(tmp_path)
    assert not _store_complete(empty) and not _store_complete(full)
    prepare_experiment(f"sqlite:///{empty}", empty.parent)  # recreated, then used
    assert _store_complete(empty) and (empty.parent / "mlflow.db.ready").exists()
    with pytest.raises(BenchError, match="interrupted while being created .* holds 1 run"):
        ensure_store(f"sqlite:///{full}")


@pytest.mark.slow
def test_mlflow_serve_recreates_a_half_created_store(tmp_path):
    import socket
    import urllib.request

    empty, _ = _half_stores(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "bench", "mlflow", "serve", "--host",
                               "127.0.0.1", "--port", str(port), "--store", str(empty.parent)],
                              cwd=TESTS.parent, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        deadline, ok = time.time() + 120, False
        while time.time() < deadline and not ok and server.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                    ok = r.read().strip() == b"OK"
            except OSError:
                time.sleep(1)
        assert ok, server.poll()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        out, _ = server.communicate(timeout=30)
    assert "interrupted while being created and holds no run; recreating it" in out
    assert (empty.parent / "mlflow.db.ready").exists()
