"""Golden values for UCCH: the plugin's memory bank (start, candidates, momentum update), its
contrastive hashing loss (warm-up and memory branches) and its cross-modal ranking loss, on
fixed seeded float64 inputs, against an independent numpy transcription of the reference
penghu-cs/UCCH@0c20e62b9987 (NCE/NCEAverage.py:17-88, NCE/NCECriterion.py:9-11,
src/utils.py:59-69, UCCH.py:156-161)."""

from __future__ import annotations

import math

import numpy as np
import torch

from bench import registry
from bench.methods.ucch.method import (
    MomentumCodeBank,
    batch_candidates,
    contrastive_hashing_loss,
    cross_modal_ranking_loss,
)

TOL = 1e-5
T, MARGIN, SHIFT, ALPHA = 0.9, 0.2, 0.1, 0.7  # README.md:16 command, utils/config.py:30


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _codes(m: int, bits: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Network outputs: tanh then l2 normalisation (nets/ImageNet.py:31-36)."""
    rng = np.random.default_rng(seed)
    return (_unit(np.tanh(rng.normal(size=(m, bits)))),
            _unit(np.tanh(rng.normal(size=(m, bits)))))


def reference_nce_softmax(weight: np.ndarray, img: np.ndarray, ab: np.ndarray) -> float:
    """NCEAverage.py:54-61 (scores of sign(weight) / (T·sqrt(L))) and NCECriterion.py:9-11
    (-log softmax of candidate 0, batch mean), for both modalities (UCCH.py:157-159)."""
    weight = np.sign(weight)
    t = T * math.sqrt(img.shape[1])
    total = 0.0
    for h in (img, ab):  # the reference's l (image) and ab (text)
        out = np.einsum("bkd,bd->bk", weight, h) / t
        p = np.exp(out - out.max(1, keepdims=True))
        p = p / p.sum(1, keepdims=True)
        total += float(-np.log(p[:, 0]).mean())
    return total


def reference_ranking(im: np.ndarray, s: np.ndarray, margin: float, shift: float) -> float:
    """src/utils.py:59-69, ContrastiveLoss.forward with tau = 1."""
    scores = im @ s.T
    diagonal = np.diag(scores)[:, None]
    d1, d2 = np.broadcast_to(diagonal, scores.shape), np.broadcast_to(diagonal.T, scores.shape)
    mask_s = (scores >= d1 - margin).astype(float)
    cost_s = scores * mask_s + (1 - mask_s) * (scores - shift)
    mask_im = (scores >= d2 - margin).astype(float)
    cost_im = scores * mask_im + (1 - mask_im) * (scores - shift)
    return float((-np.diag(cost_s) + np.log(np.exp(cost_s).sum(1)) + margin).mean()
                 + (-np.diag(cost_im) + np.log(np.exp(cost_im).sum(0)) + margin).mean())


def test_memory_bank_starts_as_the_reference() -> None:
    n, bits = 500, 16
    bank = MomentumCodeBank(n, bits, torch.Generator().manual_seed(7))
    # NCEAverage.py:18-20: rnd = randn·2σ − σ with σ = 1/sqrt(L/3); memory = normalise(sign)
    rnd = torch.randn(n, bits, generator=torch.Generator().manual_seed(7)).double().numpy()
    stdv = 1.0 / math.sqrt(bits / 3)
    expect = _unit(np.sign(rnd * 2 * stdv - stdv))
    np.testing.assert_allclose(bank.memory.double().numpy(), expect, atol=TOL, rtol=0)
    share = float((bank.memory > 0).double().mean())
    assert abs(share - 0.3085) < 0.02  # P(z > 1/2): the start is biased towards -1
    balanced = MomentumCodeBank(n, bits, torch.Generator().manual_seed(7), init="balanced")
    assert abs(float((balanced.memory > 0).double().mean()) - 0.5) < 0.02


def test_contrastive_loss_from_the_memory_matches_the_reference() -> None:
    n, bits, m, k = 40, 8, 6, 9
    rng = np.random.default_rng(1)
    memory = _unit(rng.normal(size=(n, bits)))  # distinct rows: a candidate names its row
    bank = MomentumCodeBank(n, bits, torch.Generator().manual_seed(0))
    bank.memory = torch.from_numpy(memory.copy())
    y = np.array([3, 17, 0, 25, 8, 39])
    cands = bank.candidates(torch.from_numpy(y), k, torch.Generator().manual_seed(2)).numpy()
    assert cands.shape == (m, k + 1, bits)
    signs = np.sign(memory)
    rows = np.array([[int(np.flatnonzero((signs == c).all(1))[0]) for c in cb] for cb in cands])
    assert np.array_equal(rows[:, 0], y)  # NCEAverage.py:43-44: the pair's own row first
    hx, hy = _codes(m, bits, 4)
    expect = reference_nce_softmax(memory[rows], hx, hy)  # NCEAverage.py:52
    got = contrastive_hashing_loss(torch.from_numpy(cands), torch.from_numpy(hx),
                                   torch.from_numpy(hy), T).item()
    assert abs(got - expect) < TOL, (got, expect)


def test_warmup_contrastive_loss_matches_the_reference() -> None:
    m, bits = 7, 8
    hx, hy = _codes(m, bits, 5)
    # NCEAverage.py:46-50: momentum <= 0, candidates = the batch's (l + ab) / 2, own pair first
    weight = (hx + hy) / 2
    inx = np.stack([np.arange(m)] * m)
    inx = np.concatenate([np.arange(m)[:, None], inx[np.eye(m) == 0].reshape(m, -1)], axis=1)
    weight = weight[inx.reshape(-1)].reshape(m, m, -1)
    expect = reference_nce_softmax(weight, hx, hy)
    cands = batch_candidates(torch.from_numpy(hx), torch.from_numpy(hy))
    got = contrastive_hashing_loss(cands, torch.from_numpy(hx), torch.from_numpy(hy), T).item()
    assert abs(got - expect) < TOL, (got, expect)


def test_memory_update_matches_the_reference() -> None:
    n, bits = 12, 8
    rng = np.random.default_rng(6)
    memory = _unit(np.sign(rng.normal(size=(n, bits)) - 0.5))
    y = np.array([4, 0, 9])
    hx, hy = _codes(3, bits, 8)
    for momentum in (0.4, 0.0):  # the warm-up epoch runs with momentum 0 (NCEAverage.py:36)
        # NCEAverage.py:81-88
        expect = memory.copy()
        l_ = _unit((hx + hy) / 2)
        expect[y] = _unit(memory[y] * momentum + l_ * (1 - momentum))
        bank = MomentumCodeBank(n, bits, torch.Generator().manual_seed(0))
        bank.memory = torch.from_numpy(memory.copy())
        bank.update(torch.from_numpy(y), torch.from_numpy(hx), torch.from_numpy(hy), momentum)
        np.testing.assert_allclose(bank.memory.numpy(), expect, atol=TOL, rtol=0)


def test_cross_modal_ranking_loss_matches_the_reference() -> None:
    hx, hy = _codes(10, 16, 9)
    hy[:5] = _unit(hx[:5] + 0.3 * hy[:5])  # some positives close: both masks take both values
    for margin, shift in ((MARGIN, SHIFT), (0.5, 1.0), (0.0, 0.0)):
        expect = reference_ranking(hx, hy, margin, shift)
        got = cross_modal_ranking_loss(torch.from_numpy(hx), torch.from_numpy(hy),
                                       margin, shift).item()
        assert abs(got - expect) < TOL, (margin, shift, got, expect)


def test_defaults_are_the_reference_command() -> None:
    d = registry.methods.get("ucch").defaults
    # README.md:16 (features), utils/config.py:16-33 for the rest
    assert (d["alpha"], d["margin"], d["shift"], d["lr"], d["epochs"]) == (ALPHA, MARGIN, SHIFT,
                                                                           1e-4, 20)
    assert (d["batch_size"], d["image_layers"], d["text_layers"]) == (256, 3, 2)
    assert (d["negatives"], d["temperature"], d["memory_momentum"]) == (4096, T, 0.4)
    assert (d["warmup_epochs"], d["weight_decay"], d["clip_grad"]) == (1, 1e-6, 1.0)
    assert (d["memory_init"], d["lr_milestones"]) == ("reference", [30, 60, 90, 120])
