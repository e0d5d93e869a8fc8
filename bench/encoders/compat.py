"""Importing open_clip on a CPU torch whose torchvision wheel was built for CUDA torch.

PyPI's torchvision wheel may carry compiled ops built against another torch; then ``import
torchvision`` (and so ``import open_clip``) fails with ``RuntimeError: operator torchvision::nms
does not exist``. The remedy: drop the half-imported ``torchvision*`` modules, define the schemas
of the two ops its Python code registers fakes for (``nms``, ``qnms``) in a library kept alive
for the process, and import again. Transforms and models then work; only the compiled ops stay
unavailable. It runs only when the plain import fails, so it is a no-op where torch and
torchvision match. Every open_clip import in the project goes through :func:`import_open_clip`.
"""

from __future__ import annotations

import sys
import threading
from types import ModuleType
from typing import Any

_LOCK = threading.Lock()
_LIBRARY: Any = None  #: the torch.library.Library holding the op schemas, alive for the process
_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)


def _drop_torchvision() -> None:
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]


def _define_schemas() -> None:
    global _LIBRARY
    import torch

    if _LIBRARY is None:
        _LIBRARY = torch.library.Library("torchvision", "DEF")  # noqa: TOR901 - kept alive
        for schema in _SCHEMAS:
            _LIBRARY.define(schema)


def missing_open_clip() -> str | None:
    """A one-line remedy when open_clip or torchvision is not installed, else None."""
    import importlib.util

    for module, package in (("open_clip", "open_clip_torch"), ("torchvision", "torchvision")):
        if importlib.util.find_spec(module) is None:
            return (f"the frozen encoder needs {package} (a core dependency of cmh-bench, "
                    f"missing here): reinstall with `pip install -e .` or `pip install {package}`")
    return None


def import_torchvision() -> ModuleType:
    """``torchvision``, applying the remedy above only if the plain import fails."""
    problem = missing_open_clip()
    if problem:
        from bench.errors import BenchError

        raise BenchError(problem)
    with _LOCK:
        try:
            import torchvision
        except RuntimeError as exc:
            if "torchvision::nms" not in str(exc):
                raise
            _drop_torchvision()
            _define_schemas()
            import torchvision
        return torchvision


def import_open_clip() -> ModuleType:
    """``open_clip``, importing torchvision through :func:`import_torchvision` first."""
    if "open_clip" in sys.modules:
        return sys.modules["open_clip"]
    import_torchvision()
    with _LOCK:
        try:
            import open_clip
        except RuntimeError as exc:  # open_clip imported before torchvision was fixed
            if "torchvision::nms" not in str(exc):
                raise
            for name in [m for m in sys.modules if m.startswith("open_clip")]:
                del sys.modules[name]
            _drop_torchvision()
            _define_schemas()
            import open_clip
    return open_clip
