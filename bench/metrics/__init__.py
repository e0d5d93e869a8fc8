"""Audited retrieval metrics for hash codes (see ``bench.metrics.engine`` for definitions).

Public API: ``evaluate_retrieval``, ``pack_codes``, ``unpack_codes``, ``pack_labels``,
``PROTOCOL``, ``PROTOCOL_VERSION``; ``reference_evaluate`` is the slow float64 reference;
``hamming_distances`` / ``hamming_rank`` answer single queries on packed codes.
"""

from .engine import (
    BACKEND_ENV,
    PROTOCOL,
    PROTOCOL_VERSION,
    evaluate_retrieval,
    numba_available,
)
from .packing import pack_codes, pack_labels, unpack_codes
from .ranking import hamming_distances, hamming_rank
from .reference import reference_evaluate

__all__ = [
    "BACKEND_ENV",
    "PROTOCOL",
    "PROTOCOL_VERSION",
    "evaluate_retrieval",
    "hamming_distances",
    "hamming_rank",
    "numba_available",
    "pack_codes",
    "pack_labels",
    "reference_evaluate",
    "unpack_codes",
]
