"""Loading a dataset and cutting it into the protocol's splits, inside a trial or the driver."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from bench import registry
from bench.errors import BenchError
from bench.plugins import LoadedDataset, PairedData, Preset
from bench.splits import (
    Split,
    database_order,
    draw_budget,
    index_checksum,
    make_split,
    validation_database,
)

_CACHE: dict[str, LoadedDataset] = {}
#: The last trial's encode views (validation, query, retrieval, validation database), reused by
#: the next trial of this process that cuts the same rows of the same dataset object.
_VIEWS: dict[str, Any] = {}
#: id(dataset) -> (dataset, feature file (path, size, mtime), the dataset with those features):
#: a warm worker attaches an encoder's cached features once, not once per trial
_FEATURED: dict[int, tuple[LoadedDataset, tuple[str, int, int], LoadedDataset]] = {}


def load_dataset(name: str, root: str | None, cache_dir: str,
                 options: Mapping[str, Any] | None = None) -> LoadedDataset:
    """Load (once per process) dataset ``name``; paths must be absolute (trials chdir)."""
    key = repr((name, root, cache_dir, sorted((options or {}).items())))
    if key not in _CACHE:
        spec = registry.datasets.get(name)
        if spec.needs_root and not root:
            raise BenchError(f"dataset {name!r} needs --data-root (the folder with its files)")
        if root and not Path(root).exists():
            raise BenchError(f"data root {root} does not exist")
        plugin = spec.load()(Path(root) if root else None, Path(cache_dir), options)
        _CACHE[key] = plugin.load()
    return _CACHE[key]


FEATURE_INPUTS = ("image_features", "text_features")


def uses_features(inputs: tuple[str, ...] | list[str]) -> bool:
    return any(k in FEATURE_INPUTS for k in inputs)


def needs_encoder(ds: LoadedDataset) -> bool:
    """True when ``ds`` has raw images and captions but no features of its own."""
    have = ds.provides()
    return not set(FEATURE_INPUTS) <= have and {"images", "captions"} <= have


def with_features(ds: LoadedDataset, inputs: tuple[str, ...], encoder: Mapping[str, Any] | None,
                  cache_dir: str, log: Callable[[str], None] | None = None) -> LoadedDataset:
    """``ds`` with the frozen ``encoder``'s features attached from the feature cache
    (``<cache_dir>/features``; computed once if missing) when a method with ``inputs`` needs
    features that ``ds`` lacks; otherwise ``ds`` unchanged."""
    if encoder is None or not uses_features(inputs) or not needs_encoder(ds):
        return ds
    from bench.encoders.features import attach_features, feature_file
    from bench.encoders.models import EncoderSpec

    path = feature_file(Path(cache_dir), ds, EncoderSpec.from_config(dict(encoder)))
    kept = _FEATURED.get(id(ds))
    if kept is not None and kept[0] is ds and kept[1] == _file_key(path):
        if log is not None:
            log(f"bench: features cached (already loaded in this process: {path})")
        return kept[2]  # the same dataset object as the last trial's: its views cache hits too
    featured = attach_features(ds, encoder, cache_dir, log=log)
    key = _file_key(path)
    if key is not None:
        _FEATURED[id(ds)] = (ds, key, featured)
    return featured


def _file_key(path: Path) -> tuple[str, int, int] | None:
    """A feature cache entry's identity: its name (the content key) and its size and time."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return str(path), stat.st_size, stat.st_mtime_ns


@dataclass
class TrialData:
    """A trial's data: the split, the budget's training pairs and the method's views of every
    part (each holding only the inputs the method declared). The retrieval database is in its
    seeded order (``retrieval_index``), never in dataset order."""

    split: Split
    train_index: np.ndarray
    train: PairedData
    validation: PairedData
    query: PairedData
    retrieval: PairedData
    labels: np.ndarray  #: the whole dataset's labels (for the harness, never for methods)
    retrieval_index: np.ndarray  #: dataset indices of ``retrieval``, in database order
    validation_database: PairedData  #: held-out database of model selection
    validation_database_index: np.ndarray

    @property
    def query_index(self) -> np.ndarray:
        return self.split.query


def check_requirements(ds: LoadedDataset, method: str, inputs: tuple[str, ...],
                       requires: tuple[str, ...] = ()) -> None:
    """One-line errors when ``ds`` cannot feed ``method``."""
    missing = [k for k in inputs if k not in ds.provides()]
    if missing:
        raise BenchError(f"dataset {ds.name!r} lacks {', '.join(missing)}, "
                         f"which method {method!r} needs")
    if "joint_space" in requires:
        fi, ft = ds.items.image_features, ds.items.text_features
        if fi is None or ft is None or fi.shape[1] != ft.shape[1]:
            dims = None if fi is None or ft is None else (fi.shape[1], ft.shape[1])
            raise BenchError(
                f"method {method!r} needs image and text features in one joint embedding space "
                f"(e.g. CLIP); dataset {ds.name!r} has feature dimensions {dims}"
            )


def prepare(ds: LoadedDataset, preset: Preset, budget: int | float | None, seed: int,
            inputs: tuple[str, ...], labels_at_encode: bool = False) -> TrialData:
    """Splits of ``ds``; the method's views hold only the inputs it declared. Items to be
    encoded (validation, query, retrieval) carry labels only if ``labels_at_encode``."""
    check_requirements(ds, "this method", inputs)
    if ds.items.labels is None:
        raise BenchError(f"dataset {ds.name!r} has no labels: it cannot be evaluated")
    split = make_split(len(ds.items), preset, dict(ds.fixed_split) if ds.fixed_split else None,
                       labels=ds.items.labels)
    train_index = draw_budget(split, budget, seed)
    db_index = database_order(split, seed)
    val_db_index = validation_database(split, seed)
    everything = replace(ds.items, class_names=list(ds.class_names))
    train = everything.subset(train_index).only(inputs)
    encode_inputs = tuple(k for k in inputs if k != "labels" or labels_at_encode)

    validation, query, retrieval, val_db = _encode_views(
        ds.items, everything, (split.validation, split.query, db_index, val_db_index),
        encode_inputs)
    return TrialData(
        split=split, train_index=train_index, train=train,
        validation=validation, query=query, retrieval=retrieval,
        labels=np.asarray(ds.items.labels), retrieval_index=db_index,
        validation_database=val_db, validation_database_index=val_db_index,
    )


def _encode_views(items: PairedData, everything: PairedData, parts: tuple[np.ndarray, ...],
                  inputs: tuple[str, ...]) -> tuple[PairedData, ...]:
    """``everything``'s rows ``parts`` (one view each) holding ``inputs``, read-only, built
    once per process for the same dataset object, rows and inputs: trials of several methods
    with one seed share the split's views instead of each copying the retrieval database's
    features, and a new set replaces the old one (never two sets at once). Read-only, so a
    method that writes into its inputs fails loudly instead of changing a later trial's data."""
    key = (index_checksum({str(i): p for i, p in enumerate(parts)}), tuple(sorted(inputs)))
    if _VIEWS.get("items") is not items or _VIEWS.get("key") != key:
        _VIEWS.clear()
        views = []
        for index in parts:
            part = everything.only(inputs).subset(index)  # only the fields it needs
            for name in ("index", "image_features", "text_features", "labels"):
                value = getattr(part, name)
                if isinstance(value, np.ndarray):
                    value.flags.writeable = False
            views.append(part)
        _VIEWS.update(items=items, key=key, views=tuple(views))
    return _VIEWS["views"]
