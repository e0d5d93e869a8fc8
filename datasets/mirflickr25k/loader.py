"""Loader for MIRFLICKR-25K (see :mod:`bench.io.layouts` for the layouts)."""

from __future__ import annotations

from bench.datasets.mirflickr25k import SPEC
from bench.io.dataset import RealDataset

#: The 24 potential labels in the column order of the standard files.
CLASS_NAMES = (
    "animals", "baby", "bird", "car", "clouds", "dog", "female", "flower", "food", "indoor",
    "lake", "male", "night", "people", "plant_life", "portrait", "river", "sea", "sky",
    "structures", "sunset", "transport", "tree", "water",
)


class MirFlickr25k(RealDataset):
    spec = SPEC
    layouts = SPEC.layouts
    n_classes = 24
    default_class_names = CLASS_NAMES
    standard_pairs = (20015,)
    text_kind = "tags"
