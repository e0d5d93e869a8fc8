"""The steps of a trial, timed: which step it is in (recorded when it fails, shown by the
progress view), how long each took, the process's peak resident memory during each, and the
time the harness itself spent inside a step (e.g. waiting for Ray Tune to take an epoch's
report), which the step's own time excludes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from bench.memory import peak_mib, reset_peak, rss_mib

#: the steps of a trial, in order (a search trial skips the last three)
STAGES = ("setup", "data", "features", "split", "fit", "encode", "validation", "evaluate",
          "store")


class StageClock:
    """``enter(name)`` ends the current step and starts ``name``; ``profile()`` returns
    ``{step: {"s", "peak_rss_mib", "start_rss_mib", "harness_s"}}`` of the finished ones.
    ``on_enter(name)`` is called at every step (the progress view)."""

    def __init__(self, on_enter: Callable[[str], None] | None = None):
        self.name = "setup"
        self._on_enter = on_enter or (lambda name: None)
        self._steps: dict[str, dict[str, float | None]] = {}
        self._t0 = time.perf_counter()
        self._rss0 = rss_mib()
        self._harness = 0.0
        reset_peak()

    def enter(self, name: str) -> None:
        self._close()
        self.name = name
        self._t0, self._harness = time.perf_counter(), 0.0
        reset_peak()
        self._rss0 = rss_mib()
        self._on_enter(name)

    def _close(self) -> None:
        spent = time.perf_counter() - self._t0
        prev = self._steps.get(self.name)
        step = {"s": spent - self._harness, "harness_s": self._harness,
                "peak_rss_mib": peak_mib(), "start_rss_mib": self._rss0}
        if prev is not None:  # a step entered twice adds up
            step = {"s": (prev["s"] or 0.0) + step["s"],
                    "harness_s": (prev["harness_s"] or 0.0) + step["harness_s"],
                    "peak_rss_mib": max(prev["peak_rss_mib"] or 0.0, step["peak_rss_mib"] or 0.0),
                    "start_rss_mib": prev["start_rss_mib"]}
        self._steps[self.name] = step

    def seconds(self, *names: str) -> float:
        """The own time of the finished steps ``names`` (harness time excluded)."""
        return float(sum(self._steps[n]["s"] or 0.0 for n in names if n in self._steps))

    def harness(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``fn`` whose time counts as the harness's, not the current step's."""
        def timed(*args: Any, **kwargs: Any) -> Any:
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._harness += time.perf_counter() - t

        return timed

    def profile(self) -> dict[str, dict[str, float | None]]:
        """Every finished step (the current one is closed first)."""
        self._close()
        self._t0, self._harness = time.perf_counter(), 0.0
        out = {}
        for name, step in self._steps.items():
            out[name] = {k: (None if v is None else round(float(v), 4 if k.endswith("_s")
                                                          or k == "s" else 1))
                         for k, v in step.items()}
        return out
