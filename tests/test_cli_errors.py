"""Bad input: one line on stderr, exit code 2, no traceback, nothing written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]  # the checkout under test, not an installed copy

def bench(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)})


def assert_user_error(proc: subprocess.CompletedProcess, pattern: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert pattern in lines[0], lines[0]


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


SMALL = ["--dataset", "synthetic-features", "--dataset-opt", "n_items=600", "--preset", "small"]


@pytest.mark.parametrize("args,pattern", [
    (["--methods", "lsj"], "unknown method 'lsj' (did you mean 'lsh'?)"),
    (["--methods", ","], "no method given"),
    (["--methods", "lsh", "--dataset", "synthetic-feature"],
     "did you mean 'synthetic-features'?"),
    (["--methods", "lsh", "--bits", "16,abc"], "bits must be positive integers"),
    (["--methods", "lsh", "--bits", "0"], "bits must be positive integers"),
    (["--methods", "lsh", "--bits", "-8"], "bits must be positive integers"),
    (["--methods", "lsh", "--budgets", "100000", *SMALL], "larger than the training pool"),
    (["--methods", "lsh", "--budgets", "-5"], "budget '-5' must be"),
    (["--methods", "lsh", "--set", "lsh.nope=1"], "has no hyperparameter 'nope'"),
    (["--methods", "lsh", "--preset", "nonexistent"], "has no preset 'nonexistent'"),
    # checked in the driver, before anything runs (no data generated either)
    (["--methods", "cca-itq", "--set", "cca-itq.reg=abc"],
     "parameter 'reg' must be float >= 0"),
    (["--methods", "gnah", "--set", "gnah.variant=D"], "parameter 'variant' must be 'full'"),
    (["--methods", "lsh", "--seeds", "-1"], "seeds must be integers from 0"),
    (["--methods", "lsh", "--budgets", "999999"], "larger than the training pool (8500"),
    (["--methods", "lsh", "--num-cpus", "0"], "--num-cpus must be at least 1"),
    (["--methods", "lsh", "--max-concurrent", "0"], "--max-concurrent must be at least 1"),
    pytest.param(["--methods", "lsh", "--device", "cuda"], "CUDA is not available",
                 marks=pytest.mark.skipif(cuda_available(), reason="this machine has CUDA")),
    (["--methods", "lsh", "--encoder-weights", "/missing/file.pt"],
     "encoder weights file /missing/file.pt does not exist"),
    (["--methods", "lsh", "--tracking-uri", "mlflow.db"], "not an MLflow tracking URI"),
])
def test_run_bad_input(tmp_path, args, pattern):
    results = tmp_path / "results"
    proc = bench("run", *args, "--results", str(results), cwd=tmp_path)
    assert_user_error(proc, pattern)
    for folder in ("records", "codes", "mlartifacts", "cache"):
        assert not (results / folder).exists()
    assert not (results / "leaderboard.csv").exists()


def test_unwritable_results_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = bench("run", "--methods", "lsh", "--results", str(blocker / "results"), cwd=tmp_path)
    assert_user_error(proc, "is not writable")


def test_corrupt_record_is_reported_and_the_rest_used(tmp_path):
    rec = tmp_path / "records" / "lsh" / "synthetic-features" / "x.json"
    rec.parent.mkdir(parents=True)
    rec.write_text('{"schema": 1, "key": "x", "metr')
    proc = bench("leaderboard", "--results", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr
    assert "unreadable result record" in proc.stderr and "skipped" in proc.stderr
    assert not (tmp_path / "quarantine").exists()  # only bench run sets records aside
    assert (tmp_path / "leaderboard.csv").exists() and rec.exists()


def test_missing_results_folder(tmp_path):
    proc = bench("leaderboard", "--results", str(tmp_path / "none"), cwd=tmp_path)
    assert_user_error(proc, "does not exist")


def test_corrupt_mat_file_is_named_by_datasets_check(tmp_path):
    (tmp_path / "data.mat").write_bytes(bytes(range(256)) * 20)
    proc = bench("datasets", "check", str(tmp_path), cwd=tmp_path)
    assert_user_error(proc, "cannot read it as a MATLAB file")
