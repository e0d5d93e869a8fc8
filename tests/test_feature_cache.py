"""The feature cache: miss, hit, invalidation, and its use by ``bench run`` on the default data."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from bench.cli import main
from bench.encoders.features import attach_features, feature_file, feature_key
from bench.encoders.models import resolve_encoder
from bench.runner.data import load_dataset, with_features

N = 120


@pytest.fixture(scope="module")
def scenes(tmp_path_factory):
    cache = tmp_path_factory.mktemp("cache")
    return load_dataset("synthetic-scenes", None, str(cache), {"n_items": N}), cache


@pytest.fixture(scope="module")
def bundled():
    return resolve_encoder("bundled")


def test_miss_then_hit(scenes, bundled, tmp_path):
    ds, _ = scenes
    logs: list[str] = []
    first = attach_features(ds, bundled, tmp_path, log=logs.append, progress=False)
    assert "extracting features with bundled" in logs[0] and f"({N} pairs)" in logs[0]
    path = Path(first.info["features"]["file"])
    assert path.is_file() and path.is_relative_to(tmp_path / "features" / "synthetic-scenes")
    img, txt = first.items.image_features, first.items.text_features
    assert img.shape == (N, 256) and txt.shape == (N, 256) and img.dtype == np.float32
    assert ds.items.image_features is None  # the loaded dataset itself is untouched
    mtime = path.stat().st_mtime_ns
    logs.clear()
    second = attach_features(ds, bundled.as_config(), tmp_path, log=logs.append)
    assert logs[0].startswith("bench: features cached") and second.info["features"]["cache_hit"]
    assert np.array_equal(second.items.image_features, img)
    assert np.array_equal(second.items.text_features, txt)
    assert path.stat().st_mtime_ns == mtime


def test_invalidation(scenes, bundled, tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    ds, cache = scenes
    base = feature_key(ds, bundled)
    # other weights (one tensor changed) -> another sha256 -> another entry
    state = load_file(str(bundled.weights))
    state["logit_scale"] = state["logit_scale"] + 1
    other = tmp_path / "retrained.safetensors"
    save_file(state, str(other))
    changed = resolve_encoder("bundled", other)
    assert changed.weights_sha256 != bundled.weights_sha256
    assert feature_key(ds, changed) != base
    # other preprocessing -> another entry
    pre = {**bundled.preprocessing, "mean": [0.5, 0.5, 0.5]}
    assert feature_key(ds, replace(bundled, preprocessing=pre)) != base
    # other items (seed or size) -> another entry
    ds_other = load_dataset("synthetic-scenes", None, str(cache), {"n_items": N, "seed": 1})
    assert feature_key(ds_other, bundled) != base
    # a corrupt entry is recomputed
    path = feature_file(tmp_path, ds, bundled)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not an npz")
    logs: list[str] = []
    again = attach_features(ds, bundled, tmp_path, log=logs.append, progress=False)
    assert "extracting" in logs[0] and again.items.image_features.shape == (N, 256)
    assert torch is not None


def test_datasets_with_features_are_left_alone(tmp_path, bundled):
    ds = load_dataset("synthetic-features", None, str(tmp_path), {"n_items": 300, "dim": 16})
    out = with_features(ds, ("image_features", "text_features"), bundled.as_config(),
                        str(tmp_path))
    assert out is ds and not (tmp_path / "features").exists()
    scenes = load_dataset("synthetic-scenes", None, str(tmp_path), {"n_items": 50})
    assert with_features(scenes, ("images", "captions"), bundled.as_config(),
                         str(tmp_path)) is scenes


def test_bench_run_extracts_once_and_keys_on_the_encoder(tmp_path, capsys):
    args = ["run", "--methods", "lsh,cca-itq", "--bits", "16", "--dataset-opt", "n_items=600",
            "--preset", "small", "--results", str(tmp_path), "--no-ray"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert out.count("bench: extracting features with bundled (cmh-tiny-clip) for "
                     "synthetic-scenes (600 pairs)") == 1
    records = [json.loads(p.read_text()) for p in (tmp_path / "records").rglob("*.json")]
    assert len(records) == 2
    for rec in records:
        assert rec["dataset"] == "synthetic-scenes"
        assert rec["encoder"]["name"] == "bundled" and len(rec["encoder"]["weights_sha256"]) == 64
        assert rec["definition"]["encoder"] == rec["encoder"]
        assert rec["features"]["file"].startswith(str(tmp_path / "cache" / "features"))
    cached = list((tmp_path / "cache" / "features").rglob("*.npz"))
    assert len(cached) == 1
    assert main(args) == 0  # rerun: features from the cache, results already there
    out = capsys.readouterr().out
    assert "bench: features cached" in out and "extracting" not in out
    assert "0 to run, 2 already finished" in out


def test_encoder_identity_is_part_of_the_result_key(bundled, tmp_path):
    from bench import registry
    from bench.runner.grid import RunContext, make_trial

    spec = registry.methods.get("lsh")
    preset = registry.datasets.get("synthetic-scenes").preset(None)

    def trial(encoder):
        ctx = RunContext(dataset="synthetic-scenes", preset=preset, results_dir=str(tmp_path),
                         cache_dir=str(tmp_path), data_fingerprint="f" * 64, encoder=encoder)
        return make_trial(spec, [16], None, 0, dict(spec.defaults), ctx)

    plain, a = trial(None), trial(bundled.as_config())
    b = trial({**bundled.as_config(), "weights_sha256": "0" * 64})
    assert len({plain.key, a.key, b.key}) == 3
    assert "weights" not in a.definition.encoder  # paths never define a result
    assert a.encoder["weights"] == bundled.weights
    moved = trial({**bundled.as_config(), "weights": "/elsewhere/w.safetensors"})
    assert moved.key == a.key


def test_a_warm_process_attaches_cached_features_once(scenes, bundled, tmp_path):
    """Trial after trial in one worker: the same featured dataset object (so the split's
    encode views are shared too), the same arrays; a rewritten cache entry is read again."""
    from bench.runner.data import prepare

    ds, _ = scenes
    inputs = ("image_features", "text_features")
    first = with_features(ds, inputs, bundled.as_config(), str(tmp_path), log=lambda m: None)
    logs: list[str] = []
    second = with_features(ds, inputs, bundled.as_config(), str(tmp_path), log=logs.append)
    assert second is first and "already loaded in this process" in logs[0]  # not re-read
    from bench.plugins import Preset

    preset = Preset(name="tiny", query=20, validation=20)
    a = prepare(first, preset, None, 0, inputs)
    b = prepare(second, preset, None, 0, inputs)
    assert a.retrieval is b.retrieval  # the per-process view cache hits
    path = Path(first.info["features"]["file"])
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    np.savez(path, **arrays)  # same content, a new file: read again, same features
    third = with_features(ds, inputs, bundled.as_config(), str(tmp_path), log=lambda m: None)
    assert third is not first
    assert np.array_equal(third.items.image_features, first.items.image_features)
