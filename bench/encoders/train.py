"""``python -m bench train-clip``: train the bundled small CLIP from scratch on generated scenes.

The training scenes come from their own seed stream (``clip-train``), the held-out evaluation
scenes from another (``clip-heldout``); the benchmark's scenes (``benchmark``) are never seen.
A disjointness check (no identical image, no identical image-caption pair) against the held-out
set and the default benchmark set is part of the training record. Each epoch pairs every image
with a fresh caption. The loss is CLIP's symmetric InfoNCE with soft targets where two captions
of a batch are identical (templated captions repeat, e.g. "a room"). The checkpoint is saved in
fp16 safetensors next to its config and a JSON training record.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from bench.encoders import tiny_clip

DEFAULTS: dict[str, Any] = {
    "n_train": 30000, "epochs": 3, "captions_per_image": 4, "batch_size": 128, "lr": 2e-3,
    "weight_decay": 0.05,
    "warmup_steps": 50, "seed": 0, "data_seed": 0, "n_heldout": 1000,
    "benchmark_items": 10000, "benchmark_seed": 0,
}


def _digests(images: np.ndarray, captions: list[str] | None = None) -> list[str]:
    out = []
    for i in range(len(images)):
        h = hashlib.sha1(np.ascontiguousarray(images[i]).tobytes())
        if captions is not None:
            h.update(b"\0" + captions[i].encode())
        out.append(h.hexdigest())
    return out


def disjointness(train: dict[str, Any], others: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Counts of identical images / image-caption pairs / captions between the training set and
    each of ``others`` (name -> {"images", "captions"}); images and pairs must be 0."""
    train_caps = [c[0] if isinstance(c, list) else c for c in train["captions"]]
    img = set(_digests(train["images"]))
    pair = set(_digests(train["images"], train_caps))
    caps = set(train_caps)
    report = {}
    for name, data in others.items():
        report[name] = {
            "items": len(data["images"]),
            "identical_images": sum(d in img for d in _digests(data["images"])),
            "identical_pairs": sum(d in pair for d in _digests(data["images"], data["captions"])),
            "captions_also_in_training_text": sum(c in caps for c in data["captions"]),
        }
    return report


def recall_at(image_features: np.ndarray, text_features: np.ndarray,
              ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Recall@k of the paired item, both directions (row i of each is pair i)."""
    sims = image_features @ text_features.T
    out = {}
    for direction, s in (("i2t", sims), ("t2i", sims.T)):
        target = np.diag(s)[:, None]
        rank = (s > target).sum(1)  # ties count in the item's favour
        for k in ks:
            out[f"{direction}_r{k}"] = float((rank < k).mean())
    return out


def train_clip(out_dir: Path, cache_dir: Path, n_train: int = DEFAULTS["n_train"],
               epochs: int = DEFAULTS["epochs"],
               captions_per_image: int = DEFAULTS["captions_per_image"],
               batch_size: int = DEFAULTS["batch_size"],
               lr: float = DEFAULTS["lr"], weight_decay: float = DEFAULTS["weight_decay"],
               warmup_steps: int = DEFAULTS["warmup_steps"], seed: int = DEFAULTS["seed"],
               data_seed: int = DEFAULTS["data_seed"], n_heldout: int = DEFAULTS["n_heldout"],
               benchmark_items: int = DEFAULTS["benchmark_items"],
               benchmark_seed: int = DEFAULTS["benchmark_seed"],
               config_file: Path = tiny_clip.CONFIG_FILE, threads: int | None = None,
               max_minutes: float | None = None, eval_every: int = 100,
               log: Callable[[str], None] = print) -> dict[str, Any]:
    """Train, evaluate, save; returns the training record (also written as JSON)."""
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from bench.datasets.scenes.generate import load_or_generate
    from bench.encoders.compat import import_open_clip

    t_start = time.perf_counter()
    torch.set_num_threads(threads or os.cpu_count() or 1)
    torch.manual_seed(seed)
    oc = import_open_clip()
    name = tiny_clip.register(oc, config_file)
    n_captions = max(1, captions_per_image)

    log(f"bench: generating {n_train:,} training scenes (stream clip-train, seed {data_seed}) "
        f"and {n_heldout:,} held-out scenes (stream clip-heldout) ...")
    train, _ = load_or_generate(cache_dir, n_train, data_seed, "clip-train", n_captions)
    heldout, _ = load_or_generate(cache_dir, n_heldout, data_seed, "clip-heldout")
    others = {"heldout": heldout}
    if benchmark_items:
        bench_data, _ = load_or_generate(cache_dir, benchmark_items, benchmark_seed, "benchmark")
        others[f"benchmark(n_items={benchmark_items}, seed={benchmark_seed})"] = bench_data
    disjoint = disjointness(train, others)
    for where, rep in disjoint.items():
        if rep["identical_images"] or rep["identical_pairs"]:
            raise RuntimeError(f"training scenes overlap the {where} scenes: {rep}")
    t_data = time.perf_counter() - t_start

    model = oc.create_model(name)  # random init: no pretrained weights anywhere
    model.train()
    tokenizer = oc.get_tokenizer(name)
    pre = model.visual.preprocess_cfg
    mean = torch.tensor(pre["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(pre["std"]).view(1, 3, 1, 1)
    captions = [c if isinstance(c, list) else [c] for c in train["captions"]]
    log(f"bench: tokenizing {n_train * n_captions:,} captions ...")
    tokens = [tokenizer([c[k] for c in captions]) for k in range(n_captions)]
    cap_ids = [np.unique([c[k] for c in captions], return_inverse=True)[1]
               for k in range(n_captions)]

    decay, no_decay = [], []
    for pname, p in model.named_parameters():
        (decay if p.ndim >= 2 and "embedding" not in pname else no_decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    try:  # the fused kernel is much faster on CPU (the 49,408-row token table dominates)
        opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-6, fused=True)
    except (RuntimeError, TypeError, ValueError):
        opt = torch.optim.AdamW(groups, lr=lr, betas=(0.9, 0.98), eps=1e-6)
    steps_per_epoch = n_train // batch_size
    total = steps_per_epoch * epochs

    def lr_at(step: int) -> float:
        if step < warmup_steps:
            return lr * (step + 1) / warmup_steps
        t = (step - warmup_steps) / max(total - warmup_steps, 1)
        return lr * 0.5 * (1 + math.cos(math.pi * t))

    images_u8 = train["images"]
    probe = {"x": (torch.from_numpy(np.array(heldout["images"][:500]))
                   .permute(0, 3, 1, 2).float() / 255.0 - mean) / std,
             "t": tokenizer(heldout["captions"][:500])}

    def probe_recall() -> dict[str, float]:
        model.eval()
        with torch.no_grad():
            fi = model.encode_image(probe["x"], normalize=True).numpy()
            ft = model.encode_text(probe["t"], normalize=True).numpy()
        model.train()
        return recall_at(fi, ft, (1, 5))

    rng = np.random.default_rng(seed)
    history: list[dict[str, float]] = []
    step, stopped_early = 0, False
    t_train = time.perf_counter()
    bar = tqdm(total=total, desc="bench: training CLIP", unit="step", file=sys.stderr,
               mininterval=5.0)
    for epoch in range(epochs):
        order = rng.permutation(n_train)
        k = epoch % n_captions
        losses = []
        for b in range(steps_per_epoch):
            idx = np.sort(order[b * batch_size:(b + 1) * batch_size])
            x = torch.from_numpy(np.array(images_u8[idx])).permute(0, 3, 1, 2)
            x = (x.float() / 255.0 - mean) / std
            ids = torch.from_numpy(cap_ids[k][idx])
            target = (ids[:, None] == ids[None, :]).float()
            target /= target.sum(1, keepdim=True)
            for group in opt.param_groups:
                group["lr"] = lr_at(step)
            img_f, txt_f, scale = model(x, tokens[k][idx])[:3]
            logits = scale * img_f @ txt_f.T
            loss = (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            losses.append(loss.item())
            step += 1
            bar.update(1)
            if eval_every and step % eval_every == 0:
                r = probe_recall()
                log(f"bench: step {step}: loss {np.mean(losses[-eval_every:]):.3f}, held-out "
                    f"(500) recall@1 i2t {r['i2t_r1']:.3f} t2i {r['t2i_r1']:.3f}, "
                    f"@5 i2t {r['i2t_r5']:.3f} t2i {r['t2i_r5']:.3f}")
            if max_minutes and time.perf_counter() - t_train > 60 * max_minutes:
                stopped_early = True
                break
        history.append({"epoch": epoch + 1, "loss": float(np.mean(losses)), "steps": step,
                        "minutes": (time.perf_counter() - t_train) / 60})
        log(f"bench: epoch {epoch + 1}/{epochs}: loss {history[-1]['loss']:.4f} "
            f"({history[-1]['minutes']:.1f} min)")
        if stopped_early:
            break
    bar.close()
    train_minutes = (time.perf_counter() - t_train) / 60

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ckpt = out_dir / f"{name}.safetensors"
    from safetensors.torch import save_file

    state = {k: v.detach().to(torch.float16).contiguous() if v.is_floating_point() else v
             for k, v in model.state_dict().items()}
    save_file(state, str(ckpt), metadata={"format": "pt", "model": name})
    if Path(config_file).resolve() != (out_dir / f"{name}.json").resolve():
        shutil.copyfile(config_file, out_dir / f"{name}.json")

    from bench.encoders.models import encode_images, encode_texts, load_encoder, resolve_encoder

    enc = load_encoder(resolve_encoder("bundled", ckpt) if name == tiny_clip.MODEL_NAME
                       else resolve_encoder(name, ckpt))
    recall = recall_at(encode_images(enc, heldout["images"]),
                       encode_texts(enc, heldout["captions"]))
    log("bench: held-out recall " + ", ".join(f"{k} {v:.3f}" for k, v in recall.items()))
    import open_clip
    import torch as _torch

    record = {
        "model": name, "config": json.loads(Path(config_file).read_text()),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "checkpoint": ckpt.name, "checkpoint_bytes": ckpt.stat().st_size,
        "checkpoint_sha256": hashlib.sha256(ckpt.read_bytes()).hexdigest(),
        "precision": "fp16 weights (trained in fp32)",
        "data": {"generator": "bench.datasets.scenes", "stream": "clip-train",
                 "seed": data_seed, "n_train": n_train, "captions_per_image": n_captions,
                 "heldout": {"stream": "clip-heldout", "seed": data_seed, "n": n_heldout},
                 "disjointness": disjoint},
        "training": {"epochs": epochs, "epochs_done": len(history), "steps": step,
                     "batch_size": batch_size, "lr": lr, "schedule": "linear warmup, cosine",
                     "warmup_steps": warmup_steps, "weight_decay": weight_decay,
                     "optimizer": "AdamW(0.9, 0.98, eps 1e-6)", "seed": seed,
                     "stopped_early": stopped_early, "history": history,
                     "loss": "symmetric InfoNCE, soft targets for identical captions"},
        "time": {"data_minutes": t_data / 60, "train_minutes": train_minutes,
                 "total_minutes": (time.perf_counter() - t_start) / 60,
                 "threads": _torch.get_num_threads(), "cpu": platform.processor() or
                 platform.machine(), "load_average": list(os.getloadavg())},
        "heldout_recall": recall,
        "versions": {"torch": _torch.__version__, "open_clip": open_clip.__version__,
                     "python": platform.python_version()},
        "command": "python -m bench " + " ".join(sys.argv[1:]) if sys.argv[0].endswith(
            ("bench", "__main__.py")) else None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    (out_dir / f"{name}.training.json").write_text(json.dumps(record, indent=1) + "\n")
    log(f"bench: wrote {ckpt} ({ckpt.stat().st_size / 1e6:.1f} MB) and "
        f"{out_dir / (name + '.training.json')}")
    return record
