"""The shared open_clip backbone module (bench/encoders/backbone.py) and the training base:
loading, freezing, token outputs, caption truncation, image transforms, schedules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY_CLIP

from bench.encoders.backbone import (
    ImageLoader,
    encode_image_tokens,
    encode_text_tokens,
    eot_positions,
    freeze_blocks,
    load_backbone,
    parse_unfreeze,
    text_hidden,
)

TINY = TINY_CLIP


@pytest.fixture(scope="module")
def backbone():
    torch.manual_seed(0)
    return load_backbone(TINY)


def test_load_backbone_sizes_and_seeding(backbone):
    assert (backbone.image_size, backbone.width, backbone.embed_dim,
            backbone.context_length) == (32, 32, 48, 24)
    torch.manual_seed(0)
    again = load_backbone(TINY)
    for (name, a), b in zip(backbone.clip.state_dict().items(),
                            again.clip.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


def test_freeze_blocks(backbone):
    clip = backbone.clip
    two = freeze_blocks(clip, 1)
    names = {n for n, q in clip.named_parameters() if q.requires_grad}
    assert names and all(".resblocks.1." in n for n in names)
    assert len(two) == len(names)
    assert not any(q.requires_grad for q in clip.token_embedding.parameters())
    assert freeze_blocks(clip, 0) == [] and not any(q.requires_grad for q in clip.parameters())
    everything = freeze_blocks(clip, "all")
    assert len(everything) == len(list(clip.parameters()))
    assert all(q.requires_grad for q in clip.parameters())
    assert parse_unfreeze("all") == "all" and parse_unfreeze(2) == 2
    for bad in (-1, "some", 1.5):
        with pytest.raises(ValueError):
            parse_unfreeze(bad)


def test_token_outputs_match_open_clip(backbone):
    clip = backbone.clip.eval()
    ids = backbone.captions(["a dog on the grass", "two cats"])
    with torch.no_grad():
        eos, tokens = encode_text_tokens(clip, ids)
        assert tokens.shape == (2, 24, 48)
        assert torch.allclose(eos, clip.encode_text(ids), atol=1e-5)
        images = torch.randn(3, 3, 32, 32)
        pooled, patches = encode_image_tokens(clip, images)
        assert torch.allclose(pooled, clip.encode_image(images), atol=1e-5)
        assert patches.shape == (3, 4, 48)  # (32 / 16)² patches in the joint space
        assert clip.visual.output_tokens is False  # restored


def test_caption_truncation_keeps_the_end_token(backbone):
    long = " ".join(["dog"] * 40)
    full = backbone.captions([long, "a cat"])
    cut = backbone.captions([long, "a cat"], max_words=8)
    assert cut.shape == (2, 8)
    assert torch.equal(cut[0, :7], full[0, :7])
    assert cut[0, 7] == full[0, eot_positions(backbone.clip, full)[0]]  # end-of-text token
    assert torch.equal(cut[1], full[1, :8])  # a short caption is unchanged
    # shorter token rows run through the causal text transformer (positions and mask cut)
    with torch.no_grad():
        h_cut, h_full = text_hidden(backbone.clip, cut[1:]), text_hidden(backbone.clip, full[1:])
    assert torch.allclose(h_cut, h_full[:, :8], atol=1e-5)


def test_image_modes():
    rng = np.random.default_rng(0)
    wide = rng.integers(0, 256, (40, 80, 3), dtype=np.uint8)
    square = ImageLoader(32, train_mode="center", eval_mode="squash", ratio=1.0)
    squash = square.batch([0], [wide], train=False)
    center = square.batch([0], [wide], train=True)
    assert squash.shape == center.shape == (1, 3, 32, 32)
    assert not torch.allclose(squash, center)  # squash keeps the whole width
    rand = ImageLoader(32)  # PromptHash: random crop + flip for training
    a = rand.batch([1], [wide], train=True, generator=torch.Generator().manual_seed(1))
    b = rand.batch([1], [wide], train=True, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    with pytest.raises(ValueError):
        ImageLoader(32, train_mode="zoom")


def test_named_schedules():
    from bench.training.schedule import resolve_schedule

    table = {"reference": {"epochs": 9, "batch_size": 8, "eval_batch_size": 8,
                           "max_train": None},
             "quick": {"epochs": 1, "batch_size": 4, "eval_batch_size": 4, "max_train": 10}}
    assert resolve_schedule({"schedule": "auto"}, "coco", table, "m")["epochs"] == 9
    assert resolve_schedule({"schedule": "auto"}, "synthetic-scenes", table,
                            "m")["schedule"] == "quick"
    assert resolve_schedule({"schedule": "quick", "max_train": 0}, "x", table,
                            "m")["max_train"] == 0
    with pytest.raises(ValueError, match="schedule must be"):
        resolve_schedule({"schedule": "long"}, "x", table, "m")
