"""A result key identifies the data and the code: the data actually
loaded (a content fingerprint), and records say which training pairs and parameter values were
really used. (The method code's declared version is kept honest by test_method_versions.py.)"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from bench.cli import main
from bench.results import load_codes


def write_features(folder: Path, flip: bool = False) -> Path:
    rng = np.random.default_rng(0)
    n = 600
    labels = (rng.random((n, 5)) < 0.3).astype(np.uint8)
    labels[:, 0] |= labels.sum(1) == 0
    if flip:  # another copy of "the same" dataset, whose labels differ
        labels[:50] = 1 - labels[:50]
    feats = rng.normal(size=(n, 16)).astype(np.float32)
    folder.mkdir(parents=True)
    np.savez(folder / "data.npz", image_features=feats, text_features=feats + 0.1,
             labels=labels)
    return folder


def run(root: Path, results: Path, capsys) -> str:
    assert main(["run", "--methods", "lsh", "--bits", "16", "--dataset", "features",
                 "--preset", "small", "--data-root", str(root), "--results", str(results),
                 "--no-ray"]) == 0
    return capsys.readouterr().out


def test_another_copy_of_a_dataset_is_never_taken_for_finished(tmp_path, capsys):
    results = tmp_path / "results"
    a = write_features(tmp_path / "a")
    assert "1 to run, 0 already finished" in run(a, results, capsys)
    b = write_features(tmp_path / "b", flip=True)  # other content, same names and options
    assert "1 to run, 0 already finished" in run(b, results, capsys)
    moved = tmp_path / "moved"
    shutil.copytree(a, moved)  # the same content elsewhere is the same data
    assert "0 to run, 1 already finished" in run(moved, results, capsys)
    recs = [json.loads(p.read_text()) for p in (results / "records").rglob("*.json")]
    assert len({r["definition"]["data_fingerprint"] for r in recs}) == 2


def test_records_state_the_training_pairs_and_values_actually_used(tmp_path):
    """GNAH's max_train=auto caps generated data at 160 pairs: the record names the resolved
    value and the dataset indices it trained on."""
    assert main(["run", "--methods", "gnah", "--bits", "16", "--dataset", "synthetic-features",
                 "--dataset-opt", "n_items=1500", "--preset", "small", "--budgets", "200",
                 "--set", "gnah.epochs=2", "--results", str(tmp_path), "--no-ray"]) == 0
    rec = json.loads(next((tmp_path / "records").rglob("*.json")).read_text())
    assert rec["params"]["max_train"] == "auto"
    assert rec["resolved_params"]["max_train"] == 160
    assert isinstance(rec["resolved_params"]["k"], int)
    assert rec["n_train"] == 200 and rec["n_train_used"] == 160
    used = np.asarray(rec["train_index_used"])
    z = load_codes(tmp_path / rec["codes"]["file"])
    assert len(used) == 160 and set(used) <= set(z["train_index"])
    assert np.array_equal(z["train_index_used"], used)
