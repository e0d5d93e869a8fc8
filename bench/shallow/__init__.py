"""Numerics shared by the classic (shallow) cross-modal hashing methods.

Plugins never import each other; what several of them need lives here: ridge-regularised
linear algebra (``linalg``), CCA and ITQ (``cca``), label similarities (``labels``), seeded
k-means anchors (``anchors``) and the base class that centres features and turns per-bit
linear maps into ±1 codes (``base``).
"""
