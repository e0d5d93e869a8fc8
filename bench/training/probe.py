"""One training step of a CLIP-based method on a synthetic batch, without data or a trial:
what the CUDA benchmarks time and what the bf16 tests run (``emulate_bf16=True`` puts the CPU
under bfloat16 autocast, so the bf16 path's dtype handling is checked without a GPU)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from bench import registry

Step = Callable[[], dict[str, torch.Tensor]]


def synthetic_batch(method: Any, batch: int, device: str) -> dict[str, torch.Tensor]:
    """Random normalised images, caption ids with an end token, multi-hot labels (24 classes)
    and 512-d features, of the shapes the method's backbone expects."""
    g = torch.Generator().manual_seed(0)
    labels = (torch.rand(batch, 24, generator=g) < 0.2).float()
    labels[:, 0] = 1
    out = {"labels": labels.to(device), "rows": torch.arange(batch, device=device),
           "features": torch.randn(batch, 512, generator=g).to(device)}
    backbone = getattr(method, "backbone", None)
    if backbone is not None:
        length = min(backbone.context_length, int(method.params.get("max_words") or 10**6))
        captions = torch.randint(1, 40000, (batch, length), generator=g)
        captions[:, length // 2] = 49407  # end of text: the largest id
        captions[:, length // 2 + 1:] = 0
        size = backbone.image_size
        out["images"] = torch.randn(batch, 3, size, size, generator=g).to(device)
        out["captions"] = captions.to(device)
    return out


def training_step(name: str, params: dict[str, Any], bits: int, batch: int, device: str,
                  amp: str, emulate_bf16: bool = False) -> tuple[Step, Any]:
    """(a callable running one full training step and returning its loss terms, the method)
    for method ``name``: DCMH-style methods one image and one text step, the others
    ``train_step`` with every optimiser."""
    spec = registry.methods.get(name)
    method = spec.load()((bits,), {**params, "amp": amp}, 0, device)
    method.emulate_bf16_on_cpu = emulate_bf16
    per_modality = hasattr(method, "modality_step")  # DCMH: one image and one text step
    if per_modality:
        method.dims = (512, 512)  # frozen-feature DCMH: the synthetic features' width
    method.build()
    data = synthetic_batch(method, batch, device)
    if per_modality:
        buffers = {m: torch.randn(batch, bits, device=device) for m in ("image", "text")}
        codes = torch.sign(buffers["image"] + buffers["text"])
        opts = {m: torch.optim.SGD(list(method.modality_params(m, 0.01)), lr=0.01)
                for m in ("image", "text")}
        end_to_end = getattr(method, "backbone", None) is not None
        inputs = ({"image": data["images"], "text": data["captions"]} if end_to_end
                  else {"image": data["features"], "text": data["features"]})

        def step() -> dict[str, torch.Tensor]:
            terms = {}
            for m in ("image", "text"):
                got = method.modality_step(opts[m], m, data["rows"], inputs[m], buffers, codes,
                                           data["labels"])
                terms.update({f"{k}_{m[0]}": v for k, v in got.items()})
            return terms
        return step, method
    method.begin_fit(batch, data["labels"], torch.Generator().manual_seed(0))
    optimizers = [method.make_optimizer(10, 10), *method.extra_optimizers]

    def train() -> dict[str, torch.Tensor]:
        method.net.train()
        return method.train_step(optimizers, data["rows"], data["images"], data["captions"],
                                 data["labels"])[0]
    return train, method
