"""Seeded splits: disjointness, determinism, budgets, checksums."""

from __future__ import annotations

import numpy as np
import pytest

from bench.errors import BenchError
from bench.plugins import Preset
from bench.splits import (
    Split,
    assert_disjoint,
    budget_label,
    draw_budget,
    make_split,
    parse_budget,
)

PRESET = Preset("t", query=100, validation=50, seed=3)


def test_split_is_disjoint_and_complete():
    s = make_split(1000, PRESET)
    assert s.sizes() == {"query": 100, "retrieval": 900, "validation": 50, "train_pool": 850}
    assert not set(s.query) & set(s.retrieval)
    assert not set(s.validation) & set(s.train_pool)
    assert set(s.validation) | set(s.train_pool) == set(s.retrieval)
    assert set(s.query) | set(s.retrieval) == set(range(1000))


def test_split_is_deterministic_and_seeded():
    a, b = make_split(1000, PRESET), make_split(1000, PRESET)
    assert a.checksum() == b.checksum()
    assert all(np.array_equal(getattr(a, f), getattr(b, f))
               for f in ("query", "retrieval", "validation", "train_pool"))
    c = make_split(1000, Preset("t", query=100, validation=50, seed=4))
    assert c.checksum() != a.checksum()


def test_retrieval_and_pool_sizes():
    s = make_split(1000, Preset("t", query=100, validation=50, retrieval=500, train_pool=200))
    assert s.sizes() == {"query": 100, "retrieval": 500, "validation": 50, "train_pool": 200}
    assert_disjoint(s)


def test_fixed_split():
    fixed = {"query": np.arange(10), "retrieval": np.arange(10, 100)}
    s = make_split(100, Preset("classic", query=10, validation=5, fixed=True), fixed)
    assert np.array_equal(s.query, np.arange(10))
    assert len(s.retrieval) == 90 and len(s.validation) == 5


def test_leak_is_caught():
    bad = Split(query=np.array([1, 2]), retrieval=np.array([2, 3, 4]),
                validation=np.array([3]), train_pool=np.array([4]))
    with pytest.raises(AssertionError, match="query items also in retrieval"):
        assert_disjoint(bad)
    bad = Split(query=np.array([1]), retrieval=np.array([2, 3]),
                validation=np.array([3]), train_pool=np.array([3]))
    with pytest.raises(AssertionError, match="validation and training pool overlap"):
        assert_disjoint(bad)


def test_budgets():
    s = make_split(1000, PRESET)
    b80 = draw_budget(s, 80, seed=42)
    assert len(b80) == 80 and set(b80) <= set(s.train_pool)
    assert np.array_equal(b80, draw_budget(s, 80, seed=42))
    assert not np.array_equal(b80, draw_budget(s, 80, seed=1))
    assert len(draw_budget(s, 0.5, seed=0)) == 425
    assert np.array_equal(draw_budget(s, None, seed=0), s.train_pool)
    assert not set(b80) & set(s.query) and not set(b80) & set(s.validation)
    with pytest.raises(BenchError, match="larger than the training pool"):
        draw_budget(s, 851, seed=0)


@pytest.mark.parametrize("text,value", [("all", None), ("160", 160), ("0.25", 0.25)])
def test_parse_budget(text, value):
    assert parse_budget(text) == value
    assert budget_label(value) == ("all" if value is None else text)


@pytest.mark.parametrize("text", ["-3", "0", "abc", "1.5"])
def test_parse_budget_rejects(text):
    with pytest.raises(BenchError, match="budget"):
        parse_budget(text)


def test_too_small_dataset():
    with pytest.raises(BenchError, match="needs at least"):
        make_split(100, PRESET)


def test_class_balanced_preset_through_prepare(tmp_path):
    """A class-balanced preset gets the labels from the harness's data preparation."""
    from bench.runner.data import load_dataset, prepare

    ds = load_dataset("synthetic-features", None, str(tmp_path), {"n_items": 1500, "dim": 16})
    preset = Preset("balanced", query=0, validation=50, query_per_class=5, seed=1)
    data = prepare(ds, preset, 40, 0, ("image_features", "text_features"))
    labels = ds.items.labels
    assert len(data.split.query) >= 5
    assert (labels[data.split.query].sum(0) >= 1).all()
    assert not set(data.split.query) & set(data.train_index)


def test_encode_views_are_read_only_and_shared_between_trials_of_one_seed(tmp_path):
    """Trials cutting the same rows share one read-only set of encode views (no per-trial copy
    of the retrieval database); another seed gets its own rows."""
    from bench.runner.data import load_dataset, prepare

    ds = load_dataset("synthetic-features", None, str(tmp_path), {"n_items": 1500, "dim": 16})
    preset = Preset("p", query=100, validation=50, seed=1)
    inputs = ("image_features", "text_features")
    a, b = (prepare(ds, preset, 40, 0, inputs) for _ in range(2))
    assert b.retrieval.image_features is a.retrieval.image_features
    np.testing.assert_array_equal(a.retrieval.image_features,
                                  ds.items.image_features[a.retrieval_index])
    with pytest.raises(ValueError, match="read-only"):
        a.retrieval.text_features[0, 0] = 1.0
    assert a.train.image_features.flags.writeable  # a trial's own small copy
    c = prepare(ds, preset, 40, 1, inputs)
    assert not np.array_equal(c.retrieval_index, a.retrieval_index)
    np.testing.assert_array_equal(c.retrieval.text_features,
                                  ds.items.text_features[c.retrieval_index])
