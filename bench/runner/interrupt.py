"""Interrupting a driver run (Ctrl-C, SIGINT or SIGTERM): said as such, never as failures.

In a run through Ray Tune, the first signal asks Tune to stop every trial (a stopper,
:func:`bench.runner.tune.stop_on_signal`; Tune's own SIGINT handler is off) and the driver
returns from Tune; a second signal raises KeyboardInterrupt at once. In a ``--no-ray`` run
SIGINT and SIGTERM raise KeyboardInterrupt in the trial. Either way the driver marks its
manifest ``interrupted`` and its MLflow parent run KILLED, writes no ``failed`` record for a
trial that was cut off or never ran, and raises :class:`RunInterrupted`: the CLI prints one
line (what finished, how to resume) and exits with :data:`EXIT_CODE`. A rerun of the same
command finds the finished trials and computes only the missing ones.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator

EXIT_CODE = 130
SIGNALS = (signal.SIGINT, signal.SIGTERM)
_requested: list[str] = []  #: the signals received while a graceful stop is armed


class RunInterrupted(KeyboardInterrupt):  # noqa: N818 - a KeyboardInterrupt, said as such
    """A driver run stopped by a signal; ``str()`` is what the CLI shows after
    ``bench: interrupted``."""

    def __init__(self, signal_name: str, finished: int, total: int, before: int = 0):
        """``finished`` of this run's ``total`` trials; ``before``: finished before it."""
        self.signal_name, self.finished, self.total = signal_name, finished, total
        self.before = before
        super().__init__(self.line())

    def line(self) -> str:
        done, total = self.finished + self.before, self.total + self.before
        return (f"by {self.signal_name}: {done} of {total} trial(s) finished "
                f"({self.finished} in this run), their results are kept; rerun the same "
                f"command to resume: it computes only the {total - done} missing")


def requested() -> str | None:
    """The name of the signal that asked the armed run to stop, or None."""
    return _requested[0] if _requested else None


@contextlib.contextmanager
def on_signals(raise_at_once: bool) -> Iterator[Callable[[], str | None]]:
    """SIGINT and SIGTERM for the block: ``raise_at_once`` raises KeyboardInterrupt (a trial
    in this process stops where it is); otherwise the first signal is only noted
    (:func:`requested`, what the block gets) and a second one raises. Outside the main thread
    nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    _requested.clear()

    def handler(signum: int, frame: object) -> None:
        first = not _requested
        _requested.append(signal.Signals(signum).name)
        if raise_at_once or not first:
            raise KeyboardInterrupt

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield requested
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def signal_name(default: str = "SIGINT") -> str:
    return requested() or default
