"""Golden values of CMFH against an independent transcription of the reference MATLAB code.

Reference: BMC-SDNU/Cross-Modal-Hashing-Retrieval@0196e313aad0, CMFH/code/CMFH_learn.m and
CMFH/code/CMFH_compress.m. MATLAB's ``*``, ``\\`` and ``/`` bind equally and group left to
right, so ``A \\ B * C`` is ``(A \\ B) C`` and ``A / B`` is ``A B⁻¹``; the helpers below spell
that out with numpy and never call the plugin's solvers.
"""

from __future__ import annotations

import numpy as np
import pytest

from bench import registry
from bench.methods.cmfh.method import CMFH, cmfh, cmfh_round
from bench.params import method_params
from bench.plugins import FitContext, PairedData

TOL = 1e-5


def mldivide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MATLAB ``a \\ b``."""
    return np.linalg.solve(a, b)


def mrdivide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """MATLAB ``a / b`` = a · b⁻¹."""
    return np.linalg.solve(b.T, a.T).T


def reference_round(x1, x2, y, w1, w2, alphas, mu, gamma, update):
    """One pass of the loop body of CMFH_learn.m, lines 42-50 (``Y`` is V, ``W_t`` is P_t)."""
    bits = y.shape[1]
    eye = np.eye(bits)
    u1 = mldivide(y.T @ y + gamma * eye, y.T) @ x1                       # line 42
    u2 = mldivide(y.T @ y + gamma * eye, y.T) @ x2                       # line 43
    num = alphas[0] * x1 @ (u1.T + mu * w1) + alphas[1] * x2 @ (u2.T + mu * w2)
    den = (alphas[0] * (u1 @ u1.T + mu * eye + gamma * eye)
           + alphas[1] * (u2 @ u2.T + mu * eye + gamma * eye))
    y = mrdivide(num, den)                                               # line 46
    ws = []
    for x in (x1, x2):                                                   # lines 49-50
        m = mu * x.T @ x + gamma * np.eye(x.shape[1])
        if update == "reference":  # mu * (M) \ X' * Y, left to right
            ws.append(mldivide(mu * m, x.T) @ y)
        else:  # the minimiser of mu ||Y - X W||² + gamma ||W||² (the paper's closed form)
            ws.append(mldivide(m, mu * x.T @ y))
    return (u1, u2), y, tuple(ws)


def reference_unified(x1, x2, model_u, model_w, y_train, alphas, mu, gamma):
    """CMFH_compress.m, lines 11-13: the V update on database items, less mean(Y), > 0."""
    (u1, u2), (w1, w2) = model_u, model_w
    bits = y_train.shape[1]
    eye = np.eye(bits)
    code = mrdivide(alphas[0] * x1 @ (u1.T + mu * w1) + alphas[1] * x2 @ (u2.T + mu * w2),
                    alphas[0] * (u1 @ u1.T + mu * eye + gamma * eye)
                    + alphas[1] * (u2 @ u2.T + mu * eye + gamma * eye))
    return np.sign(code - y_train.mean(0)) > 0


@pytest.fixture
def toy():
    rng = np.random.default_rng(7)
    x1 = rng.normal(size=(30, 6))
    x2 = rng.normal(size=(30, 4)) + 0.5 * x1[:, :4]
    x1, x2 = x1 - x1.mean(0), x2 - x2.mean(0)
    y = rng.random((30, 3))
    w1, w2 = rng.random((6, 3)), rng.random((4, 3))
    return x1, x2, y, w1, w2


@pytest.mark.parametrize("update", ["reference", "exact"])
@pytest.mark.parametrize("mu,gamma,alphas", [(100.0, 0.01, (0.5, 0.5)), (3.0, 0.2, (0.3, 0.7))])
def test_one_round_matches_reference(toy, update, mu, gamma, alphas):
    x1, x2, y, w1, w2 = toy
    us_ref, y_ref, ws_ref = reference_round(x1, x2, y, w1, w2, alphas, mu, gamma, update)
    us, v, ps = cmfh_round([x1, x2], [x1.T @ x1, x2.T @ x2], y, [w1, w2], alphas, mu, gamma,
                           update)
    for mine, ref in ((us[0], us_ref[0]), (us[1], us_ref[1]), (v, y_ref), (ps[0], ws_ref[0]),
                      (ps[1], ws_ref[1])):
        np.testing.assert_allclose(mine, ref, rtol=TOL, atol=TOL * np.abs(ref).max())


def test_reference_projection_is_the_minimiser_over_mu_squared(toy):
    x1, x2, y, w1, w2 = toy
    args = ((0.5, 0.5), 100.0, 0.01)
    _, _, ref = reference_round(x1, x2, y, w1, w2, *args, "reference")
    _, _, exact = reference_round(x1, x2, y, w1, w2, *args, "exact")
    np.testing.assert_allclose(ref[0] * 100.0 ** 2, exact[0], rtol=1e-8)


@pytest.mark.parametrize("update", ["reference", "exact"])
def test_iterations_from_the_seeded_start(toy, update):
    """Three rounds of ``cmfh`` = three reference rounds from its uniform start (V, P_1, P_2
    drawn in that order, as CMFH_learn.m:31-35 draws Y, W1, W2; its U draws are overwritten)."""
    x1, x2 = toy[:2]
    alphas, mu, gamma = (0.5, 0.5), 100.0, 0.01
    ps, us, v, _ = cmfh([x1, x2], 3, alphas, mu, gamma, 3, np.random.default_rng(5), update)
    rng = np.random.default_rng(5)
    y, w1, w2 = rng.random((30, 3)), rng.random((6, 3)), rng.random((4, 3))
    for _ in range(3):
        u_ref, y, (w1, w2) = reference_round(x1, x2, y, w1, w2, alphas, mu, gamma, update)
    for mine, ref in ((v, y), (ps[0], w1), (ps[1], w2), (us[0], u_ref[0]), (us[1], u_ref[1])):
        np.testing.assert_allclose(mine, ref, rtol=TOL, atol=TOL * np.abs(ref).max())


@pytest.mark.parametrize("update", ["reference", "exact"])
def test_unified_codes_match_compress(tmp_path, update):
    """The fitted model's unified codes = CMFH_compress.m:11-13 on a replay of the reference's
    25 rounds (from the plugin's seeded start, uncentred features centred as demo_CMFH.m:33-39)."""
    rng = np.random.default_rng(3)
    img, txt = rng.normal(size=(40, 6)) + 1.0, rng.normal(size=(40, 5))
    data = PairedData(index=np.arange(40), image_features=img, text_features=txt)
    params = method_params(registry.methods.get("cmfh"), {"projection_update": update})
    model = CMFH([4], params, seed=0)
    model.fit(data, FitContext(validation=None, seed=0, device="cpu", workdir=tmp_path))
    x1, x2 = img - img.mean(0), txt - txt.mean(0)
    start = model.rng(4)
    y, w1, w2 = start.random((40, 4)), start.random((6, 4)), start.random((5, 4))
    for _ in range(params["iters"]):
        u, y, (w1, w2) = reference_round(x1, x2, y, w1, w2, model.alphas, params["mu"],
                                         params["gamma"], update)
    want = reference_unified(x1, x2, u, (w1, w2), y, model.alphas, params["mu"],
                             params["gamma"])
    assert np.array_equal(model.unified_codes(data)[4] > 0, want)
    assert np.array_equal(model.encode_unified(data)[4] > 0, want)
    assert np.array_equal(model.encode(data, "image")[4] > 0, x1 @ w1 > 0)  # CMFH_compress1.m:6-8
