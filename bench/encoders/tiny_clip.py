"""The bundled small CLIP: an open_clip model from a custom config, trained by the project.

``assets/cmh-tiny-clip.json`` is an ordinary open_clip model config (a tiny ViT for 64x64
images, patch 8; a 3-layer text transformer with the CLIP BPE tokenizer that ships with
open_clip, context 32 tokens). ``assets/cmh-tiny-clip.safetensors`` holds its fp16 weights,
trained by ``python -m bench train-clip`` on generated scenes disjoint from the benchmark's;
``assets/cmh-tiny-clip.training.json`` records how (data, epochs, time, held-out recall).
"""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any

MODEL_NAME = "cmh-tiny-clip"
ASSETS = Path(__file__).resolve().parent / "assets"
CONFIG_FILE = ASSETS / f"{MODEL_NAME}.json"
CHECKPOINT = ASSETS / f"{MODEL_NAME}.safetensors"
TRAINING_RECORD = ASSETS / f"{MODEL_NAME}.training.json"


def config() -> dict[str, Any]:
    """The model config (embed_dim, vision_cfg, text_cfg)."""
    return json.loads(CONFIG_FILE.read_text())


def register(open_clip: ModuleType, config_file: Path = CONFIG_FILE) -> str:
    """Make ``config_file`` known to open_clip under its stem; returns the model name."""
    name = Path(config_file).stem
    if name not in open_clip.list_models():
        open_clip.add_model_config(Path(config_file))
    return name
