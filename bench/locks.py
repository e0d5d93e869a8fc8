"""File locks that die with their process (``flock`` on a lock file), for what two drivers
sharing one results folder must not do at once: compute the same result key (a *claim*,
:func:`claim_key`), create the MLflow SQLite store, search the same ``bench tune`` study.

A lock is an exclusive ``flock`` on a small file that names its holder (run id, host, pid);
the kernel releases it when the holder exits or is killed, so a claim of a dead process is
taken over by the next one to ask, without any stale-lock clean-up. Lock files are never
removed (removing a lock file another process is about to lock would split the lock). ``flock``
works between processes of one host and, on Linux NFS clients, between hosts.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import platform
import time
from collections.abc import Callable, Iterator
from pathlib import Path

CLAIMS = "claims"


class FileLock:
    """An exclusive lock on ``path`` (created when missing); :meth:`acquire` returns False
    when ``wait`` is false and another process holds it."""

    def __init__(self, path: Path, holder: dict | None = None):
        self.path = Path(path)
        self.holder = dict(holder or {})
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, wait: bool = True) -> bool:
        if self._fd is not None:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        info = {"host": platform.node(), "pid": os.getpid(),
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **self.holder}
        with contextlib.suppress(OSError):  # the holder's name is informative only
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info, sort_keys=True).encode(), 0)
        return True

    def release(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)  # closing the descriptor releases the flock

    def owner(self) -> dict:
        """Who holds (or last held) the lock, as written in the file; {} when unknown."""
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_path(results_dir: str | Path, key: str) -> Path:
    return Path(results_dir) / CLAIMS / f"{key}.lock"


def busy(results_dir: str | Path, key: str) -> bool:
    """Whether another process holds the claim of ``key`` right now (a probe: it may change
    at once; :func:`claim_key` is what decides)."""
    lock = FileLock(claim_path(results_dir, key))
    if not claim_path(results_dir, key).exists():
        return False
    if lock.acquire(wait=False):
        lock.release()
        return False
    return True


def describe(owner: dict) -> str:
    if not owner:
        return "another process"
    return (f"run {owner.get('run_id', '?')} (process {owner.get('pid', '?')} on "
            f"{owner.get('host', '?')})")


@contextlib.contextmanager
def claim_key(results_dir: str | Path, key: str, run_id: str,
              log: Callable[[str], None] | None = None) -> Iterator[FileLock]:
    """Hold the claim of result ``key`` in ``results_dir`` for the block: the one process that
    may compute it. When another process holds it, say so through ``log`` and wait until it
    is released (that process ended the trial, or died)."""
    lock = FileLock(claim_path(results_dir, key), {"run_id": run_id, "key": key})
    if not lock.acquire(wait=False):
        if log is not None:
            log(f"waiting: {describe(lock.owner())} is computing this result")
        lock.acquire(wait=True)
    try:
        yield lock
    finally:
        lock.release()
