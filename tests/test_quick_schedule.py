"""The under-trained rule of the trained methods' schedules: a run whose last validation score
is more than ``UNDER_TRAINED_GAIN`` above the best of the first half of its validation scores is
recorded as under-trained (``resolved_params["under_trained"]``), and the leaderboard marks its
row. The sequences are DCHMT's measured validation mAPs on the default data (32 bits)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from bench.leaderboard import long_table, pivot_table
from bench.methods.dchmt import SPEC
from bench.plugins import FitContext, PairedData
from bench.schema import Definition, ResultRecord, TrialConfig, record_identity
from bench.training.method import (
    UNDER_TRAINED_GAIN,
    Codes,
    TrainedHashMethod,
    late_gain,
    still_improving,
)

DCHMT_V1_QUICK = [0.6846, 0.7281, 0.7338]  # lr 1e-4, 3 epochs: +0.049 over epoch 1
DCHMT_V1_10 = [0.653, 0.7279, 0.7683, 0.7793, 0.7885, 0.7917, 0.7938, 0.7946, 0.7953, 0.7954]


@pytest.mark.parametrize(("scores", "verdict"), [
    (DCHMT_V1_QUICK, True),          # the last epoch alone gains only 0.006 (lr ~0 by then)
    (DCHMT_V1_10, False),            # 0.7954 - 0.7885 (best of epochs 1-5): a plateau
    ([0.69, 0.70, 0.705], False),    # +0.015 over the first half
    ([0.80, 0.75, 0.79], False),     # fell back
    ([0.70, 0.60, 0.65, 0.73], True),  # +0.03 over the best of the first two
    ([0.70], None),                  # one score: nothing to compare
    ([], None),
])
def test_still_improving_on_fixed_sequences(scores, verdict):
    assert still_improving(scores) is verdict


def test_margin_is_strict_and_the_half_rounds_down():
    assert UNDER_TRAINED_GAIN == 0.02
    assert still_improving([0.5, 0.75], margin=0.25) is False  # exactly the margin: not flagged
    assert still_improving([0.5, 0.75], margin=0.2) is True
    assert late_gain([0.5, 0.25, 0.75]) == pytest.approx(0.25)  # n=3: the first score only
    assert late_gain([0.5, 0.6, 0.1, 0.75]) == pytest.approx(0.15)  # n=4: the first two


class Toy(TrainedHashMethod):
    """The smallest trained method: one linear layer, no real training."""

    spec = SPEC
    SCHEDULES = {"reference": {"epochs": 3, "batch_size": 2, "eval_batch_size": 2,
                               "max_train": None},
                 "quick": {"epochs": 3, "batch_size": 2, "eval_batch_size": 2,
                           "max_train": None}}

    def build(self, seed: int | None = None) -> nn.Module:
        torch.manual_seed(self.seed if seed is None else seed)
        self.net = nn.Linear(2, 2)
        return self.net

    def encode_pairs(self, data: PairedData) -> Codes:
        return {}

    def fit(self, train: PairedData, ctx: FitContext) -> None:  # the test drives train_epochs
        raise NotImplementedError


def fit_toy(scores: list[float], tmp_path: Path) -> Toy:
    m = Toy([32], {"checkpoint": "none", "schedule": "quick"}, seed=0)
    m.build()
    m.schedule = m.resolve_schedule("")
    m.record_schedule(m.schedule)
    it = iter(scores)
    ctx = FitContext(validation=None, seed=0, device="cpu", workdir=tmp_path,
                     validate=lambda: next(it), log=lambda s: None)
    m.train_epochs(ctx, len(scores), lambda epoch: {"loss": 1.0})
    return m


def test_training_loop_records_the_verdict(tmp_path):
    rising = fit_toy([0.60, 0.65, 0.70], tmp_path)
    assert rising.resolved_params["under_trained"] is True
    assert rising.resolved_params["val_late_gain"] == pytest.approx(0.1)
    assert rising.resolved_params["schedule"] == "quick"
    assert "under-trained" in rising.selection_rule and rising.best_epoch == 3
    flat = fit_toy([0.60, 0.75, 0.61], tmp_path)  # selects epoch 2; +0.01 over epoch 1
    assert flat.resolved_params["under_trained"] is False
    assert "under-trained" not in flat.selection_rule
    one = fit_toy([0.6], tmp_path)
    assert one.resolved_params["under_trained"] is None


def record(seed: int, value: float, under: Any, method: str = "dchmt") -> ResultRecord:
    d = Definition(method=method, method_version="1", dataset="toy", dataset_version="1",
                   preset={"name": "p"}, bits=(32,), budget="all", seed=seed, params={},
                   protocol_version=2, k_values=(50,), data_fingerprint="f" * 64)
    cfg = TrialConfig(definition=d, budget=None, results_dir="/r", cache_dir="/c",
                      requested_seeds=(0, 1))
    m = {"map_all": value, "map_at_k": {}, "p_at_k": {}, "map_tie_aware": value,
         "n_queries": 10, "n_empty_queries": 0}
    resolved = {"schedule": "quick"} if under is None else {"schedule": "quick",
                                                             "under_trained": under}
    return ResultRecord(key=cfg.key, status="finished", **record_identity(cfg), n_train=10,
                        resolved_params=resolved, metrics={"32": {"i2t": m, "t2i": m}})


def test_leaderboard_marks_a_row_with_an_under_trained_seed():
    recs = [record(0, 0.7, True), record(1, 0.8, False),  # one row, marked for both seeds
            record(0, 0.9, False, "mith"), record(0, 0.6, None, "lsh")]
    table = pivot_table(recs)
    assert set(table.index) == {"dchmt (under-trained: quick schedule)", "mith", "lsh"}
    assert table.loc["dchmt (under-trained: quick schedule)", "I→T / 32"].endswith("(n=2/2)")
    df = long_table(recs)
    assert np.isclose(df[df["method"] == "mith"]["map_all"], 0.9).all()


def test_dchmt_hash_lr_follows_the_schedule():
    """DCHMT version 2: lr None takes the schedule's: quick 1e-3 (the reference's get_args,
    batch 64), reference 1e-4 (its example command, batch 256); an explicit lr wins."""
    from bench.methods.dchmt.method import DCHMT

    def lr(**params: Any) -> tuple[float, float]:
        m = DCHMT([32], params, seed=0)
        m.schedule = m.resolve_schedule("synthetic-scenes")
        m.record_schedule(m.schedule)
        return m.hash_lr(), m.resolved_params["lr"]

    assert lr() == (1e-3, 1e-3)  # auto = quick on generated data
    assert lr(schedule="reference") == (1e-4, 1e-4)
    assert lr(schedule="quick", lr=3e-4) == (3e-4, 3e-4)
