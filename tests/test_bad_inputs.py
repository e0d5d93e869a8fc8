"""Bad input found by probing ``bench``: dataset options, feature shapes, GPU requests, a closed
stdout, huge grids, the ``--encoder`` documentation, copied results folders and ``bench tune``'s
log lines. Each is one line and exit code 2 with nothing written, or the documented behaviour."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.errors import BenchError

REPO = Path(__file__).resolve().parents[1]
SMALL = ["--dataset", "synthetic-features", "--preset", "small", "--bits", "16", "--no-ray",
         "--no-report"]


def bench(*args: str, cwd: Path, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("capture_output", "stdout" not in kw)
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(REPO)}, **kw)


def assert_user_error(proc: subprocess.CompletedProcess, pattern: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert pattern in lines[0], lines[0]


# -- dataset options: declared with types, unknown keys refused ------------------------------


@pytest.mark.parametrize("opt,pattern", [
    ("n_item=2000", "has no option 'n_item' (did you mean 'n_items'?)"),
    ("n_items=abc", "option 'n_items' of dataset 'synthetic-features' must be int >= 1"),
    ("n_items=0", "must be int >= 1"),
    ("dim=2.5", "option 'dim' of dataset 'synthetic-features' must be int >= 1"),
])
def test_dataset_opt_unknown_or_wrong_type(tmp_path, opt, pattern):
    proc = bench("run", "--methods", "lsh", *SMALL, "--dataset-opt", opt, "--results", "r",
                 cwd=tmp_path)
    assert_user_error(proc, pattern)
    assert not (tmp_path / "r").exists()


def test_dataset_opt_scenes_and_real_datasets_suggest():
    from bench import registry
    from bench.runner.driver import RunRequest, check_request, dataset_options

    with pytest.raises(BenchError, match=r"no option 'n_itms' \(did you mean 'n_items'\?\)"):
        check_request(RunRequest(methods=["lsh"], dataset_options={"n_itms": 5}))
    with pytest.raises(BenchError, match=r"no option 'captoin' \(did you mean 'caption'\?\)"):
        dataset_options(registry.datasets.get("coco"), {"captoin": "first"})


def test_dataset_opt_valid_values_keep_their_keys():
    """Valid options come out as they went in (the result key is unchanged); an integral
    float for an int option becomes the int, as method parameters do."""
    from bench import registry

    spec = registry.datasets.get("synthetic-features")
    out = spec.check_options({"n_items": 1500, "dim": 48, "seed": 3})
    assert out == {"n_items": 1500, "dim": 48, "seed": 3}
    assert all(type(v) is int for v in out.values())
    assert spec.check_options({"n_items": 1500.0}) == {"n_items": 1500}
    from bench.runner.driver import dataset_options

    coco = registry.datasets.get("coco")
    assert dataset_options(coco, {"caption": "first", "bow": 50}) == {"caption": "first",
                                                                      "bow": 50}


# -- feature arrays: 2-d with at least one dimension ----------------------------------------


@pytest.mark.parametrize("image,shape", [(np.float32(3.0), "()"),
                                         (np.zeros((50, 0), np.float32), r"\(50, 0\)"),
                                         (np.zeros((50, 2, 2), np.float32), r"\(50, 2, 2\)")])
def test_bad_feature_shapes_refused(tmp_path, image, shape):
    from bench.runner.data import load_dataset

    rng = np.random.default_rng(0)
    labels = (rng.random((50, 3)) < 0.5).astype(np.uint8)
    labels[:, 0] = 1
    np.savez(tmp_path / "feats.npz", labels=labels, image_features=image,
             text_features=rng.random((50, 4)).astype(np.float32))
    with pytest.raises(BenchError, match=rf"feats.npz:image_features: features must be a 2-d "
                                         rf".*found shape {shape}"):
        load_dataset("features", str(tmp_path), str(tmp_path / "cache"), {})


def test_zero_d_features_cli_one_line(tmp_path):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "feats.npz", labels=np.ones((300, 2), np.uint8),
             image_features=np.float32(1.0), text_features=rng.random((300, 4)))
    proc = bench("run", "--methods", "lsh", "--dataset", "features", "--data-root", ".",
                 "--no-ray", "--tracking-uri", "none", "--results", "r", cwd=tmp_path)
    assert_user_error(proc, "found shape ()")
    assert not (tmp_path / "r").exists()


# -- GPUs checked first; nothing left behind by an error before the first trial ---------------


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


@pytest.mark.skipif(_cuda(), reason="this machine has a GPU")
def test_gpus_per_trial_without_gpu_before_any_data(tmp_path):
    proc = bench("run", "--methods", "lsh", "--dataset", "synthetic-features", "--preset",
                 "small", "--gpus-per-trial", "1", "--results", "r", cwd=tmp_path)
    assert_user_error(proc, "--gpus-per-trial 1: this machine has no GPU")
    assert "loading dataset" not in proc.stdout
    assert not (tmp_path / "r").exists()


def test_error_after_loading_leaves_nothing(tmp_path):
    """dchmt needs images: refused after the data is loaded; the folders this run created
    (results, cache) are removed, a folder that existed before stays with its files."""
    args = ("run", "--methods", "dchmt", *SMALL, "--dataset-opt", "n_items=400",
            "--tracking-uri", "none")
    proc = bench(*args, "--results", "new/r", cwd=tmp_path)
    assert_user_error(proc, "lacks images, captions")
    assert "loading dataset" in proc.stdout
    assert not (tmp_path / "new").exists()
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "mine.txt").write_text("keep")
    proc = bench(*args, "--results", "old", "--cache-dir", "c2", cwd=tmp_path)
    assert_user_error(proc, "lacks images, captions")
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == ["mine.txt"]
    assert not (tmp_path / "c2").exists()


# -- a closed stdout (bench ... | head) -------------------------------------------------------


def test_broken_pipe_is_quiet(tmp_path):
    read, write = os.pipe()
    os.close(read)  # every write to stdout fails with EPIPE, as after `| head` has exited
    try:
        proc = bench("datasets", cwd=tmp_path, stdout=write, stderr=subprocess.PIPE,
                     capture_output=False)
    finally:
        os.close(write)
    assert proc.returncode == 141, proc.stderr
    assert proc.stderr.strip() == ""


# -- huge grids and code lengths ---------------------------------------------------------------


def test_big_grid_needs_yes_and_is_announced(tmp_path):
    seeds = ",".join(map(str, range(501)))
    proc = bench("run", "--methods", "lsh", *SMALL, "--seeds", seeds, "--results", "r",
                 cwd=tmp_path)
    assert_user_error(proc, "501 trials planned (methods × bits × budgets × seeds; a multi-bit "
                            "method's lengths share one trial), more than 500; pass --yes")
    assert "bench: 501 trial(s) planned" in proc.stdout
    assert not (tmp_path / "r").exists()


def test_the_planned_count_is_the_number_of_trials(tmp_path):
    # cca codes every length in one trial, lsh one trial per length: 1 + 3 per seed
    proc = bench("run", "--methods", "lsh,cca", *SMALL, "--bits", "16,32,64", "--seeds", "0,1",
                 "--results", "r", "--no-ray", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "bench: 8 trial(s) planned" in proc.stdout


def test_bits_above_limit_refused(tmp_path):
    proc = bench("run", "--methods", "lsh", *SMALL, "--bits", "4096", "--results", "r",
                 cwd=tmp_path)
    assert_user_error(proc, "bits must be positive integers (at most 1024), got 4096")
    assert not (tmp_path / "r").exists()


def test_big_grid_with_yes_passes_the_check():
    from bench.runner.driver import check_trial_count

    lines: list[str] = []
    check_trial_count(1000, True, "x", lines.append)
    assert lines == ["bench: 1,000 trial(s) planned (x)"]
    with pytest.raises(BenchError, match="pass --yes"):
        check_trial_count(501, False, "x", lines.append)
    check_trial_count(500, False, "x", lines.append)


# -- the --encoder documentation ---------------------------------------------------------------


def test_encoder_documented_as_default_on_generated_data_only():
    from bench.cli.app import build_parser

    readme = (REPO / "README.md").read_text()
    assert "`bundled` (default)" not in readme
    assert "real dataset without features of its own needs" in " ".join(readme.split())
    help_text = " ".join(build_parser()._subparsers._group_actions[0].choices["run"]
                         .format_help().split())
    assert "default on generated data only" in help_text


# -- a copied results folder keeps its artifacts; tune's log lines go to the log file --------


def _artifact_uris(db: Path) -> list[str]:
    con = sqlite3.connect(db)
    try:
        return [r[0] for r in con.execute("SELECT artifact_uri FROM runs")]
    finally:
        con.close()


def test_copied_results_folder_logs_artifacts_into_the_copy(tmp_path):
    args = ["run", "--methods", "lsh", *SMALL, "--dataset-opt", "n_items=400"]
    assert bench(*args, "--results", "a", cwd=tmp_path).returncode == 0
    before = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a" / "mlartifacts")
                    .rglob("*"))
    shutil.copytree(tmp_path / "a", tmp_path / "b")
    proc = bench(*args, "--seeds", "1", "--results", "b", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    after = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a" / "mlartifacts")
                   .rglob("*"))
    assert after == before  # nothing new in the original
    here = (tmp_path / "b" / "mlartifacts").resolve().as_uri()
    uris = _artifact_uris(tmp_path / "b" / "mlflow.db")
    assert len(uris) >= 4 and all(u.startswith(here + "/") for u in uris), uris
    assert len(list((tmp_path / "b" / "mlartifacts").rglob("*.npz"))) == 2
    assert all(u.startswith((tmp_path / "a").resolve().as_uri())
               for u in _artifact_uris(tmp_path / "a" / "mlflow.db"))


def test_tune_routes_optuna_log_lines_to_the_ray_log(tmp_path, capfd):
    import optuna

    from bench.runner.ray_log import RayOutput

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO)
    path = tmp_path / "logs" / "x-ray.log"
    with RayOutput(path, verbose=False, also=("optuna",)):
        optuna.logging.get_logger("optuna.study.study").warning("optuna says hello")
        logging.getLogger("ray.tune").warning("ray says hello")
    err = capfd.readouterr().err
    assert "hello" not in err
    text = path.read_text()
    assert "optuna says hello" in text and "ray says hello" in text
    optuna.logging.get_logger("optuna.study.study").warning("after")
    assert "after" in capfd.readouterr().err  # optuna's own handler is back
    optuna.logging.set_verbosity(level)


@pytest.mark.slow
def test_tune_keeps_ray_and_optuna_lines_off_the_terminal(tmp_path):
    proc = bench("tune", "--methods", "cca-itq", "--bits", "16", "--dataset",
                 "synthetic-features", "--dataset-opt", "n_items=400", "--preset", "small",
                 "--num-cpus", "2", "--max-concurrent", "1", "--no-report", "--trials", "2",
                 "--final-seeds", "0", "--tracking-uri", "none", "--results", "r", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    terminal = proc.stdout + proc.stderr
    assert "A new study created" not in terminal and "Started a local Ray" not in terminal
    (log,) = (tmp_path / "r" / "logs").glob("*-ray.log")
    text = log.read_text()
    assert "A new study created" in text and "Started a local Ray instance" in text
    assert "bench: 3 trial(s) planned (searches × (--trials + final runs))" in proc.stdout
