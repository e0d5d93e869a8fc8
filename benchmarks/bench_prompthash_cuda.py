"""PromptHash on CUDA: mamba-ssm kernels vs the pure-PyTorch Mamba backend, and the time of one
training step in fp32 and under bf16 autocast.

With CUDA (and the optional ``mamba-ssm`` package, ``pip install 'cmh-bench[cuda]'``):

1. ``mamba_ssm.Mamba(d_model, d_state=16, d_conv=4, expand=2)`` is built on the GPU, its state
   dict is loaded into this project's ``MambaMixer`` (same parameter names) and both are run on
   the same input, the mixer once with its ``cuda`` backend (mamba-ssm's selective scan) and
   once with its ``torch`` backend. PASS when every relative error ‖a−b‖/‖b‖ (outputs and input
   gradients) is ≤ 1e-4;
2. one full PromptHash training step (batch 128 by default, the reference's ViT-B-16-quickgelu
   randomly initialised unless ``--clip-weights`` names a local file) is timed in fp32 and with
   ``amp=bf16`` (torch.autocast bfloat16), median of ``--repeat`` steps after warm-up.

Without CUDA, both comparisons are reported as skipped and one fp32 CPU training step of the
default backbone (the bundled small CLIP, or ``--clip-model``) is timed instead.

    python benchmarks/bench_prompthash_cuda.py [--clip-model NAME] [--clip-weights FILE]
        [--batch-size N] [--repeat 5] [--variant prompthash|prompthash-clean] [--threads N]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from bench import registry  # noqa: E402
from bench.methods.prompthash.losses import CodeBuffers  # noqa: E402
from bench.methods.prompthash.mamba import MambaMixer, cuda_scan_fn  # noqa: E402

TOLERANCE = 1e-4


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.double() - b.double()).norm() / b.double().norm().clamp_min(1e-30))


def compare_mamba(d_model: int, batch: int, length: int) -> bool:
    """mamba_ssm.Mamba vs MambaMixer (cuda and torch backends) on one input, fp32."""
    from mamba_ssm import Mamba

    torch.manual_seed(0)
    ref = Mamba(d_model=d_model, d_state=16, d_conv=4, expand=2).cuda().float()
    ours = {b: MambaMixer(d_model, 16, 4, 2, backend=b).cuda() for b in ("cuda", "torch")}
    for m in ours.values():
        m.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(batch, length, d_model, device="cuda")
    outs, grads = {}, {}
    for name, module in (("mamba_ssm.Mamba", ref), *((f"MambaMixer[{b}]", m)
                                                      for b, m in ours.items())):
        xi = x.clone().requires_grad_(True)
        y = module(xi)
        y.pow(2).sum().backward()
        outs[name], grads[name] = y.detach(), xi.grad.detach()
    ok = True
    base = "mamba_ssm.Mamba"
    for name in outs:
        if name == base:
            continue
        e_out, e_grad = rel(outs[name], outs[base]), rel(grads[name], grads[base])
        good = e_out <= TOLERANCE and e_grad <= TOLERANCE
        ok &= good
        print(f"  {name:22s} vs {base}: rel. error output {e_out:.2e}, input grad {e_grad:.2e}"
              f"  {'PASS' if good else 'FAIL'} (<= {TOLERANCE:g})")
    return ok


def synthetic_batch(method: Any, batch: int, device: str) -> dict[str, torch.Tensor]:
    """Random normalised images, caption ids and label prompts of the right shapes."""
    net = method.net
    size = method.images.size
    length = net.clip.context_length
    g = torch.Generator().manual_seed(0)
    labels = (torch.rand(batch, 24, generator=g) < 0.2).float()
    labels[:, 0] = 1
    captions = torch.randint(1, 40000, (batch, length), generator=g)
    captions[:, length // 2] = 49407  # end of text: the largest id
    captions[:, length // 2 + 1:] = 0
    names = [f"class{i}" for i in range(24)]
    prompt = method.prompts(labels.numpy(), names, batch)
    return {"images": torch.randn(batch, 3, size, size, generator=g).to(device),
            "captions": captions.to(device), "prompt": prompt.to(device),
            "labels": labels.to(device), "rows": torch.arange(batch, device=device)}


def time_step(variant: str, params: dict[str, Any], batch: int, repeat: int, device: str,
              amp: str) -> float:
    spec = registry.methods.get(variant)
    method = spec.load()((16, 32, 64), {**params, "amp": amp}, 0, device)
    method.build()
    method.set_weights("coco")
    method.net.train()
    data = synthetic_batch(method, batch, device)
    buffers = CodeBuffers(batch, [16, 32, 64, 256], device)
    opt = method.make_optimizer(steps_per_epoch=10, epochs=10)
    times = []
    for i in range(repeat + 2):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        method.train_step(opt, buffers, data["rows"], data["images"], data["captions"],
                          data["prompt"], data["labels"])
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if i >= 2:  # warm-up: allocator, cuDNN autotuning, lazy imports
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip-model", default=None,
                    help="open_clip config name or JSON config dict (default: "
                         "ViT-B-16-quickgelu on CUDA, the bundled small CLIP on CPU)")
    ap.add_argument("--clip-weights", default=None,
                    help="local weights file, or 'random' (default: random on CUDA; the "
                         "bundled checkpoint on CPU)")
    ap.add_argument("--batch-size", type=int, default=None, help="default 128 CUDA, 32 CPU")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--variant", default="prompthash", choices=["prompthash", "prompthash-clean"])
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (torch)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    params: dict[str, Any] = {"clip_weights": args.clip_weights}
    print(f"torch {torch.__version__}, CUDA available: {cuda}")
    ok = True
    if cuda:
        device = "cuda"
        torch.backends.cuda.matmul.allow_tf32 = False  # fp32 means fp32 in the comparison
        torch.backends.cudnn.allow_tf32 = False
        print(f"device: {torch.cuda.get_device_name(0)}")
        if cuda_scan_fn() is None:
            print("1. mamba-ssm vs torch backend: SKIPPED (mamba_ssm does not import; "
                  "pip install 'cmh-bench[cuda]')")
        else:
            print("1. mamba-ssm vs torch backend (fp32):")
            for d_model, batch, length in ((512, 2, 128), (512, 8, 2), (64, 2, 37)):
                print(f" d_model={d_model}, batch={batch}, L={length}")
                ok &= compare_mamba(d_model, batch, length)
        params["clip_model"] = args.clip_model or "ViT-B-16-quickgelu"
        params["clip_weights"] = args.clip_weights or "random"
        if params["clip_model"].startswith("{"):
            params["clip_model"] = json.loads(params["clip_model"])
        batch = args.batch_size or 128
        print(f"2. one {args.variant} training step, {params['clip_model']}, batch {batch}, "
              f"Mamba backend {'cuda' if cuda_scan_fn() else 'torch'}:")
        t32 = time_step(args.variant, params, batch, args.repeat, device, "fp32")
        print(f"  fp32:          {t32 * 1e3:8.1f} ms/step")
        t16 = time_step(args.variant, params, batch, args.repeat, device, "bf16")
        print(f"  bf16 autocast: {t16 * 1e3:8.1f} ms/step  (x{t32 / t16:.2f} vs fp32)")
    else:
        print("1. mamba-ssm vs torch backend: SKIPPED (no CUDA device)")
        print("2. bf16 autocast timing: SKIPPED (no CUDA device)")
        if args.clip_model:
            params["clip_model"] = (json.loads(args.clip_model)
                                    if args.clip_model.startswith("{") else args.clip_model)
        batch = args.batch_size or 32
        name = params.get("clip_model", "bundled")
        print(f"   CPU instead: one {args.variant} training step, fp32, {name}, batch {batch}, "
              f"{torch.get_num_threads()} thread(s):")
        t32 = time_step(args.variant, params, batch, args.repeat, "cpu", "fp32")
        print(f"  fp32 (cpu):    {t32 * 1e3:8.1f} ms/step")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
