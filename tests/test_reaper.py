"""A driver killed mid-sweep leaves no process of its own Ray instance behind (the
killed driver on a local instance: Ray's dashboard and runtime-env agents used to survive)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from bench.runner.reaper import descendants

FAKE_DRIVER = r"""
import subprocess, sys, time
# a stand-in for a local Ray instance: a process whose child outlives it (like Ray's agents)
inst = subprocess.Popen([sys.executable, "-c", "import subprocess, time; "
                         "c = subprocess.Popen(['sleep', '300']); print(c.pid, flush=True); "
                         "time.sleep(300)"], stdout=subprocess.PIPE, text=True)
child = inst.stdout.readline().strip()
watchdog = subprocess.Popen([sys.executable, "-m", "bench.runner.reaper", str(inst.pid)],
                            stdin=subprocess.PIPE, start_new_session=True)
print(inst.pid, child, watchdog.pid, flush=True)
time.sleep(300)
"""


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_gone(pids, timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and [p for p in pids if alive(p)]:
        time.sleep(0.2)
    return [p for p in pids if alive(p)]


def test_watchdog_kills_the_instance_of_a_sigkilled_driver():
    bystander = subprocess.Popen(["sleep", "60"])  # not the instance's: never touched
    driver = subprocess.Popen([sys.executable, "-c", FAKE_DRIVER], stdout=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        inst, child, watchdog = (int(x) for x in driver.stdout.readline().split())
        time.sleep(2.5)  # the watchdog notes the instance's processes every second
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
        assert wait_gone([inst, child, watchdog], 30) == []
        assert bystander.poll() is None
    finally:
        bystander.kill()
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM])
def test_killed_bench_driver_leaves_no_ray_process(tmp_path, sig):
    """A real `bench run` with its own Ray instance, killed while trials run."""
    log = tmp_path / "driver.log"
    with open(log, "w") as fh:
        driver = subprocess.Popen(
            [sys.executable, "-m", "bench", "run", "--methods", "gnah", "--bits", "16,32",
             "--dataset", "synthetic-features", "--dataset-opt", "n_items=600", "--preset",
             "small", "--seeds", "0,1,2", "--num-cpus", "1", "--tracking-uri", "none",
             "--verbose", "--results", str(tmp_path / "results")],  # --verbose: Tune's table
            stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1", "RAY_USAGE_STATS_ENABLED": "0"})
    try:
        deadline = time.monotonic() + 300
        while "RUNNING" not in log.read_text():
            assert driver.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.5)
        time.sleep(2)
        tree = descendants({driver.pid})
        assert len(tree) > 5  # the driver, Ray's processes, the watchdog, a trial
        os.kill(driver.pid, sig)
        driver.wait(timeout=30)
        assert wait_gone(list(tree), 60) == []
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
