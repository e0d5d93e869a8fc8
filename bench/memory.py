"""Resident memory of this process (Linux ``/proc``; elsewhere the peak from ``getrusage``).

:func:`reset_peak` resets the kernel's RSS high-water mark (``/proc/self/clear_refs``, Linux >=
4.0), so that :func:`peak_mib` afterwards is the peak since the reset: the harness uses it to
give every step of a trial its own peak memory.
"""

from __future__ import annotations

import ctypes
import resource
import sys
from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_kib(field: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _rusage_peak_kib() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KiB elsewhere


def rss_mib() -> float | None:
    """Resident memory now (None where unknown)."""
    kib = _status_kib("VmRSS")
    return None if kib is None else kib / 1024


def peak_mib() -> float:
    """Peak resident memory since the last :func:`reset_peak` (or since the process began)."""
    kib = _status_kib("VmHWM")
    return (kib if kib is not None else _rusage_peak_kib()) / 1024


def reset_peak(trim: bool = False) -> bool:
    """Reset the peak to the current resident memory; ``trim`` first returns freed heap to the
    OS (glibc ``malloc_trim``) so that memory a later step reuses from the heap counts as its
    own. False where the peak cannot be reset (it then keeps counting from the process start)."""
    if trim:
        try:
            ctypes.CDLL("libc.so.6").malloc_trim(0)
        except (OSError, AttributeError):
            pass
    try:
        _CLEAR_REFS.write_text("5")
        return True
    except OSError:
        return False
