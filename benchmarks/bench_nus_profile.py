"""NUS-WIDE-size pipeline: time and peak memory per stage of ``lsh`` and ``cca-itq``
at 16/32/64 bits on 195,834 generated pairs with 21 labels, through ``bench run --no-ray`` and
through Ray Tune (2 concurrent trials), side by side; then the metric engine against its floor
(Hamming distances + per-query distance histograms only) on the same sizes.

    python benchmarks/bench_nus_profile.py [--n-items 195834] [--dim 512] [--cpus 2]
                                           [--skip-ray] [--data-root DIR]

The generated data stand in for NUS-WIDE (not on this machine): multi-hot labels over 21
concepts, ``dim``-d image and text features built from the labels (float32), written in the
``features`` layout of ``nus-wide-21`` and read through its plugin with the ``dcmh`` preset
(2,100 queries, 10,500 training pairs, the rest the database). ``--data-root`` uses a folder
with real NUS-WIDE files instead. Each mode runs in its own ``bench`` process, whose peak
resident memory (and the trials' own peaks per stage, from their records) is printed. The
kernel's high-water mark that ``getrusage`` reads is reset by the stage clock, so the process
peak printed is the larger of it and the trials' stage peaks.

Measured (``--skip-ray``, 2 cores shared with the coordinator's jobs, load 0.8-2.1; 6 trials:
lsh and cca-itq at 16/32/64 bits, seed 0; before = main at edcb543, after = branch speed2, run
one after the other): largest trial peak 3,530 -> 2,173 MiB (0.62x), encode step 14.6 -> 5.2 s
and 3,530 -> 2,173 MiB (features converted to float64 16,384 rows at a time instead of the
whole 192,734-item database), split step 3.2 -> 1.2 s in total (the query, validation and
retrieval views are copied once per process and seed and shared read-only by the next trials,
not copied in every trial; the first trial still makes its copy: 1,967 -> 1,944 MiB),
validation 1.9 -> 0.2 s, wall 37.9 -> 25.3 s (0.67x); codes and metrics identical.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

STAGES = ("setup", "data", "features", "split", "method", "fit", "encode", "validation",
          "evaluate", "store")


def generate(folder: Path, n: int, dim: int, n_labels: int = 21, seed: int = 0) -> Path:
    """Labels with uneven frequencies (1-3 per pair) and features = labels x projection +
    modality-specific noise, written as ``features.npz``."""
    rng = np.random.default_rng(seed)
    freq = np.sort(rng.dirichlet(np.full(n_labels, 0.7)))[::-1]
    labels = np.zeros((n, n_labels), dtype=np.uint8)
    k = 1 + np.minimum(rng.poisson(0.8, n), 2)
    for j in range(3):
        rows = np.flatnonzero(k > j)
        labels[rows, rng.choice(n_labels, size=rows.size, p=freq)] = 1
    feats = {}
    for name in ("image_features", "text_features"):
        proj = rng.standard_normal((n_labels, dim)).astype(np.float32)
        x = labels.astype(np.float32) @ proj
        x += 1.5 * rng.standard_normal((n, dim), dtype=np.float32)
        feats[name] = x
    path = folder / "features.npz"
    np.savez(path, labels=labels, **feats)
    return path


def run_bench(args: list[str]) -> tuple[float, float]:
    """Wall seconds and the peak resident MiB of the ``bench`` process (and its waited
    children: for Ray, the driver; workers are reported from the records)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True,
                          text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        print(proc.stdout[-3000:], proc.stderr[-3000:], sep="\n")
        raise SystemExit(f"bench {' '.join(args)} failed ({proc.returncode})")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def stage_table(results: Path) -> tuple[dict[str, float], dict[str, float], float]:
    """Summed seconds and the largest peak RSS per stage over the run's records."""
    from bench.results import ResultStore

    secs = dict.fromkeys(STAGES, 0.0)
    peak = dict.fromkeys(STAGES, 0.0)
    own = 0.0
    for rec in ResultStore(results).load_records():
        for name, st in (rec.timing.get("stages") or {}).items():
            secs[name] = secs.get(name, 0.0) + float(st.get("s") or 0.0)
            peak[name] = max(peak.get(name, 0.0), float(st.get("peak_rss_mib") or 0.0))
        own += sum(float(rec.timing.get(k) or 0.0)
                   for k in ("data_s", "fit_s", "encode_s", "eval_s"))
    return secs, peak, own


def engine_vs_floor(codes_file: Path, n_bits: int = 64, repeats: int = 3) -> None:
    """Engine time / floor time on one trial's own stored codes and labels (image queries vs
    the text database, the trial's seeded database order), both on one thread, interleaved
    ``repeats`` times; the fastest of each is compared. The floor (``bench_engine_floor``) uses
    the engine's own hardware popcount: ``hist[i, popcount(q ^ x)] += 1``."""
    from bench_engine_floor import engine_vs_floor as time_pair
    from bench_engine_floor import format_ratio, relevant_fraction

    from bench.results import load_codes

    z = load_codes(codes_file)
    qc, dc = z[f"q_img_{n_bits}"], z[f"r_txt_{n_bits}"]
    ql, dl = z["q_labels"], z["r_labels"]
    engines, floors, metrics = time_pair(qc, dc, ql, dl, n_bits, repeats)
    print(f"\nmetric engine vs floor ({codes_file.name}: {len(qc):,} image queries x "
          f"{len(dc):,} text database items, {n_bits} bits, {ql.shape[1]} labels, "
          f"{relevant_fraction(ql, dl):.0%} of pairs relevant; one thread; fastest of {repeats}; "
          f"load average {os.getloadavg()[0]:.1f}): " + format_ratio(engines, floors, metrics))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n-items", type=int, default=195834)
    p.add_argument("--dim", type=int, default=512)
    p.add_argument("--cpus", type=int, default=2)
    p.add_argument("--skip-ray", action="store_true")
    p.add_argument("--data-root", default=None)
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-nus-"))
    root = Path(args.data_root) if args.data_root else tmp / "nus"
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, folder {tmp}")
    if not args.data_root:
        root.mkdir()
        t = time.perf_counter()
        path = generate(root, args.n_items, args.dim)
        print(f"generated {args.n_items:,} pairs, 21 labels, {args.dim}-d features "
              f"({path.stat().st_size / 2**20:,.0f} MiB) in {time.perf_counter() - t:.1f} s")

    common = ["run", "--methods", "lsh,cca-itq", "--bits", "16,32,64", "--dataset",
              "nus-wide-21", "--data-root", str(root), "--cache-dir", str(tmp / "cache"),
              "--no-report", "--device", "cpu"]
    modes = [("--no-ray", ["--no-ray"])]
    if not args.skip_ray:
        modes.append((f"Ray, {args.cpus} CPUs", ["--num-cpus", str(args.cpus)]))
    rows = {}
    for label, extra in modes:
        out = tmp / label.split(",")[0].strip("-").replace(" ", "")
        wall, peak = run_bench([*common, "--results", str(out), *extra])
        rows[label] = (wall, peak, *stage_table(out))

    print(f"\n{'stage':<12}" + "".join(f"{m + ' s':>18}{'peak MiB':>10}" for m in rows))
    for st in STAGES:
        print(f"{st:<12}" + "".join(f"{r[2][st]:18.1f}{r[3][st]:10.0f}" for r in rows.values()))
    for label, (wall, peak, _, stage_peak, own) in rows.items():
        peak = max(peak, *stage_peak.values())
        print(f"{label}: wall {wall:.1f} s, trials' own work {own:.1f} s, peak RSS of the "
              f"bench process {peak:,.0f} MiB, largest trial peak "
              f"{max(stage_peak.values()):,.0f} MiB")
    if len(rows) == 2:
        (w0, *_), (w1, *_) = rows.values()
        print(f"Ray wall / --no-ray wall: {w1 / w0:.2f}")

    codes = sorted((tmp / "no-ray" / "codes").glob("lsh-*-b64-*.npz"))
    if codes:
        engine_vs_floor(codes[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
