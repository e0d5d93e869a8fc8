"""A small on-disk cache for parsed datasets whose source files are slow to parse (COCO's JSON).

An entry is one ``.npz`` named by a hash of its identity (reader version, source files with their
sizes and modification times, options): a changed source file makes a new entry. Arrays are
stored as arrays; everything else as one JSON string. Writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np


def file_identity(path: Path) -> list[Any]:
    st = Path(path).stat()
    return [str(Path(path).resolve()), st.st_size, st.st_mtime_ns]


def cached(cache_dir: Path | None, namespace: str, identity: Mapping[str, Any],
           build: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], Path | None]:
    """``build()``'s result, read from the cache when an entry for ``identity`` exists.

    Returns the data and the cache file (None when no cache folder is usable).
    """
    key = hashlib.sha256(json.dumps(identity, sort_keys=True, default=str).encode()).hexdigest()
    path = Path(cache_dir) / namespace / f"{key[:20]}.npz" if cache_dir else None
    if path is not None and path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                data = {k: z[k] for k in z.files if k != "__json__"}
                data.update(json.loads(str(z["__json__"])))
            return data, path
        except (OSError, ValueError, KeyError):
            pass  # a broken entry is rebuilt below
    data = build()
    if path is None:
        return data, None
    arrays = {k: v for k, v in data.items() if isinstance(v, np.ndarray)}
    rest = {k: v for k, v in data.items() if not isinstance(v, np.ndarray)}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
        np.savez(tmp, __json__=np.array(json.dumps(rest)), **arrays)
        tmp.replace(path)
    except OSError:
        return data, None
    return data, path
