"""The plugin contracts: what a method and a dataset declare and implement.

A *method* plugin is a package under ``methods/`` (installed as ``bench.methods.<name>``) whose
``__init__`` defines ``SPEC: MethodSpec`` and imports nothing heavy; the implementation class is
named by ``MethodSpec.entry`` ("module:Class") and imported only when a trial runs. The harness,
never the method, computes metrics: a method only fits and encodes to ±1 codes.

A *dataset* plugin is a package under ``datasets/`` (``bench.datasets.<name>``) defining
``SPEC: DatasetSpec``; ``DatasetSpec.entry`` names a :class:`DatasetPlugin` subclass that loads
paired items and labels.
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bench.errors import BenchError, suggest
from bench.params import parse_rule

Modality = Literal["image", "text"]
Supervision = Literal["unsupervised", "supervised"]

#: What a method can ask for / a dataset can provide.
INPUT_KINDS = ("image_features", "text_features", "images", "captions", "labels")


def load_object(entry: str) -> Any:
    """Import ``"package.module:attr[.attr...]"`` and return the attribute."""
    module_name, _, attr = entry.partition(":")
    if not module_name or not attr:
        raise ValueError(f"entry {entry!r} is not of the form 'module:attribute'")
    obj = importlib.import_module(module_name)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class MethodSpec:
    """Everything the harness needs to know about a method without importing it."""

    name: str
    entry: str  #: "module:Class" of the HashMethod subclass, imported lazily
    version: str  #: bump when results of the method change; part of every result key
    supervision: Supervision
    inputs: tuple[str, ...]  #: subset of INPUT_KINDS ("labels" only for supervised methods)
    multi_bit: bool  #: one training run produces every requested bit length
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: ``bench tune``'s search space: name -> {"type": "uniform"|"loguniform"|"int"|"choice",
    #: ...} (syntax and checks: :mod:`bench.tuning.space`); empty = nothing to tune by default
    search_space: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    resources: Mapping[str, float] = field(default_factory=lambda: {"cpu": 1, "gpu": 0})
    reference: Mapping[str, str] = field(default_factory=dict)  #: paper, code, venue, ...
    description: str = ""
    #: Extra data requirements checked before any trial starts: "joint_space" = image and text
    #: features of the same dimension in one embedding space (e.g. CLIP).
    requires: tuple[str, ...] = ()
    #: Whether encoding query/database items reads their labels (a label leak, e.g. the faithful
    #: PromptHash's label prompts). Otherwise the harness strips labels before ``encode``.
    labels_at_encode: bool = False
    #: Accepted values of parameters whose type is not simply their default's, or that have a
    #: range: name -> rule, e.g. ``"int[1,]|'auto'|null"`` (syntax: :mod:`bench.params`).
    #: ``bench run --set`` checks every value against it before anything runs.
    param_types: Mapping[str, str] = field(default_factory=dict)
    #: ``fit`` trains over several rounds and calls ``ctx.report`` after each; ``bench tune``
    #: then scores every round on the validation split and, by default, stops poor trials
    #: early (ASHA). Methods fitted in one step (LSH, CCA-ITQ) leave it False.
    iterative: bool = False
    #: The method can code an item from both of its modalities at once
    #: (:meth:`HashMethod.encode_unified`), the database protocol of some reference papers
    #: (CMFH, LSSH, SePH); ``bench run --database-codes unified`` accepts only such methods.
    unified_database: bool = False

    def __post_init__(self) -> None:
        for name, rule in self.param_types.items():
            try:
                parse_rule(rule)
            except ValueError as exc:
                raise ValueError(f"method {self.name!r}: param_types[{name!r}]: {exc}") from None
        unknown = set(self.inputs) - set(INPUT_KINDS)
        if unknown:
            raise ValueError(f"method {self.name!r}: unknown inputs {sorted(unknown)}")
        if self.supervision not in ("unsupervised", "supervised"):
            raise ValueError(f"method {self.name!r}: supervision must be unsupervised|supervised")
        if self.supervision == "unsupervised" and "labels" in self.inputs:
            raise ValueError(f"method {self.name!r}: an unsupervised method cannot read labels")
        if self.labels_at_encode and "labels" not in self.inputs:
            raise ValueError(f"method {self.name!r}: labels_at_encode needs labels in inputs")
        if self.resources.get("cpu", 1) <= 0 or self.resources.get("gpu", 0) < 0:
            raise ValueError(f"method {self.name!r}: resources need cpu > 0 and gpu >= 0")

    def load(self) -> type[HashMethod]:
        cls = load_object(self.entry)
        if not (isinstance(cls, type) and issubclass(cls, HashMethod)):
            raise TypeError(f"method {self.name!r}: {self.entry} is not a HashMethod subclass")
        return cls


@dataclass(frozen=True)
class Preset:
    """A named split protocol: sizes are numbers of pairs.

    ``retrieval=None`` means every non-query item is in the retrieval database. The validation
    split is carved out of the retrieval set and the training pool is the rest of the retrieval
    set (``train_pool=None``: all of it; a number: a seeded subset). Training budgets are drawn
    from the training pool. ``fixed=True`` uses the dataset's own query/retrieval division
    (e.g. Wikipedia's classic 2,173 / 693) instead of a random one.
    """

    name: str
    query: int
    validation: int
    retrieval: int | None = None
    train_pool: int | None = None
    seed: int = 0
    fixed: bool = False
    description: str = ""
    #: Class-balanced query set (DJSRH style): this many items drawn per class, class by class,
    #: from the items having that label and not drawn yet (``query`` is then the nominal total).
    query_per_class: int | None = None
    #: With ``query_per_class``: the first class's count instead (DJSRH on MIRFLICKR: 160).
    query_first_class: int | None = None
    #: Class-balanced training pool: this many items per class from the non-validation items.
    train_per_class: int | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {
            "name": self.name, "query": self.query, "validation": self.validation,
            "retrieval": self.retrieval, "train_pool": self.train_pool, "seed": self.seed,
            "fixed": self.fixed,
        }
        for key in ("query_per_class", "query_first_class", "train_per_class"):
            if getattr(self, key) is not None:  # only when set: older result keys stay valid
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True)
class DatasetSpec:
    """What a dataset plugin declares without loading anything."""

    name: str
    entry: str  #: "module:Class" of the DatasetPlugin subclass
    version: str
    provides: tuple[str, ...]  #: subset of INPUT_KINDS
    presets: Mapping[str, Preset]
    default_preset: str
    needs_root: bool = True  #: False for generated data that needs no user files
    description: str = ""
    layouts: tuple[str, ...] = ()
    #: For generated data: (option, default) giving the number of items without generating
    #: anything, e.g. ("n_items", 10000); lets the driver refuse impossible budgets at once.
    size_option: tuple[str, int] | None = None
    #: Types of the dataset's ``--dataset-opt`` options, in the grammar of
    #: ``MethodSpec.param_types`` (:mod:`bench.params`), e.g. ``{"n_items": "int[1,]"}``; a
    #: dataset with ``layouts`` accepts its layouts' options (typed by its reader).
    option_types: Mapping[str, str] = field(default_factory=dict)

    def check_options(self, options: Mapping[str, Any],
                      allowed: Sequence[str] | None = None) -> dict[str, Any]:
        """``options`` checked (unknown keys with a suggestion, values against
        ``option_types``) and canonical as method parameters are; one-line BenchError.
        ``allowed``: the keys, when not those of ``option_types`` (a real dataset's layout
        options, :func:`bench.io.layouts.layout_options`); neither: anything goes."""
        if allowed is None and self.option_types:
            allowed = tuple(self.option_types)
        if allowed is None:
            return dict(options)
        from bench.params import canonical_value

        out = {}
        for key, value in options.items():
            if key not in allowed:
                raise BenchError(f"--dataset-opt {key}={value!r}: dataset {self.name!r} has no "
                                 f"option {key!r}{suggest(key, allowed)} (options: "
                                 f"{', '.join(sorted(allowed))})")
            rule = self.option_types.get(key)
            if rule is None:
                out[key] = value
                continue
            ok, canon = canonical_value(rule, value)
            if not ok:
                wanted = " or ".join(a.describe() for a in parse_rule(rule))
                raise BenchError(f"--dataset-opt {key}={value!r}: option {key!r} of dataset "
                                 f"{self.name!r} must be {wanted}")
            out[key] = canon
        return out

    def size(self, options: Mapping[str, Any]) -> int | None:
        """The number of items under ``options`` when known without loading, else None."""
        if self.size_option is None:
            return None
        name, default = self.size_option
        value = options.get(name, default)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def preset(self, name: str | None) -> Preset:
        key = name or self.default_preset
        if key not in self.presets:
            raise BenchError(
                f"dataset {self.name!r} has no preset {key!r}{suggest(key, self.presets)}"
                f" (presets: {', '.join(self.presets)})"
            )
        return self.presets[key]

    def load(self) -> type[DatasetPlugin]:
        cls = load_object(self.entry)
        if not (isinstance(cls, type) and issubclass(cls, DatasetPlugin)):
            raise TypeError(f"dataset {self.name!r}: {self.entry} is not a DatasetPlugin subclass")
        return cls


@dataclass
class PairedData:
    """Aligned image/text items: row i of every field is pair i.

    ``index`` holds the items' positions in the whole dataset (for split bookkeeping). Fields a
    dataset lacks, or that a method may not see (labels for unsupervised methods), are None.
    """

    index: np.ndarray
    image_features: np.ndarray | None = None
    text_features: np.ndarray | None = None
    labels: np.ndarray | None = None
    #: Raw images: a sequence whose items are absolute path strings or H×W×3 uint8 arrays.
    images: Sequence[Any] | None = None
    captions: Sequence[str] | None = None
    #: Names of the label columns (dataset metadata, e.g. for label-text prompts).
    class_names: Sequence[str] | None = None

    def __len__(self) -> int:
        return int(len(self.index))

    def subset(self, rows: np.ndarray) -> PairedData:
        """Rows ``rows`` (positions in this object, not dataset indices)."""
        rows = np.asarray(rows, dtype=np.int64)

        def take(x: Any) -> Any:
            if x is None:
                return None
            if isinstance(x, np.ndarray):
                return x[rows]
            return [x[int(i)] for i in rows]

        return PairedData(
            index=self.index[rows], image_features=take(self.image_features),
            text_features=take(self.text_features), labels=take(self.labels),
            images=take(self.images), captions=take(self.captions),
            class_names=self.class_names,
        )

    def without_labels(self) -> PairedData:
        return replace(self, labels=None)

    def only(self, inputs: Sequence[str]) -> PairedData:
        """A view holding only the fields named in ``inputs`` (plus the index)."""
        keep = set(inputs)
        return PairedData(
            index=self.index,
            image_features=self.image_features if "image_features" in keep else None,
            text_features=self.text_features if "text_features" in keep else None,
            labels=self.labels if "labels" in keep else None,
            images=self.images if "images" in keep else None,
            captions=self.captions if "captions" in keep else None,
            class_names=self.class_names,
        )


@dataclass
class LoadedDataset:
    """A whole dataset in memory: all pairs plus metadata."""

    name: str
    items: PairedData
    class_names: Sequence[str]
    #: For ``Preset.fixed``: the dataset's own division, e.g. {"query": idx, "retrieval": idx}.
    fixed_split: Mapping[str, np.ndarray] | None = None
    info: Mapping[str, Any] = field(default_factory=dict)

    def provides(self) -> set[str]:
        it = self.items
        have = {
            "image_features": it.image_features is not None,
            "text_features": it.text_features is not None,
            "labels": it.labels is not None,
            "images": it.images is not None,
            "captions": it.captions is not None,
        }
        return {k for k, v in have.items() if v}


class DatasetPlugin(ABC):
    """Loads a dataset. ``root`` is the user's folder (None for generated data)."""

    spec: DatasetSpec

    def __init__(self, root: Path | None, cache_dir: Path,
                 options: Mapping[str, Any] | None = None):
        self.root = root
        self.cache_dir = cache_dir
        self.options = dict(options or {})

    @abstractmethod
    def load(self) -> LoadedDataset: ...


@dataclass
class FitContext:
    """What the harness hands a method during ``fit``.

    ``report(epoch, **metrics)`` records progress (Ray Tune + MLflow, step = epoch).
    ``validate()`` returns the harness-computed validation mAP of the method's *current* encoder
    (mean of both directions at the first requested bit length): the validation split's items
    ranked against a held-out database (a seeded sample of at most 1,000 training-pool items,
    never a query's own pair, never the query set). Methods use it for model selection and
    early stopping; it encodes the validation and database items each time it is called.
    """

    validation: PairedData | None
    seed: int
    device: str
    workdir: Path
    dataset: str = ""  #: name of the dataset (for per-dataset reference settings)
    report: Callable[..., None] = lambda epoch, **metrics: None
    validate: Callable[[], float | None] = lambda: None
    log: Callable[[str], None] = print


class HashMethod(ABC):
    """A cross-modal hashing method: fit on training pairs, encode either modality.

    ``bits`` are the requested code lengths. Multi-bit methods (``spec.multi_bit``) train all of
    them in one ``fit``; single-bit methods are constructed with exactly one length.
    """

    spec: MethodSpec
    #: Rows of ``train`` the method really trained on when it used a subset of the pairs it was
    #: given (its own cap, e.g. an O(n²) method's subsample); None = every row. Set it through
    #: ``train_on_subset``; the harness records the count and the dataset indices.
    train_rows_used: np.ndarray | None = None
    #: How the final model was chosen (recorded with every result).
    selection_rule: str = "final model (no selection)"

    def train_on_subset(self, train: PairedData, rows: np.ndarray) -> PairedData:
        """``train`` restricted to ``rows`` (positions in ``train``), remembered as used."""
        self.train_rows_used = np.sort(np.asarray(rows, dtype=np.int64))
        return train.subset(self.train_rows_used)

    def resolve_param(self, name: str, value: Any) -> Any:
        """Record what parameter ``name`` (e.g. an ``"auto"`` or None setting) resolved to;
        returns ``value``. The record's ``resolved_params`` shows every such value."""
        self._resolved = {**getattr(self, "_resolved", {}), name: value}
        return value

    @property
    def resolved_params(self) -> dict[str, Any]:
        """Every parameter value as used: ``params`` updated by :meth:`resolve_param`."""
        return {**self.params, **getattr(self, "_resolved", {})}

    def __init__(self, bits: Sequence[int], params: Mapping[str, Any], seed: int,
                 device: str = "cpu"):
        self.bits = tuple(int(b) for b in bits)
        defaults = dict(self.spec.defaults) if hasattr(self, "spec") else {}
        self.params = {**defaults, **dict(params)}
        self.seed = int(seed)
        self.device = device

    @abstractmethod
    def fit(self, train: PairedData, ctx: FitContext) -> None:
        """Learn from ``train`` (labels present only for supervised methods)."""

    @abstractmethod
    def encode(self, data: PairedData, modality: Modality) -> dict[int, np.ndarray]:
        """±1 codes (int8, shape (len(data), bits)) for every requested bit length."""

    def encode_unified(self, data: PairedData) -> dict[int, np.ndarray]:
        """±1 codes of items from both modalities at once (``spec.unified_database``): the
        database codes of ``bench run --database-codes unified``. Queries are still coded
        from one modality by :meth:`encode`."""
        raise NotImplementedError(f"{self.spec.name} has no unified (both-modality) codes")


def seeded_rows(n: int, cap: int | None, seed: int) -> np.ndarray | None:
    """Sorted positions of a seeded subset of ``cap`` of ``n`` items, or None when ``cap`` is
    None or at least ``n`` (use every item). The same (n, cap, seed) always gives the same rows."""
    if cap is None or int(cap) >= n:
        return None
    return np.sort(np.random.default_rng(seed).choice(n, int(cap), replace=False))
