"""Building blocks shared by the deep (neural) hashing plugins.

Plugins never import each other; what several of them need lives here: feature preparation
(``features``), MLP hash networks and sign codes (``nets``), similarity / affinity matrices
(``similarity``), losses (``losses``), seeded batching, optimisers and validation-based model
selection (``training``), and a base class that runs one model per code length and encodes each
item on its own (``method``). Importing this package imports torch.
"""
