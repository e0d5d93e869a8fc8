"""Identities of what a result was computed from: the data actually loaded, and a method's
code.

* :func:`data_fingerprint` - SHA-256 of a loaded dataset's content (labels, features, captions,
  images or image files' names and sizes, class names, the dataset's own split), memoised per
  loaded object; hashing runs at memory speed (10,000 64x64 images: ~0.1 s). It is part of
  every result's definition, so pointing a results folder at another copy or layout of a
  dataset with different content never reuses old results.
* :func:`method_source` - SHA-256 of a method package's Python files and of the harness's
  building-block modules it imports (``bench.deep``, ``bench.shallow``, ``bench.training``,
  ``bench.encoders``, followed transitively), so a change to shared method code is caught as
  a change to every method built on it. A built-in method keeps
  ``methods/<package>/fingerprint.json`` (``{name: {"version", "source_sha256"}}``); the test
  suite fails when the source changed but the file was not renewed, which forces the author to
  decide whether ``SPEC.version`` (part of every result key) must be bumped.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from bench.plugins import LoadedDataset, MethodSpec

FINGERPRINT_FILE = "fingerprint.json"
_ITEMS: dict[int, tuple[Any, str]] = {}
_DATA: dict[int, tuple[Any, str]] = {}


def _update_array(h: Any, name: str, x: Any) -> None:
    if x is None:
        return
    a = np.ascontiguousarray(np.asarray(x))
    h.update(f"\0{name}\0{a.dtype.str}\0{a.shape}\0".encode())
    h.update(memoryview(a).cast("B") if a.size else b"")


def _update_images(h: Any, images: Any, root: str | None) -> None:
    if isinstance(images, np.ndarray):
        _update_array(h, "images", images)
        return
    for item in images:
        if isinstance(item, np.ndarray):
            h.update(np.ascontiguousarray(item).tobytes())
            continue
        path = str(item)
        shown = os.path.relpath(path, root) if root and path.startswith(root) else path
        try:
            size = os.stat(path).st_size
        except OSError:
            size = -1
        h.update(f"{shown}\0{size}\0".encode())


def items_fingerprint(ds: LoadedDataset) -> str:
    """Identity of the items a frozen encoder reads (captions and images), the feature cache's
    key (memoised per loaded object)."""
    memo = _ITEMS.get(id(ds.items))
    if memo is not None and memo[0] is ds.items:
        return memo[1]
    if ds.info.get("fingerprint"):
        fp = str(ds.info["fingerprint"])
    else:
        h = hashlib.sha256()
        h.update(f"{ds.name}\0{len(ds.items)}\0".encode())
        for c in ds.items.captions or ():
            h.update(str(c).encode() + b"\0")
        images = ds.items.images
        if isinstance(images, np.ndarray):
            h.update(np.ascontiguousarray(images).tobytes())
        elif images is not None:
            for item in images:
                if isinstance(item, np.ndarray):
                    h.update(np.ascontiguousarray(item).tobytes())
                else:
                    h.update(str(item).encode() + b"\0")
        fp = h.hexdigest()
    _ITEMS[id(ds.items)] = (ds.items, fp)
    return fp


def data_fingerprint(ds: LoadedDataset, root: str | None = None) -> str:
    """SHA-256 of everything ``ds`` holds (see the module docstring); ``root`` makes image
    file names relative, so a moved copy of the same files has the same fingerprint."""
    memo = _DATA.get(id(ds))
    if memo is not None and memo[0] is ds:
        return memo[1]
    it = ds.items
    h = hashlib.sha256(f"cmh-bench data 1\0{len(it)}\0".encode())
    _update_array(h, "labels", it.labels)
    _update_array(h, "image_features", it.image_features)
    _update_array(h, "text_features", it.text_features)
    for c in it.captions or ():
        h.update(b"\0caption\0" + str(c).encode())
        for alt in getattr(c, "candidates", ()):
            h.update(b"\0alt\0" + str(alt).encode())
    if it.images is not None:
        _update_images(h, it.images, str(Path(root).resolve()) if root else None)
    h.update(("\0classes\0" + "\0".join(map(str, ds.class_names))).encode())
    for part, idx in sorted((ds.fixed_split or {}).items()):
        _update_array(h, f"fixed_{part}", np.asarray(idx, dtype="<i8"))
    fp = h.hexdigest()
    _DATA[id(ds)] = (ds, fp)
    return fp


# --------------------------------------------------------------------------- method code


def method_package_dir(spec: MethodSpec) -> Path | None:
    """The folder of the package that holds ``spec``'s implementation (None if unknown)."""
    module = spec.entry.partition(":")[0]
    package = module.rsplit(".", 1)[0] if "." in module else module
    try:
        found = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if found is None or not found.submodule_search_locations:
        return None
    return Path(next(iter(found.submodule_search_locations)))


def _source_files(folder: Path) -> Iterable[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


#: harness packages that hold methods' shared building blocks (their code shapes results)
BUILDING_BLOCKS = ("bench.deep", "bench.shallow", "bench.training", "bench.encoders")
_BENCH_ROOT = Path(__file__).resolve().parent


def _module_file(module: str) -> Path | None:
    """The file of a ``bench.*`` module, found on disk without importing it."""
    base = _BENCH_ROOT.joinpath(*module.split(".")[1:])
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _is_block(module: str) -> bool:
    return any(module == b or module.startswith(b + ".") for b in BUILDING_BLOCKS)


def _imported_modules(path: Path, package: str) -> set[str]:
    """Absolute names of the modules ``path`` imports (``from a import b`` also yields
    ``a.b``, which is kept only where it is a module)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_bytes(), filename=str(path))):
        if isinstance(node, ast.Import):
            out.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            out.add(base)
            out.update(f"{base}.{alias.name}" for alias in node.names)
    return out


def _building_block_files(roots: Iterable[Path]) -> list[Path]:
    """The building-block modules ``roots`` import, transitively, with their packages'
    ``__init__.py`` files (importing a module runs them)."""
    seen: set[Path] = set()
    todo = [(p, "") for p in roots]
    while todo:
        path, package = todo.pop()
        for module in _imported_modules(path, package):
            if not _is_block(module):
                continue
            parts = module.split(".")
            for i in range(2, len(parts) + 1):
                name = ".".join(parts[:i])
                found = _module_file(name)
                if found is not None and found not in seen:
                    seen.add(found)
                    pkg = name if found.name == "__init__.py" else name.rsplit(".", 1)[0]
                    todo.append((found, pkg))
    return sorted(seen)


def method_source(spec: MethodSpec) -> str | None:
    """SHA-256 over the relative names and bytes of the method package's ``*.py`` files, then
    of the harness building-block modules they import (see :data:`BUILDING_BLOCKS`)."""
    folder = method_package_dir(spec)
    if folder is None:
        return None
    h = hashlib.sha256()
    own = list(_source_files(folder))
    for path in own:
        h.update(path.relative_to(folder).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    for path in _building_block_files(own):
        h.update(b"bench/" + path.relative_to(_BENCH_ROOT).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()


_RUNNING: dict[str, str | None] = {}


def running_method_source(spec: MethodSpec) -> str | None:
    """:func:`method_source`, computed once per process and method: the code a process runs is
    what it imported, so every trial's record reuses the first value (hashing and parsing the
    building blocks costs up to ~25 ms, too much to repeat per trial)."""
    if spec.entry not in _RUNNING:
        _RUNNING[spec.entry] = method_source(spec)
    return _RUNNING[spec.entry]


def fingerprint_file(spec: MethodSpec) -> Path | None:
    folder = method_package_dir(spec)
    return None if folder is None else folder / FINGERPRINT_FILE


def read_fingerprints(path: Path) -> dict[str, dict[str, str]]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def fingerprint_problem(spec: MethodSpec) -> str | None:
    """None when ``spec``'s recorded fingerprint matches its version and source; otherwise
    one line telling the plugin's author what to do."""
    path = fingerprint_file(spec)
    if path is None:
        return None
    fix = (f"run `python -m bench validate {spec.name} --update-fingerprint` to record it")
    entry = read_fingerprints(path).get(spec.name)
    if entry is None:
        return f"method {spec.name!r}: no entry in {path}; {fix}"
    if entry.get("source_sha256") == method_source(spec) and \
            entry.get("version") == spec.version:
        return None
    if entry.get("version") != spec.version:
        return (f"method {spec.name!r}: SPEC.version is {spec.version!r} but {path} records "
                f"version {entry.get('version')!r}; {fix}")
    return (f"method {spec.name!r}: its source changed since version {spec.version!r} was "
            f"recorded in {path}: if results can change, bump SPEC.version; then {fix}")


def write_fingerprint(spec: MethodSpec) -> Path:
    """Record ``spec``'s version and source fingerprint in its package's fingerprint file."""
    path = fingerprint_file(spec)
    if path is None:
        raise ValueError(f"method {spec.name!r}: cannot locate its package folder")
    data = read_fingerprints(path)
    data[spec.name] = {"version": spec.version, "source_sha256": method_source(spec) or ""}
    path.write_text(json.dumps(dict(sorted(data.items())), indent=2) + "\n")
    return path
