"""Trials in-process: what methods see, validation, and `bench validate`."""

from __future__ import annotations

import numpy as np
import pytest

from bench import registry
from bench.cli import main
from bench.plugins import FitContext, HashMethod, MethodSpec, PairedData

SEEN: dict[str, object] = {}


class Spy(HashMethod):
    """Records what the harness hands it; codes from a random projection."""

    spec = MethodSpec(name="spy", entry="test_trial:Spy", version="1",
                      supervision="unsupervised", inputs=("image_features", "text_features"),
                      multi_bit=True, reference={"paper": "none"})

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        SEEN["train_labels"] = train.labels
        SEEN["n_train"] = len(train)
        SEEN["validation_labels"] = None if ctx.validation is None else ctx.validation.labels
        self.w = np.random.default_rng(self.seed).normal(size=(train.image_features.shape[1], 64))
        SEEN["val_score"] = ctx.validate()
        ctx.report(1, loss=1.0)

    def encode(self, data: PairedData, modality) -> dict[int, np.ndarray]:
        SEEN.setdefault("encode_labels", []).append(data.labels)
        x = data.image_features if modality == "image" else data.text_features
        return {b: np.where(x @ self.w[:, :b] >= 0, 1, -1).astype(np.int8) for b in self.bits}


@pytest.fixture(scope="module", autouse=True)
def spy_registered():
    if "spy" not in registry.methods.names():
        registry.methods.register("spy", "test_trial:Spy.spec")
    yield


def test_unsupervised_method_never_sees_labels(tmp_path):
    SEEN.clear()
    code = main(["run", "--methods", "spy", "--bits", "8,16", "--dataset", "synthetic-features",
                 "--dataset-opt", "n_items=800",
                 "--preset", "small", "--budgets", "50", "--results", str(tmp_path), "--no-ray"])
    assert code == 0
    assert SEEN["train_labels"] is None and SEEN["validation_labels"] is None
    assert SEEN["n_train"] == 50
    assert all(lab is None for lab in SEEN["encode_labels"])
    assert 0.0 < SEEN["val_score"] <= 1.0
    records = list((tmp_path / "records" / "spy").rglob("*.json"))
    assert len(records) == 1  # multi-bit: one trial for the bit set


def test_validate_command(capsys):
    assert main(["validate", "cca-itq", "--bits", "16"]) == 0
    out = capsys.readouterr().out
    assert "deterministic with a fixed seed: yes" in out and "validate: ok" in out
