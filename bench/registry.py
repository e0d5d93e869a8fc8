"""Lazy, strict plugin registry.

Built-in plugins are named here as "module:SPEC" strings; third-party packages add theirs through
the entry-point groups ``bench.methods`` and ``bench.datasets``. Nothing is imported until a
spec is asked for, and spec modules import nothing heavy, so listing never loads torch.
Duplicate names fail, unknown names fail with a "did you mean" suggestion.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Generic, TypeVar

from bench.errors import PluginError
from bench.plugins import DatasetSpec, MethodSpec, load_object

BUILTIN_METHODS = {
    "lsh": "bench.methods.lsh:SPEC",
    "cca-itq": "bench.methods.cca_itq:SPEC",
    "gnah": "bench.methods.gnah:SPEC",
    "prompthash": "bench.methods.prompthash:SPEC",
    "prompthash-clean": "bench.methods.prompthash:SPEC_CLEAN",
}
BUILTIN_DATASETS = {
    "synthetic-features": "bench.datasets.synthetic:SPEC",
    "synthetic-scenes": "bench.datasets.scenes:SPEC",
    "mirflickr25k": "bench.datasets.mirflickr25k:SPEC",
    "nus-wide-21": "bench.datasets.nuswide:SPEC_21",
    "nus-wide-tc10": "bench.datasets.nuswide:SPEC_TC10",
    "coco": "bench.datasets.coco:SPEC",
    "wiki": "bench.datasets.wiki:SPEC",
    "pascal-sentence": "bench.datasets.pascal_sentence:SPEC",
    "features": "bench.datasets.features:SPEC",
}

S = TypeVar("S", MethodSpec, DatasetSpec)


def suggest(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Registry(Generic[S]):
    """Name -> "module:attr" locations, resolved to specs on first use."""

    def __init__(self, kind: str, spec_type: type[S], builtins: dict[str, str], group: str):
        self.kind, self.spec_type, self.group = kind, spec_type, group
        self._locations: dict[str, str] | None = None
        self._builtins = dict(builtins)
        self._specs: dict[str, S] = {}

    def _discover(self) -> dict[str, str]:
        if self._locations is None:
            found = dict(self._builtins)
            for ep in entry_points(group=self.group):
                if ep.name in found and found[ep.name] != ep.value:
                    raise PluginError(
                        f"duplicate {self.kind} name {ep.name!r}: {found[ep.name]} and {ep.value}"
                    )
                found[ep.name] = ep.value
            self._locations = found
        return self._locations

    def register(self, name: str, location: str) -> None:
        """Add a plugin at run time (tests, notebooks). Duplicate names fail."""
        found = self._discover()
        if name in found:
            raise PluginError(f"duplicate {self.kind} name {name!r}: already {found[name]}")
        found[name] = location

    def names(self) -> list[str]:
        return sorted(self._discover())

    def get(self, name: str) -> S:
        found = self._discover()
        if name not in found:
            raise PluginError(f"unknown {self.kind} {name!r}{suggest(name, found)}; "
                              f"known: {', '.join(sorted(found))}")
        if name not in self._specs:
            try:
                spec = load_object(found[name])
            except (ImportError, AttributeError, ValueError) as exc:
                raise PluginError(
                    f"{self.kind} {name!r}: cannot load {found[name]}: {exc}") from exc
            if not isinstance(spec, self.spec_type):
                raise PluginError(
                    f"{self.kind} {name!r}: {found[name]} is not a {self.spec_type.__name__}")
            if spec.name != name:
                raise PluginError(f"{self.kind} {name!r}: its spec is named {spec.name!r}")
            self._specs[name] = spec
        return self._specs[name]

    def parse_list(self, text: str) -> list[str]:
        """Comma-separated names, checked; empty lists fail."""
        names = [n.strip() for n in text.split(",") if n.strip()]
        if not names:
            raise PluginError(f"no {self.kind} given")
        if len(set(names)) != len(names):
            raise PluginError(f"{self.kind} listed twice in {text!r}")
        for n in names:
            self.get(n)
        return names


methods: Registry[MethodSpec] = Registry("method", MethodSpec, BUILTIN_METHODS, "bench.methods")
datasets: Registry[DatasetSpec] = Registry(
    "dataset", DatasetSpec, BUILTIN_DATASETS, "bench.datasets"
)
