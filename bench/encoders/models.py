"""Choosing, loading and running a frozen open_clip encoder.

An encoder is ``bundled`` (the project's small CLIP, :mod:`bench.encoders.tiny_clip`) or any
open_clip model name with a *local* weights file (``--encoder ViT-B-32 --encoder-weights
openai.pt``; without ``--encoder-weights`` the file is looked up as
``$BENCH_WEIGHTS_DIR/<name>.safetensors``, default ``~/.cache/cmh-bench/weights``). open_clip
is only ever given a file path, never a pretrained *tag*, so nothing is downloaded and a missing
file is a one-line :class:`BenchError` naming it, at once.

An encoder's identity (name, architecture, weights SHA-256, preprocessing) defines its
features: it keys the feature cache and goes into every result key that uses them.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bench.encoders import tiny_clip
from bench.errors import BenchError

BUNDLED = "bundled"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
FEATURES_NORMALIZED = True  #: features are L2-normalised (part of the preprocessing identity)
#: open_clip's inference defaults for a config loaded with a weights *file* (PreprocessCfg);
#: used without importing open_clip for the bundled model (a test checks they still agree).
OPENCLIP_DEFAULTS = {"mean": (0.48145466, 0.4578275, 0.40821073),
                     "std": (0.26862954, 0.26130258, 0.27577711),
                     "interpolation": "bicubic", "resize_mode": "shortest"}
_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def weights_dir() -> Path:
    """Where weights of named open_clip models are looked up by default."""
    env = os.environ.get("BENCH_WEIGHTS_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "cmh-bench" / "weights"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, memoised per (path, size, mtime)."""
    st = Path(path).stat()
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
        _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


@dataclass(frozen=True)
class EncoderSpec:
    """A resolved encoder: what the user named, the open_clip architecture and the file."""

    name: str
    model: str
    weights: str
    preprocessing: dict[str, Any] = field(default_factory=dict, compare=False)
    weights_sha256: str = ""

    def identity(self) -> dict[str, Any]:
        """What defines this encoder's features (no paths: moving a file changes nothing)."""
        return {"name": self.name, "model": self.model, "weights_sha256": self.weights_sha256,
                "preprocessing": dict(self.preprocessing)}

    def as_config(self) -> dict[str, Any]:
        """JSON form for trial configs (``from_config`` reads it back)."""
        return {**self.identity(), "weights": self.weights}

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> EncoderSpec:
        return cls(name=cfg["name"], model=cfg["model"], weights=cfg["weights"],
                   preprocessing=dict(cfg.get("preprocessing") or {}),
                   weights_sha256=cfg.get("weights_sha256", ""))

    def label(self) -> str:
        return self.name if self.name == self.model else f"{self.name} ({self.model})"


def locate_weights(name: str, weights: str | os.PathLike | None = None) -> tuple[str, Path]:
    """(open_clip architecture, weights file) of encoder ``name``; fast, imports nothing.

    Raises a one-line BenchError naming the expected file when it is missing.
    """
    if name == BUNDLED:
        path = Path(weights).expanduser() if weights else tiny_clip.CHECKPOINT
        if weights and not path.is_file():
            raise BenchError(f"encoder weights file {path} does not exist (given with "
                             "--encoder-weights; weights are never downloaded)")
        if not path.is_file():
            raise BenchError(f"the bundled CLIP checkpoint {path} is missing "
                             "(recreate it with `python -m bench train-clip`)")
        return tiny_clip.MODEL_NAME, path.resolve()
    if weights:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise BenchError(f"encoder weights file {path} does not exist (open_clip model "
                             f"{name!r}; weights are never downloaded)")
        return name, path.resolve()
    base = weights_dir()
    for suffix in WEIGHT_SUFFIXES:
        candidate = base / f"{name}{suffix}"
        if candidate.is_file():
            return name, candidate.resolve()
    raise BenchError(f"no weights for encoder {name!r}: expected {base / (name + '.safetensors')} "
                     f"(or .bin/.pt); pass --encoder-weights FILE (weights are never downloaded)")


def resolve_encoder(name: str = BUNDLED, weights: str | os.PathLike | None = None,
                    check_model: bool = True) -> EncoderSpec:
    """The full identity of an encoder: weights located and hashed, preprocessing known.

    With ``check_model`` the architecture name is checked against open_clip's configs (this
    imports open_clip); unknown names fail with a suggestion.
    """
    model, path = locate_weights(name, weights)
    pre: dict[str, Any] = {}
    if model == tiny_clip.MODEL_NAME:  # known config: no need to import open_clip
        pre = preprocessing_of(tiny_clip.config())
    elif check_model:
        oc = _open_clip()
        cfg = oc.get_model_config(model)
        if cfg is None:
            from bench.errors import suggest

            raise BenchError(f"unknown open_clip model {model!r}"
                             f"{suggest(model, oc.list_models())}")
        pre = preprocessing_of(cfg)
    return EncoderSpec(name=name, model=model, weights=str(path), preprocessing=pre,
                       weights_sha256=file_sha256(path))


def _open_clip():
    from bench.encoders.compat import import_open_clip

    oc = import_open_clip()
    tiny_clip.register(oc)
    return oc


def preprocessing_of(cfg: dict[str, Any]) -> dict[str, Any]:
    """The inference preprocessing open_clip applies for a model config loaded from a file."""
    size = cfg["vision_cfg"].get("image_size", 224)
    text = cfg.get("text_cfg", {})
    d = OPENCLIP_DEFAULTS
    return {
        "image_size": size, "mean": list(d["mean"]), "std": list(d["std"]),
        "interpolation": d["interpolation"], "resize_mode": d["resize_mode"],
        "context_length": text.get("context_length", 77),
        "tokenizer": text.get("hf_tokenizer_name") or "clip-bpe",
        "normalized": FEATURES_NORMALIZED,
    }


@dataclass
class LoadedEncoder:
    """A model in eval mode with its inference transform and tokenizer."""

    spec: EncoderSpec
    model: Any
    preprocess: Callable[[Any], Any]
    tokenizer: Callable[..., Any]
    device: str = "cpu"


def get_transforms(name: str = BUNDLED, weights: str | os.PathLike | None = None
                   ) -> tuple[Callable[[Any], Any], Callable[..., Any]]:
    """(image transform, tokenizer) of an encoder, for methods that read raw images/captions.

    The transform maps a PIL image to a normalised tensor (C, H, W); the tokenizer maps a list
    of strings to a LongTensor (N, context_length). No weights are loaded.
    """
    model, _ = locate_weights(name, weights)
    oc = _open_clip()
    cfg = oc.get_model_config(model)
    if cfg is None:
        raise BenchError(f"unknown open_clip model {model!r}")
    pre = preprocessing_of(cfg)
    transform = oc.image_transform(pre["image_size"], is_train=False, mean=tuple(pre["mean"]),
                                   std=tuple(pre["std"]), interpolation=pre["interpolation"],
                                   resize_mode=pre["resize_mode"])
    return transform, _tokenizer(oc, model)


def _tokenizer(oc, model: str) -> Callable[..., Any]:
    try:
        return oc.get_tokenizer(model)
    except Exception as exc:  # noqa: BLE001 - e.g. a Hugging Face tokenizer, offline
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"cannot load the tokenizer of open_clip model {model!r} offline "
                         f"({first[:200]})") from None


def load_encoder(spec: EncoderSpec | str = BUNDLED, weights: str | None = None,
                 device: str = "cpu") -> LoadedEncoder:
    """The model with its weights (from the local file only), transform and tokenizer."""
    if isinstance(spec, str):
        spec = resolve_encoder(spec, weights)
    oc = _open_clip()
    try:
        model, _, preprocess = oc.create_model_and_transforms(
            spec.model, pretrained=spec.weights, device=device, weights_only=True)
    except (RuntimeError, ValueError, KeyError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise BenchError(f"cannot load weights {spec.weights} into open_clip model "
                         f"{spec.model!r}: {first[:300]}") from None
    model.eval()
    return LoadedEncoder(spec=spec, model=model, preprocess=preprocess,
                         tokenizer=_tokenizer(oc, spec.model), device=device)


def _image_batch(enc: LoadedEncoder, images: Sequence[Any]) -> Any:
    """A normalised float tensor (B, 3, S, S) for a batch of images.

    Arrays (B, S, S, 3) uint8 already at the model's size are converted directly (the same
    result as the PIL transform, where resizing to the same size and centre-cropping are
    no-ops); anything else (other sizes, file paths, PIL images) goes through the transform.
    """
    import torch

    pre = enc.spec.preprocessing
    size = pre.get("image_size")
    if (isinstance(images, np.ndarray) and images.ndim == 4 and images.shape[3] == 3
            and images.dtype == np.uint8 and size is not None
            and tuple(images.shape[1:3]) == tuple(np.broadcast_to(size, 2))):
        x = torch.from_numpy(np.array(images)).permute(0, 3, 1, 2).float() / 255.0
        mean = torch.tensor(pre["mean"]).view(1, 3, 1, 1)
        std = torch.tensor(pre["std"]).view(1, 3, 1, 1)
        return (x - mean) / std
    from PIL import Image

    out = []
    for item in images:
        if isinstance(item, np.ndarray):
            img = Image.fromarray(np.asarray(item, dtype=np.uint8))
        elif isinstance(item, (str, os.PathLike)):
            with Image.open(item) as f:
                img = f.convert("RGB")
        else:
            img = item
        out.append(enc.preprocess(img))
    return torch.stack(out)


def encode_images(enc: LoadedEncoder, images: Sequence[Any], batch_size: int = 256,
                  progress: bool = False) -> np.ndarray:
    """L2-normalised image features, float32 (N, D)."""
    import torch

    chunks = []
    bar = _bar(len(images), "image features", progress)
    with torch.inference_mode():
        for s in range(0, len(images), batch_size):
            x = _image_batch(enc, images[s:s + batch_size]).to(enc.device)
            chunks.append(enc.model.encode_image(x, normalize=True).float().cpu().numpy())
            if bar is not None:
                bar.update(len(x))
    if bar is not None:
        bar.close()
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, 0), np.float32)


def encode_texts(enc: LoadedEncoder, captions: Sequence[str], batch_size: int = 512,
                 progress: bool = False) -> np.ndarray:
    """L2-normalised text features, float32 (N, D)."""
    import torch

    chunks = []
    bar = _bar(len(captions), "text features", progress)
    with torch.inference_mode():
        for s in range(0, len(captions), batch_size):
            tokens = enc.tokenizer([str(c) for c in captions[s:s + batch_size]]).to(enc.device)
            chunks.append(enc.model.encode_text(tokens, normalize=True).float().cpu().numpy())
            if bar is not None:
                bar.update(len(tokens))
    if bar is not None:
        bar.close()
    return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, 0), np.float32)


def _bar(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    import sys

    from tqdm import tqdm

    return tqdm(total=total, desc=f"bench: {desc}", unit="item", file=sys.stderr,
                mininterval=1.0)
