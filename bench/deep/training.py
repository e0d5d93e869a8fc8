"""Seeded training utilities: RNG scope, mini-batches, optimisers, per-epoch loss averages and
model selection on the harness's validation score (never the query set)."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn


@contextmanager
def seeded(seed: int) -> Iterator[torch.Generator]:
    """Seed torch's global CPU generator (weight initialisation, dropout) inside the block and
    restore it afterwards; yields a separate generator for shuffling and sampling."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield torch.Generator().manual_seed(seed)


def epoch_batches(n: int, batch_size: int, generator: torch.Generator,
                  drop_last: bool = False) -> list[torch.Tensor]:
    """A seeded shuffle of ``range(n)`` cut into batches of ``batch_size``.

    ``drop_last`` drops the final partial batch as the references' DataLoaders do, except when
    that would leave no batch at all (fewer pairs than one batch: one batch of all ``n``). A final
    batch of a single pair is always dropped (no pairwise term; batch norm cannot run on it).
    """
    perm = torch.randperm(n, generator=generator)
    if n <= batch_size:
        return [perm]
    batches = list(perm.split(batch_size))
    if len(batches[-1]) < batch_size and (drop_last or len(batches[-1]) < 2):
        batches.pop()
    return batches


def make_optimizer(kind: str, groups: Iterable[Mapping[str, Any]], momentum: float = 0.9,
                   weight_decay: float = 0.0, betas: tuple[float, float] = (0.9, 0.999),
                   nesterov: bool = False) -> torch.optim.Optimizer:
    """SGD (with ``momentum``, Nesterov's when ``nesterov`` and momentum > 0) or Adam over
    parameter groups, each with its own ``lr``."""
    groups = [dict(g) for g in groups]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=groups[0]["lr"], momentum=momentum,
                               weight_decay=weight_decay, nesterov=nesterov and momentum > 0)
    if kind == "adam":
        return torch.optim.Adam(groups, lr=groups[0]["lr"], betas=betas,
                                weight_decay=weight_decay)
    raise ValueError(f"optimiser must be sgd or adam, got {kind!r}")


class LossLog:
    """Per-epoch averages of named loss terms, weighted by batch size."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.count = 0

    def add(self, terms: Mapping[str, torch.Tensor | float], size: int) -> None:
        for name, value in terms.items():
            v = float(value.detach()) if isinstance(value, torch.Tensor) else float(value)
            self.sums[name] = self.sums.get(name, 0.0) + v * size
        self.count += size

    def means(self) -> dict[str, float]:
        return {k: v / max(self.count, 1) for k, v in self.sums.items()}


class ValidationSelector:
    """Keeps the modules' state of the epoch with the best ``validate()`` score.

    ``validate`` is the harness's ``FitContext.validate`` (validation split, never the query
    set). Disabled selectors never call it and keep the final model.
    """

    def __init__(self, validate: Callable[[], float | None], modules: Mapping[str, nn.Module],
                 every: int, enabled: bool):
        self.validate = validate
        self.modules = modules
        self.every = max(1, int(every))
        self.enabled = enabled
        self.best_score: float | None = None
        self.best_epoch: int | None = None
        self.scores: list[tuple[int, float]] = []  #: (epoch, score), epochs counted from 1
        self._state: dict[str, dict[str, torch.Tensor]] | None = None

    def after_epoch(self, epoch: int, epochs: int) -> float | None:
        """Call after each epoch (0-based); validates every ``every`` epochs and at the end."""
        if not self.enabled or ((epoch + 1) % self.every and epoch + 1 != epochs):
            return None
        score = self.validate()
        if score is not None:
            self.scores.append((epoch + 1, score))
            if self.best_score is None or score > self.best_score:
                self.best_score, self.best_epoch = score, epoch + 1
                self._state = {k: copy.deepcopy(m.state_dict())
                               for k, m in self.modules.items()}
        return score

    def finish(self, info: dict[str, Any]) -> None:
        """Load the best state (if any epoch was scored) and note the scores in ``info``."""
        if self._state is not None:
            for k, m in self.modules.items():
                m.load_state_dict(self._state[k])
        if self.scores:
            info["validation"] = list(self.scores)
            info["selected_epoch"] = self.best_epoch
