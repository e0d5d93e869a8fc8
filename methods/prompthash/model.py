"""The whole PromptHash network: prompt learner + CLIP backbone + hashing model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .backbone import PromptCLIP
from .heads import HashingModel


class PromptLearner(nn.Module):
    """The learnable context ``ctx`` (L×W, N(0, 0.02²)) added to each prompt embedding."""

    def __init__(self, length: int, width: int):
        super().__init__()
        self.ctx = nn.Parameter(torch.randn(length, width) * 0.02)

    def forward(self, prompt_embedding: torch.Tensor) -> torch.Tensor:
        return self.ctx.unsqueeze(0) + prompt_embedding


class PromptHashNet(nn.Module):
    """Images, caption ids and prompt ids -> features, hashes, reconstructions.

    When the text width differs from the joint embedding size, ``prompt_eos`` is mapped through
    the frozen ``text_projection`` so the fusion block sees one size (never the case for the
    reference's ViT-B/16, where both are 512).
    """

    def __init__(self, clip: PromptCLIP, bits: Sequence[int], **hash_kwargs: Any):
        super().__init__()
        self.clip = clip
        self.prompt_learner = PromptLearner(clip.context_length, clip.width)
        self.hash = HashingModel(clip.embed_dim, bits, **hash_kwargs)

    def forward(self, images: torch.Tensor, text: torch.Tensor,
                prompt_tokens: torch.Tensor) -> dict[str, dict]:
        img = self.clip.encode_image(images)
        prompt = self.prompt_learner(self.clip.prompt_embedding(prompt_tokens))
        txt, prm = self.clip.encode_text(text, prompt)
        if prm.shape[-1] != img.shape[-1]:
            prm = self.clip._project(prm)
        return self.hash(img.float(), txt.float(), prm.float())
