"""Encoders: the open_clip import remedy, the custom config, local weight files, the bundled
CLIP, and the one-line offline error for a missing weights file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
import pytest

from bench.encoders import tiny_clip
from bench.encoders.models import (
    OPENCLIP_DEFAULTS,
    _image_batch,
    encode_images,
    encode_texts,
    get_transforms,
    load_encoder,
    locate_weights,
    resolve_encoder,
)
from bench.errors import BenchError

TINY_CFG = {"embed_dim": 32,
            "vision_cfg": {"image_size": 32, "patch_size": 16, "width": 32, "layers": 1,
                           "head_width": 16},
            "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 32, "heads": 2,
                         "layers": 1}}


@pytest.fixture(scope="module")
def oc():
    from bench.encoders.compat import import_open_clip

    return import_open_clip()


def test_import_open_clip_is_idempotent(oc):
    from bench.encoders.compat import import_open_clip, import_torchvision

    assert import_open_clip() is oc
    tv = import_torchvision()
    assert hasattr(tv, "transforms")
    d = OPENCLIP_DEFAULTS
    cfg = oc.transform.PreprocessCfg()
    assert (tuple(cfg.mean), tuple(cfg.std), cfg.interpolation, cfg.resize_mode) == (
        d["mean"], d["std"], d["interpolation"], d["resize_mode"])


def test_custom_config_registers_and_builds(oc):
    name = tiny_clip.register(oc)
    assert name == tiny_clip.MODEL_NAME and name in oc.list_models()
    assert tiny_clip.register(oc) == name  # twice is fine
    cfg = tiny_clip.config()
    assert cfg["vision_cfg"]["image_size"] == 64 and cfg["text_cfg"]["context_length"] == 32
    tok = oc.get_tokenizer(name)
    assert tuple(tok(["a dog on the beach"]).shape) == (1, 32)


def test_open_clip_model_from_a_local_weights_file(oc, tmp_path):
    import torch
    from safetensors.torch import save_file

    cfg_file = tmp_path / "bench-test-tiny.json"
    cfg_file.write_text(json.dumps(TINY_CFG))
    name = tiny_clip.register(oc, cfg_file)
    torch.manual_seed(0)
    model = oc.create_model(name)
    weights = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(weights))
    spec = resolve_encoder(name, weights)
    assert spec.model == name and len(spec.weights_sha256) == 64
    assert spec.preprocessing["image_size"] == 32
    enc = load_encoder(spec)
    for k, v in model.state_dict().items():
        assert torch.equal(enc.model.state_dict()[k], v), k
    bin_file = tmp_path / "tiny.bin"
    torch.save(model.state_dict(), bin_file)
    assert load_encoder(resolve_encoder(name, bin_file)).spec.weights == str(bin_file.resolve())
    imgs = np.random.default_rng(0).integers(0, 255, (3, 48, 48, 3), dtype=np.uint8)
    feats = encode_images(enc, imgs)  # other sizes go through the PIL transform
    assert feats.shape == (3, 32) and np.allclose(np.linalg.norm(feats, axis=1), 1, atol=1e-4)
    assert encode_texts(enc, ["a cat", "two dogs"]).shape == (2, 32)
    bad = tmp_path / "bad.safetensors"
    save_file({"nope": torch.zeros(2)}, str(bad))
    with pytest.raises(BenchError, match="cannot load weights"):
        load_encoder(resolve_encoder(name, bad))


def test_unknown_model_name(tmp_path):
    weights = tmp_path / "w.safetensors"
    weights.write_bytes(b"x")
    with pytest.raises(BenchError, match="unknown open_clip model 'ViT-B-33'.*ViT-B-32"):
        resolve_encoder("ViT-B-33", weights)


def test_missing_weights_is_a_fast_one_line_error(tmp_path, monkeypatch):
    monkeypatch.setenv("BENCH_WEIGHTS_DIR", str(tmp_path / "weights"))
    with pytest.raises(BenchError) as err:
        locate_weights("ViT-B-32")
    assert str(tmp_path / "weights" / "ViT-B-32.safetensors") in str(err.value)
    with pytest.raises(BenchError, match="nothere.bin does not exist"):
        locate_weights("ViT-B-16-quickgelu", tmp_path / "nothere.bin")
    env = {**os.environ, "BENCH_WEIGHTS_DIR": str(tmp_path / "weights"), "HF_HUB_OFFLINE": "1"}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "--methods", "lsh",
                           "--encoder", "ViT-B-32", "--results", str(tmp_path / "r")],
                          capture_output=True, text=True, env=env, timeout=120)
    elapsed = time.perf_counter() - t0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "ViT-B-32.safetensors" in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "r").exists()  # nothing written
    assert elapsed < 30  # no download retry loop (open_clip is not even imported)


def test_bundled_clip_checkpoint_and_record():
    assert tiny_clip.CHECKPOINT.is_file()
    assert tiny_clip.CHECKPOINT.stat().st_size <= 20 * 1024 * 1024
    record = json.loads(tiny_clip.TRAINING_RECORD.read_text())
    assert record["checkpoint_sha256"] == resolve_encoder("bundled").weights_sha256
    for key in ("i2t_r1", "i2t_r5", "t2i_r1", "t2i_r5"):
        assert 0.0 <= record["heldout_recall"][key] <= 1.0
    for rep in record["data"]["disjointness"].values():
        assert rep["identical_images"] == 0 and rep["identical_pairs"] == 0


def test_bundled_clip_matches_images_and_captions():
    from bench.datasets.scenes.generate import generate

    data = generate(64, seed=11, stream="clip-heldout")
    enc = load_encoder("bundled")
    img = encode_images(enc, data["images"])
    txt = encode_texts(enc, data["captions"])
    assert img.shape == (64, 256) and txt.shape == (64, 256)
    sims = img @ txt.T
    assert np.diag(sims).mean() > sims.mean() + 0.1  # trained, not random


def test_fast_image_path_equals_the_open_clip_transform():
    import torch
    from PIL import Image

    from bench.datasets.scenes.generate import generate

    transform, tokenizer = get_transforms("bundled")
    images = generate(4, seed=5)["images"]
    enc = load_encoder("bundled")
    fast = _image_batch(enc, images)
    slow = torch.stack([transform(Image.fromarray(x)) for x in images])
    assert torch.allclose(fast, slow, atol=1e-5)
    assert tuple(tokenizer(["a photo"]).shape) == (1, 32)
