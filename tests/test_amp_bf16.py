"""The ``amp=bf16`` path of every CLIP-based method, checked on the CPU: under the CPU's
bfloat16 autocast (``emulate_bf16_on_cpu``) matrix products give bf16 outputs as on CUDA, so a
bf16 tensor written into a float32 buffer (MITH's crash, first seen on an H200) fails here."""

from __future__ import annotations

import pytest
import torch

from bench import registry
from bench.training.probe import training_step

pytestmark = pytest.mark.filterwarnings("ignore")

PEERS = ("dchmt", "mith", "dsph", "dcmh", "dcmh-e2e")


def finite(terms: dict[str, torch.Tensor]) -> bool:
    return all(bool(torch.isfinite(t.detach().float()).all()) for t in terms.values())


@pytest.mark.parametrize("name", PEERS)
def test_bf16_training_steps_run_and_stay_finite(name: str) -> None:
    torch.manual_seed(0)
    step, method = training_step(name, {}, 16, 4, "cpu", "bf16", emulate_bf16=True)
    x, w = torch.randn(2, 8), torch.randn(3, 8)
    with method.autocast():
        assert torch.nn.functional.linear(x, w).dtype == torch.bfloat16  # emulation is on
    for _ in range(2):
        assert finite(step())
    for buf in getattr(method, "buffers", {}).values():  # running code buffers stay float32
        assert buf.dtype == torch.float32


def test_bf16_is_ignored_on_cpu_unless_emulated() -> None:
    _, method = training_step("dcmh", {}, 16, 2, "cpu", "bf16")
    x, w = torch.randn(2, 8), torch.randn(3, 8)
    with method.autocast():
        assert torch.nn.functional.linear(x, w).dtype == torch.float32


@pytest.mark.parametrize("variant", ["prompthash", "prompthash-clean"])
def test_prompthash_bf16_step(variant: str) -> None:
    from bench.methods.prompthash.losses import CodeBuffers

    method = registry.methods.get(variant).load()((16, 32), {"amp": "bf16"}, 0, "cpu")
    method.emulate_bf16_on_cpu = True
    method.build()
    method.set_weights("coco")
    method.net.train()
    batch, g = 4, torch.Generator().manual_seed(0)
    labels = (torch.rand(batch, 24, generator=g) < 0.3).float()
    labels[:, 0] = 1
    length = method.net.clip.context_length
    captions = torch.randint(1, 40000, (batch, length), generator=g)
    captions[:, length // 2] = 49407
    captions[:, length // 2 + 1:] = 0
    size = method.images.size
    images = torch.randn(batch, 3, size, size, generator=g)
    prompt = method.prompts(labels.numpy(), [f"class{i}" for i in range(24)], batch)
    buffers = CodeBuffers(batch, [16, 32, int(method.params["aux_bits"])], "cpu")
    opt = method.make_optimizer(steps_per_epoch=10, epochs=10)
    for _ in range(2):
        terms = method.train_step(opt, buffers, torch.arange(batch), images, captions, prompt,
                                  labels)
    values = terms.values() if isinstance(terms, dict) else terms[0].values()
    assert all(bool(torch.isfinite(torch.as_tensor(v).float()).all()) for v in values)
    assert all(b.dtype == torch.float32 for b in buffers.image.values())
