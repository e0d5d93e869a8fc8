"""PromptHash's loss terms and the asymmetric code buffers (CCRG-XJU/PromptHash@6bfbe3f,
``train_asym.py``: ``TrainerAsym.compute_loss`` and the loss methods it calls)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F

from bench.training.layers import info_nce, pairwise_nll

#: Reference loss weights: get_args defaults, overridden by the per-dataset scripts.
DEFAULT_WEIGHTS = {"intra": 0.005, "inter": 5.0, "quan": 1.0, "recon": 0.005,
                   "global": 5.0, "local": 5.0, "lambda": 1.0, "mu": 20.0}
DATASET_WEIGHTS = {
    "mirflickr25k": {"quan": 0.1, "recon": 0.001},
    "nus-wide-21": {"quan": 0.1, "recon": 0.001},
    "nus-wide-tc10": {"quan": 0.1, "recon": 0.001},
    "coco": {"inter": 20.0, "recon": 0.001},
}


def reference_weights(dataset: str) -> dict[str, float]:
    """The reference's weights for ``dataset`` (its script's values, else the defaults)."""
    return {**DEFAULT_WEIGHTS, **DATASET_WEIGHTS.get(dataset, {})}


def bayes_loss(buffer: torch.Tensor, h: torch.Tensor, sim: torch.Tensor) -> torch.Tensor:
    """DPSH-style NLL against the whole buffer: Φ = ½·clamp(A·hᵀ, ±64) (the reference's
    ``0.5 * torch.matmul(a, b.t()).clamp(min=-64, max=64)``: the clamp binds to the product,
    so |Φ| ≤ 32); mean of softplus(Φ) − S⊙Φ over the (N_train, B) entries."""
    return pairwise_nll(buffer, h, sim, clamp=64.0, clamp_scaled=False)


def quantization_loss(h: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """‖h − B‖²_F / (B·k)."""
    return (h - target).pow(2).mean()


def affinity_temperature(u: torch.Tensor, v: torch.Tensor, tau: float) -> float:
    """τ·1/(1+JS) with the reference's reversed "JS" ½[KL(m‖p) + KL(m‖q)] of the softmaxed
    rows, batch-mean; returned as a float (no gradient), as in the reference."""
    with torch.no_grad():
        p, q = F.softmax(u, dim=-1), F.softmax(v, dim=-1)
        m = 0.5 * (p + q)
        js = 0.5 * (F.kl_div(p.log(), m, reduction="batchmean")
                    + F.kl_div(q.log(), m, reduction="batchmean"))
    return tau / (1.0 + float(js))


class CodeBuffers:
    """Per-length N_train×k buffers of detached image/text outputs (N(0,1) at start) and the
    epoch's sign codes B_k = sign(I_k + T_k)."""

    def __init__(self, n: int, lengths: Sequence[int], device: torch.device | str,
                 generator: torch.Generator | None = None):
        self.image = {k: torch.randn(n, k, generator=generator).to(device) for k in lengths}
        self.text = {k: torch.randn(n, k, generator=generator).to(device) for k in lengths}
        self.codes: dict[int, torch.Tensor] = {}
        self.refresh()

    def refresh(self) -> None:
        self.codes = {k: torch.sign(self.image[k] + self.text[k]) for k in self.image}

    def write(self, rows: torch.Tensor, hashes: Mapping[str, Mapping[int, torch.Tensor]]) -> None:
        for k in self.image:
            self.image[k][rows] = hashes["image"][k].detach().float()
            self.text[k][rows] = hashes["text"][k].detach().float()


def loss_terms(out: Mapping[str, Mapping], rows: torch.Tensor, labels_train: torch.Tensor,
               labels_batch: torch.Tensor, buffers: CodeBuffers, bits: Sequence[int],
               aux_bits: int, w: Mapping[str, float], tau_global: float,
               tau_local: float) -> dict[str, torch.Tensor]:
    """Every reference loss term (unsummed), keyed by name."""
    sim = (labels_train @ labels_batch.t() > 0).float()
    terms: dict[str, torch.Tensor] = {}
    for k in (*bits, aux_bits):
        wk = w["mu"] if k == aux_bits else 1.0
        hv, ht = out["hash"]["image"][k].float(), out["hash"]["text"][k].float()
        buf_i, buf_t = buffers.image[k], buffers.text[k]
        terms[f"intra_i_{k}"] = wk * w["intra"] * bayes_loss(buf_i, hv, sim)
        terms[f"intra_t_{k}"] = wk * w["intra"] * bayes_loss(buf_t, ht, sim)
        terms[f"inter_{k}"] = wk * w["inter"] * (bayes_loss(buf_i, ht, sim)
                                                 + bayes_loss(buf_t, hv, sim))
        target = buffers.codes[k][rows]
        terms[f"quan_{k}"] = wk * w["quan"] * (quantization_loss(hv, target)
                                               + quantization_loss(ht, target))
    f_img, f_txt = out["features"]["image"].float(), out["features"]["text"].float()
    f_prm = out["features"]["prompt"].float()
    terms["global"] = w["lambda"] * w["global"] * info_nce(f_img, f_txt, tau_global)
    tau = affinity_temperature(f_img, f_prm, tau_local)
    terms["local"] = w["lambda"] * w["local"] * info_nce(f_img, f_prm, tau)
    recon_target = buffers.codes[aux_bits][rows]
    n = len(rows)
    for k in bits:
        if k == aux_bits:
            continue
        for m, tag in (("image", "i"), ("text", "t")):
            err = (out["recon"][m][k].float() - recon_target).pow(2).sum() / n
            terms[f"recon_{tag}_{k}"] = w["mu"] * w["recon"] * err
    return terms


def total_loss(terms: Mapping[str, torch.Tensor]) -> torch.Tensor | None:
    """Sum of the finite terms (the reference silently drops NaN/Inf ones); None if none."""
    finite = [t for t in terms.values() if bool(torch.isfinite(t.detach()))]
    return torch.stack(finite).sum() if finite else None
