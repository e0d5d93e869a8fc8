"""Image files: finding a layout's image folder, checking that every file is there, and
turning a MATLAB pixel array (DCMH's ``IAll``) into image files in the cache once."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.io.matlab import MatArray


def _locate(name: str, base: Path) -> Path | None:
    """``name`` under ``base`` as written, or by its last component(s)."""
    parts = [p for p in name.replace("\\", "/").split("/") if p and p != "."]
    for k in range(len(parts)):
        candidate = base.joinpath(*parts[k:])
        if candidate.is_file():
            return candidate
    return None


def resolve_images(names: Sequence[str], bases: Sequence[Path], source: str,
                   ) -> tuple[list[str] | None, str]:
    """Absolute paths of the image files ``names`` (as listed in ``source``).

    The first base folder where the first listed image exists is used for all of them (as
    written, or by its trailing path components, e.g. the basename). Returns (None, why) when
    no base holds the images at all; raises a one-line error when only some files are missing.
    """
    if not names:
        return None, f"{source} lists no images"
    bases = [Path(b) for b in bases if b is not None and Path(b).is_dir()]
    probe = next((n for n in names if n), None)
    if probe is None:
        return None, f"{source} lists only empty image names"
    for base in bases:
        first = _locate(probe, base)
        if first is None:
            continue
        parts = [p for p in probe.replace("\\", "/").split("/") if p and p != "."]
        depth = len(first.relative_to(base).parts)
        keep = len(parts) - depth  # how many leading components of the listed names to drop
        out, missing = [], []
        for n in names:
            p = base.joinpath(*[q for q in n.replace("\\", "/").split("/") if q and q != "."]
                              [keep:])
            out.append(str(p.resolve()))
            if not p.is_file():
                missing.append(str(p))
        if missing:
            raise BenchError(f"{len(missing):,} of {len(names):,} images listed in {source} are "
                             f"missing under {base} (first: {missing[0]}); pass "
                             f"--dataset-opt images=false to load without images")
        return out, f"{len(out):,} files under {base}"
    where = ", ".join(str(b) for b in bases) or "no existing folder"
    return None, f"image files listed in {source} not found (looked in {where})"


def image_array_axes(shape: tuple[int, ...], n_items: int) -> tuple[int, int, int, int]:
    """(item, height, width, channel) axes of a MATLAB pixel array holding ``n_items`` images.

    The item axis has length ``n_items``, the channel axis length 3 (or 1); the two others are
    height then width, in MATLAB order (e.g. 224×224×3×N or N×3×224×224).
    """
    if len(shape) != 4:
        raise BenchError(f"an image array must have 4 axes, found shape {shape}")
    if shape[3] == n_items:
        item = 3
    elif shape[0] == n_items:
        item = 0
    elif n_items in shape:
        item = shape.index(n_items)
    else:
        raise BenchError(f"no axis of the image array {shape} has length {n_items:,} "
                         "(the number of labelled pairs)")
    rest = [a for a in range(4) if a != item]
    chans = [a for a in rest if shape[a] == 3] or [a for a in rest if shape[a] == 1]
    if not chans:
        raise BenchError(f"the image array {shape} has no colour axis of length 3")
    # H×W×C×N: the colour axis is the last of the others; N×C×H×W: the first of them.
    chan = chans[0] if item == 0 and chans[0] == 1 else chans[-1]
    h, w = [a for a in rest if a != chan]
    return item, h, w, chan


def extract_image_array(path: Path, key: str, n_items: int, cache_dir: Path,
                        log=print) -> list[str]:
    """Write the images of variable ``key`` of ``path`` as PNG files in the cache (once).

    Returns the absolute file paths, one per item. A marker file records completion, so a
    second call (or another process) only checks it; files are written atomically.
    """
    arr = MatArray(path, key)
    axes = image_array_axes(arr.shape, n_items)
    stat = path.stat()
    ident = json.dumps([str(path.resolve()), key, stat.st_size, stat.st_mtime_ns])
    digest = hashlib.sha256(ident.encode()).hexdigest()[:12]
    folder = cache_dir / "images" / f"{path.stem}-{key}-{digest}"
    files = [str((folder / f"{i:06d}.png").resolve()) for i in range(n_items)]
    marker = folder / "complete.json"
    if marker.exists():
        return files
    try:
        from PIL import Image
    except ImportError:
        raise BenchError(f"{path}: reading the {key} images needs Pillow (pip install pillow), "
                         "or pass --dataset-opt images=false") from None
    folder.mkdir(parents=True, exist_ok=True)
    log(f"bench: writing the {n_items:,} images of {path.name}:{key} to {folder} (once)")
    item, h, w, chan = axes
    step = 256
    for start in range(0, n_items, step):
        block = arr.read(item, start, min(start + step, n_items))
        block = np.transpose(block, (item, h, w, chan))
        if block.dtype != np.uint8:
            scale = 255.0 if block.max(initial=0) <= 1.0 else 1.0
            block = np.clip(block * scale, 0, 255).astype(np.uint8)
        for j, img in enumerate(block):
            target = Path(files[start + j])
            if target.exists():
                continue
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            Image.fromarray(img[:, :, 0] if img.shape[2] == 1 else img).save(
                tmp, format="PNG", compress_level=1)
            tmp.replace(target)
    tmp = marker.with_name(f".complete.{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"source": ident, "n": n_items}))
    tmp.replace(marker)
    return files
