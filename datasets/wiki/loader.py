"""Loader for Wikipedia (see the ``split-mat`` layout in :mod:`bench.io.layouts`)."""

from __future__ import annotations

from bench.datasets.wiki import SPEC
from bench.io.dataset import RealDataset

#: categories.list order of the original release (class numbers 1..10).
CLASS_NAMES = ("art", "biology", "geography", "history", "literature", "media", "music",
               "royalty", "sport", "warfare")


class Wiki(RealDataset):
    spec = SPEC
    layouts = SPEC.layouts
    n_classes = 10
    default_class_names = CLASS_NAMES
    standard_pairs = (2866,)
    text_kind = "sentences"
