"""Frozen image-text encoders: the bundled small CLIP, any open_clip model with local weights,
and the on-disk feature cache shared by every trial of a sweep.

Importing this package is light (no torch, no open_clip); the heavy parts load on first use:

* :mod:`bench.encoders.compat` - ``import_open_clip()`` (the torchvision remedy, in one place);
* :mod:`bench.encoders.models` - ``resolve_encoder``, ``load_encoder``, ``get_transforms``;
* :mod:`bench.encoders.features` - ``attach_features`` and the feature cache;
* :mod:`bench.encoders.tiny_clip` - the bundled model's config and assets;
* :mod:`bench.encoders.train` - ``python -m bench train-clip``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["attach_features", "get_transforms", "load_encoder", "resolve_encoder"]


def __getattr__(name: str) -> Any:
    if name in ("resolve_encoder", "load_encoder", "get_transforms"):
        from bench.encoders import models

        return getattr(models, name)
    if name == "attach_features":
        from bench.encoders.features import attach_features

        return attach_features
    raise AttributeError(name)
