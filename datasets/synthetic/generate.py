"""Generator for the ``synthetic-features`` dataset.

Labels: 24 concepts with Zipf-like frequencies; concepts come in co-occurrence groups (a second
and third label prefer the first one's group). Features: each concept has a unit vector in a
shared ``dim``-d space; an item's semantic vector is the normalised sum of its concepts' vectors
plus an item-specific shared component. Each modality adds its own constant offset (the
modality gap), a strong nuisance component in a modality-specific low-rank subspace (which
correlation-seeking methods can discard and random projections cannot) and isotropic noise.
Everything is deterministic in ``seed``.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from bench.datasets.synthetic import SPEC
from bench.plugins import DatasetPlugin, LoadedDataset, PairedData

CONCEPTS = (
    "animals", "baby", "bird", "car", "clouds", "dog", "female", "flower", "food", "indoor",
    "lake", "male", "night", "people", "plant_life", "portrait", "river", "sea", "sky",
    "structures", "sunset", "transport", "tree", "water",
)
GROUPS = (
    ("sky", "clouds", "sunset", "night"),
    ("sea", "water", "lake", "river"),
    ("people", "female", "male", "portrait", "baby"),
    ("animals", "dog", "bird"),
    ("plant_life", "tree", "flower"),
    ("structures", "car", "transport", "night"),
    ("indoor", "food", "people"),
)


def generate(n_items: int = 10000, dim: int = 128, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    n_c = len(CONCEPTS)
    freq = 1.0 / np.arange(1, n_c + 1) ** 0.9
    freq = freq[rng.permutation(n_c)]
    freq /= freq.sum()
    affinity = np.ones((n_c, n_c))
    idx = {c: i for i, c in enumerate(CONCEPTS)}
    for group in GROUPS:
        members = [idx[c] for c in group]
        for a in members:
            for b in members:
                affinity[a, b] = 12.0
    np.fill_diagonal(affinity, 0.0)

    labels = np.zeros((n_items, n_c), dtype=np.uint8)
    n_labels = 1 + np.minimum(rng.poisson(1.0, n_items), 4)
    for i in range(n_items):
        first = rng.choice(n_c, p=freq)
        labels[i, first] = 1
        for _ in range(n_labels[i] - 1):
            w = freq * affinity[first] * (1 - labels[i])
            labels[i, rng.choice(n_c, p=w / w.sum())] = 1

    concept_vec = rng.normal(size=(n_c, dim))
    concept_vec /= np.linalg.norm(concept_vec, axis=1, keepdims=True)
    semantic = labels @ concept_vec / np.sqrt(labels.sum(1, keepdims=True))
    semantic += 0.45 * rng.normal(size=(n_items, dim)) / np.sqrt(dim) * np.sqrt(dim / 8)

    def modality(gap_scale: float, nuisance_rank: int, nuisance_scale: float, noise: float):
        gap = rng.normal(size=dim)
        gap *= gap_scale / np.linalg.norm(gap)
        basis = np.linalg.qr(rng.normal(size=(dim, nuisance_rank)))[0]
        nuisance = rng.normal(size=(n_items, nuisance_rank)) * nuisance_scale @ basis.T
        x = semantic + gap + nuisance + noise * rng.normal(size=(n_items, dim)) / np.sqrt(dim)
        return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)

    image = modality(gap_scale=0.6, nuisance_rank=12, nuisance_scale=0.55, noise=0.7)
    text = modality(gap_scale=0.6, nuisance_rank=8, nuisance_scale=0.45, noise=0.5)
    return {"labels": labels, "image_features": image, "text_features": text}


class SyntheticFeatures(DatasetPlugin):
    """Generates (or reloads from the cache) the synthetic paired features."""

    spec = SPEC

    def load(self) -> LoadedDataset:
        opts = {"n_items": int(self.options.get("n_items", 10000)),
                "dim": int(self.options.get("dim", 128)),
                "seed": int(self.options.get("seed", 0))}
        key = hashlib.sha256(json.dumps({"v": self.spec.version, **opts}, sort_keys=True)
                             .encode()).hexdigest()[:16]
        path = self.cache_dir / "synthetic-features" / f"{key}.npz"
        if path.exists():
            with np.load(path) as z:
                data = {k: z[k] for k in z.files}
        else:
            data = generate(**opts)
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{np.random.randint(1 << 30)}.tmp.npz")
            np.savez(tmp, **data)
            tmp.replace(path)
        n = len(data["labels"])
        items = PairedData(index=np.arange(n), image_features=data["image_features"],
                           text_features=data["text_features"], labels=data["labels"])
        return LoadedDataset(name=self.spec.name, items=items, class_names=list(CONCEPTS),
                             info={"options": opts, "cache_file": str(path)})
