"""The classic baselines as a suite: mAP, fit time and (with --isolate) peak memory per method.

    python benchmarks/bench_classic_suite.py                       # default data (synthetic-scenes)
    python benchmarks/bench_classic_suite.py --dataset synthetic-features \\
        --dataset-opt n_items=20015 --budgets 10000                # MIRFLICKR-25K-sized features
    python benchmarks/bench_classic_suite.py --dataset synthetic-features \\
        --dataset-opt n_items=195834 --budgets 10500 --bits 16 --isolate   # NUS-WIDE-sized

Without ``--isolate`` one ``bench run`` (Ray Tune, real trials) runs every method; with it,
each method runs in its own ``bench run --no-ray`` process, whose peak resident memory
(``wait4`` rusage) is reported: two concurrent trials need at most the two largest peaks.
BLAS uses one thread per trial, as Ray's trial environment does. Prints a markdown table of
mAP@all per direction and bit length, fit and encode time per method (summed over its
trials), and the wall time of the whole suite.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

SUITE = ("lsh", "cca-itq", "cca", "cvh", "imh", "cmfh", "lssh", "fsh", "scm-orth", "scm-seq",
         "seph-rnd", "seph-km", "cmssh")


def run(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, peak RSS GiB) of one child process."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    print("$", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{cmd[4]}: exit code {proc.returncode}")
    return time.perf_counter() - t0, usage.ru_maxrss / 2 ** 20


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default=",".join(SUITE))
    p.add_argument("--dataset", default="synthetic-scenes")
    p.add_argument("--dataset-opt", action="append", default=[])
    p.add_argument("--preset", default=None)
    p.add_argument("--budgets", default=None)
    p.add_argument("--bits", default="16,32,64")
    p.add_argument("--results", type=Path, default=None)
    p.add_argument("--isolate", action="store_true", help="one process per method (peak RSS)")
    p.add_argument("--force", action="store_true", help="redo finished trials")
    p.add_argument("--collect", action="store_true",
                   help="run nothing: tabulate what --results already holds (peaks.json too)")
    args = p.parse_args()
    results = (args.results or Path(tempfile.mkdtemp(prefix="bench-classic-"))).resolve()
    base = [sys.executable, "-m", "bench", "run", "--dataset", args.dataset, "--bits", args.bits,
            "--results", str(results)]
    for opt in args.dataset_opt:
        base += ["--dataset-opt", opt]
    if args.preset:
        base += ["--preset", args.preset]
    if args.budgets:
        base += ["--budgets", args.budgets]
    if args.force:
        base.append("--force")
    methods = args.methods.split(",")
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, "
          f"results {results}", flush=True)
    peaks: dict[str, tuple[float, float]] = {}
    t0 = time.perf_counter()
    if args.collect:
        if (results / "peaks.json").exists():
            kept = json.loads((results / "peaks.json").read_text())
            peaks = {k: tuple(v) for k, v in kept.items()}
    elif args.isolate:
        for m in methods:
            peaks[m] = run(base[:4] + ["--methods", m] + base[4:] + ["--no-ray"])
            (results / "peaks.json").write_text(json.dumps(peaks, indent=1))  # kept as it goes
    else:
        run(base[:4] + ["--methods", ",".join(methods)] + base[4:])
    wall = time.perf_counter() - t0

    from bench.results import ResultStore

    bits = [int(b) for b in args.bits.split(",")]
    rows: dict[str, dict] = {}
    n_train = "no"
    for r in (rec.to_json() for rec in ResultStore(results).load_records()):
        if r["method"] not in methods or r["status"] != "finished":
            continue
        row = rows.setdefault(r["method"], {"fit": 0.0, "encode": 0.0, "n_used": set()})
        row["fit"] += r["timing"]["fit_s"]
        row["encode"] += r["timing"]["encode_s"]
        row["n_used"].add(r["n_train_used"])
        n_train = r["n_train"]
        for b, per in r["metrics"].items():
            for d in ("i2t", "t2i"):
                row[f"{d}_{b}"] = per[d]["map_all"]
    cols = [f"{d} {b}" for d in ("I→T", "T→I") for b in bits]
    extra = " | peak RSS GiB | process wall s" if args.isolate else ""
    how = "one process per method" if args.isolate else "Ray Tune, 2 CPUs"
    wall_text = "not measured (--collect)" if args.collect else f"{wall:.0f} s ({how})"
    print(f"\n{args.dataset} {' '.join(args.dataset_opt)}, {n_train} training pairs, bits "
          f"{args.bits}; suite wall {wall_text}, "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| method | pairs used | " + " | ".join(cols) + " | fit s | encode s" + extra + " |")
    print("|---|---|" + "---|" * (len(cols) + 2 + (2 if args.isolate else 0)))
    for m in methods:
        if m not in rows:
            print(f"| {m} | not finished |" + " |" * (len(cols) + 2 + (2 if args.isolate else 0)))
            continue
        row = rows[m]
        cells = [f"{row[f'{d}_{b}']:.4f}" if f"{d}_{b}" in row else "—"
                 for d in ("i2t", "t2i") for b in bits]
        tail = ((f" | {peaks[m][1]:.2f} | {peaks[m][0]:.0f}" if m in peaks else " | | ")
                if args.isolate else "")
        used = ",".join(str(u) for u in sorted(row["n_used"]))
        print(f"| {m} | {used} | " + " | ".join(cells)
              + f" | {row['fit']:.1f} | {row['encode']:.1f}{tail} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
