"""Golden values: PromptHash's loss terms (all of them: per length the intra/inter likelihoods
and the quantisation, the auxiliary code's weighted by mu, the global and affinity-tempered local
prompt alignments, the reconstructions) against an independent transcription of the reference,
CCRG-XJU/PromptHash@6bfbe3f, ``train_asym.py`` (cited by method: the stored copy read had no line
numbers):

* ``TrainerAsym.train_epoch``: the batch's buffer rows replaced by the detached outputs, then the
  loss against the epoch's codes B = sign(ibuf + tbuf) (refreshed after the epoch);
* ``TrainerAsym.compute_loss`` / ``hash_loss_group``: S = [L_train·L_batchᵀ > 0]; per length
  weight·cls_intra·bayes(ibuf, h_i), weight·cls_intra·bayes(tbuf, h_t),
  weight·cls_inter·(bayes(ibuf, h_t) + bayes(tbuf, h_i)), weight·quan·(q(h_i) + q(h_t)), weight
  1 for the target lengths and mu for the auxiliary one; lambda·local·local_alignment(img,
  prompt, tao_local), lambda·global·global_alignment(img, txt, tao_global); per target length
  mu·recon·‖recon - B_aux‖²/batch for each modality;
* ``bayesian_loss``: s = 0.5 * (a·bᵀ).clamp(±64) (the clamp binds to the product, before the
  halving), mean(softplus(s) - S·s); ``quantization_loss_2``: squared error sum / batch / K;
* ``local_prompt_alignment_loss``: softmax rows p, q, m = ½(p + q),
  js = ½(kl_div(log p, m) + kl_div(log q, m)) (batchmean, i.e. KL(m‖p)), temperature
  τ/(1 + js) as a number, then the symmetric InfoNCE; ``global_prompt_alignment_loss``: the
  symmetric InfoNCE at τ;
* weights: ``utils/get_args.py:41-53`` and ``PromptHash_COCO.sh`` / ``PromptHash_Flickr.sh``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

TOL = 1e-5
BITS, AUX = (8, 12), 24


def log_softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def cross_entropy(logits, targets):
    return -log_softmax(logits)[np.arange(len(targets)), targets].mean()


def alignment(out_1, out_2, temperature):
    """global_prompt_alignment_loss (and the InfoNCE inside the local one)."""
    scores = out_1 @ out_2.T / temperature
    targets = np.arange(len(out_1))
    return 0.5 * (cross_entropy(scores, targets) + cross_entropy(scores.T, targets))


def local_alignment(out_1, out_2, temperature):
    """local_prompt_alignment_loss."""
    p, q = np.exp(log_softmax(out_1)), np.exp(log_softmax(out_2))
    m = 0.5 * (p + q)
    bz = len(out_1)
    kl_mp = np.sum(m * (np.log(m) - np.log(p))) / bz  # F.kl_div(p.log(), m, 'batchmean')
    kl_mq = np.sum(m * (np.log(m) - np.log(q))) / bz
    js_div = 0.5 * (kl_mp + kl_mq)
    return alignment(out_1, out_2, temperature * (1.0 / (1.0 + js_div)))


def bayesian_loss(a, b, label_sim):
    s = 0.5 * np.clip(a @ b.T, -64, 64)
    return np.mean(np.logaddexp(0.0, s) - label_sim * s)


def quantization_loss_2(h, B, k):
    return ((h - B) ** 2).sum() / h.shape[0] / k


def f32(x):
    return np.asarray(x, dtype=np.float32).astype(np.float64)


def fixed_inputs(seed: int = 0, n: int = 14, b: int = 6, d: int = 10, c: int = 4):
    g = np.random.default_rng(seed)
    lengths = (*BITS, AUX)
    out = {"hash": {m: {k: f32(np.tanh(1.5 * g.normal(size=(b, k)))) for k in lengths}
                    for m in ("image", "text")},
           "features": {m: f32(g.normal(size=(b, d))) for m in ("image", "text", "prompt")},
           "recon": {m: {k: f32(np.tanh(g.normal(size=(b, AUX)))) for k in BITS}
                     for m in ("image", "text")}}
    for m, v in out["features"].items():
        out["features"][m] = f32(v / np.linalg.norm(v, axis=1, keepdims=True))
    # buffers large enough that products leave [-64, 64]: the clamp's place matters
    ibuf = {k: f32(12.0 * g.normal(size=(n, k))) for k in lengths}
    tbuf = {k: f32(12.0 * g.normal(size=(n, k))) for k in lengths}
    labels = (g.random((n, c)) < 0.3).astype(np.float64)
    labels[np.arange(n), g.integers(0, c, n)] = 1.0
    rows = np.array([3, 11, 0, 7, 5, 9])[:b]
    return out, ibuf, tbuf, labels, rows


def reference_terms(out, ibuf, tbuf, labels, rows, w, tau_global, tau_local):
    codes = {k: np.sign(ibuf[k] + tbuf[k]) for k in ibuf}  # the epoch's B (bbuf)
    ib, tb = {k: v.copy() for k, v in ibuf.items()}, {k: v.copy() for k, v in tbuf.items()}
    for k in ib:                                           # train_epoch: buffers written first
        ib[k][rows] = out["hash"]["image"][k]
        tb[k][rows] = out["hash"]["text"][k]
    label_sim = (labels @ labels[rows].T > 0).astype(np.float64)
    terms = {}
    for k in (*BITS, AUX):                                 # compute_loss / hash_loss_group
        weight = w["mu"] if k == AUX else 1.0
        hi, ht, B = out["hash"]["image"][k], out["hash"]["text"][k], codes[k][rows]
        terms[f"intra_i_{k}"] = weight * w["intra"] * bayesian_loss(ib[k], hi, label_sim)
        terms[f"intra_t_{k}"] = weight * w["intra"] * bayesian_loss(tb[k], ht, label_sim)
        terms[f"inter_{k}"] = weight * w["inter"] * (bayesian_loss(ib[k], ht, label_sim)
                                                     + bayesian_loss(tb[k], hi, label_sim))
        terms[f"quan_{k}"] = weight * w["quan"] * (quantization_loss_2(hi, B, k)
                                                   + quantization_loss_2(ht, B, k))
    img, txt, prm = (out["features"][m] for m in ("image", "text", "prompt"))
    terms["local"] = w["lambda"] * w["local"] * local_alignment(img, prm, tau_local)
    terms["global"] = w["lambda"] * w["global"] * alignment(img, txt, tau_global)
    target = codes[AUX][rows]
    for k in BITS:
        for m, tag in (("image", "i"), ("text", "t")):
            err = ((out["recon"][m][k] - target) ** 2).sum() / len(rows)
            terms[f"recon_{tag}_{k}"] = w["mu"] * w["recon"] * err
    return terms


def to_torch(tree):
    if isinstance(tree, dict):
        return {k: to_torch(v) for k, v in tree.items()}
    return torch.tensor(tree, dtype=torch.float32)


@pytest.mark.parametrize("dataset,tau", [("coco", (0.07, 0.07)), ("mirflickr25k", (0.2, 0.05))])
def test_loss_terms_match_the_reference(dataset, tau):
    from bench.methods.prompthash.losses import CodeBuffers, loss_terms, reference_weights

    out, ibuf, tbuf, labels, rows = fixed_inputs()
    w = reference_weights(dataset)
    buffers = CodeBuffers(len(labels), (*BITS, AUX), "cpu")
    buffers.image, buffers.text = to_torch(ibuf), to_torch(tbuf)
    buffers.refresh()
    rows_t = torch.as_tensor(rows)
    out_t = to_torch(out)
    buffers.write(rows_t, out_t["hash"])
    lab = torch.tensor(labels, dtype=torch.float32)
    got = loss_terms(out_t, rows_t, lab, lab[rows_t], buffers, BITS, AUX, w, *tau)
    want = reference_terms(out, ibuf, tbuf, labels, rows, w, *tau)
    assert len(want) == 4 * 3 + 2 + 2 * 2 and set(got) == set(want)
    for key, value in want.items():
        assert float(got[key]) == pytest.approx(value, abs=TOL, rel=TOL), key
    # the clamp is exercised on the auxiliary length
    assert np.abs(ibuf[AUX] @ out["hash"]["text"][AUX].T).max() > 64


def test_reference_weights():
    """utils/get_args.py:41-53 defaults; the scripts' per-dataset overrides."""
    from bench.methods.prompthash.losses import reference_weights

    defaults = {"intra": 0.005, "inter": 5.0, "quan": 1.0, "recon": 0.005, "global": 5.0,
                "local": 5.0, "lambda": 1.0, "mu": 20.0}
    assert reference_weights("some-other-data") == defaults
    assert reference_weights("coco") == {**defaults, "inter": 20.0, "recon": 0.001}
    assert reference_weights("mirflickr25k") == {**defaults, "quan": 0.1, "recon": 0.001}
