"""Joining Ray and the run manifests, without a cluster: refusals in one line, dead drivers
told from live ones, the shared-results check (multi-node versions in test_cluster.py)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from bench.cli import main
from bench.local_cluster import free_port
from bench.runner.manifest import Manifest, ResultsNotShared, check_visible, dead_runs

SMALL = ["--dataset", "synthetic-features", "--dataset-opt", "n_items=400", "--preset", "small",
         "--bits", "16", "--no-report", "--tracking-uri", "none"]


def test_gpu_request_the_local_instance_cannot_satisfy(tmp_path, capsys):
    """Before: Tune waited forever, printing autoscaler warnings every 35 s. Now refused before
    any data is loaded (the Ray-level check of a cluster's nodes is in tests/test_cluster.py)."""
    t0 = time.monotonic()
    assert main(["run", "--methods", "lsh", *SMALL, "--gpus-per-trial", "1", "--num-cpus", "1",
                 "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("bench: error: --gpus-per-trial 1: this machine has no GPU")
    assert time.monotonic() - t0 < 120
    assert not (tmp_path / "records").exists() and not (tmp_path / "runs").exists()


def test_no_cluster_at_the_address(tmp_path, capsys):
    """Before: 30+ s of Ray connection logs. Now one line, within seconds."""
    t0 = time.monotonic()
    assert main(["run", "--methods", "lsh", *SMALL, "--address", f"127.0.0.1:{free_port()}",
                 "--results", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: error: no Ray cluster at 127.0.0.1:")
    assert time.monotonic() - t0 < 30
    assert not (tmp_path / "runs").exists()


def test_ray_client_addresses_are_refused(tmp_path, capsys):
    assert main(["run", "--methods", "lsh", *SMALL, "--address", "ray://10.0.0.1:10001",
                 "--results", str(tmp_path)]) == 2
    assert "Ray Client addresses (ray://) are not supported" in capsys.readouterr().err


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_dead_runs_are_told_from_live_ones(tmp_path):
    now = time.time()
    manifests = {
        "dead-here": Manifest(run_id="dead-here", sweep="s", pid=dead_pid(), pid_start=1),
        "alive-here": Manifest(run_id="alive-here", sweep="s"),  # this process
        "reused-pid": Manifest(run_id="reused-pid", sweep="s", pid=os.getpid(), pid_start=1),
        "stale-elsewhere": Manifest(run_id="stale-elsewhere", sweep="s", host="elsewhere",
                                    heartbeat=now - 3600, started=now - 7200),
        "fresh-elsewhere": Manifest(run_id="fresh-elsewhere", sweep="s", host="elsewhere"),
        "other-sweep": Manifest(run_id="other-sweep", sweep="t", pid=dead_pid(), pid_start=1),
        "finished": Manifest(run_id="finished", sweep="s", pid=dead_pid(), pid_start=1,
                             status="finished"),
    }
    for m in manifests.values():
        m.write(tmp_path)
    found = [m.run_id for m in dead_runs(tmp_path, "s")]
    assert sorted(found) == ["dead-here", "reused-pid", "stale-elsewhere"]
    assert found[0] == "stale-elsewhere"  # oldest first
    assert sorted(m.run_id for m in dead_runs(tmp_path, "s", exclude="dead-here")) == \
        ["reused-pid", "stale-elsewhere"]


def test_a_trial_refuses_a_results_folder_without_its_run(tmp_path):
    Manifest(run_id="run-1", sweep="s").write(tmp_path)
    check_visible(tmp_path, "run-1", "here")
    with pytest.raises(ResultsNotShared, match="does not hold this run's manifest"):
        check_visible(tmp_path, "run-2", "node-b")
