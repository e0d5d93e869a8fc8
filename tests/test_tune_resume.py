"""`bench tune` interrupted for real: a search process killed with SIGKILL, or stopped
with SIGINT (Ctrl-C), and the rerun of the same command that continues its study. Slow: each
test starts a separate `bench tune` process with its own Ray instance."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from bench.cli import main

REPO = Path(__file__).resolve().parents[1]
ARGS = ["tune", "--methods", "gnah", "--bits", "16", "--budgets", "80",
        "--dataset", "synthetic-features", "--dataset-opt", "n_items=600", "--preset", "small",
        "--set", "gnah.epochs=400", "--set", "gnah.report_every=50", "--set", "gnah.hidden=256",
        "--set", "gnah.kmeans_restarts=2", "--scheduler", "none", "--num-cpus", "2",
        "--max-concurrent", "1", "--trials", "3", "--final-seeds", "none",
        "--tracking-uri", "none", "--no-report"]


def _study(results: Path) -> optuna.Study | None:
    db = results / "tune" / "optuna.db"
    if not db.exists():
        return None
    storage = f"sqlite:///{db}"
    try:
        (summary,) = optuna.get_all_study_summaries(storage)
        return optuna.load_study(study_name=summary.study_name, storage=storage)
    except Exception:  # noqa: BLE001 - the other process may be creating it right now
        return None


def _start_and_stop(results: Path, sig: int, timeout: float = 600) -> tuple[int, str, set]:
    """Start a search, wait until one trial finished and the next one runs, send ``sig`` to
    the process (its whole group for SIGKILL); its exit code, output and finished trials."""
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "HF_HUB_OFFLINE": "1"}
    log = results.parent / f"search-{sig}.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "bench", *ARGS, "--results",
                                 str(results)], cwd=REPO, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + timeout
        while time.time() < deadline:
            # read the study only once the search created it (never race its creation)
            study = _study(results) if "trial(s) done" in log.read_text() else None
            if study is not None:
                states = [t.state for t in study.trials]
                if TrialState.COMPLETE in states and TrialState.RUNNING in states:
                    break
            if proc.poll() is not None:
                pytest.fail(f"the search ended early:\n{log.read_text()[-3000:]}")
            time.sleep(1)
        else:
            pytest.fail("no trial finished in time")
        done = {t.number for t in study.trials if t.state == TrialState.COMPLETE}
        if sig == signal.SIGKILL:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.send_signal(sig)
        code = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return code, log.read_text(), done


def _resume_and_check(results: Path, done_before: set, capsys) -> None:
    assert main([*ARGS, "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "of an interrupted search" in out or "trial(s) done" in out
    study = _study(results)
    counted = [t for t in study.trials if not t.user_attrs.get("interrupted")]
    assert len(counted) == 3 and all(t.state == TrialState.COMPLETE for t in counted)
    interrupted = [t for t in study.trials if t.user_attrs.get("interrupted")]
    assert all(t.state == TrialState.FAIL for t in interrupted)
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    assert done_before <= {t.number for t in counted}  # finished trials were kept, not rerun
    assert not study.user_attrs["active"]


@pytest.mark.slow
def test_a_killed_search_resumes(tmp_path, capsys):
    results = tmp_path / "results"
    code, _, done = _start_and_stop(results, signal.SIGKILL)
    assert code == -signal.SIGKILL
    study = _study(results)
    assert [t for t in study.trials if t.state == TrialState.RUNNING]  # left behind
    _resume_and_check(results, done, capsys)


@pytest.mark.slow
def test_ctrl_c_stops_the_search_and_the_rerun_continues(tmp_path, capsys):
    results = tmp_path / "results"
    code, output, done = _start_and_stop(results, signal.SIGINT)
    assert code == 130, output[-3000:]
    assert "rerun the same command to continue the study" in output
    assert "bench: interrupted" in output and "Traceback" not in output
    study = _study(results)
    assert not [t for t in study.trials if t.state == TrialState.RUNNING]
    assert (results / "tune" / study.study_name / "trials.csv").is_file()
    _resume_and_check(results, done, capsys)
