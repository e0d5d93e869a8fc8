"""Maps the top-level plugin folders ``methods/`` and ``datasets/`` to ``bench.methods`` and
``bench.datasets``.

The folders have no ``__init__.py`` on purpose: a top-level regular package named ``datasets``
would shadow Hugging Face's whenever the repository root is on ``sys.path`` (e.g. running
``python -m bench`` from it), whereas a namespace portion always loses to a regular package.
A wheel install copies them under ``bench/`` (see ``package-dir`` in pyproject.toml) and needs
nothing here; for editable installs and source checkouts, where no finder maps a namespace
folder to a dotted name, this registers the two namespace packages explicitly.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from pathlib import Path

PLUGIN_FOLDERS = ("methods", "datasets")


def map_plugin_folders(package: str, package_dir: Path) -> None:
    root = package_dir.resolve().parent
    for folder in PLUGIN_FOLDERS:
        name = f"{package}.{folder}"
        if name in sys.modules or (package_dir / folder).is_dir():
            continue
        if not (root / folder).is_dir() or not (root / "pyproject.toml").is_file():
            continue
        try:
            if importlib.util.find_spec(name) is not None:
                continue
        except ImportError:
            pass
        spec = importlib.machinery.ModuleSpec(name, None, is_package=True)
        spec.submodule_search_locations = [str(root / folder)]
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        setattr(sys.modules[package], folder, module)
