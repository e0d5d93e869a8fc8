"""MITH: global concept learning, localized token aggregation, local concept transforming and
the loss terms (DarrenZZhang/MM23-MITH@4583a7c, hash_model.py, train_asym.py:156-311). See
methods/mith/README.md for every option and deviation."""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from bench.encoders.backbone import (
    Backbone,
    encode_image_tokens,
    encode_text_tokens,
    eot_positions,
    import_open_clip,
    projected_dim,
    run_transformer,
)
from bench.methods.mith import SPEC
from bench.training.layers import ResidualMLPs, info_nce, pairwise_nll
from bench.training.method import CLIPHashMethod

SCHEDULES = {
    # the library defaults: 30 epochs, batch 128 (encoding too), every training pair
    "reference": {"epochs": 30, "batch_size": 128, "eval_batch_size": 128, "max_train": None},
    # the default generated data on a CPU: PromptHash's quick budget
    "quick": {"epochs": 3, "batch_size": 64, "eval_batch_size": 128, "max_train": 2000},
}


class GlobalConcepts(nn.Module):
    """GCL: ResMLPs, then a bias-free Linear(dim, K) and tanh. Returns (features, hashes)."""

    def __init__(self, dim: int, bits: int, layers: int, dropout: float, activation: str):
        super().__init__()
        self.mlp = ResidualMLPs(dim, 4 * dim, layers, dropout, activation) if layers else \
            nn.Identity()
        self.concepts = nn.Linear(dim, bits, bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.mlp(x)
        return x, torch.tanh(self.concepts(x))


def aggregate_tokens(tokens: torch.Tensor, scores: torch.Tensor, top_k: int,
                     excluded: torch.Tensor | None = None) -> torch.Tensor:
    """LTA: (B, L, D) tokens and their (B, L, K) concept scores -> (B, K, D) concept tokens.

    Each token keeps its ``top_k`` highest positive scores (excluded tokens none); concept k is
    the softmax(score)-weighted mean, over tokens, of the tokens that kept k (zero if none).
    No gradient flows through the scores."""
    s = scores.detach().float()
    if excluded is not None:
        s = s.masked_fill(excluded.unsqueeze(-1), float("-inf"))
    s = torch.where(s > 0, s, torch.full_like(s, float("-inf")))
    kth = s.topk(min(top_k, s.shape[-1]), dim=-1).values.min(dim=-1, keepdim=True).values
    s = torch.where(s >= kth, s, torch.full_like(s, float("-inf")))
    weights = torch.nan_to_num(torch.softmax(s, dim=1), nan=0.0)  # over tokens
    return weights.transpose(1, 2).to(tokens.dtype) @ tokens


def sincos_positions(length: int, dim: int) -> torch.Tensor:
    """(length, dim) sine-cosine position codes divided by sqrt(dim) (MITH's scaling)."""
    pos = torch.arange(length, dtype=torch.float32).unsqueeze(1)
    div = torch.exp(torch.arange(0, dim, 2, dtype=torch.float32) * (-math.log(10000.0) / dim))
    pe = torch.zeros(length, dim)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : dim // 2]
    return pe / dim ** 0.5


class LocalConcepts(nn.Module):
    """LCT: aggregated concept tokens + positions, a transformer over the K concepts, then one
    Linear(dim, 1) per bit (tanh). Returns (hashes (B, K), transformed tokens (B, K, D))."""

    def __init__(self, dim: int, bits: int, layers: int, top_k: int):
        super().__init__()
        import_open_clip()
        from open_clip.transformer import QuickGELU, Transformer

        self.top_k = top_k
        self.register_buffer("positions", sincos_positions(bits, dim), persistent=False)
        # MITH's transformer: CLIP residual blocks (QuickGELU, 4x MLP), dim // 64 heads
        self.transformer = Transformer(dim, layers, max(1, dim // 64), act_layer=QuickGELU)
        bound = 1 / math.sqrt(dim)  # nn.Linear(dim, 1)'s default init, one per bit
        self.bit_weight = nn.Parameter(torch.empty(bits, dim).uniform_(-bound, bound))
        self.bit_bias = nn.Parameter(torch.empty(bits).uniform_(-bound, bound))

    def forward(self, tokens: torch.Tensor, scores: torch.Tensor,
                excluded: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        x = aggregate_tokens(tokens, scores, self.top_k, excluded) + self.positions
        x = run_transformer(self.transformer, x, None)
        return torch.tanh((x * self.bit_weight).sum(-1) + self.bit_bias), x


class MITHNet(nn.Module):
    """CLIP + the hashing model: one GCL shared by both modalities, one LCT per modality."""

    def __init__(self, backbone: Backbone, bits: int, p: dict[str, Any]):
        super().__init__()
        self.clip = backbone.clip
        dim = projected_dim(self.clip)
        self.gcl = GlobalConcepts(dim, bits, int(p["res_mlp_layers"]), float(p["dropout"]),
                                  str(p["activation"]))
        self.lct_i = LocalConcepts(dim, bits, int(p["transformer_layers"]), int(p["top_k_label"]))
        self.lct_t = LocalConcepts(dim, bits, int(p["transformer_layers"]), int(p["top_k_label"]))
        self.img_concept_proj = nn.Linear(dim, dim)
        self.txt_concept_proj = nn.Linear(dim, dim)

    def forward(self, images: torch.Tensor, captions: torch.Tensor) -> dict[str, torch.Tensor]:
        img_cls, img_tok = encode_image_tokens(self.clip, images)
        txt_eos, txt_tok = encode_text_tokens(self.clip, captions)
        img_cls, img_tok, txt_eos, txt_tok = (t.float() for t in (img_cls, img_tok, txt_eos,
                                                                   txt_tok))
        pos = torch.arange(captions.shape[1], device=captions.device).unsqueeze(0)
        excluded = pos >= eot_positions(self.clip, captions).unsqueeze(1)  # end token, padding
        res_i, cls_i = self.gcl(img_cls)
        res_t, cls_t = self.gcl(txt_eos)
        with torch.no_grad():  # the token concept scores only select tokens (no gradient)
            scores_i, scores_t = self.gcl(img_tok)[1], self.gcl(txt_tok)[1]
        tok_i, trans_i = self.lct_i(img_tok, scores_i)
        tok_t, trans_t = self.lct_t(txt_tok, scores_t, excluded)
        return {"cls_i": cls_i, "cls_t": cls_t, "tok_i": tok_i, "tok_t": tok_t,
                "res_i": F.normalize(res_i, dim=-1), "res_t": F.normalize(res_t, dim=-1),
                "trans_i": F.normalize(self.img_concept_proj(trans_i), dim=-1),
                "trans_t": F.normalize(self.txt_concept_proj(trans_t), dim=-1)}


def token_info_nce(u: torch.Tensor, v: torch.Tensor, tau: float) -> torch.Tensor:
    """InfoNCE between the K concept tokens of each sample's image and text (B, K, D): concept k
    of the image is the positive of concept k of the text, the sample's other concepts the
    negatives; symmetric, averaged over samples and concepts."""
    sim = u @ v.transpose(1, 2) / tau  # (B, K, K)
    b, k, _ = sim.shape
    target = torch.arange(k, device=u.device).repeat(b)
    return 0.5 * (F.cross_entropy(sim.reshape(b * k, k), target)
                  + F.cross_entropy(sim.transpose(1, 2).reshape(b * k, k), target))


class MITH(CLIPHashMethod):
    """MITH as the reference code behaves (README: options and deviations)."""

    spec = SPEC
    SCHEDULES = SCHEDULES

    def build_network(self, backbone: Backbone) -> nn.Module:
        return MITHNet(backbone, self.bits[0], self.params)

    def begin_fit(self, n: int, labels: torch.Tensor, generator: torch.Generator) -> None:
        """N(0, 1) buffers of every training pair's token and global outputs, per modality."""
        k = self.bits[0]
        self.buffers = {name: torch.randn(n, k, generator=generator).to(self.device)
                        for name in ("tok_i", "tok_t", "cls_i", "cls_t")}

    def loss_terms(self, rows: torch.Tensor, images: torch.Tensor, captions: torch.Tensor,
                   labels: torch.Tensor) -> dict[str, torch.Tensor]:
        assert self.net is not None
        p = self.params
        out = self.net(images, captions)
        for name, buf in self.buffers.items():
            buf[rows] = out[name].detach().float()  # bf16 under amp=bf16
        lam = float(p["hyper_lambda"])
        target = torch.sign(lam * out["cls_i"].detach() + (1 - lam) * out["tok_i"].detach()
                            + lam * out["cls_t"].detach() + (1 - lam) * out["tok_t"].detach())
        sim = (labels @ labels[rows].t() > 0).float()  # (N_train, B)

        def nll(buffer: str, h: torch.Tensor) -> torch.Tensor:
            return pairwise_nll(self.buffers[buffer], h, sim, clamp=64.0, clamp_scaled=False)

        k, b = self.bits[0], len(rows)
        h_i = 0.5 * out["cls_i"] + 0.5 * out["tok_i"]
        h_t = 0.5 * out["cls_t"] + 0.5 * out["tok_t"]
        tau, w_nce = float(p["tau"]), float(p["w_info_nce"])
        distill = sum((c.detach() - t).pow(2).sum() + 0.1 * (c - t.detach()).pow(2).sum()
                      for c, t in ((out["cls_i"], out["tok_i"]), (out["cls_t"], out["tok_t"])))
        return {
            "tokens_intra": float(p["w_tokens_intra"]) * (nll("tok_i", out["tok_i"])
                                                          + nll("tok_t", out["tok_t"])),
            "cls_inter": float(p["w_cls_inter"]) * (nll("cls_i", out["cls_t"])
                                                    + nll("cls_t", out["cls_i"])),
            "quantization": float(p["w_quan"]) * ((h_i - target).pow(2).sum()
                                                  + (h_t - target).pow(2).sum()) / (b * k),
            "info_nce_global": w_nce * info_nce(out["res_i"], out["res_t"], tau),
            "info_nce_tokens": w_nce * float(p["alpha"]) * token_info_nce(
                out["trans_i"], out["trans_t"], tau),
            "distillation": float(p["w_distill"]) * distill / b,
        }

    def batch_codes(self, images: torch.Tensor,
                    captions: torch.Tensor) -> dict[str, dict[int, torch.Tensor]]:
        assert self.net is not None
        out = self.net(images, captions)
        b = self.bits[0]
        return {"image": {b: out["tok_i"] + out["cls_i"]},
                "text": {b: out["tok_t"] + out["cls_t"]}}
