"""Golden values for DSAH against an independent numpy transcription of the authors' code,
idejie/DSAH@b231976 (train.py, models.py, settings.py): affinities, the loss given codes and
decoder outputs, the optimiser, and the sign decoders' zero gradient to the hash nets."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from _toy import fit_context, toy_pairs

from bench import registry
from bench.deep.training import make_optimizer
from bench.methods.dsah import SPEC
from bench.methods.dsah.method import (
    build_decoders,
    decode,
    dsah_affinities,
    dsah_terms,
)

TOL = 1e-5
ALPHA, K, ETA = 0.9, 1.5, 0.1  # settings.py:42-44

pytestmark = pytest.mark.usefixtures("torch_one_thread")


# --- independent transcription of the reference (numpy, float64) --------------------------

def _normalize(a: np.ndarray) -> np.ndarray:
    """F.normalize(a) with its default dim=1, eps=1e-12."""
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-12)


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    """F.mse_loss: the mean over every element."""
    return float(np.mean((a - b) ** 2))


def ref_affinities(f_i: np.ndarray, f_t: np.ndarray) -> tuple[np.ndarray, ...]:
    """train.py:98-103 (S_I, S_T = 2cos - 1) and 112-113 (S = K(ALPHA S_I + (1-ALPHA) S_T))."""
    fi, ft = _normalize(f_i), _normalize(f_t)
    s_i = fi @ fi.T * 2 - 1
    s_t = ft @ ft.T * 2 - 1
    return K * (ALPHA * s_i + (1 - ALPHA) * s_t), s_i, s_t


def ref_loss(code_i, code_t, decoded_i, decoded_t, f_i, f_t) -> dict[str, float]:
    """train.py:105-128; decoded_i = TxtNet's decode (image features from text codes),
    decoded_t = ImgNet's decode (text features from image codes), models.py:15,42."""
    s, s_i, s_t = ref_affinities(f_i, f_t)
    b_i, b_t = _normalize(code_i), _normalize(code_t)
    bi_bi, bt_bt, bi_bt = b_i @ b_i.T, b_t @ b_t.T, b_i @ b_t.T
    loss1, loss2, loss3 = _mse(bt_bt, s), _mse(bi_bt, s), _mse(bi_bi, s)
    loss31, loss32 = _mse(bi_bi, K * s_i), _mse(bt_bt, K * s_t)
    loss4 = _mse(np.diagonal(bi_bt), K * np.ones(len(code_i)))
    loss5 = _mse(decoded_i, _normalize(f_i))
    loss6 = _mse(decoded_t, _normalize(f_t))
    loss7 = _mse(bi_bt, bi_bt.T)
    total = (loss1 + loss2 + loss3 + loss4 + loss5 + loss6 + 2 * loss7
             + ETA * (loss31 + loss32))
    return {"loss": total, "joint": loss1 + loss2 + loss3, "modality": loss31 + loss32,
            "diagonal": loss4, "reconstruction": loss5 + loss6, "symmetry": loss7}


def _inputs(m: int = 7, dx: int = 6, dy: int = 5, bits: int = 4) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(11)
    return {"f_i": np.abs(rng.normal(size=(m, dx))), "f_t": rng.normal(size=(m, dy)),
            "code_i": np.tanh(2 * rng.normal(size=(m, bits))),
            "code_t": np.tanh(2 * rng.normal(size=(m, bits))),
            "decoded_i": rng.normal(size=(m, dx)), "decoded_t": rng.normal(size=(m, dy))}


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(a)


# --- golden values -------------------------------------------------------------------------

def test_affinities_match_the_reference() -> None:
    d = _inputs()
    s, s_i, s_t = dsah_affinities(_t(d["f_i"]), _t(d["f_t"]), ALPHA, K)
    for got, want in zip((s, s_i, s_t), ref_affinities(d["f_i"], d["f_t"]), strict=True):
        assert got.dtype == torch.float64
        np.testing.assert_allclose(got.numpy(), want, atol=TOL, rtol=0)


def test_loss_matches_the_reference() -> None:
    d = _inputs()
    s, s_i, s_t = dsah_affinities(_t(d["f_i"]), _t(d["f_t"]), ALPHA, K)
    got = dsah_terms(_t(d["code_i"]), _t(d["code_t"]), _t(d["decoded_i"]), _t(d["decoded_t"]),
                     _t(d["f_i"]), _t(d["f_t"]), s, s_i, s_t, K, ETA,
                     diagonal=SPEC.defaults["diagonal"],
                     reconstruction=SPEC.defaults["reconstruction"],
                     symmetry=SPEC.defaults["symmetry"])
    want = ref_loss(**d)
    for name, value in want.items():
        assert abs(float(got[name]) - value) < TOL, name


def test_defaults_are_the_reference_settings() -> None:
    p = SPEC.defaults
    # settings.py:18-21 (NUM_EPOCH, LR_IMG, LR_TXT), 42-49; train.py:46 (drop_last), 64-72
    # (SGD, Nesterov), 127 (weights); models.py:28-29 (sign into the decoders), 39 (4096)
    assert (p["epochs"], p["lr_image"], p["lr_text"]) == (200, 0.005, 0.005)
    assert (p["alpha"], p["k"], p["eta"]) == (ALPHA, K, ETA)
    assert (p["batch_size"], p["momentum"], p["weight_decay"]) == (32, 0.7, 5e-4)
    assert p["optimizer"] == "sgd" and p["nesterov"] is True and p["drop_last"] is True
    assert (p["diagonal"], p["reconstruction"], p["symmetry"]) == (1.0, 1.0, 2.0)
    assert p["decoder_input"] == "sign" and p["hidden"] == 4096
    assert p["code_scale"] == "sqrt_epoch" and p["image_dropout"] == 0.5
    assert p["selection"] == "validation" and p["val_every"] == 1


def test_optimiser_is_nesterov_sgd_as_the_reference() -> None:
    """Two steps of the plugin's optimiser against torch.optim.SGD(nesterov=True)'s update
    (train.py:64-72), written out: v = mu v + g + wd w; w -= lr (g + wd w + mu v)."""
    w0 = np.array([0.3, -1.2, 0.7])
    w = torch.nn.Parameter(_t(w0.copy()))
    opt = make_optimizer("sgd", [{"params": [w], "lr": 0.005}], momentum=0.7,
                         weight_decay=5e-4, nesterov=True)
    assert opt.param_groups[0]["nesterov"] is True
    ref, buf = w0.copy(), np.zeros(3)
    for step in range(2):
        opt.zero_grad()
        (w ** 3).sum().backward()
        g = 3 * ref ** 2 + 5e-4 * ref
        buf = g if step == 0 else 0.7 * buf + g
        ref = ref - 0.005 * (g + 0.7 * buf)
        opt.step()
    np.testing.assert_allclose(w.detach().numpy(), ref, atol=TOL, rtol=0)


@pytest.mark.parametrize("mode", ["sign", "relaxed"])
def test_decoder_gradient_reaches_the_codes_only_when_relaxed(mode: str) -> None:
    """models.py:28-29, 51-52: the decoders read sign(code), whose gradient is zero, so the
    reconstruction term trains the decoders but never the hash nets."""
    torch.manual_seed(0)
    d = _inputs(bits=4)
    x, y = _t(d["f_i"]), _t(d["f_t"])
    net_x = torch.nn.Linear(x.shape[1], 4).double()
    net_y = torch.nn.Linear(y.shape[1], 4).double()
    dec = build_decoders(x.shape[1], y.shape[1], 4).double()
    hx, hy = torch.tanh(net_x(x)), torch.tanh(net_y(y))
    dec_image, dec_text = decode(dec, hx, hy, mode)
    s, s_i, s_t = dsah_affinities(x, y, ALPHA, K)
    terms = dsah_terms(hx, hy, dec_image, dec_text, x, y, s, s_i, s_t, K, ETA)
    terms["reconstruction"].backward()
    net_grad = sum(float(q.grad.abs().sum()) for q in (*net_x.parameters(),
                                                       *net_y.parameters()))
    dec_grad = sum(float(q.grad.abs().sum()) for q in dec.parameters())
    assert dec_grad > 0
    assert (net_grad == 0) if mode == "sign" else (net_grad > 1e-6)
    # the decoders' outputs: one Linear layer on sign(code) or on the code itself
    cx = torch.sign(hx) if mode == "sign" else hx
    want = cx.detach().numpy() @ dec["text_from_image"].weight.detach().numpy().T
    want += dec["text_from_image"].bias.detach().numpy()
    np.testing.assert_allclose(dec_text.detach().numpy(), want, atol=TOL, rtol=0)


def _fit_codes(tmp_path: Path, **params) -> tuple[np.ndarray, np.ndarray]:
    fast = {"epochs": 2, "hidden": 16, "selection": "final"}
    m = registry.methods.get("dsah").load()([8], {**fast, **params}, 0, "cpu")
    data = toy_pairs(64)
    m.fit(data, fit_context(tmp_path))
    return m.encode(data, "image")[8], m.encode(data, "text")[8]


def test_sign_decoders_leave_the_codes_alone_in_training(tmp_path: Path) -> None:
    """With decoder_input='sign' the codes are those of a run without the reconstruction term;
    with 'relaxed' the term shapes them."""
    base = _fit_codes(tmp_path, reconstruction=0.0)
    same = _fit_codes(tmp_path, reconstruction=1.0)
    assert all(np.array_equal(a, b) for a, b in zip(base, same, strict=True))
    r0 = _fit_codes(tmp_path, reconstruction=0.0, decoder_input="relaxed")
    r1 = _fit_codes(tmp_path, reconstruction=50.0, decoder_input="relaxed")
    assert not all(np.array_equal(a, b) for a, b in zip(r0, r1, strict=True))
