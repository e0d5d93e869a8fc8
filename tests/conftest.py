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
