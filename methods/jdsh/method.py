"""JDSH (SIGIR 2020) on frozen features (reference KaiserLew/JDSH@caa8224e2f2e: JDSH.py,
models.py, config/JDSH_MIRFlickr.json).

The joint-modal similarity S_J = α·S_I + β·S_T + λ·(S_high + S_highᵀ)/2 with S_m = 2cos − 1 of
the batch's features and S_high = norm(S_I)·norm(S_T)ᵀ (row-normalised, a second-order
cross-modal agreement; JDSH.py:118-129). Distribution-based similarity decision and weighting
(DSDW, JDSH.py:135-141): with a left threshold loc_l − a·scale_l and a right threshold
loc_r + b·scale_r, entries below the left one become (1 + l1·e^{−(s − min)})·s, then entries
above the right one (of the matrix so updated) (1 + l2·e^{s − max})·s; the result is scaled by
μ. Loss (JDSH.py:147-163): intra·(MSE(B_I B_Iᵀ, S) + MSE(B_T B_Tᵀ, S)) + MSE(B_I B_Tᵀ, S) +
MSE(B_T B_Iᵀ, S) − mean_i ⟨b_I,i, b_T,i⟩ on unit-norm codes.

Networks as the reference (models.py:8-47): the image side trains only the hash layer
Linear(d, L) on the frozen features (``image_net=linear``; the reference's AlexNet runs under
no_grad), the text side is d → 4096 → L.

**Reconstruction**: the reference's loc / scale / min / max are constants fitted offline to the
MIRFLICKR (AlexNet + BoW) affinity distribution and do not transfer to other features; the
default ``thresholds="fit"`` refits them on this training set (see README), ``"mir"`` uses the
reference's MIRFLICKR constants.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from bench.deep.reconstruction import Batch, SimilarityReconstruction
from bench.deep.similarity import code_similarity_mse, cosine, signed_cosine
from bench.deep.training import epoch_batches
from bench.methods.jdsh import SPEC

#: The reference's MIRFLICKR constants: (loc_left, scale_left, loc_right, scale_right, min, max).
MIR_CONSTANTS = (-0.49, 0.019, -0.49, 0.088, -0.52, 0.68)


def joint_modal_similarity(x: torch.Tensor, y: torch.Tensor, alpha: float, beta: float,
                           lamb: float) -> torch.Tensor:
    """S_J = alpha·S_I + beta·S_T + lamb·(S_high + S_highᵀ)/2, S_high = norm(S_I) norm(S_T)ᵀ."""
    s_i, s_t = signed_cosine(x), signed_cosine(y)
    high = F.normalize(s_i, dim=1) @ F.normalize(s_t, dim=1).T
    return alpha * s_i + beta * s_t + lamb * (high + high.T) / 2


def fit_distribution(values: torch.Tensor) -> tuple[float, float, float, float, float, float]:
    """Robust location and one-sided scales of the affinity distribution (reconstruction of
    JDSH's offline fit): loc = median, scale_left / scale_right = 1.4826 · median absolute
    deviation of the entries below / above it, min and max of the entries."""
    v = values.flatten().double()
    loc = float(v.median())
    below, above = loc - v[v < loc], v[v > loc] - loc
    scale_l = 1.4826 * float(below.median()) if len(below) else 0.0
    scale_r = 1.4826 * float(above.median()) if len(above) else 0.0
    return loc, scale_l, loc, scale_r, float(v.min()), float(v.max())


def dsdw(s: torch.Tensor, constants: tuple[float, ...], left_scales: float, right_scales: float,
         l1: float, l2: float) -> torch.Tensor:
    """Distribution-based similarity decision and weighting: amplify the tails exponentially,
    the left tail first, then the right tail of the result (JDSH.py:135-141)."""
    loc_l, scale_l, loc_r, scale_r, lo, hi = constants
    left, right = loc_l - left_scales * scale_l, loc_r + right_scales * scale_r
    out = s.clone()
    low = out < left
    out[low] = (1 + l1 * torch.exp(-(out[low] - lo))) * out[low]
    high = out > right  # after the left tail, as the reference's in-place updates
    out[high] = (1 + l2 * torch.exp(out[high] - hi)) * out[high]
    return out


class JDSH(SimilarityReconstruction):
    spec = SPEC

    def check_params(self) -> None:
        super().check_params()
        self.option("thresholds", ("fit", "mir"))

    def _joint(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = self.params
        return joint_modal_similarity(x, y, float(p["alpha"]), float(p["beta"]),
                                      float(p["lamb"]))

    def prepare(self, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator) -> None:
        p = self.params
        if p["thresholds"] == "mir":
            self.constants = MIR_CONSTANTS
            return
        # The distribution of S_J over batches like the training batches (seeded draw).
        g = torch.Generator().manual_seed(self.seed + 7919)
        values = []
        for _ in range(max(1, int(p["fit_batches"]))):
            idx = epoch_batches(len(x), int(p["batch_size"]), g, True)[0]
            s = self._joint(x[idx], y[idx])
            values.append(s[~torch.eye(len(idx), dtype=torch.bool, device=s.device)])
        self.constants = fit_distribution(torch.cat(values))

    def affinity(self, idx: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        p = self.params
        s = dsdw(self._joint(x, y), self.constants, float(p["left_scales"]),
                 float(p["right_scales"]), float(p["l1"]), float(p["l2"]))
        return float(p["mu"]) * s

    def loss_terms(self, b: Batch, s: torch.Tensor,
                   extra: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
        intra = float(self.params["intra"])
        ii = code_similarity_mse(b.hx, b.hx, s)
        tt = code_similarity_mse(b.hy, b.hy, s)
        it = code_similarity_mse(b.hx, b.hy, s) + code_similarity_mse(b.hy, b.hx, s)
        paired = torch.diagonal(cosine(b.hx, b.hy)).mean()
        loss = intra * (ii + tt) + it - paired
        return {"loss": loss, "intra": ii + tt, "inter": it, "paired_agreement": paired}
