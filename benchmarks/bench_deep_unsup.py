"""Fit time per method on GNAH's protocol: the unsupervised deep baselines next to GNAH.

Fits every method once (default: 160 training pairs, the largest GNAH budget, 32 bits, seed 0)
on the default data (synthetic-scenes with the bundled CLIP's features, preset ``gnah``;
generated and extracted into ``--cache-dir`` on the first run) with one torch/BLAS thread, as a
harness trial runs (each trial asks Ray for one CPU), and prints wall and CPU time of ``fit``
side by side (model selection on the validation split included, as in a trial), with
each method's ratio to GNAH and the harness's mAP@all in both directions.

Run: ``python benchmarks/bench_deep_unsup.py [--budget all] [--methods ucch,djsrh]
[--set ucch.hidden=8192]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

METHODS = "gnah,ucch,djsrh,jdsh,dgcpn,dsah,cirh,cagan,ucmfh,cca-itq,lsh"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default=METHODS)
    p.add_argument("--dataset", default="synthetic-scenes")
    p.add_argument("--preset", default="gnah")
    p.add_argument("--budget", default="160", help="training pairs, or 'all' (the whole pool)")
    p.add_argument("--bits", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1,
                   help="torch and BLAS/OpenMP threads (default 1, as in a trial)")
    p.add_argument("--cache-dir", default=os.path.join(tempfile.gettempdir(), "bench_deep"))
    p.add_argument("--set", action="append", default=[], metavar="METHOD.PARAM=VALUE",
                   help="override a hyperparameter, e.g. --set ucch.epochs=5")
    args = p.parse_args(argv)

    import torch
    from threadpoolctl import threadpool_limits

    from bench import registry
    from bench.cli.parsing import parse_assignments
    from bench.params import method_params
    from bench.plugins import FitContext
    from bench.runner.data import load_dataset, needs_encoder, prepare, with_features
    from bench.runner.trial import encode_both, evaluate_codes, validation_score
    from bench.splits import parse_budget

    torch.set_num_threads(args.threads)
    names = [m.strip() for m in args.methods.split(",") if m.strip()]
    overrides = parse_assignments(args.set, "--set")
    budget = parse_budget(args.budget)
    ds = load_dataset(args.dataset, None, args.cache_dir)
    if needs_encoder(ds):  # raw images + captions only: features of the bundled CLIP
        from bench.encoders.models import resolve_encoder

        ds = with_features(ds, ("image_features", "text_features"),
                           resolve_encoder("bundled").as_config(), args.cache_dir, log=print)
    preset = registry.datasets.get(args.dataset).preset(args.preset)
    rows = []
    for name in names:
        spec = registry.methods.get(name)
        data = prepare(ds, preset, budget, args.seed, spec.inputs)
        method = spec.load()([args.bits], method_params(spec, overrides), args.seed, "cpu")
        ctx = FitContext(validation=data.validation, seed=args.seed, device="cpu",
                         workdir=Path(args.cache_dir), dataset=args.dataset,
                         validate=lambda m=method, d=data: validation_score(m, d),
                         log=lambda msg: None)
        with threadpool_limits(args.threads):
            wall, cpu = time.perf_counter(), time.process_time()
            method.fit(data.train, ctx)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        q, r = encode_both(method, data.query), encode_both(method, data.retrieval)
        b = args.bits
        res = evaluate_codes({m: q[m][b] for m in q}, {m: r[m][b] for m in r},
                             data.labels[data.query_index], data.labels[data.retrieval_index],
                             (100,))
        rows.append((name, len(data.train), wall, cpu, res["i2t"]["map_all"],
                     res["t2i"]["map_all"]))
        print(f"{name:8s} fit wall {wall:7.1f} s  CPU {cpu:7.1f} s  "
              f"I->T {res['i2t']['map_all']:.4f}  T->I {res['t2i']['map_all']:.4f}", flush=True)
    ref = next((r for r in rows if r[0] == "gnah"), None)
    print(f"\n{args.dataset}/{args.preset}, budget {args.budget}, {args.bits} bits, seed "
          f"{args.seed}, {args.threads} thread(s)")
    print("| method | pairs | fit wall s | fit CPU s | wall / GNAH | I→T | T→I |")
    print("|---|---|---|---|---|---|---|")
    for name, n, wall, cpu, i2t, t2i in rows:
        ratio = f"{wall / ref[2]:.2f}" if ref else "-"
        print(f"| {name} | {n} | {wall:.1f} | {cpu:.1f} | {ratio} | {i2t:.4f} | {t2i:.4f} |")


if __name__ == "__main__":
    main()
