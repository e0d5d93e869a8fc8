"""Package list for setuptools, found by scanning the folders (metadata is in pyproject.toml).

The plugin folders ``methods/`` and ``datasets/`` are installed as ``bench.methods`` and
``bench.datasets`` (see ``package-dir`` in pyproject.toml), so that no top-level package named
``methods`` or ``datasets`` is ever installed. Every folder with an ``__init__.py`` under
``bench/`` and every plugin folder is a package; adding a plugin needs no edit here.
"""

from pathlib import Path

from setuptools import setup

ROOT = Path(__file__).resolve().parent


def _packages(folder: str, prefix: str) -> list[str]:
    base = ROOT / folder
    found = [prefix] if folder != "bench" or (base / "__init__.py").exists() else []
    for init in sorted(base.rglob("__init__.py")):
        rel = init.parent.relative_to(base)
        if rel.parts and "__pycache__" not in rel.parts:
            found.append(".".join((prefix, *rel.parts)))
    return found


setup(packages=_packages("bench", "bench") + _packages("methods", "bench.methods")
      + _packages("datasets", "bench.datasets"))
