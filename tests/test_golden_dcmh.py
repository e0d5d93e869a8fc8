"""Golden values: DCMH's per-modality objective against independent transcriptions of the
reference, jiangqy/DCMH-CVPR2017@67d0e84:

* value: ``DCMH_tensorflow/DCMH_tensorflow/DCMH_demo.py:206-217`` (``loss_x``: -Σ(S⊙Θ -
  log(1 + e^Θ)) with Θ = ½·f·Gᵀ, + γ·‖B_batch - f‖² + η·‖f·1 + F_rest·1‖², all / (n·B));
* gradient: ``DCMH_matlab/DCMH_matlab/process_DCMH.m:66-69`` (dJ/dF_batch = ½·G(σ(½·Gᵀ·F_b) - S)
  + 2γ(F_b - B_b) + 2η·F·1, with F already holding the batch's outputs, ``:64``) and
  ``update_net.m:6`` (the network gradient divided by batch_size·N).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

TOL = 1e-5


def fixed_inputs(seed: int = 0, n: int = 12, b: int = 5, k: int = 6):
    g = np.random.default_rng(seed)
    labels = (g.random((n, 4)) < 0.3).astype(np.float64)
    labels[np.arange(n), g.integers(0, 4, n)] = 1.0
    own, other = 3.0 * g.normal(size=(n, k)), 3.0 * g.normal(size=(n, k))
    rows = np.array([9, 1, 4, 11, 6])[:b]
    f = 3.0 * g.normal(size=(b, k))
    own[rows] = f  # the batch's rows already replaced (process_DCMH.m:64, DCMH_demo.py:49)
    codes = np.sign(own + other)
    codes[0, 0] = 0.0  # e_sign keeps 0 where F + G is 0 (process_DCMH.m:157-161)
    return labels, own, other, rows, f, codes


def reference_loss_x(f, rows, F, G, B, S, gamma, eta):
    """DCMH_demo.py:206-212 in numpy float64 (the TF layout: columns are samples)."""
    n = F.shape[0]
    cur_f_batch, G_, b_batch = f.T, G.T, B[rows].T
    F_unupdated = np.delete(F, rows, axis=0).T
    theta_x = 0.5 * cur_f_batch.T @ G_
    logloss_x = -np.sum(S * theta_x - np.log(1.0 + np.exp(theta_x)))
    quantization_x = np.sum((b_batch - cur_f_batch) ** 2)
    balance_x = np.sum((cur_f_batch @ np.ones((len(rows), 1))
                        + F_unupdated @ np.ones((n - len(rows), 1))) ** 2)
    scale = float(n * len(rows))
    return {"nll": logloss_x / scale, "quantization": gamma * quantization_x / scale,
            "balance": eta * balance_x / scale}


def reference_gradient(rows, F, G, B, S_full, gamma, eta):
    """process_DCMH.m:66-69, divided by batch_size·N (update_net.m:6); returned as (B, K)."""
    n = F.shape[0]
    Fm, Gm, Bm = F.T, G.T, B.T                       # bit × num_train
    F1 = Fm @ np.ones((n, 1))
    dJdB = 2 * gamma * (Fm[:, rows] - Bm[:, rows]) + 2 * eta * np.repeat(F1, len(rows), axis=1)
    dJdLogloss = 0.5 * Gm @ (1.0 / (1 + np.exp(-0.5 * Gm.T @ Fm[:, rows])) - S_full[:, rows])
    return ((dJdLogloss + dJdB) / (len(rows) * n)).T


@pytest.mark.parametrize("gamma,eta", [(1.0, 1.0), (2.5, 0.3)])
def test_modality_terms_match_the_reference(gamma, eta):
    from bench.methods.dcmh.method import modality_terms

    labels, own, other, rows, f, codes = fixed_inputs()
    S_full = (labels @ labels.T > 0).astype(np.float64)  # process_DCMH.m:6
    f_t = torch.tensor(f, requires_grad=True)
    sim = torch.tensor(S_full[rows])  # (B, n): calc_neighbor(sample_L, train_L), :95-97
    got = modality_terms(f_t, torch.as_tensor(rows), torch.tensor(own), torch.tensor(other),
                         torch.tensor(codes), sim, gamma, eta)
    want = reference_loss_x(f, rows, own, other, codes, S_full[rows], gamma, eta)
    assert set(got) == set(want)
    for key, value in want.items():
        assert float(got[key].detach()) == pytest.approx(value, abs=TOL, rel=TOL), key
    torch.stack(list(got.values())).sum().backward()
    grad = reference_gradient(rows, own, other, codes, S_full, gamma, eta)
    assert np.allclose(f_t.grad.numpy(), grad, rtol=TOL, atol=TOL)
