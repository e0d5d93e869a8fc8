"""What ``bench datasets`` does: list datasets, check a folder, write a preset's split.

:func:`list_datasets` shows every dataset with its layouts and presets; :func:`check_folder`
finds the layout(s) in a folder (or checks it as a named dataset), loads each with every check a
run applies and says what it found; :func:`write_split` writes a preset's split index files with
checksums (see :func:`bench.splits.write_split_files`). The command line is
``bench.cli.datasets``.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError

Printer = Callable[[str], None]


def _real_dataset_names() -> list[str]:
    from bench import registry

    return [n for n in registry.datasets.names() if registry.datasets.get(n).layouts]


def _preset_text(p: Any) -> str:
    if p.query_per_class is not None:
        first = f"{p.query_first_class} for the first class, then " if p.query_first_class else ""
        query = f"{first}{p.query_per_class}/class (~{p.query:,})"
    else:
        query = (f"the dataset's own ({p.query:,})" if p.query else "the dataset's own") \
            if p.fixed else f"{p.query:,}"
    parts = [f"query {query}", f"validation {p.validation:,}"]
    if p.retrieval is not None:
        parts.append(f"retrieval {p.retrieval:,}")
    if p.train_per_class is not None:
        parts.append(f"train {p.train_per_class}/class")
    parts.append(f"train {p.train_pool:,}" if p.train_pool is not None else "train rest")
    return " / ".join(parts) + f", seed {p.seed}"


def list_datasets(out: Printer = print) -> None:
    from bench import registry
    from bench.io.layouts import LAYOUTS

    for name in registry.datasets.names():
        s = registry.datasets.get(name)
        out(f"{name}  (version {s.version}; provides at most: {', '.join(s.provides)})")
        out(f"    {s.description}")
        if s.layouts:
            out("    layouts:")
            for lay in s.layouts:
                out(f"      {lay:<11} {LAYOUTS[lay].files}")
        else:
            out("    layouts: none (generated, needs no --data-root)")
        out("    presets:")
        for pname, p in s.presets.items():
            mark = "*" if pname == s.default_preset else " "
            out(f"     {mark}{pname:<13} {_preset_text(p)}")
            if p.description:
                out(f"       {'':<13} {p.description}")
        out("")
    out("(* = default preset.) Check a folder: bench datasets check PATH [--dataset NAME]")


# -- check -----------------------------------------------------------------------------------


def _peek_classes(root: Path, layout: str) -> int | None:
    """The number of label columns, read cheaply, or None when unknown."""
    from bench.io.layouts import (
        LABEL_KEYS,
        _mat_files,
        _split_keys,
        find_key,
        load_mat,
        scan_mat,
    )

    if layout == "text":
        with open(root / "all_labels.txt", "rb") as fh:
            first = fh.readline().decode("utf-8", "replace")
        return len(re.split(r"[\s,;]+", first.strip())) if first.strip() else None
    if layout == "dcmh-mat":
        for p in _mat_files(root):
            v = scan_mat(p)
            if v and (k := find_key(v, ("LAll",))) and len(v[k]) == 2:
                return min(v[k])
        return None
    if layout == "index-mat":
        v = scan_mat(root / "label.mat") if (root / "label.mat").is_file() else None
        k = find_key(v, LABEL_KEYS) if v else None
        shape = [s for s in v[k] if s != 1] if v and k else []
        return min(shape) if len(shape) == 2 else None
    if layout == "split-mat":
        for p in _mat_files(root):
            v = scan_mat(p)
            keys = _split_keys(v) if v else None
            if v and keys and "tr" in keys["L"]:
                shape = v[keys["L"]["tr"]]
                if len(shape) == 2 and min(shape) > 1:
                    return min(shape)
                lab = np.asarray(load_mat(p, [keys["L"]["tr"]])[keys["L"]["tr"]])
                return int(lab.max()) + (0 if lab.min() >= 1 else 1)
        return None
    return None


def _auto_dataset(root: Path) -> tuple[str, list[str]]:
    """(dataset name, layouts found) for a folder, by layout and number of classes."""
    from bench import registry
    from bench.io.layouts import LAYOUTS, detect_layouts

    found = detect_layouts(root)
    if not found:
        from bench.io.dataset import raise_unreadable

        raise_unreadable(root, list(LAYOUTS))
        raise BenchError(f"{root}: no known dataset layout; expected one of: "
                         + "; ".join(f"{n} ({lay.files})" for n, lay in LAYOUTS.items()))
    names = _real_dataset_names()
    layout = found[0]
    if layout == "features":
        return "features", found
    candidates = [n for n in names if layout in registry.datasets.get(n).layouts
                  and n != "features"]
    if len(candidates) == 1:
        return candidates[0], found
    classes = _peek_classes(root, layout)
    by_classes = {}
    for n in candidates:
        cls = registry.datasets.get(n).load().n_classes  # type: ignore[attr-defined]
        by_classes.setdefault(cls, n)
    if classes in by_classes:
        return by_classes[classes], found
    known = ", ".join(f"{n} ({registry.datasets.get(n).load().n_classes})"  # type: ignore
                      for n in candidates)
    raise BenchError(f"{root}: layout {layout} with {classes} label columns matches none of "
                     f"{known}; name the dataset with --dataset")


def check_folder(path: str | Path, dataset: str | None = None,
                 options: Mapping[str, Any] | None = None, out: Printer = print) -> list[Any]:
    """Load ``path`` in every layout found there (as ``dataset``, or auto-detected), with all
    the checks of a run, and print what was found. Returns the loaded datasets."""
    from bench import registry
    from bench.io.dataset import RealDataset
    from bench.io.layouts import LAYOUTS, detect_layouts

    root = Path(path).expanduser().resolve()
    if not root.exists():
        raise BenchError(f"{root} does not exist")
    if dataset:
        spec = registry.datasets.get(dataset)
        if not spec.layouts:
            raise BenchError(f"dataset {dataset!r} is generated and reads no folder")
        how = "as requested"
        layouts = [str(options["layout"])] if options and options.get("layout") else \
            detect_layouts(root, spec.layouts)
        if not layouts:
            from bench.io.dataset import describe_layouts, raise_unreadable

            raise_unreadable(root, spec.layouts)
            raise BenchError(f"{root}: no {dataset} layout found; expected one of: "
                             f"{describe_layouts(spec.layouts)}")
    else:
        dataset, found = _auto_dataset(root)
        spec = registry.datasets.get(dataset)
        layouts = [lay for lay in found if lay in spec.layouts]
        how = "auto-detected"
    out(f"{root}: {dataset} ({how}); layout(s) found: {', '.join(layouts)}")
    loaded = []
    with tempfile.TemporaryDirectory(prefix="bench-check-") as tmp:
        for layout in layouts:
            opts = {**dict(options or {}), "layout": layout}
            plugin = spec.load()(root, Path(tmp), opts)
            ds = plugin.read(check_only=True) if isinstance(plugin, RealDataset) else plugin.load()
            _report(ds, spec, LAYOUTS[layout].title, out)
            loaded.append(ds)
    return loaded


def _report(ds: Any, spec: Any, title: str, out: Printer) -> None:
    from bench import registry
    from bench.splits import make_split

    it, info = ds.items, ds.info
    labels = it.labels
    out(f"  layout {info['layout']} ({title})")
    out(f"    pairs:    {len(it):,}")
    per_item = labels.sum(1)
    shown = ", ".join(ds.class_names[:8]) + (", ..." if len(ds.class_names) > 8 else "")
    out(f"    classes:  {labels.shape[1]} ({shown}); labels per pair {per_item.mean():.2f} "
        f"(min {per_item.min()}, max {per_item.max()})")
    files = info.get("files", {})
    for kind in ("labels", "image_features", "text_features", "images", "captions"):
        if kind not in ds.provides():
            continue
        detail = ""
        value = getattr(it, kind)
        if kind.endswith("features"):
            detail = info.get(kind) or f"{value.shape[1]:,}-d"
        elif kind == "images":
            detail = info.get("images") or f"e.g. {value[0]}"
        elif kind == "captions":
            n_cand = np.mean([len(getattr(c, "candidates", (c,))) for c in value[:1000]])
            detail = f"e.g. {str(value[0])[:60]!r}" + (f", {n_cand:.1f} candidates each"
                                                       if n_cand > 1 else "")
        src = files.get(kind)
        out(f"    {kind + ':':<16}{detail}{' <- ' + src if src else ''}")
    missing = [k for k in ("image_features", "text_features", "images", "captions")
               if k not in ds.provides()]
    if missing:
        out(f"    missing:  {', '.join(missing)} (methods that need them are refused)")
    if ds.fixed_split:
        out(f"    own split: {', '.join(f'{k} {len(v):,}' for k, v in ds.fixed_split.items())}")
    for note in info.get("notes", []):
        out(f"    note:     {note}")
    for pname, preset in spec.presets.items():
        try:
            split = make_split(len(it), preset, dict(ds.fixed_split) if ds.fixed_split else None,
                               labels=labels)
            sizes = split.sizes()
            out(f"    preset {pname:<13} ok: query {sizes['query']:,}, retrieval "
                f"{sizes['retrieval']:,}, validation {sizes['validation']:,}, train pool "
                f"{sizes['train_pool']:,}")
        except BenchError as exc:
            out(f"    preset {pname:<13} unusable: {exc}")
    runnable = []
    for m in registry.methods.names():
        try:
            if set(registry.methods.get(m).inputs) <= ds.provides():
                runnable.append(m)
        except BenchError:  # a broken method plugin must not hide the dataset report
            continue
    out(f"    methods that can run on it: {', '.join(runnable) or 'none'}")


# -- split -----------------------------------------------------------------------------------


def write_split(dataset: str, preset: str | None, data_root: str | None, out_dir: str | Path,
                options: Mapping[str, Any] | None = None, cache_dir: str | None = None,
                out: Printer = print) -> Path:
    """Write the split of ``dataset`` under ``preset`` to ``out_dir``; returns the manifest."""
    from bench import registry
    from bench.runner.data import load_dataset
    from bench.splits import make_split, write_split_files

    spec = registry.datasets.get(dataset)
    p = spec.preset(preset)
    root = str(Path(data_root).expanduser().resolve()) if data_root else None
    with tempfile.TemporaryDirectory(prefix="bench-split-") as tmp:
        ds = load_dataset(dataset, root, str(Path(cache_dir).resolve()) if cache_dir else tmp,
                          options)
        split = make_split(len(ds.items), p, dict(ds.fixed_split) if ds.fixed_split else None,
                           labels=ds.items.labels)
    meta = {"dataset": dataset, "dataset_version": spec.version, "preset": p.as_dict(),
            "n_items": len(ds.items), "layout": ds.info.get("layout"),
            "dataset_options": dict(options or {})}
    path = write_split_files(split, Path(out_dir), meta)
    sizes = ", ".join(f"{k} {v:,}" for k, v in split.sizes().items())
    out(f"bench: wrote the {dataset}/{p.name} split ({sizes}) to {path.parent}; "
        f"checksum {split.checksum()[:16]}")
    return path
