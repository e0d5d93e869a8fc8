"""Golden values: MITH's six loss terms against an independent transcription of the reference,
DarrenZZhang/MM23-MITH@4583a7c, ``train_asym.py``:

* ``:174-180``: the batch's rows of the four buffers replaced by the detached outputs first;
* ``:182-185``: B = sign(λ·cls_i + (1-λ)·tok_i + λ·cls_t + (1-λ)·tok_t), detached;
* ``:259-311`` (``compute_loss``) with ``:398-404`` (``bayesian_loss``: s = ½·clamp(a·bᵀ, ±64),
  mean of log(1 + e^s) - S·s over the (N_train, B) matrix, S = [L_train·L_batchᵀ > 0]),
  ``:406-407`` (quantisation: squared error sum / B / K), ``:363-374`` (InfoNCE),
  ``:376-396`` (token-level InfoNCE over the K concept tokens of each sample) and the
  distillation ``:303-310``; weights from ``utils/get_args.py:23-31``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bench import registry

TOL = 1e-5


class FixedOutputs(nn.Module):
    """Stands in for the network: returns the given output dict whatever the inputs."""

    def __init__(self, outputs: dict[str, torch.Tensor]):
        super().__init__()
        self.outputs = outputs

    def forward(self, images, captions):
        return self.outputs


def log_softmax(x, axis=-1):
    x = x - x.max(axis=axis, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=axis, keepdims=True))


def cross_entropy(logits, targets):
    return -log_softmax(logits)[np.arange(len(targets)), targets].mean()


def bayesian_loss(a, b, label_sim):
    """train_asym.py:398-404 (the clamp binds to the product, before the halving)."""
    s = 0.5 * np.clip(a @ b.T, -64, 64)
    return -np.mean(label_sim * s - np.log(1 + np.exp(s)))


def info_nce_loss(out_1, out_2, temperature):
    """train_asym.py:363-374."""
    scores = out_1 @ out_2.T / temperature
    targets = np.arange(len(out_1))
    return 0.5 * (cross_entropy(scores, targets) + cross_entropy(scores.T, targets))


def info_nce_loss_bmm(out_1, out_2, temperature):
    """train_asym.py:376-396; inputs in the reference's (L, N, D) layout."""
    out_1, out_2 = out_1.transpose(1, 0, 2), out_2.transpose(1, 0, 2)  # N L D
    sim = out_1 @ out_2.transpose(0, 2, 1) / temperature
    bz, word_num = sim.shape[0], sim.shape[1]
    sim_1 = sim.reshape(bz * word_num, word_num)                       # (b n1) n2
    sim_2 = sim.transpose(0, 2, 1).reshape(bz * word_num, word_num)    # (b n2) n1
    targets = np.tile(np.arange(word_num), bz)
    return 0.5 * (cross_entropy(sim_1, targets) + cross_entropy(sim_2, targets))


def unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def fixed_inputs(seed: int = 0, n: int = 10, b: int = 4, k: int = 8, d: int = 6):
    g = np.random.default_rng(seed)
    # float32 values (the plugin keeps its buffers in float32), compared in float64
    out = {name: np.tanh(1.5 * g.normal(size=(b, k)))
           for name in ("cls_i", "cls_t", "tok_i", "tok_t")}
    out["res_i"], out["res_t"] = unit(g.normal(size=(b, d))), unit(g.normal(size=(b, d)))
    out["trans_i"], out["trans_t"] = unit(g.normal(size=(b, k, d))), unit(g.normal(size=(b, k, d)))
    # buffers large enough that some products a·bᵀ leave [-64, 64]: the clamp matters
    buffers = {name: 20.0 * g.normal(size=(n, k)) for name in ("tok_i", "tok_t", "cls_i", "cls_t")}
    labels = (g.random((n, 3)) < 0.4).astype(np.float64)
    labels[np.arange(n), g.integers(0, 3, n)] = 1.0
    rows = np.array([7, 2, 5, 0])
    f32 = {name: v.astype(np.float32).astype(np.float64) for name, v in out.items()}
    buf32 = {name: v.astype(np.float32).astype(np.float64) for name, v in buffers.items()}
    return f32, buf32, labels, rows


def reference_terms(out, buffers, labels, rows, p, k):
    buf = {name: v.copy() for name, v in buffers.items()}
    for name in buf:                                                   # :174-180
        buf[name][rows] = out[name]
    lam = p["hyper_lambda"]
    B = np.sign(out["cls_i"] * lam + out["tok_i"] * (1 - lam)
                + out["cls_t"] * lam + out["tok_t"] * (1 - lam))       # :183-185
    label_sim = (labels @ labels[rows].T > 0).astype(np.float64)       # :262
    h_i = out["cls_i"] * 0.5 + out["tok_i"] * 0.5                      # :289
    h_t = out["cls_t"] * 0.5 + out["tok_t"] * 0.5                      # :290
    bsz = len(rows)

    def quantization_loss_2(h):                                        # :406-407
        return ((h - B) ** 2).sum() / bsz / k

    tau = p["tau"]
    item_1 = ((out["cls_i"] - out["tok_i"]) ** 2).sum() + ((out["cls_t"] - out["tok_t"]) ** 2).sum()
    item_2 = 0.1 * item_1                                              # :303-307 (values)
    trans_i, trans_t = out["trans_i"].transpose(1, 0, 2), out["trans_t"].transpose(1, 0, 2)
    return {
        "tokens_intra": p["w_tokens_intra"] * (
            bayesian_loss(buf["tok_i"], out["tok_i"], label_sim)
            + bayesian_loss(buf["tok_t"], out["tok_t"], label_sim)),   # :278-280
        "cls_inter": p["w_cls_inter"] * (
            bayesian_loss(buf["cls_i"], out["cls_t"], label_sim)
            + bayesian_loss(buf["cls_t"], out["cls_i"], label_sim)),   # :284-286
        "quantization": p["w_quan"] * (quantization_loss_2(h_i) + quantization_loss_2(h_t)),
        "info_nce_global": p["w_info_nce"] * info_nce_loss(out["res_i"], out["res_t"], tau),
        "info_nce_tokens": p["w_info_nce"] * p["alpha"] * info_nce_loss_bmm(trans_i, trans_t,
                                                                            tau),
        "distillation": p["w_distill"] * (item_1 + item_2) / bsz,      # :310
    }


@pytest.mark.parametrize("params", [{}, {"hyper_lambda": 0.6, "w_quan": 1.0, "tau": 0.2,
                                         "alpha": 0.3, "w_cls_inter": 2.0}])
def test_loss_terms_match_the_reference(params):
    k = 8
    out, buffers, labels, rows = fixed_inputs(k=k)
    m = registry.methods.get("mith").load()((k,), params, 0)
    m.net = FixedOutputs({name: torch.tensor(v, dtype=torch.float32, requires_grad=True)
                             for name, v in out.items()})
    m.buffers = {name: torch.tensor(v, dtype=torch.float32) for name, v in buffers.items()}
    got = m.loss_terms(torch.as_tensor(rows), None, None, torch.tensor(labels, dtype=torch.float32))
    want = reference_terms(out, buffers, labels, rows, dict(m.params), k)
    assert set(got) == set(want)
    for key, value in want.items():
        assert float(got[key].detach()) == pytest.approx(value, abs=TOL, rel=TOL), key
    # the buffers were written: the batch's rows hold the outputs
    assert np.allclose(m.buffers["cls_t"][torch.as_tensor(rows)].numpy(), out["cls_t"])
    # the clamp is exercised: some buffer row × output product is beyond ±64
    assert np.abs(buffers["cls_i"] @ out["cls_t"].T).max() > 64


def test_distillation_gradients_follow_the_detach_pattern():
    """:303-307: the token hashes get 2·(tok - cls), the global ones 0.1·2·(cls - tok), / B."""
    k = 8
    out, buffers, labels, rows = fixed_inputs(k=k)
    m = registry.methods.get("mith").load()((k,), {}, 0)
    leaves = {name: torch.tensor(v, dtype=torch.float32, requires_grad=True)
                             for name, v in out.items()}
    m.net = FixedOutputs(leaves)
    m.buffers = {name: torch.tensor(v, dtype=torch.float32) for name, v in buffers.items()}
    got = m.loss_terms(torch.as_tensor(rows), None, None, torch.tensor(labels, dtype=torch.float32))
    got["distillation"].backward()
    b = len(rows)
    for c, t in (("cls_i", "tok_i"), ("cls_t", "tok_t")):
        assert np.allclose(leaves[t].grad.numpy(), 2 * (out[t] - out[c]) / b, atol=TOL)
        assert np.allclose(leaves[c].grad.numpy(), 0.1 * 2 * (out[c] - out[t]) / b, atol=TOL)
