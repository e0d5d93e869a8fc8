"""``bench mlflow serve``: the MLflow tracking server a cluster logs to, started the same way
everywhere (the cluster's head via ``cluster.yaml``, the tests, the benchmarks).

One ``mlflow server`` process bound to one address (never every interface unless asked for):
the backend store is ``<store>/mlflow.db`` (SQLite; only the server opens it) and the
artifacts are served by the server (``--serve-artifacts``) from ``<store>/artifacts``, so
workers need no access to the artifact store, only HTTP to the server. ``--workers 1`` and
``MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false`` make it start faster and leave no stray worker
processes. ``basic_auth`` turns on MLflow's basic authentication (``--app-name basic-auth``):
users and passwords live in the database named by the ini file in
``MLFLOW_AUTH_CONFIG_PATH`` (set its admin password before the first start), clients pass
theirs in ``MLFLOW_TRACKING_USERNAME`` / ``MLFLOW_TRACKING_PASSWORD`` - never in the tracking
URI, which is written into run manifests.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bench.errors import BenchError

ALL_INTERFACES = ("0.0.0.0", "::", "[::]", "*")
DEFAULT_PORT = 5000


def server_command(host: str, port: int, store: Path, basic_auth: bool = False,
                   allow_all_interfaces: bool = False) -> list[str]:
    """The ``mlflow server`` command line (see the module doc); a BenchError for an address
    that would expose it on every interface without ``allow_all_interfaces``."""
    if host.strip() in ALL_INTERFACES and not allow_all_interfaces:
        raise BenchError(f"--host {host}: that exposes the tracking server on every network "
                         "interface; bind it to the head node's address (or 127.0.0.1), or "
                         "pass --allow-all-interfaces together with --basic-auth")
    if not 0 < port < 65536:
        raise BenchError(f"--port must be from 1 to 65535, got {port}")
    store = Path(store).expanduser().resolve()
    cmd = [sys.executable, "-m", "mlflow", "server", "--host", host, "--port", str(port),
           "--workers", "1", "--backend-store-uri", f"sqlite:///{store / 'mlflow.db'}",
           "--serve-artifacts", "--artifacts-destination", str(store / "artifacts")]
    if basic_auth:
        cmd += ["--app-name", "basic-auth"]
    return cmd


def server_env() -> dict[str, str]:
    return {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


def serve(host: str, port: int, store: Path, basic_auth: bool = False,
          allow_all_interfaces: bool = False) -> None:
    """Replace this process with the server (so that its pid is the server's)."""
    cmd = server_command(host, port, store, basic_auth, allow_all_interfaces)
    store = Path(store).expanduser().resolve()
    try:
        (store / "artifacts").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BenchError(f"MLflow store {store} is not writable ({exc.strerror})") from None
    from bench.tracking import ensure_store

    ensure_store(f"sqlite:///{store / 'mlflow.db'}")  # whole, or a half one found and redone
    if basic_auth and not os.environ.get("MLFLOW_AUTH_CONFIG_PATH"):
        print("bench: warning: --basic-auth without MLFLOW_AUTH_CONFIG_PATH uses MLflow's "
              "default admin password; set your own (see 'bench mlflow serve --help')",
              file=sys.stderr)
    sys.stdout.flush()
    os.execve(cmd[0], cmd, server_env())
