"""Stored codes are used again: ``bench leaderboard --recompute`` evaluates
every codes file under the current metric engine and says which records it updated; a codes
file that no longer matches its record's checksum is never trusted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.cli import main
from bench.files import sha256_file

RUN = ["run", "--methods", "lsh", "--bits", "16", "--dataset", "synthetic-features",
       "--dataset-opt", "n_items=600", "--preset", "small", "--no-ray"]


@pytest.fixture
def results(tmp_path: Path) -> Path:
    assert main([*RUN, "--results", str(tmp_path)]) == 0
    return tmp_path


def record_path(results: Path) -> Path:
    return next((results / "records").rglob("*.json"))


def test_recompute_updates_records_whose_metrics_differ(results, capsys):
    path = record_path(results)
    rec = json.loads(path.read_text())
    right = rec["metrics"]["16"]["i2t"]["map_all"]
    rec["metrics"]["16"]["i2t"]["map_all"] = 0.123  # as if computed by a buggy engine
    path.write_text(json.dumps(rec))
    capsys.readouterr()
    assert main(["leaderboard", "--results", str(results), "--recompute"]) == 0
    out = capsys.readouterr().out
    assert "1 record(s) updated, 0 unchanged" in out and f"updated {rec['key']}" in out
    again = json.loads(path.read_text())
    assert again["metrics"]["16"]["i2t"]["map_all"] == pytest.approx(right, abs=1e-12)
    assert "16.i2t.map_all" in again["recomputed"]["changed"]
    assert f"{right:.4f}" in (results / "leaderboard.md").read_text()
    assert main(["leaderboard", "--results", str(results), "--recompute"]) == 0
    assert "0 record(s) updated, 1 unchanged" in capsys.readouterr().out


def test_truncated_codes_are_never_trusted(results, capsys):
    rec = json.loads(record_path(results).read_text())
    codes = results / rec["codes"]["file"]
    codes.write_bytes(codes.read_bytes()[:-20])
    capsys.readouterr()
    assert main(["leaderboard", "--results", str(results), "--recompute"]) == 0
    assert "does not match the record's SHA-256" in capsys.readouterr().out
    assert main([*RUN, "--results", str(results)]) == 0  # the rerun redoes the trial
    out = capsys.readouterr().out
    assert "1 to run, 0 already finished" in out and "does not match" in out
    fresh = json.loads(record_path(results).read_text())
    assert sha256_file(codes) == fresh["codes"]["sha256"]
    assert main([*RUN, "--results", str(results)]) == 0
    assert "0 to run, 1 already finished" in capsys.readouterr().out
