"""Development tool: derive the label statistics of ``stats.py`` from MIRFLICKR-25K's labels.

Never imported by the generator (which must work without the file). Run by hand:

    python -m bench.datasets.scenes.derive_stats ../shared/data/mirflickr25k/all_labels.txt

It prints the frequencies, fits the 8-archetype Bernoulli mixture on the labels with each parent
re-coded to its *own* occurrences (EM, fixed seed), and compares samples of the fitted model
with the real labels (frequencies, pairwise joint frequencies, labels per row, chance level of
"shares a label" relevance).
"""

from __future__ import annotations

import sys

import numpy as np

from bench.datasets.scenes.stats import CONCEPTS, INDEX, PARENT


def own_coding(labels: np.ndarray) -> np.ndarray:
    """Parent columns set to "parent and none of its children"."""
    out = labels.astype(np.float64).copy()
    for parent in set(PARENT.values()):
        kids = [INDEX[c] for c, p in PARENT.items() if p == parent]
        out[:, INDEX[parent]] = labels[:, INDEX[parent]] * (labels[:, kids].sum(1) == 0)
    return out


def fit_mixture(data: np.ndarray, k: int, iters: int = 400, seed: int = 0
                ) -> tuple[np.ndarray, np.ndarray]:
    """EM for a mixture of independent Bernoullis; returns (weights, probabilities)."""
    rng = np.random.default_rng(seed)
    w = np.full(k, 1.0 / k)
    p = np.clip(data[rng.choice(len(data), k, replace=False)] * 0.6 + 0.2, 0.02, 0.98)
    for _ in range(iters):
        lp = data @ np.log(p).T + (1 - data) @ np.log(1 - p).T + np.log(w)
        r = np.exp(lp - lp.max(1, keepdims=True))
        r /= r.sum(1, keepdims=True)
        nk = r.sum(0)
        w = nk / len(data)
        p = np.clip((r.T @ data + 0.1) / (nk[:, None] + 0.2), 0.002, 0.998)
    return w, p


def main(path: str) -> None:
    labels = np.loadtxt(path, dtype=np.int64)
    print("FREQUENCIES =", np.round(labels.mean(0), 4).tolist())
    w, p = fit_mixture(own_coding(labels), 8)
    order = np.argsort(-w)
    print("MIXTURE_WEIGHTS =", np.round(w[order], 3).tolist())
    for row in p[order]:
        print("   ", np.round(row, 3).tolist(), ",")
    rng = np.random.default_rng(1)
    z = rng.choice(len(w), 60000, p=w / w.sum())
    x = (rng.random((60000, len(CONCEPTS))) < p[z]).astype(np.float64)
    for child, parent in PARENT.items():
        x[x[:, INDEX[child]] > 0, INDEX[parent]] = 1
    x = x[x.sum(1) > 0][:50000]
    real_joint = labels.T @ labels / len(labels)
    joint = x.T @ x / len(x)
    print("max |freq error|", np.abs(labels.mean(0) - x.mean(0)).max())
    err = np.abs(real_joint - joint)
    print("joint error max/mean", err.max(), err.mean())
    sample = rng.choice(len(labels), 1000, replace=False)
    print("chance relevance real/generated", ((labels[sample] @ labels.T) > 0).mean(),
          ((x[:1000] @ x[1000:].T) > 0).mean())


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/data/mirflickr25k/all_labels.txt")
