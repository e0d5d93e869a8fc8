"""Loader for MS-COCO (see :mod:`bench.io.coco` and :mod:`bench.io.layouts`)."""

from __future__ import annotations

from bench.datasets.coco import SPEC
from bench.io.dataset import RealDataset


class Coco(RealDataset):
    spec = SPEC
    layouts = SPEC.layouts
    n_classes = 80
    standard_pairs = (122218,)
    text_kind = "sentences"
    drop_unlabeled_default = True  # the standard protocol drops images without labels
