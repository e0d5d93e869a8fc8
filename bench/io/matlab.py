"""MATLAB ``.mat`` files: v4/v5/v7 through scipy.io, v7.3 (HDF5) through h5py.

Both readers return values in MATLAB's own shape and kind, so the callers need not care which
version a file is: numeric arrays as ndarrays (v7.3 data is transposed back from HDF5's reversed
axis order), char matrices as 1-d arrays of strings (one per row), cell arrays as object arrays,
sparse matrices as dense arrays. Large arrays (e.g. DCMH's ``IAll`` pixels) can be read in slices
with :class:`MatArray` without loading the whole file.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench.errors import BenchError

_SKIP = ("#refs#", "#subsystem#")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def require_file(path: Path, what: str = "file") -> Path:
    """``path`` if it is an existing file, else a one-line error."""
    path = Path(path)
    if not path.exists():
        raise BenchError(f"{what} {path} not found")
    if not path.is_file():
        raise BenchError(f"{what} {path} is not a file")
    return path


def is_v73(path: Path) -> bool:
    """True for MATLAB v7.3 (HDF5) files, False for v4/v5/v7 files."""
    import h5py

    try:
        return bool(h5py.is_hdf5(str(path)))
    except OSError as exc:
        raise BenchError(f"{path}: cannot read ({_one_line(exc)})") from None


def _corrupt(path: Path, exc: BaseException) -> BenchError:
    return BenchError(f"{path}: cannot read it as a MATLAB file, it may be truncated or corrupt "
                      f"({type(exc).__name__}: {_one_line(exc)})")


def mat_variables(path: Path) -> dict[str, tuple[int, ...]]:
    """Variable name -> MATLAB shape, without loading the data."""
    path = require_file(Path(path), "MATLAB file")
    try:
        if is_v73(path):
            import h5py

            with h5py.File(path, "r") as f:
                return {k: tuple(reversed(f[k].shape)) if isinstance(f[k], h5py.Dataset) else ()
                        for k in f if k not in _SKIP}
        import scipy.io

        return {name: tuple(shape) for name, shape, _ in scipy.io.whosmat(str(path))}
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
        raise _corrupt(path, exc) from None


def find_key(names: Iterable[str], accepted: Sequence[str]) -> str | None:
    """The first of ``accepted`` present in ``names`` (exact match first, then any case)."""
    names = list(names)
    for key in accepted:
        if key in names:
            return key
    lower = {n.lower(): n for n in names}
    for key in accepted:
        if key.lower() in lower:
            return lower[key.lower()]
    return None


def load_mat(path: Path, keys: Sequence[str] | None = None) -> dict[str, Any]:
    """Variables ``keys`` (all when None) of a .mat file; missing keys are simply absent."""
    path = require_file(Path(path), "MATLAB file")
    try:
        if is_v73(path):
            return _load_v73(path, keys)
        import scipy.io

        data = scipy.io.loadmat(str(path), variable_names=list(keys) if keys else None)
        out = {k: v for k, v in data.items() if not k.startswith("__")}
        return {k: (v.toarray() if hasattr(v, "toarray") else v) for k, v in out.items()}
    except BenchError:
        raise
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad file
        raise _corrupt(path, exc) from None


def _attr(obj: Any, name: str) -> str:
    value = obj.attrs.get(name)
    if value is None:
        return ""
    if isinstance(value, bytes | np.bytes_):
        return value.decode("ascii", "replace")
    return str(value)


def _chars(data: np.ndarray) -> np.ndarray:
    """A v7.3 char dataset (HDF5 order) -> 1-d array of strings, one per MATLAB row."""
    arr = np.atleast_2d(np.asarray(data).T)
    if arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    rows = [row.astype("<u2").tobytes().decode("utf-16-le", "replace") for row in arr]
    return np.array(rows, dtype=str)


def _h5_value(f: Any, obj: Any) -> Any:
    import h5py

    if isinstance(obj, h5py.Group):
        if "MATLAB_sparse" in obj.attrs:
            import scipy.sparse

            n_rows = int(obj.attrs["MATLAB_sparse"])
            jc = obj["jc"][()]
            data = obj["data"][()] if "data" in obj else np.ones(len(obj["ir"]))
            mat = scipy.sparse.csc_matrix((data, obj["ir"][()], jc), shape=(n_rows, len(jc) - 1))
            return mat.toarray()
        return {k: _h5_value(f, obj[k]) for k in obj}
    cls = _attr(obj, "MATLAB_class")
    if "MATLAB_empty" in obj.attrs and int(np.asarray(obj.attrs["MATLAB_empty"]).ravel()[0]):
        return np.array([], dtype=str) if cls == "char" else np.zeros((0, 0))
    data = obj[()]
    if cls == "cell" or (isinstance(data, np.ndarray) and data.dtype == h5py.ref_dtype):
        out = np.empty(data.shape, dtype=object)
        for idx in np.ndindex(data.shape):
            out[idx] = _h5_value(f, f[data[idx]])
        return out.T
    if cls == "char":
        return _chars(data)
    if cls == "logical":
        return np.asarray(data).T.astype(bool)
    return np.asarray(data).T


def _load_v73(path: Path, keys: Sequence[str] | None) -> dict[str, Any]:
    import h5py

    with h5py.File(path, "r") as f:
        names = [k for k in f if k not in _SKIP]
        wanted = names if keys is None else [k for k in keys if k in names]
        return {k: _h5_value(f, f[k]) for k in wanted}


class MatArray:
    """One numeric variable of a .mat file, read in slices along one (MATLAB) axis.

    v7.3 files are read lazily through h5py; v5 files are loaded whole (they cannot hold more
    than 2 GB per variable anyway).
    """

    def __init__(self, path: Path, key: str):
        self.path, self.key = Path(path), key
        self._data: np.ndarray | None = None
        if is_v73(self.path):
            import h5py

            try:
                with h5py.File(self.path, "r") as f:
                    if key not in f:
                        raise BenchError(f"{self.path}: no variable {key!r}")
                    self.shape = tuple(reversed(f[key].shape))
            except BenchError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise _corrupt(self.path, exc) from None
        else:
            data = load_mat(self.path, [key])
            if key not in data:
                raise BenchError(f"{self.path}: no variable {key!r}")
            self._data = np.asarray(data[key])
            self.shape = self._data.shape

    def read(self, axis: int, start: int, stop: int) -> np.ndarray:
        """Items ``start:stop`` along MATLAB axis ``axis`` (other axes whole, MATLAB order)."""
        index: list[Any] = [slice(None)] * len(self.shape)
        index[axis] = slice(start, stop)
        if self._data is not None:
            return self._data[tuple(index)]
        import h5py

        try:
            with h5py.File(self.path, "r") as f:
                return np.asarray(f[self.key][tuple(reversed(index))]).T
        except Exception as exc:  # noqa: BLE001
            raise _corrupt(self.path, exc) from None


# -- converting MATLAB values --------------------------------------------------------------


def to_text(value: Any) -> str:
    """A char array / cell of one string / nested cell -> one stripped string."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace").strip()
    arr = np.asarray(value)
    if arr.dtype.kind in "US":
        return " ".join(str(s).strip() for s in arr.ravel()).strip()
    if arr.dtype == object:
        return " ".join(to_text(v) for v in arr.ravel()).strip()
    if arr.size == 0:
        return ""
    if arr.dtype.kind in "ui" and arr.ndim <= 2:  # a char matrix saved as codes
        return "".join(map(chr, arr.ravel().tolist())).strip()
    return str(value)


def to_string_rows(value: Any) -> list[list[str]]:
    """Strings per item: a char matrix (one row each), a cell N×1 / 1×N (one string or a cell of
    candidates each) or a cell N×K (K candidates each) -> N lists of candidate strings."""
    if isinstance(value, str):
        return [[value.strip()]]
    if isinstance(value, list | tuple):
        return [_candidates(v) for v in value]
    arr = np.asarray(value)
    if arr.dtype.kind in "US":
        return [[str(s).strip()] for s in arr.ravel()]
    if arr.dtype == object:
        if arr.ndim == 2 and min(arr.shape) > 1:
            return [[to_text(v) for v in row] for row in arr]
        return [_candidates(v) for v in arr.ravel()]
    raise BenchError(f"expected strings, found a numeric array of shape {arr.shape}")


def _candidates(value: Any) -> list[str]:
    if isinstance(value, str | bytes):
        return [to_text(value)]
    arr = np.asarray(value)
    if arr.dtype == object:
        return [to_text(v) for v in arr.ravel()]
    if arr.dtype.kind in "US" and arr.size > 1:
        return [str(s).strip() for s in arr.ravel()]
    return [to_text(arr)]


# -- writing v7.3 (tests and tools) --------------------------------------------------------

_CLASSES = {"f8": "double", "f4": "single", "u1": "uint8", "i1": "int8", "u2": "uint16",
            "i2": "int16", "u4": "uint32", "i4": "int32", "u8": "uint64", "i8": "int64"}


def write_mat73(path: Path, variables: Mapping[str, Any]) -> None:
    """Write a MATLAB v7.3 file (HDF5 with MATLAB's header, attributes and axis order).

    Values: numeric/bool arrays, strings (char rows) and lists of strings (N×1 cell arrays).
    """
    import h5py

    path = Path(path)
    with h5py.File(path, "w", userblock_size=512) as f:
        refs = None
        for name, value in variables.items():
            if isinstance(value, list | tuple):
                refs = refs if refs is not None else f.create_group("#refs#")
                ref_arr = np.empty((1, len(value)), dtype=h5py.ref_dtype)
                for i, s in enumerate(value):
                    ds = refs.create_dataset(f"{name}_{i}", data=_char_data(str(s)))
                    ds.attrs["MATLAB_class"] = np.bytes_(b"char")
                    ref_arr[0, i] = ds.ref
                ds = f.create_dataset(name, data=ref_arr)
                ds.attrs["MATLAB_class"] = np.bytes_(b"cell")
            elif isinstance(value, str):
                ds = f.create_dataset(name, data=_char_data(value))
                ds.attrs["MATLAB_class"] = np.bytes_(b"char")
            else:
                arr = np.asarray(value)
                if arr.ndim < 2:
                    arr = arr.reshape(1, -1)
                if arr.dtype == bool:
                    ds = f.create_dataset(name, data=arr.T.astype(np.uint8))
                    ds.attrs["MATLAB_class"] = np.bytes_(b"logical")
                else:
                    ds = f.create_dataset(name, data=arr.T)
                    cls = _CLASSES.get(arr.dtype.str[1:], "double")
                    ds.attrs["MATLAB_class"] = np.bytes_(cls.encode())
    header = (f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: "
              f"{time.strftime('%a %b %d %H:%M:%S %Y')} HDF5 schema 1.00 .").ljust(116).encode()
    with open(path, "r+b") as fh:
        fh.write(header + b" " * 8 + b"\x00\x02" + b"IM")


def _char_data(text: str) -> np.ndarray:
    codes = np.frombuffer(text.encode("utf-16-le"), dtype="<u2") if text else np.zeros(0, "<u2")
    return codes.reshape(-1, 1).astype(np.uint16)
