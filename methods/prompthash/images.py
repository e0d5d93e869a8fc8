"""Image loading and the reference's preprocessing (prompthash.md §4.4), scaled to the model.

For a model of input size S the resize is R = round(S·256/224) (256 for 224): shorter side
resized to R (bicubic, PIL), then RandomHorizontalFlip + RandomCrop(S) for training or
CenterCrop(S) for encoding, then the model's mean/std normalisation (OpenAI CLIP's by default).
Resized images are kept in memory (uint8, up to ``cache_mb``), keyed by the dataset index.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


class ImageLoader:
    def __init__(self, size: int, mean: Sequence[float] = OPENAI_MEAN,
                 std: Sequence[float] = OPENAI_STD, cache_mb: float = 2048):
        self.size = int(size)
        self.resize = round(self.size * 256 / 224)
        self.mean = torch.tensor(mean, dtype=torch.float32).view(3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)
        self.budget = int(cache_mb * 2**20)
        self.used = 0
        self._cache: dict[int, torch.Tensor] = {}

    def _resized(self, item: Any) -> torch.Tensor:
        from PIL import Image

        if isinstance(item, (str, bytes)) or hasattr(item, "__fspath__"):
            with Image.open(item) as im:
                img = im.convert("RGB")
        else:
            arr = np.asarray(item)
            if arr.ndim == 2:
                arr = np.stack([arr] * 3, axis=-1)
            img = Image.fromarray(arr.astype(np.uint8)).convert("RGB")
        w, h = img.size
        scale = self.resize / min(w, h)
        nw, nh = max(self.resize, round(w * scale)), max(self.resize, round(h * scale))
        img = img.resize((nw, nh), Image.BICUBIC)
        return torch.from_numpy(np.asarray(img).copy()).permute(2, 0, 1).contiguous()

    def resized(self, key: int, item: Any) -> torch.Tensor:
        """(3, h, w) uint8, shorter side = the resize size."""
        got = self._cache.get(key)
        if got is None:
            got = self._resized(item)
            if self.used + got.numel() <= self.budget:
                self._cache[key] = got
                self.used += got.numel()
        return got

    def batch(self, keys: Sequence[int], items: Sequence[Any], train: bool,
              generator: torch.Generator | None = None) -> torch.Tensor:
        """Normalised (B, 3, S, S) float tensor."""
        s = self.size
        out = torch.empty(len(items), 3, s, s)
        for i, (key, item) in enumerate(zip(keys, items, strict=True)):
            img = self.resized(int(key), item)
            h, w = img.shape[1:]
            if train:
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
