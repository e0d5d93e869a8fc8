"""Loader for the generic features layout (see :mod:`bench.io.layouts`)."""

from __future__ import annotations

from bench.datasets.features import SPEC
from bench.io.dataset import RealDataset


class Features(RealDataset):
    spec = SPEC
    layouts = SPEC.layouts
    text_kind = "sentences"
