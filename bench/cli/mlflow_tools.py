"""``bench mlflow sync|serve``: upload results whose MLflow tracking is pending; run the
tracking server of a cluster."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bench.cli.console import say


def add_parser(sub: argparse._SubParsersAction) -> None:
    m = sub.add_parser("mlflow", help="MLflow: 'sync' uploads pending results, 'serve' runs "
                                      "the tracking server of a cluster")
    what = m.add_subparsers(dest="mlflow_command", required=True)
    s = what.add_parser(
        "sync", help="log the records whose MLflow tracking is pending (the store was down); "
                     "idempotent: runs are matched by result key, run and attempt")
    s.add_argument("--results", default="results", help="results folder (default ./results)")
    s.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI (default: the one each record's run used, from "
                        "RESULTS/runs/, else sqlite:///RESULTS/mlflow.db)")
    s.add_argument("--experiment", default=None,
                   help="MLflow experiment (default: each record's run's, else 'bench')")
    s.add_argument("--all", action="store_true",
                   help="check every record against the store, not only the pending ones")
    s.set_defaults(func=sync_main)

    v = what.add_parser(
        "serve", help="run 'mlflow server' (SQLite store and served artifacts under --store, "
                      "one worker), bound to one address",
        description="Runs the MLflow tracking server in the foreground. Bind it to the head "
                    "node's address (never 0.0.0.0 unless --allow-all-interfaces). With "
                    "--basic-auth, MLflow's basic authentication is on: point "
                    "MLFLOW_AUTH_CONFIG_PATH at an ini file with [mlflow] admin_username, "
                    "admin_password, database_uri (e.g. sqlite:////shared/bench/mlflow/auth.db) "
                    "and default_permission; clients set MLFLOW_TRACKING_USERNAME and "
                    "MLFLOW_TRACKING_PASSWORD.")
    v.add_argument("--host", required=True, help="address to bind (the head node's address)")
    v.add_argument("--port", type=int, default=5000, help="port (default 5000)")
    v.add_argument("--store", required=True,
                   help="folder for mlflow.db and artifacts/ (shared storage on clusters)")
    v.add_argument("--basic-auth", action="store_true", help="MLflow basic authentication")
    v.add_argument("--allow-all-interfaces", action="store_true",
                   help="allow --host 0.0.0.0 (only with --basic-auth behind a firewall)")
    v.set_defaults(func=serve_main)


def sync_main(args: argparse.Namespace) -> int:
    from bench.mlflow_sync import sync

    report = sync(Path(args.results), args.tracking_uri, args.experiment,
                  all_records=args.all, log=say)
    lines = report.lines()
    print(lines[0])
    for line in lines[1:]:
        print(line, file=sys.stderr)
    return 1 if report.errors else 0


def serve_main(args: argparse.Namespace) -> int:
    from bench.errors import BenchError
    from bench.mlflow_server import serve

    if args.allow_all_interfaces and not args.basic_auth:
        raise BenchError("--allow-all-interfaces needs --basic-auth (an open tracking server "
                         "on every interface accepts anyone's runs)")
    serve(args.host, args.port, Path(args.store), args.basic_auth, args.allow_all_interfaces)
    return 0  # not reached: serve replaces this process
