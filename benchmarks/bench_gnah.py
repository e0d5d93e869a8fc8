"""GNAH speed benchmark: one paper-length trial (500 epochs, 160 pairs, 32 bits).

Prints the wall-clock and CPU time of ``fit`` (target: at most 30 s CPU on 2 cores) and the
harness's mAP@all in both directions, on the default data (synthetic-scenes with the bundled
CLIP's features; generated and extracted into ``--cache-dir`` on the first run) unless
``--dataset`` says otherwise. Run: ``python benchmarks/bench_gnah.py [--threads 2]``.
By default torch and the BLAS/OpenMP pools use one thread, as in a harness trial (GNAH asks Ray
for one CPU, and Ray sets OMP_NUM_THREADS to the trial's CPUs).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dataset", default="synthetic-scenes")
    p.add_argument("--preset", default="gnah")
    p.add_argument("--budget", type=int, default=160)
    p.add_argument("--bits", type=int, default=32)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--threads", type=int, default=1,
                   help="torch and BLAS/OpenMP threads (default 1, as in a trial)")
    p.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(), "bench_gnah"))
    p.add_argument("--set", action="append", default=[], metavar="PARAM=VALUE",
                   help="override a GNAH hyperparameter, e.g. --set epochs=100")
    args = p.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    from bench import registry
    from bench.cli.parsing import parse_assignments
    from bench.plugins import FitContext
    from bench.runner.data import load_dataset, needs_encoder, prepare, with_features
    from bench.runner.trial import encode_both, evaluate_codes

    torch.set_num_threads(args.threads)
    spec = registry.methods.get("gnah")
    ds = load_dataset(args.dataset, None, args.cache_dir)
    if needs_encoder(ds):  # raw images + captions only: features of the bundled CLIP
        from bench.encoders.models import resolve_encoder

        ds = with_features(ds, spec.inputs, resolve_encoder("bundled").as_config(),
                           args.cache_dir, log=print)
    preset = registry.datasets.get(args.dataset).preset(args.preset)
    data = prepare(ds, preset, args.budget, args.seed, spec.inputs)
    params = parse_assignments(args.set, "--set")
    method = spec.load()([args.bits], params, args.seed, "cpu")
    ctx = FitContext(validation=None, seed=args.seed, device="cpu", workdir=Path(args.cache_dir),
                     log=print)

    with threadpool_limits(args.threads):  # scikit-learn's K-means
        wall, cpu = time.perf_counter(), time.process_time()
        method.fit(data.train, ctx)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu

    q, r = encode_both(method, data.query), encode_both(method, data.retrieval)
    labels = ds.items.labels
    b = args.bits
    res = evaluate_codes({m: q[m][b] for m in q}, {m: r[m][b] for m in r},
                         labels[data.query_index], labels[data.retrieval_index], (100,))
    print(f"gnah on {args.dataset}/{args.preset}: {len(data.train)} pairs, {b} bits, "
          f"{method.params['epochs']} epochs, seed {args.seed}, "
          f"{args.threads} thread(s), K={method.info[b]['k']}")
    print(f"fit: wall {wall:.1f} s, CPU {cpu:.1f} s (target <= 30 s CPU on 2 cores)")
    print(f"mAP@all: I->T {res['i2t']['map_all']:.4f}, T->I {res['t2i']['map_all']:.4f} "
          f"({len(data.query)} queries, {len(data.retrieval)} database items)")
    codes = np.concatenate([q["image"][b], q["text"][b]])
    print(f"bit balance |mean| {np.abs(codes.mean(0)).mean():.3f}")


if __name__ == "__main__":
    main()
