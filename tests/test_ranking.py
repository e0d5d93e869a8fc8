"""Single-query Hamming ranking on packed codes (used for the report's query latency)."""

from __future__ import annotations

import numpy as np
import pytest

from bench.metrics import hamming_distances, hamming_rank, pack_codes


@pytest.mark.parametrize("bits", [7, 64, 100])
def test_ranking_matches_brute_force(bits):
    rng = np.random.default_rng(bits)
    q = rng.choice([-1, 1], size=(5, bits))
    d = rng.choice([-1, 1], size=(300, bits))
    d[10] = d[20] = q[0]  # ties at distance 0, ranked by index
    dist = hamming_distances(pack_codes(q), pack_codes(d), bits)
    want = (q[:, None, :] != d[None, :, :]).sum(axis=2)
    assert np.array_equal(dist, want)
    order = hamming_rank(pack_codes(q)[0], pack_codes(d), bits)
    assert np.array_equal(order, np.argsort(want[0], kind="stable"))
    assert list(order[:2]) == [10, 20]
    assert np.array_equal(hamming_rank(pack_codes(q)[0], pack_codes(d), bits, top=5), order[:5])


def test_ranking_ignores_padding_and_checks_shapes():
    q, d = pack_codes(np.ones((1, 10))), pack_codes(np.ones((3, 10)))
    d[1, 0] |= np.uint64(1 << 40)  # a padding bit past the 10 code bits
    assert hamming_distances(q, d, 10).tolist() == [[0, 0, 0]]
    with pytest.raises(ValueError, match="packed uint64"):
        hamming_distances(q, d, 100)
