"""The deep unsupervised baselines (ucch, djsrh, jdsh, dgcpn, dsah, cirh, cagan, ucmfh) and the
shared harness pieces in bench/deep: contracts, determinism, per-item encoding, learning on a
tiny problem, and each method's defining ingredient."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from _toy import fit_context, toy_pairs

from bench import registry
from bench.plugins import PairedData

METHODS = ("ucch", "djsrh", "jdsh", "dgcpn", "dsah", "cirh", "cagan", "ucmfh")
#: Tiny networks and few epochs (the reference schedules are far longer).
FAST: dict[str, dict[str, Any]] = {
    "ucch": {"epochs": 4, "hidden": 32, "negatives": 64, "batch_size": 32},
    "djsrh": {"epochs": 4, "hidden": 32},
    "jdsh": {"epochs": 4, "hidden": 32, "fit_batches": 4},
    "dgcpn": {"epochs": 4, "hidden": 32, "selection": "final"},
    "dsah": {"epochs": 4, "hidden": 32, "selection": "final"},
    "cirh": {"epochs": 4, "fusion_width": 16, "image_hidden": 32, "batch_size": 32,
             "selection": "final"},
    "cagan": {"epochs": 4, "hidden": 32, "gcn_hidden": 16, "gcn_mid": 16},
    "ucmfh": {"epochs": 4, "head_hidden": 32, "feedforward": 32, "batch_size": 32},
}
#: Settings under which the total loss must fall clearly on the toy problem.
LEARN: dict[str, dict[str, Any]] = {
    "ucch": {"epochs": 30, "lr": 1e-3, "selection": "final"},
    "djsrh": {"epochs": 30, "lr_image": 0.05, "lr_text": 0.05, "code_scale": "none"},
    "jdsh": {"epochs": 30, "code_scale": "none"},
    "dgcpn": {"epochs": 30, "lr_image": 0.05, "lr_text": 0.05},
    "dsah": {"epochs": 30, "lr_image": 0.05, "lr_text": 0.05, "code_scale": "none"},
    "cirh": {"epochs": 30},
    "cagan": {"epochs": 30, "code_scale": "none"},
    "ucmfh": {"epochs": 30, "head_lr_milestones": []},
}


pytestmark = pytest.mark.usefixtures("torch_one_thread")


def _method(name: str, bits: int = 8, seed: int = 0, **params: Any):
    return registry.methods.get(name).load()([bits], {**FAST[name], **params}, seed, "cpu")


def _codes(method, data: PairedData) -> tuple[np.ndarray, np.ndarray]:
    b = method.bits[0]
    return method.encode(data, "image")[b], method.encode(data, "text")[b]


class LabelSpy(PairedData):
    """PairedData whose labels must never be read."""

    def __getattribute__(self, name: str) -> Any:
        if name == "labels":
            raise AssertionError("an unsupervised method read the labels")
        return super().__getattribute__(name)


def _spy(data: PairedData) -> LabelSpy:
    return LabelSpy(index=data.index, image_features=data.image_features,
                    text_features=data.text_features)


# --- contracts -----------------------------------------------------------------------------

def test_specs_are_light_unsupervised_and_complete() -> None:
    code = ("import sys; " + "; ".join(f"import bench.methods.{m}" for m in METHODS)
            + "; assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    for name in METHODS:
        spec = registry.methods.get(name)
        assert spec.supervision == "unsupervised" and "labels" not in spec.inputs
        assert spec.search_space and set(spec.search_space) <= set(spec.defaults)
        assert {"paper", "code"} <= set(spec.reference)
        assert not spec.multi_bit


@pytest.mark.parametrize("name", METHODS)
def test_shapes_codes_determinism_and_no_labels(tmp_path: Path, name: str) -> None:
    data = toy_pairs(64)
    runs = []
    for seed in (3, 3, 4):
        m = _method(name, seed=seed)
        m.fit(_spy(data), fit_context(tmp_path))
        runs.append(_codes(m, _spy(data)))
    ci, ct = runs[0]
    assert ci.dtype == np.int8 and ci.shape == ct.shape == (len(data), 8)
    assert np.isin(ci, (-1, 1)).all() and np.isin(ct, (-1, 1)).all()
    assert all(np.array_equal(a, b) for a, b in zip(runs[0], runs[1], strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(runs[0], runs[2], strict=True))


@pytest.mark.parametrize("name", METHODS)
def test_codes_never_depend_on_batch_mates(tmp_path: Path, name: str) -> None:
    """Encoding an item alone, in another order, in other company or in small chunks gives the
    same code (batch statistics, memory banks and attention stay out of encoding)."""
    data = toy_pairs(64)
    m = _method(name)
    m.fit(data, fit_context(tmp_path))
    ci, ct = _codes(m, data)
    rng = np.random.default_rng(1)
    order = rng.permutation(len(data))
    pi, pt = _codes(m, data.subset(order))
    assert np.array_equal(pi, ci[order]) and np.array_equal(pt, ct[order])
    m.chunk = 5
    for i in (0, 17):
        si, st = _codes(m, data.subset(np.array([i])))
        assert np.array_equal(si[0], ci[i]) and np.array_equal(st[0], ct[i])
    other = toy_pairs(64, seed=9)
    mixed = PairedData(index=np.arange(8),
                       image_features=np.vstack([data.image_features[:4],
                                                 other.image_features[:4]]),
                       text_features=np.vstack([data.text_features[:4], other.text_features[:4]]))
    mi, mt = _codes(m, mixed)
    assert np.array_equal(mi[:4], ci[:4]) and np.array_equal(mt[:4], ct[:4])


@pytest.mark.parametrize("name", METHODS)
def test_losses_finite_and_decreasing_on_a_tiny_problem(tmp_path: Path, name: str) -> None:
    data = toy_pairs(n=64)
    reports: list = []
    m = _method(name, bits=16, report_every=1, **LEARN[name])
    m.fit(data, fit_context(tmp_path, reports))
    assert len(reports) >= 10
    assert all(np.isfinite(v) for _, r in reports for v in r.values())
    key = "loss_a" if name == "cirh" else "loss"
    first, last = reports[0][1][key], min(r[key] for _, r in reports[-3:])
    assert last < first - 0.05 * abs(first)
    ci, ct = _codes(m, data)  # the paired text is closer than a random one
    ham = (ci.shape[1] - ci.astype(int) @ ct.T.astype(int)) / 2
    assert np.diag(ham).mean() < ham.mean()


def test_validation_selection_uses_ctx_validate(tmp_path: Path) -> None:
    scores = iter([0.1, 0.5, 0.2, 0.3])
    calls: list[int] = []

    def validate() -> float:
        calls.append(1)
        return next(scores)

    m = _method("ucch", epochs=4, selection="validation", val_every=1)
    m.fit(toy_pairs(64), fit_context(tmp_path, validate=validate))
    assert len(calls) == 4 and m.info[8]["selected_epoch"] == 2
    assert "validate" in m.selection_rule
    assert "no selection" in _method("djsrh").selection_rule


def test_bad_options_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="thresholds"):
        _method("jdsh", thresholds="guess").fit(toy_pairs(64), fit_context(tmp_path))
    with pytest.raises(ValueError, match="at least 4"):
        _method("djsrh").fit(toy_pairs(n=3), fit_context(tmp_path))
    with pytest.raises(ValueError, match="joint embedding space"):
        d = toy_pairs(64)
        bad = PairedData(index=d.index, image_features=d.image_features,
                         text_features=d.text_features[:, :5])
        _method("ucmfh").fit(bad, fit_context(tmp_path))


# --- defining ingredients ------------------------------------------------------------------

def test_ucch_momentum_memory_bank_and_ranking_loss(tmp_path: Path) -> None:
    from bench.methods.ucch.method import (
        MomentumCodeBank,
        cross_modal_ranking_loss,
    )

    gen = torch.Generator().manual_seed(0)
    bank = MomentumCodeBank(10, 8, gen)
    assert torch.allclose(bank.memory.norm(dim=1), torch.ones(10))
    assert torch.allclose(bank.memory.abs(), torch.full((10, 8), 8 ** -0.5))
    idx = torch.tensor([2, 5])
    cands = bank.candidates(idx, 6, gen)
    assert cands.shape == (2, 7, 8) and set(cands.unique().tolist()) == {-1.0, 1.0}
    assert torch.equal(cands[:, 0], torch.sign(bank.memory[idx]))
    before = bank.memory.clone()
    hx, hy = torch.randn(2, 8), torch.randn(2, 8)
    bank.update(idx, hx, hy, momentum=0.4)
    new = torch.nn.functional.normalize((hx + hy) / 2, dim=1)
    expect = torch.nn.functional.normalize(0.4 * before[idx] + 0.6 * new, dim=1)
    assert torch.allclose(bank.memory[idx], expect)
    assert torch.equal(bank.memory[[0, 1, 3]], before[[0, 1, 3]])
    # The ranking loss shifts only negatives outside the margin, which lowers their weight.
    a = torch.nn.functional.normalize(torch.randn(6, 8), dim=1)
    no_shift = cross_modal_ranking_loss(a, a, margin=0.2, shift=0.0)
    shifted = cross_modal_ranking_loss(a, a, margin=0.2, shift=1.0)
    assert shifted < no_shift
    # Trained UCCH keeps a bank (one unit row per pair) that moved away from its start.
    m = _method("ucch")
    data = toy_pairs(64)
    m.fit(data, fit_context(tmp_path))
    mem = m.banks[8].memory
    assert mem.shape == (len(data), 8) and torch.allclose(mem.norm(dim=1), torch.ones(len(data)))
    start = MomentumCodeBank(len(data), 8, torch.Generator().manual_seed(0)).memory
    assert not torch.allclose(mem, start)


def test_djsrh_joint_affinity_and_diffusion() -> None:
    from bench.methods.djsrh.method import diffuse, joint_affinity

    x, y = torch.randn(5, 4), torch.randn(5, 4)
    s = joint_affinity(x, y, beta=1.0)
    xn = torch.nn.functional.normalize(x, dim=1)
    assert torch.allclose(s, 2 * xn @ xn.T - 1, atol=1e-6)
    s = joint_affinity(x, y, beta=0.9)
    assert torch.allclose(diffuse(s, 0.0, 1.5), 1.5 * s)
    assert torch.allclose(diffuse(s, 1.0, 1.0), s @ s.T / 5, atol=1e-6)
    assert torch.allclose(diffuse(s, 0.4, 1.5), 1.5 * (0.6 * s + 0.4 * s @ s.T / 5), atol=1e-6)


def test_jdsh_distribution_based_weighting() -> None:
    from bench.methods.jdsh.method import dsdw, fit_distribution, joint_modal_similarity

    constants = (0.0, 0.1, 0.0, 0.1, -1.0, 1.0)  # thresholds -0.2 and +0.4
    s = torch.tensor([[-0.5, -0.1, 0.3, 0.8]])
    out = dsdw(s, constants, left_scales=2.0, right_scales=4.0, l1=0.1, l2=0.2)
    assert out[0, 0] < s[0, 0] and out[0, 3] > s[0, 3]  # tails amplified
    assert torch.equal(out[0, 1:3], s[0, 1:3])  # the bulk untouched
    assert torch.isclose(out[0, 0], (1 + 0.1 * torch.exp(-(s[0, 0] + 1.0))) * s[0, 0])
    loc, sl, loc2, sr, lo, hi = fit_distribution(torch.tensor([-1.0, -0.1, 0.0, 0.1, 2.0]))
    assert loc == loc2 == 0.0 and lo == -1.0 and hi == 2.0 and sl > 0 and sr > 0
    x = torch.randn(6, 4)
    j = joint_modal_similarity(x, x, 0.5, 0.1, 0.4)
    assert torch.allclose(j, j.T, atol=1e-6)


def test_dgcpn_neighbour_coherence_is_global(tmp_path: Path) -> None:
    from bench.methods.dgcpn.method import dgcpn_affinity

    # Two clusters of three; each row keeps its two nearest others (self and 3 smallest zeroed).
    x = torch.tensor([[1.0, 0.0, 0.0], [0.99, 0.1, 0.0], [0.98, 0.0, 0.1],
                      [0.0, 0.1, 1.0], [0.0, 0.0, 1.0], [0.1, 0.0, 0.99]])
    s = dgcpn_affinity(x, x, a1=0.5, a2=1.0, knn_number=3, scale=1.0)  # coherence only
    assert torch.allclose(s[0, 3:], torch.tensor(-1.0))  # disjoint neighbour sets
    assert (s[0, 1:3] > -0.9).all()  # a shared neighbour
    m = _method("dgcpn")
    data = toy_pairs(n=40)
    m.fit(data, fit_context(tmp_path))
    g = m.global_affinity
    assert g.shape == (40, 40) and m.knn_number == 40 - 16
    idx = torch.tensor([3, 7, 30])
    assert torch.equal(m.affinity(idx), g[idx][:, idx])


def test_dsah_cross_modal_reconstruction(tmp_path: Path) -> None:
    from bench.methods.dsah.method import build_decoders

    reports: list = []
    m = _method("dsah", report_every=1)
    m.fit(toy_pairs(64), fit_context(tmp_path, reports))
    assert {"joint", "modality", "reconstruction", "symmetry", "diagonal"} <= set(reports[0][1])
    dec = build_decoders(16, 12, 8)  # image features from (text) codes and vice versa
    assert dec["image_from_text"](torch.zeros(2, 8)).shape == (2, 16)
    assert dec["text_from_image"](torch.zeros(2, 8)).shape == (2, 12)


def test_cirh_affinity_neighbour_mixing_and_stage_b(tmp_path: Path) -> None:
    from bench.methods.cirh.method import cirh_affinity, neighbour_mix

    x = torch.randn(10, 4)
    s = cirh_affinity(x, x, a1=0.6, a2=1.0, zero_fraction=0.6)  # S1 part only
    assert ((s == 0).sum(1) >= 6).all()
    s = torch.tensor([[3.0, 2.0, 1.0, 0.5], [2.0, 3.0, 1.0, 0.5],
                      [1.0, 0.5, 3.0, 2.0], [0.5, 1.0, 2.0, 3.0]])
    v = torch.eye(4)
    mixed = neighbour_mix(v, s, [0.7, 0.2, 0.1], (2, 3))
    assert torch.allclose(mixed[0], torch.tensor([0.7, 0.0, 0.2, 0.1]))
    mixed = neighbour_mix(v, s, [0.7, 0.2, 0.1], (1, 2))
    assert torch.allclose(mixed[0], torch.tensor([0.7, 0.2, 0.1, 0.0]))
    data = toy_pairs(64)
    sims = []
    for mode in ("reference", "aligned"):  # the reference takes S by position, not by item
        reports: list = []
        _method("cirh", stage_b_affinity=mode, report_every=1).fit(data,
                                                                     fit_context(tmp_path, reports))
        sims.append([r["similarity"] for _, r in reports])
    assert sims[0] != sims[1]


def test_cagan_gcn_branch_mixes_the_batch_over_s_plus_learned_w() -> None:
    from bench.methods.cagan.method import GCNHash

    torch.manual_seed(0)  # weights and inputs fixed: the assertions never depend on a draw
    g = GCNHash(6, (4, 4), 8, batch_size=5, gamma=0.45)
    assert g.weight.shape == (5, 5) and g.weight.requires_grad
    h = torch.randn(5, 6, requires_grad=True)
    codes = g(h, torch.zeros(5, 5))  # the learned W alone connects the items
    assert codes.shape == (5, 8) and codes.abs().max() < 1
    codes[4].sum().backward()
    assert h.grad[:4].abs().sum() > 0 and g.weight.grad.abs().sum() > 0
    assert g(h[:3], torch.zeros(3, 3)).shape == (3, 8)  # a smaller batch uses W's corner


def test_ucmfh_fusion_input_and_training_cap(tmp_path: Path) -> None:
    data = toy_pairs(64)
    changed = PairedData(index=data.index, image_features=data.image_features,
                         text_features=data.text_features[::-1].copy())
    for mode, reads_text in (("own_gap", False), ("paired", True)):
        m = _method("ucmfh", fusion_input=mode, max_train=40)
        m.fit(data, fit_context(tmp_path))
        assert m.train_rows_used is not None and len(m.train_rows_used) == 40
        same = np.array_equal(m.encode(data, "image")[8], m.encode(changed, "image")[8])
        assert same != reads_text  # the reference's paired token reads the item's text


# --- the harness end to end ----------------------------------------------------------------

def test_bench_run_with_the_deep_baselines(tmp_path: Path) -> None:
    import pandas as pd

    from bench.cli import main

    methods = list(METHODS)  # in-process trials (--no-ray): Ray itself is tested elsewhere
    sets = [f"{m}.{k}={v}" for m in methods for k, v in FAST[m].items()]
    rc = main(["run", "--methods", ",".join(methods), "--budgets", "40", "--bits", "16",
               "--dataset", "synthetic-features", "--dataset-opt", "n_items=800",
               "--preset", "small", "--results", str(tmp_path), "--no-ray",
               *[a for s in sets for a in ("--set", s)]])
    assert rc == 0
    board = pd.read_csv(tmp_path / "leaderboard.csv")
    assert set(board["method"].str.split("[").str[0]) == set(methods)
    assert board["map_all"].notna().all() and len(board) == 2 * len(methods)
    ucmfh = board[board["method"].str.startswith("ucmfh")]
    assert (ucmfh["n_train_used"] <= 40).all()
