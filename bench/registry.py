"""Lazy, strict plugin registry.

Built-in plugins are found by scanning the plugin folders (``methods/``, ``datasets/``: every
module-level spec in a folder's ``__init__``), not from a hand-kept list; third-party packages
add theirs through the entry-point groups ``bench.methods`` and ``bench.datasets``. Plugin
implementations are imported only when a trial runs, and spec modules import nothing heavy, so
listing never loads torch.
Duplicate names fail, unknown names fail with a "did you mean" suggestion.

A name becomes folder and file names of the results folder, so every name must match
:data:`bench.files.NAME_PATTERN` (``^[a-z0-9][a-z0-9._-]{0,63}$``: lower-case letters, digits,
``.``, ``_``, ``-``; at most 64 characters, no separator, no leading dot). A built-in or
run-time plugin with another name fails; a third-party entry point with one is refused with a
one-line warning naming it (the other plugins stay usable).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import re
import sys
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Generic, TypeVar

from bench.errors import PluginError, suggest
from bench.files import NAME_PATTERN
from bench.plugins import DatasetSpec, MethodSpec, load_object


def scan_builtins(package: str, spec_type: type) -> dict[str, str]:
    """Name -> "module:ATTR" of every spec defined in the plugin folders of ``package``
    (``bench.methods`` or ``bench.datasets``), found by scanning the folders, not from a list.

    Each plugin folder's ``__init__`` defines its spec(s) at module level and imports nothing
    heavy, so scanning costs milliseconds. A folder that fails to import, or two specs with one
    name, is a ``PluginError`` naming the folder.
    """
    root = importlib.import_module(package)
    found: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(root.__path__), key=lambda i: i.name):
        if not info.ispkg:
            continue
        module_name = f"{package}.{info.name}"
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - a broken plugin folder, named in one line
            raise PluginError(f"plugin folder {module_name} cannot be imported: "
                              f"{type(exc).__name__}: {exc}") from exc
        for attr, value in sorted(vars(module).items()):
            if isinstance(value, spec_type) and not attr.startswith("_"):
                location = f"{module_name}:{attr}"
                check_name(spec_type.__name__, value.name, location)
                if value.name in found and found[value.name] != location:
                    raise PluginError(f"duplicate {spec_type.__name__} name {value.name!r}: "
                                      f"{found[value.name]} and {location}")
                found[value.name] = location
    return found


def valid_name(name: object) -> bool:
    return isinstance(name, str) and re.fullmatch(NAME_PATTERN, name) is not None


def check_name(kind: str, name: object, location: str) -> None:
    """A one-line PluginError naming the plugin unless ``name`` matches NAME_PATTERN."""
    if not valid_name(name):
        raise PluginError(f"{kind} plugin {name!r} ({location}): a plugin name must match "
                          f"{NAME_PATTERN} (it becomes a folder name of the results)")


S = TypeVar("S", MethodSpec, DatasetSpec)


class Registry(Generic[S]):
    """Name -> "module:attr" locations, resolved to specs on first use."""

    def __init__(self, kind: str, spec_type: type[S], builtins: dict[str, str] | str,
                 group: str):
        """``builtins``: name -> "module:attr", or a plugin package to scan (lazily)."""
        self.kind, self.spec_type, self.group = kind, spec_type, group
        self._locations: dict[str, str] | None = None
        self._builtins = builtins
        self._specs: dict[str, S] = {}
        self._added: dict[str, str] = {}  #: registered at run time

    def _discover(self) -> dict[str, str]:
        if self._locations is None:
            found = (scan_builtins(self._builtins, self.spec_type)
                     if isinstance(self._builtins, str) else dict(self._builtins))
            for ep in entry_points(group=self.group):
                if not valid_name(ep.name):
                    dist = getattr(ep.dist, "name", None) or "an unknown distribution"
                    print(f"bench: warning: ignoring {self.kind} plugin {ep.name!r} = {ep.value} "
                          f"(entry point of {dist}): a plugin name must match {NAME_PATTERN}",
                          file=sys.stderr)
                    continue
                if ep.name in found and found[ep.name] != ep.value:
                    raise PluginError(
                        f"duplicate {self.kind} name {ep.name!r}: {found[ep.name]} and {ep.value}"
                    )
                found[ep.name] = ep.value
            self._locations = found
        return self._locations

    def register(self, name: str, location: str) -> None:
        """Add a plugin at run time (tests, notebooks). Duplicate names fail."""
        check_name(self.kind, name, location)
        found = self._discover()
        if name in found:
            raise PluginError(f"duplicate {self.kind} name {name!r}: already {found[name]}")
        found[name] = location
        self._added[name] = location

    def portable(self) -> dict[str, Any]:
        """The plugins registered at run time, for another process (a Ray worker): their
        locations and the import roots of their modules."""
        roots = []
        for location in self._added.values():
            module = location.partition(":")[0]
            spec = importlib.util.find_spec(module)
            if spec is not None and spec.origin:
                root = Path(spec.origin).parent
                for _ in range(module.count(".") + (spec.origin.endswith("__init__.py"))):
                    root = root.parent
                roots.append(str(root))
        return {"locations": dict(self._added), "paths": sorted(set(roots))}

    def adopt(self, portable: Mapping[str, Any]) -> None:
        """Register what :meth:`portable` gave in another process (known names are kept)."""
        for path in portable.get("paths") or ():
            if path not in sys.path:
                sys.path.append(path)
        found = self._discover()
        for name, location in (portable.get("locations") or {}).items():
            if name not in found:
                self.register(name, location)

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


methods: Registry[MethodSpec] = Registry("method", MethodSpec, "bench.methods", "bench.methods")
datasets: Registry[DatasetSpec] = Registry("dataset", DatasetSpec, "bench.datasets",
                                           "bench.datasets")
