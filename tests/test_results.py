"""Result keys and the store's atomic writes."""

from __future__ import annotations

import numpy as np

from bench.results import ResultStore, json_safe, result_key

DEF = {"method": "lsh", "dataset": "d", "bits": [16], "budget": "all", "seed": 0,
       "params": {"center": True}, "protocol_version": 1}


def test_result_key_is_a_content_hash():
    assert result_key(DEF) == result_key(dict(reversed(list(DEF.items()))))
    assert result_key(DEF).startswith("lsh-d-b16-nall-s0-")
    for change in ({"seed": 1}, {"params": {"center": False}}, {"protocol_version": 2},
                   {"bits": [32]}, {"budget": "80"}):
        assert result_key({**DEF, **change}) != result_key(DEF)


def test_atomic_writes_leave_no_temporary_files(tmp_path):
    store = ResultStore(tmp_path)
    store.write_record({"schema": 1, "key": "k", "method": "m", "dataset": "d", "bits": [8],
                        "seed": 0, "budget": "all", "metrics": {}})
    store.write_codes("k", {"a": np.arange(3)})
    names = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    assert names == ["k.json", "k.npz"]


def test_json_safe():
    out = json_safe({"a": np.float32(0.5), "b": [float("inf"), np.int64(3)], 1: float("nan")})
    assert out == {"a": 0.5, "b": [None, 3], "1": None}
