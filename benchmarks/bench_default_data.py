"""Timing of the embedded default: generating the scenes, extracting features with the bundled
CLIP, and reading both back from the cache (what every trial of a sweep does).

    python benchmarks/bench_default_data.py [--n-items 10000] [--seed 0] [--threads 2]
                                            [--cache-dir DIR]

Uses a fresh temporary cache unless ``--cache-dir`` is given. Prints one line per stage and the
targets (generation of 10,000 pairs < 60 s on 2 cores).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-items", type=int, default=10000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--cache-dir", default=None)
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from bench.encoders.features import attach_features
    from bench.encoders.models import resolve_encoder
    from bench.runner import data as runner_data

    tmp = None
    if args.cache_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="bench-default-data-")
        cache = Path(tmp.name)
    else:
        cache = Path(args.cache_dir)
    opts = {"n_items": args.n_items, "seed": args.seed}
    print(f"cpu count {os.cpu_count()}, torch threads {torch.get_num_threads()}, "
          f"load average {os.getloadavg()[0]:.1f}, cache {cache}")

    t0 = time.perf_counter()
    ds = runner_data.load_dataset("synthetic-scenes", None, str(cache), opts)
    t_gen = time.perf_counter() - t0
    print(f"generate {args.n_items:,} scenes (or load them): {t_gen:.1f} s "
          f"({args.n_items / t_gen:,.0f} pairs/s)")

    encoder = resolve_encoder("bundled")
    t0 = time.perf_counter()
    with_feats = attach_features(ds, encoder, cache, log=lambda m: None, progress=False)
    t_feat = time.perf_counter() - t0
    hit = with_feats.info["features"]["cache_hit"]
    print(f"extract features with the bundled CLIP{' (cache hit)' if hit else ''}: "
          f"{t_feat:.1f} s ({args.n_items / t_feat:,.0f} pairs/s)")

    runner_data._CACHE.clear()  # as in a fresh trial process
    t0 = time.perf_counter()
    ds2 = runner_data.load_dataset("synthetic-scenes", None, str(cache), opts)
    t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    attach_features(ds2, encoder.as_config(), cache, log=lambda m: None)
    t_hit = time.perf_counter() - t0
    print(f"cache hit (what a trial does): dataset {t_load * 1000:.0f} ms, "
          f"features {t_hit * 1000:.0f} ms")
    if not hit:
        print(f"generation target < 60 s: {'PASS' if t_gen < 60 else 'FAIL'}")
    if tmp is not None:
        tmp.cleanup()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
