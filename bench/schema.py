"""The result schema, in one place: what defines a result, what a trial is given, what it
writes.

* :class:`Definition` - everything that defines a result and nothing else (no paths, no
  runtime options). Its :attr:`~Definition.key` (a content hash, with a readable prefix) names
  the result; its :attr:`~Definition.group` is the same hash without the seed, so a leaderboard
  cell only ever aggregates results of one group.
* :class:`TrialConfig` - a complete, typed trial: the definition plus where to read and write
  and how to run. The key is computed once, when the config is built complete (encoder and
  data fingerprint included), and never replaced. ``to_dict`` / ``from_dict`` carry it through
  Ray as plain JSON.
* :class:`ResultRecord` - the JSON record every trial writes, whatever happened: ``status`` is
  ``finished`` (metrics and codes), ``failed`` (:class:`ErrorInfo`, no metrics) or ``pruned``
  (stopped early by a scheduler: last validation score, no metrics; never a leaderboard
  result). ``SCHEMA_VERSION`` is its version; :meth:`ResultRecord.from_json` reads every older
  version (see ``_upgrade_v1``).
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Literal

import numpy as np

SCHEMA_VERSION = 2
#: How a trial codes the retrieval database: ``per-modality`` (each modality alone, the
#: harness's protocol: the I→T database is the items' text codes, T→I their image codes) or
#: ``unified`` (each item from both of its modalities at once, one database for both
#: directions, as the CMFH, LSSH and SePH papers do; methods declaring ``unified_database``)
DATABASE_CODES: tuple[str, ...] = ("per-modality", "unified")
DEFAULT_DATABASE_CODES = "per-modality"
Status = Literal["finished", "failed", "pruned"]
STATUSES: tuple[str, ...] = ("finished", "failed", "pruned")


# --------------------------------------------------------------------------- hashing


def json_safe(obj: Any) -> Any:
    """NaN/inf become null; numpy scalars and tuples become plain JSON values."""
    if isinstance(obj, Mapping):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def canonical_json(obj: Any) -> str:
    return json.dumps(json_safe(obj), sort_keys=True, separators=(",", ":"), default=str)


def digest(obj: Any) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def result_key(definition: Mapping[str, Any]) -> str:
    """``<method>-<dataset>-b<bits>-n<budget>-s<seed>-<sha256[:16]>`` of a definition."""
    bits = "_".join(str(b) for b in definition["bits"])
    return (f"{definition['method']}-{definition['dataset']}-b{bits}-n{definition['budget']}"
            f"-s{definition['seed']}-{digest(definition)[:16]}")


def group_id(definition: Mapping[str, Any]) -> str:
    """The hash of a definition without its seed: results of one group differ only by seed."""
    return digest({k: v for k, v in definition.items() if k != "seed"})[:16]


# --------------------------------------------------------------------------- definition


@dataclass(frozen=True)
class Definition:
    """Everything that defines a result. Two trials with equal definitions give the same
    result (up to the stated numerical tolerance); any difference is a different result."""

    method: str
    method_version: str
    dataset: str
    dataset_version: str
    preset: Mapping[str, Any]
    bits: tuple[int, ...]
    budget: str  #: "all", a count or a fraction, as text
    seed: int
    params: Mapping[str, Any]  #: canonical hyperparameters (bench.params)
    protocol_version: int
    k_values: tuple[int, ...]
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    #: SHA-256 of the data actually loaded (bench.fingerprint); None only in older records
    data_fingerprint: str | None = None
    #: the frozen encoder's identity (no paths) when features come from one
    encoder: Mapping[str, Any] | None = None
    #: the ``bench tune`` study whose best configuration this is (None: not tuned). A tuned
    #: result is never the same result as a hand-set one, even with equal parameters.
    tuned_by: str | None = None
    #: how the retrieval database is coded (:data:`DATABASE_CODES`); a unified-database result
    #: is never the same result as a per-modality one
    database_codes: str = DEFAULT_DATABASE_CODES

    def __post_init__(self) -> None:
        if self.database_codes not in DATABASE_CODES:
            raise ValueError(f"database_codes must be one of {DATABASE_CODES}, got "
                             f"{self.database_codes!r}")

    def as_dict(self) -> dict[str, Any]:
        out = json_safe(asdict(self))
        out["dataset_options"] = dict(sorted(out["dataset_options"].items()))
        if out["tuned_by"] is None:  # only when set: keys of untuned results stay as they were
            del out["tuned_by"]
        if out["database_codes"] == DEFAULT_DATABASE_CODES:  # likewise: per-modality keys stay
            del out["database_codes"]
        return out

    @property
    def key(self) -> str:
        return result_key(self.as_dict())

    @property
    def group(self) -> str:
        return group_id(self.as_dict())

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Definition:
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["bits"] = tuple(int(b) for b in kw["bits"])
        kw["k_values"] = tuple(int(k) for k in kw.get("k_values") or ())
        kw.setdefault("method_version", "?")
        kw.setdefault("dataset_version", "?")
        kw.setdefault("preset", {})
        kw.setdefault("params", {})
        kw.setdefault("protocol_version", 1)
        kw["dataset_options"] = dict(kw.get("dataset_options") or {})
        return cls(**kw)


# --------------------------------------------------------------------------- trial config


@dataclass(frozen=True)
class Tracking:
    """Where a trial logs (MLflow); absent = no tracking. ``experiment_id`` None: the store was
    unavailable when the run started, so the trial does not try and its record says
    ``tracking_state: "pending"`` (``bench mlflow sync`` uploads it later)."""

    uri: str
    experiment_id: str | None
    parent_run_id: str | None = None
    experiment: str = "bench"  #: the experiment's name (for ``bench mlflow sync``)
    #: the driver logs the trial's record when the trial ends (:mod:`bench.runner.relay`): the
    #: trial itself never imports or calls MLflow and leaves its record "pending"
    by_driver: bool = False


@dataclass(frozen=True)
class TrialConfig:
    """One trial, complete. Built by :func:`bench.runner.grid.make_trial`."""

    definition: Definition
    budget: int | float | None  #: the budget's value (the definition holds its label)
    results_dir: str  #: absolute
    cache_dir: str  #: absolute
    data_root: str | None = None  #: absolute, for datasets read from user files
    encoder: Mapping[str, Any] | None = None  #: EncoderSpec.as_config() (with the weights path)
    device: str = "auto"
    resources: Mapping[str, float] = field(default_factory=lambda: {"cpu": 1, "gpu": 0})
    tracking: Tracking | None = None
    run_id: str = ""  #: the driver run that planned it
    requested_seeds: tuple[int, ...] = ()  #: every seed that run asked for (for "n of N")
    #: where a ``bench tune`` configuration came from (study, trials, best trial, validation
    #: score, ...); copied into the record. Not part of the definition.
    tuning: Mapping[str, Any] | None = None
    key: str = field(init=False)

    def __post_init__(self) -> None:
        enc = self.definition.encoder
        if (enc is None) != (self.encoder is None) or (
                enc is not None and {k: v for k, v in self.encoder.items() if k != "weights"}
                != dict(enc)):
            raise ValueError("TrialConfig: the encoder does not match the definition's encoder")
        object.__setattr__(self, "key", self.definition.key)

    # convenience
    @property
    def method(self) -> str:
        return self.definition.method

    @property
    def dataset(self) -> str:
        return self.definition.dataset

    @property
    def bits(self) -> tuple[int, ...]:
        return self.definition.bits

    @property
    def seed(self) -> int:
        return self.definition.seed

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.definition.params)

    @property
    def preset_name(self) -> str:
        return str(self.definition.preset.get("name"))

    def with_tracking(self, tracking: Tracking | None) -> TrialConfig:
        return replace(self, tracking=tracking)

    def with_params(self, params: Mapping[str, Any]) -> TrialConfig:
        """The same trial with other (canonical) hyperparameters, hence another key."""
        return replace(self, definition=replace(self.definition, params=dict(params)))

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "key"}
        out["definition"] = self.definition.as_dict()
        out["tracking"] = None if self.tracking is None else asdict(self.tracking)
        out["key"] = self.key
        return json_safe(out)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TrialConfig:
        kw = {k: v for k, v in d.items() if k != "key"}
        kw["definition"] = Definition.from_dict(d["definition"])
        kw["tracking"] = Tracking(**d["tracking"]) if d.get("tracking") else None
        kw["requested_seeds"] = tuple(d.get("requested_seeds") or ())
        cfg = cls(**kw)
        if d.get("key") and d["key"] != cfg.key:
            raise ValueError(f"trial config key {d['key']} does not match its definition")
        return cfg


# --------------------------------------------------------------------------- record


@dataclass
class ErrorInfo:
    """Why a trial failed: exception type and message, where, and the full traceback file
    (relative to the results folder)."""

    type: str
    message: str
    stage: str = ""  #: data | fit | encode | evaluate | store | worker
    traceback_file: str | None = None


@dataclass
class ResultRecord:
    """One trial's outcome, as stored in ``records/<method>/<dataset>/<key>.json``."""

    key: str
    status: Status
    definition: dict[str, Any]
    schema: int = SCHEMA_VERSION
    group: str = ""
    # what ran (copies of the definition's main fields, for readers of the JSON)
    method: str = ""
    dataset: str = ""
    bits: list[int] = field(default_factory=list)
    budget: str = ""
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    #: every parameter value as the method resolved it ("auto" and None replaced)
    resolved_params: dict[str, Any] = field(default_factory=dict)
    method_version: str = ""
    method_source: str | None = None  #: SHA-256 of the method package's source files
    supervision: str = ""
    labels_at_encode: bool = False
    dataset_options: dict[str, Any] = field(default_factory=dict)
    preset: dict[str, Any] = field(default_factory=dict)
    encoder: dict[str, Any] | None = None
    features: dict[str, Any] | None = None
    # data actually used
    n_train: int | None = None
    n_train_used: int | None = None
    #: dataset indices the method really trained on (None: every budget pair, see codes file)
    train_index_used: list[int] | None = None
    split: dict[str, Any] = field(default_factory=dict)
    # outcome
    selection: str = ""
    validation: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)  #: bits -> direction -> metrics
    protocol: dict[str, Any] = field(default_factory=dict)
    codes: dict[str, Any] | None = None  #: {"file": relative path, "sha256": ...}
    error: ErrorInfo | None = None
    # how it ran
    attempt: int = 1
    node: str = ""
    device: str = ""
    threads: int | None = None
    timing: dict[str, Any] = field(default_factory=dict)
    run: dict[str, Any] = field(default_factory=dict)  #: {"id", "seeds"} of the driver run
    environment: dict[str, Any] = field(default_factory=dict)
    mlflow_run_id: str | None = None
    tracking_error: str | None = None
    #: "logged" (its MLflow run is complete), "pending" (not, or not completely: ``bench mlflow
    #: sync`` uploads it) or "off" (the run asked for no tracking); "" in older records
    tracking_state: str = ""
    #: the Ray node that ran the trial ({"id", "ip"}; None outside Ray); ``node`` is the host
    ray_node: dict[str, Any] | None = None
    #: earlier attempts of this trial in the same run that ended without a record (their worker
    #: or node died) and were retried: [{"attempt", "node", "ray_node", "started"}]
    lost_attempts: list[dict[str, Any]] = field(default_factory=list)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    #: set by ``bench leaderboard --recompute`` when it re-evaluated the codes
    recomputed: dict[str, Any] | None = None
    #: origin of a ``bench tune`` configuration (TrialConfig.tuning); None for hand-set ones
    tuning: dict[str, Any] | None = None
    #: how the retrieval database was coded (``DATABASE_CODES``; the definition's value)
    database_codes: str = DEFAULT_DATABASE_CODES

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, got {self.status!r}")
        if isinstance(self.error, Mapping):
            self.error = ErrorInfo(**self.error)
        if not self.group and self.definition:
            self.group = group_id(self.definition)

    @property
    def finished(self) -> bool:
        return self.status == "finished"

    @property
    def requested_seeds(self) -> list[int]:
        return [int(s) for s in (self.run or {}).get("seeds") or []]

    def to_json(self) -> dict[str, Any]:
        return json_safe(asdict(self))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResultRecord:
        """A record of any schema version (older ones upgraded); ValueError when malformed."""
        if not isinstance(data, Mapping):
            raise ValueError("not a JSON object")
        schema = data.get("schema")
        if schema == 1:
            data = _upgrade_v1(data)
        elif schema != SCHEMA_VERSION:
            raise ValueError(f"schema {schema!r}: this harness reads schemas 1 to "
                             f"{SCHEMA_VERSION}")
        missing = [k for k in ("key", "status", "definition", "method", "dataset", "bits",
                               "seed", "budget") if k not in data]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        if not isinstance(data.get("metrics", {}), Mapping):
            raise ValueError("metrics is not an object")
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


def _upgrade_v1(data: Mapping[str, Any]) -> dict[str, Any]:
    """Schema 1 (an older harness): finished records only, ``codes_file`` without a checksum,
    definition without data fingerprint; its key hashed parameters as given."""
    out = dict(data)
    missing = [k for k in ("key", "method", "dataset", "bits", "seed", "budget", "metrics")
               if k not in out]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    out["schema"] = SCHEMA_VERSION
    out.setdefault("status", "finished")
    definition = dict(out.get("definition") or {
        "method": out["method"], "method_version": out.get("method_version", "?"),
        "dataset": out["dataset"], "dataset_options": out.get("dataset_options") or {},
        "preset": out.get("preset") or {}, "bits": out["bits"], "budget": out["budget"],
        "seed": out["seed"], "params": out.get("params") or {},
        "protocol_version": (out.get("protocol") or {}).get("version", 1)})
    out["definition"] = definition
    if out.get("codes_file"):
        out["codes"] = {"file": out["codes_file"], "sha256": None}
    out.setdefault("resolved_params", dict(out.get("params") or {}))
    return out


def failed_record(cfg: TrialConfig, error: ErrorInfo, **extra: Any) -> ResultRecord:
    """The record of a trial that raised (or whose worker died)."""
    return ResultRecord(key=cfg.key, status="failed", error=error, **record_identity(cfg),
                        **extra)


def pruned_record(cfg: TrialConfig, validation: Mapping[str, Any],
                  **extra: Any) -> ResultRecord:
    """The record of a trial stopped early by a scheduler (``bench tune``): never a result."""
    return ResultRecord(key=cfg.key, status="pruned", validation=dict(validation),
                        **record_identity(cfg), **extra)


def record_identity(cfg: TrialConfig) -> dict[str, Any]:
    """The record fields a config determines."""
    d = cfg.definition
    return {
        "definition": d.as_dict(), "method": d.method, "dataset": d.dataset,
        "bits": list(d.bits), "budget": d.budget, "seed": d.seed, "params": dict(d.params),
        "method_version": d.method_version, "dataset_options": dict(d.dataset_options),
        "preset": dict(d.preset), "encoder": None if d.encoder is None else dict(d.encoder),
        "run": {"id": cfg.run_id, "seeds": list(cfg.requested_seeds)},
        "tuning": None if cfg.tuning is None else dict(cfg.tuning),
        "database_codes": d.database_codes,
    }
