"""Loaders for the two NUS-WIDE variants (see :mod:`bench.io.layouts` for the layouts).

Class names are not fixed here: the concept order differs between releases, so columns are
named ``class0`` ... unless the layout provides names.
"""

from __future__ import annotations

from bench.datasets.nuswide import SPEC_21, SPEC_TC10
from bench.io.dataset import RealDataset


class NusWide21(RealDataset):
    spec = SPEC_21
    layouts = SPEC_21.layouts
    n_classes = 21
    standard_pairs = (195834, 190421)
    text_kind = "tags"


class NusWideTC10(RealDataset):
    spec = SPEC_TC10
    layouts = SPEC_TC10.layouts
    n_classes = 10
    standard_pairs = (186577, 186557)
    text_kind = "tags"
