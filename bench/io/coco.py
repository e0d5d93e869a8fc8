"""The COCO annotation-JSON layout: ``captions_<split>.json`` and ``instances_<split>.json``
(in ``annotations/`` or the root) plus the image folders ``<split>/``.

Items are the images that have captions, ordered by split (alphabetically: train before val)
then image id. Labels are the 80 categories (columns in category-id order) of the instance
annotations. Images without any instance annotation get an empty label row, which the dataset
drops by default (the standard 122,218 pairs of 2014 train+val). Parsing the full JSON takes a
while, so the parsed arrays are cached in the cache folder.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.io.cache import cached, file_identity
from bench.io.context import ReadContext, make_text_features, read_captions, read_images
from bench.io.pairs import RawPairs

_NAME = re.compile(r"^(captions|instances)_(.+)\.json$")
READER_VERSION = 1
CACHE_MIN_BYTES = 20_000_000


def _annotation_files(root: Path) -> dict[str, dict[str, Path]]:
    """{"captions": {split: path}, "instances": {split: path}}."""
    out: dict[str, dict[str, Path]] = {"captions": {}, "instances": {}}
    if not root.is_dir():
        return out
    for folder in (root / "annotations", root):
        if not folder.is_dir():
            continue
        for p in sorted(folder.glob("*.json")):
            m = _NAME.match(p.name)
            if m:
                out[m.group(1)].setdefault(m.group(2), p)
    return out


def detect_coco_json(root: Path) -> bool:
    return bool(_annotation_files(root)["captions"])


def _load_json(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise BenchError(f"{path} not found") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: not valid JSON at line {exc.lineno} column {exc.colno} "
                         f"(truncated or corrupt?)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BenchError(f"{path}: cannot read ({exc})") from None
    if not isinstance(data, dict):
        raise BenchError(f"{path}: not a COCO annotation file (top level is not an object)")
    return data


def _need(data: dict[str, Any], key: str, path: Path, kind: str) -> list[dict[str, Any]]:
    value = data.get(key)
    if not isinstance(value, list):
        raise BenchError(f"{path}: no {key!r} list (is it a COCO {kind} file?)")
    return value


def _parse(splits: list[str], files: dict[str, dict[str, Path]]) -> dict[str, Any]:
    categories: list[dict[str, Any]] | None = None
    ids: list[int] = []
    split_of: list[int] = []
    file_names: list[str] = []
    captions: list[list[str]] = []
    label_rows: list[int] = []
    label_cols: list[int] = []
    for s_i, split in enumerate(splits):
        cpath, ipath = files["captions"][split], files["instances"][split]
        cap = _load_json(cpath)
        images = _need(cap, "images", cpath, "captions")
        by_image: dict[int, list[tuple[int, str]]] = defaultdict(list)
        for a in _need(cap, "annotations", cpath, "captions"):
            try:
                by_image[int(a["image_id"])].append((int(a.get("id", 0)), str(a["caption"])))
            except (KeyError, TypeError, ValueError):
                raise BenchError(f"{cpath}: a caption annotation lacks image_id or caption"
                                 ) from None
        del cap
        inst = _load_json(ipath)
        cats = sorted(_need(inst, "categories", ipath, "instances"), key=lambda c: int(c["id"]))
        if categories is None:
            categories = cats
        elif [c["id"] for c in cats] != [c["id"] for c in categories]:
            raise BenchError(f"{ipath}: categories differ from those of the first split")
        col = {int(c["id"]): j for j, c in enumerate(categories)}
        start = len(ids)
        row_of = {}
        for img in sorted(images, key=lambda im: int(im["id"])):
            iid = int(img["id"])
            if iid not in by_image:
                continue
            row_of[iid] = len(ids)
            ids.append(iid)
            split_of.append(s_i)
            file_names.append(f"{split}/{img.get('file_name', f'{iid:012d}.jpg')}")
            captions.append([c.strip() for _, c in sorted(by_image[iid])])
        for a in _need(inst, "annotations", ipath, "instances"):
            try:
                r, c = row_of.get(int(a["image_id"])), col[int(a["category_id"])]
            except KeyError:
                raise BenchError(f"{ipath}: an instance annotation has an unknown category "
                                 f"or lacks image_id/category_id") from None
            if r is not None:
                label_rows.append(r)
                label_cols.append(c)
        del inst
        if len(ids) == start:
            raise BenchError(f"{cpath}: no image has a caption")
    assert categories is not None
    labels = np.zeros((len(ids), len(categories)), dtype=np.uint8)
    labels[label_rows, label_cols] = 1
    return {"labels": labels, "image_ids": np.asarray(ids, dtype=np.int64),
            "split_of": np.asarray(split_of, dtype=np.int64), "file_names": file_names,
            "captions": captions, "class_names": [str(c["name"]) for c in categories],
            "category_ids": [int(c["id"]) for c in categories]}


def read_coco_json(ctx: ReadContext) -> RawPairs:
    files = _annotation_files(ctx.root)
    available = sorted(files["captions"])
    if not available:
        raise BenchError(f"no captions_<split>.json in {ctx.root / 'annotations'} or {ctx.root}")
    wanted = ctx.options.text("splits")
    splits = [s.strip() for s in wanted.split(",") if s.strip()] if wanted else available
    for s in splits:
        if s not in files["captions"]:
            raise BenchError(f"captions_{s}.json not found in {ctx.root / 'annotations'} "
                             f"(splits with captions: {', '.join(available)})")
        if s not in files["instances"]:
            raise BenchError(f"instances_{s}.json not found beside "
                             f"{files['captions'][s]} (the labels of split {s})")
    paths = [files[k][s] for s in splits for k in ("captions", "instances")]
    identity = {"reader": "coco-json", "version": READER_VERSION, "splits": splits,
                "files": [file_identity(p) for p in paths]}
    big = sum(p.stat().st_size for p in paths) >= CACHE_MIN_BYTES
    data, cache_file = cached(ctx.cache_dir if big else None, "coco-json", identity,
                              lambda: _parse(splits, files))
    labels = np.asarray(data["labels"], dtype=np.uint8)
    src = ", ".join(str(files["instances"][s]) for s in splits)
    raw = RawPairs(layout="coco-json", labels=labels, class_names=list(data["class_names"]),
                   sources={"labels": src,
                            "captions": ", ".join(str(files["captions"][s]) for s in splits)},
                   names=[str(i) for i in np.asarray(data["image_ids"]).tolist()],
                   info={"splits": splits, "images_per_split": {
                       s: int((np.asarray(data["split_of"]) == i).sum())
                       for i, s in enumerate(splits)},
                       "category_ids": list(data["category_ids"]),
                       "parsed_cache": str(cache_file) if cache_file else None})
    raw.captions = read_captions(ctx, data["captions"])
    feats, info = make_text_features(ctx, [str(c) for c in raw.captions], raw.sources["captions"])
    if feats is not None:
        raw.text_features = feats
        raw.sources["text_features"] = raw.sources["captions"]
        raw.info.update(info)
    raw.images = read_images(ctx, list(data["file_names"]), "the COCO image list",
                         [ctx.root, ctx.root / "images"], raw.notes)
    if raw.images is not None:
        raw.sources["images"] = str(ctx.root)
    return raw
