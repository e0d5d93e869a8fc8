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
GENERATOR_VERSION = "1"


def generate_item(index: int, seed: int = 0, stream: str = "benchmark"
                  ) -> tuple[np.ndarray, str, np.ndarray]:
    """(image uint8 (64, 64, 3), caption, labels uint8 (24,)) of one item."""
    rng = np.random.default_rng([STREAMS[stream], int(seed), int(index)])
    labels, own = sample_labels(rng)
    scene = render(labels, own, rng)
    return scene.image, write_caption(scene.mentions, labels, rng), labels


def generate(n_items: int, seed: int = 0, stream: str = "benchmark", start: int = 0,
             progress: bool = False) -> dict[str, Any]:
    """Items ``start .. start + n_items - 1``: images (N, 64, 64, 3) uint8, captions, labels."""
    images = np.empty((n_items, SIZE, SIZE, 3), np.uint8)
    labels = np.empty((n_items, len(CONCEPTS)), np.uint8)
    captions: list[str] = []
    items = range(start, start + n_items)
    if progress:
        from tqdm import tqdm

        items = tqdm(items, desc="generating scenes", unit="pair", mininterval=1.0)
    for row, i in enumerate(items):
        images[row], caption, labels[row] = generate_item(i, seed, stream)
        captions.append(caption)
    return {"images": images, "captions": captions, "labels": labels}


def fingerprint(n_items: int, seed: int, stream: str = "benchmark") -> str:
    """Identity of a generated set (generator version, stream, seed, size)."""
    ident = {"generator": GENERATOR_VERSION, "stream": stream, "seed": int(seed),
             "n_items": int(n_items)}
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()


def load_or_generate(cache_dir: Path, n_items: int, seed: int, stream: str = "benchmark",
                     progress: bool = True) -> tuple[dict[str, Any], Path]:
    """The generated set from ``cache_dir/synthetic-scenes/<id>/``, generating it once.

    Images are memory-mapped. Writes go to a temporary folder renamed into place, so
    concurrent writers (Ray trials, several drivers) never see a half-written entry.
    """
    key = fingerprint(n_items, seed, stream)
    folder = Path(cache_dir) / "synthetic-scenes" / key[:20]
    if not (folder / "meta.json").is_file():
        t0 = time.perf_counter()
        data = generate(n_items, seed, stream, progress=progress)
        tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        np.save(tmp / "images.npy", data["images"])
        np.save(tmp / "labels.npy", data["labels"])
        (tmp / "captions.json").write_text(json.dumps(data["captions"]))
        meta = {"fingerprint": key, "n_items": n_items, "seed": seed, "stream": stream,
                "generator": GENERATOR_VERSION, "seconds": time.perf_counter() - t0}
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
