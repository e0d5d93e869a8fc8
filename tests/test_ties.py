"""Tie-robust ranking: the database is searched in a seeded order, so
ties broken by database position cannot follow the labels. Constant (collapsed) codes on a
class-sorted 20 × 40 database must score as on a shuffled one, and as the tie-aware mAP."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import register_plugins, single_label_dataset, toy_dataset_spec, toy_method_spec

from bench.cli import main
from bench.plugins import (
    DatasetPlugin,
    FitContext,
    HashMethod,
    LoadedDataset,
    PairedData,
)

CLASSES, PER_CLASS = 20, 50  # 1,000 pairs: 200 queries, 800 in the database (40 of them validation)


class Sorted(DatasetPlugin):
    """Single-label items stored class by class (option order=sorted) or shuffled."""

    spec = toy_dataset_spec("class-sorted", "test_ties:Sorted", query=200, validation=40)

    def load(self) -> LoadedDataset:
        y = np.repeat(np.arange(CLASSES), PER_CLASS)
        if self.options.get("order") == "shuffled":
            y = np.random.default_rng(3).permutation(y)
        feats = np.random.default_rng(0).normal(size=(len(y), 8))
        return single_label_dataset("class-sorted", y, feats, feats, CLASSES)


class Constant(HashMethod):
    """Collapsed codes: every item gets the same code."""

    spec = toy_method_spec("constant", "test_ties:Constant")

    def fit(self, train: PairedData, ctx: FitContext) -> None:
        pass

    def encode(self, data: PairedData, modality) -> dict[int, np.ndarray]:
        return {self.bits[0]: np.ones((len(data), self.bits[0]), dtype=np.int8)}


@pytest.fixture(scope="module", autouse=True)
def plugins():
    register_plugins(methods={"constant": "test_ties:Constant.spec"},
                     datasets={"class-sorted": "test_ties:Sorted.spec"})


def run(order: str, results: Path) -> dict:
    assert main(["run", "--methods", "constant", "--dataset", "class-sorted", "--bits", "16",
                 "--dataset-opt", f"order={order}", "--results", str(results),
                 "--no-ray"]) == 0
    rec = json.loads(next((results / "records").rglob("*.json")).read_text())
    return rec["metrics"]["16"]["i2t"]


def test_collapsed_codes_score_the_same_on_class_sorted_and_shuffled_data(tmp_path):
    sorted_, shuffled = run("sorted", tmp_path / "a"), run("shuffled", tmp_path / "b")
    assert sorted_["n_database"] == shuffled["n_database"] == 800
    assert abs(sorted_["map_all"] - shuffled["map_all"]) < 0.005, (sorted_, shuffled)
    for m in (sorted_, shuffled):
        assert abs(m["map_all"] - m["map_tie_aware"]) < 0.005, m
        assert m["map_all"] < 0.07  # the relevance base rate (1/20), not twice it
