"""Result keys, the typed schema, and the store: atomic writes, umask, quarantine, checksums."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest

from bench.results import ResultStore, load_record
from bench.schema import (
    SCHEMA_VERSION,
    Definition,
    ErrorInfo,
    ResultRecord,
    TrialConfig,
    failed_record,
    json_safe,
    result_key,
)

DEF = {"method": "lsh", "dataset": "d", "bits": [16], "budget": "all", "seed": 0,
       "params": {"center": True}, "protocol_version": 1}


def definition(**change) -> Definition:
    base = dict(method="lsh", method_version="1", dataset="d", dataset_version="1",
                preset={"name": "p"}, bits=(16,), budget="all", seed=0,
                params={"center": True}, protocol_version=2, k_values=(50,),
                data_fingerprint="a" * 64)
    return Definition(**{**base, **change})


def test_result_key_is_a_content_hash():
    assert result_key(DEF) == result_key(dict(reversed(list(DEF.items()))))
    assert result_key(DEF).startswith("lsh-d-b16-nall-s0-")
    for change in ({"seed": 1}, {"params": {"center": False}}, {"protocol_version": 2},
                   {"bits": [32]}, {"budget": "80"}):
        assert result_key({**DEF, **change}) != result_key(DEF)


def test_definition_key_group_and_trial_config_round_trip(tmp_path):
    d = definition()
    assert d.key == result_key(d.as_dict())
    assert definition(seed=5).group == d.group and definition(seed=5).key != d.key
    for change in ({"data_fingerprint": "b" * 64}, {"method_version": "2"},
                   {"preset": {"name": "q"}}, {"encoder": {"name": "x"}}):
        assert definition(**change).group != d.group, change
    cfg = TrialConfig(definition=d, budget=None, results_dir=str(tmp_path),
                      cache_dir=str(tmp_path))
    again = TrialConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg and again.key == d.key
    with pytest.raises(ValueError, match="encoder does not match"):
        TrialConfig(definition=d, budget=None, results_dir="/", cache_dir="/",
                    encoder={"name": "x", "weights": "/w"})


def test_record_round_trip_and_older_schema(tmp_path):
    cfg = TrialConfig(definition=definition(), budget=None, results_dir=str(tmp_path),
                      cache_dir=str(tmp_path), requested_seeds=(0, 1))
    rec = failed_record(cfg, ErrorInfo("ValueError", "boom", "fit", "failures/x.txt"))
    again = ResultRecord.from_json(json.loads(json.dumps(rec.to_json())))
    assert again == rec and again.schema == SCHEMA_VERSION and again.requested_seeds == [0, 1]
    old = {"schema": 1, "key": "k", "method": "lsh", "dataset": "d", "bits": [16], "seed": 0,
           "budget": "all", "metrics": {}, "codes_file": "codes/k.npz", "params": {}}
    up = ResultRecord.from_json(old)
    assert up.status == "finished" and up.codes == {"file": "codes/k.npz", "sha256": None}
    with pytest.raises(ValueError, match="schema 99"):
        ResultRecord.from_json({**old, "schema": 99})


def test_atomic_writes_honour_the_umask_and_leave_no_temporary_files(tmp_path):
    old = os.umask(0o022)
    try:
        store = ResultStore(tmp_path)
        store.write_record(ResultRecord(key="k", status="finished", definition={},
                                        method="m", dataset="d", bits=[8]))
        codes = store.write_codes("k", {"a": np.arange(3)})
    finally:
        os.umask(old)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert sorted(p.name for p in files) == ["k.json", "k.npz"]
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o644, p  # not mkstemp's 0600
    assert codes["file"] == "codes/k.npz" and len(codes["sha256"]) == 64


def test_corrupt_records_are_quarantined_and_the_rest_used(tmp_path):
    store = ResultStore(tmp_path)
    good = ResultRecord(key="good", status="finished", definition={"seed": 0}, method="lsh",
                        dataset="d", bits=[8])
    store.write_record(good)
    bad = tmp_path / "records" / "lsh" / "d" / "bad.json"
    bad.write_text('{"schema": 2, "key": "bad", "metr')
    warnings: list[str] = []
    assert [r.key for r in store.scan(warn=warnings.append).records] == ["good"]
    assert bad.exists() and "skipped" in warnings.pop()  # reading never moves a file
    scan = store.scan(warn=warnings.append, quarantine=True)  # what bench run does
    assert [r.key for r in scan.records] == ["good"]
    assert not bad.exists() and (tmp_path / "quarantine" / "lsh" / "d" / "bad.json").is_file()
    assert len(warnings) == 1 and "moved to" in warnings[0] and "bad.json" in warnings[0]


def test_codes_checksum_is_verified(tmp_path):
    store = ResultStore(tmp_path)
    codes = store.write_codes("k", {"a": np.arange(1000)})
    store.write_record(ResultRecord(key="k", status="finished", definition={}, method="m",
                                    dataset="d", bits=[8], codes=codes))
    assert store.check_finished("m", "d", "k") == (True, "")
    path = tmp_path / codes["file"]
    path.write_bytes(path.read_bytes()[:-10])  # truncated
    done, why = store.check_finished("m", "d", "k")
    assert not done and "does not match" in why


def test_json_safe():
    out = json_safe({"a": np.float32(0.5), "b": [float("inf"), np.int64(3)], 1: float("nan")})
    assert out == {"a": 0.5, "b": [None, 3], "1": None}


def test_load_record_names_the_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({"schema": 2, "key": "x"}))
    with pytest.raises(Exception, match=r"x\.json: missing"):
        load_record(path)
