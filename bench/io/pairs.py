"""What a layout reader returns (:class:`RawPairs`), the checks every dataset goes through, and
the conversion to the harness's :class:`bench.plugins.LoadedDataset`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.plugins import LoadedDataset, PairedData


class Caption(str):
    """A caption: the string a method sees, plus every candidate caption of the item
    (``candidates``; e.g. COCO's five) for methods that sample one per epoch."""

    candidates: tuple[str, ...]

    def __new__(cls, text: str, candidates: Sequence[str] | None = None) -> Caption:
        obj = super().__new__(cls, text)
        obj.candidates = tuple(candidates) if candidates else (str(text),)
        return obj


CAPTION_MODES = ("random", "first", "concat")


def choose_captions(candidates: Sequence[Sequence[str]], mode: str, seed: int) -> list[Caption]:
    """One caption per item from its candidates: a seeded random pick, the first, or all of them
    joined; reproducible across runs and machines."""
    if mode not in CAPTION_MODES:
        raise BenchError(f"caption mode {mode!r} must be one of {', '.join(CAPTION_MODES)}")
    rng = np.random.default_rng(seed)
    picks = rng.random(len(candidates))
    out = []
    for c, u in zip(candidates, picks, strict=True):
        c = [s for s in c if s] or [""]
        if mode == "first":
            text = c[0]
        elif mode == "concat":
            text = " ".join(c)
        else:
            text = c[int(u * len(c))]
        out.append(Caption(text, c))
    return out


@dataclass
class RawPairs:
    """Aligned arrays read from one layout, with the file each came from (for error messages).

    ``fixed_split`` holds the layout's own query/retrieval division when it has one.
    """

    layout: str
    labels: np.ndarray
    sources: dict[str, str]  #: field -> "file" or "file:key"
    class_names: list[str] | None = None
    image_features: np.ndarray | None = None
    text_features: np.ndarray | None = None
    captions: list[str] | None = None
    images: list[str] | None = None
    names: list[str] | None = None
    fixed_split: dict[str, np.ndarray] | None = None
    info: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


class Options:
    """Dataset options (``--dataset-opt KEY=VALUE``) with types checked and unknown keys
    refused."""

    def __init__(self, values: Mapping[str, Any] | None, dataset: str, allowed: Sequence[str]):
        self.values = dict(values or {})
        self.dataset = dataset
        unknown = sorted(set(self.values) - set(allowed))
        if unknown:
            raise BenchError(f"dataset {dataset!r} has no option {unknown[0]!r} "
                             f"(options: {', '.join(sorted(allowed))})")

    def __contains__(self, key: str) -> bool:
        return key in self.values and self.values[key] is not None

    def text(self, key: str, default: str | None = None) -> str | None:
        v = self.values.get(key, default)
        return None if v is None else str(v)

    def flag(self, key: str, default: bool) -> bool:
        v = self.values.get(key, default)
        if isinstance(v, bool):
            return v
        if str(v).lower() in ("1", "true", "yes", "on"):
            return True
        if str(v).lower() in ("0", "false", "no", "off"):
            return False
        raise BenchError(f"dataset {self.dataset!r}: option {key}={v!r} must be true or false")

    def integer(self, key: str, default: int) -> int:
        v = self.values.get(key, default)
        try:
            return int(v)
        except (TypeError, ValueError):
            raise BenchError(f"dataset {self.dataset!r}: option {key}={v!r} must be an integer"
                             ) from None


def as_multihot(arr: Any, source: str) -> np.ndarray:
    """A (N, C) 0/1 label matrix as uint8; a one-line error for anything else."""
    a = np.asarray(arr)
    if a.dtype == object or a.dtype.kind in "USV":
        raise BenchError(f"{source}: labels must be numbers, found {a.dtype} values")
    if a.ndim != 2:
        raise BenchError(f"{source}: labels must be a 2-d (pairs × classes) matrix, "
                         f"found shape {a.shape}")
    if a.dtype != bool:
        if not np.isfinite(a).all():
            raise BenchError(f"{source}: labels contain NaN or infinite values")
        bad = np.unique(a[(a != 0) & (a != 1)])
        if bad.size:
            shown = ", ".join(f"{v:g}" for v in bad[:5])
            raise BenchError(f"{source}: labels must be multi-hot 0/1, found values {shown}")
    return a.astype(np.uint8)


def orient_labels(arr: Any, n_classes: int | None) -> Any:
    """A label matrix stored classes × pairs, transposed when the dataset's class count says so."""
    a = np.asarray(arr) if isinstance(arr, np.ndarray) else arr
    if (n_classes and isinstance(a, np.ndarray) and a.ndim == 2 and a.shape[1] != n_classes
            and a.shape[0] == n_classes):
        return a.T
    return a


def labels_from_any(arr: Any, source: str, n_classes: int | None = None) -> np.ndarray:
    """Multi-hot rows, or a vector of class numbers (1-based when the smallest is 1) turned
    into one-hot rows."""
    a = np.asarray(arr)
    if a.ndim == 2 and 1 in a.shape and max(a.shape) > 1 and a.dtype.kind in "uif":
        a = a.ravel()
    if a.ndim == 1 and a.dtype.kind in "uif":
        if not np.isfinite(a).all() or (a != np.round(a)).any():
            raise BenchError(f"{source}: class numbers must be integers")
        idx = a.astype(np.int64)
        if idx.size == 0:
            raise BenchError(f"{source}: no labels")
        idx = idx - 1 if idx.min() >= 1 else idx
        if idx.min() < 0:
            raise BenchError(f"{source}: negative class number {int(a.min())}")
        c = max(int(idx.max()) + 1, n_classes or 0)
        out = np.zeros((len(idx), c), dtype=np.uint8)
        out[np.arange(len(idx)), idx] = 1
        return out
    return as_multihot(a, source)


def as_features(arr: Any, source: str) -> np.ndarray:
    """A (N, D) float32 matrix with finite values."""
    a = np.asarray(arr)
    if a.dtype == object or a.dtype.kind in "USV":
        raise BenchError(f"{source}: features must be numbers, found {a.dtype} values")
    if a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.shape[1] == 0:
        raise BenchError(f"{source}: features must be a 2-d (pairs × dims) matrix with at "
                         f"least one dimension, found shape {a.shape}")
    a = a.astype(np.float32)
    if not np.isfinite(a).all():
        raise BenchError(f"{source}: features contain NaN or infinite values")
    return a


def orient(arr: np.ndarray, n: int, source: str) -> np.ndarray:
    """``arr`` with items as rows: transposed when only its second axis has length ``n``."""
    a = np.asarray(arr)
    if a.ndim == 2 and a.shape[0] != n and a.shape[1] == n:
        return a.T
    return a


def check_rows(counts: Mapping[str, int], what: str = "rows") -> None:
    """All counts equal, else a one-line error naming every source and its count."""
    if len(set(counts.values())) > 1:
        parts = ", ".join(f"{src} has {n:,}" for src, n in counts.items())
        raise BenchError(f"{what} do not agree: {parts}")


def _remap(index: np.ndarray, keep: np.ndarray) -> np.ndarray:
    new_pos = np.full(len(keep), -1, dtype=np.int64)
    new_pos[keep] = np.arange(int(keep.sum()))
    mapped = new_pos[np.asarray(index, dtype=np.int64)]
    return mapped[mapped >= 0]


def finalize(name: str, raw: RawPairs, *, n_classes: int | None = None,
             class_names: Sequence[str] | None = None, standard_pairs: Sequence[int] = (),
             drop_unlabeled: bool = False) -> LoadedDataset:
    """Check ``raw`` (row counts, labels, features) and build the :class:`LoadedDataset`."""
    labels = as_multihot(raw.labels, raw.sources.get("labels", "labels"))
    feats = {k: as_features(getattr(raw, k), raw.sources.get(k, k))
             for k in ("image_features", "text_features") if getattr(raw, k) is not None}
    n = len(labels)
    counts = {raw.sources.get("labels", "labels"): n}
    for key in ("image_features", "text_features", "captions", "images", "names"):
        value = feats.get(key, getattr(raw, key))
        if value is not None:
            counts[raw.sources.get(key, key)] = len(value)
    check_rows(counts, "pair counts")
    if n == 0:
        raise BenchError(f"{raw.sources.get('labels', 'labels')}: no pairs")
    if n_classes is not None and labels.shape[1] != n_classes:
        raise BenchError(f"{raw.sources.get('labels', 'labels')}: {labels.shape[1]} label "
                         f"columns, but {name} has {n_classes} classes (wrong file or dataset?)")
    empty = labels.sum(1) == 0
    keep = ~empty
    info: dict[str, Any] = {"layout": raw.layout, "files": dict(raw.sources), **raw.info}
    notes = list(raw.notes)
    if empty.any():
        if not drop_unlabeled:
            raise BenchError(f"{raw.sources.get('labels', 'labels')}: {int(empty.sum()):,} of "
                             f"{n:,} pairs have no label; pass --dataset-opt drop_unlabeled=true "
                             "to drop them")
        notes.append(f"dropped {int(empty.sum()):,} pairs without labels")
        info["dropped_unlabeled"] = int(empty.sum())
    rows = np.flatnonzero(keep)

    def take(x: Any) -> Any:
        if x is None or keep.all():
            return x
        return x[rows] if isinstance(x, np.ndarray) else [x[int(i)] for i in rows]

    fixed = None
    if raw.fixed_split:
        fixed = {k: (np.asarray(v, dtype=np.int64) if keep.all() else _remap(v, keep))
                 for k, v in raw.fixed_split.items()}
    items = PairedData(
        index=np.arange(len(rows)), labels=take(labels),
        image_features=take(feats.get("image_features")),
        text_features=take(feats.get("text_features")),
        images=take(raw.images), captions=take(raw.captions),
    )
    n_final = len(rows)
    if standard_pairs and n_final not in standard_pairs:
        notes.append(f"{n_final:,} pairs; the standard versions have "
                     f"{' or '.join(f'{s:,}' for s in standard_pairs)}")
    names = list(raw.class_names or class_names or [f"class{j}" for j in range(labels.shape[1])])
    if len(names) != labels.shape[1]:
        names = [f"class{j}" for j in range(labels.shape[1])]
    info.update(n_pairs=n_final, n_classes=int(labels.shape[1]), notes=notes,
                names=take(raw.names) if raw.names is not None else None)
    for k, v in feats.items():
        info[f"{k}_dim"] = int(v.shape[1])
    return LoadedDataset(name=name, items=items, class_names=names, fixed_split=fixed, info=info)
