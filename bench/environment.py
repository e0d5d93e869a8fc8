"""What produced a result: harness version, git commit, library versions, host."""

from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import bench

PROJECT_ROOT = Path(bench.__file__).resolve().parent.parent


@lru_cache(maxsize=1)
def git_commit() -> str:
    """The project's commit (with ``-dirty`` when the tree has changes), or ``unknown``."""
    try:
        sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True,
                             text=True, timeout=5, check=True).stdout.strip()
        # --no-optional-locks: no index refresh, so a status killed by the timeout never
        # leaves a stale .git/index.lock behind in the user's checkout
        dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain",
                                "--untracked-files=no"],
                               cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=5)
        return sha + ("-dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _version(pkg: str) -> str | None:
    try:
        return version(pkg)
    except PackageNotFoundError:
        return None


def environment() -> dict[str, str | None]:
    return {
        "harness_version": bench.__version__,
        "git_commit": git_commit(),
        "python": platform.python_version(),
        "host": platform.node(),
        **{pkg: _version(pkg) for pkg in ("numpy", "torch", "ray", "mlflow", "optuna")},
    }
