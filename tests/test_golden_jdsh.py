"""Golden values for JDSH: the plugin's joint-modal similarity with DSDW weighting and its loss,
on fixed seeded float64 inputs, against an independent numpy transcription of the reference
KaiserLew/JDSH@caa8224e2f2e (JDSH.py:118-163, config/JDSH_MIRFlickr.json)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from _toy import fit_context, toy_pairs

from bench import registry
from bench.deep.reconstruction import Batch

TOL = 1e-5
#: config/JDSH_MIRFlickr.json:2-18 (alpha, beta, lamb, mu, INTRA, ALPHA, BETA, L1, L2).
CONFIG = {"alpha": 0.5, "beta": 0.1, "lamb": 0.4, "mu": 1.4, "intra": 0.1, "left_scales": 2.0,
          "right_scales": 4.0, "l1": 0.1, "l2": 0.2}


def _jdsh(**params):
    return registry.methods.get("jdsh").load()([8], params, 0, "cpu")


def _rownorm(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def reference_similarity(f_i: np.ndarray, txt: np.ndarray, c: dict, k: tuple) -> np.ndarray:
    """JDSH.py:118-145, cal_similarity_matrix (in-place masks applied in order)."""
    s_i = _rownorm(f_i) @ _rownorm(f_i).T * 2 - 1
    s_t = _rownorm(txt) @ _rownorm(txt).T * 2 - 1
    s_high = _rownorm(s_i) @ _rownorm(s_t).T
    s_ = c["alpha"] * s_i + c["beta"] * s_t + c["lamb"] * (s_high + s_high.T) / 2
    loc_left, scale_left, loc_right, scale_right, mn, mx = k
    left = loc_left - c["left_scales"] * scale_left
    right = loc_right + c["right_scales"] * scale_right
    m = s_ < left
    s_[m] = (1 + c["l1"] * np.exp(-(s_[m] - mn))) * s_[m]
    m = s_ > right
    s_[m] = (1 + c["l2"] * np.exp(s_[m] - mx)) * s_[m]
    return s_ * c["mu"]


def reference_loss(code_i: np.ndarray, code_t: np.ndarray, s: np.ndarray, intra: float) -> float:
    """JDSH.py:147-163, cal_loss."""
    b_i, b_t = _rownorm(code_i), _rownorm(code_t)
    mse = lambda a: float(np.mean((a - s) ** 2))  # noqa: E731
    loss1 = mse(b_i @ b_i.T)
    loss2 = mse(b_i @ b_t.T) + mse(b_t @ b_i.T) - float((b_i * b_t).sum(axis=1).mean())
    loss3 = mse(b_t @ b_t.T)
    return intra * loss1 + loss2 + intra * loss3


def _inputs(m: int = 12, seed: int = 3) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    x = np.abs(rng.normal(size=(m, 10)))  # non-negative like ReLU fc7 / BoW features
    y = np.abs(rng.normal(size=(m, 7))) * (rng.random((m, 7)) < 0.6)
    y[:, 0] += 0.1  # no empty text
    return x, y


def _constants(s: np.ndarray) -> tuple:
    """Thresholds inside the data's range so that both tails are populated, each midway
    between two neighbouring entries (no entry sits on a threshold)."""
    off = np.unique(s[~np.eye(len(s), dtype=bool)])
    n = len(off)
    left = (off[n // 5] + off[n // 5 + 1]) / 2
    right = (off[4 * n // 5] + off[4 * n // 5 + 1]) / 2
    loc = float(np.median(off))
    return (loc, (loc - left) / 2, loc, (right - loc) / 4, off.min(), off.max())


def test_joint_similarity_with_dsdw_matches_the_reference() -> None:
    x, y = _inputs()
    raw = reference_similarity(x, y, {**CONFIG, "l1": 0.0, "l2": 0.0, "mu": 1.0},
                               (0, 0, 0, 0, 0, 0))
    k = _constants(raw)
    expect = reference_similarity(x, y, CONFIG, k)
    m = _jdsh(**CONFIG)
    m.constants = k
    got = m.affinity(torch.arange(len(x)), torch.from_numpy(x), torch.from_numpy(y)).numpy()
    assert got.dtype == np.float64
    # both tails were amplified, so the check covers the two DSDW branches
    assert (np.abs(expect - CONFIG["mu"] * raw) > 1e-3).sum() > 10
    np.testing.assert_allclose(got, expect, atol=TOL, rtol=0)


def test_mirflickr_constants_and_a_left_entry_crossing_the_right_threshold() -> None:
    from bench.methods.jdsh.method import MIR_CONSTANTS, dsdw

    # config/JDSH_MIRFlickr.json:9-16: MIN, MAX, LOC_LEFT, SCALE_LEFT, LOC_RIGHT, SCALE_RIGHT
    assert MIR_CONSTANTS == (-0.49, 0.019, -0.49, 0.088, -0.52, 0.68)
    # The reference's second mask is taken after the first update (JDSH.py:138-141): a
    # left-tail entry pushed above the right threshold is amplified again.
    k = (0.3, 0.01, 0.3, 0.001, -1.0, 1.0)  # left 0.28, right 0.304
    c = {**CONFIG, "l1": 0.5}
    s = np.array([[0.279, 0.1], [0.29, 0.5]])
    loc_left, scale_left, loc_right, scale_right, mn, mx = k
    out = s.copy()
    m = out < loc_left - 2 * scale_left
    out[m] = (1 + 0.5 * np.exp(-(out[m] - mn))) * out[m]
    m = out > loc_right + 4 * scale_right
    out[m] = (1 + 0.2 * np.exp(out[m] - mx)) * out[m]
    got = dsdw(torch.from_numpy(s), k, c["left_scales"], c["right_scales"], 0.5, 0.2).numpy()
    np.testing.assert_allclose(got, out, atol=TOL, rtol=0)
    assert got[0, 0] > 0.279 * (1 + 0.5 * np.exp(-1.279)) + 1e-4  # amplified twice


def test_loss_matches_the_reference() -> None:
    x, y = _inputs()
    rng = np.random.default_rng(5)
    hid_i, hid_t = rng.normal(size=(12, 8)), rng.normal(size=(12, 8))
    scale = np.sqrt(3.0)  # epoch 2: alpha = sqrt(epoch + 1) (models.py:29-30)
    code_i, code_t = np.tanh(scale * hid_i), np.tanh(scale * hid_t)
    raw = reference_similarity(x, y, {**CONFIG, "l1": 0.0, "l2": 0.0, "mu": 1.0},
                               (0, 0, 0, 0, 0, 0))
    s = reference_similarity(x, y, CONFIG, _constants(raw))
    expect = reference_loss(code_i, code_t, s, CONFIG["intra"])
    m = _jdsh(**CONFIG)
    t = torch.from_numpy
    b = Batch(epoch=2, idx=torch.arange(12), x=t(x), y=t(y), hx=t(code_i), hy=t(code_t),
              trunk_x=t(x), trunk_y=t(y))
    got = m.loss_terms(b, t(s), {})["loss"].item()
    assert abs(got - expect) < TOL, (got, expect)


def test_defaults_are_the_reference_setting(tmp_path: Path) -> None:
    d = registry.methods.get("jdsh").defaults
    # config/JDSH_MIRFlickr.json and JDSH.py:32-57 / models.py:8-47
    assert {k: d[k] for k in CONFIG} == CONFIG
    assert (d["epochs"], d["batch_size"], d["lr_image"], d["lr_text"]) == (300, 32, 0.01, 0.01)
    assert (d["optimizer"], d["momentum"], d["weight_decay"]) == ("sgd", 0.9, 5e-4)
    assert (d["image_net"], d["hidden"], d["drop_last"]) == ("linear", 4096, True)
    assert (d["code_scale"], d["selection"]) == ("sqrt_epoch", "final")
    m = _jdsh(epochs=1, hidden=16, fit_batches=2)
    m.fit(toy_pairs(40), fit_context(tmp_path))
    image, text = m.nets[8]["image"], m.nets[8]["text"]
    assert [type(layer).__name__ for layer in image.body] == ["Linear"]
    assert [type(layer).__name__ for layer in text.body] == ["Linear", "ReLU", "Linear"]
