"""PromptHash's supervised peers (DCHMT, MITH, DSPH, DCMH): one training step per method, on
CUDA in fp32 and under bf16 autocast, or side by side on the CPU.

With CUDA: every method is built with the references' backbone (``ViT-B-32-quickgelu``, randomly
initialised unless ``--clip-weights`` names a local file; ``--clip-model`` picks another) and
one full training step (forward, every loss term, backward, optimiser steps; DCMH: one image
and one text step) is timed with ``amp=fp32`` and with ``amp=bf16`` (torch.autocast bfloat16),
median of ``--repeat`` steps after two warm-up steps, batch 128 by default. TF32 is switched
off so that fp32 means fp32. The bf16 run must give finite loss terms.

Without CUDA, the bf16 comparison is reported as skipped and one fp32 CPU step of each method
(the bundled small CLIP, batch 32) is timed side by side in one process, with ratios to DSPH.
``--dry-run`` runs the CUDA measurement path on the CPU instead (the reference backbone, batch
2, one step after the warm-up; the bf16 column under the CPU's bfloat16 autocast, which gives
bf16 outputs as CUDA's does, so the bf16 path's dtype handling is exercised):
it checks that the GPU run will work, its times mean nothing.

    python benchmarks/bench_clip_baselines_cuda.py [--clip-model NAME] [--clip-weights FILE]
        [--batch-size N] [--repeat 5] [--bits 64] [--methods dchmt,mith,dsph,dcmh,dcmh-e2e]
        [--threads N] [--dry-run]
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

from bench.training.probe import training_step  # noqa: E402

METHODS = ("dchmt", "mith", "dsph", "dcmh", "dcmh-e2e")


def time_step(name: str, params: dict[str, Any], bits: int, batch: int, repeat: int,
              device: str, amp: str) -> tuple[float, bool]:
    """(median seconds per step, every loss term finite)."""
    step, _ = training_step(name, params, bits, batch, device, amp,
                            emulate_bf16=device == "cpu")
    times, finite = [], True
    for i in range(repeat + 2):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        terms = step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        finite &= all(bool(torch.isfinite(t.detach()).all()) for t in terms.values())
        if i >= 2:  # warm-up: allocator, kernel selection, lazy imports
            times.append(time.perf_counter() - t0)
    return statistics.median(times), finite


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip-model", default=None,
                    help="open_clip config name or JSON config dict (default: "
                         "ViT-B-32-quickgelu on CUDA, the bundled small CLIP on CPU)")
    ap.add_argument("--clip-weights", default=None,
                    help="local weights file, or 'random' (default: random on CUDA)")
    ap.add_argument("--batch-size", type=int, default=None, help="default 128 CUDA, 32 CPU")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--bits", type=int, default=64)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--threads", type=int, default=None, help="CPU threads (torch)")
    ap.add_argument("--dry-run", action="store_true",
                    help="run the CUDA path on the CPU (batch 2, 1 step): checks, no timings")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    cuda = torch.cuda.is_available()
    params: dict[str, Any] = {}
    print(f"torch {torch.__version__}, CUDA available: {cuda}")
    ok = True
    if cuda or args.dry_run:
        device = "cuda" if cuda else "cpu"
        repeat = 1 if args.dry_run else args.repeat
        if cuda:
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
            print(f"device: {torch.cuda.get_device_name(0)}")
        else:
            print("DRY RUN on the CPU: the CUDA path, bf16 under CPU bfloat16 autocast; times "
                  "mean nothing")
        model = args.clip_model or "ViT-B-32-quickgelu"
        params["clip_model"] = json.loads(model) if model.startswith("{") else model
        params["clip_weights"] = args.clip_weights or "random"
        batch = args.batch_size or (2 if args.dry_run else 128)
        print(f"one training step, {model}, {args.bits} bits, batch {batch}:")
        for name in names:
            t32, f32 = time_step(name, params, args.bits, batch, repeat, device, "fp32")
            t16, f16 = time_step(name, params, args.bits, batch, repeat, device, "bf16")
            ok &= f32 and f16
            print(f"  {name:9s} fp32 {t32 * 1e3:8.1f} ms/step, bf16 autocast "
                  f"{t16 * 1e3:8.1f} ms/step (x{t32 / t16:.2f}), finite terms: "
                  f"{'yes' if f32 and f16 else 'NO'}")
    else:
        print("bf16 autocast timing: SKIPPED (no CUDA device)")
        if args.clip_model:
            params["clip_model"] = (json.loads(args.clip_model)
                                    if args.clip_model.startswith("{") else args.clip_model)
        if args.clip_weights:
            params["clip_weights"] = args.clip_weights
        batch = args.batch_size or 32
        print(f"CPU instead: one fp32 training step of each method, "
              f"{params.get('clip_model', 'bundled')}, {args.bits} bits, batch {batch}, "
              f"{torch.get_num_threads()} thread(s), side by side:")
        times = {}
        for name in names:
            times[name], finite = time_step(name, params, args.bits, batch, args.repeat, "cpu",
                                            "fp32")
            ok &= finite
        base = times.get("dsph")
        for name, t in times.items():
            ratio = f" (x{t / base:.2f} of dsph)" if base else ""
            print(f"  {name:9s} fp32 (cpu) {t * 1e3:8.1f} ms/step{ratio}")
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    np.seterr(all="ignore")
    raise SystemExit(main())
