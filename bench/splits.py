"""Seeded, checked splits and training budgets.

Protocol (per dataset preset): the query set is drawn first; every other item is the retrieval
database (or a seeded subset of ``retrieval`` items); the validation split is carved out of the
retrieval set; the training pool is the rest of the retrieval set; a training budget is a seeded
subset of the pool. Query ∩ (retrieval ∪ validation ∪ train) = ∅ and validation ∩ train = ∅
are asserted every time a split is made, and the SHA-256 of the index arrays goes into every
result. The retrieval database is searched in a seeded order (:func:`database_order`), never in
dataset order, so that ties broken by database position cannot follow the labels; model
selection scores validation queries against a held-out database (:func:`validation_database`).
Class-balanced presets (``Preset.query_per_class`` / ``train_per_class``) draw per class
from the labels; :func:`write_split_files` / :func:`read_split_files` export a split with
checksums so that it can be reproduced elsewhere.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.plugins import Preset


@dataclass(frozen=True)
class Split:
    query: np.ndarray
    retrieval: np.ndarray
    validation: np.ndarray
    train_pool: np.ndarray

    def checksum(self) -> str:
        return index_checksum(
            {"query": self.query, "retrieval": self.retrieval,
             "validation": self.validation, "train_pool": self.train_pool}
        )

    def sizes(self) -> dict[str, int]:
        return {"query": len(self.query), "retrieval": len(self.retrieval),
                "validation": len(self.validation), "train_pool": len(self.train_pool)}


def index_checksum(parts: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(parts):
        h.update(name.encode())
        h.update(np.ascontiguousarray(parts[name], dtype="<i8").tobytes())
    return h.hexdigest()


def _rng(*keys: int | str) -> np.random.Generator:
    """A generator seeded from several keys, independent of Python's hash seed."""
    digest = hashlib.sha256("/".join(map(str, keys)).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def assert_disjoint(split: Split) -> None:
    q = set(split.query.tolist())
    for name in ("retrieval", "validation", "train_pool"):
        overlap = q.intersection(getattr(split, name).tolist())
        if overlap:
            raise AssertionError(f"split leak: {len(overlap)} query items also in {name}")
    if set(split.validation.tolist()) & set(split.train_pool.tolist()):
        raise AssertionError("split leak: validation and training pool overlap")
    r = set(split.retrieval.tolist())
    if not set(split.validation.tolist()) <= r or not set(split.train_pool.tolist()) <= r:
        raise AssertionError("validation and training pool must come from the retrieval set")
    for name in ("query", "retrieval", "validation", "train_pool"):
        arr = getattr(split, name)
        if len(np.unique(arr)) != len(arr):
            raise AssertionError(f"split {name} has repeated items")


def _class_balanced(labels: np.ndarray, candidates: np.ndarray, per_class: int,
                    first: int | None, rng: np.random.Generator, preset: Preset,
                    what: str) -> np.ndarray:
    """``per_class`` items per class (``first`` for class 0), class by class, each drawn from
    the ``candidates`` having that label and not drawn yet."""
    available = np.zeros(len(labels), dtype=bool)
    available[candidates] = True
    chosen = []
    for c in range(labels.shape[1]):
        k = first if c == 0 and first is not None else per_class
        pool = np.flatnonzero(available & (labels[:, c] > 0))
        if len(pool) < k:
            raise BenchError(f"preset {preset.name!r}: class {c} has {len(pool)} items left, "
                             f"fewer than the {k} {what} items it needs")
        pick = rng.choice(pool, size=k, replace=False)
        available[pick] = False
        chosen.append(pick)
    return np.concatenate(chosen) if chosen else np.zeros(0, dtype=np.int64)


def _labels_for(preset: Preset, labels: np.ndarray | None, n_items: int) -> np.ndarray:
    if labels is None:
        raise BenchError(f"preset {preset.name!r} draws class-balanced items and needs the "
                         "dataset's labels")
    labels = np.asarray(labels)
    if labels.ndim != 2 or len(labels) != n_items:
        raise BenchError(f"preset {preset.name!r}: labels of shape {labels.shape} do not match "
                         f"{n_items} items")
    return labels


def make_split(n_items: int, preset: Preset, fixed: dict[str, np.ndarray] | None = None,
               labels: np.ndarray | None = None) -> Split:
    """The split of ``n_items`` pairs under ``preset`` (deterministic in ``preset.seed``).

    ``labels`` (N × classes) are needed only by class-balanced presets.
    """
    rng = _rng("split", preset.seed)
    if preset.fixed:
        if not fixed or "query" not in fixed or "retrieval" not in fixed:
            raise BenchError(
                f"preset {preset.name!r} needs the dataset's own query/retrieval split")
        query = np.sort(np.asarray(fixed["query"], dtype=np.int64))
        retrieval = np.asarray(fixed["retrieval"], dtype=np.int64)
    else:
        if preset.query_per_class is not None:
            lab = _labels_for(preset, labels, n_items)
            query = np.sort(_class_balanced(lab, np.arange(n_items), preset.query_per_class,
                                            preset.query_first_class, rng, preset, "query"))
            rest = rng.permutation(np.setdiff1d(np.arange(n_items), query))
            if len(rest) < preset.validation + 1:
                raise BenchError(f"preset {preset.name!r} needs more than {len(query)} + "
                                 f"{preset.validation} pairs, the dataset has {n_items}")
        else:
            needed = preset.query + preset.validation + 1
            if n_items < needed:
                raise BenchError(
                    f"preset {preset.name!r} needs at least {needed} pairs, the dataset has "
                    f"{n_items}"
                )
            perm = rng.permutation(n_items)
            query = np.sort(perm[: preset.query])
            rest = perm[preset.query:]
        if preset.retrieval is not None:
            if preset.retrieval > len(rest):
                raise BenchError(
                    f"preset {preset.name!r}: retrieval size {preset.retrieval} > {len(rest)} "
                    "non-query pairs"
                )
            rest = rest[: preset.retrieval]
        retrieval = rest
    if preset.validation >= len(retrieval):
        raise BenchError(
            f"preset {preset.name!r}: validation size too large for the retrieval set")
    shuffled = _rng("validation", preset.seed).permutation(retrieval)
    validation = np.sort(shuffled[: preset.validation])
    pool = shuffled[preset.validation:]
    if preset.train_per_class is not None:
        lab = _labels_for(preset, labels, n_items)
        pool = _class_balanced(lab, pool, preset.train_per_class, None,
                               _rng("train", preset.seed), preset, "training")
    if preset.train_pool is not None:
        if preset.train_pool > len(pool):
            raise BenchError(
                f"preset {preset.name!r}: train pool {preset.train_pool} > {len(pool)}")
        pool = pool[: preset.train_pool]
    split = Split(query=query, retrieval=np.sort(retrieval), validation=validation,
                  train_pool=np.sort(pool))
    assert_disjoint(split)
    return split


SPLIT_PARTS = ("query", "retrieval", "validation", "train_pool")
SPLIT_MANIFEST = "split.json"


def write_split_files(split: Split, folder: Path, meta: dict[str, Any] | None = None) -> Path:
    """Write ``split`` as ``<part>.txt`` (0-based dataset indices, one per line) plus
    ``split.json`` with each file's SHA-256, the sizes and the split checksum; returns the
    manifest's path. :func:`read_split_files` reads them back, verified."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for part in SPLIT_PARTS:
        data = "".join(f"{int(i)}\n" for i in getattr(split, part)).encode()
        (folder / f"{part}.txt").write_bytes(data)
        files[f"{part}.txt"] = {"sha256": hashlib.sha256(data).hexdigest(),
                                "count": len(getattr(split, part))}
    manifest = {"format": "cmh-bench split 1", "index_base": 0, "checksum": split.checksum(),
                "sizes": split.sizes(), "files": files, **(meta or {})}
    path = folder / SPLIT_MANIFEST
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return path


def read_split_files(folder: Path) -> Split:
    """The split written by :func:`write_split_files`, after checking every file's SHA-256,
    the split checksum and disjointness (one-line errors)."""
    folder = Path(folder)
    path = folder / SPLIT_MANIFEST
    try:
        manifest = json.loads(path.read_text())
        files = manifest["files"]
    except FileNotFoundError:
        raise BenchError(f"{path} not found") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise BenchError(f"{path}: not a split manifest ({exc})") from None
    parts = {}
    for part in SPLIT_PARTS:
        name = f"{part}.txt"
        try:
            data = (folder / name).read_bytes()
        except OSError:
            raise BenchError(f"{folder / name} not found") from None
        expected = files.get(name, {}).get("sha256")
        if hashlib.sha256(data).hexdigest() != expected:
            raise BenchError(f"{folder / name}: SHA-256 differs from {SPLIT_MANIFEST} "
                             "(the file was changed or truncated)")
        try:
            parts[part] = np.array([int(x) for x in data.split()], dtype=np.int64)
        except ValueError:
            raise BenchError(f"{folder / name}: not a list of integers") from None
    split = Split(**parts)
    if split.checksum() != manifest.get("checksum"):
        raise BenchError(f"{path}: split checksum mismatch")
    try:
        assert_disjoint(split)
    except AssertionError as exc:
        raise BenchError(f"{folder}: {exc}") from None
    return split


def parse_budget(text: str) -> int | float | None:
    """"all" -> None, "160" -> 160, "0.25" -> 0.25 (a fraction of the pool)."""
    t = text.strip().lower()
    if t in ("all", "full", ""):
        return None
    try:
        if "." in t or "e" in t:
            value = float(t)
            if not 0 < value <= 1:
                raise ValueError
            return value
        value_i = int(t)
        if value_i <= 0:
            raise ValueError
        return value_i
    except ValueError:
        raise BenchError(
            f"budget {text!r} must be a positive integer, a fraction in (0, 1], or 'all'"
        ) from None


def budget_label(budget: int | float | None) -> str:
    return "all" if budget is None else str(budget)


def canonical_budget(budget: int | float | None,
                     pool_size: int | None) -> int | float | None:
    """The one form of a budget that draws a given training set from a pool of ``pool_size``
    pairs, as hyperparameters have one canonical value: None ("all") for the whole pool, else
    the number of pairs it draws (a fraction ``f`` -> ``round(f * pool_size)``, at least 1, as
    :func:`draw_budget` counts it), so ``all``, ``1.0`` and the pool size are one result, and
    so are ``1`` and ``1e-07``. A budget larger than the pool (which :func:`draw_budget`
    rejects) and any budget when the pool size is unknown are returned as given."""
    if budget is None or pool_size is None:
        return budget
    size = max(int(round(budget * pool_size)), 1) if isinstance(budget, float) else int(budget)
    if size > pool_size:
        return budget
    return None if size == pool_size else size


def draw_budget(split: Split, budget: int | float | None, seed: int) -> np.ndarray:
    """A seeded subset of the training pool of ``budget`` pairs (sorted dataset indices)."""
    pool = split.train_pool
    if budget is None:
        return pool.copy()
    size = int(round(budget * len(pool))) if isinstance(budget, float) else int(budget)
    if size > len(pool):
        raise BenchError(f"budget {budget} is larger than the training pool ({len(pool)} pairs)")
    size = max(size, 1)
    chosen = _rng("budget", split.checksum(), size, seed).choice(pool, size=size, replace=False)
    return np.sort(chosen)


#: Size cap of the held-out database that validation queries are ranked against.
VALIDATION_DATABASE = 1000


def database_order(split: Split, seed: int) -> np.ndarray:
    """The retrieval set in a seeded order (a permutation drawn from the split and the trial
    seed), independent of the dataset's order: the tie policy "ties by database position" then
    cannot correlate with labels (e.g. layouts stored class by class)."""
    return _rng("database-order", split.checksum(), seed).permutation(split.retrieval)


def validation_database(split: Split, seed: int, size: int = VALIDATION_DATABASE) -> np.ndarray:
    """The held-out database of model selection: a seeded sample (in seeded order) of at most
    ``size`` training-pool items. Validation queries are never in it (validation and pool are
    disjoint), so no query meets its own pair, and the query set is never touched."""
    pool = split.train_pool
    n = min(len(pool), int(size))
    return _rng("validation-database", split.checksum(), seed).choice(pool, size=n,
                                                                      replace=False)
