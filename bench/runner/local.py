"""Running trial configs one by one in this process (``bench run --no-ray``: debugging, and
machines where Ray cannot start). A failing trial leaves its ``failed`` record and the next
one starts; only an interrupt (Ctrl-C) stops the run."""

from __future__ import annotations

import errno
from collections.abc import Callable, Sequence

from bench.schema import TrialConfig


def run_in_process(configs: Sequence[TrialConfig],
                   log: Callable[[str], None] = print) -> dict[str, str | None]:
    """{key: None if it finished, else the error's first line}. The next trial is the first
    whose key no other driver is computing at this moment (a busy key's trial waits for that
    driver, see :func:`bench.runner.trial.run_trial`), so two drivers sharing a results folder
    work on different keys meanwhile."""
    from bench.locks import busy
    from bench.runner.trial import run_trial
    from bench.tracking import first_line

    out: dict[str, str | None] = {}
    pending = list(configs)
    for i in range(1, len(pending) + 1):
        cfg = next((c for c in pending if not busy(c.results_dir, c.key)), pending[0])
        pending.remove(cfg)
        log(f"bench: [{i}/{len(configs)}] {cfg.key}")
        try:
            run_trial(cfg)
            out[cfg.key] = None
        except Exception as exc:  # noqa: BLE001 - recorded by the trial; the run goes on
            if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                raise  # a full disk stops the run (bench.cli.app says it in one line)
            out[cfg.key] = first_line(exc)
            log(f"bench: [{i}/{len(configs)}] {cfg.key} failed: {out[cfg.key]}")
    return out
