"""Hyperparameter values: checked against their declared type and range, then canonicalised.

A method's parameter accepts the type of its default (``int``, ``float``, ``bool``, ``str``;
a default of None accepts anything) unless ``MethodSpec.param_types`` declares it, as
alternatives separated by ``|``:

* ``int``, ``float``, ``bool``, ``str``, ``null``, ``any``;
* a number with an inclusive ``[`` / exclusive ``(`` range, either end open:
  ``float[0,1]``, ``float(0,]``, ``int[1,]``;
* a quoted literal: ``'auto'``.

Example: ``"max_train": "int[1,]|'auto'|null"``. Canonical values make equal settings hash
equally: an ``int`` given for a ``float`` parameter becomes a float (``tau=1`` is ``tau=1.0``),
an integral float given for an ``int``-only parameter becomes an int, and numeric strings (YAML
reads ``1e-4`` as a string) become numbers.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from bench.errors import BenchError

if TYPE_CHECKING:
    from bench.plugins import MethodSpec

_RANGE = re.compile(r"^(int|float)\s*([\[(])\s*([^,]*?)\s*,\s*([^\])]*?)\s*([\])])$")
_SIMPLE = ("int", "float", "bool", "str", "null", "any")


@dataclass(frozen=True)
class Alternative:
    kind: str  #: int | float | bool | str | null | any | literal
    literal: str | None = None
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False

    def describe(self) -> str:
        if self.kind == "literal":
            return repr(self.literal)
        if self.low is None and self.high is None:
            return self.kind
        parts = []
        if self.low is not None:
            parts.append(f"{'>' if self.low_open else '>='} {self.low:g}")
        if self.high is not None:
            parts.append(f"{'<' if self.high_open else '<='} {self.high:g}")
        return f"{self.kind} {' and '.join(parts)}"

    def in_range(self, x: float) -> bool:
        if self.low is not None and (x <= self.low if self.low_open else x < self.low):
            return False
        return not (self.high is not None and (x >= self.high if self.high_open else x > self.high))


@lru_cache(maxsize=512)
def parse_rule(rule: str) -> tuple[Alternative, ...]:
    """The alternatives of a ``param_types`` rule; ValueError for a malformed rule."""
    out = []
    for part in (p.strip() for p in rule.split("|")):
        if part in _SIMPLE:
            out.append(Alternative(part))
        elif len(part) >= 2 and part[0] == part[-1] and part[0] in "'\"":
            out.append(Alternative("literal", literal=part[1:-1]))
        elif m := _RANGE.match(part):
            kind, lo_b, lo, hi, hi_b = m.groups()
            out.append(Alternative(kind, low=float(lo) if lo else None,
                                   high=float(hi) if hi else None,
                                   low_open=lo_b == "(", high_open=hi_b == ")"))
        else:
            raise ValueError(f"bad parameter type {part!r} in {rule!r} (use int, float, bool, "
                             "str, null, any, 'literal', or a range such as float[0,1])")
    return tuple(out)


def rule_of(spec: MethodSpec, name: str) -> str:
    """The declared rule of parameter ``name``, else the one implied by its default."""
    declared = dict(spec.param_types).get(name)
    if declared:
        return declared
    default = dict(spec.defaults).get(name)
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    return "any"


def _number(value: Any) -> float | int | None:
    """``value`` as a number when it is one (not a bool) or a numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            try:
                return float(value)
            except ValueError:
                return None
    return None


def _match(alt: Alternative, value: Any, exact: bool) -> tuple[bool, Any]:
    """(matched, canonical value) of ``value`` under one alternative; ``exact`` refuses
    conversions (the first pass, so an alternative of the value's own type wins)."""
    if alt.kind == "any":
        return True, value
    if alt.kind == "null":
        return value is None, None
    if alt.kind == "literal":
        return isinstance(value, str) and value == alt.literal, value
    if alt.kind == "bool":
        return isinstance(value, bool), value
    if alt.kind == "str":
        return isinstance(value, str), value
    x = value if exact else _number(value)
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return False, None
    if alt.kind == "int":
        if isinstance(x, float):
            if exact or not (math.isfinite(x) and x.is_integer()):
                return False, None
            x = int(x)
        return alt.in_range(x), x
    if exact and not isinstance(x, float):
        return False, None
    x = float(x)
    return (math.isfinite(x) or alt.high is None) and alt.in_range(x), x


def canonical_value(rule: str, value: Any) -> tuple[bool, Any]:
    """(accepted, canonical value) of ``value`` under ``rule``."""
    alts = parse_rule(rule)
    for exact in (True, False):
        for alt in alts:
            ok, canon = _match(alt, value, exact)
            if ok:
                return True, canon
    return False, None


def check_param(spec: MethodSpec, name: str, value: Any, source: str = "--set") -> Any:
    """The canonical value of parameter ``name`` of ``spec``; a one-line BenchError if the
    value has the wrong type or lies outside the declared range."""
    rule = rule_of(spec, name)
    ok, canon = canonical_value(rule, value)
    if not ok:
        wanted = " or ".join(a.describe() for a in parse_rule(rule))
        raise BenchError(f"{source} {spec.name}.{name}={value!r}: method {spec.name!r} "
                         f"parameter {name!r} must be {wanted}")
    return canon


def method_params(spec: MethodSpec, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults of ``spec`` updated with the overrides that apply to it (``param`` for every
    method that has it, ``method.param`` for one), every value checked and canonical."""
    params = {}
    for name, default in spec.defaults.items():
        ok, canon = canonical_value(rule_of(spec, name), default)
        params[name] = canon if ok else default
    for key, value in overrides.items():
        method, _, name = key.rpartition(".")
        if method and method != spec.name:
            continue
        if name in params:
            params[name] = check_param(spec, name, value)
        elif method:
            raise BenchError(f"method {spec.name!r} has no hyperparameter {name!r} "
                             f"(it has: {', '.join(sorted(params)) or 'none'})")
    return params


def check_defaults(spec: MethodSpec) -> None:
    """A ValueError naming the first default that breaks its own declared rule (run by the
    test suite over every registered method)."""
    unknown = set(spec.param_types) - set(spec.defaults)
    if unknown:
        raise ValueError(f"method {spec.name!r}: param_types names unknown parameters "
                         f"{sorted(unknown)}; declare only parameters that have a default")
    for name, value in spec.defaults.items():
        if not canonical_value(rule_of(spec, name), value)[0]:
            raise ValueError(f"method {spec.name!r}: default {name}={value!r} does not satisfy "
                             f"its param_types rule {rule_of(spec, name)!r}")
