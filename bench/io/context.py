"""What every layout reader shares: the reading context (folder, options, cache, kind of text)
and the option-driven helpers that turn names and texts into images, captions and bag-of-words
features. :mod:`bench.io.layouts` and :mod:`bench.io.coco` both read through it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError
from bench.io.images import resolve_images
from bench.io.pairs import Caption, Options, choose_captions
from bench.io.text import bag_of_words, build_vocabulary, split_tags, tokenize


@dataclass
class ReadContext:
    """Everything a reader needs: the user's folder, options, cache and the dataset's kind of
    text (``tags`` for MIRFLICKR/NUS, ``sentences`` for COCO/Wikipedia/Pascal)."""

    dataset: str
    root: Path
    options: Options
    cache_dir: Path | None
    text_kind: str = "tags"
    check_only: bool = False  #: validate only: skip slow one-time work (image extraction)
    n_classes: int | None = None  #: the dataset's class count, when fixed
    log: Callable[[str], None] = print

    def path(self, key: str, *defaults: str) -> Path | None:
        """The file named by option ``key`` (relative to the root), else the first existing
        default name, else None."""
        value = self.options.text(key)
        if value:
            p = Path(value).expanduser()
            return p if p.is_absolute() else self.root / p
        for name in defaults:
            if (self.root / name).exists():
                return self.root / name
        return None

    def image_bases(self, *extra: Path) -> list[Path]:
        bases = []
        if "image_root" in self.options:
            bases.append(Path(str(self.options.text("image_root"))).expanduser())
        return bases + list(extra)



def make_text_features(ctx: ReadContext, texts: Sequence[str], source: str,
                       vocabulary: Sequence[str] | None = None, default: bool = False,
                       tag_sep: str | None = None) -> tuple[np.ndarray | None, dict[str, Any]]:
    """Bag-of-words text features per the ``bow`` option: ``auto`` (``default``), ``false``,
    ``true`` (every term) or a vocabulary size (the most frequent terms)."""
    opt = ctx.options.text("bow", "auto")
    opt = str(opt).lower()
    if opt == "auto":
        wanted, size = default, None
    elif opt in ("false", "0", "no", "off", "none"):
        wanted, size = False, None
    elif opt in ("true", "yes", "on", "all"):
        wanted, size = True, None
    else:
        try:
            wanted, size = True, int(opt)
        except ValueError:
            raise BenchError(f"dataset {ctx.dataset!r}: option bow={opt!r} must be auto, true, "
                             "false or a vocabulary size") from None
    if not wanted:
        return None, {}
    if ctx.text_kind == "tags":
        docs = [split_tags(t, tag_sep) for t in texts]
    else:
        docs = [tokenize(t) for t in texts]
    if vocabulary is None or size is not None:
        vocabulary = build_vocabulary(docs, size)
        vocab_from = f"the {len(vocabulary):,} most frequent terms of {source}"
    else:
        vocab_from = "the vocabulary file"
    feats, unknown = bag_of_words(docs, vocabulary)
    info = {"text_features": f"{len(vocabulary):,}-d binary bag-of-words over {vocab_from}",
            "vocabulary": list(vocabulary), "bow_unknown_terms": unknown}
    return feats, info


def read_images(ctx: ReadContext, names: Sequence[str], source: str, bases: Sequence[Path],
            raw_notes: list[str]) -> list[str] | None:
    if not ctx.options.flag("images", True):
        raw_notes.append("images not loaded (images=false)")
        return None
    files, why = resolve_images(names, ctx.image_bases(*bases), source)
    if files is None:
        raw_notes.append(f"no images: {why}")
    return files


def read_captions(ctx: ReadContext, candidates: Sequence[Sequence[str]]) -> list[Caption]:
    mode = ctx.options.text("caption", "random") or "random"
    return choose_captions(candidates, mode, ctx.options.integer("caption_seed", 0))
