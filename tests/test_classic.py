"""The classic shallow baselines: codes, determinism, supervision, each algorithm's defining
property, one-line errors, training caps (small generated data, seconds)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bench import registry
from bench.errors import BenchError
from bench.metrics import evaluate_retrieval
from bench.plugins import FitContext
from bench.runner.data import load_dataset, prepare

CLASSIC = ("cca", "cvh", "imh", "cmfh", "lssh", "fsh", "scm-orth", "scm-seq", "seph-rnd",
           "seph-km", "cmssh")
SUPERVISED = ("scm-orth", "scm-seq", "seph-rnd", "seph-km", "cmssh")
#: Smaller settings for the slow parts, so the whole file runs in seconds.
FAST = {"lssh": {"atoms": 64, "outer_iters": 4}, "seph-rnd": {"anchors": 100, "iters": 60},
        "seph-km": {"anchors": 100, "iters": 60, "kmeans_iters": 20},
        "cmssh": {"pairs": 4000}}
BITS = (16, 32)


@pytest.fixture(scope="module", autouse=True)
def _one_blas_thread():
    """One BLAS thread, as in a Ray trial (many tiny solves; threads only contend here)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    cache = tmp_path_factory.mktemp("classic")
    ds = load_dataset("synthetic-features", None, str(cache), {"n_items": 1300, "dim": 48})
    preset = registry.datasets.get("synthetic-features").preset("small")
    return ds, preset


def _data(small, name, budget=600):
    ds, preset = small
    return prepare(ds, preset, budget, 0, registry.methods.get(name).inputs)


def _fit(small, name, bits=BITS, seed=0, budget=600, **params):
    data = _data(small, name, budget)
    cls = registry.methods.get(name).load()
    method = cls(list(bits), {**FAST.get(name, {}), **params}, seed=seed)
    method.fit(data.train, FitContext(validation=None, seed=seed, device="cpu",
                                      workdir=Path(".")))
    return method, data


def _map(method, data, bits):
    ql, rl = data.labels[data.query_index], data.labels[data.retrieval_index]
    q = {m: method.encode(data.query, m)[bits] for m in ("image", "text")}
    r = {m: method.encode(data.retrieval, m)[bits] for m in ("image", "text")}
    return 0.5 * (evaluate_retrieval(q["image"], r["text"], ql, rl)["map_all"]
                  + evaluate_retrieval(q["text"], r["image"], ql, rl)["map_all"])


@pytest.fixture(scope="module")
def fitted(small):
    """Every classic method fitted once at 16 and 32 bits (seed 0), and LSH for reference."""
    return {name: _fit(small, name) for name in (*CLASSIC, "lsh")}


@pytest.mark.parametrize("name", CLASSIC)
def test_specs(name):
    spec = registry.methods.get(name)
    assert spec.search_space and set(spec.search_space) <= set(spec.defaults)
    assert ("labels" in spec.inputs) == (name in SUPERVISED)
    assert spec.supervision == ("supervised" if name in SUPERVISED else "unsupervised")


@pytest.mark.parametrize("name", CLASSIC)
def test_codes_shape_values_and_determinism(small, fitted, name):
    method, data = fitted[name]
    if name not in SUPERVISED:
        assert data.train.labels is None  # the harness never hands labels to these
    again, _ = _fit(small, name)
    for modality in ("image", "text"):
        codes = method.encode(data.query, modality)
        assert sorted(codes) == list(BITS)
        for b in BITS:
            assert codes[b].shape == (len(data.query), b) and codes[b].dtype == np.int8
            assert set(np.unique(codes[b])) <= {-1, 1}
            assert np.array_equal(codes[b], again.encode(data.query, modality)[b]), (name, b)


@pytest.mark.parametrize("name", SUPERVISED)
def test_supervised_methods_beat_lsh(small, fitted, name):
    lsh, lsh_data = fitted["lsh"]
    method, data = fitted[name]
    for b in BITS:
        assert _map(method, data, b) > _map(lsh, lsh_data, b) + 0.01, (name, b)


def test_cca_directions_uncorrelated_and_ordered(fitted):
    from bench.shallow.cca import regularised_cov

    method, data = fitted["cca"]
    x = data.train.image_features - method.mean["image"]
    y = data.train.text_features - method.mean["text"]
    reg = method.params["reg"]
    px, py, corr = method.px, method.py, method.correlations
    assert np.allclose(px.T @ regularised_cov(x, reg) @ px, np.eye(px.shape[1]), atol=1e-8)
    assert np.allclose(py.T @ regularised_cov(y, reg) @ py, np.eye(py.shape[1]), atol=1e-8)
    cross = px.T @ (x.T @ y / len(x)) @ py
    assert np.allclose(cross, np.diag(corr), atol=1e-8)
    assert np.all(np.diff(corr) <= 1e-12) and corr[0] < 1 and corr[-1] >= 0


def test_cvh_eigenvectors_constraint_orthonormal(fitted):
    method, data = fitted["cvh"]
    x = data.train.image_features - method.mean["image"]
    y = data.train.text_features - method.mean["text"]
    wx, vals, b = method.wx, method.eigenvalues, method.constraint
    assert np.allclose(wx.T @ b @ wx, np.eye(wx.shape[1]), atol=1e-8)
    reg = method.params["reg"]
    a = (x.T @ y) @ np.linalg.solve(y.T @ y + reg * np.eye(y.shape[1]), y.T @ x)
    assert np.allclose(a @ wx, b @ wx * vals, atol=1e-6 * np.abs(a).max())
    assert np.all(np.diff(vals) <= 1e-9)


def test_imh_embedding_orthonormal_and_smallest(fitted):
    method, _ = fitted["imh"]
    y, vals = method.embedding, method.eigenvalues
    assert np.allclose(y.T @ y, np.eye(y.shape[1]), atol=1e-8)
    assert np.all(np.diff(vals) >= -1e-10)


def test_imh_caps_training_pairs(small):
    method, data = _fit(small, "imh", max_train=200)
    rows = method.train_rows_used
    assert len(rows) == 200 and np.all(np.diff(rows) > 0) and rows.max() < len(data.train)
    again, _ = _fit(small, "imh", max_train=200)
    assert np.array_equal(rows, again.train_rows_used)


def test_cmfh_objective_non_increasing(fitted):
    method, _ = fitted["cmfh"]
    for b in BITS:
        h = np.asarray(method.history[b])
        assert len(h) == method.params["iters"]
        assert np.all(np.diff(h) <= 1e-9 * h[0]), h
        assert h[-1] < h[0]


def test_lssh_dictionary_in_unit_ball_and_codes_sparse(fitted):
    method, data = fitted["lssh"]
    for model in method.models.values():
        for d in (model.dictionary, model.r, model.u):
            assert np.linalg.norm(d, axis=0).max() <= 1 + 1e-9
    s = method._sparse(data.query, BITS[0])
    assert 0.3 < np.mean(s == 0) < 1.0


def test_fsh_reference_codes_and_modality_weight(fitted):
    method, data = fitted["fsh"]  # the default: the public code's alternation
    assert method.params["variant"] == "reference"
    for b in BITS:
        assert method.codes[b].shape == (len(data.train), b)
        assert set(np.unique(method.codes[b])) <= {-1.0, 1.0}
        assert np.isfinite(method.etas[b])


def test_fsh_reconstruction_graph_and_balanced_bits(small):
    method, _ = _fit(small, "fsh", variant="reconstruction", anchors=100)
    assert np.allclose(method.graph.sum(1), 1.0) and (method.graph >= 0).all()
    for b in BITS:
        codes = method.codes[b]
        assert np.abs(codes.mean(0)).mean() < 0.25
        corr = np.corrcoef(codes.T)
        assert np.abs(corr[~np.eye(b, dtype=bool)]).mean() < 0.25


def test_scm_orth_and_seq_share_the_first_bit(fitted):
    orth, data = fitted["scm-orth"]
    seq, _ = fitted["scm-seq"]
    for b in BITS:
        values = seq.eigenvalues[b]
        assert len(values) >= 2 and np.all(np.diff(values) <= 0)
    a = orth.encode(data.query, "image")[16][:, 0]
    c = seq.encode(data.query, "image")[16][:, 0]
    assert abs(float(np.mean(a == c)) - 0.5) > 0.49  # the same direction, up to its sign


def test_seph_kl_decreases_and_gradient_is_exact(fitted):
    from bench.methods.seph.method import kl_step, label_affinity

    for name in ("seph-rnd", "seph-km"):
        method, data = fitted[name]
        for b in BITS:
            kl, cost = np.asarray(method.kl_history[b]), np.asarray(method.cost_history[b])
            assert kl[-1] < 0.5 * kl[0]
            assert np.all(np.minimum.accumulate(kl)[10:] < kl[0])
    p = label_affinity(data.train.labels[:40])
    const = float(np.sum(p * np.log(p)))
    h = np.random.default_rng(1).normal(size=(40, 5))
    _, cost, grad = kl_step(p, h, 0.01, const)
    eps, num = 1e-6, np.zeros_like(h)
    for i in range(40):
        for j in range(5):
            e = np.zeros_like(h)
            e[i, j] = eps
            num[i, j] = (kl_step(p, h + e, 0.01, const)[1] - kl_step(p, h - e, 0.01, const)[1])
    assert np.allclose(num / (2 * eps), grad, rtol=1e-4, atol=1e-8)


def test_seph_kernel_logistic_reaches_its_minimum():
    from bench.methods.seph.method import kernel_logistic, rbf

    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 6))
    anchors = x[:40]
    k, k0 = rbf(x, anchors, 6.0), rbf(anchors, anchors, 6.0)
    targets = np.where(x[:, :3] @ rng.normal(size=(3, 4)) >= 0, 1.0, -1.0)
    w = kernel_logistic(k, k0, targets, 0.01, 500)
    margin = targets * (k @ w)
    grad = -k.T @ (targets / (1 + np.exp(margin))) + 0.02 * k0 @ w
    assert np.abs(grad).max() < 1e-3
    assert np.mean(np.sign(k @ w) == targets) > 0.9


def test_cmssh_boosting_reweights_each_learner_to_chance(fitted):
    method, _ = fitted["cmssh"]
    assert method.agreements[0] > 0.1
    assert np.allclose(method.post_update_agreements, 0.0, atol=1e-9)


def test_unified_database_codes(fitted):
    for name in ("cmfh", "lssh", "seph-km"):
        method, data = fitted[name]
        codes = method.unified_codes(data.retrieval)
        b = method.bits[0]
        assert codes[b].shape == (len(data.retrieval), b)
    with pytest.raises(NotImplementedError):
        fitted["cca"][0].unified_codes(fitted["cca"][1].retrieval)


@pytest.mark.parametrize("name,params,bits,match", [
    ("cca", {"lift": "error"}, (64,), "64 bits > 48 canonical pairs"),
    ("scm-orth", {"lift": "error"}, (64,), "64 bits > 48 canonical pairs"),
    ("cvh", {"cyy": "other"}, (16,), "cyy must be"),
    ("imh", {"max_train": 30}, (32,), "32 bits need more than 30 training pairs"),
    ("imh", {"weights": "gauss"}, (16,), "weights must be"),
    ("fsh", {"variant": "reconstruction", "anchors": 20}, (32,),
     "32 bits need at least 33 anchors"),
    ("fsh", {"ref_anchors": 5}, (16,), "ref_k=10 nearest anchors need at least 10 anchors"),
])
def test_impossible_inputs_are_one_line_errors(small, name, params, bits, match):
    with pytest.raises(BenchError, match=match) as err:
        _fit(small, name, bits=bits, **params)
    assert "\n" not in str(err.value)


def test_lifting_beyond_the_canonical_rank(small):
    method, data = _fit(small, "cca", bits=(64,))
    codes = method.encode(data.query, "text")[64]
    assert codes.shape == (len(data.query), 64)
    assert len({tuple(c) for c in codes.T}) == 64  # no duplicated bit


def test_null_space_lift_completes_the_larger_side(small):
    from bench.shallow.cca import null_space_directions

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 12)), rng.normal(size=(200, 4))
    cxx, cyy, cxy = x.T @ x + 1e-3 * np.eye(12), y.T @ y + 1e-3 * np.eye(4), x.T @ y
    wx, wy = null_space_directions(cxx, cyy, cxy, 10)
    assert wx.shape == (12, 10) and wy.shape == (4, 10)
    assert np.allclose(wx.T @ cxx @ wx, np.eye(10), atol=1e-8)  # a complete whitened basis
    assert np.allclose(cxy.T @ wx[:, 4:], 0, atol=1e-8)  # zero-correlation directions
    wy2, wx2 = null_space_directions(cyy, cxx, cxy.T, 10)  # the larger side is found
    assert np.allclose(np.abs(wx2), np.abs(wx)) and np.allclose(np.abs(wy2), np.abs(wy))
    with pytest.raises(BenchError, match="at most 48 with null_space"):
        _fit(small, "scm-orth", bits=(64,), lift="null_space")  # 48 / 48 dimensions here


def test_imh_batch_median_thresholds_each_encoded_set(small):
    method, data = _fit(small, "imh", bits=(16,), threshold="batch_median")
    codes = method.encode(data.query, "image")[16]
    assert np.abs(codes.mean(0)).max() <= 2 / len(data.query) + 1e-12  # balanced per batch


@pytest.mark.parametrize("name,params", [("imh", {"threshold": "batch_median"}), ("lssh", {}),
                                         ("cca", {})])
def test_encoding_in_chunks_gives_the_same_codes(small, monkeypatch, name, params):
    """Encoding reads the features a chunk at a time (a 200k-item database is never converted
    to float64 whole); the chunk size never changes a code, also for IMH's batch median."""
    import bench.shallow.base as base

    method, data = _fit(small, name, bits=(16,), **params)
    whole = {m: method.encode(data.retrieval, m)[16] for m in ("image", "text")}
    monkeypatch.setattr(base, "ENCODE_CHUNK", 7)
    for m in ("image", "text"):
        np.testing.assert_array_equal(method.encode(data.retrieval, m)[16], whole[m])
