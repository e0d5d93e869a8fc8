"""Runs on a real multi-node Ray cluster on this machine: a head and two workers,
each its own raylet (``ray start --block``), on 127.0.0.1 with free ports and token
authentication, started and stopped by this module by process group (``bench.local_cluster``);
drivers are ``python -m bench run --address ...`` subprocesses; MLflow is a real ``mlflow
server``. Methods come from ``cluster_faults.py``, installed on every node as a third-party
plugin (an entry point on the nodes' ``PYTHONPATH``).

In the default run: one sweep across the nodes tracked on the real MLflow server (records name
their node, a method error is a failed record and not retried, the others finish, one MLflow
parent run). ``slow``: the four
fault scenarios (a worker node dies, the driver is SIGKILLed, the MLflow server dies,
infrastructure retries up to the limit), a node that cannot see the results folder, and the
one-line refusals of a wrong token and of a GPU request no node can satisfy.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from bench.local_cluster import LocalCluster, MlflowServer, group_pids
from bench.results import ResultStore

HERE = Path(__file__).resolve().parent
DATA = ["--dataset", "synthetic-features", "--dataset-opt", "n_items=400", "--preset", "small",
        "--bits", "16", "--no-report"]


def install_plugin(root: Path) -> Path:
    """``cluster_faults`` as an installed third-party plugin: module + dist-info entry point."""
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(HERE / "cluster_faults.py", root / "cluster_faults.py")
    info = root / "cluster_faults-1.0.dist-info"
    info.mkdir(exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cluster-faults\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[bench.methods]\nfault = cluster_faults:SPEC\n")
    return root


@pytest.fixture(scope="module")
def plugin_dir(tmp_path_factory) -> Path:
    return install_plugin(tmp_path_factory.mktemp("plugins"))


@pytest.fixture(scope="module")
def cluster(plugin_dir):
    with LocalCluster(num_workers=2, extra_env={"PYTHONPATH": str(plugin_dir)}) as c:
        yield c


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    with MlflowServer(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


def driver_env(cluster: LocalCluster) -> dict[str, str]:
    env = {**os.environ, **cluster.driver_env, "HF_HUB_OFFLINE": "1"}
    for name in ("RAY_ADDRESS", "RAY_AUTH_TOKEN"):
        env.pop(name, None)
    return env


def bench(args: list[str], env: dict[str, str],
          timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], env=env, text=True,
                          capture_output=True, timeout=timeout)


def start_bench(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    """A driver in its own session (so that killing it kills nothing else)."""
    with open(log, "w") as fh:
        return subprocess.Popen([sys.executable, "-m", "bench", *args], env=env, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)


def wait_for(condition, timeout: float, what: str, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"the driver ended (code {proc.returncode}) before {what}")
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def running_attempts(results: Path) -> list[dict]:
    out = []
    for path in (results / "running").glob("*.json"):
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        out += [{**a, "key": path.stem} for a in data.get("attempts", [])]
    return out


def all_records(results: Path) -> list:
    return ResultStore(results).load_records()


def assert_complete(results: Path, n: int) -> list:
    """Exactly one finished, verifiable record per key, no temporary files, nothing running."""
    store = ResultStore(results)
    recs = store.load_records()
    assert len(recs) == n and all(r.finished for r in recs), [(r.key, r.status) for r in recs]
    assert len({r.key for r in recs}) == n
    for r in recs:
        assert store.check_finished(r.method, r.dataset, r.key) == (True, "")
    leftovers = [p for d in ("records", "codes") for p in (results / d).rglob(".*")]
    assert leftovers == []
    assert not list((results / "running").glob("*.json"))
    return recs


def mlflow_runs(uri: str, experiment: str = "bench") -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(uri)
    exp = client.get_experiment_by_name(experiment)
    return [] if exp is None else client.search_runs([exp.experiment_id], max_results=5000)


# --------------------------------------------------------------------------- default run


def test_sweep_across_nodes_with_a_method_error(cluster, mlflow_server, tmp_path):
    """A sweep on the 3-node cluster, tracked on a real ``mlflow server``: trials ran on several
    nodes (the records say which), the method error of seed 2 is a failed record on its first
    attempt and is not retried, the other trials finish, and everything is logged over HTTP
    under one MLflow parent run."""
    results = tmp_path / "results"
    out = bench(["run", "--methods", "fault", *DATA, "--seeds", "0,1,2,3",
                 "--set", "fault.fail_seed=2", "--set", "fault.sleep_s=1.0",
                 "--address", cluster.address, "--results", str(results),
                 "--tracking-uri", mlflow_server.uri, "--experiment", "across-nodes"],
                driver_env(cluster))
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-3000:]
    assert "joined the Ray cluster at" in out.stdout and "3 node(s)" in out.stdout
    assert "1 of 4 trial(s) failed" in out.stderr and "planned method error" in out.stderr
    recs = {r.seed: r for r in all_records(results)}
    assert {s: r.status for s, r in recs.items()} == {0: "finished", 1: "finished",
                                                      2: "failed", 3: "finished"}
    failed = recs[2]
    assert failed.error.type == "ValueError" and failed.attempt == 1 and not failed.lost_attempts
    assert sorted(p.name for p in (results / "failures" / failed.key).iterdir()) \
        == ["attempt-1.txt"]  # not retried
    alive = {n["id"] for n in cluster.alive_nodes()}
    used = {r.ray_node["id"] for r in recs.values()}
    assert used <= alive and len(used) >= 2, used
    assert all(r.tracking_state == "logged" and r.mlflow_run_id for r in recs.values())
    assert not (results / "mlflow.db").exists()  # nothing went to a local store
    runs = mlflow_runs(mlflow_server.uri, "across-nodes")
    children = [r for r in runs if r.data.tags.get("result_key")]
    parents = {r.data.tags.get("mlflow.parentRunId") for r in children}
    assert len(children) == 4 and len(parents) == 1
    assert {r.data.tags["result_key"]: r.info.status for r in children} \
        == {r.key: "FAILED" if r.seed == 2 else "FINISHED" for r in recs.values()}
    assert {r.info.run_id for r in runs} - {r.info.run_id for r in children} == parents
    token = cluster.token_file.read_text().strip()
    written = [f for f in results.rglob("*") if f.is_file() and f.suffix in {".json", ".txt"}]
    assert written and not [f for f in written if token in f.read_text(errors="replace")]
    manifest = json.loads(next((results / "runs").glob("*.json")).read_text())
    assert manifest["status"] == "failed" and manifest["parent_run_id"] in parents


@pytest.mark.slow
def test_one_line_refusals(cluster, tmp_path):
    """A wrong token and a GPU request that no node can satisfy: each one line, exit 2, within
    seconds, before any data is loaded (no cluster at the address: test_ray_session.py)."""
    env = driver_env(cluster)
    (tmp_path / "wrong").write_text("0" * 64)
    args = ["run", "--methods", "fault", *DATA, "--results", str(tmp_path / "r"),
            "--address", cluster.address]
    for extra, extra_env, expected in [
        ([], {"RAY_AUTH_TOKEN_PATH": str(tmp_path / "wrong")}, "refused this driver"),
        (["--gpus-per-trial", "1"], {}, "needs 1 GPU per trial, but no node of the Ray cluster"),
    ]:
        t0 = time.monotonic()
        out = bench([*args, *extra], {**env, **extra_env}, timeout=120)
        took = time.monotonic() - t0
        lines = [x for x in out.stderr.splitlines() if x.strip()]
        assert out.returncode == 2 and lines[-1].startswith("bench: error: "), out.stderr
        assert expected in lines[-1] and "Traceback" not in out.stderr
        assert [x for x in lines if "bench: error" in x] == [lines[-1]]
        assert took < 60, f"{expected}: {took:.0f} s"
        assert not (tmp_path / "r" / "records").exists()


# --------------------------------------------------------------------------- fault scenarios


@pytest.mark.slow
def test_worker_node_dies_mid_sweep(cluster, tmp_path):
    """Scenario 1: a worker node's raylet is killed while it runs a trial; the trial runs again
    on another node; every result is present exactly once; nothing half-written remains."""
    before = {n["id"] for n in cluster.alive_nodes()}
    victim = cluster.add_worker()
    victim_id = wait_for(lambda: ({n["id"] for n in cluster.alive_nodes()} - before) or None,
                         120, "the new node").pop()
    results = tmp_path / "results"
    driver = start_bench(["run", "--methods", "fault", *DATA, "--seeds", "0,1,2,3,4,5",
                          "--set", "fault.sleep_s=6.0", "--address", cluster.address,
                          "--results", str(results), "--tracking-uri", "none"],
                         driver_env(cluster), tmp_path / "driver.log")
    try:
        hit = wait_for(lambda: [a for a in running_attempts(results)
                                if (a.get("ray_node") or {}).get("id") == victim_id],
                       300, "a trial on the victim node", driver)
        cluster.kill_node(victim)
        assert driver.wait(timeout=600) == 0, (tmp_path / "driver.log").read_text()[-3000:]
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    recs = {r.key: r for r in assert_complete(results, 6)}
    assert all(r.ray_node["id"] != victim_id for r in recs.values())
    moved = recs[hit[0]["key"]]
    assert moved.attempt == 2 and moved.lost_attempts[0]["ray_node"]["id"] == victim_id


@pytest.mark.slow
def test_driver_killed_mid_sweep(cluster, mlflow_server, tmp_path):
    """Scenario 2: the driver is SIGKILLed mid-sweep. Its trials' Ray processes end; the rerun
    runs only what is missing, takes over the dead run's MLflow parent (no longer RUNNING at
    the end, every trial run under it, none left RUNNING) and marks the dead run killed."""
    results = tmp_path / "results"
    args = ["run", "--methods", "fault", *DATA, "--seeds", "0,1,2,3,4,5",
            "--set", "fault.sleep_s=5.0", "--address", cluster.address,
            "--results", str(results), "--tracking-uri", mlflow_server.uri,
            "--experiment", "driver-kill"]
    env = driver_env(cluster)
    workers_before = set(trial_workers(cluster))
    driver = start_bench(args, env, tmp_path / "first.log")
    try:
        wait_for(lambda: len(all_records(results)) >= 1 and running_attempts(results),
                 300, "a finished trial and a running one", driver)
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=30)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    dead_run = json.loads(next((results / "runs").glob("*.json")).read_text())
    assert dead_run["status"] == "running"
    parent_id = dead_run["parent_run_id"]
    # Ray ends the dead driver's trial processes on every node
    wait_for(lambda: not (set(trial_workers(cluster)) - workers_before), 120,
             "the dead driver's trial processes to end")
    done_before = {r.key for r in all_records(results) if r.finished}

    out = bench(args, env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert f"{6 - len(done_before)} to run, {len(done_before)} already finished" in out.stdout
    assert "died without finishing; this run takes it over" in out.stdout
    recs = assert_complete(results, 6)
    assert all(r.tracking_state == "logged" for r in recs)  # pending ones uploaded at the end
    manifests = {m["run_id"]: m for m in (json.loads(p.read_text())
                                          for p in (results / "runs").glob("*.json"))}
    assert manifests[dead_run["run_id"]]["status"] == "killed"
    new = next(m for m in manifests.values() if m["run_id"] != dead_run["run_id"])
    assert new["continues"] == [dead_run["run_id"]] and new["parent_run_id"] == parent_id
    runs = mlflow_runs(mlflow_server.uri, "driver-kill")
    parent = next(r for r in runs if r.info.run_id == parent_id)
    children = [r for r in runs if r.data.tags.get("result_key")]
    assert parent.info.status == "FINISHED"
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent_id}
    assert not [r for r in children if r.info.status == "RUNNING"]
    finished = Counter(r.data.tags["result_key"] for r in children
                       if r.info.status == "FINISHED")
    assert sorted(finished.values()) == [1] * 6
    assert len([r for r in runs if not r.data.tags.get("result_key")]) == 1  # one parent


def trial_workers(cluster: LocalCluster) -> list[int]:
    """Pids of Ray worker processes that ran trials on the cluster's nodes."""
    raylets = {pid for node in cluster.nodes for pid in group_pids(node.pgid)}
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            title = (entry / "cmdline").read_bytes().split(b"\0")[0]
        except (OSError, IndexError, ValueError):
            continue
        if ppid in raylets and (b"ImplicitFunc" in title or b"trainable" in title):
            out.append(int(entry.name))
    return out


@pytest.mark.slow
def test_mlflow_server_down_mid_sweep(cluster, tmp_path):
    """Scenario 3: the MLflow server dies mid-sweep. No trial blocks; every record and codes
    file is written, the records after the outage say tracking 'pending'; 'bench mlflow sync'
    uploads them later under the sweep's parent, and a second sync changes nothing."""
    server = MlflowServer(tmp_path / "mlflow").start()
    results = tmp_path / "results"
    try:
        driver = start_bench(["run", "--methods", "fault", *DATA, "--seeds", "0,1,2,3,4,5",
                              "--set", "fault.sleep_s=3.0", "--address", cluster.address,
                              "--results", str(results), "--tracking-uri", server.uri],
                             driver_env(cluster), tmp_path / "driver.log")
        try:
            wait_for(lambda: [r for r in all_records(results) if r.tracking_state == "logged"],
                     300, "a logged trial", driver)
            server.kill()
            t0 = time.monotonic()
            assert driver.wait(timeout=600) == 0, (tmp_path / "driver.log").read_text()[-3000:]
            after_kill = time.monotonic() - t0
        finally:
            if driver.poll() is None:
                os.killpg(driver.pid, signal.SIGKILL)
        recs = assert_complete(results, 6)
        states = Counter(r.tracking_state for r in recs)
        assert states["pending"] >= 1 and states["logged"] >= 1, states
        assert after_kill < 300
        log = (tmp_path / "driver.log").read_text()
        assert "MLflow tracking stopped for this run" in log

        server = MlflowServer(tmp_path / "mlflow", port=server.port).start()
        env = driver_env(cluster)
        first = bench(["mlflow", "sync", "--results", str(results)], env, timeout=300)
        assert first.returncode == 0, first.stdout + first.stderr
        assert f"{states['pending']} record(s) checked" in first.stdout
        second = bench(["mlflow", "sync", "--results", str(results), "--all"], env,
                       timeout=300)
        assert second.returncode == 0 and "0 run(s) created, 0 completed, 6 already" \
            in second.stdout, second.stdout + second.stderr
        assert all(r.tracking_state == "logged" for r in all_records(results))
        runs = mlflow_runs(server.uri)
        children = [r for r in runs if r.data.tags.get("result_key")]
        assert sorted(Counter(r.data.tags["result_key"] for r in children).values()) == [1] * 6
        assert all(r.info.status == "FINISHED" for r in children)
        parent_id = json.loads(next((results / "runs").glob("*.json")).read_text())[
            "parent_run_id"]
        assert {r.data.tags["mlflow.parentRunId"] for r in children} == {parent_id}
    finally:
        server.stop()


@pytest.mark.slow
def test_infrastructure_failures_are_retried_up_to_the_limit(cluster, tmp_path):
    """Scenario 4, the infrastructure half: a trial whose worker process dies (SIGKILL) once is
    retried and finishes; one that dies on every attempt gets a failed record after
    1 + --max-retries attempts; the others finish."""
    env = driver_env(cluster)
    results = tmp_path / "results"
    markers = tmp_path / "markers"
    markers.mkdir()
    base = ["run", "--methods", "fault", *DATA, "--address", cluster.address,
            "--results", str(results), "--tracking-uri", "none", "--max-retries", "1",
            "--set", f"fault.marker_dir={markers}", "--set", "fault.die_seed=1"]
    out = bench([*base, "--seeds", "0,1"], env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    recs = {r.seed: r for r in assert_complete(results, 2)}
    assert recs[0].attempt == 1 and recs[1].attempt == 2 and len(recs[1].lost_attempts) == 1

    out = bench([*base, "--seeds", "2,3", "--set", "fault.die_always=true",
                 "--set", "fault.die_seed=3"], env)
    assert out.returncode == 1
    recs = {r.seed: r for r in all_records(results)}
    assert recs[2].status == "finished"
    died = recs[3]
    assert died.status == "failed" and died.error.type == "WorkerDied"
    assert died.attempt == 2 and len(died.lost_attempts) == 2


@pytest.mark.slow
def test_a_node_that_cannot_see_the_results_folder_counts_nothing(plugin_dir, tmp_path):
    """A worker node whose results path is its own (a private tmpfs mounted over it): its
    trials refuse to start, and nothing written there is counted as finished."""
    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare -m (mount namespaces)")
    results = tmp_path / "results"
    results.mkdir()
    private = ["unshare", "-m", "--propagation", "private", "sh", "-c",
               f"mount -t tmpfs none {results} && exec \"$@\"", "sh"]
    with LocalCluster(num_workers=0, head_cpus=0,
                      extra_env={"PYTHONPATH": str(plugin_dir)}) as c:
        c.add_worker(prefix=private)
        c.wait_for_nodes(2)
        out = bench(["run", "--methods", "fault", *DATA, "--seeds", "0,1",
                     "--address", c.address, "--results", str(results), "--tracking-uri",
                     "none", "--max-retries", "1"], driver_env(c))
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-3000:]
    recs = all_records(results)
    assert len(recs) == 2 and all(r.status == "failed" for r in recs)
    assert all("does not hold this run's manifest" in r.error.message for r in recs)
    assert not list((results / "codes").glob("*.npz"))
