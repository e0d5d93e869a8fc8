"""The results store: one JSON record and one compressed code file per finished trial.

Layout under the results folder::

    records/<method>/<dataset>/<key>.json   structured result (the source of truth)
    codes/<key>.npz                         packed codes + labels + indices (reloadable)

A result key is a content hash of everything that defines the result, so a rerun skips
finished work and a change of any ingredient makes a new key. Writes are atomic (temporary
file, then rename): nothing half-written is ever visible.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError

RECORD_SCHEMA = 1
REQUIRED_FIELDS = ("schema", "key", "method", "dataset", "bits", "seed", "budget", "metrics")


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def result_key(definition: Mapping[str, Any]) -> str:
    """``<method>-<dataset>-b<bits>-n<budget>-s<seed>-<sha256[:16]>`` of the definition."""
    digest = hashlib.sha256(canonical_json(definition).encode()).hexdigest()[:16]
    bits = "_".join(str(b) for b in definition["bits"])
    return (f"{definition['method']}-{definition['dataset']}-b{bits}-n{definition['budget']}"
            f"-s{definition['seed']}-{digest}")


def json_safe(obj: Any) -> Any:
    """NaN/inf become null; numpy scalars become Python numbers (JSON round-trips)."""
    if isinstance(obj, dict):
        return {str(k): json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class ResultStore:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.records_dir = self.root / "records"
        self.codes_dir = self.root / "codes"

    def record_path(self, method: str, dataset: str, key: str) -> Path:
        return self.records_dir / method / dataset / f"{key}.json"

    def codes_path(self, key: str) -> Path:
        return self.codes_dir / f"{key}.npz"

    def exists(self, method: str, dataset: str, key: str) -> bool:
        return self.record_path(method, dataset, key).exists()

    def write_record(self, record: Mapping[str, Any]) -> Path:
        path = self.record_path(record["method"], record["dataset"], record["key"])
        text = json.dumps(json_safe(dict(record)), indent=1, sort_keys=True, allow_nan=False)
        atomic_write_bytes(path, text.encode())
        return path

    def write_codes(self, key: str, arrays: Mapping[str, np.ndarray]) -> Path:
        path = self.codes_path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key}.", suffix=".npz")
        os.close(fd)
        try:
            np.savez_compressed(tmp, **arrays)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def load_records(self) -> list[dict[str, Any]]:
        """Every record, checked; a corrupt one is a one-line BenchError naming the file."""
        out = []
        if not self.records_dir.exists():
            return out
        for path in sorted(self.records_dir.rglob("*.json")):
            out.append(load_record(path))
        return out


def load_record(path: Path) -> dict[str, Any]:
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BenchError(f"corrupt result record {path}: {exc}") from None
    if not isinstance(record, dict):
        raise BenchError(f"corrupt result record {path}: not a JSON object")
    missing = [f for f in REQUIRED_FIELDS if f not in record]
    if missing:
        raise BenchError(f"corrupt result record {path}: missing {', '.join(missing)}")
    if record["schema"] != RECORD_SCHEMA:
        raise BenchError(f"result record {path} has schema {record['schema']}, "
                         f"this harness reads {RECORD_SCHEMA}")
    if not isinstance(record["metrics"], dict):
        raise BenchError(f"corrupt result record {path}: metrics is not an object")
    return record


def load_codes(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a codes file (see ``bench.runner.trial`` for the keys)."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files}
