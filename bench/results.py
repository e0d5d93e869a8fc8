"""The results store: one JSON record per trial (finished, failed or pruned) and one code file
per finished trial.

Layout under the results folder::

    records/<method>/<dataset>/<key>.json   the record (bench.schema.ResultRecord)
    codes/<key>.npz                         packed codes, labels and indices (reloadable)
    failures/<key>/attempt-<n>.txt          the full traceback of each failed attempt
    running/<key>.json                      the attempts of a trial that has no record yet
                                            (removed when it writes one; what is left names
                                            attempts whose worker or node died)
    runs/<run id>.json                      one manifest per driver run (bench.runner.manifest)
    quarantine/...                          records that could not be read, set aside

Writes are atomic (temporary file, then rename) and honour the umask. A record names its codes
file with the file's SHA-256, so a truncated or replaced codes file is detected and the trial
redone (``bench leaderboard`` leaves such a record out, with a note). Every path built from a
record (its method, dataset and key) or read from one (its codes and traceback files) must stay
inside the results folder once symlinks and ``..`` are resolved
(:meth:`ResultStore.check_paths`); a record that points elsewhere is corrupt. A record that
cannot be read is reported in one line and skipped; only ``bench run`` moves it to
``quarantine/`` (commands that only read never write to the folder), and the rest of the
folder is used. Two records of one definition and seed (possible only for records written by
older harness versions, whose keys hashed parameters as given: ``1`` vs ``1.0``) never both
count: the newest is kept and the others are reported.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.files import atomic_write, atomic_write_bytes, inside, safe_part, sha256_file
from bench.schema import ResultRecord, group_id, json_safe

QUARANTINE = "quarantine"
Warn = Callable[[str], None]


@dataclass
class Scan:
    """What :meth:`ResultStore.scan` found."""

    records: list[ResultRecord] = field(default_factory=list)  #: readable, one per (group, seed)
    duplicates: list[tuple[Path, Path]] = field(default_factory=list)  #: (ignored, kept)
    quarantined: list[tuple[Path, Path, str]] = field(default_factory=list)  #: (from, to, why)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)  #: (path, why), left there
    paths: dict[str, Path] = field(default_factory=dict)  #: key -> record file

    def messages(self) -> list[str]:
        out = [f"bench: warning: unreadable result record {src} moved to {dst} ({why})"
               for src, dst, why in self.quarantined]
        out += [f"bench: warning: unreadable result record {src} skipped ({why}); 'bench run' "
                "sets it aside in quarantine/" for src, why in self.unreadable]
        out += [f"bench: note: {ignored} has the same definition and seed as {kept}; the newer "
                f"({kept.name}) counts" for ignored, kept in self.duplicates]
        return out


class ResultStore:
    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.records_dir = self.root / "records"
        self.codes_dir = self.root / "codes"
        self.failures_dir = self.root / "failures"
        self.running_dir = self.root / "running"

    # -- paths
    def record_path(self, method: str, dataset: str, key: str) -> Path:
        return (self.records_dir / safe_part(method, "method") / safe_part(dataset, "dataset")
                / f"{safe_part(key, 'result key')}.json")

    def codes_path(self, key: str) -> Path:
        return self.codes_dir / f"{safe_part(key, 'result key')}.npz"

    # -- writing
    def write_record(self, record: ResultRecord) -> Path:
        path = self.record_path(record.method, record.dataset, record.key)
        text = json.dumps(record.to_json(), indent=1, sort_keys=True, allow_nan=False)
        return atomic_write_bytes(path, text.encode())

    def write_codes(self, key: str, arrays: Mapping[str, np.ndarray]) -> dict[str, str]:
        """Write the codes file; returns ``{"file": relative path, "sha256": ...}``."""
        path = atomic_write(self.codes_path(key),
                            lambda tmp: _savez(tmp, arrays), suffix=".npz")
        return {"file": path.relative_to(self.root).as_posix(), "sha256": sha256_file(path)}

    def write_traceback(self, key: str, attempt: int, text: str) -> str:
        path = self.failures_dir / safe_part(key, "result key") / f"attempt-{attempt}.txt"
        atomic_write_bytes(path, text.encode())
        return path.relative_to(self.root).as_posix()

    def clear_partial_writes(self, method: str, dataset: str, key: str) -> list[Path]:
        """Remove the temporary files an earlier attempt of ``key`` left when it was killed
        mid-write (``atomic_write`` renames a finished file into place, so a temporary file of
        a key whose attempt is starting again is garbage); returns what was removed."""
        removed = []
        for path in (self.record_path(method, dataset, key), self.codes_path(key)):
            for tmp in path.parent.glob(f".{path.name}.*"):
                tmp.unlink(missing_ok=True)
                removed.append(tmp)
        return removed

    # -- attempts in progress
    def start_attempt(self, key: str, run_id: str, entry: Mapping[str, object]) -> None:
        """Note that an attempt of ``key`` starts (``entry``: attempt, node, ray_node, ...),
        after the earlier attempts of the same run that ended without a record."""
        attempts = [*self.attempts_of(key, run_id),
                    {**entry, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}]
        text = json.dumps(json_safe({"run_id": run_id, "attempts": attempts}), sort_keys=True)
        atomic_write_bytes(self.running_dir / f"{safe_part(key, 'result key')}.json",
                           text.encode())

    def attempts_of(self, key: str, run_id: str) -> list[dict]:
        """The attempts of ``key`` in run ``run_id`` that have not written a record."""
        try:
            path = self.running_dir / f"{safe_part(key, 'result key')}.json"
            data = json.loads(path.read_text())
        except (OSError, ValueError, BenchError):
            return []
        return list(data.get("attempts") or []) if data.get("run_id") == run_id else []

    def end_attempt(self, key: str) -> None:
        """The attempt wrote its record: nothing of it is left running."""
        (self.running_dir / f"{safe_part(key, 'result key')}.json").unlink(missing_ok=True)

    # -- reading
    def read(self, method: str, dataset: str, key: str) -> ResultRecord | None:
        """The record of ``key``, None when absent or unreadable (a rerun redoes it)."""
        path = self.record_path(method, dataset, key)
        if not path.is_file():
            return None
        try:
            rec = load_record(path)
            self.check_paths(rec)
        except BenchError:
            return None
        return rec

    def check_finished(self, method: str, dataset: str, key: str) -> tuple[bool, str]:
        """(True, "") when ``key`` has a finished record whose codes file matches its
        checksum; else (False, why) - why is empty when there is simply nothing yet."""
        rec = self.read(method, dataset, key)
        if rec is None:
            return False, ""
        if rec.status != "finished":
            return False, f"its last attempt {rec.status}"
        why = self.codes_problem(rec)
        return not why, why

    def codes_problem(self, rec: ResultRecord) -> str:
        """Why the codes file of the finished record ``rec`` cannot be trusted (missing, or
        not matching the record's SHA-256); "" when it is intact."""
        codes = rec.codes or {}
        try:
            path = self.codes_file(rec)
        except BenchError as exc:  # the record points outside the results folder
            return f"its codes file is not usable: {exc}"
        if not path.is_file():
            return f"its codes file {path} is missing"
        if codes.get("sha256") and sha256_file(path) != codes["sha256"]:
            return f"its codes file {path} does not match the record's SHA-256"
        return ""

    def scan(self, warn: Warn | None = None, quarantine: bool = False) -> Scan:
        """Every record: unreadable ones skipped (with ``warn``; moved to ``quarantine/`` only
        with ``quarantine``, which ``bench run`` alone asks for: reading never writes),
        duplicates of one definition and seed resolved (newest kept)."""
        out = Scan()
        if not self.records_dir.exists():
            return out
        best: dict[tuple[str, int], tuple[ResultRecord, Path]] = {}
        for path in sorted(self.records_dir.rglob("*.json")):
            try:
                rec = load_record(path)
                self.check_paths(rec)
            except BenchError as exc:
                why = str(exc).split(": ", 1)[-1]
                if quarantine:
                    out.quarantined.append((path, self.quarantine(path), why))
                else:
                    out.unreadable.append((path, why))
                continue
            slot = (rec.group, rec.seed)
            if slot in best:
                other, other_path = best[slot]
                newer, older = ((rec, path), (other, other_path)) \
                    if (rec.created, rec.key) >= (other.created, other.key) \
                    else ((other, other_path), (rec, path))
                out.duplicates.append((older[1], newer[1]))
                best[slot] = newer
            else:
                best[slot] = (rec, path)
        for rec, path in sorted(best.values(), key=lambda rp: str(rp[1])):
            out.records.append(rec)
            out.paths[rec.key] = path
        if warn is not None:
            for msg in out.messages():
                warn(msg)
        return out

    def codes_file(self, rec: ResultRecord) -> Path:
        """The codes file ``rec`` names, resolved inside the results folder; a BenchError when
        the record points outside it (see :func:`bench.files.inside`)."""
        codes = rec.codes or {}
        return inside(self.root, codes.get("file", f"codes/{rec.key}.npz"),
                      f"record {rec.key}: its codes file")

    def check_paths(self, rec: ResultRecord) -> None:
        """A BenchError unless every path of ``rec`` stays inside the results folder: the
        names its own file is built from, its codes file and its traceback file."""
        for what, part in (("method", rec.method), ("dataset", rec.dataset),
                           ("key", rec.key)):
            safe_part(part, f"record {rec.key!r}: its {what}")
        if rec.codes is not None or rec.finished:
            self.codes_file(rec)
        if rec.error is not None and rec.error.traceback_file:
            inside(self.root, rec.error.traceback_file, f"record {rec.key}: its traceback file")

    def load_records(self, warn: Warn | None = None) -> list[ResultRecord]:
        return self.scan(warn).records

    def quarantine(self, path: Path) -> Path:
        """Move an unreadable record out of ``records/`` (keeping its relative path)."""
        rel = Path(path).resolve().relative_to(self.records_dir)
        dst = self.root / QUARANTINE / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        if dst.exists():
            dst = dst.with_name(f"{dst.stem}.{int(dst.stat().st_mtime_ns)}{dst.suffix}")
        shutil.move(str(path), str(dst))
        return dst


def _savez(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)


def load_record(path: Path) -> ResultRecord:
    """The record at ``path`` (older schemas upgraded, parameters canonical); a one-line
    BenchError naming the file when it cannot be read."""
    try:
        data = json.loads(Path(path).read_text())
        rec = ResultRecord.from_json(data)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError, TypeError) as exc:
        raise BenchError(f"corrupt result record {path}: {exc}") from None
    if isinstance(data, Mapping) and data.get("schema") == 1:
        _canonicalise_legacy(rec)
    return rec


def _canonicalise_legacy(rec: ResultRecord) -> None:
    """Schema-1 keys hashed parameters as given (``tau=1`` and ``tau=1.0`` were two results):
    recompute the group from canonical parameters so that such records share one group."""
    from bench import registry
    from bench.errors import PluginError
    from bench.params import canonical_value, rule_of

    try:
        spec = registry.methods.get(rec.method)
    except PluginError:
        return
    params = {}
    for name, value in rec.params.items():
        ok, canon = canonical_value(rule_of(spec, name), value) if name in spec.defaults \
            else (False, None)
        params[name] = canon if ok else value
    rec.params = params
    rec.definition = {**rec.definition, "params": params}
    rec.group = group_id(rec.definition)


def load_codes(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a codes file (see ``bench.runner.trial`` for the keys)."""
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


__all__ = ["ResultStore", "Scan", "load_codes", "load_record", "json_safe"]


def describe_records(records: list[ResultRecord], failed_only: bool = False,
                     verbose: bool = False) -> list[str]:
    """Lines for ``bench ls runs``: one per record (status, key, attempt, device, mean mAP@all
    or the error), then a count per status."""
    shown = [r for r in records if r.status == "failed"] if failed_only else records
    lines = []
    for r in sorted(shown, key=lambda r: (r.method, r.dataset, r.budget, r.bits, r.seed)):
        if r.finished and r.metrics:
            values = [m[d].get("map_all") for m in r.metrics.values() for d in m]
            values = [v for v in values if v is not None]
            what = f"mAP@all {sum(values) / len(values):.4f}" if values else "mAP@all n/a"
        elif r.error is not None:
            what = f"{r.error.type}: {r.error.message}"[:160]
        else:  # pruned, or a search trial of bench tune (validation only)
            what = f"validation {r.validation.get('score')}"
        if r.tuning:  # bench tune: a final run of a study's best, or one of its search trials
            what += (f"  (tuned: study {r.tuning.get('study')}, {r.tuning.get('trials')} trials)"
                     if r.tuning.get("role") == "final" else
                     f"  (study {r.tuning.get('study')}, trial {r.tuning.get('trial')})")
        device = f"  {r.device}" if r.device else ""  # a seed on cpu and on cuda: two draws
        lines.append(f"{r.status:<9} {r.key}  attempt {r.attempt}{device}  {r.created}  {what}")
        if verbose and r.error is not None and r.error.traceback_file:
            lines.append(f"          traceback: {r.error.traceback_file}")
    counts = {s: sum(r.status == s for r in records) for s in ("finished", "failed", "pruned")}
    lines.append(f"bench: {len(records)} record(s): " + ", ".join(
        f"{n} {s}" for s, n in counts.items()) + (f"; {len(shown)} shown" if failed_only else ""))
    return lines
