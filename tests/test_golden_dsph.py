"""Golden values: DSPH's loss terms and code-table threshold against an independent transcription
of the reference, QinLab-WFU/DSPH@078b1a1:

* ``utils/utils.py:11-70`` (``HyP.forward``): proxy terms 1 - cos over the label-1 entries /
  their count and ReLU(cos - threshold) over the label-0 entries / their count, per modality;
  for the multi-label rows (> 1 label), alpha·ReLU(cos - threshold) over the pairs sharing no
  label / their count, image-image, text-text, image-text; the sum of the seven is the loss
  (``train/hash_train.py:112``).
* ``utils/get_args.py:49-50``: threshold = ``codetable.xlsx`` row ``bits``, column
  ceil(log2 #classes), cells transcribed below with their spreadsheet references.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from _toy import FixedOutputs
from torch import nn

from bench import registry

TOL = 1e-5


def reference_hyp(x, y, proxies, label, threshold, alpha):
    """HyP.forward (utils/utils.py:20-70) in numpy float64, term by term."""
    def normalize(a):
        return a / np.linalg.norm(a, axis=1, keepdims=True)

    def relu(a):
        return np.maximum(a, 0.0)

    out = {}
    p_num = len(np.argwhere(label != 0))       # :31
    n_num = len(np.argwhere(label == 0))       # :32
    for tag, h in (("i", x), ("t", y)):
        cos = normalize(h) @ normalize(proxies).T           # :23, :27
        out[f"proxy_pos_{tag}"] = np.where(label == 1, 1 - cos, 0).sum() / p_num   # :34, :37
        out[f"proxy_neg_{tag}"] = np.where(label == 0, relu(cos - threshold),
                                           0).sum() / n_num                          # :35, :38
    index = label.sum(1) > 1                                  # :41
    lab, x_, t_ = label[index], x[index], y[index]
    cos_sim = lab @ lab.T                                     # :47
    count = len(np.argwhere(cos_sim == 0))
    for key, (a, b) in {"pair_ii": (x_, x_), "pair_tt": (t_, t_), "pair_it": (x_, t_)}.items():
        neg = alpha * relu(normalize(a) @ normalize(b).T - threshold)              # :54-60
        out[key] = np.where(cos_sim == 0, neg, 0).sum() / count if count else 0.0  # :62-64
    return out


def make_dsph(bits: int, **params):
    return registry.methods.get("dsph").load()((bits,), params, 0)


def fixed_inputs(seed: int = 0, b: int = 7, k: int = 8, c: int = 5):
    g = np.random.default_rng(seed)
    h_img = np.tanh(g.normal(size=(b, k)))
    h_txt = np.tanh(g.normal(size=(b, k)))
    proxies = g.normal(size=(c, k))
    labels = np.array([[1, 1, 0, 0, 0], [0, 0, 1, 1, 0], [1, 0, 0, 0, 0], [0, 0, 0, 1, 1],
                       [1, 0, 1, 0, 0], [0, 1, 0, 0, 1], [0, 0, 0, 0, 1]], dtype=np.float64)
    return h_img, h_txt, proxies, labels


@pytest.mark.parametrize("threshold,alpha", [(0.125, 0.8), (-0.3, 0.5), (0.0, 0.0)])
def test_loss_terms_match_the_reference_hyp(threshold, alpha):
    h_img, h_txt, proxies, labels = fixed_inputs()
    m = make_dsph(8, alpha=alpha)
    m.net = FixedOutputs(torch.tensor(h_img), torch.tensor(h_txt))
    m.proxies = nn.Parameter(torch.tensor(proxies))
    m.threshold = threshold
    rows = torch.arange(len(labels))
    got = m.loss_terms(rows, None, None, torch.tensor(labels))
    want = reference_hyp(h_img, h_txt, proxies, labels, threshold, alpha)
    assert set(got) == set(want)
    for key, value in want.items():
        assert float(got[key].detach()) == pytest.approx(value, abs=TOL, rel=TOL), key
    total = sum(float(t.detach()) for t in got.values())
    assert total == pytest.approx(sum(want.values()), rel=TOL)
    assert want["pair_it"] > 0 or alpha == 0  # the case exercises the irrelevant pairs


#: codetable.xlsx cells (row = bits + 1, column = ceil(log2 #classes) + 1 as A = 1): value.
TABLE_CELLS = {
    (16, 5): 0.0,     # F17
    (16, 6): 0.25,    # G17
    (16, 7): 0.25,    # H17
    (16, 8): 0.375,   # I17
    (32, 5): 0.0,     # F33
    (32, 7): 0.125,   # H33
    (32, 8): 0.1875,  # I33
    (64, 5): 0.0,     # F65
    (64, 7): 0.0,     # H65
    (64, 8): 0.09375,  # I65
    (128, 8): 0.0,    # I129
    (8, 5): 0.5,      # F9
    (12, 5): 1 / 3,   # F13
    (20, 5): 0.1,     # F21 (a length outside the transcribed rows: the Griesmer bound)
}


@pytest.mark.parametrize("cell,value", sorted(TABLE_CELLS.items()))
def test_threshold_matches_the_reference_code_table(cell, value):
    from bench.methods.dsph.method import code_table_threshold

    bits, m = cell
    n_classes = 2 ** m  # ceil(log2(2^m)) = m
    assert math.ceil(math.log(n_classes, 2)) == m
    assert code_table_threshold(bits, n_classes) == pytest.approx(value, abs=1e-9)
    assert code_table_threshold(bits, 2 ** (m - 1) + 1) == pytest.approx(value, abs=1e-9)
