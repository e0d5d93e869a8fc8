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

Whether ``--host`` means every interface is decided by what it resolves to, not by its
spelling (``0``, ``0.0``, ``::0``, ``0000::``, ``[::]``, ``::ffff:0.0.0.0`` or a host name
that resolves to ``0.0.0.0`` are all the unspecified address): such a host is refused unless
both ``allow_all_interfaces`` and ``basic_auth`` are given.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from pathlib import Path

from bench.errors import BenchError

DEFAULT_PORT = 5000
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def host_addresses(host: str) -> list[Address]:
    """Every address a server bound to ``host`` may listen on: the literal address (brackets,
    a scope and a trailing dot allowed), else what ``getaddrinfo`` resolves it to; ``*`` and
    an empty host are every interface. A one-line BenchError when it resolves to nothing."""
    name = host.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if name in ("", "*"):
        return [ipaddress.IPv4Address("0.0.0.0")]
    found: list[Address] = []
    for candidate in dict.fromkeys((name, name.rstrip("."))):
        try:
            found.append(ipaddress.ip_address(candidate))
            continue
        except ValueError:
            pass
        try:
            infos = socket.getaddrinfo(candidate, None, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            continue
        found += [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    if not found:
        raise BenchError(f"--host {host}: does not resolve to an address of this machine")
    return found


def is_unspecified(address: Address) -> bool:
    """``0.0.0.0``, ``::`` or the IPv4-mapped ``::ffff:0.0.0.0``: every interface."""
    mapped = getattr(address, "ipv4_mapped", None)
    return address.is_unspecified or (mapped is not None and mapped.is_unspecified)


def binds_all_interfaces(host: str) -> bool:
    """True when a server bound to ``host`` listens on every interface (see the module doc)."""
    return any(is_unspecified(a) for a in host_addresses(host))


def server_command(host: str, port: int, store: Path, basic_auth: bool = False,
                   allow_all_interfaces: bool = False) -> list[str]:
    """The ``mlflow server`` command line (see the module doc); a BenchError for an address
    that would expose it on every interface without ``allow_all_interfaces``."""
    if binds_all_interfaces(host) and not (allow_all_interfaces and basic_auth):
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
