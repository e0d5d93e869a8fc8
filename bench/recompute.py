"""``bench leaderboard --recompute``: metrics from the stored codes, under the current engine.

Every finished record's codes file (packed codes, labels and the database order the trial
used) is checked against its SHA-256, unpacked and evaluated again with the current metric
engine and ``PROTOCOL`` (k values included). A record whose metrics change gets the new metrics,
the current ``protocol`` and a ``recomputed`` note (when, previous and current protocol
version, what changed); unchanged records are left alone. The definition and key are not
touched: they describe how the codes were produced (split, database order, training), which a
recomputation cannot change.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.files import cannot_write
from bench.metrics import PROTOCOL, PROTOCOL_VERSION, unpack_codes
from bench.results import ResultStore, load_codes
from bench.schema import ResultRecord


@dataclass
class RecomputeReport:
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  #: (key, why)

    def lines(self) -> list[str]:
        n = len(self.updated) + len(self.unchanged) + len(self.skipped)
        out = [f"bench: recomputed {n} codes file(s) under metric protocol {PROTOCOL_VERSION}: "
               f"{len(self.updated)} record(s) updated, {len(self.unchanged)} unchanged, "
               f"{len(self.skipped)} skipped"]
        out += [f"bench:   updated {key}" for key in self.updated]
        out += [f"bench:   skipped {key}: {why}" for key, why in self.skipped]
        return out


def evaluate_codes_file(path: Path, bits: list[int]) -> dict[str, Any]:
    """bits -> direction -> metrics of a codes file, evaluated now."""
    from bench.runner.trial import evaluate_codes

    z = load_codes(path)
    k_values = tuple(PROTOCOL["k_values"])
    out = {}
    for b in bits:
        q = {"image": unpack_codes(z[f"q_img_{b}"], b), "text": unpack_codes(z[f"q_txt_{b}"], b)}
        r = {"image": unpack_codes(z[f"r_img_{b}"], b), "text": unpack_codes(z[f"r_txt_{b}"], b)}
        out[str(b)] = evaluate_codes(q, r, z["q_labels"], z["r_labels"], k_values)
    return out


def _differences(old: Any, new: Any, path: str = "") -> list[str]:
    if isinstance(old, dict) and isinstance(new, dict):
        diffs = []
        for k in sorted(set(old) | set(new)):
            diffs += _differences(old.get(k), new.get(k), f"{path}.{k}" if path else str(k))
        return diffs
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [d for i, (a, b) in enumerate(zip(old, new, strict=True))
                for d in _differences(a, b, f"{path}[{i}]")][:1]
    if isinstance(old, float) and isinstance(new, float):
        return [] if math.isclose(old, new, rel_tol=0, abs_tol=1e-12) else [path]
    if path.endswith(("backend", "protocol_version")):
        return []  # how it was computed, not what
    return [] if old == new else [path]


def recompute_record(store: ResultStore, rec: ResultRecord) -> tuple[str, str]:
    """("updated" | "unchanged" | "skipped", why) for one record (updated in place)."""
    if not rec.finished:
        return "skipped", f"status {rec.status}"
    try:
        path = store.codes_file(rec)
    except BenchError as exc:  # the record points outside the results folder
        return "skipped", str(exc)
    problem = store.codes_problem(rec)
    if problem:
        return "skipped", problem.removeprefix("its ")
    try:
        metrics = evaluate_codes_file(path, [int(b) for b in rec.bits])
    except (OSError, KeyError, ValueError) as exc:
        return "skipped", f"codes file {path} unreadable ({exc})"
    from bench.schema import json_safe

    metrics = json_safe(metrics)
    changed = _differences(rec.metrics, metrics)
    if not changed:
        return "unchanged", ""
    rec.recomputed = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                      "previous_protocol_version": rec.protocol.get("version"),
                      "protocol_version": PROTOCOL_VERSION, "changed": changed[:50]}
    rec.metrics, rec.protocol = metrics, dict(PROTOCOL)
    try:
        store.write_record(rec)
    except OSError as exc:
        raise cannot_write(store.record_path(rec.method, rec.dataset, rec.key), exc,
                           "--recompute updates the records in place") from None
    return "updated", ""


def recompute_all(results_dir: Path, log: Callable[[str], None] = print) -> RecomputeReport:
    store = ResultStore(results_dir)
    report = RecomputeReport()
    for rec in store.load_records(warn=log):
        if not rec.finished:
            continue
        outcome, why = recompute_record(store, rec)
        if outcome == "updated":
            report.updated.append(rec.key)
        elif outcome == "unchanged":
            report.unchanged.append(rec.key)
        else:
            report.skipped.append((rec.key, why))
    return report
