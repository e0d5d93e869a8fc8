"""Golden values for the classic (shallow) plugins: tiny seeded float64 inputs go through each
plugin's own update / closed form / affinity, and the result is compared (tolerance 1e-5) with
an independent numpy transcription of the public reference code's formula, written here.

References (read, never copied; file:line cited at each transcription):

* BMC = BMC-SDNU/Cross-Modal-Hashing-Retrieval@0196e313aad0 (CVH, IMH, LSSH, SCM, SePH).
* FSH = Lyn-L/FSH@de7f82e757a1 (the first author's public re-implementation of FSH).
* ITQ = willard-yuan/hashing-baseline-for-image-retrieval@691805128950, ITQ.m (Gong's ITQ).

MATLAB stores items as columns in most of these files; the transcriptions keep the MATLAB
orientation and transpose at the boundary. Eigen/singular vectors are compared through
sign-invariant quantities (per-column outer products, projectors), eigenvalues directly.
CMSSH and the plain CCA baseline have no public reference code, so they have no golden test.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import registry
from bench.plugins import FitContext, PairedData

TOL = 1e-5


def _close(actual, expected, tol: float = TOL) -> None:
    """Agreement to ``tol`` relative to the reference's largest magnitude."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    assert actual.shape == expected.shape
    scale = max(float(np.abs(expected).max()), 1e-300)
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tol * scale)


def _outer_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-column outer products a_j b_jᵀ: invariant to a joint sign flip of column j."""
    return np.einsum("ij,kj->jik", a, b)


def _fit(name: str, data: PairedData, bits: list[int], seed: int = 0, **params):
    method = registry.methods.get(name).load()(bits, params, seed=seed)
    method.fit(data, FitContext(validation=None, seed=seed, device="cpu", workdir=Path(".")))
    return method


def _pairs(n: int, dx: int, dy: int, seed: int = 0, classes: int = 4):
    """Correlated image/text features and multi-hot labels (every item has a label)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, classes)) < 0.35).astype(np.float64)
    labels[np.arange(n), rng.integers(0, classes, n)] = 1.0
    z = labels @ rng.standard_normal((classes, 3)) + 0.3 * rng.standard_normal((n, 3))
    x = z @ rng.standard_normal((3, dx)) + 0.5 * rng.standard_normal((n, dx))
    y = z @ rng.standard_normal((3, dy)) + 0.5 * rng.standard_normal((n, dy))
    return x, y, labels


def _generalised_eig(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's ``[V, D] = eig(A, B)`` for symmetric A, SPD B, sorted descending, columns
    B-normalised; solved here as the non-symmetric eigenproblem of B⁻¹A (independent of the
    plugins' whitening / ``scipy.linalg.eigh`` paths)."""
    vals, vecs = np.linalg.eig(np.linalg.solve(b, a))
    vals, vecs = vals.real, vecs.real
    order = np.argsort(-vals, kind="stable")
    vals, vecs = vals[order], vecs[:, order]
    vecs = vecs / np.sqrt(np.einsum("ij,ik,kj->j", vecs, b, vecs))
    return vals, vecs


# --------------------------------------------------------------------------------------- CVH
def _cvh_reference(x: np.ndarray, y: np.ndarray, lam: float, bits: int, toolbox: bool):
    """BMC CVH/code/CVH_learn.m:4-7 and CVHtrainCCA.m:30-44 (X = feaTrain_vis', items as
    columns there, rows here)."""
    cxx = x.T @ x + lam * np.eye(x.shape[1])           # CVH_learn.m:4
    cyy = y.T @ y + lam * np.eye(y.shape[1])           # CVH_learn.m:5
    cxy = x.T @ y                                      # CVH_learn.m:6
    middle = cyy if toolbox else np.linalg.inv(cyy)    # CVHtrainCCA.m:30 uses Cyy itself
    vals, wx = _generalised_eig(cxy @ middle @ cxy.T, cxx)   # CVHtrainCCA.m:30-33
    vals, wx = vals[:bits], wx[:, :bits]
    wy = np.linalg.inv(cyy) @ cxy.T @ wx @ np.linalg.inv(np.sqrt(np.diag(vals)))  # line 44
    return wx, wy, vals


@pytest.mark.parametrize("cyy", ["inverse", "toolbox"])
def test_cvh_directions_match_the_reference_eigenproblem(cyy):
    from bench.methods.cvh.method import cvh_directions

    x, y, _ = _pairs(40, 6, 5)
    bits, lam = 4, 1e-4
    wx, wy, vals, _ = cvh_directions(x, y, lam, cyy)
    rx, ry, rvals = _cvh_reference(x, y, lam, bits, toolbox=cyy == "toolbox")
    _close(vals[:bits], rvals)
    _close(_outer_columns(wx[:, :bits], wx[:, :bits]), _outer_columns(rx, rx))
    _close(_outer_columns(wy[:, :bits], wy[:, :bits]), _outer_columns(ry, ry))
    _close(_outer_columns(wx[:, :bits], wy[:, :bits]), _outer_columns(rx, ry))


# --------------------------------------------------------------------------------------- IMH
def _laplacian_gk(x_cols: np.ndarray, k: int) -> np.ndarray:
    """BMC IMH/code/Laplacian_GK.m:16-28 (binary weights, line 22; items as columns)."""
    aa = (x_cols * x_cols).sum(0)
    d = aa[:, None] + aa[None, :] - 2.0 * x_cols.T @ x_cols     # L2_distance_1.m
    idx = np.argsort(d, axis=1, kind="stable")
    n = d.shape[0]
    w = np.zeros((n, n))
    for i in range(n):
        w[i, idx[i, 1:k + 1]] = 1.0                               # Laplacian_GK.m:22
    w = (w + w.T) / 2                                             # line 25
    return np.diag(w.sum(1)) - w                                  # lines 27-28


def _imh_reference(x: np.ndarray, y: np.ndarray, beta: float, lam: float, k: int, bits: int):
    """BMC IMH/code/IMH_learn.m:9-55, with the reference's consistency weight U = 1e10."""
    x1, x2 = x.T, y.T                                             # IMH_learn.m:9-10
    n = x1.shape[1]
    u = 1e10 * np.eye(n)                                          # line 22
    m1 = x1 @ x1.T + beta * np.eye(x1.shape[0])                   # line 28
    m2 = x2 @ x2.T + beta * np.eye(x2.shape[0])                   # line 29
    a1 = np.eye(n) - x1.T @ np.linalg.inv(m1) @ x1                # line 30
    a2 = np.eye(n) - x2.T @ np.linalg.inv(m2) @ x2                # line 31
    l1, l2 = _laplacian_gk(x1, k), _laplacian_gk(x2, k)           # lines 34-37
    c2 = np.linalg.solve(a2 + lam * l2 + u, u)                    # line 40 (S1 = S2 = I)
    e = np.eye(n) - c2
    d = a1 + c2.T @ a2 @ c2 + e.T @ u @ e + lam * l1 + lam * c2.T @ l2 @ c2   # line 41
    d = (d + d.T) / 2                                             # line 44
    vals, vecs = np.linalg.eig(d)                                 # line 45
    order = np.argsort(vals.real, kind="stable")                  # line 48
    vals, y1 = vals.real[order], vecs.real[:, order[:bits]]       # line 49
    y2 = c2 @ y1                                                  # line 50
    w1 = np.linalg.solve(m1, x1 @ y1)                             # line 54
    w2 = np.linalg.solve(m2, x2 @ y2)                             # line 55
    return vals, y1, w1, w2


def test_imh_laplacian_matches_laplacian_gk():
    from bench.methods.imh.method import knn_laplacian_into

    x, _, _ = _pairs(25, 5, 4)
    for k in (1, 3):
        lap = np.zeros((25, 25))
        knn_laplacian_into(lap, x, k, "binary", 1.0, 1.0)
        _close(lap, _laplacian_gk(x.T, k))


def test_imh_embedding_and_hash_functions_match_the_reference():
    x, y, _ = _pairs(30, 5, 4)
    bits, params = 3, {"beta": 1.0, "lam": 1.0, "k": 2, "center": False, "max_train": None}
    method = _fit("imh", PairedData(index=np.arange(30), image_features=x, text_features=y),
                  [bits], **params)
    vals, y1, w1, w2 = _imh_reference(x, y, 1.0, 1.0, 2, bits)
    assert vals[bits] - vals[bits - 1] > 1e-3  # a gap: the projector is well defined
    _close(method.eigenvalues, vals[:bits])
    _close(method.embedding @ method.embedding.T, y1 @ y1.T)
    wi, wt = method.maps["image"][bits][0], method.maps["text"][bits][0]
    _close(wi @ wi.T, w1 @ w1.T)
    _close(wt @ wt.T, w2 @ w2.T)


def test_imh_batch_median_codes_match_imh_compress():
    x, y, _ = _pairs(31, 5, 4)
    data = PairedData(index=np.arange(31), image_features=x, text_features=y)
    bits = 3
    method = _fit("imh", data, [bits], beta=1.0, lam=1.0, k=2, center=False, max_train=None,
                  threshold="batch_median")
    _, _, w1, _ = _imh_reference(x, y, 1.0, 1.0, 2, bits)
    w_plugin = method.maps["image"][bits][0]
    w1 = w1 * np.sign(np.sum(w1 * w_plugin, axis=0))  # eig's sign is arbitrary: align it
    low = x @ w1                                       # IMH_compress.m:8
    expected = np.where(low > np.median(low, axis=0), 1, -1)   # lines 9-10 (strictly above)
    np.testing.assert_array_equal(method.encode(data, "image")[bits], expected)


# -------------------------------------------------------------------------------------- LSSH
def test_lssh_latent_update_matches_solvelssh():
    from bench.methods.lssh.method import latent_update

    rng = np.random.default_rng(3)
    a, r = rng.standard_normal((7, 4)), rng.standard_normal((4, 9))   # A: dt x L, R: L x k
    s, t = rng.standard_normal((9, 12)), rng.standard_normal((7, 12))  # S: k x n, T: dt x n
    lam, mu = 0.2, 0.05
    # BMC LSSH/code/solveLSSH.m:131
    expected = np.linalg.solve(a.T @ a + lam / mu * np.eye(4), lam / mu * r @ s + a.T @ t)
    _close(latent_update(a, r, s.T, t.T, lam / mu), expected.T)


def _least_r(d: np.ndarray, x: np.ndarray, rho: float, sweeps: int = 20000) -> np.ndarray:
    """The minimiser SLEP's LeastR(A, y, rho, opts) returns with opts.rFlag = 1 (solveLSSH.m:
    97-109): argmin ½||A s − y||² + rho·||Aᵀy||_∞·|s|₁, here by cyclic coordinate descent."""
    lam = rho * np.abs(d.T @ x).max()
    s = np.zeros(d.shape[1])
    norms = (d * d).sum(0)
    res = x.copy()
    for _ in range(sweeps):
        for j in range(d.shape[1]):
            res += d[:, j] * s[j]
            z = d[:, j] @ res
            s[j] = np.sign(z) * max(abs(z) - lam, 0.0) / norms[j]
            res -= d[:, j] * s[j]
    return s


def test_lssh_lasso_solves_the_leastr_problem():
    from bench.methods.lssh.method import lasso

    rng = np.random.default_rng(4)
    d = rng.standard_normal((12, 6))
    d /= np.linalg.norm(d, axis=0)
    x = rng.standard_normal((3, 12))
    got = lasso(d, x, 0.3, 4000)
    _close(got, np.stack([_least_r(d, xi, 0.3, 2000) for xi in x]))


def test_lssh_codes_match_lsshcoding():
    from bench.methods.lssh.method import lasso, unit_rows

    x, y, _ = _pairs(60, 8, 6)
    data = PairedData(index=np.arange(60), image_features=x, text_features=y)
    bits = 4
    method = _fit("lssh", data, [bits], atoms=16, outer_iters=2, max_train=None)
    model, p = method.models[bits], method.params
    lm = p["lam"] / p["mu"]
    a, r = model.u, model.r                        # A: dt x L, R: L x k (MATLAB shapes)
    t = unit_rows(y - method.mean["text"]).T       # preprocessingData.m:17-22 (PT = I)
    # BMC LSSH/code/LSSHcoding.m:33: sign((A'A + λ/μ I) \ A' T)
    text_map = np.linalg.solve(a.T @ a + lm * np.eye(bits), a.T)
    _close(method.maps["text"][bits][0], text_map.T)
    np.testing.assert_array_equal(method.encode(data, "text")[bits],
                                  np.where(text_map @ t >= 0, 1, -1).T)
    s = lasso(model.dictionary, unit_rows((x - method.mean["image"]) @ model.pca),
              p["rho"], p["lasso_iters"]).T            # LSSHcoding.m:25-27 (LeastR codes)
    np.testing.assert_array_equal(method.encode(data, "image")[bits],
                                  np.where(r @ s >= 0, 1, -1).T)   # LSSHcoding.m:31
    unified = np.linalg.solve(a.T @ a + lm * np.eye(bits), lm * r @ s + a.T @ t)   # line 35
    np.testing.assert_array_equal(method.unified_codes(data)[bits],
                                  np.where(unified >= 0, 1, -1).T)


# --------------------------------------------------------------------------------------- SCM
def _scm_labels(labels: np.ndarray) -> np.ndarray:
    """BMC SCM/code/trainSCM_orth.m:21-28."""
    lab = np.where(labels > 0, 1.0, 0.0)
    length = np.sqrt((lab ** 2).sum(1))
    length[length <= 0] = 1e-8
    return lab / length[:, None]


def _train_cca(cxx, cyy, cxy, ndim):
    """BMC SCM/code/trainCCA.m:18-34."""
    vals, vecs = _generalised_eig(cxy @ np.linalg.inv(cyy) @ cxy.T, cxx)   # lines 18, 27
    vals, wx = vals[:ndim], vecs[:, :ndim]                                 # lines 28-30
    wy = np.linalg.inv(cyy) @ cxy.T @ wx / np.sqrt(vals)                   # line 34
    return wx, wy, vals


def _scm_moments(xs, ys, labels, ndim, lam=1e-6):
    """trainSCM_orth.m:30-34 (same lines in trainSCM_seq.m:42-46)."""
    lh = _scm_labels(labels)
    ones = np.ones(len(xs))
    cxy = ndim * (2 * (xs.T @ lh) @ (ys.T @ lh).T - np.outer(xs.T @ ones, ys.T @ ones))
    return (xs.T @ xs + lam * np.eye(xs.shape[1]), ys.T @ ys + lam * np.eye(ys.shape[1]), cxy)


def _scm_data():
    x, y, labels = _pairs(60, 6, 5, seed=1)
    x, y = x - x.mean(0), y - y.mean(0)            # demo_SCM.m:42-48 centres on the training mean
    return x, y, labels, PairedData(index=np.arange(60), image_features=x, text_features=y,
                                    labels=labels)


def test_scm_semantic_cross_term_matches_trainscm():
    from bench.methods.scm.method import semantic_cross_term

    x, y, labels, _ = _scm_data()
    _close(semantic_cross_term(x, y, labels, 4), _scm_moments(x, y, labels, 4)[2])


def test_scm_orth_matches_trainscm_orth():
    x, y, labels, data = _scm_data()
    bits = 4
    method = _fit("scm-orth", data, [bits])
    # demo_SCM.m:27-28: the reference's X is the text, its Y the image
    wt, wi, _ = _train_cca(*_scm_moments(y, x, labels, bits), bits)
    pi, pt = method.maps["image"][bits][0], method.maps["text"][bits][0]
    _close(_outer_columns(pi, pt), _outer_columns(wi, wt))


def test_scm_seq_matches_trainscm_seq():
    x, y, labels, data = _scm_data()
    bits = 4
    method = _fit("scm-seq", data, [bits])
    xs, ys = y, x                                   # demo_SCM.m:27-28 (X text, Y image)
    base = _train_cca(xs.T @ xs + 1e-6 * np.eye(5), ys.T @ ys + 1e-6 * np.eye(6), xs.T @ ys,
                      bits)                         # trainSCM_seq.m:34-37
    wx, wy = base[0][:, ::-1].copy(), base[1][:, ::-1].copy()   # lines 38-39
    cxx, cyy, cxy = _scm_moments(xs, ys, labels, bits)
    last, eigs = np.inf, []
    for i in range(bits):                           # lines 50-64
        w1, w2, ev = _train_cca(cxx, cyy, cxy, 1)
        if ev[0] > last:
            break
        last = ev[0]
        eigs.append(ev[0])
        wx[:, i], wy[:, i] = w1[:, 0], w2[:, 0]
        vx, vy = np.sign(xs @ w1[:, 0]), np.sign(ys @ w2[:, 0])
        cxy = cxy - np.outer(xs.T @ vx, ys.T @ vy)
    _close(method.eigenvalues[bits], eigs)
    pi, pt = method.maps["image"][bits][0], method.maps["text"][bits][0]
    _close(_outer_columns(pi, pt), _outer_columns(wy, wx))


# -------------------------------------------------------------------------------------- SePH
def _seph_p(labels: np.ndarray) -> np.ndarray:
    """BMC SePH/code/demo_SePH.m:60-64, then minKLD.m:20-22."""
    num1 = 1.0 / np.sqrt(labels.sum(1))
    num1[~np.isfinite(num1)] = 1.0
    lab = labels * num1[:, None]
    p = lab @ lab.T
    np.fill_diagonal(p, 0.0)
    p = 0.5 * (p + p.T)
    return np.maximum(p / p.sum(), np.finfo(float).tiny)


def _min_kld(alpha: float, p: np.ndarray, init: np.ndarray, iters: int):
    """BMC SePH/code/minKLD.m:13-72 (P already processed by lines 20-22); returns the KL of
    each iteration's Q and the final iterate."""
    realmin = np.finfo(float).tiny
    const = np.sum(p * np.log(p))                                      # line 23
    code, incs, gains = init.copy(), np.zeros_like(init), np.ones_like(init)
    kls = []
    for _ in range(iters):
        sq = (code ** 2).sum(1)
        num = 1.0 / (1.0 + 0.25 * (sq[:, None] + (sq[None, :] - 2.0 * code @ code.T)))  # 44
        np.fill_diagonal(num, 0.0)                                     # line 45
        q = np.maximum(num / num.sum(), realmin)                       # line 46
        lmat = (p - q) * num                                           # line 49
        grads = (np.diag(lmat.sum(1)) - lmat) @ code \
            + 2 * alpha * (np.abs(code) - 1) * np.sign(code)           # line 50
        gains = (gains + 0.2) * (np.sign(grads) != np.sign(incs)) \
            + (gains * 0.8) * (np.sign(grads) == np.sign(incs))        # lines 53-54
        gains[gains < 0.01] = 0.01                                     # line 55
        incs = 0.5 * incs - 500.0 * (gains * grads)                    # line 56
        code = code + incs                                             # line 57
        code = code - code.mean(0)                                     # line 59
        kls.append(const - np.sum(p * np.log(q)))                      # line 62 (KL part)
    return kls, code, grads


def test_seph_affinity_matches_demo_and_minkld():
    from bench.methods.seph.method import label_affinity

    _, _, labels = _pairs(30, 4, 4)
    _close(label_affinity(labels), _seph_p(labels))


def test_seph_code_learning_matches_minkld():
    from bench.methods.seph.method import kl_step, min_kld

    _, _, labels = _pairs(30, 4, 4)
    p, bits, iters = _seph_p(labels), 6, 12
    alpha = 1e-2 / bits / 30                                           # demo_SePH.m:80
    init = 1e-4 * np.random.default_rng(7).standard_normal((30, bits))  # minKLD.m:27
    kls, _, _ = _min_kld(alpha, p, init, iters)
    _, plugin_kls, _ = min_kld(p, bits, alpha, np.random.default_rng(7), iters=iters)
    _close(plugin_kls[:iters], kls)
    # the gradient at an arbitrary iterate (line 50)
    h = np.random.default_rng(8).standard_normal((30, bits))
    _, _, grad = kl_step(p, h, alpha, float(np.sum(p * np.log(p))))
    _close(grad, _min_kld(alpha, p, h, 1)[2])


def _klr_reference_objective(w, k, k0, tgt, c):
    """BMC SePH/code/markSchmidt/lossFuncs/LogisticLoss.m:8-19 + penalizedKernelL2.m:13-16."""
    m = tgt * (k @ w)
    nll = np.logaddexp(0.0, -m).sum() + c * w @ k0 @ w
    grad = -(k.T @ (tgt / (1.0 + np.exp(m)))) + 2 * c * k0 @ w
    sig = 1.0 / (1.0 + np.exp(-m))
    hess = k.T @ (k * (sig * (1 - sig))[:, None]) + 2 * c * k0
    return nll, grad, hess


def test_seph_kernel_features_and_logistic_regression_match_the_reference():
    from bench.methods.seph.method import kernel_logistic, mean_squared_distance, rbf

    x, _, labels = _pairs(40, 5, 4)
    x = x - x.mean(0)
    z = x @ x.T
    z = np.diag(z)[:, None] + np.diag(z)[None, :] - 2 * z              # demo_SePH.m:84-85
    sigma2 = z.mean()                                                  # line 88
    assert mean_squared_distance(x) == pytest.approx(sigma2, rel=1e-10)
    anchors = x[:8]

    def kernel(a, b):                                                  # kernelMatrix.m:9-15
        cov = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2 * a @ b.T
        return np.exp(-(cov / sigma2))

    k, k0 = kernel(x, anchors), kernel(anchors, anchors)
    _close(rbf(x, anchors, sigma2), k)
    tgt = np.where(labels[:, :2] > 0, 1.0, -1.0)
    w = kernel_logistic(k, k0, tgt, 1e-2, 500)
    for j in range(2):                                                 # Newton to the optimum
        v = np.zeros(8)
        for _ in range(50):
            _, g, hm = _klr_reference_objective(v, k, k0, tgt[:, j], 1e-2)
            v = v - np.linalg.solve(hm, g)
        best = _klr_reference_objective(v, k, k0, tgt[:, j], 1e-2)[0]
        _close(_klr_reference_objective(w[:, j], k, k0, tgt[:, j], 1e-2)[0], best)


# --------------------------------------------------------------------------------------- FSH
def _eudist(a_cols: np.ndarray, b_cols: np.ndarray) -> np.ndarray:
    """FSH EuDist2.m:46-58 with bSqrt = 1 (rows of the inputs are items)."""
    aa, bb = (a_cols * a_cols).sum(1), (b_cols * b_cols).sum(1)
    d = aa[:, None] + bb[None, :] - 2 * a_cols @ b_cols.T
    d[d < 0] = 0
    return np.sqrt(d)


def _fsh_affinities(xc: np.ndarray, yc: np.ndarray, ax: np.ndarray, ay: np.ndarray, k: int):
    """FSH trainFSH.m:47-70 (X, Y: d x N; anchorX, anchorY: d x Nsamp)."""
    def nearest(d):
        return np.argsort(d, axis=1, kind="stable")[:, :k]
    indx, indy = nearest(_eudist(xc.T, ax.T)), nearest(_eudist(yc.T, ay.T))   # lines 47-54
    d3, d4 = _eudist(ax.T, ax.T), _eudist(ay.T, ay.T)
    indax, inday = nearest(d3), nearest(d4)                                   # lines 55-60
    d3, d4 = np.exp(-d3 / (2 * 1 ** 2)), np.exp(-d4 / (2 * 1 ** 2))          # line 61
    n, m = xc.shape[1], ax.shape[1]
    a1, a2 = np.zeros((n, m)), np.zeros((n, m))
    for m1 in range(n):                                                       # lines 63-70
        for m2 in range(m):
            a1[m1, m2] = (1 / k ** 2) * d3[np.ix_(indx[m1], inday[m2])].sum()
            a2[m1, m2] = (1 / k ** 2) * d4[np.ix_(indy[m1], indax[m2])].sum()
    return a1, a2, d3, d4


def _fsh_round(xc, yc, a1, a2, d3, d4, wx, wy, bs, yeta, lam, lam_w):
    """FSH trainFSH.m:88-101 (one pass of the loop body)."""
    d = yeta * a1 + (1 - yeta) * a2                                   # line 88
    d1 = bs @ d.T + 2 * lam * (wx.T @ xc + wy.T @ yc)                 # line 90
    b = np.sign(d1)                                                   # line 91
    bs = np.sign(b @ d)                                               # line 94
    wx = np.linalg.solve(xc @ xc.T, xc) @ b.T                         # line 95
    wy = np.linalg.solve(yc @ yc.T, yc) @ b.T                         # line 96
    gg = 1 / (1 - lam_w)                                              # line 99
    p1, p2 = np.trace(d3 - bs.T @ b @ a1), np.trace(d4 - bs.T @ b @ a2)   # line 100
    yeta = (lam_w * p1) ** gg / (lam_w * p1 + lam_w * p2) ** gg       # line 101
    return b, bs, wx, wy, yeta


def test_fsh_reference_affinities_match_trainfsh():
    from bench.methods.fsh.method import reference_affinities

    x, y, _ = _pairs(15, 5, 4, seed=2)
    ax, ay = x[[1, 4, 6, 9, 12, 14]], y[[1, 4, 6, 9, 12, 14]]
    got = reference_affinities(x, y, ax, ay, 3)
    for g, e in zip(got, _fsh_affinities(x.T, y.T, ax.T, ay.T, 3), strict=True):
        _close(g, e)


@pytest.mark.parametrize("lam", [300.0, 2.0])  # the demo's λ, and one where B_a Dᵀ matters
def test_fsh_reference_rounds_match_trainfsh(lam):
    x, y, _ = _pairs(40, 5, 4, seed=2)
    x, y = x - x.mean(0), y - y.mean(0)             # testFSH.m:6-9 centres on the training mean
    bits, m, k, iters = 6, 8, 3, 4
    params = {"variant": "reference", "ref_anchors": m, "ref_k": k, "ref_iters": iters,
              "ref_lambda": lam}
    method = _fit("fsh", PairedData(index=np.arange(40), image_features=x, text_features=y),
                  [bits], seed=5, **params)
    # the same random inputs the plugin drew (anchors: its stream 0; W: its stream `bits`)
    rows = np.sort(np.random.default_rng([5, 0]).choice(40, size=m, replace=False))
    init = np.random.default_rng([5, bits])
    wx, wy = init.standard_normal((5, bits)), init.standard_normal((4, bits))   # lines 81-82
    xc, yc = x.T, y.T
    ax, ay = xc[:, rows], yc[:, rows]
    a1, a2, d3, d4 = _fsh_affinities(xc, yc, ax, ay, k)
    bs, yeta = wy.T @ ay, 0.5                                          # lines 17, 84
    for _ in range(iters):
        b, bs, wx, wy, yeta = _fsh_round(xc, yc, a1, a2, d3, d4, wx, wy, bs, yeta, lam, 0.5)
    _close(method.maps["image"][bits][0], wx)
    _close(method.maps["text"][bits][0], wy)
    np.testing.assert_array_equal(method.codes[bits], b.T)
    assert method.etas[bits] == pytest.approx(yeta, rel=TOL)


# ----------------------------------------------------------------------------------- CCA-ITQ
def test_itq_rotation_matches_gong_itq():
    from bench.shallow.cca import itq

    v = np.random.default_rng(6).standard_normal((50, 5))
    rot = itq(v, 7, np.random.default_rng(9))
    r = np.linalg.qr(np.random.default_rng(9).normal(size=(5, 5)))[0]   # the plugin's start
    for _ in range(7):                                                  # ITQ.m:25-31
        z = v @ r
        ux = -np.ones_like(z)
        ux[z >= 0] = 1
        ub, _, ua_t = np.linalg.svd(ux.T @ v)
        r = ua_t.T @ ub.T                                               # R = UA * UB'
    _close(rot, r)
