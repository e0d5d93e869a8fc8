"""`bench report` from a real small results folder: figures, tables, curves from the stored codes,
published vs measured, costs, the end-of-run hook and the page in a real headless Chromium."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.cli import main
from bench.leaderboard import long_table
from bench.metrics import evaluate_retrieval, unpack_codes
from bench.report import write_report
from bench.report.browser import check_page, find_chromium
from bench.results import ResultStore, load_codes

RUN = ["run", "--no-ray", "--methods", "lsh,cca-itq", "--bits", "16,32",
       "--dataset", "synthetic-features", "--dataset-opt", "n_items=1500", "--preset", "small",
       "--budgets", "100,400", "--seeds", "0,1"]
DATASET = "synthetic-features[n_items=1500]"
SLUG = "synthetic-features_n_items_1500"
FIGURES = {"map_vs_bits", "map_vs_budget", "pr_curve_32", "precision_at_n_32", "costs",
           "map_vs_fit_time"}
TABLES = {"leaderboard", "seed_statistics", "paired_comparison", "costs", "curves_32"}


@pytest.fixture(scope="session")
def results(tmp_path_factory) -> Path:
    """A real run: lsh and cca-itq × 16/32 bits × budgets 100/400 × seeds 0/1 (16 trials); its
    end-of-run hook writes results/report."""
    root = tmp_path_factory.mktemp("report-results")
    assert main([*RUN, "--results", str(root)]) == 0
    return root


@pytest.fixture(scope="session")
def report(results, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("report-out")
    return write_report(results, out, formats=["html", "md", "png", "pdf"],
                        latency_queries=20)


@pytest.fixture(scope="session")
def long(results) -> pd.DataFrame:
    return long_table(ResultStore(results).load_records())


def figure(report: dict, name: str) -> dict:
    return next(f for f in report["datasets"][DATASET]["figures"] if f["name"] == name)


def table_csv(report: dict, name: str) -> pd.DataFrame:
    return pd.read_csv(Path(report["out"]) / f"{SLUG}/tables/{name}.csv")


def test_run_ends_with_a_report_of_its_dataset(results):
    manifest = json.loads((results / "report" / "report.json").read_text())
    assert list(manifest["datasets"]) == [DATASET]
    assert (results / "report" / "index.html").stat().st_size > 10_000
    assert (results / "report" / "report.md").exists()
    assert {f["name"] for f in manifest["datasets"][DATASET]["figures"]} == FIGURES


def test_every_figure_and_table_exists_and_pngs_are_images(report):
    out = Path(report["out"])
    section = report["datasets"][DATASET]
    assert {f["name"] for f in section["figures"]} == FIGURES
    assert {t["name"] for t in section["tables"]} == TABLES
    for fig in section["figures"]:
        data = (out / fig["png"]).read_bytes()
        Image.open(io.BytesIO(data)).verify()
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == "PNG" and im.size[0] > 300 and im.size[1] > 200
        assert (out / fig["pdf"]).read_bytes().startswith(b"%PDF")
        assert all(panel["xlabel"] for panel in fig["panels"])  # labelled axes with units
        assert fig["panels"][0]["ylabel"]
    for table in section["tables"]:
        assert (out / table["csv"]).exists() and table["protocol"]
    md = (out / "report.md").read_text()
    for fig in section["figures"]:
        assert f"]({fig['png']})" in md
    for title in ("Leaderboard", "Seed statistics", "Paired per-seed", "Costs",
                  "Published vs measured"):
        assert title in md


def test_map_vs_bits_draws_a_line_per_method_with_seed_error_bars(report, long):
    fig = figure(report, "map_vs_bits")
    assert [p["title"].split()[0] for p in fig["panels"]] == ["I→T", "T→I"]
    head = long[long["budget"] == "400"]
    for panel, direction in zip(fig["panels"], ("i2t", "t2i"), strict=True):
        assert sorted(line["label"] for line in panel["lines"]) == ["cca-itq", "lsh"]
        assert panel["n_errorbars"] == 2 and panel["xlabel"] == "code length (bits)"
        for line in panel["lines"]:
            assert line["x"] == [16.0, 32.0]
            part = head[(head["method"] == line["label"]) & (head["direction"] == direction)]
            want = part.groupby("bits")["map_all"].mean().to_list()
            assert line["y"] == pytest.approx(want, abs=1e-12)


def test_map_vs_budget_has_bands_per_bits_and_direction(report, long):
    fig = figure(report, "map_vs_budget")
    assert len(fig["panels"]) == 4
    for panel in fig["panels"]:
        assert len(panel["lines"]) == 2 and panel["n_bands"] == 2
        for line in panel["lines"]:
            assert line["x"] == [100.0, 400.0]


def test_cost_figure_has_a_bar_per_method_and_bits(report):
    fig = figure(report, "costs")
    assert [p["n_bars"] for p in fig["panels"]] == [4, 4]
    assert all(h > 0 for p in fig["panels"] for b in p["bars"] for h in b["heights"])


def test_pr_and_precision_at_n_equal_the_engine_on_the_stored_codes(report, results, long):
    curves = table_csv(report, "curves_32")
    keys = set(curves["result_key"])
    head = long[(long["bits"] == 32) & (long["budget"] == "400")]
    assert keys == set(head["result_key"])  # every seed of every row at 32 bits
    store = ResultStore(results)
    for key in sorted(keys)[:3]:
        rec = next(r for r in store.load_records() if r.key == key)
        z = load_codes(results / rec.codes["file"])
        for direction, (q, r) in {"i2t": ("q_img_32", "r_txt_32"),
                                  "t2i": ("q_txt_32", "r_img_32")}.items():
            mine = curves[(curves["result_key"] == key) & (curves["direction"] == direction)]
            pn = mine[mine["curve"] == "p_at_n"]
            engine = evaluate_retrieval(unpack_codes(z[q], 32), unpack_codes(z[r], 32),
                                        z["q_labels"], z["r_labels"],
                                        k_values=[int(n) for n in pn["x"]])
            assert pn["precision"].to_list() == pytest.approx(
                [engine["p_at_k"][str(int(n))] for n in pn["x"]], abs=1e-12)
            pr = mine[mine["curve"] == "pr"].sort_values("x")
            want = engine["pr_curve"]
            assert pr["x"].astype(int).to_list() == want["radius"]
            assert pr["recall"].to_list() == pytest.approx(want["recall"], abs=1e-12)
            got_p = [None if np.isnan(v) else v for v in pr["precision"]]
            assert got_p == pytest.approx(want["precision"], abs=1e-12)
            # the stored summary of the trial says the same
            assert want["recall"] == pytest.approx(
                rec.metrics["32"][direction]["pr_curve"]["recall"], abs=1e-12)
    # the figure's lines are the seed means of those values
    fig = figure(report, "precision_at_n_32")
    for panel, direction in zip(fig["panels"], ("i2t", "t2i"), strict=True):
        for line in panel["lines"]:
            part = curves[(curves["row"] == line["label"]) & (curves["direction"] == direction)
                          & (curves["curve"] == "p_at_n")]
            means = part.groupby("x")["precision"].mean()
            assert line["x"] == [float(x) for x in means.index]
            assert line["y"] == pytest.approx(means.to_list(), abs=1e-12)
    pr_fig = figure(report, "pr_curve_32")
    assert all(len(p["lines"]) == 2 for p in pr_fig["panels"])


def test_seed_statistics_and_paired_comparison(report, long):
    stats = table_csv(report, "seed_statistics")
    assert len(stats) == 2 * 2 * 2 * 2 and (stats["map_all_n"] == 2).all()
    cell = long[(long["method"] == "lsh") & (long["budget"] == "100") & (long["bits"] == 16)
                & (long["direction"] == "t2i")]["map_all"]
    row = stats[(stats["row"] == "lsh") & (stats["budget"] == 100) & (stats["bits"] == 16)
                & (stats["direction"] == "T→I")].iloc[0]
    assert row["map_all_mean"] == pytest.approx(cell.mean())
    assert row["map_all_std"] == pytest.approx(cell.std(ddof=1))
    paired = table_csv(report, "paired_comparison")
    assert len(paired) == 8 and set(paired["leader"]) == {"cca-itq"}
    for _, p in paired.iterrows():
        part = long[(long["budget"] == str(p["budget"])) & (long["bits"] == p["bits"])
                    & (long["direction"] == {"I→T": "i2t", "T→I": "t2i"}[p["direction"]])]
        wide = part.pivot_table(index="seed", columns="method", values="map_all")
        diff = wide["cca-itq"] - wide["lsh"]
        assert p["diff_mean"] == pytest.approx(diff.mean())
        assert p["signs"] == "".join("+" if d > 0 else "-" for d in diff)
        assert p["n"] == 2


def test_costs_table(report, results):
    costs = table_csv(report, "costs")
    assert len(costs) == 4 and set(costs["budget"]) == {400}
    assert dict(zip(costs["bits"], costs["code_bytes"], strict=False)) == {16: 2.0, 32: 4.0}
    assert (costs["packed_bytes"] == 8).all()
    assert (costs["latency_ms"] > 0).all() and (costs["n_database"] == 1300).all()
    assert (costs["encode_both_items_s"] > 0).all()
    recs = [r for r in ResultStore(results).load_records()
            if r.method == "lsh" and r.bits == [16] and r.budget == "400"]
    lsh16 = costs[(costs["row"] == "lsh") & (costs["bits"] == 16)].iloc[0]
    assert lsh16["fit_s_mean"] == pytest.approx(np.mean([r.timing["fit_s"] for r in recs]))


def _reference(folder: Path) -> Path:
    folder.mkdir()
    (folder / "toy.csv").write_text(
        "# a published table for the test\nmethod,i2t_16,i2t_32,t2i_16,t2i_32\n"
        "LSH,0.300,0.310,0.320,0.330\nCCA-ITQ,0.400,,0.410,0.420\nCVH,0.1,0.1,0.1,0.1\n")
    (folder / "toy.yaml").write_text(
        "table: toy.csv\ntitle: Toy published table\nprotocol: the toy protocol\n"
        "metric: map_all\nmatch: {dataset: synthetic-features, budget: '400'}\n"
        "row: {column: method}\nvalues: '{direction}_{bits}'\ncommand: bench run toy\n")
    return folder


def test_published_vs_measured_cells(results, long, tmp_path):
    ref = _reference(tmp_path / "ref")
    manifest = write_report(results, tmp_path / "out", formats=["html"], reference_dir=ref,
                            latency_queries=5)
    data = pd.read_csv(tmp_path / "out" / "published" / "published_toy.csv")
    head = long[long["budget"] == "400"]
    for method, pub_name in (("lsh", "LSH"), ("cca-itq", "CCA-ITQ")):
        for direction in ("i2t", "t2i"):
            for bits in (16, 32):
                cell = data[(data["published_row"] == pub_name) & (data["direction"] == direction)
                            & (data["bits"] == bits)].iloc[0]
                measured = head[(head["method"] == method) & (head["direction"] == direction)
                                & (head["bits"] == bits)]["map_all"]
                assert cell["measured_mean"] == pytest.approx(measured.mean())
                assert cell["measured_std"] == pytest.approx(measured.std(ddof=1))
                assert cell["n"] == 2
                if pub_name == "CCA-ITQ" and (direction, bits) == ("i2t", 32):
                    assert np.isnan(cell["published"]) and np.isnan(cell["diff"])
                else:
                    assert cell["diff"] == pytest.approx(measured.mean() - cell["published"])
    cvh = data[data["published_row"] == "CVH"]
    assert len(cvh) == 4 and (cvh["n"] == 0).all() and cvh["measured_mean"].isna().all()
    shown = next(t for t in manifest["published"] if t["name"] == "published_toy")
    assert shown["columns"] == ["method", "measured as", "I→T 16", "I→T 32", "T→I 16",
                                "T→I 32"]
    lsh = next(r for r in shown["rows"] if r[0] == "LSH")
    assert lsh[2].startswith("0.300 / ") and "(n=2) / " in lsh[2]
    assert next(r for r in shown["rows"] if r[0] == "CVH")[1] == "—"


def test_published_gnah_table_matches_variants_and_datasets(results, tmp_path):
    """The real GNAH Table 1 spec: a gnah record of variant no_lc on MIRFLICKR (preset gnah,
    80 pairs, 32 bits) lands in the 'MIR Flickr / w/o l_c' row and nowhere else."""
    copy_root = tmp_path / "res"
    store = ResultStore(copy_root)
    base = next(r for r in ResultStore(results).load_records() if r.bits == [32])
    for seed, (a, b) in ((42, (0.55, 0.56)), (1, (0.57, 0.60))):
        definition = {**base.definition, "method": "gnah", "dataset": "mirflickr25k",
                      "dataset_options": {}, "budget": "80", "seed": seed, "bits": [32],
                      "params": {"variant": "no_lc"},
                      "preset": {**base.preset, "name": "gnah"}}
        metrics = {"32": {"i2t": {**base.metrics["32"]["i2t"], "map_all": a},
                          "t2i": {**base.metrics["32"]["t2i"], "map_all": b}}}
        store.write_record(dataclasses.replace(
            base, key=f"gnah-mir-{seed}", group="", definition=definition, method="gnah",
            dataset="mirflickr25k", dataset_options={}, budget="80", seed=seed, bits=[32],
            params={"variant": "no_lc"}, preset=definition["preset"], metrics=metrics,
            codes={"file": "codes/none.npz", "sha256": None}))
    reference = Path(__file__).resolve().parents[1] / "results" / "reference"
    write_report(copy_root, tmp_path / "out", formats=["md"], reference_dir=reference,
                 latency_queries=5)
    data = pd.read_csv(tmp_path / "out" / "published" / "published_gnah_table1.csv")
    assert len(data[data["measured"].isna()]) == 20 * 2  # 21 published rows, one measured
    hit = data[data["n"] > 0]
    assert set(hit["group"]) == {"MIR Flickr"} and set(hit["published_row"]) == {"w/o l_c"}
    i2t = hit[hit["direction"] == "i2t"].iloc[0]
    assert i2t["published"] == 0.576 and i2t["measured_mean"] == pytest.approx(0.56)
    assert i2t["diff"] == pytest.approx(0.56 - 0.576)
    t2i = hit[hit["direction"] == "t2i"].iloc[0]
    assert t2i["published"] == 0.580 and t2i["measured_mean"] == pytest.approx(0.58)
    wiki = pd.read_csv(tmp_path / "out" / "published" / "published_wiki_sift_lda_map.csv")
    assert len(wiki) == 11 * 8 and (wiki["n"] == 0).all()
    assert wiki.loc[(wiki["published_row"] == "SePH-km") & (wiki["direction"] == "t2i")
                    & (wiki["bits"] == 128), "published"].item() == 0.670
    md = (tmp_path / "out" / "report.md").read_text()
    assert "No measured result under this protocol" in md  # the Wiki table, with its command


def test_failed_seed_is_named_and_the_rest_still_reported(results, tmp_path):
    """A failed trial (its record, status 'failed') appears in the leaderboard cell it belongs
    to and in the summary; the finished seeds are reported as usual."""
    import shutil

    from bench.schema import ErrorInfo

    root = tmp_path / "res"
    shutil.copytree(results / "records", root / "records")
    shutil.copytree(results / "codes", root / "codes")
    store = ResultStore(root)
    base = next(r for r in store.load_records() if r.method == "lsh" and r.bits == [16]
                and r.budget == "400")
    definition = {**base.definition, "seed": 7}
    store.write_record(dataclasses.replace(
        base, key=base.key.replace("-s0-", "-s7-").replace("-s1-", "-s7-") + "f",
        status="failed", definition=definition, seed=7, metrics={}, codes=None,
        error=ErrorInfo(type="RuntimeError", message="boom", stage="fit"),
        run={**base.run, "seeds": [0, 1, 7]}))
    manifest = write_report(root, tmp_path / "out", formats=["md"], latency_queries=5)
    board = next(t for t in manifest["datasets"][DATASET]["tables"] if t["name"] == "leaderboard")
    lsh = next(r for r in board["rows"] if r[0] == "lsh")
    cell = lsh[board["columns"].index("400 / I→T / 16")]
    assert "failed: seed 7" in cell and "n=2/3" in cell
    md = (tmp_path / "out" / "report.md").read_text()
    assert "(1 failed, listed in the leaderboard cells)" in md
    assert {f["name"] for f in manifest["datasets"][DATASET]["figures"]} == FIGURES


def test_html_is_self_contained(report):
    page = (Path(report["out"]) / "index.html").read_text()
    assert not re.search(r"""(src|href)=["']?https?:""", page)
    srcs = re.findall(r'<img [^>]*src="([^"]+)"', page)
    assert len(srcs) == len(FIGURES) and all(s.startswith("data:image/png;base64,")
                                             for s in srcs)
    assert page.count('class="protocol"') >= len(TABLES)


@pytest.mark.skipif(find_chromium() is None,
                    reason="no Chromium on this machine (apt-get install chromium; .ci/run "
                           "installs it)")
def test_html_opens_in_headless_chromium(report, tmp_path):
    shot = tmp_path / "report.png"
    check = check_page(Path(report["out"]) / "index.html", shot)
    assert check.errors == [] and check.ok
    assert check.figures == len(FIGURES) and len(check.images) == len(FIGURES)
    assert all(w > 300 for _, w, _ in check.images)
    assert check.tables >= 4 and "Published vs measured" in check.headings
    with Image.open(shot) as im:
        assert im.format == "PNG" and im.size[0] == 1280 and im.size[1] > 2000
        assert len(np.unique(np.asarray(im.convert("L").resize((64, 64))))) > 10  # not blank


def test_browser_check_sees_errors(tmp_path):
    if find_chromium() is None:
        pytest.skip("no Chromium on this machine (apt-get install chromium)")
    page = tmp_path / "bad.html"
    page.write_text('<!DOCTYPE html><html><body><img src="missing.png">'
                    "<script>undefinedFunction()</script></body></html>")
    check = check_page(page)
    assert not check.ok
    assert any("script error" in e for e in check.errors)
    assert any("missing.png" in e or "failed load" in e for e in check.errors)


@pytest.mark.parametrize("args, pattern", [
    (["--format", "svg"], "--format takes"),
    (["--dataset", "wiki"], "no results for dataset wiki"),
    (["--bits", "x"], "bits must be positive integers"),
])
def test_report_bad_input(results, tmp_path, capsys, args, pattern):
    out = tmp_path / "out"
    assert main(["report", "--results", str(results), "--out", str(out), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("bench: error:") and pattern in err[0]
    assert not out.exists()


def test_report_of_an_empty_folder_is_an_error(tmp_path, capsys):
    assert main(["report", "--results", str(tmp_path)]) == 2
    assert "no finished results" in capsys.readouterr().err
    assert not (tmp_path / "report").exists()
