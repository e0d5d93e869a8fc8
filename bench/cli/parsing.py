"""Turning flag strings into values (syntax only; the driver checks ranges and names)."""

from __future__ import annotations

from typing import Any

from bench.errors import BenchError


def split_list(text: str) -> list[str]:
    return [p.strip() for p in text.split(",") if p.strip()]


def parse_ints(text: str, what: str, kind: str = "integers") -> list[int]:
    """Comma-separated integers; ``bench: error: <what> must be <kind>, got 'x'``."""
    parts = split_list(text)
    if not parts:
        raise BenchError(f"no {what} given")
    out = []
    for p in parts:
        try:
            out.append(int(p))
        except ValueError:
            raise BenchError(f"{what} must be {kind}, got {p!r}") from None
    return out


def parse_bits(text: str) -> list[int]:
    return parse_ints(text, "bits", "positive integers")


def parse_budgets(text: str) -> list[int | float | None]:
    from bench.splits import parse_budget

    return [parse_budget(b) for b in text.split(",")]


def parse_assignments(items: list[str] | None, what: str) -> dict[str, Any]:
    """``KEY=VALUE`` items, values read as YAML scalars (``1`` int, ``0.5`` float, ``true``)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BenchError(f"{what} expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[key.strip()] = value
    return out
