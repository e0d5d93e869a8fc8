"""Tests of the metric engine against the float64 reference (both numba and numpy backends)."""

from __future__ import annotations

import itertools
import json
import math
from fractions import Fraction

import numpy as np
import pytest

from bench.metrics import (
    BACKEND_ENV,
    PROTOCOL,
    PROTOCOL_VERSION,
    evaluate_retrieval,
    numba_available,
    pack_codes,
    pack_labels,
    reference_evaluate,
    unpack_codes,
)
from bench.metrics.engine import harmonic_diff, tie_aware_ap_sum
from bench.metrics.reference import tie_aware_ap_direct

TOL = 1e-12
BACKENDS = [
    pytest.param(
        "numba",
        marks=pytest.mark.skipif(not numba_available(), reason="numba is not installed"),
    ),
    "numpy",
]


def assert_close(a: object, b: object, path: str = "result") -> None:
    """Recursive comparison: floats within TOL, None/str/int exact."""
    if isinstance(a, dict):
        assert isinstance(b, dict), path
        ignore = {"backend", "averaging"}
        assert set(a) - ignore == set(b) - ignore, f"{path}: keys differ"
        for key in set(a) - ignore:
            assert_close(a[key], b[key], f"{path}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float):
        assert isinstance(b, float), f"{path}: {a!r} vs {b!r}"
        assert abs(a - b) <= TOL, f"{path}: {a!r} vs {b!r} (diff {abs(a - b):.3g})"
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


def random_case(
    seed: int,
    n_bits: int,
    nq: int,
    nd: int,
    n_classes: int,
    density: float,
    single_label: bool = False,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    qb = rng.choice(np.array([-1, 1], dtype=np.int8), size=(nq, n_bits))
    db = rng.choice(np.array([-1, 1], dtype=np.int8), size=(nd, n_bits))
    if single_label:
        return qb, db, rng.integers(0, n_classes, nq), rng.integers(0, n_classes, nd)
    ql = (rng.random((nq, n_classes)) < density).astype(np.uint8)
    dl = (rng.random((nd, n_classes)) < density).astype(np.uint8)
    return qb, db, ql, dl


CASES = {
    # name: (n_bits, nq, nd, n_classes, density, single_label, k_values, empty_queries)
    "8bit_heavy_ties": (8, 25, 300, 21, 0.1, False, (1, 7, 50, 1000), "exclude"),
    "16bit_nus81": (16, 20, 400, 81, 0.03, False, (50, 100, 399, 400), "zero"),
    "24bit_iapr255": (24, 15, 250, 255, 0.01, False, (5, 50, 5000), "exclude"),
    "64bit_single": (64, 15, 300, 10, 0.0, True, (50, 1000, 5000), "exclude"),
    "72bit_k_gt_db": (72, 12, 200, 24, 0.08, False, (50, 250, 5000), "zero"),
    "128bit_empty": (128, 12, 150, 30, 0.02, False, (10, 149, 150, 151), "exclude"),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_reference(case: str, backend: str) -> None:
    n_bits, nq, nd, nc, dens, single, ks, policy = CASES[case]
    qb, db, ql, dl = random_case(sum(map(ord, case)), n_bits, nq, nd, nc, dens, single)
    ref = reference_evaluate(qb, db, ql, dl, k_values=ks, empty_queries=policy)
    got = evaluate_retrieval(qb, db, ql, dl, k_values=ks, empty_queries=policy, backend=backend)
    assert got["backend"] == backend
    assert_close(got, ref)
    json.dumps(got, allow_nan=False)


@pytest.mark.parametrize("backend", BACKENDS)
def test_packed_input_and_chunking(backend: str) -> None:
    qb, db, ql, dl = random_case(3, 72, 13, 180, 70, 0.04)
    base = evaluate_retrieval(qb, db, ql, dl, backend=backend)
    packed = evaluate_retrieval(
        pack_codes(qb), pack_codes(db), ql, dl, n_bits=72, backend=backend, chunk_size=4
    )
    assert_close(packed, base)
    # garbage in the padding bits of packed codes is ignored
    qp, dp = pack_codes(qb), pack_codes(db)
    qp[:, -1] |= np.uint64(0xFF00)
    dp[:, -1] |= np.uint64(0xF000_0000_0000_0000)
    assert_close(evaluate_retrieval(qp, dp, ql, dl, n_bits=72, backend=backend), base)


@pytest.mark.skipif(not numba_available(), reason="numba is not installed")
def test_backends_agree_with_many_words() -> None:
    qb, db, ql, dl = random_case(11, 130, 20, 700, 140, 0.02)
    a = evaluate_retrieval(qb, db, ql, dl, k_values=(3, 64, 500), backend="numba", chunk_size=7)
    b = evaluate_retrieval(qb, db, ql, dl, k_values=(3, 64, 500), backend="numpy")
    assert_close(a, b)


def test_hand_computed_example() -> None:
    # Query 0000; db distances [1, 0, 2, 1, 0]; relevant: items 0, 2, 4.
    q = np.array([[1, 1, 1, 1]])
    db = np.array([[-1, 1, 1, 1], [1, 1, 1, 1], [-1, -1, 1, 1], [1, -1, 1, 1], [1, 1, 1, 1]])
    ql = np.array([[1, 0]])
    dl = np.array([[1, 0], [0, 1], [1, 1], [0, 1], [1, 0]])
    # stable ranking: items 1, 4 (d=0), 0, 3 (d=1), 2 (d=2): relevance 0 1 1 0 1
    ap = (1 / 2 + 2 / 3 + 3 / 5) / 3
    res = evaluate_retrieval(q, db, ql, dl, k_values=(2, 3, 10))
    assert res["map_all"] == pytest.approx(ap, abs=1e-15)
    assert res["map_at_k"] == pytest.approx({"2": 1 / 2, "3": (1 / 2 + 2 / 3) / 2, "10": ap})
    assert res["p_at_k"] == pytest.approx({"2": 1 / 2, "3": 2 / 3, "10": 3 / 5})
    assert res["k_effective"] == {"2": 2, "3": 3, "10": 5}
    # tie-aware: bucket d=0 {irrelevant, relevant}, d=1 {relevant, irrelevant}, d=2 {relevant}
    first = Fraction(1, 2) * (Fraction(1, 1) + Fraction(1, 2))
    second = Fraction(1, 2) * (Fraction(2, 3) + Fraction(2, 4))
    expected = (first + second + Fraction(3, 5)) / 3
    assert res["map_tie_aware"] == pytest.approx(float(expected), abs=1e-15)
    pr = res["pr_curve"]
    assert pr["radius"] == [0, 1, 2, 3, 4]
    assert pr["precision"] == pytest.approx([1 / 2, 2 / 4, 3 / 5, 3 / 5, 3 / 5])
    assert pr["recall"] == pytest.approx([1 / 3, 2 / 3, 1, 1, 1])


def brute_force_tie_aware(dist: np.ndarray, rel: np.ndarray) -> Fraction:
    """Average AP over every order of the items inside each equal-distance group."""
    groups = [np.flatnonzero(dist == v) for v in np.unique(dist)]
    total = Fraction(0)
    n_orders = 0
    for perm in itertools.product(*(itertools.permutations(g) for g in groups)):
        ranked = rel[np.concatenate(perm)]
        hits, ap = 0, Fraction(0)
        for r, is_rel in enumerate(ranked, start=1):
            if is_rel:
                hits += 1
                ap += Fraction(hits, r)
        total += ap / int(rel.sum())
        n_orders += 1
    return total / n_orders


@pytest.mark.parametrize("backend", BACKENDS)
def test_tie_aware_against_enumeration(backend: str) -> None:
    rng = np.random.default_rng(5)
    for _ in range(6):
        db = rng.choice([-1, 1], size=(7, 3))
        q = rng.choice([-1, 1], size=(1, 3))
        dl = rng.integers(0, 2, size=(7, 2))
        dl[0] = [1, 0]
        ql = np.array([[1, 0]])
        dist = (3 - db @ q[0]) // 2
        rel = (dl @ ql[0]) > 0
        exact = brute_force_tie_aware(dist, rel)
        assert tie_aware_ap_direct(dist, rel) == pytest.approx(float(exact), abs=1e-14)
        res = evaluate_retrieval(q, db, ql, dl, backend=backend)
        assert res["map_tie_aware"] == pytest.approx(float(exact), abs=1e-14)


def test_tie_aware_equals_ap_without_ties() -> None:
    # 12-bit codes, 13 items at distinct distances 0..12: no ties, tie-aware AP == AP
    q = np.ones((1, 12))
    db = np.where(np.tri(13, 12, -1, dtype=bool), -1, 1)
    rng = np.random.default_rng(0)
    dl = rng.integers(0, 2, size=(13, 1))
    dl[3] = 1
    res = evaluate_retrieval(q, db, np.ones((1, 1)), dl)
    assert res["map_tie_aware"] == pytest.approx(res["map_all"], abs=1e-15)


def test_harmonic_diff_precision() -> None:
    pairs = [(0, 1), (0, 31), (5, 40), (31, 1), (32, 1), (33, 7), (1000, 1), (999_999, 1)]
    pairs += [(40, 5000), (150_000, 40_000), (0, 200_000), (10**9, 3)]
    s = np.array([p[0] for p in pairs])
    n = np.array([p[1] for p in pairs])
    got = harmonic_diff(s, n)
    for (si, ni), g in zip(pairs, got, strict=True):
        exact = math.fsum(1.0 / (si + i) for i in range(1, ni + 1))
        assert g == pytest.approx(exact, rel=2e-14, abs=0), (si, ni)
    assert harmonic_diff(np.array([7]), np.array([0]))[0] == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
def test_empty_query_policies(backend: str) -> None:
    qb, db, ql, dl = random_case(8, 16, 10, 120, 6, 0.3)
    ql[[1, 4, 7]] = 0  # no label -> no relevant item
    ex = evaluate_retrieval(qb, db, ql, dl, empty_queries="exclude", backend=backend)
    ze = evaluate_retrieval(qb, db, ql, dl, empty_queries="zero", backend=backend)
    n_empty = ex["n_empty_queries"]
    assert n_empty >= 3 and ze["n_empty_queries"] == n_empty
    assert ex["n_queries"] == ze["n_queries"] == 10
    scale = (10 - n_empty) / 10
    assert ze["map_all"] == pytest.approx(ex["map_all"] * scale, abs=1e-14)
    assert ze["map_tie_aware"] == pytest.approx(ex["map_tie_aware"] * scale, abs=1e-14)
    for k in ex["map_at_k"]:
        assert ze["map_at_k"][k] == pytest.approx(ex["map_at_k"][k] * scale, abs=1e-14)
        assert ze["p_at_k"][k] == pytest.approx(ex["p_at_k"][k] * scale, abs=1e-14)


@pytest.mark.parametrize("backend", BACKENDS)
def test_all_queries_empty_is_json_safe(backend: str) -> None:
    qb, db, _, dl = random_case(2, 8, 4, 30, 3, 0.5)
    ql = np.zeros((4, 3))
    res = evaluate_retrieval(qb, db, ql, dl, backend=backend)
    assert res["map_all"] is None and res["map_tie_aware"] is None
    assert res["map_at_k"] == {"50": None, "1000": None, "5000": None}
    assert res["n_empty_queries"] == 4
    assert all(v is None for v in res["pr_curve"]["precision"])
    json.loads(json.dumps(res, allow_nan=False))
    zero = evaluate_retrieval(qb, db, ql, dl, empty_queries="zero", backend=backend)
    assert zero["map_all"] == 0.0 and zero["p_at_k"]["50"] == 0.0


def test_optional_outputs_and_protocol() -> None:
    qb, db, ql, dl = random_case(1, 16, 5, 40, 4, 0.3)
    res = evaluate_retrieval(qb, db, ql, dl, tie_aware=False, pr_curve=False, k_values=())
    assert "map_tie_aware" not in res and "pr_curve" not in res
    assert res["map_at_k"] == {} and res["protocol_version"] == PROTOCOL_VERSION == 2
    assert PROTOCOL["ties"].startswith("by database position") and "seeded" in PROTOCOL["ties"]
    json.dumps(PROTOCOL)


def test_backend_env_var(monkeypatch: pytest.MonkeyPatch) -> None:
    qb, db, ql, dl = random_case(4, 16, 3, 20, 3, 0.4)
    monkeypatch.setenv(BACKEND_ENV, "numpy")
    assert evaluate_retrieval(qb, db, ql, dl)["backend"] == "numpy"
    monkeypatch.setenv(BACKEND_ENV, "bogus")
    with pytest.raises(ValueError, match="backend"):
        evaluate_retrieval(qb, db, ql, dl)


# --------------------------------------------------------------------------- packing


@pytest.mark.parametrize("n_bits", [1, 16, 24, 63, 64, 65, 72, 128, 130])
def test_pack_roundtrip(n_bits: int) -> None:
    rng = np.random.default_rng(n_bits)
    codes = rng.choice(np.array([-1, 1], dtype=np.int8), size=(9, n_bits))
    packed = pack_codes(codes)
    assert packed.dtype == np.uint64 and packed.shape == (9, (n_bits + 63) // 64)
    assert packed.flags.c_contiguous
    out = unpack_codes(packed, n_bits)
    assert out.dtype == np.int8
    np.testing.assert_array_equal(out, codes)
    np.testing.assert_array_equal(pack_codes(codes > 0), packed)
    np.testing.assert_array_equal(pack_codes((codes > 0).astype(np.uint8)), packed)
    np.testing.assert_array_equal(pack_codes(codes.astype(np.float32) * 0.3), packed)


def test_bit_layout() -> None:
    codes = -np.ones((3, 100), dtype=np.int8)
    codes[0, 0] = codes[1, 63] = codes[2, 64] = 1
    packed = pack_codes(codes)
    assert packed[0].tolist() == [1, 0]
    assert packed[1].tolist() == [1 << 63, 0]
    assert packed[2].tolist() == [0, 1]


def test_sign_zero_is_plus_one() -> None:
    codes = np.array([[0.0, -1.0, 2.5, -0.0, -3.0]])
    np.testing.assert_array_equal(unpack_codes(pack_codes(codes), 5), [[1, -1, 1, 1, -1]])
    # an unpacked pair is binarised jointly: zeros in a ±1 query are +1 even with no -1 in it
    q = np.array([[0, 1, 0, 1]])
    db = np.array([[1, 1, 1, 1], [-1, 1, 1, 1]])
    res = evaluate_retrieval(q, db, np.array([[1, 0]]), np.array([[1, 0], [0, 1]]))
    assert res["pr_curve"]["precision"][:2] == [1.0, 0.5]  # item 0 at distance 0, item 1 at 1
    # an all-{0,1} pair is read as binary codes
    np.testing.assert_array_equal(pack_codes(np.array([[0, 1, 1]])), [[6]])


def test_pack_labels_many_classes() -> None:
    labels = np.zeros((2, 255), dtype=np.uint8)
    labels[0, [0, 64, 254]] = 1
    packed = pack_labels(labels)
    assert packed.shape == (2, 4)
    assert packed[0].tolist() == [1, 1, 0, 1 << 62]
    assert packed[1].tolist() == [0, 0, 0, 0]


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"db_codes": np.ones((5, 8))}, "16 bits but database codes have 8"),
        ({"query_labels": np.ones((4, 3))}, "3 query codes but 4 query label rows"),
        ({"db_labels": np.ones((6, 3))}, "5 database codes but 6 database label rows"),
        ({"db_labels": np.ones((5, 4))}, "3 classes but database labels have 4"),
        ({"query_codes": np.ones(16)}, "2-D"),
        ({"query_codes": np.full((3, 16), np.nan)}, "NaN"),
        ({"empty_queries": "skip"}, "empty_queries"),
        ({"k_values": (50, 0)}, "positive integers"),
        ({"k_values": (50, 50)}, "duplicates"),
        ({"n_bits": 12}, "does not match"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"backend": "cuda"}, "backend"),
        ({"query_codes": np.zeros((0, 16)), "query_labels": np.ones((0, 3))}, "at least one"),
        ({"query_labels": np.array([0, 1, 2])}, "same kind"),
    ],
)
def test_bad_inputs(kwargs: dict, match: str) -> None:
    args = {
        "query_codes": np.ones((3, 16)),
        "db_codes": -np.ones((5, 16)),
        "query_labels": np.ones((3, 3)),
        "db_labels": np.ones((5, 3)),
    }
    extra = {k: v for k, v in kwargs.items() if k not in args}
    args.update({k: v for k, v in kwargs.items() if k in args})
    with pytest.raises(ValueError, match=match):
        evaluate_retrieval(**args, **extra)


def test_bad_packed_inputs() -> None:
    q = pack_codes(np.ones((2, 70)))
    d = pack_codes(-np.ones((3, 70)))
    lab_q, lab_d = np.ones((2, 1)), np.ones((3, 1))
    with pytest.raises(ValueError, match="need n_bits"):
        evaluate_retrieval(q, d, lab_q, lab_d)
    with pytest.raises(ValueError, match="needs 1"):
        evaluate_retrieval(q, d, lab_q, lab_d, n_bits=64)
    with pytest.raises(ValueError, match="both be packed"):
        evaluate_retrieval(q, -np.ones((3, 70)), lab_q, lab_d, n_bits=70)
    with pytest.raises(ValueError, match="needs 4"):
        unpack_codes(q, 200)
    with pytest.raises(ValueError, match="uint64"):
        unpack_codes(np.ones((2, 2)), 70)


def test_auto_falls_back_to_numpy_without_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.metrics import engine

    monkeypatch.setattr(engine, "_NUMBA_TRIED", True)
    monkeypatch.setattr(engine, "_NUMBA_KERNEL", None)
    monkeypatch.delenv(BACKEND_ENV, raising=False)
    qb, db, ql, dl = random_case(6, 16, 3, 20, 3, 0.4)
    assert not numba_available()
    assert evaluate_retrieval(qb, db, ql, dl)["backend"] == "numpy"
    with pytest.raises(ImportError, match="numba"):
        evaluate_retrieval(qb, db, ql, dl, backend="numba")


@pytest.mark.skipif(not numba_available(), reason="numba is not installed")
def test_thread_count_does_not_change_results() -> None:
    import numba

    qb, db, ql, dl = random_case(9, 32, 37, 400, 12, 0.1)
    old = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = evaluate_retrieval(qb, db, ql, dl, backend="numba")
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        many = evaluate_retrieval(qb, db, ql, dl, backend="numba")
    finally:
        numba.set_num_threads(old)
    assert one == many


# name: (n_bits, nq, nd, n_classes, density, n_empty_queries, k_values)
KERNEL_CASES = {
    "4bit_all_ties": (4, 9, 120, 5, 0.3, 2, (1, 3, 60, 119, 120, 500)),
    "16bit_ties": (16, 20, 600, 21, 0.1, 3, (1, 50, 599, 5000)),
    "64bit_one_word": (64, 24, 500, 21, 0.15, 1, (50, 1000, 5000)),
    "130bit_three_words": (130, 15, 400, 40, 0.05, 2, (7, 64, 401)),
    "32bit_100_labels": (32, 18, 450, 100, 0.03, 4, (5, 50, 449)),
    "200bit_300_labels": (200, 10, 300, 300, 0.01, 3, (1, 299, 300, 301)),
}


@pytest.mark.skipif(not numba_available(), reason="numba is not installed")
@pytest.mark.parametrize("case", sorted(KERNEL_CASES))
def test_numba_kernel_matches_numpy_backend(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The numba kernel against the numpy backend, per query and through the engine: ties,
    multi-word codes, more than 64 labels, empty queries, k above the database size."""
    from bench.metrics import _numba_kernel, _numpy_kernel
    from bench.metrics.engine import prepare_inputs

    n_bits, nq, nd, nc, dens, n_empty, ks = KERNEL_CASES[case]
    qb, db, ql, dl = random_case(sum(map(ord, case)), n_bits, nq, nd, nc, dens)
    ql[:n_empty] = 0  # empty queries
    dl[::7] = 0  # database items without labels
    qc, dc, qlp, dlp, _ = prepare_inputs(qb, db, ql, dl)
    ks_eff = np.array(sorted({min(k, nd) for k in ks}), dtype=np.int64)
    nk = len(ks_eff)

    def outputs() -> tuple[np.ndarray, ...]:
        return (np.zeros((nq, n_bits + 1), np.int64), np.zeros((nq, n_bits + 1), np.int64),
                np.zeros(nq), np.zeros((nq, nk)), np.zeros((nq, nk), np.int64))

    fast, slow = outputs(), outputs()
    tie_sum = np.zeros(nq)
    inv = 1.0 / np.arange(1, nd + 1, dtype=np.float64)
    _numba_kernel.evaluate_range(0, nq, qc, dc, qlp, dlp, n_bits, ks_eff, inv, *fast, tie_sum)
    _numpy_kernel.evaluate_chunk(qc, dc, qlp, dlp, n_bits, ks_eff, *slow, block=5)
    for name, a, b in zip(("nhist", "rhist", "ap_sum", "apk_sum", "relk"), fast, slow,
                          strict=True):
        if a.dtype.kind == "i":
            np.testing.assert_array_equal(a, b, err_msg=name)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-12, err_msg=name)
    assert (fast[1][:n_empty] == 0).all() and fast[1][n_empty:].sum() > 0
    np.testing.assert_allclose(tie_sum, tie_aware_ap_sum(fast[0], fast[1]), rtol=1e-13,
                               atol=1e-12)

    for policy in ("exclude", "zero"):
        monkeypatch.setenv(BACKEND_ENV, "numba")
        got = evaluate_retrieval(qb, db, ql, dl, k_values=ks, empty_queries=policy, chunk_size=4)
        monkeypatch.setenv(BACKEND_ENV, "numpy")
        want = evaluate_retrieval(qb, db, ql, dl, k_values=ks, empty_queries=policy)
        assert (got["backend"], want["backend"]) == ("numba", "numpy")
        assert got["n_empty_queries"] >= n_empty
        assert_close(got, want)


@pytest.mark.skipif(not numba_available(), reason="numba is not installed")
def test_numba_kernel_size_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    from bench.metrics import _numba_kernel

    assert _numba_kernel.fits(2**28 - 1, 64) and not _numba_kernel.fits(2**28, 64)
    assert _numba_kernel.fits(2**25 - 1, 4096) and not _numba_kernel.fits(2**25, 4096)
    # a database the packed counters cannot hold is evaluated by numpy (same values)
    qb, db, ql, dl = random_case(5, 24, 6, 90, 8, 0.2)
    want = evaluate_retrieval(qb, db, ql, dl, backend="numpy")
    monkeypatch.setattr(_numba_kernel, "fits", lambda n_database, n_bits: False)
    got = evaluate_retrieval(qb, db, ql, dl, backend="numba")
    assert got["backend"] == "numpy"
    assert got == want
