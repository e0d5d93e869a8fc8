"""The text affinity prompt: per-sample sentences built from label names (a reconstruction: the
reference, CCRG-XJU/PromptHash@6bfbe3f, loads them precomputed).

The reference loads a precomputed ``prompt_caption`` tensor (one L×W array per sample) whose
construction is not published. This module builds the most likely construction:

* sentence: ``"This is an image containing " + ", ".join(names) + "."`` where ``names`` are the
  sample's positive class names in label-column order, with underscores replaced by spaces
  (e.g. ``"This is an image containing dog, plant life."``);
* a sample without any positive label, and the label-free prompt used by the clean variant at
  encoding time, get ``"This is an image containing"`` (the context phrase alone);
* tokenised with the CLIP BPE tokenizer (SOT ... EOT, truncated and zero-padded to the model's
  context length); :meth:`PromptCLIP.prompt_embedding` then embeds the tokens with the frozen
  ``token_embedding`` plus ``positional_embedding``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

CONTEXT_PHRASE = "This is an image containing"


def label_free_prompt() -> str:
    return CONTEXT_PHRASE


def prompt_sentence(label_row: np.ndarray | None, class_names: Sequence[str] | None) -> str:
    """The prompt sentence for one multi-hot label row (label-free when ``label_row`` is None)."""
    if label_row is None:
        return label_free_prompt()
    if class_names is None:
        raise ValueError("label prompts need the dataset's class names (PairedData.class_names)")
    names = [str(class_names[j]).replace("_", " ") for j in np.flatnonzero(label_row > 0)]
    if not names:
        return label_free_prompt()
    return f"{CONTEXT_PHRASE} {', '.join(names)}."


class PromptTokens:
    """Tokenises prompt sentences, caching one token row per distinct sentence."""

    def __init__(self, tokenize: Callable[[list[str]], torch.Tensor]):
        self.tokenize = tokenize
        self._cache: dict[str, torch.Tensor] = {}

    def __call__(self, labels: np.ndarray | None, class_names: Sequence[str] | None,
                 n: int) -> torch.Tensor:
        """(n, L) token ids: label prompts for ``labels`` (n rows), or n label-free prompts."""
        rows = [None] * n if labels is None else list(np.asarray(labels))
        sentences = [prompt_sentence(r, class_names) for r in rows]
        missing = sorted({s for s in sentences if s not in self._cache})
        if missing:
            for s, t in zip(missing, self.tokenize(missing), strict=True):
                self._cache[s] = t
        return torch.stack([self._cache[s] for s in sentences])
