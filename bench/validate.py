"""`bench validate METHOD`: a quick check of a method plugin on small generated data, and
`bench validate METHOD --update-fingerprint` (see :mod:`bench.fingerprint`)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from bench import registry
from bench.errors import BenchError
from bench.fingerprint import fingerprint_problem, write_fingerprint
from bench.plugins import FitContext, PairedData


def validate_method(name: str, bits: Sequence[int] = (16, 32)) -> Iterator[str]:
    """Yields progress lines; raises BenchError on the first failed check."""
    from bench.runner.data import load_dataset, prepare
    from bench.runner.trial import encode_both, evaluate_codes

    spec = registry.methods.get(name)
    yield f"spec ok: {spec.name} v{spec.version}, {spec.supervision}, inputs {spec.inputs}"
    cls = spec.load()
    yield f"class ok: {spec.entry}"
    with tempfile.TemporaryDirectory() as tmp:
        ds = load_dataset("synthetic-features", None, tmp, {"n_items": 1200, "dim": 64})
        preset = registry.datasets.get("synthetic-features").preset("small")
        data = prepare(ds, preset, 160, 0, spec.inputs)
        if spec.supervision == "unsupervised" and data.train.labels is not None:
            raise BenchError("labels reached an unsupervised method")  # harness self-check
        bit_sets = [list(bits)] if spec.multi_bit else [[b] for b in bits]
        labels = ds.items.labels
        for bs in bit_sets:
            runs = []
            for _ in range(2):
                method = cls(bs, {}, seed=0, device="cpu")
                method.fit(data.train, FitContext(validation=data.validation, seed=0,
                                                  device="cpu", workdir=Path(tmp)))
                runs.append((encode_both(method, data.query), encode_both(method, data.retrieval)))
            for (q, r) in runs[:1]:
                for b in bs:
                    for codes in (q["image"][b], q["text"][b], r["image"][b], r["text"][b]):
                        _check_codes(codes, b)
                    res = evaluate_codes({m: q[m][b] for m in q}, {m: r[m][b] for m in r},
                                         labels[data.query_index],
                                         labels[data.retrieval_index], (50,))
                    yield (f"{b} bits: codes ok, mAP@all i2t {res['i2t']['map_all']:.4f} "
                           f"t2i {res['t2i']['map_all']:.4f}")
            same = all(np.array_equal(runs[0][i][m][b], runs[1][i][m][b])
                       for i in (0, 1) for m in ("image", "text") for b in bs)
            yield f"bits {bs}: deterministic with a fixed seed: {'yes' if same else 'NO'}"
    problem = fingerprint_problem(spec)
    yield f"fingerprint: {problem}" if problem else f"fingerprint: matches version {spec.version}"
    yield "validate: ok"


def update_fingerprint(name: str) -> str:
    """Record method ``name``'s version and source fingerprint; the line to print."""
    spec = registry.methods.get(name)
    try:
        path = write_fingerprint(spec)
    except (OSError, ValueError) as exc:
        raise BenchError(f"cannot write the fingerprint of {name!r}: {exc}") from None
    return f"bench: recorded {name} version {spec.version!r} and its source fingerprint in {path}"


def _check_codes(codes: np.ndarray, b: int) -> None:
    if not isinstance(codes, np.ndarray) or codes.ndim != 2 or codes.shape[1] != b:
        raise BenchError(f"codes must be an (n, {b}) array")
    if not np.isin(codes, (-1, 1)).all():
        raise BenchError("codes must contain only -1 and +1")


__all__ = ["validate_method", "update_fingerprint", "PairedData"]
