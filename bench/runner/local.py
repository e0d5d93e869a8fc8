"""Running trial configs one by one in this process (``bench run --no-ray``: debugging, and
machines where Ray cannot start). A failing trial leaves its ``failed`` record and the next
one starts; only an interrupt (Ctrl-C) stops the run."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bench.schema import TrialConfig


def run_in_process(configs: Sequence[TrialConfig],
                   log: Callable[[str], None] = print) -> dict[str, str | None]:
    """{key: None if it finished, else the error's first line}."""
    from bench.runner.trial import run_trial
    from bench.tracking import first_line

    out: dict[str, str | None] = {}
    for i, cfg in enumerate(configs, 1):
        log(f"bench: [{i}/{len(configs)}] {cfg.key}")
        try:
            run_trial(cfg)
            out[cfg.key] = None
        except Exception as exc:  # noqa: BLE001 - recorded by the trial; the run goes on
            out[cfg.key] = first_line(exc)
            log(f"bench: [{i}/{len(configs)}] {cfg.key} failed: {out[cfg.key]}")
    return out
