"""Bit packing of hash codes and label sets.

Layout: bit ``j`` of a code (column ``j``) is stored in 64-bit word ``j // 64`` at bit position
``j % 64`` (least significant bit first). Padding bits past ``n_bits`` are always zero, so the
Hamming distance of two packed codes is ``sum(popcount(a ^ b))`` over the words.

Binarisation of unpacked codes (``encoding``):

- ``"sign"``: real-valued or ±1 codes; bit = 1 where ``x >= 0``. **sign(0) is taken as +1**
  (unlike ``np.sign``/``torch.sign``, which return 0 and silently create a third code value).
- ``"binary"``: {0, 1} or bool codes; bit = 1 where ``x > 0``.
- ``"auto"`` (default): bool and unsigned integer arrays are ``"binary"``; other arrays are
  ``"sign"`` if they contain a negative value and ``"binary"`` otherwise. When a query and a
  database array are packed together (``evaluate_retrieval``), the encoding is decided once for
  both, so that a ±1 array that happens to hold no -1 is not read differently from its partner.

A set bit means the code value +1 (``unpack_codes`` returns int8 ±1).
"""

from __future__ import annotations

import numpy as np

__all__ = ["pack_codes", "unpack_codes", "pack_labels", "resolve_encoding", "popcount64"]

_ENCODINGS = ("auto", "sign", "binary")


def _check_2d(arr: np.ndarray, what: str) -> None:
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (n, n_bits), got shape {arr.shape}")


def resolve_encoding(*arrays: np.ndarray, encoding: str = "auto") -> str:
    """Return ``"sign"`` or ``"binary"`` for unpacked code arrays (see module docstring)."""
    if encoding not in _ENCODINGS:
        raise ValueError(f"encoding must be one of {_ENCODINGS}, got {encoding!r}")
    if encoding != "auto":
        return encoding
    for arr in arrays:
        if arr.dtype == np.bool_ or np.issubdtype(arr.dtype, np.unsignedinteger):
            continue
        if arr.size and np.any(arr < 0):
            return "sign"
    return "binary"


def pack_codes(codes: np.ndarray, *, encoding: str = "auto") -> np.ndarray:
    """Pack codes of shape (n, L) into uint64 words of shape (n, ceil(L / 64)).

    ±1 / real-valued codes: bit 1 where ``x >= 0`` (sign(0) = +1); {0,1} / bool codes: bit 1
    where ``x > 0``; ``encoding`` selects the rule (default ``"auto"``, see the module docstring).
    """
    arr = np.asarray(codes)
    _check_2d(arr, "codes")
    if arr.shape[1] == 0:
        raise ValueError("codes must have at least one bit")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"codes must be numeric or bool, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError("codes contain NaN or infinite values")
    enc = resolve_encoding(arr, encoding=encoding)
    bits = arr >= 0 if enc == "sign" else arr > 0
    return _pack_bool(bits)


def _pack_bool(bits: np.ndarray) -> np.ndarray:
    n, n_bits = bits.shape
    n_words = (n_bits + 63) // 64
    if n_bits == n_words * 64:
        full = np.ascontiguousarray(bits, dtype=bool)
    else:
        full = np.zeros((n, n_words * 64), dtype=bool)
        full[:, :n_bits] = bits
    packed = np.packbits(full.reshape(-1), bitorder="little").view("<u8").reshape(n, n_words)
    return np.ascontiguousarray(packed.astype(np.uint64, copy=False))


def unpack_codes(packed: np.ndarray, n_bits: int) -> np.ndarray:
    """Inverse of :func:`pack_codes`: uint64 words (n, ceil(L/64)) -> int8 ±1 codes (n, L)."""
    arr = np.asarray(packed)
    _check_2d(arr, "packed codes")
    if arr.dtype != np.uint64:
        raise ValueError(f"packed codes must be uint64, got {arr.dtype}")
    n_bits = _check_n_bits(n_bits)
    if arr.shape[1] != (n_bits + 63) // 64:
        raise ValueError(
            f"packed codes have {arr.shape[1]} words but n_bits={n_bits} needs "
            f"{(n_bits + 63) // 64}"
        )
    as_bytes = np.ascontiguousarray(arr.astype("<u8", copy=False)).view(np.uint8)
    bits = np.unpackbits(as_bytes, axis=1, count=n_bits, bitorder="little")
    return (bits.astype(np.int8) * 2 - 1).astype(np.int8)


def _check_n_bits(n_bits: object) -> int:
    if isinstance(n_bits, bool) or not isinstance(n_bits, (int, np.integer)) or n_bits < 1:
        raise ValueError(f"n_bits must be a positive integer, got {n_bits!r}")
    return int(n_bits)


def mask_padding(packed: np.ndarray, n_bits: int) -> np.ndarray:
    """Return a C-contiguous copy of packed codes with the bits past ``n_bits`` cleared."""
    out = np.array(packed, dtype=np.uint64, order="C", copy=True)
    rem = n_bits % 64
    if rem and out.shape[1]:
        out[:, -1] &= np.uint64((1 << rem) - 1)
    return out


def pack_labels(labels: np.ndarray) -> np.ndarray:
    """Pack a multi-hot label matrix (n, C) into uint64 bitmasks (n, ceil(C/64)); x > 0 is set."""
    arr = np.asarray(labels)
    _check_2d(arr, "labels")
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"labels must be numeric or bool, got dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise ValueError("labels contain NaN or infinite values")
    if arr.shape[1] == 0:
        raise ValueError("labels must have at least one class column")
    return _pack_bool(arr > 0)


_HAS_BITWISE_COUNT = hasattr(np, "bitwise_count")
_BYTE_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def popcount64(x: np.ndarray) -> np.ndarray:
    """Per-element popcount of a uint64 array, as uint8 (numpy >= 2 ufunc, else a byte table)."""
    if _HAS_BITWISE_COUNT:
        return np.bitwise_count(x)
    x = np.ascontiguousarray(x, dtype=np.uint64)
    counts = _BYTE_POPCOUNT[x.view(np.uint8)].reshape(*x.shape, 8)
    return counts.sum(axis=-1, dtype=np.uint8)
