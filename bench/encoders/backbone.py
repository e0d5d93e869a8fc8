"""Trainable open_clip backbones for end-to-end hashing methods (PromptHash, DCHMT, MITH, DSPH,
DCMH end to end): loading, freezing, token-level outputs, and batches of images and captions.

* :func:`load_backbone` - any open_clip model: ``"bundled"`` (the project's small CLIP) by
  default, an open_clip config name with a *local* weights file, or a randomly initialised model
  (``weights="random"`` or a config dict, for tests and timing). Nothing is ever downloaded.
* :func:`freeze_blocks` - freeze the model, then unfreeze its last ``n`` vision and text blocks
  (or everything, ``"all"``, as the CLIP-hashing references fine-tune the whole model).
* :func:`encode_image_tokens`, :func:`encode_text_tokens` - the joint-space (projected) global
  feature plus every token, for methods that work on tokens (MITH).
* :class:`ImageLoader` - the references' CLIP preprocessing scaled to the model (random crop +
  flip for training, centre crop for encoding), with an in-memory cache of resized images;
  :meth:`Backbone.captions` - caption token ids.

The installed open_clip package is never patched; everything reads the model's own attributes,
so any size (ViT-B/16 or the bundled 64-pixel model) works without code changes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

Unfreeze = int | Literal["all"]


def import_open_clip() -> Any:
    """open_clip through the project's torchvision remedy."""
    from bench.encoders.compat import import_open_clip as _imp

    return _imp()


def build_open_clip(model: str | Mapping[str, Any], weights: str | None = None) -> nn.Module:
    """An open_clip CLIP: ``model`` is a config name (built-in or registered) or a config dict
    (``embed_dim``, ``vision_cfg``, ``text_cfg``, optional ``quick_gelu``) for a randomly
    initialised model; ``weights`` a local state-dict file."""
    oc = import_open_clip()
    if isinstance(model, Mapping):
        from open_clip.model import CLIP

        cfg = dict(model)
        clip = CLIP(embed_dim=cfg.pop("embed_dim"), vision_cfg=cfg.pop("vision_cfg"),
                    text_cfg=cfg.pop("text_cfg"), **cfg)
        if weights:
            oc.load_checkpoint(clip, weights)
        return clip
    return oc.create_model(model, pretrained=weights or None, weights_only=True)


@dataclass
class Backbone:
    """A loaded open_clip CLIP with its tokenizer and image preprocessing."""

    clip: nn.Module
    tokenize: Callable[[list[str]], torch.Tensor]
    mean: Sequence[float] = OPENAI_MEAN
    std: Sequence[float] = OPENAI_STD
    preprocessing: dict[str, Any] = field(default_factory=dict)

    @property
    def image_size(self) -> int:
        size = self.clip.visual.image_size
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    @property
    def width(self) -> int:
        """Text transformer width."""
        return int(self.clip.transformer.width)

    @property
    def embed_dim(self) -> int:
        """Joint embedding size (the projected image/text feature)."""
        return projected_dim(self.clip)

    @property
    def context_length(self) -> int:
        return int(self.clip.positional_embedding.shape[0])

    def image_loader(self, cache_mb: float = 2048, train_mode: ImageMode = "random",
                     eval_mode: ImageMode = "center", ratio: float = 256 / 224) -> ImageLoader:
        return ImageLoader(self.image_size, self.mean, self.std, cache_mb, train_mode,
                           eval_mode, ratio)

    def captions(self, captions: Sequence[Any], max_words: int | None = None) -> torch.Tensor:
        """(N, L) token ids of the captions, L = the context length, or ``max_words`` when
        smaller (longer captions keep their first ``max_words - 1`` tokens and end with the
        end-of-text token, as the DCHMT-family loaders truncate)."""
        ids = self.tokenize([str(c) for c in captions])
        if max_words is None or max_words >= ids.shape[1]:
            return ids
        if max_words < 2:
            raise ValueError(f"max_words must be at least 2, not {max_words}")
        eot = eot_positions(self.clip, ids)
        rows = torch.arange(ids.shape[0])
        end_token = ids[rows, eot]
        out = ids[:, :max_words].clone()
        cut = eot >= max_words
        out[cut, max_words - 1] = end_token[cut]
        return out


def load_backbone(model: str | Mapping[str, Any] = "bundled", weights: str | None = None,
                  device: str = "cpu") -> Backbone:
    """An open_clip model, its tokenizer and preprocessing.

    * ``model`` a name (``"bundled"``, the project's small CLIP, or any open_clip config such as
      ``"ViT-B-16-quickgelu"``) and ``weights`` None or a local file: loaded through
      :mod:`bench.encoders.models` (never downloaded; None looks up the bundled checkpoint or
      ``$BENCH_WEIGHTS_DIR/<name>.safetensors``, a missing file is a one-line error);
    * ``weights="random"``, or ``model`` a config dict (``embed_dim``, ``vision_cfg``,
      ``text_cfg``): a randomly initialised model, seeded by the caller's torch seed.
    """
    if isinstance(model, Mapping) or weights == "random":
        from bench.encoders import tiny_clip

        oc = import_open_clip()
        tiny_clip.register(oc)  # "cmh-tiny-clip" is then a known config name
        clip = build_open_clip(model, None if weights == "random" else weights)
        length = int(clip.positional_embedding.shape[0])
        tok = oc.SimpleTokenizer(context_length=length)
        pre = getattr(clip.visual, "preprocess_cfg", None) or {}
        return Backbone(clip, lambda texts: tok(list(texts), context_length=length),
                        pre.get("mean", OPENAI_MEAN), pre.get("std", OPENAI_STD))
    from bench.encoders.models import load_encoder

    enc = load_encoder(str(model), weights, device=device)
    pre = dict(enc.spec.preprocessing)
    return Backbone(enc.model, enc.tokenizer, pre.get("mean", OPENAI_MEAN),
                    pre.get("std", OPENAI_STD), pre)


# -- freezing ------------------------------------------------------------------------------

def freeze_blocks(clip: nn.Module, unfreeze: Unfreeze = 2) -> list[nn.Parameter]:
    """Freeze ``clip``, then make trainable its last ``unfreeze`` vision and text transformer
    blocks (an int ≥ 0), or every parameter (``"all"``). Returns the trainable parameters,
    vision blocks first, then text blocks (``"all"``: ``clip.parameters()`` order)."""
    if unfreeze == "all":
        params = list(clip.parameters())
        for p in params:
            p.requires_grad_(True)
        return params
    n = int(unfreeze)
    if n < 0:
        raise ValueError(f"unfreeze must be 'all' or a number of blocks >= 0, not {unfreeze!r}")
    for p in clip.parameters():
        p.requires_grad_(False)
    trainable: list[nn.Parameter] = []
    if n > 0:
        for blocks in (clip.visual.transformer.resblocks, clip.transformer.resblocks):
            for block in blocks[-n:]:
                for p in block.parameters():
                    p.requires_grad_(True)
                    trainable.append(p)
    return trainable


def parse_unfreeze(value: Any) -> Unfreeze:
    """``"all"`` or a non-negative int from a parameter value."""
    if value == "all":
        return "all"
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"unfreeze_blocks must be 'all' or an integer >= 0, not {value!r}") \
            from None
    if n < 0 or n != float(value):
        raise ValueError(f"unfreeze_blocks must be 'all' or an integer >= 0, not {value!r}")
    return n


def frozen_keys(module: nn.Module, prefix: str = "") -> set[str]:
    """State-dict keys of ``module``'s parameters that do not require gradients."""
    return {f"{prefix}{n}" for n, p in module.named_parameters() if not p.requires_grad}


# -- forward helpers -------------------------------------------------------------------------

def run_transformer(transformer: nn.Module, x: torch.Tensor,
                    attn_mask: torch.Tensor | None) -> torch.Tensor:
    """An open_clip ``Transformer`` on batch-first ``x`` (B, L, W), whatever its layout."""
    if getattr(transformer, "batch_first", True):
        return transformer(x, attn_mask=attn_mask)
    return transformer(x.permute(1, 0, 2), attn_mask=attn_mask).permute(1, 0, 2)


def project_text(clip: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``x`` (..., W) through the text projection (a matrix, a Linear or none)."""
    proj = clip.text_projection
    if proj is None:
        return x
    return proj(x) if isinstance(proj, nn.Linear) else x @ proj


def projected_dim(clip: nn.Module) -> int:
    proj = clip.text_projection
    if proj is None:
        return int(clip.transformer.width)
    if isinstance(proj, nn.Linear):
        return int(proj.out_features)
    return int(proj.shape[1])


def eot_positions(clip: nn.Module, text: torch.Tensor) -> torch.Tensor:
    """Index of each caption's end-of-text token (argmax of the ids for the CLIP BPE)."""
    pool = getattr(clip, "text_pool_type", "argmax")
    if pool == "last":
        return torch.full((text.shape[0],), text.shape[1] - 1, dtype=torch.long,
                          device=text.device)
    if pool == "eos" and getattr(clip, "text_eos_id", None) is not None:
        return (text == clip.text_eos_id).int().argmax(dim=-1)
    return text.argmax(dim=-1)


def text_transformer(clip: nn.Module, text: torch.Tensor) -> torch.Tensor:
    """Causal text transformer outputs, (B, L, W), before ``ln_final``; ``L`` may be shorter
    than the model's context length (positions and mask are cut to it)."""
    n_ctx = text.shape[1]
    x = clip.token_embedding(text) + clip.positional_embedding[:n_ctx]
    mask = clip.attn_mask
    if mask is not None:
        mask = mask[:n_ctx, :n_ctx]
    return run_transformer(clip.transformer, x, mask)


def text_hidden(clip: nn.Module, text: torch.Tensor) -> torch.Tensor:
    """Causal text transformer outputs after ``ln_final``, (B, L, W), unprojected."""
    return clip.ln_final(text_transformer(clip, text))


def encode_text_tokens(clip: nn.Module, text: torch.Tensor
                       ) -> tuple[torch.Tensor, torch.Tensor]:
    """(end-of-text feature (B, D), every token projected (B, L, D)); the first equals
    ``clip.encode_text(text)`` (unnormalised)."""
    tokens = project_text(clip, text_hidden(clip, text))
    rows = torch.arange(text.shape[0], device=text.device)
    return tokens[rows, eot_positions(clip, text)], tokens


def encode_image_tokens(clip: nn.Module, images: torch.Tensor
                        ) -> tuple[torch.Tensor, torch.Tensor]:
    """(pooled image feature (B, D) = ``clip.encode_image``, patch tokens after ``ln_post``
    projected into the joint space (B, P, D))."""
    visual = clip.visual
    before = visual.output_tokens
    visual.output_tokens = True
    try:
        pooled, tokens = visual(images)
    finally:
        visual.output_tokens = before
    if visual.proj is not None:
        tokens = tokens @ visual.proj
    return pooled, tokens


def padding_mask(clip: nn.Module, text: torch.Tensor) -> torch.Tensor:
    """(B, L) True at padding positions (after each caption's end-of-text token)."""
    pos = torch.arange(text.shape[1], device=text.device).unsqueeze(0)
    return pos > eot_positions(clip, text).unsqueeze(1)


# -- images ------------------------------------------------------------------------------------

ImageMode = Literal["random", "center", "squash"]


class ImageLoader:
    """Image loading and the references' preprocessing, scaled to the model (input size S).

    Modes: ``random`` (PromptHash training, CCRG-XJU/PromptHash@6bfbe3f, load_data.py): shorter side
    resized to R = round(S·``ratio``) (``ratio`` 256/224: R = 256 for S = 224), RandomCrop(S) and
    RandomHorizontalFlip; ``center``: shorter side to R, CenterCrop(S) (PromptHash encoding; with
    ``ratio`` 1 the DCHMT/MITH/DSPH training transform); ``squash``: resized to S×S ignoring the
    aspect ratio (the DCHMT/MITH/DSPH encoding transform). Resizing is bicubic (PIL); then the
    model's mean/std normalisation (OpenAI CLIP's by default). Resized images are kept in memory
    (uint8, up to ``cache_mb``), keyed by the dataset index. Items are paths or H×W×3 (or H×W)
    uint8 arrays.
    """

    def __init__(self, size: int, mean: Sequence[float] = OPENAI_MEAN,
                 std: Sequence[float] = OPENAI_STD, cache_mb: float = 2048,
                 train_mode: ImageMode = "random", eval_mode: ImageMode = "center",
                 ratio: float = 256 / 224):
        for mode in (train_mode, eval_mode):
            if mode not in ("random", "center", "squash"):
                raise ValueError(f"image mode must be random, center or squash, not {mode!r}")
        self.size = int(size)
        self.resize = round(self.size * ratio)
        self.train_mode, self.eval_mode = train_mode, eval_mode
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
        self.budget = int(cache_mb * 2**20)
        self.used = 0
        self._cache: dict[tuple[int, bool], torch.Tensor] = {}

    def _resized(self, item: Any, square: bool) -> torch.Tensor:
        from PIL import Image

        if isinstance(item, (str, bytes)) or hasattr(item, "__fspath__"):
            with Image.open(item) as im:
                img = im.convert("RGB")
        else:
            arr = np.asarray(item)
            if arr.ndim == 2:
                arr = np.stack([arr] * 3, axis=-1)
            img = Image.fromarray(arr.astype(np.uint8)).convert("RGB")
        if square:
            size = (self.size, self.size)
        else:
            w, h = img.size
            scale = self.resize / min(w, h)
            size = (max(self.resize, round(w * scale)), max(self.resize, round(h * scale)))
        img = img.resize(size, Image.BICUBIC)
        return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).contiguous()

    def resized(self, key: int, item: Any, square: bool = False) -> torch.Tensor:
        """(3, h, w) uint8: shorter side = the resize size, or S×S when ``square``."""
        got = self._cache.get((key, square))
        if got is None:
            got = self._resized(item, square)
            if self.used + got.numel() <= self.budget:
                self._cache[(key, square)] = got
                self.used += got.numel()
        return got

    def batch(self, keys: Sequence[int], items: Sequence[Any], train: bool,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """Normalised (B, 3, S, S) float tensor (the training or the encoding transform)."""
        mode = self.train_mode if train else self.eval_mode
        s = self.size
        out = torch.empty(len(items), 3, s, s)
        for i, (key, item) in enumerate(zip(keys, items, strict=True)):
            img = self.resized(int(key), item, square=mode == "squash")
            h, w = img.shape[1:]
            if mode == "random":
                top = int(torch.randint(0, h - s + 1, (1,), generator=generator))
                left = int(torch.randint(0, w - s + 1, (1,), generator=generator))
                flip = bool(torch.rand(1, generator=generator) < 0.5)
            else:
                top, left, flip = (h - s) // 2, (w - s) // 2, False
            crop = img[:, top:top + s, left:left + s]
            if flip:
                crop = crop.flip(-1)
            out[i] = crop.float() / 255.0
        return (out - self.mean) / self.std
