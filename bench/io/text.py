"""Text files (LF, CRLF or CR line endings; UTF-8 with a Latin-1 fallback), label matrices in
text form, tag lists and bag-of-words vectors."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.io.matlab import require_file


def read_text(path: Path, what: str = "file") -> str:
    """The whole file as text (a UTF-8 BOM is dropped; bytes that are not UTF-8 -> Latin-1)."""
    path = require_file(Path(path), what)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BenchError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_lines(path: Path, what: str = "file") -> list[str]:
    """Lines without their end-of-line characters; empty lines at the very end are dropped."""
    lines = read_text(path, what).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def parse_matrix_lines(lines: Sequence[str], path: Path, what: str = "labels") -> np.ndarray:
    """Rows of numbers separated by spaces, tabs or commas -> a 2-d float array.

    Every row must have the same number of values (a short last row means a truncated file).
    """
    if not lines:
        raise BenchError(f"{path}: the {what} file is empty")
    rows = [re.split(r"[\s,;]+", line.strip()) if line.strip() else [] for line in lines]
    width = len(rows[0])
    for i, row in enumerate(rows):
        if len(row) != width:
            hint = " (truncated file?)" if i == len(rows) - 1 else ""
            raise BenchError(f"{path} line {i + 1}: {len(row)} values, expected {width} like "
                             f"line 1{hint}")
    try:
        return np.array([v for row in rows for v in row], dtype=np.float64).reshape(-1, width)
    except ValueError:
        for i, row in enumerate(rows):
            try:
                [float(v) for v in row]
            except ValueError:
                raise BenchError(f"{path} line {i + 1}: not a row of numbers: "
                                 f"{lines[i][:60]!r}") from None
        raise


def split_tags(line: str, sep: str | None) -> list[str]:
    """Tags of one line: ``sep`` (None: commas if the line has any, else whitespace)."""
    text = line.strip()
    if not text:
        return []
    if sep is None:
        sep = "," if "," in text else None
    return [t.strip() for t in text.split(sep) if t.strip()]


def guess_tag_separator(lines: Sequence[str]) -> str | None:
    """"," when any line of the file holds a comma, else None (whitespace)."""
    return "," if any("," in line for line in lines) else None


_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")

#: A small English stop-word list for caption bag-of-words.
STOP_WORDS = frozenset(
    "a an the and or but of to in on at by for with from into onto over under up down out off "
    "is are was were be been being has have had do does did it its this that these those there "
    "here some while as near next top front other another his her their them they he she we you "
    "i me my our your who whom which what where when how very can will just two one three four "
    "several many few each".split()
)


def tokenize(text: str, stop_words: frozenset[str] = STOP_WORDS) -> list[str]:
    """Lower-cased alphanumeric words of ``text`` without stop words."""
    return [w for w in _TOKEN.findall(text.lower()) if w not in stop_words]


def build_vocabulary(docs: Sequence[Sequence[str]], size: int | None = None,
                     min_count: int = 1) -> list[str]:
    """The ``size`` most frequent terms (document frequency; ties broken alphabetically)."""
    df = Counter(t for doc in docs for t in set(doc))
    terms = sorted((t for t, c in df.items() if c >= min_count), key=lambda t: (-df[t], t))
    return terms[:size] if size else terms


def bag_of_words(docs: Sequence[Sequence[str]], vocabulary: Sequence[str],
                 binary: bool = True) -> tuple[np.ndarray, int]:
    """(N, len(vocabulary)) float32 term presence (or counts) and the number of dropped terms."""
    index = {t: j for j, t in enumerate(vocabulary)}
    rows, cols, unknown = [], [], 0
    for i, doc in enumerate(docs):
        for t in doc:
            j = index.get(t)
            if j is None:
                unknown += 1
            else:
                rows.append(i)
                cols.append(j)
    out = np.zeros((len(docs), len(vocabulary)), dtype=np.float32)
    if binary:
        out[rows, cols] = 1.0
    else:
        np.add.at(out, (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)), 1.0)
    return out, unknown
