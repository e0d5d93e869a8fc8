"""Search spaces: what ``bench tune`` lets Optuna choose for a method.

A method declares its space in ``MethodSpec.search_space`` as plain data, one entry per
hyperparameter::

    {"type": "uniform",    "low": 0.0,  "high": 1.0}
    {"type": "loguniform", "low": 1e-5, "high": 1e-3}
    {"type": "int",        "low": 1,    "high": 64, "log": False}
    {"type": "choice",     "values": ["elbow", 2, 4, 8]}

``bench tune --space METHOD.PARAM=SPEC`` replaces (or adds) one entry from the command line,
``SPEC`` being ``uniform:LOW:HIGH``, ``loguniform:LOW:HIGH``, ``int:LOW:HIGH``,
``logint:LOW:HIGH``, ``choice:A,B,...`` (values read as YAML scalars) or ``off`` (leave the
parameter at its default). Every dimension is checked against the parameter's declared type and
range (:mod:`bench.params`): a float range for an integer parameter, a range reaching outside
the accepted values, or a choice the parameter refuses is a one-line error. Structural axes
(bits, budget, seed) are never searched.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bench.errors import BenchError, suggest
from bench.params import canonical_value, check_param, parse_rule, rule_of

if TYPE_CHECKING:
    from bench.plugins import MethodSpec

KINDS = ("uniform", "loguniform", "int", "logint", "choice")
#: what a command-line SPEC looks like (for error messages)
SPEC_SYNTAX = ("uniform:LOW:HIGH, loguniform:LOW:HIGH, int:LOW:HIGH, logint:LOW:HIGH, "
               "choice:A,B,... or off")


@dataclass(frozen=True)
class Dimension:
    """One searched hyperparameter: a numeric range or a list of choices."""

    name: str
    kind: str  #: one of KINDS
    low: float | int | None = None
    high: float | int | None = None
    values: tuple[Any, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """The ``MethodSpec.search_space`` form."""
        if self.kind == "choice":
            return {"type": "choice", "values": list(self.values)}
        if self.kind in ("int", "logint"):
            return {"type": "int", "low": self.low, "high": self.high,
                    "log": self.kind == "logint"}
        return {"type": self.kind, "low": self.low, "high": self.high}

    def describe(self) -> str:
        """The command-line SPEC form, e.g. ``loguniform:0.05:1``."""
        if self.kind == "choice":
            return "choice:" + ",".join(_text(v) for v in self.values)
        return f"{self.kind}:{self.low:g}:{self.high:g}"

    def distribution(self) -> Any:
        """The Optuna distribution."""
        from optuna.distributions import (
            CategoricalDistribution,
            FloatDistribution,
            IntDistribution,
        )

        if self.kind == "choice":
            return CategoricalDistribution(list(self.values))
        if self.kind in ("int", "logint"):
            return IntDistribution(int(self.low), int(self.high), log=self.kind == "logint")
        return FloatDistribution(float(self.low), float(self.high),
                                 log=self.kind == "loguniform")


def _text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"{value:g}" if isinstance(value, float) else str(value)


def _number(value: Any, what: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{what} must be a number, got {value!r}")
    return value


def from_entry(name: str, entry: Mapping[str, Any]) -> Dimension:
    """A dimension from its ``MethodSpec.search_space`` entry (ValueError when malformed)."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"{name}: a search-space entry is a mapping with a 'type'")
    kind = entry.get("type")
    if kind == "int" and entry.get("log"):
        kind = "logint"
    if kind not in KINDS:
        raise ValueError(f"{name}: unknown distribution {entry.get('type')!r} (known: uniform, "
                         "loguniform, int, choice)")
    if kind == "choice":
        values = entry.get("values")
        if not isinstance(values, (list, tuple)) or not values:
            raise ValueError(f"{name}: a choice needs a non-empty list of values")
        for v in values:
            if not (v is None or isinstance(v, (bool, int, float, str))):
                raise ValueError(f"{name}: choice values must be numbers, strings, booleans or "
                                 f"null, got {v!r}")
        return Dimension(name, "choice", values=tuple(values))
    low = _number(entry.get("low"), f"{name}: low")
    high = _number(entry.get("high"), f"{name}: high")
    if kind in ("int", "logint"):
        if not (float(low).is_integer() and float(high).is_integer()):
            raise ValueError(f"{name}: an int range needs integer ends, got {low}:{high}")
        low, high = int(low), int(high)
    else:
        low, high = float(low), float(high)
    if not low < high:
        raise ValueError(f"{name}: the range needs low < high, got {low:g}:{high:g}")
    if kind in ("loguniform", "logint") and low <= 0:
        raise ValueError(f"{name}: a log range needs low > 0, got {low:g}")
    return Dimension(name, kind, low=low, high=high)


def parse_spec(name: str, text: str) -> Dimension | None:
    """A dimension from a command-line SPEC (None for ``off``); a one-line BenchError.
    ``name`` is ``METHOD.PARAM``; the dimension is named ``PARAM``."""
    import yaml

    text = text.strip()
    if text == "off":
        return None
    kind, sep, rest = text.partition(":")
    if not sep or kind not in KINDS:
        raise BenchError(f"--space {name}={text}: unknown distribution {kind!r}"
                         f"{suggest(kind, KINDS)} (use {SPEC_SYNTAX})")
    try:
        if kind == "choice":
            values = [yaml.safe_load(v) for v in rest.split(",")] if rest.strip() else []
            dim = from_entry(name, {"type": "choice", "values": values})
        else:
            parts = rest.split(":")
            if len(parts) != 2:
                raise ValueError(f"{kind} takes LOW:HIGH, got {rest!r}")
            low, high = (_as_number(yaml.safe_load(p)) for p in parts)
            dim = from_entry(name, {"type": "int" if kind == "logint" else kind, "low": low,
                                    "high": high, "log": kind == "logint"})
    except (ValueError, yaml.YAMLError) as exc:
        raise BenchError(f"--space {name}={text}: {_strip(str(exc), name)}") from None
    return Dimension(name.rpartition(".")[2], dim.kind, dim.low, dim.high, dim.values)


def _as_number(value: Any) -> Any:
    if isinstance(value, str):  # YAML reads 1e-4 as a string
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _strip(message: str, name: str) -> str:
    return message.removeprefix(f"{name}: ")


def check_dimension(spec: MethodSpec, dim: Dimension, source: str = "--space") -> Dimension:
    """``dim`` with canonical values, after checking that every value it can produce is a
    value parameter ``dim.name`` of ``spec`` accepts; a one-line BenchError otherwise."""
    where = f"{source} {spec.name}.{dim.name}={dim.describe()}"
    _known(spec, dim.name, where)
    rule = rule_of(spec, dim.name)
    if dim.kind == "choice":
        values = tuple(check_param(spec, dim.name, v, source=source) for v in dim.values)
        if len({repr(v) for v in values}) != len(values):
            raise BenchError(f"{where}: a value is listed twice")
        return Dimension(dim.name, "choice", values=values)
    wanted = " or ".join(a.describe() for a in parse_rule(rule))
    integer = dim.kind in ("int", "logint")
    probes = ([dim.low, dim.high, (dim.low + dim.high) // 2] if integer
              else [dim.low + 0.1234 * (dim.high - dim.low), dim.low, dim.high])
    for x in probes:
        ok, canon = canonical_value(rule, x)
        if not ok or (not integer and not isinstance(canon, float)):
            raise BenchError(f"{where}: this range produces values such as {x!r} that "
                             f"parameter {dim.name!r} does not accept (it must be {wanted})")
    return dim


def _known(spec: MethodSpec, name: str, where: str) -> None:
    if name not in spec.defaults:
        raise BenchError(f"{where}: method {spec.name!r} has no hyperparameter {name!r}"
                         f"{suggest(name, spec.defaults)} (it has: "
                         f"{', '.join(sorted(spec.defaults)) or 'none'})")


def spec_space(spec: MethodSpec) -> dict[str, Dimension]:
    """The method's declared space, checked (a ValueError names a malformed entry)."""
    out = {}
    for name, entry in spec.search_space.items():
        dim = from_entry(name, entry)
        try:
            out[name] = check_dimension(spec, dim, source="search_space")
        except BenchError as exc:
            raise ValueError(f"method {spec.name!r}: {exc}") from None
    return out


def method_space(spec: MethodSpec, overrides: Mapping[str, str],
                 fixed: Sequence[str] = ()) -> dict[str, Dimension]:
    """The space searched for ``spec``: its declared space, then the ``--space`` overrides
    (``param -> SPEC``), minus the parameters ``fixed`` by ``--set``. A one-line BenchError
    for a bad override, an override of a fixed parameter, or an empty space."""
    try:
        space = spec_space(spec)
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    for name, text in overrides.items():
        if name in fixed:
            raise BenchError(f"--space {spec.name}.{name}: the parameter is also fixed by --set; "
                             "give one or the other")
        dim = parse_spec(f"{spec.name}.{name}", text)
        if dim is None:
            _known(spec, name, f"--space {spec.name}.{name}=off")
            space.pop(name, None)
            continue
        space[name] = check_dimension(spec, dim)
    for name in fixed:
        space.pop(name, None)
    if not space:
        raise BenchError(f"method {spec.name!r} has no search space{' left' if fixed else ''}; "
                         f"give one with --space {spec.name}.PARAM=SPEC (SPEC: {SPEC_SYNTAX}); "
                         f"its hyperparameters: {', '.join(sorted(spec.defaults)) or 'none'}")
    return dict(sorted(space.items()))


def parse_space_args(items: Sequence[str] | None,
                     methods: Sequence[str]) -> dict[str, dict[str, str]]:
    """``--space METHOD.PARAM=SPEC`` items -> {method: {param: SPEC}}; one-line BenchErrors for
    the syntax and for methods not in the command."""
    out: dict[str, dict[str, str]] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        method, dot, param = key.strip().rpartition(".")
        if not sep or not dot or not method or not param or not text.strip():
            raise BenchError(f"--space expects METHOD.PARAM=SPEC (SPEC: {SPEC_SYNTAX}), "
                             f"got {item!r}")
        if method not in methods:
            raise BenchError(f"--space {key}: method {method!r} is not in --methods"
                             f"{suggest(method, methods)}")
        if param in out.get(method, {}):
            raise BenchError(f"--space {key} is given twice")
        out.setdefault(method, {})[param] = text.strip()
    return out


def fixed_params(spec: MethodSpec, overrides: Mapping[str, Any]) -> list[str]:
    """The parameters of ``spec`` that ``--set`` overrides fix (``param`` or ``method.param``)."""
    out = []
    for key in overrides:
        method, _, name = key.rpartition(".")
        if (not method or method == spec.name) and name in spec.defaults:
            out.append(name)
    return sorted(set(out))


def describe_space(space: Mapping[str, Dimension]) -> dict[str, str]:
    return {name: dim.describe() for name, dim in space.items()}
