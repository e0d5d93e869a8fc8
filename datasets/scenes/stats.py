"""Label statistics of the generated scenes, modelled on MIRFLICKR-25K.

Where the numbers come from: the 20,015 rows of 24 0/1 labels of MIRFLICKR-25K (DCMH-cleaned,
``all_labels.txt``), analysed once at development time by ``derive_stats.py`` (in this folder;
it is a development tool, never imported at run time). Nothing here reads that file: the
generator works without it.

The model. MIRFLICKR's labels form a hierarchy that holds in >99.9 % of its rows: bird, dog ->
animals; car -> transport; clouds -> sky; baby, female, male, portrait -> people; flower, tree ->
plant_life; lake, river, sea -> water. Each parent column is therefore re-coded as "parent
*without* any of its children" (its *own* occurrences), which makes the recoding invertible.
The recoded labels are modelled by a mixture of 8 independent-Bernoulli "scene archetypes"
fitted by EM (log-likelihood -6.56 nats/row). Sampling an archetype, its Bernoulli labels, then
setting every parent of a present child, and rejecting label-less rows, reproduces the real
frequencies within 0.024 (absolute), the pairwise joint frequencies within 0.024 (mean abs.
error 0.0026), the labels-per-row histogram, and the chance level of the "share at least one
label" relevance (0.568 generated vs. 0.563 real).
"""

from __future__ import annotations

import numpy as np

#: MIRFLICKR-25K's 24 concepts, in its column order.
CONCEPTS: tuple[str, ...] = (
    "animals", "baby", "bird", "car", "clouds", "dog", "female", "flower", "food", "indoor",
    "lake", "male", "night", "people", "plant_life", "portrait", "river", "sea", "sky",
    "structures", "sunset", "transport", "tree", "water",
)
INDEX = {c: i for i, c in enumerate(CONCEPTS)}

#: Real label frequencies (fraction of the 20,015 rows having each concept), for reference and
#: the tests; the generator reproduces them through the mixture below.
FREQUENCIES: tuple[float, ...] = (
    0.1323, 0.0089, 0.0322, 0.0493, 0.1614, 0.0290, 0.2305, 0.0776, 0.0406, 0.3158, 0.0352,
    0.2370, 0.1121, 0.3921, 0.3704, 0.1369, 0.0405, 0.0566, 0.3406, 0.4228, 0.0919, 0.1224,
    0.1989, 0.1441,
)

#: child -> parent (the hierarchy above).
PARENT: dict[str, str] = {
    "bird": "animals", "dog": "animals", "car": "transport", "clouds": "sky",
    "baby": "people", "female": "people", "male": "people", "portrait": "people",
    "flower": "plant_life", "tree": "plant_life",
    "lake": "water", "river": "water", "sea": "water",
}

#: Archetype weights; by their most probable labels: indoor; people outdoors among buildings;
#: clouds over landscapes; sky over buildings and trees; buildings; nature and animals;
#: (female) portraits; flowers.
MIXTURE_WEIGHTS: tuple[float, ...] = (0.222, 0.171, 0.127, 0.127, 0.123, 0.099, 0.073, 0.056)

#: P(label | archetype), columns in CONCEPTS order; parent columns are their *own* occurrences.
MIXTURE_PROBS: tuple[tuple[float, ...], ...] = (
    (0.080, 0.018, 0.015, 0.005, 0.002, 0.044, 0.150, 0.014, 0.127, 0.982, 0.002, 0.300,
     0.124, 0.031, 0.017, 0.128, 0.002, 0.002, 0.002, 0.064, 0.002, 0.022, 0.009, 0.009),
    (0.020, 0.014, 0.008, 0.088, 0.129, 0.011, 0.605, 0.034, 0.005, 0.073, 0.011, 0.709,
     0.083, 0.002, 0.107, 0.312, 0.019, 0.061, 0.273, 0.662, 0.067, 0.129, 0.259, 0.057),
    (0.016, 0.002, 0.024, 0.058, 0.977, 0.008, 0.042, 0.023, 0.002, 0.007, 0.141, 0.081,
     0.095, 0.006, 0.096, 0.002, 0.143, 0.225, 0.002, 0.583, 0.423, 0.137, 0.461, 0.030),
    (0.024, 0.002, 0.047, 0.090, 0.002, 0.011, 0.026, 0.043, 0.002, 0.013, 0.078, 0.064,
     0.259, 0.008, 0.050, 0.002, 0.109, 0.097, 0.893, 0.669, 0.188, 0.119, 0.509, 0.054),
    (0.067, 0.002, 0.028, 0.101, 0.076, 0.042, 0.071, 0.013, 0.011, 0.110, 0.002, 0.138,
     0.070, 0.018, 0.172, 0.002, 0.002, 0.002, 0.072, 0.998, 0.003, 0.075, 0.105, 0.047),
    (0.297, 0.002, 0.138, 0.013, 0.031, 0.088, 0.015, 0.002, 0.089, 0.104, 0.045, 0.038,
     0.058, 0.063, 0.414, 0.002, 0.048, 0.049, 0.057, 0.038, 0.014, 0.033, 0.104, 0.141),
    (0.013, 0.031, 0.002, 0.007, 0.002, 0.002, 0.998, 0.041, 0.005, 0.701, 0.002, 0.129,
     0.123, 0.002, 0.052, 0.744, 0.002, 0.002, 0.004, 0.078, 0.002, 0.009, 0.020, 0.010),
    (0.112, 0.002, 0.020, 0.002, 0.037, 0.014, 0.026, 0.998, 0.014, 0.123, 0.015, 0.002,
     0.035, 0.007, 0.002, 0.002, 0.004, 0.002, 0.064, 0.059, 0.007, 0.004, 0.075, 0.041),
)

_WEIGHTS = np.asarray(MIXTURE_WEIGHTS) / np.sum(MIXTURE_WEIGHTS)
_PROBS = np.asarray(MIXTURE_PROBS)
_CHILD_PARENT = [(INDEX[c], INDEX[p]) for c, p in PARENT.items()]


def sample_labels(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """One row: (multi-hot labels uint8 (24,), *own* flags of the parent concepts (24,) bool).

    ``own[p]`` says the parent concept ``p`` occurs on its own (e.g. an animal that is neither
    a dog nor a bird), which the renderer draws as the generic kind.
    """
    while True:
        k = rng.choice(len(_WEIGHTS), p=_WEIGHTS)
        own = rng.random(len(CONCEPTS)) < _PROBS[k]
        if own.any():
            break
    labels = own.astype(np.uint8)
    for child, parent in _CHILD_PARENT:
        if labels[child]:
            labels[parent] = 1
    return labels, own
