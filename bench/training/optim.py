"""BertAdam: the HuggingFace BERT optimiser used by PromptHash, DCHMT, MITH and DSPH
(CCRG-XJU/PromptHash@6bfbe3f, optimization.py)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import torch
from torch.optim import Optimizer


def warmup_cosine(x: float, warmup: float = 0.05) -> float:
    """x/warmup during warm-up, then ½(1 + cos(πx)) on the *global* progress x."""
    if x < warmup:
        return x / warmup
    return 0.5 * (1.0 + math.cos(math.pi * x))


class BertAdam(Optimizer):
    """Adam without bias correction, decoupled weight decay added to the update of every
    tensor, per-tensor gradient clipping and a warm-up-cosine schedule on each parameter's own
    step count: lr_t = lr·warmup_cosine(step/t_total) with step counted from 0."""

    def __init__(self, params: Iterable[Any], lr: float, t_total: int, warmup: float = 0.05,
                 b1: float = 0.9, b2: float = 0.98, eps: float = 1e-6,
                 weight_decay: float = 0.01, max_grad_norm: float = 1.0):
        defaults = {"lr": lr, "t_total": t_total, "warmup": warmup, "b1": b1, "b2": b2,
                    "eps": eps, "weight_decay": weight_decay, "max_grad_norm": max_grad_norm}
        super().__init__(params, defaults)

    def current_lr(self) -> list[float]:
        """Scheduled learning rate of each group (from its first parameter's step)."""
        out = []
        for group in self.param_groups:
            step = next((self.state[p]["step"] for p in group["params"] if p in self.state), 0)
            out.append(group["lr"] * warmup_cosine(step / group["t_total"], group["warmup"]))
        return out

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                grad = p.grad
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq"] = torch.zeros_like(p)
                if group["max_grad_norm"] > 0:
                    norm = grad.norm()
                    if norm > group["max_grad_norm"]:
                        grad = grad * (group["max_grad_norm"] / (norm + 1e-6))
                m, v = state["exp_avg"], state["exp_avg_sq"]
                m.mul_(group["b1"]).add_(grad, alpha=1 - group["b1"])
                v.mul_(group["b2"]).addcmul_(grad, grad, value=1 - group["b2"])
                update = m / (v.sqrt() + group["eps"])
                if group["weight_decay"] > 0:
                    update = update + group["weight_decay"] * p
                x = state["step"] / group["t_total"]
                p.add_(update, alpha=-group["lr"] * warmup_cosine(x, group["warmup"]))
                state["step"] += 1
        return loss
