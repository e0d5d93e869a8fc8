"""Golden values of DGCPN against independent transcriptions of Atmegal/DGCPN@9f62c56
(train_div.py, train.py, models.py): the global affinity, the loss and one batch's three
updates, on fixed seeded float64 inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from bench.methods.dgcpn.method import (
    dgcpn_affinity,
    dgcpn_loss,
    dgcpn_step,
    hash_nets,
    knn_number_for,
)

TOL = 1e-5


def _l2rows(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True)


def ref_affinity(f_i: np.ndarray, f_t: np.ndarray, a1: float, a2: float, knn_number: int,
                 scale: float) -> np.ndarray:
    """train_div.py:78-103 (``cal_similarity``), row by row."""
    f_i, f_t = _l2rows(f_i), _l2rows(f_t)  # lines 46-47 and 81-84
    s_i, s_t = f_i @ f_i.T, f_t @ f_t.T
    s_pair = a1 * s_t + (1 - a1) * s_i  # line 86
    pro = f_t @ f_t.T * a1 + f_i @ f_i.T * (1.0 - a1)  # line 88
    for r in range(len(pro)):
        order = np.argsort(pro[r])  # line 91: ascending
        pro[r, order[:knn_number]] = 0.0  # lines 92-93: the knn_number smallest
        pro[r, order[-1]] = 0.0  # lines 94-95: the largest
    pro = pro / pro.sum(1).reshape(-1, 1)  # line 96
    pro_dis = pro @ pro.T * scale  # lines 97-98
    return (s_pair * (1 - a2) + pro_dis * a2) * 2.0 - 1  # lines 100-101


def ref_loss(code_i: np.ndarray, code_t: np.ndarray, s: np.ndarray, K: float, dw: float,
             cw: float) -> float:
    """train_div.py:105-131 (``loss_cal``)."""
    b_i, b_t = _l2rows(code_i), _l2rows(code_t)
    bi_bi, bt_bt, bi_bt = b_i @ b_i.T, b_t @ b_t.T, b_i @ b_t.T
    eye = np.eye(len(s))

    def mse(a: np.ndarray, b: np.ndarray) -> float:
        return float(np.mean((a - b) ** 2))

    loss_pair = mse(np.diagonal(bi_bt), K * np.ones(len(s)))  # lines 113-115
    d1 = mse(bt_bt * (1 - eye), s * (1 - eye))  # lines 117-119
    d2 = mse(bi_bt * (1 - eye), s * (1 - eye))
    d3 = mse(bi_bi * (1 - eye), s * (1 - eye))
    cons = mse(bi_bt, bi_bi) + mse(bi_bt, bt_bt) + mse(bi_bi, bt_bt) + mse(bi_bt, bi_bt.T)
    return loss_pair + (d1 + d2 + d3) * dw + cons * cw  # lines 126-127


def _features(seed: int, n: int = 12) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n, 5)), rng.random((n, 4))  # non-negative, as fc7 / BoW features


@pytest.mark.parametrize("a1,a2,knn_number,scale", [(0.01, 0.3, 7, 10.0), (0.6, 0.8, 3, 1.5),
                                                    (0.3, 0.5, 0, 4.0)])
def test_affinity_matches_reference(a1: float, a2: float, knn_number: int, scale: float) -> None:
    f_i, f_t = _features(1)
    got = dgcpn_affinity(torch.from_numpy(f_i), torch.from_numpy(f_t), a1, a2, knn_number, scale)
    want = ref_affinity(f_i, f_t, a1, a2, knn_number, scale)
    np.testing.assert_allclose(got.numpy(), want, atol=TOL, rtol=0)


def test_knn_number_and_scale_at_the_reference_size() -> None:
    """train.py:55-63: knn_number 3,000 of 5,000 (paper K = 2,000), scale 4,000."""
    assert knn_number_for(5000, 0.4) == 3000
    assert 2.0 * (5000 - knn_number_for(5000, 0.4)) == 4000
    assert knn_number_for(160, 0.4) == 96 and knn_number_for(4, 0.1) == 2  # keeps >= 2


@pytest.mark.parametrize("K,dw,cw", [(1.5, 1.0, 1.0), (1.0, 0.3, 2.0)])
def test_loss_matches_reference(K: float, dw: float, cw: float) -> None:
    rng = np.random.default_rng(2)
    ci, ct = np.tanh(rng.normal(size=(7, 6))), np.tanh(rng.normal(size=(7, 6)))
    s = rng.uniform(-1, 2, size=(7, 7))
    s = (s + s.T) / 2
    got = dgcpn_loss(torch.from_numpy(ci), torch.from_numpy(ct), torch.from_numpy(s), K, dw, cw)
    assert abs(float(got["loss"]) - ref_loss(ci, ct, s, K, dw, cw)) < TOL


class RefNet(nn.Module):
    """models.py:9-52 (ImgNet / TxtNet with alpha = 1): fc1, ReLU, dropout, fc_encode, tanh."""

    def __init__(self, d: int, hidden: int, bits: int):
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.fc_encode = nn.Linear(hidden, bits)
        self.dropout = nn.Dropout(p=0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc_encode(self.dropout(torch.relu(self.fc1(x)))))


def _ref_copy(net: nn.Module, d: int, hidden: int, bits: int) -> RefNet:
    ref = RefNet(d, hidden, bits).double()
    lin = [m for m in net.modules() if isinstance(m, nn.Linear)]
    with torch.no_grad():
        for mine, theirs in zip((ref.fc1, ref.fc_encode), lin, strict=True):
            mine.weight.copy_(theirs.weight)
            mine.bias.copy_(theirs.bias)
    return ref


def _ref_batch(net_i: RefNet, net_t: RefNet, img: torch.Tensor, txt: torch.Tensor,
               s: torch.Tensor, K: float, lr: float) -> None:
    """train_div.py:149-172 with the optimisers of lines 61-65 (two steps, then three)."""
    opt_i = torch.optim.SGD(net_i.parameters(), lr=lr, momentum=0.9, weight_decay=0.0005)
    opt_t = torch.optim.SGD(net_t.parameters(), lr=lr, momentum=0.9, weight_decay=0.0005)

    def loss_cal(code_i: torch.Tensor, code_t: torch.Tensor) -> torch.Tensor:
        b_i = code_i / code_i.norm(dim=1, keepdim=True)
        b_t = code_t / code_t.norm(dim=1, keepdim=True)
        bi_bi, bt_bt, bi_bt = b_i @ b_i.T, b_t @ b_t.T, b_i @ b_t.T
        off = 1 - torch.eye(len(s), dtype=s.dtype)
        loss = ((bi_bt.diagonal() - K) ** 2).mean()
        for m in (bt_bt, bi_bt, bi_bi):
            loss = loss + ((m * off - s * off) ** 2).mean()
        for a, b in ((bi_bt, bi_bi), (bi_bt, bt_bt), (bi_bi, bt_bt), (bi_bt, bi_bt.T)):
            loss = loss + ((a - b) ** 2).mean()
        return loss

    for _ in range(2):  # the reference's optimisers persist over batches: momentum matters
        code_i, code_t = net_i(img), net_t(txt)
        loss = loss_cal(code_i, code_t)
        opt_i.zero_grad()
        opt_t.zero_grad()
        loss.backward(retain_graph=True)
        opt_i.step()
        opt_t.step()
        code_i, code_t = net_i(img), net_t(txt)
        loss_i = loss_cal(code_i, code_t.sign().detach())
        opt_i.zero_grad()
        loss_i.backward(retain_graph=True)
        opt_i.step()
        loss_t = loss_cal(code_i.sign().detach(), code_t)
        opt_t.zero_grad()
        loss_t.backward()
        opt_t.step()


def test_two_batches_of_three_updates_match_reference() -> None:
    torch.manual_seed(0)
    dx, dy, hidden, bits, m, lr = 5, 4, 8, 6, 6, 0.05
    nets = {k: v.double() for k, v in hash_nets(dx, dy, bits, hidden, 0.5, 0.3).items()}
    ref_i, ref_t = _ref_copy(nets["image"], dx, hidden, bits), _ref_copy(nets["text"], dy,
                                                                         hidden, bits)
    f_i, f_t = _features(3, m)
    img, txt = torch.from_numpy(f_i), torch.from_numpy(f_t)
    s = torch.from_numpy(ref_affinity(f_i, f_t, 0.01, 0.3, 2, 4.0))
    opts = {k: torch.optim.SGD(n.parameters(), lr=lr, momentum=0.9, weight_decay=5e-4)
            for k, n in nets.items()}
    start = {net: [q.detach().clone() for q in net.parameters()] for net in nets.values()}
    for net in (*nets.values(), ref_i, ref_t):
        net.train()
    torch.manual_seed(7)  # the same dropout masks: both forward image then text, twice
    for _ in range(2):
        dgcpn_step(nets, opts, img, txt, s, 1.5, 1.0, 1.0)
    torch.manual_seed(7)
    _ref_batch(ref_i, ref_t, img, txt, s, 1.5, lr)
    for net, ref in ((nets["image"], ref_i), (nets["text"], ref_t)):
        got = [q.detach() for q in net.parameters()]
        want = [q.detach() for q in (ref.fc1.weight, ref.fc1.bias, ref.fc_encode.weight,
                                       ref.fc_encode.bias)]
        assert max(float((a - b).abs().max()) for a, b in zip(got, want, strict=True)) < TOL
        assert max(float((a - b).abs().max()) for a, b in zip(got, start[net], strict=True)) > 1e-3


def test_text_head_initialisation() -> None:
    """models.py:44: the text net's fc_encode weight ~ N(0, 0.3^2); the image net's default."""
    torch.manual_seed(0)
    nets = hash_nets(16, 16, 64, 512, 0.5, 0.3)
    assert abs(float(nets["text"].body[-1].weight.detach().std()) - 0.3) < 0.01
    assert float(nets["image"].body[-1].weight.detach().abs().max()) <= 512 ** -0.5
