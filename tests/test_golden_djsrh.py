"""Golden values for DJSRH: the plugin's joint affinity with the diffusion step and its loss, on
fixed seeded float64 inputs, against an independent numpy transcription of the reference
zzs1994/DJSRH@6041c2df8107 (train.py:92-115, settings.py:33-63); and the image network's
training-time dropout (models.py:12, train.py:69)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from _toy import fit_context, toy_pairs

from bench import registry
from bench.deep.reconstruction import Batch

TOL = 1e-5
#: settings.py:33-35 and 58-59 (MIRFlickr): BETA, LAMBDA1, LAMBDA2, MU, ETA.
CONFIG = {"beta": 0.9, "lambda1": 0.1, "lambda2": 0.1, "mu": 1.5, "eta": 0.4}


def _djsrh(**params):
    return registry.methods.get("djsrh").load()([8], params, 0, "cpu")


def _rownorm(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def reference_affinity(f_i: np.ndarray, f_t: np.ndarray, c: dict, batch_size: int) -> np.ndarray:
    """train.py:92-110: S_I, S_T = 2cos - 1; S~ = BETA·S_I + (1 - BETA)·S_T;
    S = MU·((1 - ETA)·S~ + ETA·S~·S~ / BATCH_SIZE)."""
    s_i = _rownorm(f_i) @ _rownorm(f_i).T * 2 - 1
    s_t = _rownorm(f_t) @ _rownorm(f_t).T * 2 - 1
    s_tilde = c["beta"] * s_i + (1 - c["beta"]) * s_t
    s = (1 - c["eta"]) * s_tilde + c["eta"] * s_tilde @ s_tilde / batch_size
    return s * c["mu"]


def reference_loss(code_i: np.ndarray, code_t: np.ndarray, s: np.ndarray, c: dict) -> float:
    """train.py:101-115: LAMBDA1·MSE(B_I B_Iᵀ, S) + MSE(B_I B_Tᵀ, S) + LAMBDA2·MSE(B_T B_Tᵀ, S)."""
    b_i, b_t = _rownorm(code_i), _rownorm(code_t)
    mse = lambda a: float(np.mean((a - s) ** 2))  # noqa: E731
    return c["lambda1"] * mse(b_i @ b_i.T) + mse(b_i @ b_t.T) + c["lambda2"] * mse(b_t @ b_t.T)


def _inputs(m: int = 32, seed: int = 11) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.abs(rng.normal(size=(m, 10)))
    y = np.abs(rng.normal(size=(m, 6))) * (rng.random((m, 6)) < 0.6)
    y[:, 0] += 0.1
    return x, y


def test_joint_affinity_with_diffusion_matches_the_reference() -> None:
    x, y = _inputs()  # a full batch of BATCH_SIZE = 32 pairs
    expect = reference_affinity(x, y, CONFIG, 32)
    got = _djsrh(**CONFIG).affinity(torch.arange(32), torch.from_numpy(x), torch.from_numpy(y))
    assert got.dtype == torch.float64
    np.testing.assert_allclose(got.numpy(), expect, atol=TOL, rtol=0)


def test_loss_matches_the_reference() -> None:
    x, y = _inputs()
    rng = np.random.default_rng(13)
    scale = np.sqrt(5.0)  # epoch 4: alpha = sqrt(epoch + 1) (models.py:26-27)
    code_i = np.tanh(scale * rng.normal(size=(32, 8)))
    code_t = np.tanh(scale * rng.normal(size=(32, 8)))
    s = reference_affinity(x, y, CONFIG, 32)
    expect = reference_loss(code_i, code_t, s, CONFIG)
    t = torch.from_numpy
    b = Batch(epoch=4, idx=torch.arange(32), x=t(x), y=t(y), hx=t(code_i), hy=t(code_t),
              trunk_x=t(x), trunk_y=t(y))
    got = _djsrh(**CONFIG).loss_terms(b, t(s), {})["loss"].item()
    assert abs(got - expect) < TOL, (got, expect)


def test_defaults_and_the_image_dropout(tmp_path: Path) -> None:
    d = registry.methods.get("djsrh").defaults
    assert {k: d[k] for k in CONFIG} == CONFIG
    # settings.py:36-38, 56, 62-63; train.py:36-40 (drop_last), 64-66 (SGD per network)
    assert (d["epochs"], d["batch_size"], d["lr_image"], d["lr_text"]) == (80, 32, 0.001, 0.01)
    assert (d["optimizer"], d["momentum"], d["weight_decay"], d["drop_last"]) == (
        "sgd", 0.9, 5e-4, True)
    assert (d["image_dropout"], d["hidden"], d["selection"]) == (0.5, 4096, "final")
    m = _djsrh(epochs=1, hidden=16)
    data = toy_pairs(40)
    m.fit(data, fit_context(tmp_path))
    image, text = m.nets[8]["image"], m.nets[8]["text"]
    assert [type(layer).__name__ for layer in image.body] == ["Dropout", "Linear", "ReLU",
                                                               "Linear"]
    assert image.body[0].p == 0.5
    assert [type(layer).__name__ for layer in text.body] == ["Linear", "ReLU", "Linear"]
    # dropout only in training: the codes (eval mode) are deterministic
    a = m.encode(data, "image")[8]
    assert np.array_equal(a, m.encode(data, "image")[8])
    m0 = _djsrh(epochs=1, hidden=16, image_dropout=0.0)
    m0.fit(data, fit_context(tmp_path))
    assert [type(layer).__name__ for layer in m0.nets[8]["image"].body] == ["Linear", "ReLU",
                                                                            "Linear"]
