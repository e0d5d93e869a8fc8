"""Golden values: DCHMT's loss terms against an independent transcription of the reference,
kalenforn/DCHMT@79bd5e6:

* ``train/hash_train.py:113-116``: the select layer's K softmax pairs concatenated, (B, 2K);
* ``train/hash_train.py:153-185`` (``similarity_loss``): euclidean ``torch.cdist`` distances
  (``utils/utils.py:44-52``) or 1 - cosine (``utils/utils.py:71-76``); positives d·S (cosine:
  clipped below at the threshold, minus it), negatives m·(1-S) - min(d·(1-S), m) with
  m = sqrt(2·K·vartheta) (cosine: 1·(1-S) - min(d·(1-S), 1)); l2 squares, each a (B, B) mean;
* ``train/hash_train.py:218-230`` (``our_loss``): image-text, image-image, text-text, summed;
* ``train/hash_train.py:252-254`` with ``train/base.py:74-75`` (``hash_loss``): for the linear
  layer, ½·mean_i ‖sign(h_i) - h_i‖₂ averaged over the two modalities.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _toy import FixedOutputs

from bench import registry

TOL = 1e-5


def reference_similarity_loss(a, b, label_sim, bits, p):
    """similarity_loss (train/hash_train.py:153-185) in numpy float64: (positive, negative)."""
    if p["similarity"] == "cosine":
        na = a / np.linalg.norm(a, axis=-1, keepdims=True)
        nb = b / np.linalg.norm(b, axis=-1, keepdims=True)
        similarity = 1 - na @ nb.T                                   # :159
    else:
        similarity = np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))  # cdist, p=2
    positive = similarity * label_sim                                # :161
    negative = similarity * (1 - label_sim)                          # :163
    if p["similarity"] == "cosine":
        t = p["sim_threshold"]
        positive = np.maximum(positive, t) - t                       # :166
        negative = np.minimum(negative, 1.0)                         # :167
        negative = 1.0 * (1 - label_sim) - negative                  # :168
    else:
        max_value = float(bits * 2 * p["vartheta"]) ** 0.5           # :172
        negative = np.minimum(negative, max_value)                   # :173
        negative = max_value * (1 - label_sim) - negative            # :174
    if p["loss_type"] == "l1":
        return positive.mean(), negative.mean()                      # :177-178
    return (positive ** 2).mean(), (negative ** 2).mean()            # :180-181


def reference_hash_loss(a):
    """train/base.py:74-75."""
    return np.mean(np.sqrt(np.sum((np.sign(a) - a) ** 2, axis=1))) * 0.5


def fixed_inputs(seed: int, b: int = 6, k: int = 5, layer: str = "select"):
    g = np.random.default_rng(seed)
    labels = (g.random((b, 4)) < 0.35).astype(np.float64)
    labels[np.arange(b), g.integers(0, 4, b)] = 1.0
    if layer == "select":
        def probs():
            e = np.exp(2.0 * g.normal(size=(b, k, 2)))
            return e / e.sum(-1, keepdims=True)
        return probs(), probs(), labels
    return np.tanh(g.normal(size=(b, k))), np.tanh(g.normal(size=(b, k))), labels


CASES = [
    {"hash_layer": "select", "similarity": "euclidean", "loss_type": "l2", "vartheta": 0.75},
    {"hash_layer": "select", "similarity": "euclidean", "loss_type": "l1", "vartheta": 0.5},
    {"hash_layer": "select", "similarity": "cosine", "loss_type": "l2", "sim_threshold": 0.1},
    {"hash_layer": "linear", "similarity": "euclidean", "loss_type": "l2", "vartheta": 0.75},
    {"hash_layer": "linear", "similarity": "cosine", "loss_type": "l1", "sim_threshold": 0.2},
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(str(v) for v in c.values()))
def test_loss_terms_match_the_reference(case):
    bits = 5
    h_img, h_txt, labels = fixed_inputs(3, k=bits, layer=case["hash_layer"])
    m = registry.methods.get("dchmt").load()((bits,), dict(case), 0)
    m.net = FixedOutputs(torch.tensor(h_img), torch.tensor(h_txt))
    rows = torch.arange(len(labels))
    got = m.loss_terms(rows, None, None, torch.tensor(labels))
    p = {**m.params, **case}
    image, text = h_img.reshape(len(labels), -1), h_txt.reshape(len(labels), -1)  # :114-115
    label_sim = (labels @ labels.T > 0).astype(np.float64)
    want = {}
    for name, (a, b) in {"it": (image, text), "ii": (image, image), "tt": (text, text)}.items():
        want[f"sim_{name}_pos"], want[f"sim_{name}_neg"] = reference_similarity_loss(
            a, b, label_sim, bits, p)
    if case["hash_layer"] == "linear":  # :252-254 (the select layer adds none, :263)
        want["quan"] = (reference_hash_loss(h_img) + reference_hash_loss(h_txt)) / 2
    assert set(got) == set(want)
    for key, value in want.items():
        assert float(got[key].detach()) == pytest.approx(value, abs=TOL, rel=TOL), key
    assert any(v > 0 for k, v in want.items() if k.endswith("_neg"))
    assert any(v > 0 for k, v in want.items() if k.endswith("_pos"))
