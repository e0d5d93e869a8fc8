"""A sweep on a 3-node Ray cluster on this machine against the same sweep run one trial at a
time on one node.

    python benchmarks/bench_cluster.py [--methods lsh,cca-itq,gnah] [--bits 16,32]
                                       [--seeds 0,1] [--workdir DIR] [--cache-dir DIR]
                                       [--serial-first]

Starts a real cluster (``bench.local_cluster``: a head and two workers, each its own raylet,
1 CPU each, token authentication, 127.0.0.1) and a real MLflow server (``bench mlflow serve``),
fills the data and feature cache once, then runs, side by side in one session:

* A: ``bench run ... --address <cluster> --tracking-uri <server>`` (3 nodes, 3 trials at once);
* B: ``bench run ... --max-concurrent 1 --tracking-uri <server>`` (a local Ray instance: one
  node, one trial at a time),

each into its own results folder and MLflow experiment, with the shared cache (A first, or B
first with ``--serial-first``: on a shared machine the load moves, so run both orders). Prints
the exact commands, wall-clock times and trials per minute, the nodes that ran A's trials (from
the records), whether A's and B's leaderboards are equal, and A's MLflow parent/child
structure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def bench(args: list[str], env: dict[str, str], log: Path) -> float:
    print("$ python -m bench " + " ".join(args), flush=True)
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        code = subprocess.run([sys.executable, "-m", "bench", *args], env=env, stdout=fh,
                              stderr=subprocess.STDOUT).returncode
    took = time.perf_counter() - t0
    if code != 0:
        sys.exit(f"exit code {code}; see {log}")
    return took


def leaderboard_rows(results: Path) -> list[dict]:
    """The long leaderboard without the measured fit time and the code's commit (provenance)."""
    import pandas as pd

    table = pd.read_csv(results / "leaderboard.csv").drop(columns=["fit_time_s", "git_commit"])
    return table.sort_values(["result_key", "bits", "direction"]).to_dict("records")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--methods", default="lsh,cca-itq,gnah")
    p.add_argument("--bits", default="16,32")
    p.add_argument("--seeds", default="0,1")
    p.add_argument("--workdir", default=None, help="keep everything here (default: a temp dir)")
    p.add_argument("--cache-dir", default=None,
                   help="data and feature cache (default WORKDIR/cache; reuse one to skip the "
                        "warm-up's work)")
    p.add_argument("--serial-first", action="store_true",
                   help="run B (one node, one at a time) before A")
    args = p.parse_args()

    from mlflow.tracking import MlflowClient

    from bench.local_cluster import LocalCluster, MlflowServer
    from bench.results import ResultStore

    work = Path(args.workdir or tempfile.mkdtemp(prefix="bench-cluster-")).resolve()
    work.mkdir(parents=True, exist_ok=True)
    cache = Path(args.cache_dir).resolve() if args.cache_dir else work / "cache"
    sweep = ["--methods", args.methods, "--bits", args.bits, "--seeds", args.seeds,
             "--cache-dir", str(cache), "--no-report"]
    print(f"cpu count {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}, workdir {work}")

    with LocalCluster(num_workers=2) as cluster, \
            MlflowServer(work / "mlflow") as server:
        env = {**os.environ, **cluster.driver_env}
        print(f"cluster {cluster.address} (3 nodes x 1 CPU), MLflow {server.uri}")
        t_warm = bench(["run", "--methods", "lsh", "--bits", "8", "--no-ray", "--tracking-uri",
                        "none", "--cache-dir", str(cache), "--no-report", "--results",
                        str(work / "warm")], env, work / "warm.log")
        print(f"warm-up (scenes and features into the cache): {t_warm:.0f} s")
        runs = {
            "a": ["run", *sweep, "--address", cluster.address, "--tracking-uri", server.uri,
                  "--experiment", "cluster-3-nodes", "--results", str(work / "a")],
            "b": ["run", *sweep, "--max-concurrent", "1", "--tracking-uri", server.uri,
                  "--experiment", "one-node-serial", "--results", str(work / "b")],
        }
        took, load = {}, {}
        for name in ("b", "a") if args.serial_first else ("a", "b"):
            load[name] = os.getloadavg()[0]
            took[name] = bench(runs[name], env, work / f"{name}.log")
        t_a, t_b, load_a, load_b = took["a"], took["b"], load["a"], load["b"]

        recs_a = ResultStore(work / "a").load_records()
        recs_b = ResultStore(work / "b").load_records()
        n = len(recs_a)
        print(f"A (3 nodes, 3 at once): {n} trials in {t_a:.0f} s = {60 * n / t_a:.2f} trials/min"
              f" (load average {load_a:.1f} at start)")
        print(f"B (1 node, 1 at a time): {len(recs_b)} trials in {t_b:.0f} s = "
              f"{60 * len(recs_b) / t_b:.2f} trials/min (load average {load_b:.1f} at start)")
        print(f"throughput A/B: {t_b / t_a:.2f}x")
        nodes = Counter((r.ray_node or {}).get("id", "?")[:12] for r in recs_a)
        print(f"A's trials per Ray node (records): {dict(nodes)}")
        same_keys = {r.key for r in recs_a} == {r.key for r in recs_b}
        by_key_b = {r.key: r for r in recs_b}
        same_metrics = same_keys and all(a.metrics == by_key_b[a.key].metrics for a in recs_a)
        md_a = (work / "a" / "leaderboard.md").read_text()
        md_b = (work / "b" / "leaderboard.md").read_text()
        csv_equal = leaderboard_rows(work / "a") == leaderboard_rows(work / "b")
        print(f"same result keys: {same_keys}; same metrics in every record: {same_metrics}; "
              f"leaderboard.md equal: {md_a == md_b}; leaderboard.csv equal (but for measured "
              f"fit times and commit): {csv_equal}")
        client = MlflowClient(server.uri)
        exp = client.get_experiment_by_name("cluster-3-nodes")
        runs = client.search_runs([exp.experiment_id], max_results=1000)
        children = [r for r in runs if r.data.tags.get("result_key")]
        parents = Counter(r.data.tags.get("mlflow.parentRunId") for r in children)
        print(f"MLflow experiment cluster-3-nodes: {len(runs) - len(children)} parent run(s), "
              f"{len(children)} trial runs, parents of the trial runs: {dict(parents)}, "
              f"statuses: {dict(Counter(r.info.status for r in runs))}")
        print(md_a)
    return 0


if __name__ == "__main__":
    sys.exit(main())
