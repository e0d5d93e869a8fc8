"""Progress a person can read while a sweep runs.

Each running trial keeps one small JSON file, ``<results>/.progress/<run id>/<key>.json``
(:class:`TrialProgress`, only when the driver made that folder): its step (data, features,
split, method, fit, encode, validation, evaluate, store, tracking), the epoch of a training
loop, the time the step began, warnings, and at the end its status. Writing one costs
microseconds and needs no Ray round trip, so a trial never waits for its progress to be shown;
on a cluster the folder is on the shared results storage.

The driver's :class:`ProgressView` reads those files once a second and shows, on a terminal, a
compact block redrawn in place (counts, elapsed time, ETA, one line per running trial with its
method, bits, seed, step and epoch); elsewhere (logs, pipes) one line per trial that ends and a
status line every ``heartbeat`` seconds while nothing ends.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.schema import TrialConfig

PROGRESS_DIR = ".progress"
EPOCH_WRITE_S = 1.0  #: a training loop's epochs are written at most this often
DONE = ("finished", "failed", "pruned")


def progress_dir(results_dir: str | Path, run_id: str) -> Path:
    return Path(results_dir) / PROGRESS_DIR / run_id


class TrialProgress:
    """The trial side: what it is doing, in its progress file (no-op without a folder)."""

    def __init__(self, path: Path | None):
        self.path = path
        self._state: dict[str, Any] = {"pid": os.getpid(), "stage": "setup", "epoch": None,
                                       "since": time.time(), "warnings": []}
        self._written = 0.0

    @classmethod
    def of(cls, cfg: TrialConfig) -> TrialProgress:
        if not cfg.run_id:
            return cls(None)
        folder = progress_dir(cfg.results_dir, cfg.run_id)
        return cls(folder / f"{cfg.key}.json" if folder.is_dir() else None)

    def stage(self, name: str) -> None:
        self._state.update(stage=name, epoch=None, since=time.time())
        self._write()

    def epoch(self, epoch: int) -> None:
        self._state["epoch"] = int(epoch)
        if time.time() - self._written >= EPOCH_WRITE_S:
            self._write()

    def end(self, status: str) -> None:
        self._state.update(status=status, since=time.time())
        self._write()

    def logger(self, log: Callable[[str], None]) -> Callable[[str], None]:
        """``log`` that also keeps warnings in the progress file (the view shows them)."""
        def wrapped(message: str) -> None:
            if self.path is not None and message.startswith("bench: warning"):
                self._state["warnings"].append(message[:500])
                self._write()
            log(message)

        return wrapped

    def _write(self) -> None:
        if self.path is None:
            return
        self._written = time.time()
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            tmp.write_text(json.dumps(self._state))
            os.replace(tmp, self.path)
        except OSError:  # the view is a convenience: never fail a trial for it
            self.path = None


# --------------------------------------------------------------------------- driver side


@dataclass
class _Trial:
    label: str
    state: str = "waiting"  #: waiting, running, finished, failed, pruned
    stage: str = ""
    epoch: int | None = None
    since: float = 0.0
    warned: int = 0
    mtime: float = field(default=-1.0)


def trial_label(cfg: TrialConfig) -> str:
    """``method 16,32 bits seed 0`` (and the budget when it is not every pair)."""
    budget = cfg.definition.budget
    extra = "" if budget == "all" else f" budget {budget}"
    return f"{cfg.method} {','.join(map(str, cfg.bits))} bits seed {cfg.seed}{extra}"


def clock(seconds: float) -> str:
    s = int(max(0, seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else \
        f"{s // 60}:{s % 60:02d}"


class ProgressView:
    """The driver side (see the module doc). Use as a context manager around the trials;
    :meth:`say` prints a line without breaking the live block; :meth:`mark` sets a trial's
    state from outside (e.g. Ray Tune saw its worker die)."""

    def __init__(self, configs: Sequence[TrialConfig], results_dir: str | Path, run_id: str,
                 stream: IO[str] | None = None, live: bool | None = None,
                 interval: float = 1.0, heartbeat: float = 60.0, max_lines: int = 8):
        self.folder = progress_dir(results_dir, run_id)
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty() if live is None else live
        self.interval, self.heartbeat, self.max_lines = interval, heartbeat, max_lines
        self.trials = {c.key: _Trial(trial_label(c)) for c in configs}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drawn = 0  # lines of the live block on screen
        self._t0 = time.time()
        self._last_line = time.time()

    # -- lifecycle
    def __enter__(self) -> ProgressView:
        self.folder.mkdir(parents=True, exist_ok=True)
        self._t0 = self._last_line = time.time()
        self._thread = threading.Thread(target=self._loop, name="bench-progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        with self._lock:
            self._poll()
            self._clear()
            self._emit(self.summary())
        shutil.rmtree(self.folder, ignore_errors=True)
        try:
            self.folder.parent.rmdir()  # the .progress folder, when no other run uses it
        except OSError:
            pass

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            with self._lock:
                self._poll()
                if self.live:
                    self._redraw()
                elif time.time() - self._last_line >= self.heartbeat:
                    self._emit(self.status_line(with_running=True))

    # -- input
    def mark(self, key: str, state: str, stage: str = "") -> None:
        with self._lock:
            t = self.trials.get(key)
            if t is not None and t.state not in DONE:
                self._set(key, t, state, stage, None, time.time())

    def say(self, message: str) -> None:
        with self._lock:
            self._clear()
            self._emit(message)
            if self.live:
                self._redraw()

    def _poll(self) -> None:
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            return
        for entry in entries:
            if not entry.name.endswith(".json") or entry.name.startswith("."):
                continue
            key = entry.name[:-5]
            t = self.trials.get(key)
            if t is None:
                continue
            try:
                mtime = entry.stat().st_mtime
                if mtime == t.mtime:
                    continue
                state = json.loads(Path(entry.path).read_text())
            except (OSError, ValueError):
                continue
            t.mtime = mtime
            for warning in state.get("warnings", [])[t.warned:]:
                self._clear()
                self._emit(f"{warning} [{t.label}]")
            t.warned = len(state.get("warnings", []))
            status = state.get("status")
            self._set(key, t, status if status in DONE else "running", state.get("stage", ""),
                      state.get("epoch"), float(state.get("since") or time.time()))

    def _set(self, key: str, t: _Trial, state: str, stage: str, epoch: int | None,
             since: float) -> None:
        ended = state in DONE and t.state not in DONE
        t.state, t.stage, t.epoch, t.since = state, stage, epoch, since
        if ended and not self.live:
            self._emit(f"bench: [{self.count(*DONE)}/{len(self.trials)}] {t.label}: {state}"
                       f" · {self.status_line(brief=True)}")

    # -- output
    def count(self, *states: str) -> int:
        return sum(t.state in states for t in self.trials.values())

    def eta(self) -> float | None:
        done, total = self.count(*DONE), len(self.trials)
        if not done or done >= total:
            return None
        return (time.time() - self._t0) / done * (total - done)

    def status_line(self, brief: bool = False, with_running: bool = False) -> str:
        n, done = len(self.trials), self.count(*DONE)
        failed, running = self.count("failed"), self.count("running")
        eta = self.eta()
        parts = [f"{running} running", f"{self.count('waiting')} waiting",
                 f"{clock(time.time() - self._t0)} elapsed"]
        if eta is not None:
            parts.append(f"ETA {clock(eta)}")
        if failed:
            parts.insert(0, f"{failed} failed")
        head = " · ".join(parts) if brief else \
            f"bench: {done}/{n} done · " + " · ".join(parts)
        if with_running:
            running_now = [f"{t.label} ({self._doing(t)})" for t in self.trials.values()
                           if t.state == "running"]
            if running_now:
                head += "; running: " + "; ".join(running_now[:self.max_lines])
        return head

    def summary(self) -> str:
        n = len(self.trials)
        parts = [f"{self.count('finished')} finished"]
        for state in ("failed", "pruned"):
            if self.count(state):
                parts.append(f"{self.count(state)} {state}")
        left = n - self.count(*DONE)
        if left:
            parts.append(f"{left} without an end (see the records)")
        return (f"bench: {n} trial(s): " + ", ".join(parts)
                + f" in {clock(time.time() - self._t0)}")

    def _doing(self, t: _Trial) -> str:
        what = t.stage or "starting"
        if t.epoch is not None:
            what += f" epoch {t.epoch}"
        return f"{what} {clock(time.time() - t.since)}" if t.since else what

    def block(self) -> list[str]:
        lines = [self.status_line()]
        running = [t for t in self.trials.values() if t.state == "running"]
        for t in running[:self.max_lines]:
            lines.append(f"  {t.label:<36} {self._doing(t)}")
        if len(running) > self.max_lines:
            lines.append(f"  ... and {len(running) - self.max_lines} more running")
        return lines

    def _emit(self, line: str) -> None:
        self.stream.write(line + "\n")
        self.stream.flush()
        self._last_line = time.time()

    def _clear(self) -> None:
        if self.live and self._drawn:
            self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _redraw(self) -> None:
        self._clear()
        lines = self.block()
        self.stream.write("\n".join(lines) + "\n")
        self.stream.flush()
        self._drawn = len(lines)
