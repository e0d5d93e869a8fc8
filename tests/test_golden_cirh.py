"""Golden values for CIRH: the plugin's affinity, neighbour mixing and stage-A / stage-B losses
against an independent numpy transcription of the reference, XizeWu/CIRH@0f6439d3cad0
(``my_opt.py``), on fixed tiny seeded float64 inputs. Tolerance 1e-5."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bench.methods.cirh.method import CIRH, MIX_RANKS, cirh_affinity, neighbour_mix, stage_a_loss

TOL = 1e-5


def _unit(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def _mse(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean((a - b) ** 2))


def _gram(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray:
    """F.normalize(a).mm(F.normalize(b).t()) (my_opt.py:136-138, 212-218)."""
    return _unit(a) @ _unit(a if b is None else b).T


def ref_similarity(img: np.ndarray, txt: np.ndarray, k: int, a1: float, a2: float) -> np.ndarray:
    """PCIRH.cal_similarity, my_opt.py:189-208 (K = ``k`` smallest entries per row zeroed)."""
    s1 = a1 * _gram(img) + (1 - a1) * _gram(txt)  # :194-199
    order = np.argsort(s1, axis=1, kind="stable")  # S1.sort() ascending, :201
    for i in range(len(s1)):  # :202
        s1[i, order[i, :k]] = 0.0
    s2 = 2.0 / (1 + np.exp(-s1)) - 1 + np.eye(len(s1))  # :204
    s2 = (s2 + s2.T) / 2  # :205
    return a2 * s1 + (1 - a2) * s2  # :206


def ref_mix(x: np.ndarray, s: np.ndarray, shift: int) -> np.ndarray:
    """NN_select + the 0.7 / 0.2 / 0.1 mixing, my_opt.py:62-68 and 181-187.

    ind1 = n1[:, -4], ind2 = n1[:, -3] of the ascending sort, imgN = 0.7·x + 0.2·x[ind2] +
    0.1·x[ind1]. ``shift`` = 1 moves both one rank closer (the plugin's alternative,
    ``mix_neighbours="nearest"``: the 1st and 2nd nearest other items); 0 is the reference.
    """
    n1 = np.argsort(s, axis=1)
    ind1, ind2 = n1[:, -4 + shift], n1[:, -3 + shift]
    return 0.7 * x + 0.2 * x[ind2] + 0.1 * x[ind1]


def ref_stage_a(hi, ht, h, b, dei, det, img_n, txt_n, s, lam1, lam2) -> dict[str, float]:
    """loss_CCR (my_opt.py:77) + loss_method (my_opt.py:210-224)."""
    ccr = _mse(dei, img_n) + _mse(det, txt_n)
    acr = _mse(s, _gram(hi)) + _mse(s, _gram(ht)) + _mse(s, _gram(h))
    dis = _mse(h, b)
    return {"loss_a": lam1 * ccr + lam2 * acr + dis, "reconstruction": ccr, "affinity": acr,
            "quantisation": dis}


def ref_stage_b(img, txt, b, record_index, s_cmm, wi, bi, wt, bt, beta, bs,
                positional: bool) -> float:
    """train_Hashfunc, my_opt.py:104-141: the chunks of the epoch's (shuffled) order, each with
    loss_f1 + beta·loss_f2; the reference's S block is S_cmm[kk·bs:(kk+1)·bs] by position
    (:120-126); ``positional=False`` is the plugin's alternative (the items' own block). Returns
    the chunk losses averaged with the chunk sizes as weights."""
    img, txt = img[record_index], txt[record_index]  # :106-107
    n = len(record_index)
    total = 0.0
    for kk in range(int(np.ceil(n / bs))):  # :112-115
        sl = slice(kk * bs, (kk + 1) * bs)
        rows = np.arange(n)[sl] if positional else np.asarray(record_index)[sl]
        s_batch = s_cmm[np.ix_(rows, rows)]
        hbi = np.tanh(img[sl] @ wi.T + bi)  # Img_Net / Txt_Net without dropout
        hbt = np.tanh(txt[sl] @ wt.T + bt)
        f1 = _mse(hbi, b[sl]) + _mse(hbt, b[sl]) + _mse(hbi, hbt)  # :134
        f2 = (_mse(_gram(hbi, hbt), s_batch) + _mse(_gram(hbi), s_batch)
              + _mse(_gram(hbt), s_batch))  # :136-139
        total += (f1 + beta * f2) * len(rows)  # :141
    return total / n


def _data(n: int = 12, dx: int = 6, dy: int = 5, seed: int = 0):
    rng = np.random.default_rng(seed)
    return _unit(rng.normal(size=(n, dx))), _unit(rng.normal(size=(n, dy)))


@pytest.mark.parametrize("k", [0, 3, 6])
def test_affinity_matches_reference(k: int) -> None:
    img, txt = _data(n=10)
    got = cirh_affinity(torch.from_numpy(img), torch.from_numpy(txt), 0.6, 0.6, k / 10)
    np.testing.assert_allclose(got.numpy(), ref_similarity(img, txt, k, 0.6, 0.6), atol=TOL)
    got = cirh_affinity(torch.from_numpy(img), torch.from_numpy(txt), 0.3, 0.8, k / 10)
    np.testing.assert_allclose(got.numpy(), ref_similarity(img, txt, k, 0.3, 0.8), atol=TOL)


@pytest.mark.parametrize("option,shift", [("reference", 0), ("nearest", 1)])
def test_neighbour_mix_matches_reference(option: str, shift: int) -> None:
    img, txt = _data(n=12)
    s = ref_similarity(img, txt, 0, 0.6, 0.6)[:8, :8]  # a batch block, no ties
    for feats in (img[:8], txt[:8]):
        got = neighbour_mix(torch.from_numpy(feats), torch.from_numpy(s), [0.7, 0.2, 0.1],
                            MIX_RANKS[option])
        np.testing.assert_allclose(got.numpy(), ref_mix(feats, s, shift), atol=TOL)


def test_stage_a_loss_matches_reference() -> None:
    rng = np.random.default_rng(1)
    m, bits, dx, dy = 7, 5, 6, 4
    hi, ht = rng.normal(size=(m, bits)), rng.normal(size=(m, bits))
    h = np.tanh(rng.normal(size=(m, bits)))
    b = np.sign(h)
    dei, det = rng.normal(size=(m, dx)), rng.normal(size=(m, dy))
    img_n, txt_n = rng.normal(size=(m, dx)), rng.normal(size=(m, dy))
    s = ref_similarity(rng.normal(size=(m, 3)), rng.normal(size=(m, 3)), 2, 0.6, 0.6)
    t = {k: torch.from_numpy(v) for k, v in
         {"h_x": hi, "h_y": ht, "h": h, "b": b, "dec_x": dei, "dec_y": det}.items()}
    for lam1, lam2 in ((10.0, 1.0), (0.5, 3.0)):
        got = stage_a_loss(t, torch.from_numpy(img_n), torch.from_numpy(txt_n),
                           torch.from_numpy(s), lam1, lam2)
        want = ref_stage_a(hi, ht, h, b, dei, det, img_n, txt_n, s, lam1, lam2)
        for name, value in want.items():
            assert abs(float(got[name]) - value) < TOL, name


@pytest.mark.parametrize("option", ["reference", "aligned"])
def test_stage_b_loss_and_affinity_block_match_reference(option: str) -> None:
    img, txt = _data(n=10, dx=6, dy=5, seed=2)
    s_cmm = ref_similarity(img, txt, 4, 0.6, 0.6)
    gen = torch.Generator().manual_seed(3)
    order = torch.randperm(10, generator=gen)
    b = torch.where(torch.randn(10, 4, generator=gen, dtype=torch.float64) >= 0, 1.0, -1.0)
    torch.manual_seed(4)
    nets = {"image": nn.Sequential(nn.Linear(6, 4), nn.Tanh()).double(),
            "text": nn.Sequential(nn.Linear(5, 4), nn.Tanh()).double()}
    wi, bi = (p.detach().numpy().copy() for p in nets["image"][0].parameters())
    wt, bt = (p.detach().numpy().copy() for p in nets["text"][0].parameters())
    opt = torch.optim.SGD([q for net in nets.values() for q in net.parameters()], lr=0.0)
    log = CIRH._stage_b(nets, opt, torch.from_numpy(img), torch.from_numpy(txt), b, order,
                        torch.from_numpy(s_cmm), 0.5, 4, option == "reference")
    want = ref_stage_b(img, txt, b.numpy(), order.numpy(), s_cmm, wi, bi, wt, bt, 0.5, 4,
                       option == "reference")
    assert abs(log.means()["loss_b"] - want) < TOL
    other = ref_stage_b(img, txt, b.numpy(), order.numpy(), s_cmm, wi, bi, wt, bt, 0.5, 4,
                        option != "reference")
    assert abs(other - want) > 1e-4  # the two options differ on these inputs
