"""The open_clip backbone of PromptHash, wrapped (the installed package is never patched).

:class:`PromptCLIP` holds an unmodified open_clip ``CLIP`` plus the reference's
``prompt_transformer`` and implements the reference's two-output ``encode_text(text,
text_prompt)`` (CCRG-XJU/PromptHash@6bfbe3f, model/open_clip/): the full causal text
transformer over the caption, then a two-block unmasked transformer over ``[caption tokens;
prompt tokens]``, ``ln_final``, the position-wise product of caption and prompt tokens through
``text_projection`` read at the caption's end-of-text position (``txt_eos``), and the prompt
tokens at the same position (``prompt_eos``, not projected).
"""

from __future__ import annotations

import copy
import math
from typing import Literal

import torch
from torch import nn

from bench.encoders.backbone import (
    eot_positions,
    freeze_blocks,
    import_open_clip,
    project_text,
    projected_dim,
    run_transformer,
    text_transformer,
)

PromptInit = Literal["random", "pretrained"]


class PromptCLIP(nn.Module):
    """open_clip CLIP + prompt transformer. Derived sizes: ``width`` (text transformer width),
    ``embed_dim`` (joint space), ``context_length``; ``feature_dim`` = ``embed_dim``."""

    def __init__(self, clip: nn.Module, prompt_init: PromptInit = "random",
                 prompt_layers: int = 2):
        super().__init__()
        for attr in ("transformer", "token_embedding", "positional_embedding", "ln_final",
                     "visual"):
            if not hasattr(clip, attr):
                raise TypeError("PromptHash needs an open_clip CLIP with its own text tower "
                                f"(attribute {attr!r} missing: {type(clip).__name__})")
        self.clip = clip
        text = clip.transformer
        self.width = int(text.width)
        self.context_length = int(clip.positional_embedding.shape[0])
        self.embed_dim = projected_dim(clip)
        self.prompt_init = prompt_init
        self.prompt_transformer = self._make_prompt_transformer(prompt_init, prompt_layers)

    # -- construction ---------------------------------------------------------------------

    def _make_prompt_transformer(self, init: PromptInit, layers: int) -> nn.Module:
        """A copy of the text transformer's structure with ``layers`` blocks.

        ``pretrained``: the last ``layers`` text blocks as they are now (call after loading
        weights), same activation. ``random`` (faithful): what the reference effectively gets by
        copying blocks before the checkpoint is loaded: nn.GELU and open_clip's text init
        (in_proj N(0, W^-1/2), out_proj/c_proj N(0, W^-1/2 (2·n_layers)^-1/2), c_fc N(0,
        (2W)^-1/2), zero attention biases, default Linear init for the MLP biases, LN 1/0)."""
        text = self.clip.transformer
        if init not in ("random", "pretrained"):
            raise ValueError(f"prompt_init must be 'random' or 'pretrained', not {init!r}")
        if layers > len(text.resblocks):
            raise ValueError(f"prompt transformer of {layers} blocks, but the text tower has "
                             f"only {len(text.resblocks)}")
        import_open_clip()
        from open_clip.transformer import Transformer

        first = text.resblocks[0]
        pt = Transformer(self.width, layers, first.attn.num_heads,
                         mlp_ratio=first.mlp.c_fc.out_features / self.width,
                         batch_first=getattr(text, "batch_first", True))
        pt.resblocks = nn.ModuleList(copy.deepcopy(b) for b in text.resblocks[-layers:])
        for p in pt.parameters():
            p.requires_grad_(True)
        if init == "random":
            width, n_text = self.width, len(text.resblocks)
            proj_std = width ** -0.5 * (2 * n_text) ** -0.5
            for block in pt.resblocks:
                if hasattr(block.mlp, "gelu"):
                    block.mlp.gelu = nn.GELU()
                for m in block.modules():
                    if isinstance(m, nn.LayerNorm):
                        nn.init.ones_(m.weight)
                        nn.init.zeros_(m.bias)
                attn = block.attn
                nn.init.normal_(attn.in_proj_weight, std=width ** -0.5)
                nn.init.zeros_(attn.in_proj_bias)
                nn.init.normal_(attn.out_proj.weight, std=proj_std)
                nn.init.zeros_(attn.out_proj.bias)
                for lin, std in ((block.mlp.c_fc, (2 * width) ** -0.5),
                                 (block.mlp.c_proj, proj_std)):
                    nn.init.normal_(lin.weight, std=std)
                    bound = 1 / math.sqrt(lin.in_features)
                    nn.init.uniform_(lin.bias, -bound, bound)
        return pt

    def freeze(self, unfreeze_last: int = 2) -> list[nn.Parameter]:
        """Freeze CLIP, unfreeze its last ``unfreeze_last`` vision and text blocks; returns
        the unfrozen CLIP parameters plus the prompt transformer's."""
        trainable = freeze_blocks(self.clip, unfreeze_last)
        for p in self.prompt_transformer.parameters():
            p.requires_grad_(True)
            trainable.append(p)
        return trainable

    # -- forward --------------------------------------------------------------------------

    def _project(self, x: torch.Tensor) -> torch.Tensor:
        return project_text(self.clip, x)

    @torch.no_grad()
    def prompt_embedding(self, tokens: torch.Tensor) -> torch.Tensor:
        """Frozen token + positional embedding of prompt token ids: (B, L, W)."""
        return (self.clip.token_embedding(tokens)
                + self.clip.positional_embedding.to(self.clip.token_embedding.weight.dtype))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """Unnormalised CLIP image features (B, embed_dim)."""
        return self.clip.encode_image(images)

    def encode_text(self, text: torch.Tensor,
                    text_prompt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(txt_eos (B, embed_dim), prompt_eos (B, width)) for caption ids (B, L) and prompt
        embeddings (B, L, W)."""
        clip = self.clip
        n_ctx = text.shape[1]
        x = text_transformer(clip, text)
        x = run_transformer(self.prompt_transformer,
                            torch.cat([x, text_prompt.to(x.dtype)], dim=1), None)
        x = clip.ln_final(x)
        caption, prompt = x[:, :n_ctx], x[:, n_ctx:]
        fused = self._project(caption * prompt)
        rows = torch.arange(text.shape[0], device=text.device)
        eot = eot_positions(clip, text)
        return fused[rows, eot], prompt[rows, eot]
