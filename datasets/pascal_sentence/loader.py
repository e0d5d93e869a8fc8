"""Loader for Pascal Sentence (see :mod:`bench.io.layouts`)."""

from __future__ import annotations

from bench.datasets.pascal_sentence import SPEC
from bench.io.dataset import RealDataset

#: PASCAL VOC class order (feature layouts); the release folders name their own classes.
CLASS_NAMES = (
    "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
    "train", "tvmonitor",
)


class PascalSentence(RealDataset):
    spec = SPEC
    layouts = SPEC.layouts
    n_classes = 20
    default_class_names = CLASS_NAMES
    standard_pairs = (1000,)
    text_kind = "sentences"
