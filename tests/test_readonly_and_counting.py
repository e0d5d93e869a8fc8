"""Nothing lost, nothing doubled, nothing let in: commands that only read never write to a
results folder (checked as a real non-root user), the leaderboard never counts a result whose
codes file is broken, an MLflow outage is one warning and ``bench mlflow sync`` closes the
parent run, and budgets that draw one training set give one result key."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.plugins import HashMethod, MethodSpec
from bench.results import ResultStore

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--dataset", "synthetic-features", "--dataset-opt", "n_items=400", "--preset", "small",
         "--bits", "16", "--no-report", "--no-ray"]
NOBODY = 65534

#: Run ``bench`` commands (a JSON list of argument lists) as user ``nobody``; prints a JSON list
#: of [exit code, stdout, stderr]. The interpreter may live where ``nobody`` cannot read (e.g.
#: under /root), so the child starts as root, imports what the commands use (and warms up the
#: metric engine), then drops to ``nobody`` for good before running them: every access to the
#: results folder is then checked by the kernel against a non-root user.
AS_NOBODY = """
import contextlib, importlib, io, json, os, pkgutil, sys, traceback
import importlib.metadata
import bench
for m in pkgutil.walk_packages(bench.__path__, "bench."):
    if not m.name.endswith("__main__"):
        try:
            importlib.import_module(m.name)
        except Exception:
            pass
import multiprocessing.synchronize, numpy as np, pandas, pandas.io.formats.csvs
import encodings.cp437  # zipfile (np.load of .npz) decodes member names with it
from bench import registry
for n in registry.methods.names():
    registry.methods.get(n)
for n in registry.datasets.names():
    registry.datasets.get(n)
from bench.runner.trial import evaluate_codes
c = np.where(np.random.default_rng(0).normal(size=(20, 16)) > 0, 1, -1).astype(np.int8)
lab = (np.random.default_rng(1).random((20, 3)) < 0.5).astype(np.uint8)
evaluate_codes({"image": c, "text": c}, {"image": c, "text": c}, lab, lab, (5,))
from bench.cli import main
if os.geteuid() == 0:
    os.setgroups([]); os.setgid(%(uid)d); os.setuid(%(uid)d)
assert os.geteuid() != 0
out = []
for argv in json.loads(sys.argv[1]):
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        try:
            rc = main(argv)
        except BaseException:
            traceback.print_exc()
            rc = 1
    out.append([rc, o.getvalue(), e.getvalue()])
print(json.dumps(out))
"""


def _as_user(commands: list[list[str]], home: Path) -> list[subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "HOME": str(home), "MPLCONFIGDIR": str(home)}
    proc = subprocess.run([sys.executable, "-c", AS_NOBODY % {"uid": NOBODY},
                           json.dumps(commands)], capture_output=True, text=True, env=env,
                          timeout=300, cwd=home)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [subprocess.CompletedProcess(argv, rc, o, e) for argv, (rc, o, e)
            in zip(commands, json.loads(proc.stdout.splitlines()[-1]), strict=True)]


def _tree(root: Path) -> list[tuple[str, int, int]]:
    return sorted((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*"))


def _set_writable(root: Path, writable: bool) -> None:
    for p in [root, *root.rglob("*")]:
        mode = p.stat().st_mode
        mode = mode | stat.S_IWUSR if writable else mode & ~(stat.S_IWUSR | stat.S_IWGRP |
                                                             stat.S_IWOTH)
        p.chmod(mode | stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH
                | (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH if p.is_dir() else 0))


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp_path may be private to this user)."""
    if os.geteuid() == 0:
        try:
            import pwd

            pwd.getpwuid(NOBODY)
        except KeyError:
            pytest.skip("running as root and there is no user 'nobody' to test as")
    base = Path(tempfile.mkdtemp(prefix="bench-readonly-"))
    base.chmod(0o755)
    yield base
    _set_writable(base, True)
    shutil.rmtree(base, ignore_errors=True)


# -- read-only results folder, as a non-root user -------------------------------------------


def test_read_only_folder_as_a_non_root_user(shared_tmp, capsys):
    ro, elsewhere = shared_tmp / "results", shared_tmp / "elsewhere"
    assert main(["run", "--methods", "lsh", *SMALL, "--seeds", "0,1", "--results", str(ro),
                 "--tracking-uri", "none"]) == 0
    corrupt = ro / "records" / "lsh" / "synthetic-features" / "corrupt.json"
    corrupt.write_text('{"schema": 2, "key": "corr')
    rec = next(p for p in corrupt.parent.glob("lsh-*.json"))
    data = json.loads(rec.read_text())
    data["metrics"]["16"]["i2t"]["map_all"] = 0.99  # --recompute will want to correct it
    rec.write_text(json.dumps(data))
    elsewhere.mkdir()
    elsewhere.chmod(0o777)
    _set_writable(ro, False)
    before = _tree(ro)

    probe, lb, out, rc, rp = _as_user([
        ["ls", "runs", "--results", str(ro)],
        ["leaderboard", "--results", str(ro)],
        ["leaderboard", "--results", str(ro), "--out", str(elsewhere)],
        ["leaderboard", "--results", str(ro), "--out", str(elsewhere), "--recompute"],
        ["report", "--results", str(ro), "--format", "md"]], elsewhere)
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert "Traceback" not in probe.stderr and "2 record(s)" in probe.stdout
    lines = [ln for ln in probe.stderr.splitlines() if "corrupt.json" in ln]
    assert len(lines) == 1 and "skipped" in lines[0], probe.stderr

    assert lb.returncode == 2 and "Traceback" not in lb.stderr, lb.stderr
    assert f"bench: error: cannot write {ro} (read-only" in lb.stderr

    assert out.returncode == 0, out.stderr
    assert "corrupt.json skipped" in out.stderr and (elsewhere / "leaderboard.md").is_file()

    assert rc.returncode == 2 and "Traceback" not in rc.stderr, rc.stderr
    assert f"bench: error: cannot write {rec} (read-only" in rc.stderr

    assert rp.returncode == 2 and "Traceback" not in rp.stderr, rp.stderr
    assert f"bench: error: cannot write {ro / 'report'} (read-only" in rp.stderr

    assert _tree(ro) == before  # nothing moved, nothing written
    assert not (ro / "quarantine").exists()

    _set_writable(ro, True)  # bench run is the one command that sets a corrupt record aside
    capsys.readouterr()
    assert main(["run", "--methods", "lsh", *SMALL, "--seeds", "0,1", "--results", str(ro),
                 "--tracking-uri", "none"]) == 0
    assert not corrupt.exists()
    assert (ro / "quarantine" / "lsh" / "synthetic-features" / "corrupt.json").is_file()


# -- the leaderboard verifies codes files ---------------------------------------------------


def test_leaderboard_leaves_out_records_with_broken_codes(tmp_path, capsys):
    results = tmp_path / "results"
    assert main(["run", "--methods", "lsh", *SMALL, "--seeds", "0,1,2", "--results",
                 str(results), "--tracking-uri", "none"]) == 0
    recs = sorted(ResultStore(results).load_records(), key=lambda r: r.seed)
    truncated, missing = (results / recs[0].codes["file"]), (results / recs[1].codes["file"])
    truncated.write_bytes(truncated.read_bytes()[:100])
    missing.unlink()
    capsys.readouterr()
    assert main(["leaderboard", "--results", str(results)]) == 0
    captured = capsys.readouterr()
    md = (results / "leaderboard.md").read_text()
    for rec, why in ((recs[0], "does not match the record's SHA-256"), (recs[1], "is missing")):
        assert f"not counted: {rec.key}" in md and why in md
        assert f"result {rec.key} not counted" in captured.err
    assert "(n=1/3" in md and "(n=3/3" not in md
    long = (results / "leaderboard.csv").read_text()
    assert recs[0].key not in long and recs[1].key not in long and recs[2].key in long
    # bench run redoes exactly those two
    assert main(["run", "--methods", "lsh", *SMALL, "--seeds", "0,1,2", "--results",
                 str(results), "--tracking-uri", "none"]) == 0
    assert "2 to run, 1 already finished" in capsys.readouterr().out
    assert "(n=3/3" in (results / "leaderboard.md").read_text()


# -- budgets: one training set, one key -----------------------------------------------------


def _plan(tmp_path: Path, budgets: list):
    from bench.runner.driver import Execution, RunRequest, plan

    req = RunRequest(methods=["lsh"], bits=(16,), dataset="synthetic-features",
                     dataset_options={"n_items": 1500}, preset="small", budgets=budgets,
                     seeds=(0,), results_dir=tmp_path / "results", cache_dir=tmp_path / "cache",
                     device="cpu", report=False, execution=Execution(in_process=True))
    return plan(req, log=lambda m: None)


def test_budgets_drawing_one_training_set_give_one_key(tmp_path):
    from bench.runner.grid import make_trial

    p = _plan(tmp_path, [None, 200])
    pool = len(p.split.train_pool)
    assert pool == 1200
    all_key, count_key = [c.key for c in p.configs]
    # 'all' and integer budgets keep the keys they had (budgets taken as given)
    as_given = replace(p.context, train_pool=None)
    old = [make_trial(_spec("lsh"), c.bits, b, 0, c.params, as_given).key
           for c, b in zip(p.configs, (None, 200), strict=True)]
    assert old == [all_key, count_key]
    assert "-nall-" in all_key and "-n200-" in count_key
    assert [c.key for c in _plan(tmp_path, [None, 1.0, pool]).configs] == [all_key]
    one = [c.key for c in _plan(tmp_path, [1, 1e-07]).configs]
    assert len(one) == 1 and "-n1-" in one[0]
    half = _plan(tmp_path, [0.5, pool // 2]).configs
    assert len(half) == 1 and half[0].budget == 600 and "-n600-" in half[0].key


def _spec(name: str):
    from bench import registry

    return registry.methods.get(name)


def test_run_reuses_the_result_of_an_equivalent_budget(tmp_path, capsys):
    results = tmp_path / "results"
    base = ["run", "--methods", "lsh", *SMALL, "--seeds", "0", "--results", str(results),
            "--tracking-uri", "none"]
    assert main([*base, "--budgets", "all"]) == 0
    assert main([*base, "--budgets", "1.0"]) == 0
    assert "0 to run, 1 already finished" in capsys.readouterr().out
    assert main([*base, "--budgets", "1,1e-07"]) == 0
    assert "1 trial(s): 1 to run" in capsys.readouterr().out
    assert len(ResultStore(results).load_records()) == 2


# -- MLflow: one warning per outage; the sync closes the parent run -------------------------


def test_one_tracking_warning_per_outage(monkeypatch):
    from bench import tracking
    from bench.local_cluster import free_port

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    dead = f"http://127.0.0.1:{free_port()}"  # a real socket nothing listens on
    said: list[str] = []
    for name in ("trial-1", "trial-2", "parent"):
        logger = tracking.RunLogger(dead, "1", run_name=name, tags={}, warn=said.append)
        logger.end("FINISHED")
        assert logger.error is not None
    assert sum("MLflow tracking stopped" in m for m in said) == 1, said
    with pytest.raises(Exception):  # noqa: B017 - a new run starts: a new outage is reported
        tracking.prepare_experiment(dead, Path("."))
    tracking.RunLogger(dead, "1", run_name="next run", tags={}, warn=said.append)
    assert sum("MLflow tracking stopped" in m for m in said) == 2, said


def test_sync_closes_the_parent_run_with_the_manifest_status(tmp_path, capsys):
    """The state an outage leaves (the trials' records pending, the parent run RUNNING, the
    manifest 'finished') in a real SQLite store: the sync uploads the trials and ends the
    parent run FINISHED."""
    from mlflow.tracking import MlflowClient

    results, store = tmp_path / "results", f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["run", "--methods", "lsh", *SMALL, "--seeds", "0,1", "--results",
                 str(results), "--tracking-uri", store]) == 0
    manifest = json.loads(next((results / "runs").glob("*.json")).read_text())
    assert manifest["status"] == "finished"
    client = MlflowClient(store)
    client.update_run(manifest["parent_run_id"], status="RUNNING")  # its end never arrived
    for rec in ResultStore(results).load_records():
        client.delete_run(rec.mlflow_run_id)
        rec.tracking_state, rec.mlflow_run_id = "pending", None
        ResultStore(results).write_record(rec)
    capsys.readouterr()
    assert main(["mlflow", "sync", "--results", str(results)]) == 0
    assert "2 run(s) created" in capsys.readouterr().out
    assert client.get_run(manifest["parent_run_id"]).info.status == "FINISHED"


def test_sync_of_logged_records_closes_a_parent_left_running(tmp_path, capsys):
    """Every trial already uploaded, only the parent's end lost: ``sync --all`` ends it."""
    from mlflow.tracking import MlflowClient

    results, store = tmp_path / "results", f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert main(["run", "--methods", "lsh", *SMALL, "--results", str(results),
                 "--tracking-uri", store]) == 0
    manifest = json.loads(next((results / "runs").glob("*.json")).read_text())
    client = MlflowClient(store)
    client.update_run(manifest["parent_run_id"], status="RUNNING")
    capsys.readouterr()
    assert main(["mlflow", "sync", "--results", str(results), "--all"]) == 0
    assert "0 run(s) created, 0 completed, 1 already logged" in capsys.readouterr().out
    assert client.get_run(manifest["parent_run_id"]).info.status == "FINISHED"


#: a test method whose fit, for seed 1, runs the hooks (the test kills the MLflow server there)
HOOKS: list = []


class Killer(HashMethod):
    spec = MethodSpec(name="killer", entry="test_readonly_and_counting:Killer",
                      version="1", supervision="unsupervised",
                      inputs=("image_features", "text_features"), multi_bit=False,
                      defaults={}, reference={"paper": "none (test plugin)"})

    def fit(self, train, ctx) -> None:
        if self.seed == 1:
            for hook in HOOKS:
                hook()
        self.w = np.random.default_rng(self.seed).normal(
            size=(train.image_features.shape[1], max(self.bits)))

    def encode(self, data, modality) -> dict[int, np.ndarray]:
        x = data.image_features if modality == "image" else data.text_features
        return {b: np.where(x @ self.w[:, :b] >= 0, 1, -1).astype(np.int8) for b in self.bits}


@pytest.mark.slow
def test_server_death_mid_run_one_warning_and_the_sync_closes_the_parent(tmp_path, capsys):
    """A real ``mlflow server`` on 127.0.0.1, killed (by pid) during the second of three
    trials: one warning; the records after it are pending; once the server is back, the sync
    uploads them and ends the parent run with the manifest's status."""
    from conftest import register_plugins
    from mlflow.tracking import MlflowClient

    from bench.local_cluster import MlflowServer

    register_plugins(methods={"killer": "test_readonly_and_counting:Killer.spec"})
    server = MlflowServer(tmp_path / "mlflow").start()
    HOOKS.append(server.kill)
    results = tmp_path / "results"
    try:
        assert main(["run", "--methods", "killer", *SMALL, "--seeds", "0,1,2", "--results",
                     str(results), "--tracking-uri", server.uri]) == 0
        HOOKS.clear()
        out, err = capsys.readouterr()
        assert (out + err).count("MLflow tracking stopped") == 1, out + err
        states = sorted(r.tracking_state for r in ResultStore(results).load_records())
        assert states == ["logged", "pending", "pending"]
        manifest = json.loads(next((results / "runs").glob("*.json")).read_text())
        assert manifest["status"] == "finished"
        server = MlflowServer(tmp_path / "mlflow", port=server.port).start()
        assert main(["mlflow", "sync", "--results", str(results)]) == 0
        assert "2 run(s) created" in capsys.readouterr().out
        client = MlflowClient(server.uri)
        assert client.get_run(manifest["parent_run_id"]).info.status == "FINISHED"
        children = client.search_runs(
            [client.get_experiment_by_name("bench").experiment_id],
            filter_string=f"tags.mlflow.parentRunId = '{manifest['parent_run_id']}'")
        assert len(children) == 3 and {c.info.status for c in children} == {"FINISHED"}
    finally:
        HOOKS.clear()
        server.stop()


def test_tune_searches_budgets_drawing_one_training_set_once(tmp_path):
    from bench.tuning.driver import Cell, _distinct

    ctx = replace(_plan(tmp_path, [None]).context)  # the pool is 1200 pairs
    cells = [Cell(_spec("lsh"), (16,), b, {}, {}, None) for b in (None, 1.0, 1200, 0.5, 600)]
    said: list[str] = []
    kept = _distinct(cells, ctx, said.append)
    assert [c.budget for c in kept] == [None, 600]
    assert len(said) == 3 and all("searched once" in m for m in said)
