"""Named training schedules: ``reference`` (the paper's), ``quick`` (the generated default data,
minutes on a CPU) and ``auto`` (``quick`` on generated datasets, else ``reference``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: Schedule keys a method's parameters can override one by one.
SCHEDULE_KEYS = ("epochs", "batch_size", "eval_batch_size", "max_train")


def is_generated_dataset(name: str) -> bool:
    """True for datasets that need no user files (the generated default data)."""
    if not name:
        return False
    try:
        from bench import registry

        return not registry.datasets.get(name).needs_root
    except Exception:
        return False


def resolve_schedule(params: Mapping[str, Any], dataset: str,
                     schedules: Mapping[str, Mapping[str, Any]],
                     method: str) -> dict[str, Any]:
    """Epochs, batch sizes and the training-set cap of the named schedule
    (``params["schedule"]``; ``auto``: ``quick`` on generated data, else ``reference``), with
    explicit ``epochs``/``batch_size``/``eval_batch_size``/``max_train`` overriding it
    (``max_train`` 0 or None: every training pair)."""
    name = str(params.get("schedule", "auto"))
    if name == "auto":
        name = "quick" if is_generated_dataset(dataset) else "reference"
    if name not in schedules:
        raise ValueError(f"{method}: schedule must be auto, {', '.join(schedules)}; "
                         f"got {name!r}")
    out: dict[str, Any] = {"schedule": name, **schedules[name]}
    for key in SCHEDULE_KEYS:
        if params.get(key) is not None:
            out[key] = int(params[key])
    return out
