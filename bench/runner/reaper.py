"""A watchdog that stops what a driver's own Ray instance leaves behind when the driver dies.

``ray.init()`` without an address starts a local instance whose direct children (GCS, raylet,
...) die with the driver, but whose dashboard and runtime-env agents (children of the raylet)
outlive a driver killed by SIGKILL or SIGTERM. :func:`watch_local_instance` starts this module
as a separate process (its own session) that, every second, notes the instance's processes
(the instance's own processes and all their descendants, with their start times). When the
driver is gone - its end of the watchdog's stdin closes, whatever killed it - the watchdog
waits a few seconds for Ray's own shutdown and then SIGKILLs every noted process still alive
with the same start time. Processes are identified by pid and start time, never by name, and
nothing outside the instance is touched.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

GRACE_S = 3.0
POLL_S = 1.0


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent pid, start time in clock ticks) of a live, non-zombie process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2:].split()
    if fields[0] == "Z":
        return None
    return int(fields[1]), int(fields[19])


def descendants(roots: set[int]) -> dict[int, int]:
    """{pid: start time} of ``roots`` and every process below them."""
    children: dict[int, list[int]] = {}
    info: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            st = _stat(int(entry.name))
            if st is not None:
                info[int(entry.name)] = st
                children.setdefault(st[0], []).append(int(entry.name))
    out: dict[int, int] = {}
    todo = [p for p in roots if p in info]
    while todo:
        pid = todo.pop()
        if pid in out:
            continue
        out[pid] = info[pid][1]
        todo.extend(children.get(pid, []))
    return out


def kill_survivors(noted: dict[int, int], me: int) -> list[int]:
    killed = []
    for pid, started in noted.items():
        st = _stat(pid)
        if pid != me and st is not None and st[1] == started:
            try:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            except OSError:
                pass
    return killed


def watch_local_instance() -> subprocess.Popen | None:
    """Start the watchdog for this process's local Ray instance (Linux only; else None)."""
    if not sys.platform.startswith("linux"):
        return None
    import ray

    node = getattr(ray._private.worker, "_global_node", None)
    procs = getattr(node, "all_processes", None) or {}
    roots = [str(info.process.pid) for infos in procs.values() for info in infos
             if getattr(info, "process", None) is not None]
    if not roots:
        return None
    proc = subprocess.Popen([sys.executable, "-m", "bench.runner.reaper", *roots],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    _keep.append(proc)  # its stdin closes only when this process ends
    return proc


_keep: list[subprocess.Popen] = []


def main(argv: list[str]) -> int:
    roots = {int(a) for a in argv}
    me = os.getpid()
    noted: dict[int, int] = {}
    while True:
        noted.update(descendants(roots | set(noted)))
        ready, _, _ = select.select([sys.stdin], [], [], POLL_S)
        if ready and not os.read(sys.stdin.fileno(), 1024):
            break  # the driver is gone
    time.sleep(GRACE_S)
    kill_survivors(noted, me)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
