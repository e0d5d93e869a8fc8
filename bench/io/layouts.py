"""The on-disk layouts other code bases use, each with a cheap detector and a reader.

- ``dcmh-mat``: DCMH ``.mat`` files (any names, v5 or v7.3): ``LAll`` labels, ``YAll``
  bag-of-words, ``IAll`` pixels and/or ``XAll`` image features.
- ``text``: DCHMT/MITH text files ``all_imgs.txt``, ``all_tags.txt``, ``all_labels.txt``
  (+ ``TagList.txt``, an image folder).
- ``index-mat``: DCHMT/PromptHash ``index.mat`` (or ``.npy``), ``caption.mat`` (or ``.txt``),
  ``label.mat`` (+ ``images/``).
- ``coco-json``: COCO ``annotations/captions_*.json`` + ``instances_*.json`` + image folders
  (:mod:`bench.io.coco`).
- ``split-mat``: one ``.mat`` with ``I_tr``/``I_te``, ``T_tr``/``T_te``, ``L_tr``/``L_te``
  (Wikipedia's ``wiki_data.mat`` and older v5 files; optional ``*_va``).
- ``pascal-raw``: the Pascal Sentence release, ``dataset/<class>/*.jpg`` +
  ``sentence/<class>/*.txt``.
- ``features``: one ``.npz``/``.h5``/``.mat`` with ``image_features``, ``text_features``,
  ``labels`` (+ ``names``, ``captions``, ``images``, ``query_index``/``retrieval_index``).

Readers return :class:`bench.io.pairs.RawPairs`; :func:`bench.io.pairs.finalize` checks them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.io.coco import detect_coco_json, read_coco_json
from bench.io.context import ReadContext, make_text_features, read_captions, read_images
from bench.io.images import extract_image_array, image_array_axes
from bench.io.matlab import (
    MatArray,
    find_key,
    is_v73,
    load_mat,
    mat_variables,
    require_file,
    to_string_rows,
)
from bench.io.pairs import (
    Caption,
    RawPairs,
    as_features,
    as_multihot,
    labels_from_any,
    orient,
    orient_labels,
)
from bench.io.text import (
    guess_tag_separator,
    parse_matrix_lines,
    read_lines,
    read_text,
)


@dataclass(frozen=True)
class Layout:
    name: str
    title: str
    files: str
    options: tuple[str, ...]
    detect: Callable[[Path], bool]
    read: Callable[[ReadContext], RawPairs]
    extra: dict[str, Any] = field(default_factory=dict)


COMMON_OPTIONS = ("layout", "drop_unlabeled", "images", "image_root", "caption", "caption_seed",
                  "bow")


# -- shared helpers ------------------------------------------------------------------------


def _src(path: Path, key: str | None = None) -> str:
    return f"{path}:{key}" if key else str(path)


def _mat_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root] if root.suffix.lower() == ".mat" else []
    return sorted(p for p in root.glob("*.mat") if p.is_file())


_SCAN: dict[tuple[str, int, int], dict[str, tuple[int, ...]] | None] = {}


def scan_mat(path: Path) -> dict[str, tuple[int, ...]] | None:
    """Variables of ``path`` (None when unreadable), remembered per file version."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SCAN:
        try:
            _SCAN[key] = mat_variables(path)
        except BenchError:
            _SCAN[key] = None
    return _SCAN[key]


def _load_key(path: Path, accepted: Sequence[str], what: str) -> tuple[str, Any]:
    """(key, value) of the first accepted variable in ``path``; one-line error otherwise."""
    names = mat_variables(path)
    key = find_key(names, accepted)
    if key is None:
        raise BenchError(f"{path}: no {what} variable {' / '.join(accepted)} "
                         f"(it has: {', '.join(names) or 'nothing'})")
    data = load_mat(path, [key])
    if key not in data:
        raise BenchError(f"{path}: cannot read variable {key!r}")
    return key, data[key]


def _squeeze_leading(value: Any) -> Any:
    if isinstance(value, np.ndarray) and value.ndim > 2 and value.shape[0] == 1:
        return value[0]
    return value


# -- dcmh-mat ------------------------------------------------------------------------------

DCMH_KEYS = {"labels": ("LAll",), "text_features": ("YAll",), "images": ("IAll",),
             "image_features": ("XAll",)}
DCMH_FILE_OPTIONS = {"labels": "labels_file", "text_features": "text_file",
                     "images": "image_file", "image_features": "image_features_file"}


def _dcmh_locate(ctx: ReadContext) -> dict[str, tuple[Path, str]]:
    found: dict[str, tuple[Path, str]] = {}
    files = _mat_files(ctx.root)
    for role, keys in DCMH_KEYS.items():
        opt = DCMH_FILE_OPTIONS[role]
        if opt in ctx.options:
            path = require_file(ctx.path(opt), f"{role} file")
            if role == "image_features" and path.suffix.lower() != ".mat":
                found[role] = (path, "")
                continue
            names = mat_variables(path)
            key = find_key(names, keys + (("image_features", "features") if
                                           role == "image_features" else ()))
            if key is None:
                raise BenchError(f"{path}: no variable {keys[0]} (it has: "
                                 f"{', '.join(names) or 'nothing'})")
            found[role] = (path, key)
            continue
        hits = []
        for p in files:
            names = scan_mat(p)
            if names is not None and (k := find_key(names, keys)) is not None:
                hits.append((p, k))
        if len(hits) > 1:
            raise BenchError(f"{keys[0]} is in several files ({', '.join(str(p) for p, _ in hits)})"
                             f"; choose one with --dataset-opt {opt}=FILE")
        if hits:
            found[role] = hits[0]
    return found


def _detect_dcmh(root: Path) -> bool:
    return any((v := scan_mat(p)) is not None and find_key(v, ("LAll",)) is not None
               for p in _mat_files(root) if p.name not in ("label.mat",))


def _load_array_file(path: Path, keys: Sequence[str]) -> tuple[str, np.ndarray]:
    """A 2-d array from .npy / .npz / .h5 / .mat (the first accepted key, or the only array)."""
    suffix = path.suffix.lower()
    if suffix == ".mat":
        return _load_key(path, keys, "feature")
    data = load_table(path)
    key = find_key(data, keys) or (next(iter(data)) if len(data) == 1 else None)
    if key is None:
        raise BenchError(f"{path}: no array {' / '.join(keys)} (it has: {', '.join(data)})")
    return key, data[key]


def read_dcmh_mat(ctx: ReadContext) -> RawPairs:
    found = _dcmh_locate(ctx)
    if "labels" not in found:
        seen = []
        for p in _mat_files(ctx.root):
            v = scan_mat(p)
            seen.append(f"{p.name} ({', '.join(v) if v is not None else 'unreadable'})")
        raise BenchError(f"no .mat file in {ctx.root} holds LAll, the DCMH label matrix "
                         f"(files: {'; '.join(seen) or 'none'})")
    lpath, lkey = found["labels"]
    labels = as_multihot(orient_labels(_load_key(lpath, (lkey,), "label")[1], ctx.n_classes),
                         _src(lpath, lkey))
    n = len(labels)
    raw = RawPairs(layout="dcmh-mat", labels=labels, sources={"labels": _src(lpath, lkey)})
    if "text_features" in found:
        p, k = found["text_features"]
        raw.text_features = orient(_load_key(p, (k,), "text")[1], n, _src(p, k))
        raw.sources["text_features"] = _src(p, k)
        raw.info["text_features"] = f"{raw.text_features.shape[1]:,}-d bag-of-words ({k})"
    if "image_features" in found:
        p, k = found["image_features"]
        if k:
            arr = _load_key(p, (k,), "image feature")[1]
        else:
            k, arr = _load_array_file(p, ("XAll", "image_features", "features"))
        raw.image_features = orient(arr, n, _src(p, k))
        raw.sources["image_features"] = _src(p, k)
    if "images" in found:
        p, k = found["images"]
        if ctx.options.flag("images", True):
            if ctx.check_only:
                shape = MatArray(p, k).shape
                axes = image_array_axes(shape, n)
                raw.images = [f"{p}:{k}[{i}]" for i in range(n)]
                raw.info["images"] = (f"{n:,} images of {shape[axes[1]]}×{shape[axes[2]]} pixels "
                                      f"in {p.name}:{k} (written as PNG files to the cache on "
                                      "first load)")
            else:
                if ctx.cache_dir is None:
                    raise BenchError(f"reading the images of {p}:{k} needs a cache folder")
                raw.images = extract_image_array(p, k, n, ctx.cache_dir, log=ctx.log)
                raw.info["images"] = f"pixels of {p.name}:{k}, written as PNG files to the cache"
            raw.sources["images"] = _src(p, k)
        else:
            raw.notes.append(f"{p.name}:{k} pixels not loaded (images=false)")
    return raw


# -- text (all_imgs.txt / all_tags.txt / all_labels.txt) ---------------------------------------

TEXT_TAG_FILES = ("all_tags.txt", "all_captions.txt", "all_texts.txt", "all_text.txt")


def _detect_text(root: Path) -> bool:
    return root.is_dir() and (root / "all_labels.txt").is_file()


def read_text_layout(ctx: ReadContext) -> RawPairs:
    lpath = ctx.path("labels_file", "all_labels.txt")
    if lpath is None:
        raise BenchError(f"{ctx.root / 'all_labels.txt'} not found (labels of the text layout)")
    labels = as_multihot(parse_matrix_lines(read_lines(lpath, "labels file"), lpath), str(lpath))
    raw = RawPairs(layout="text", labels=labels, sources={"labels": str(lpath)})
    tpath = ctx.path("tags_file", *TEXT_TAG_FILES)
    if tpath is not None:
        lines = read_text(tpath, "tags file").splitlines()  # empty lines are items too
        while len(lines) > len(labels) and not lines[-1].strip():
            lines.pop()
        raw.captions = [Caption(line.strip()) for line in lines]
        raw.sources["captions"] = str(tpath)
        vpath = ctx.path("vocab_file", "TagList.txt", "tag_list.txt", "vocab.txt")
        vocab = [w.strip() for w in read_lines(vpath, "vocabulary file") if w.strip()] \
            if vpath is not None else None
        sep = guess_tag_separator(lines[:1000])
        feats, info = make_text_features(ctx, lines, str(tpath), vocab, default=True,
                                         tag_sep=sep)
        if feats is not None:
            raw.text_features = feats
            raw.sources["text_features"] = f"{tpath} (+ {vpath})" if vpath else str(tpath)
            raw.info.update(info)
    else:
        raw.notes.append(f"no tag file ({' / '.join(TEXT_TAG_FILES)}) in {ctx.root}")
    ipath = ctx.path("images_file", "all_imgs.txt", "all_images.txt")
    if ipath is not None:
        names = [n.strip() for n in read_lines(ipath, "image list")]
        raw.names = names
        raw.sources["names"] = str(ipath)
        if len(names) == len(labels):
            raw.images = read_images(ctx, names, str(ipath),
                                 [ctx.root, ctx.root / "images", ctx.root.parent], raw.notes)
            if raw.images is not None:
                raw.sources["images"] = str(ipath)
    return raw


# -- index-mat (index.mat / caption.mat / label.mat) -----------------------------------------

INDEX_KEYS = ("index", "imgs", "FAll")
CAPTION_KEYS = ("caption", "tags", "YAll")
LABEL_KEYS = ("category", "LAll", "labels", "label")


def _detect_index_mat(root: Path) -> bool:
    return root.is_dir() and ((root / "label.mat").is_file() or (root / "index.mat").is_file()
                              or (root / "caption.mat").is_file())


def read_index_mat(ctx: ReadContext) -> RawPairs:
    lpath = ctx.path("label_file", "label.mat")
    if lpath is None:
        raise BenchError(f"{ctx.root / 'label.mat'} not found (labels of the index.mat layout)")
    lkey, lval = _load_key(lpath, LABEL_KEYS, "label")
    labels = as_multihot(orient_labels(_squeeze_leading(lval), ctx.n_classes),
                         _src(lpath, lkey))
    n = len(labels)
    raw = RawPairs(layout="index-mat", labels=labels, sources={"labels": _src(lpath, lkey)})
    cpath = ctx.path("caption_file", "caption.mat", "caption.txt", "captions.txt")
    if cpath is None:
        raw.notes.append(f"no caption.mat / caption.txt in {ctx.root}")
    else:
        if cpath.suffix.lower() == ".mat":
            ckey, cval = _load_key(cpath, CAPTION_KEYS, "caption")
            cval = _squeeze_leading(cval)
            csrc = _src(cpath, ckey)
        else:
            cval, csrc = [[line.strip()] for line in read_lines(cpath, "caption file")], str(cpath)
        if isinstance(cval, np.ndarray) and cval.dtype.kind in "uifb":
            raw.text_features = orient(cval, n, csrc)
            raw.sources["text_features"] = csrc
            raw.info["text_features"] = f"{raw.text_features.shape[1]:,}-d bag-of-words"
        else:
            try:
                candidates = to_string_rows(cval)
            except BenchError as exc:
                raise BenchError(f"{csrc}: {exc}") from None
            raw.captions = read_captions(ctx, candidates)
            raw.sources["captions"] = csrc
            vpath = ctx.path("vocab_file")
            vocab = [w.strip() for w in read_lines(vpath, "vocabulary file") if w.strip()] \
                if vpath is not None else None
            texts = [" ".join(c) if ctx.text_kind == "tags" else str(cap)
                     for c, cap in zip(candidates, raw.captions, strict=False)]
            feats, info = make_text_features(ctx, texts, csrc, vocab,
                                             default=ctx.text_kind == "tags")
            if feats is not None:
                raw.text_features = feats
                raw.sources["text_features"] = csrc
                raw.info.update(info)
    ipath = ctx.path("index_file", "index.mat", "index.npy")
    if ipath is None:
        raw.notes.append(f"no index.mat / index.npy in {ctx.root}: no images")
        return raw
    if ipath.suffix.lower() == ".npy":
        arr = load_table(ipath)["array"]
        isrc = str(ipath)
    else:
        ikey, arr = _load_key(ipath, INDEX_KEYS, "index")
        isrc = _src(ipath, ikey)
    arr = _squeeze_leading(arr)
    if isinstance(arr, np.ndarray) and arr.dtype.kind in "uif":
        names = [str(int(v)) for v in np.asarray(arr).ravel()]
    else:
        try:
            names = [c[0] if c else "" for c in to_string_rows(arr)]
        except BenchError as exc:
            raise BenchError(f"{isrc}: {exc}") from None
    raw.names = names
    raw.sources["names"] = isrc
    if len(names) == n:
        raw.images = read_images(ctx, names, isrc, [ctx.root / "images", ctx.root,
                                                ctx.root.parent / "images"], raw.notes)
        if raw.images is not None:
            raw.sources["images"] = isrc
    return raw


# -- split-mat (I_tr / I_te / T_tr / T_te / L_tr / L_te) ---------------------------------------

SPLIT_PARTS = (("tr",), ("va", "val"), ("te",))


def _split_keys(names: Sequence[str]) -> dict[str, dict[str, str]] | None:
    """{"I": {"tr": key, ...}, "T": {...}, "L": {...}} or None when not a split-mat file."""
    out: dict[str, dict[str, str]] = {}
    for m in ("I", "T", "L"):
        out[m] = {}
        for part in SPLIT_PARTS:
            key = find_key(names, [f"{m}_{p}" for p in part])
            if key is not None:
                out[m][part[0]] = key
    if {"tr", "te"} <= set(out["I"]) and {"tr", "te"} <= set(out["T"]):
        return out
    return None


def _split_file(ctx: ReadContext) -> tuple[Path, dict[str, dict[str, str]]]:
    if "file" in ctx.options:
        path = require_file(ctx.path("file"), "data file")
        keys = _split_keys(mat_variables(path))
        if keys is None:
            raise BenchError(f"{path}: needs variables I_tr, I_te, T_tr, T_te (it has: "
                             f"{', '.join(mat_variables(path))})")
        return path, keys
    hits = [(p, k) for p in _mat_files(ctx.root)
            if (v := scan_mat(p)) is not None and (k := _split_keys(v)) is not None]
    if not hits:
        raise BenchError(f"no .mat file in {ctx.root} holds I_tr, I_te, T_tr, T_te")
    if len(hits) > 1:
        raise BenchError(f"several .mat files in {ctx.root} hold I_tr/T_tr "
                         f"({', '.join(p.name for p, _ in hits)}); choose one with "
                         "--dataset-opt file=NAME")
    return hits[0]


def _detect_split_mat(root: Path) -> bool:
    return any((v := scan_mat(p)) is not None and _split_keys(v) is not None
               for p in _mat_files(root))


def _list_files(root: Path) -> dict[str, Path]:
    out = {}
    for part, stem in (("tr", "trainset"), ("te", "testset")):
        for base in (root, root / "wikipedia_info"):
            p = base / f"{stem}_txt_img_cat.list"
            if p.is_file():
                out[part] = p
                break
    return out


def read_split_mat(ctx: ReadContext) -> RawPairs:
    path, keys = _split_file(ctx)
    data = load_mat(path, [k for m in keys.values() for k in m.values()])
    parts = [p[0] for p in SPLIT_PARTS if p[0] in keys["I"]]
    if set(keys["T"]) != set(keys["I"]):
        raise BenchError(f"{path}: image parts {sorted(keys['I'])} and text parts "
                         f"{sorted(keys['T'])} differ")
    lists = _list_files(path.parent if ctx.root.is_file() else ctx.root)
    img, txt, lab, sizes = [], [], [], {}
    list_rows: dict[str, list[list[str]]] = {}
    for part in parts:
        ik, tk = keys["I"][part], keys["T"][part]
        xi, xt = np.asarray(data[ik]), np.asarray(data[tk])
        if part in keys["L"]:
            lk = keys["L"][part]
            lab_p = labels_from_any(orient_labels(data[lk], ctx.n_classes), _src(path, lk),
                                    ctx.n_classes)
            n = len(lab_p)
            lsrc = _src(path, lk)
        elif part in lists:
            rows = [r.split() for r in read_lines(lists[part], "list file")]
            list_rows[part] = rows
            if any(len(r) < 3 for r in rows):
                bad = next(i for i, r in enumerate(rows) if len(r) < 3)
                raise BenchError(f"{lists[part]} line {bad + 1}: expected 'text image class'")
            lab_p = labels_from_any(np.array([float(r[2]) for r in rows]), str(lists[part]),
                                    ctx.n_classes)
            n, lsrc = len(lab_p), str(lists[part])
        else:
            raise BenchError(f"{path}: no labels for part {part!r} (no L_{part} variable and no "
                             f"{'trainset' if part == 'tr' else 'testset'}_txt_img_cat.list)")
        xi, xt = orient(xi, n, _src(path, ik)), orient(xt, n, _src(path, tk))
        for arr, src in ((xi, _src(path, ik)), (xt, _src(path, tk))):
            if arr.ndim != 2 or len(arr) != n:
                raise BenchError(f"pair counts do not agree: {lsrc} has {n:,}, {src} has "
                                 f"{arr.shape[0] if arr.ndim else 0:,}")
        img.append(as_features(xi, _src(path, ik)))
        txt.append(as_features(xt, _src(path, tk)))
        lab.append(lab_p)
        sizes[part] = n
    width = max(x.shape[1] for x in lab)
    lab = [np.pad(x, ((0, 0), (0, width - x.shape[1]))) for x in lab]
    for what, arrs in (("image", img), ("text", txt)):
        if len({a.shape[1] for a in arrs}) > 1:
            raise BenchError(f"{path}: {what} feature dimensions differ between parts "
                             f"({', '.join(str(a.shape[1]) for a in arrs)})")
    offsets = np.cumsum([0] + [sizes[p] for p in parts])
    pos = {p: np.arange(offsets[i], offsets[i + 1]) for i, p in enumerate(parts)}
    retrieval = np.concatenate([pos[p] for p in parts if p != "te"])
    raw = RawPairs(
        layout="split-mat", labels=np.vstack(lab), image_features=np.vstack(img),
        text_features=np.vstack(txt),
        sources={"labels": _src(path, "L_*"), "image_features": _src(path, "I_*"),
                 "text_features": _src(path, "T_*")},
        fixed_split={"query": pos["te"], "retrieval": retrieval},
        info={"parts": {p: sizes[p] for p in parts}, "file": str(path),
              "mat_version": "7.3 (HDF5)" if is_v73(path) else "5"},
    )
    if len(list_rows) == len(parts):
        _wiki_raw_modalities(ctx, raw, [r for p in parts for r in list_rows[p]])
    return raw


def _wiki_raw_modalities(ctx: ReadContext, raw: RawPairs, rows: list[list[str]]) -> None:
    """Captions from ``texts/<id>.xml`` and images under ``images/`` when the original release's
    folders are beside the list files (best effort: absent files only add a note)."""
    root = ctx.root if ctx.root.is_dir() else ctx.root.parent
    raw.names = [r[1] for r in rows]
    tdir = next((d for d in (root / "texts", root / "wikipedia_dataset" / "texts")
                 if d.is_dir()), None)
    if tdir is not None:
        texts = []
        for r in rows:
            p = next((q for q in (tdir / f"{r[0]}.xml", tdir / f"{r[0]}.txt") if q.is_file()), None)
            if p is None:
                raw.notes.append(f"no captions: {tdir / (r[0] + '.xml')} not found")
                texts = []
                break
            texts.append(" ".join(re.sub(r"<[^>]+>", " ", read_text(p)).split()))
        if texts:
            raw.captions = [Caption(t) for t in texts]
            raw.sources["captions"] = str(tdir)
    idir = next((d for d in (root / "images", root / "wikipedia_dataset" / "images")
                 if d.is_dir()), None)
    if idir is not None and ctx.options.flag("images", True):
        by_stem = {p.stem: p for p in idir.rglob("*.jpg")}
        files = [by_stem.get(r[1]) for r in rows]
        if all(files):
            raw.images = [str(p.resolve()) for p in files if p is not None]
            raw.sources["images"] = str(idir)
        else:
            missing = sum(f is None for f in files)
            raw.notes.append(f"no images: {missing:,} of {len(files):,} not found under {idir}")


# -- pascal-raw ------------------------------------------------------------------------------

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def _pascal_dirs(root: Path) -> tuple[Path, Path] | None:
    sdir = next((d for d in (root / "sentence", root / "sentences") if d.is_dir()), None)
    idir = next((d for d in (root / "dataset", root / "images") if d.is_dir()), None)
    return (idir, sdir) if sdir and idir else None


def _detect_pascal_raw(root: Path) -> bool:
    return root.is_dir() and _pascal_dirs(root) is not None


def read_pascal_raw(ctx: ReadContext) -> RawPairs:
    dirs = _pascal_dirs(ctx.root)
    if dirs is None:
        raise BenchError(f"{ctx.root}: needs the folders dataset/<class>/ (images) and "
                         "sentence/<class>/ (sentences)")
    idir, sdir = dirs
    classes = sorted(d.name for d in idir.iterdir() if d.is_dir())
    if not classes:
        raise BenchError(f"{idir}: no class folders")
    files, cands, labels = [], [], []
    for c, name in enumerate(classes):
        for img in sorted(p for p in (idir / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
            txt = sdir / name / f"{img.stem}.txt"
            if not txt.is_file():
                raise BenchError(f"{txt} not found (the sentences of {img})")
            sentences = [s.strip() for s in read_lines(txt) if s.strip()]
            if not sentences:
                raise BenchError(f"{txt}: no sentences")
            files.append(str(img.resolve()))
            cands.append(sentences)
            labels.append(c)
    onehot = np.zeros((len(labels), len(classes)), dtype=np.uint8)
    onehot[np.arange(len(labels)), labels] = 1
    raw = RawPairs(layout="pascal-raw", labels=onehot, class_names=classes,
                   sources={"labels": str(idir), "captions": str(sdir), "images": str(idir)},
                   names=[Path(f).name for f in files])
    raw.captions = read_captions(ctx, cands)
    if ctx.options.flag("images", True):
        raw.images = files
    feats, info = make_text_features(ctx, [str(c) for c in raw.captions], str(sdir), None)
    if feats is not None:
        raw.text_features = feats
        raw.sources["text_features"] = str(sdir)
        raw.info.update(info)
    return raw


# -- features (.npz / .h5 / .mat) ------------------------------------------------------------

FEATURE_KEYS = {
    "image_features": ("image_features", "img_feats", "image_feats", "I_all", "XAll", "image",
                       "img"),
    "text_features": ("text_features", "txt_feats", "text_feats", "T_all", "YAll", "text",
                      "txt"),
    "labels": ("labels", "label", "L_all", "LAll"),
    "names": ("names", "ids", "image_names", "keys"),
    "captions": ("captions", "caption", "texts"),
    "images": ("images", "image_paths", "image_files"),
    "class_names": ("class_names", "classes", "categories"),
    "query_index": ("query_index", "query_idx"),
    "retrieval_index": ("retrieval_index", "retrieval_idx", "database_index", "db_index"),
}
FEATURE_SUFFIXES = (".npz", ".h5", ".hdf5", ".mat")


def load_table(path: Path) -> dict[str, Any]:
    """Arrays of a .npy ("array"), .npz or plain HDF5 file (HDF5 axis order, no transposes)."""
    path = require_file(path, "data file")
    suffix = path.suffix.lower()
    try:
        if suffix == ".npy":
            return {"array": np.load(path, allow_pickle=False)}
        if suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                return {k: z[k] for k in z.files}
        import h5py

        with h5py.File(path, "r") as f:
            out = {}
            for k, ds in f.items():
                if isinstance(ds, h5py.Dataset):
                    v = ds[()]
                    if isinstance(v, np.ndarray) and v.dtype.kind in "SO":
                        v = np.array([x.decode("utf-8", "replace") if isinstance(x, bytes)
                                      else str(x) for x in v.ravel()]).reshape(v.shape)
                    out[k] = v
            return out
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise BenchError(f"{path} holds Python objects; save strings as a string array "
                             "(arr.astype(str)) and numbers as numeric arrays") from None
        raise BenchError(f"{path}: cannot read ({exc})") from None
    except Exception as exc:  # noqa: BLE001 - zip/HDF5 errors: a truncated or corrupt file
        raise BenchError(f"{path}: cannot read it, it may be truncated or corrupt "
                         f"({type(exc).__name__}: {' '.join(str(exc).split())[:200]})") from None


def _feature_keys(path: Path) -> list[str]:
    suffix = path.suffix.lower()
    try:
        if suffix == ".npz":
            import zipfile

            with zipfile.ZipFile(path) as z:
                return [n[:-4] for n in z.namelist() if n.endswith(".npy")]
        if suffix == ".mat":
            return list(scan_mat(path) or {})
        import h5py

        with h5py.File(path, "r") as f:
            return list(f)
    except Exception:  # noqa: BLE001 - detection only
        return []


def _is_feature_file(path: Path) -> bool:
    keys = _feature_keys(path)
    return (find_key(keys, FEATURE_KEYS["labels"]) is not None and
            (find_key(keys, FEATURE_KEYS["image_features"]) is not None
             or find_key(keys, FEATURE_KEYS["text_features"]) is not None))


def _feature_candidates(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in
                  FEATURE_SUFFIXES and p.name not in ("label.mat", "index.mat", "caption.mat"))


def _detect_features(root: Path) -> bool:
    return any(_is_feature_file(p) for p in _feature_candidates(root))


def read_features(ctx: ReadContext) -> RawPairs:
    if "file" in ctx.options:
        path = require_file(ctx.path("file"), "features file")
    elif ctx.root.is_file():
        path = ctx.root
    else:
        hits = [p for p in _feature_candidates(ctx.root) if _is_feature_file(p)]
        if not hits:
            raise BenchError(f"no .npz/.h5/.mat file in {ctx.root} holds labels and image or "
                             "text features (keys: labels, image_features, text_features)")
        if len(hits) > 1:
            raise BenchError(f"several feature files in {ctx.root} "
                             f"({', '.join(p.name for p in hits)}); choose one with "
                             "--dataset-opt file=NAME")
        path = hits[0]
    data = load_mat(path) if path.suffix.lower() == ".mat" else load_table(path)
    keys = {role: find_key(data, accepted) for role, accepted in FEATURE_KEYS.items()}
    if keys["labels"] is None:
        raise BenchError(f"{path}: no labels array ({' / '.join(FEATURE_KEYS['labels'])}; it "
                         f"has: {', '.join(data)})")
    lk = keys["labels"]
    labels = labels_from_any(orient_labels(data[lk], ctx.n_classes), _src(path, lk),
                             ctx.n_classes)
    n = len(labels)
    raw = RawPairs(layout="features", labels=labels, sources={"labels": _src(path, lk)},
                   info={"file": str(path)})
    for role in ("image_features", "text_features"):
        if keys[role] is not None:
            setattr(raw, role, orient(data[keys[role]], n, _src(path, keys[role])))
            raw.sources[role] = _src(path, keys[role])
    for role in ("names", "captions", "images", "class_names"):
        if keys[role] is None:
            continue
        value = data[keys[role]]
        try:
            strings = [c[0] if c else "" for c in to_string_rows(value)]
        except BenchError as exc:
            raise BenchError(f"{_src(path, keys[role])}: {exc}") from None
        if role == "captions":
            raw.captions = [Caption(s) for s in strings]
            raw.sources["captions"] = _src(path, keys[role])
        elif role == "images":
            raw.images = read_images(ctx, strings, _src(path, keys[role]), [path.parent], raw.notes)
            if raw.images is not None:
                raw.sources["images"] = _src(path, keys[role])
        elif role == "names":
            raw.names = strings
            raw.sources["names"] = _src(path, keys[role])
        else:
            raw.class_names = strings
    if keys["query_index"] is not None and keys["retrieval_index"] is not None:
        q = np.asarray(data[keys["query_index"]]).ravel().astype(np.int64)
        r = np.asarray(data[keys["retrieval_index"]]).ravel().astype(np.int64)
        for arr, k in ((q, keys["query_index"]), (r, keys["retrieval_index"])):
            if arr.size and (arr.min() < 0 or arr.max() >= n):
                raise BenchError(f"{_src(path, k)}: indices must be 0-based positions below {n}")
        if np.intersect1d(q, r).size:
            raise BenchError(f"{path}: query_index and retrieval_index overlap")
        raw.fixed_split = {"query": q, "retrieval": r}
    if raw.image_features is None and raw.text_features is None:
        raise BenchError(f"{path}: neither image nor text features")
    return raw


# -- registry --------------------------------------------------------------------------------


LAYOUTS: dict[str, Layout] = {
    lay.name: lay for lay in (
        Layout("dcmh-mat", "DCMH .mat files",
               "*.mat with LAll (labels), YAll (bag-of-words), IAll (pixels) and/or XAll "
               "(image features); v5 or v7.3",
               ("labels_file", "text_file", "image_file", "image_features_file"),
               _detect_dcmh, read_dcmh_mat),
        Layout("text", "DCHMT/MITH text files",
               "all_labels.txt (0/1 rows), all_tags.txt (tags per line), all_imgs.txt (image "
               "paths), optional TagList.txt (vocabulary) and image folder",
               ("labels_file", "tags_file", "images_file", "vocab_file"),
               _detect_text, read_text_layout),
        Layout("index-mat", "DCHMT/PromptHash index.mat layout",
               "label.mat (category/LAll/labels/label), caption.mat (caption/tags/YAll) or "
               "caption.txt, index.mat (index/imgs/FAll) or index.npy, images/ folder",
               ("label_file", "caption_file", "index_file", "vocab_file"),
               _detect_index_mat, read_index_mat),
        Layout("coco-json", "COCO annotation JSON",
               "annotations/captions_<split>.json + instances_<split>.json, image folders "
               "<split>/ (e.g. train2014/, val2014/)",
               ("splits",), detect_coco_json, read_coco_json),
        Layout("split-mat", "train/test .mat (wiki_data.mat style)",
               "one .mat (v5 or v7.3) with I_tr, I_te, T_tr, T_te and L_tr, L_te (one-hot or "
               "class numbers) or trainset/testset_txt_img_cat.list; optional *_va",
               ("file",), _detect_split_mat, read_split_mat),
        Layout("pascal-raw", "Pascal Sentence release folders",
               "dataset/<class>/<name>.jpg + sentence/<class>/<name>.txt (5 sentences)",
               (), _detect_pascal_raw, read_pascal_raw),
        Layout("features", "generic precomputed features",
               "one .npz / .h5 / .mat with image_features, text_features, labels (+ names, "
               "captions, images, class_names, query_index/retrieval_index)",
               ("file",), _detect_features, read_features),
    )
}


def detect_layouts(root: Path, allowed: Sequence[str] | None = None) -> list[str]:
    """Names of the layouts found in ``root`` (in ``allowed`` order)."""
    names = list(allowed) if allowed else list(LAYOUTS)
    return [n for n in names if LAYOUTS[n].detect(root)]


def layout_options(names: Sequence[str]) -> tuple[str, ...]:
    opts = set(COMMON_OPTIONS)
    for n in names:
        opts.update(LAYOUTS[n].options)
    return tuple(sorted(opts))
