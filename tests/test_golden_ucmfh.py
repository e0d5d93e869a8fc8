"""Golden values for UCMFH: the plugin's training loss (its contrastive terms, as computed by
``ucmfh_loss`` on the fusion halves and the codes) against an independent numpy transcription
of the reference, XinyuXia97/UCMFH@116f015d512 (``metric.py``, ``ICMR.py``), on fixed tiny
seeded float64 inputs. Tolerance 1e-5."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.methods.ucmfh.method import contrastive_loss, ucmfh_loss

TOL = 1e-5


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def ref_contrastive(emb_i: np.ndarray, emb_j: np.ndarray, temperature: float = 0.5,
                    normalize: bool = True) -> float:
    """ContrastiveLoss.forward, metric.py:11-23 (batch_size = len(emb_i)).

    ``normalize=False`` is the plugin's alternative (``normalize_halves=False``): lines 12-13
    skipped and the cosines of line 15 replaced by raw dot products."""
    bs = len(emb_i)
    negatives_mask = 1.0 - np.eye(2 * bs)  # :10
    z_i, z_j = (_unit(emb_i), _unit(emb_j)) if normalize else (emb_i, emb_j)  # :12-13
    reps = np.concatenate([z_i, z_j])  # :14
    sim = _unit(reps) @ _unit(reps).T if normalize else reps @ reps.T  # cosine_similarity, :15
    sim_ij, sim_ji = np.diag(sim, bs), np.diag(sim, -bs)  # :16-17
    positives = np.concatenate([sim_ij, sim_ji])  # :18
    nominator = np.exp(positives / temperature)  # :19
    denominator = negatives_mask * np.exp(sim / temperature)  # :20
    loss_partial = -np.log(nominator / denominator.sum(1))  # :21
    return float(loss_partial.sum() / (2 * bs))  # :22


def _halves(m: int, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """What FuseTransEncoder returns (model.py:15-20): halves of ℓ2-normalised 2d rows."""
    out = _unit(np.random.default_rng(seed).normal(size=(m, 2 * d)))
    return out[:, :d], out[:, d:]


@pytest.mark.parametrize("tau", [0.5, 0.2])
def test_contrastive_loss_matches_reference(tau: float) -> None:
    fx, fy = _halves(6, 5, seed=0)
    got = contrastive_loss(torch.from_numpy(fx), torch.from_numpy(fy), tau)
    assert abs(float(got) - ref_contrastive(fx, fy, tau)) < TOL
    raw = contrastive_loss(torch.from_numpy(fx), torch.from_numpy(fy), tau, normalize=False)
    want_raw = ref_contrastive(fx, fy, tau, normalize=False)
    assert abs(float(raw) - want_raw) < TOL
    assert abs(want_raw - ref_contrastive(fx, fy, tau)) > 1e-3  # the option matters here


def test_training_loss_matches_reference() -> None:
    """loss = loss1 + 0.5·loss2 (ICMR.py:185-192); loss1 alone in trainfusion (ICMR.py:162-174).

    The codes are ImageMlp / TextMlp outputs, ℓ2-normalised (model.py:38-41, 59-62)."""
    fx, fy = _halves(8, 4, seed=1)
    rng = np.random.default_rng(2)
    cx, cy = _unit(np.tanh(rng.normal(size=(8, 3)))), _unit(np.tanh(rng.normal(size=(8, 3))))
    t = [torch.from_numpy(v) for v in (fx, fy, cx, cy)]
    loss1, loss2 = ref_contrastive(fx, fy), ref_contrastive(cx, cy)
    got = ucmfh_loss(*t, 0.5, 0.5)
    assert abs(float(got["loss"]) - (loss1 + loss2 * 0.5)) < TOL
    assert abs(float(got["fusion"]) - loss1) < TOL and abs(float(got["hash"]) - loss2) < TOL
    got = ucmfh_loss(t[0], t[1], None, None, 0.5, 0.5)
    assert abs(float(got["loss"]) - loss1) < TOL and "hash" not in got
