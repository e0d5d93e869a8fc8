"""The feature cache: frozen-encoder features computed once per (dataset items, encoder).

An entry is ``<cache>/features/<dataset>/<encoder>-<key>.npz`` holding ``image_features`` and
``text_features`` (float32, L2-normalised, one row per dataset item) and a JSON description.
Its key is a SHA-256 of the feature format, the dataset's name and content fingerprint (the
generator's identity for generated data; otherwise the captions and the images' bytes or file
names), the number of items, and the encoder's identity (name, architecture, weights SHA-256,
preprocessing): a change to any of them is a new entry, so stale features are never read.
Writes are atomic (temporary file, then rename), so concurrent trials or drivers are safe.

The driver computes features before any trial starts (``bench run`` prints "bench: extracting
features with ..." or "bench: features cached (...)"); trials then only read the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.encoders.models import EncoderSpec, encode_images, encode_texts, load_encoder
from bench.errors import BenchError
from bench.fingerprint import items_fingerprint
from bench.plugins import LoadedDataset

FEATURE_FORMAT = 1


def feature_key(ds: LoadedDataset, encoder: EncoderSpec) -> str:
    ident = {"format": FEATURE_FORMAT, "dataset": ds.name, "items": len(ds.items),
             "fingerprint": items_fingerprint(ds), "encoder": encoder.identity()}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


def feature_file(cache_dir: Path, ds: LoadedDataset, encoder: EncoderSpec) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in encoder.name)
    return (Path(cache_dir) / "features" / ds.name
            / f"{safe}-{feature_key(ds, encoder)[:24]}.npz")


def needs_features(ds: LoadedDataset) -> bool:
    """True when ``ds`` has raw images and captions but no features of its own."""
    have = ds.provides()
    return not {"image_features", "text_features"} <= have and {"images", "captions"} <= have


def _read(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    try:
        with np.load(path, allow_pickle=False) as z:
            return z["image_features"], z["text_features"]
    except (OSError, ValueError, KeyError):
        return None


def attach_features(ds: LoadedDataset, encoder: EncoderSpec | Mapping[str, Any],
                    cache_dir: str | os.PathLike, compute: bool = True,
                    log: Callable[[str], None] | None = None,
                    progress: bool = True) -> LoadedDataset:
    """``ds`` with image/text features of ``encoder`` attached, from the cache when present.

    Returns ``ds`` itself when it has features of its own. A missing entry is computed (once,
    with a progress bar on stderr) when ``compute``; otherwise it is a BenchError. The returned
    dataset's ``info["features"]`` tells the file, the key and whether it was a cache hit.
    """
    if not needs_features(ds):
        return ds
    spec = encoder if isinstance(encoder, EncoderSpec) else EncoderSpec.from_config(
        dict(encoder))
    log = log or (lambda msg: print(msg, flush=True))
    path = feature_file(Path(cache_dir), ds, spec)
    arrays = _read(path) if path.is_file() else None
    hit = arrays is not None
    if hit:
        log(f"bench: features cached ({spec.label()}, {ds.name}, {len(ds.items):,} pairs: "
            f"{path})")
    else:
        if not compute:
            raise BenchError(f"no cached features of {spec.label()} for {ds.name} at {path}")
        log(f"bench: extracting features with {spec.label()} for {ds.name} "
            f"({len(ds.items):,} pairs) ...")
        t0 = time.perf_counter()
        enc = load_encoder(spec)
        img = encode_images(enc, ds.items.images, progress=progress)
        txt = encode_texts(enc, ds.items.captions, progress=progress)
        meta = {"format": FEATURE_FORMAT, "dataset": ds.name, "items": len(ds.items),
                "fingerprint": items_fingerprint(ds), "encoder": spec.identity(),
                "seconds": time.perf_counter() - t0,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, image_features=img, text_features=txt, meta=np.array(json.dumps(meta)))
        tmp.replace(path)
        arrays = (img, txt)
        log(f"bench: features of {len(img):,} pairs ({img.shape[1]}-d) in "
            f"{meta['seconds']:.1f} s, cached at {path}")
    img, txt = arrays
    if len(img) != len(ds.items) or len(txt) != len(ds.items):
        raise BenchError(f"feature cache entry {path} has {len(img)} rows for {len(ds.items)} "
                         "items; delete it")
    items = replace(ds.items, image_features=img, text_features=txt)
    info = {**dict(ds.info), "features": {"file": str(path), "key": path.stem.rsplit("-", 1)[-1],
                                          "encoder": spec.identity(), "cache_hit": hit}}
    return replace(ds, items=items, info=info)
