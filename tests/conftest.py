"""Shared fixtures: offline mode, the shared real-data folder, small harness runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

#: A tiny open_clip CLIP config (random init; 32-pixel images, 24-token captions) for the tests
#: of the end-to-end methods, passed as ``clip_model`` (``from conftest import TINY_CLIP``).
TINY_CLIP = {"embed_dim": 48, "quick_gelu": True,
             "vision_cfg": {"image_size": 32, "patch_size": 16, "width": 32, "layers": 2,
                            "head_width": 16},
             "text_cfg": {"context_length": 24, "vocab_size": 49408, "width": 32, "heads": 2,
                          "layers": 2}}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"the shared real-data folder {SHARED_DATA} is absent on this machine")
    return SHARED_DATA


@pytest.fixture(scope="module")
def torch_one_thread():
    """One torch thread for a test module (the machines are shared; small models run faster
    without oversubscription); the previous count is restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session", autouse=True)
def _ray_shutdown():
    """One local Ray instance serves every test that needs it; stop it at the end."""
    yield
    try:
        import ray

        if ray.is_initialized():
            ray.shutdown()
    except ImportError:
        pass


def register_plugins(methods: dict[str, str] | None = None,
                     datasets: dict[str, str] | None = None) -> None:
    """Register test plugins (name -> "module:attr") with the registries, once per session."""
    from bench import registry

    for reg, entries in ((registry.methods, methods or {}), (registry.datasets, datasets or {})):
        for name, location in entries.items():
            if name not in reg.names():
                reg.register(name, location)


def toy_dataset_spec(name: str, entry: str, query: int, validation: int):
    """The spec of a small generated feature dataset with one preset ``p`` (test plugins)."""
    from bench.plugins import DatasetSpec, Preset

    return DatasetSpec(name=name, entry=entry, version="1",
                       provides=("image_features", "text_features", "labels"),
                       presets={"p": Preset("p", query=query, validation=validation, seed=0)},
                       default_preset="p", needs_root=False)


def single_label_dataset(name: str, y, image_features, text_features, n_classes: int):
    """A loaded dataset of single-label items (class ids ``y``) with the given features."""
    import numpy as np

    from bench.plugins import LoadedDataset, PairedData

    items = PairedData(index=np.arange(len(y)),
                       image_features=np.asarray(image_features, dtype=np.float32),
                       text_features=np.asarray(text_features, dtype=np.float32),
                       labels=np.eye(n_classes, dtype=np.uint8)[y])
    return LoadedDataset(name, items, [f"c{i}" for i in range(n_classes)])


def toy_method_spec(name: str, entry: str, defaults: dict | None = None,
                    multi_bit: bool = False):
    """The spec of an unsupervised test method reading image and text features."""
    from bench.plugins import MethodSpec

    return MethodSpec(name=name, entry=entry, version="1", supervision="unsupervised",
                      inputs=("image_features", "text_features"), multi_bit=multi_bit,
                      defaults=defaults or {}, reference={"paper": "none"})
