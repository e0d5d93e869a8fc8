"""``bench run --database-codes unified``: database items coded from both modalities.

The option is part of every result's definition (so its results are never averaged with
per-modality ones), carries its own leaderboard row label, is refused for methods that do not
declare it, and the published-vs-measured table sets the papers' unified rows beside it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench import registry
from bench.cli import main
from bench.errors import BenchError
from bench.leaderboard import entries, long_table
from bench.metrics import evaluate_retrieval, unpack_codes
from bench.report.data import load_results
from bench.report.published import load_reference, published_table
from bench.results import ResultStore, load_codes
from bench.runner.grid import check_database_codes
from bench.schema import Definition

ROOT = Path(__file__).resolve().parents[1]


def write_features(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    n = 600
    labels = (rng.random((n, 5)) < 0.3).astype(np.uint8)
    labels[:, 0] |= labels.sum(1) == 0
    img = rng.normal(size=(n, 16)).astype(np.float32) + labels[:, :1]
    txt = rng.normal(size=(n, 12)).astype(np.float32) + labels[:, :1]
    folder.mkdir(parents=True)
    np.savez(folder / "data.npz", image_features=img, text_features=txt, labels=labels)
    return folder


def run(root: Path, results: Path, *extra: str) -> None:
    assert main(["run", "--methods", "cmfh", "--bits", "8,16", "--dataset", "features",
                 "--preset", "small", "--data-root", str(root), "--results", str(results),
                 "--no-ray", "--tracking-uri", "none", "--no-report", *extra]) == 0


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """One results folder with cmfh per-modality and unified (8 and 16 bits, seed 0)."""
    tmp = tmp_path_factory.mktemp("unified")
    root, results = write_features(tmp / "data"), tmp / "results"
    run(root, results)
    run(root, results, "--database-codes", "unified")
    return results


def _definition(**kw) -> Definition:
    base = dict(method="cmfh", method_version="2", dataset="wiki", dataset_version="1",
                preset={"name": "classic-full"}, bits=(16,), budget="all", seed=0,
                params={"mu": 100.0}, protocol_version=2, k_values=(100,))
    return Definition(**{**base, **kw})


def test_option_is_part_of_the_key_and_group():
    plain, unified = _definition(), _definition(database_codes="unified")
    assert "database_codes" not in plain.as_dict()  # per-modality keys stay as they were
    assert unified.as_dict()["database_codes"] == "unified"
    assert plain.key != unified.key and plain.group != unified.group
    assert Definition.from_dict(unified.as_dict()).key == unified.key
    with pytest.raises(ValueError, match="database_codes"):
        _definition(database_codes="both")


def test_unsupported_method_is_refused_in_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's harness, from any folder
    proc = subprocess.run([sys.executable, "-m", "bench", "run", "--methods", "cmfh,cca",
                           "--database-codes", "unified", "--results", str(tmp_path / "r")],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300, env=env)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("bench: error: --database-codes unified: cca cannot code")
    assert "cmfh" in lines[0] and "lssh" in lines[0]  # names the methods that can
    assert not (tmp_path / "r" / "records").exists()


def test_declared_methods():
    specs = [registry.methods.get(m) for m in ("cmfh", "lssh", "seph-rnd", "seph-km")]
    check_database_codes(specs, "unified")
    with pytest.raises(BenchError, match="lsh cannot"):
        check_database_codes([registry.methods.get("lsh")], "unified")


def test_records_and_codes_of_a_toy_run(both):
    recs = {(r.database_codes, r.bits[0]): r for r in ResultStore(both).load_records()}
    assert set(recs) == {(c, b) for c in ("per-modality", "unified") for b in (8, 16)}
    for b in (8, 16):
        uni, per = recs[("unified", b)], recs[("per-modality", b)]
        assert uni.definition["database_codes"] == "unified"
        assert "database_codes" not in per.definition
        assert uni.key != per.key and uni.group != per.group
        zu, zp = load_codes(both / uni.codes["file"]), load_codes(both / per.codes["file"])
        # one database for both directions, from both modalities; the queries are the same
        assert np.array_equal(zu[f"r_img_{b}"], zu[f"r_txt_{b}"])
        assert not np.array_equal(zu[f"r_img_{b}"], zp[f"r_txt_{b}"])
        assert np.array_equal(zu[f"q_img_{b}"], zp[f"q_img_{b}"])
        db = unpack_codes(zu[f"r_img_{b}"], b)
        for d, q in (("i2t", "q_img"), ("t2i", "q_txt")):
            got = evaluate_retrieval(unpack_codes(zu[f"{q}_{b}"], b), db, zu["q_labels"],
                                     zu["r_labels"])["map_all"]
            assert got == pytest.approx(uni.metrics[str(b)][d]["map_all"])


def test_unified_codes_are_the_methods_encode_unified(both, tmp_path):
    """The stored database codes are the method's own ``encode_unified`` of the database."""
    from bench.params import method_params
    from bench.plugins import FitContext
    from bench.runner.data import load_dataset, prepare

    rec = next(r for r in ResultStore(both).load_records()
               if r.database_codes == "unified" and r.bits == [16])
    spec = registry.methods.get("cmfh")
    ds = load_dataset("features", str(both.parent / "data"), str(tmp_path), None)
    data = prepare(ds, registry.datasets.get("features").preset("small"), None, 0, spec.inputs)
    model = spec.load()([16], method_params(spec, {}), 0)
    model.fit(data.train, FitContext(validation=None, seed=0, device="cpu", workdir=tmp_path))
    z = load_codes(both / rec.codes["file"])
    assert np.array_equal(unpack_codes(z["r_img_16"], 16),
                          model.encode_unified(data.retrieval)[16])


def test_leaderboard_never_mixes_the_rows(both):
    records = ResultStore(both).load_records()
    labels = {(e.record.database_codes, e.label) for e in entries(records)}
    assert labels == {("per-modality", "cmfh"), ("unified", "cmfh [unified db]")}
    df = long_table(records)
    for _, part in df.groupby(["method", "bits"]):
        assert part["group"].nunique() == 1 and part["database_codes"].nunique() == 1
    assert set(df["method"]) == {"cmfh", "cmfh [unified db]"}
    md = (both / "leaderboard.md").read_text()
    assert "cmfh [unified db]" in md


def test_published_table_uses_the_unified_rows(both, tmp_path):
    ref_dir = tmp_path / "ref"
    ref_dir.mkdir()
    (ref_dir / "toy.csv").write_text("method,i2t_8,t2i_8\nCMFH,0.5,0.6\nLSH,0.2,0.2\n")
    (ref_dir / "toy.yaml").write_text(
        "table: toy.csv\ntitle: Toy\nprotocol: toy\nmetric: map_all\n"
        "match: {dataset: features}\nrow: {column: method}\nvalues: '{direction}_{bits}'\n"
        "database_codes: {unified: [CMFH]}\n")
    table = published_table(load_reference(ref_dir / "toy.yaml"), load_results(both))
    data = table.data
    cmfh = data[data["published_row"] == "CMFH"]
    assert set(cmfh["measured"]) == {"cmfh [unified db] on features, budget all"}
    assert not (data["published_row"] == "(not published)").any()  # per-modality: left out
    uni = load_results(both).table
    want = uni[(uni["method"] == "cmfh [unified db]") & (uni["bits"] == 8)
               & (uni["direction"] == "i2t")]["map_all"].item()
    assert cmfh[cmfh["direction"] == "i2t"]["measured_mean"].item() == pytest.approx(want)
    assert any("Left out" in n and "cmfh on features" in n for n in table.notes)
    assert isinstance(table.display, pd.DataFrame)


def test_records_say_how_the_database_was_coded(both):
    for path in (both / "records").rglob("*.json"):
        rec = json.loads(path.read_text())
        assert rec["database_codes"] in ("per-modality", "unified")
