"""Run manifests: ``runs/<run id>.json`` in the results folder, one per driver run that executes
trials (written before the first trial starts, touched while the run goes on, closed at its end).

A manifest names the sweep (:func:`sweep_id`: the set of result keys the command planned), the
driver (host, pid and the pid's start time), the MLflow parent run and its heartbeat. It serves
three purposes:

* **Shared storage.** A trial refuses to start when it cannot see its run's manifest
  (:func:`check_visible`): its node's results folder is not the driver's, so anything it wrote
  there would be lost. Every node must mount the results folder at the same path.
* **A killed driver.** A rerun of the same sweep finds manifests still marked running whose
  driver is dead (:func:`dead_runs`: same host and the pid is gone, or no heartbeat for
  :data:`STALE_AFTER_S`) and takes over their MLflow parent run instead of leaving it RUNNING
  and starting an unrelated one.
* **Later uploads.** ``bench mlflow sync`` finds the parent run of a record's run here.
"""

from __future__ import annotations

import json
import os
import platform
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from bench.files import atomic_write_bytes
from bench.schema import digest

RUNS = "runs"
HEARTBEAT_S = 30.0
#: a running manifest of another host without a heartbeat for this long belongs to a dead driver
STALE_AFTER_S = 300.0
#: serialises the driver's read-modify-write of its manifest (the heartbeat, the MLflow relay
#: noting the parent run, the main thread)
LOCK = threading.RLock()


class ResultsNotShared(RuntimeError):
    """A trial's node does not see the driver's results folder (an infrastructure failure:
    the trial is retried, possibly elsewhere, and fails with this message if it never can)."""


def sweep_id(keys: list[str]) -> str:
    """The identity of a sweep: the sorted result keys it planned (16 hex digits)."""
    return digest(sorted(keys))[:16]


def process_start(pid: int) -> int | None:
    """The start time (clock ticks since boot) of ``pid``; None when it does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(text[text.rfind(")") + 2:].split()[19])


@dataclass
class Manifest:
    run_id: str
    sweep: str
    host: str = field(default_factory=platform.node)
    pid: int = field(default_factory=os.getpid)
    pid_start: int | None = None
    started: float = field(default_factory=time.time)
    heartbeat: float = field(default_factory=time.time)
    status: str = "running"  #: running | finished | failed | killed | interrupted
    command: str = ""
    n_trials: int = 0
    address: str | None = None
    tracking_uri: str | None = None
    experiment: str | None = None
    parent_run_id: str | None = None
    continues: list[str] = field(default_factory=list)  #: run ids of dead runs taken over
    taken_over_by: str | None = None

    def __post_init__(self) -> None:
        if self.pid_start is None and self.pid == os.getpid():
            self.pid_start = process_start(self.pid)

    # -- files
    @staticmethod
    def path(results: Path, run_id: str) -> Path:
        return Path(results) / RUNS / f"{run_id}.json"

    def write(self, results: Path) -> Path:
        text = json.dumps(asdict(self), indent=1, sort_keys=True)
        return atomic_write_bytes(self.path(results, self.run_id), text.encode())

    @classmethod
    def load(cls, path: Path) -> Manifest | None:
        try:
            data = json.loads(Path(path).read_text())
            names = {f.name for f in fields(cls)}
            return cls(**{k: v for k, v in data.items() if k in names})
        except (OSError, ValueError, TypeError):
            return None

    @classmethod
    def find(cls, results: Path, run_id: str) -> Manifest | None:
        return cls.load(cls.path(results, run_id))

    # -- state
    def touch(self, results: Path) -> None:
        self.heartbeat = time.time()
        self.write(results)

    def close(self, results: Path, status: str) -> None:
        self.status = status
        self.heartbeat = time.time()
        self.write(results)

    def close_in_place(self, results: Path, status: str) -> None:
        """:meth:`close` overwriting the file itself (no temporary copy): for a full disk."""
        self.status = status
        self.heartbeat = time.time()
        text = json.dumps(asdict(self), indent=1, sort_keys=True).encode()
        with open(self.path(results, self.run_id), "r+b") as fh:
            fh.truncate(0)
            fh.write(text)

    def driver_alive(self) -> bool:
        """Whether the driver that wrote this manifest still runs (see the module doc)."""
        if self.host == platform.node():
            return self.pid_start is not None and process_start(self.pid) == self.pid_start
        return time.time() - self.heartbeat < STALE_AFTER_S


def dead_runs(results: Path, sweep: str, exclude: str = "") -> list[Manifest]:
    """Manifests of ``sweep`` still marked running whose driver is dead, oldest first."""
    out = []
    for path in sorted((Path(results) / RUNS).glob("*.json")):
        m = Manifest.load(path)
        if (m is not None and m.sweep == sweep and m.status == "running"
                and m.run_id != exclude and not m.driver_alive()):
            out.append(m)
    return sorted(out, key=lambda m: m.started)


def check_visible(results: str | Path, run_id: str, where: str) -> None:
    """Raise :class:`ResultsNotShared` when this process cannot see run ``run_id``'s
    manifest in ``results`` (see the module doc). ``where`` names the node."""
    if run_id and not Manifest.path(Path(results), run_id).is_file():
        raise ResultsNotShared(
            f"the results folder {results} on node {where} does not hold this run's manifest "
            f"({RUNS}/{run_id}.json): it is not the driver's results folder, so nothing written "
            "here would count; mount the shared results path at the same place on every node "
            "(README, 'Running on a cluster')")
