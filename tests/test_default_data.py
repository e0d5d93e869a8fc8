"""The generated default dataset (synthetic-scenes): determinism, statistics, captions, loading."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from bench import registry
from bench.datasets.scenes import SPEC, captions, generate, render, stats
from bench.datasets.scenes.generate import generate as gen
from bench.errors import BenchError
from bench.runner.data import load_dataset


def test_same_seed_same_bytes_and_items_do_not_depend_on_n():
    a, b = gen(40, seed=3), gen(40, seed=3)
    assert a["images"].tobytes() == b["images"].tobytes()
    assert a["captions"] == b["captions"] and a["labels"].tobytes() == b["labels"].tobytes()
    head = gen(15, seed=3)
    assert head["images"].tobytes() == a["images"][:15].tobytes()
    assert head["captions"] == a["captions"][:15]
    other = gen(40, seed=4)
    assert other["images"].tobytes() != a["images"].tobytes()


def test_streams_are_disjoint_by_construction():
    bench_items = gen(30, seed=0, stream="benchmark")
    train_items = gen(30, seed=0, stream="clip-train")
    digest = {x.tobytes() for x in bench_items["images"]}
    assert not digest & {x.tobytes() for x in train_items["images"]}


def test_images_captions_labels_look_right():
    data = gen(60, seed=1)
    assert data["images"].shape == (60, 64, 64, 3) and data["images"].dtype == np.uint8
    assert data["labels"].shape == (60, 24) and data["labels"].sum(1).min() >= 1
    assert all(isinstance(c, str) and 0 < len(c.split()) <= 30 for c in data["captions"])
    assert len(set(data["captions"])) > 40  # varied
    assert data["images"].std() > 20  # not blank


def test_label_statistics_follow_mirflickr():
    rng = np.random.default_rng(0)
    rows = np.array([stats.sample_labels(rng)[0] for _ in range(6000)])
    freq = rows.mean(0)
    assert np.abs(freq - np.asarray(stats.FREQUENCIES)).max() < 0.04
    for child, parent in stats.PARENT.items():  # the hierarchy always holds
        c, p = stats.INDEX[child], stats.INDEX[parent]
        assert (rows[rows[:, c] == 1, p] == 1).all()
    assert 2.5 < rows.sum(1).mean() < 5.0  # MIRFLICKR: 3.8 labels per row
    chance = ((rows[:500] @ rows[500:].T.astype(np.int64)) > 0).mean()
    assert 0.5 < chance < 0.65  # real: 0.56


def test_every_concept_is_drawn_and_can_be_mentioned():
    for concept in stats.CONCEPTS:
        labels = np.zeros(24, np.uint8)
        own = np.zeros(24, bool)
        labels[stats.INDEX[concept]] = own[stats.INDEX[concept]] = True
        if concept in stats.PARENT:
            labels[stats.INDEX[stats.PARENT[concept]]] = 1
        blank = render.render(np.zeros(24, np.uint8), np.zeros(24, bool),
                              np.random.default_rng(5))
        scene = render.render(labels, own, np.random.default_rng(5))
        assert concept in {m.concept for m in scene.mentions}, concept
        assert scene.image.tobytes() != blank.image.tobytes(), concept
        text = captions.write_caption(scene.mentions, labels, np.random.default_rng(0),
                                      p_keep=1.0, p_wrong=0.0)
        assert text.strip(), concept


def test_generator_reads_nothing_outside_the_project():
    for module in (stats, render, captions, generate):
        assert "shared" not in inspect.getsource(module).replace("shares", ""), module


def test_plugin_loads_and_caches(tmp_path):
    assert "synthetic-scenes" in registry.datasets.names()
    from bench.runner.driver import DEFAULT_DATASET

    assert DEFAULT_DATASET == "synthetic-scenes"
    assert set(SPEC.presets) >= {"default", "gnah", "small"}
    ds = load_dataset("synthetic-scenes", None, str(tmp_path), {"n_items": 120, "seed": 2})
    assert ds.provides() == {"images", "captions", "labels"}
    assert len(ds.items) == 120 and list(ds.class_names) == list(stats.CONCEPTS)
    folder = tmp_path / "synthetic-scenes"
    assert len(list(folder.glob("*/images.npy"))) == 1
    again = gen(120, seed=2)
    assert np.asarray(ds.items.images).tobytes() == again["images"].tobytes()
    assert list(ds.items.captions) == again["captions"]


def test_unknown_option_is_a_one_line_error(tmp_path):
    with pytest.raises(BenchError, match="has no option"):
        load_dataset("synthetic-scenes", None, str(tmp_path), {"n_itemz": 5})
