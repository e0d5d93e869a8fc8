"""Generator and loader of the ``synthetic-scenes`` dataset (see ``__init__``).

Item ``i`` of stream ``s`` with seed ``k`` is drawn from its own random generator seeded with
``(STREAMS[s], k, i)``: items do not depend on how many are generated, and the benchmark stream
and the streams the bundled CLIP was trained and evaluated on never share a generator state.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.datasets.scenes import SPEC
from bench.datasets.scenes.captions import write_caption
from bench.datasets.scenes.render import SIZE, render
from bench.datasets.scenes.stats import CONCEPTS, sample_labels
from bench.plugins import DatasetPlugin, LoadedDataset, PairedData

#: Seed streams: the benchmark data, the bundled CLIP's training data and its held-out set.
STREAMS = {"benchmark": 0x5CE7E5, "clip-train": 0xC11F7, "clip-heldout": 0xC11F0}
GENERATOR_VERSION = "3"


def generate_item(index: int, seed: int = 0, stream: str = "benchmark", n_captions: int = 1
                  ) -> tuple[np.ndarray, list[str], np.ndarray]:
    """(image uint8 (64, 64, 3), ``n_captions`` captions, labels uint8 (24,)) of one item.

    Caption ``k`` has its own generator, so the first caption does not depend on how many
    are written (the bundled CLIP was trained with a fresh caption per epoch).
    """
    rng = np.random.default_rng([STREAMS[stream], int(seed), int(index)])
    labels, own = sample_labels(rng)
    scene = render(labels, own, rng)
    captions = [
        write_caption(scene.mentions, labels,
                      np.random.default_rng([STREAMS[stream], int(seed), int(index), 1 + k]))
        for k in range(n_captions)
    ]
    return scene.image, captions, labels


def _generate_range(args: tuple[int, int, int, str, int]) -> dict[str, Any]:
    start, n_items, seed, stream, n_captions = args
    images = np.empty((n_items, SIZE, SIZE, 3), np.uint8)
    labels = np.empty((n_items, len(CONCEPTS)), np.uint8)
    captions: list[list[str]] = []
    for row, i in enumerate(range(start, start + n_items)):
        images[row], caps, labels[row] = generate_item(i, seed, stream, n_captions)
        captions.append(caps)
    return {"images": images, "captions": captions, "labels": labels}


def generate(n_items: int, seed: int = 0, stream: str = "benchmark", start: int = 0,
             n_captions: int = 1, progress: bool = False) -> dict[str, Any]:
    """Items ``start .. start + n_items - 1``: images (N, 64, 64, 3) uint8, labels (N, 24)
    uint8 and captions (a list of strings, or of lists of ``n_captions`` strings)."""
    chunk = 500
    bar = None
    if progress:
        import sys

        from tqdm import tqdm

        bar = tqdm(total=n_items, desc="bench: generating scenes", unit="pair",
                   file=sys.stderr, mininterval=1.0)
    parts: list[dict[str, Any]] = []
    for s in range(start, start + n_items, chunk):
        parts.append(_generate_range((s, min(chunk, start + n_items - s), seed, stream,
                                      n_captions)))
        if bar is not None:
            bar.update(len(parts[-1]["labels"]))
    if bar is not None:
        bar.close()
    captions = [c for p in parts for c in p["captions"]]
    empty = {"images": np.empty((0, SIZE, SIZE, 3), np.uint8),
             "labels": np.empty((0, len(CONCEPTS)), np.uint8)}
    return {
        "images": np.concatenate([p["images"] for p in parts]) if parts else empty["images"],
        "labels": np.concatenate([p["labels"] for p in parts]) if parts else empty["labels"],
        "captions": [c[0] for c in captions] if n_captions == 1 else captions,
    }


def fingerprint(n_items: int, seed: int, stream: str = "benchmark", n_captions: int = 1) -> str:
    """Identity of a generated set (generator version, stream, seed, size)."""
    ident = {"generator": GENERATOR_VERSION, "stream": stream, "seed": int(seed),
             "n_items": int(n_items)}
    if n_captions != 1:
        ident["n_captions"] = int(n_captions)
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


def load_or_generate(cache_dir: Path, n_items: int, seed: int, stream: str = "benchmark",
                     n_captions: int = 1, progress: bool = True) -> tuple[dict[str, Any], Path]:
    """The generated set from ``cache_dir/synthetic-scenes/<id>/``, generating it once.

    Images are memory-mapped. Writes go to a temporary folder renamed into place, so
    concurrent writers (Ray trials, several drivers) never see a half-written entry.
    """
    key = fingerprint(n_items, seed, stream, n_captions)
    folder = Path(cache_dir) / "synthetic-scenes" / key[:20]
    if not (folder / "meta.json").is_file():
        t0 = time.perf_counter()
        data = generate(n_items, seed, stream, n_captions=n_captions, progress=progress)
        tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        np.save(tmp / "images.npy", data["images"])
        np.save(tmp / "labels.npy", data["labels"])
        (tmp / "captions.json").write_text(json.dumps(data["captions"]))
        meta = {"fingerprint": key, "n_items": n_items, "seed": seed, "stream": stream,
                "n_captions": n_captions, "generator": GENERATOR_VERSION,
                "seconds": time.perf_counter() - t0}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        try:
            tmp.rename(folder)
        except OSError:  # another process finished first
            shutil.rmtree(tmp, ignore_errors=True)
    images = np.load(folder / "images.npy", mmap_mode="r")
    labels = np.load(folder / "labels.npy")
    captions = json.loads((folder / "captions.json").read_text())
    return {"images": images, "captions": captions, "labels": labels}, folder


class SyntheticScenes(DatasetPlugin):
    """Generates (or reloads from the cache) the synthetic image-caption scenes."""

    spec = SPEC

    def load(self) -> LoadedDataset:
        unknown = set(self.options) - {"n_items", "seed"}
        if unknown:
            from bench.errors import BenchError

            raise BenchError(f"dataset {self.spec.name!r} has no option(s) {sorted(unknown)} "
                             "(options: n_items, seed)")
        n_items = int(self.options.get("n_items", 10000))
        seed = int(self.options.get("seed", 0))
        data, folder = load_or_generate(self.cache_dir, n_items, seed)
        items = PairedData(index=np.arange(n_items), labels=data["labels"],
                           images=data["images"], captions=data["captions"])
        return LoadedDataset(
            name=self.spec.name, items=items, class_names=list(CONCEPTS),
            info={"options": {"n_items": n_items, "seed": seed}, "cache_dir": str(folder),
                  "fingerprint": fingerprint(n_items, seed)},
        )
