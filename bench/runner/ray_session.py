"""Connecting to Ray - a local instance or a cluster by address - and checking, before any
trial is submitted, that the cluster can run the trials at all.

* :func:`connect` joins the cluster at ``address`` or starts a local instance (once per
  process). A cluster address is checked first and fails in one line within seconds: ``auto``
  must resolve to a running cluster, its GCS port must accept a TCP connection, and Ray's own
  connection attempt is bounded (:data:`CONNECT_WAIT_S`) with its retry log captured and turned
  into the reason (e.g. a refused authentication token). A local instance gets a watchdog
  (:mod:`bench.runner.reaper`) that stops every process of it if the driver dies.
* A local instance listens on the loopback interface only (:func:`_loopback_only`: its GCS,
  raylet, workers and agents bind 127.0.0.1, never every interface), and the token Ray
  authenticates it with is a file only its owner can read (:func:`_private_token`).
* :func:`check_feasible` refuses trials that no alive node can host (e.g. ``--gpus-per-trial 1``
  on a cluster without GPUs), naming the resource, instead of letting Tune wait forever.
* :func:`node_identity` says which Ray node the calling process runs on (records keep it).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import socket
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.files import write_private

#: seconds for the TCP probe of a cluster address, and for Ray's own connection attempt
PROBE_S = 3.0
CONNECT_WAIT_S = 5
TOKEN_HELP = ("the cluster uses token authentication: give this driver the cluster's token "
              "(RAY_AUTH_MODE=token and RAY_AUTH_TOKEN=... or RAY_AUTH_TOKEN_PATH=FILE, the "
              "same token as every node; see README, 'Running on a cluster')")


def connect(address: str | None = None, num_cpus: int | None = None) -> None:
    """Join the cluster at ``address`` or start a local instance; a one-line BenchError when
    that is impossible. Does nothing when this process is already connected."""
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    import ray

    if address and address.startswith("ray://"):
        raise BenchError(f"--address {address}: Ray Client addresses (ray://) are not "
                         "supported; give the GCS address HOST:PORT (port 6379 by default) and "
                         "run the driver on a cluster node (ray exec / ray job submit)")
    if address:
        host, port = _probe(address)
        if ray.is_initialized():
            current = ray._private.worker.global_worker.node.gcs_address
            if current != f"{host}:{port}":
                raise BenchError(f"this process is already connected to the Ray instance at "
                                 f"{current}; it cannot also join {address}")
            return
        warn_readable_token()
        _connect_cluster(address)
        return
    if ray.is_initialized():
        return
    warn_readable_token()
    try:
        with _loopback_only(), _private_token():
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=True,
                     _node_ip_address=LOOPBACK)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise BenchError(f"cannot start a local Ray instance: {_first(exc)}") from None
    from bench.runner.reaper import watch_local_instance

    watch_local_instance()


LOOPBACK = "127.0.0.1"
_warned_tokens: set[str] = set()


@contextlib.contextmanager
def _loopback_only() -> Iterator[None]:
    """While a local instance starts: Ray's switch for loopback-only nodes
    (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``), without which Ray rewrites 127.0.0.1 into the
    machine's routable address and binds its GCS, raylet and worker ports on every interface.
    The processes started meanwhile (GCS, raylet, and the workers the raylet starts) inherit
    it; this process's environment is restored afterwards."""
    from ray._private import ray_constants

    name, before = ray_constants.ENABLE_RAY_CLUSTERS_ENV_VAR, ray_constants.ENABLE_RAY_CLUSTER
    saved = os.environ.get(name)
    os.environ[name], ray_constants.ENABLE_RAY_CLUSTER = "0", False
    try:
        yield
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = before
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def token_file() -> Path | None:
    """The token file Ray reads (``RAY_AUTH_TOKEN_PATH``, else ``~/.ray/auth_token``); None
    when the token is given in ``RAY_AUTH_TOKEN``."""
    if os.environ.get("RAY_AUTH_TOKEN"):
        return None
    given = os.environ.get("RAY_AUTH_TOKEN_PATH")
    return Path(given).expanduser() if given else Path.home() / ".ray" / "auth_token"


def warn_readable_token() -> None:
    """One warning per file when the token file Ray will read is readable by other users."""
    path = token_file()
    try:
        mode = path.stat().st_mode & 0o777 if path is not None else 0
    except OSError:
        return
    if mode & 0o077 and str(path) not in _warned_tokens:
        _warned_tokens.add(str(path))
        print(f"bench: warning: the Ray token file {path} is readable by other users (mode "
              f"{mode:04o}); anyone who reads it can run code on the cluster: chmod 600 {path}",
              file=sys.stderr)


@contextlib.contextmanager
def _private_token() -> Iterator[None]:
    """While a local instance starts: Ray makes a token for it when there is none, in
    ``~/.ray/auth_token`` with the umask's mode (often world-readable). Make it first, mode
    0600; a token file Ray creates anyway is made 0600 afterwards."""
    path = token_file()
    mode = os.environ.get("RAY_AUTH_MODE", "token").lower()
    existed = path is None or path.exists()
    if not existed and mode == "token" and "RAY_AUTH_TOKEN_PATH" not in os.environ:
        with contextlib.suppress(OSError):
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            write_private(path, secrets.token_hex(32), exclusive=True)
    try:
        yield
    finally:
        if not existed and path is not None and path.exists():
            with contextlib.suppress(OSError):
                path.chmod(0o600)


def gcs_target(address: str) -> tuple[str, int]:
    """The (host, port) Ray will dial for ``address`` (``auto`` resolved, loopback rewritten
    as Ray rewrites it); a BenchError when it resolves to nothing."""
    try:
        from ray._private.services import canonicalize_bootstrap_address

        target = canonicalize_bootstrap_address(address)
    except Exception as exc:  # noqa: BLE001 - Ray raises several types for a bad address
        raise BenchError(f"--address {address}: {_first(exc)}") from None
    if target is None:
        raise BenchError(f"--address {address}: no running Ray cluster found on this machine "
                         "(RAY_ADDRESS is unset and no 'ray start --head' recorded an address)")
    host, _, port = target.rpartition(":")
    try:
        return host.strip("[]"), int(port)
    except ValueError:
        raise BenchError(f"--address {address}: not HOST:PORT") from None


def _probe(address: str) -> tuple[str, int]:
    """The address's GCS (host, port), which must accept a TCP connection."""
    host, port = gcs_target(address)
    try:
        socket.create_connection((host, port), timeout=PROBE_S).close()
    except OSError as exc:
        hint = ""
        if host != "127.0.0.1" and address.split(":")[0] in ("127.0.0.1", "localhost"):
            hint = (f" (Ray rewrites {address.split(':')[0]} to this machine's address {host}; "
                    "a cluster whose nodes use 127.0.0.1 needs "
                    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 in the driver's environment)")
        raise BenchError(f"no Ray cluster at {address}: nothing answers on {host}:{port} "
                         f"({exc.strerror or exc}){hint}") from None
    return host, port


def _connect_cluster(address: str) -> None:
    import ray

    with _bounded_wait(), _captured_stderr() as captured:
        try:
            ray.init(address=address, log_to_driver=True, logging_level="WARNING")
            return
        except Exception as exc:  # noqa: BLE001 - ConnectionError, RuntimeError, AuthenticationError
            error = exc
            log = captured.read()
    if "InvalidAuthToken" in log or "Unauthenticated" in log or "token" in str(error).lower():
        raise BenchError(f"the Ray cluster at {address} refused this driver: {TOKEN_HELP}")
    raise BenchError(f"cannot connect to the Ray cluster at {address}: {_first(error)}")


@contextlib.contextmanager
def _bounded_wait() -> Iterator[None]:
    """Ray retries a failing GCS connection once a second, 20 times by default."""
    name = "RAY_gcs_server_port_wait_time_s"
    before = os.environ.get(name)
    if before is None:
        os.environ[name] = str(CONNECT_WAIT_S)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)


class _Captured:
    def __init__(self, fh: Any):
        self._fh = fh

    def read(self) -> str:
        self._fh.seek(0)
        return self._fh.read().decode(errors="replace")


@contextlib.contextmanager
def _captured_stderr() -> Iterator[_Captured]:
    """File descriptor 2 into a temporary file (Ray's C++ core logs every retry there)."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as fh:
        saved = os.dup(2)
        os.dup2(fh.fileno(), 2)
        try:
            yield _Captured(fh)
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


# --------------------------------------------------------------------------- feasibility


def alive_nodes() -> list[dict[str, Any]]:
    import ray

    return [n for n in ray.nodes() if n.get("Alive")]


def check_feasible(requests: Iterable[tuple[str, Mapping[str, float]]], where: str) -> None:
    """Every ``(label, {"cpu": c, "gpu": g})`` must fit on one alive node of the connected
    cluster; otherwise a one-line BenchError naming the resource. ``where`` names the cluster.

    The nodes alive now count: an autoscaling cluster must already have one node of each
    kind a trial needs."""
    nodes = [n.get("Resources") or {} for n in alive_nodes()]
    most_cpu = max((float(r.get("CPU", 0)) for r in nodes), default=0.0)
    most_gpu = max((float(r.get("GPU", 0)) for r in nodes), default=0.0)
    seen: set[tuple[float, float]] = set()
    for label, req in requests:
        cpu, gpu = float(req.get("cpu", 1)), float(req.get("gpu", 0))
        if (cpu, gpu) in seen:
            continue
        seen.add((cpu, gpu))
        if any(float(r.get("CPU", 0)) >= cpu and float(r.get("GPU", 0)) >= gpu for r in nodes):
            continue
        if gpu > most_gpu:
            what = (f"{gpu:g} GPU per trial, but no node of {where} has "
                    f"{'a GPU' if most_gpu == 0 else f'{gpu:g} GPUs (at most {most_gpu:g})'}")
            fix = "lower --gpus-per-trial (0 on CPU-only clusters) or add GPU nodes"
        elif cpu > most_cpu:
            what = (f"{cpu:g} CPUs per trial, but the largest node of {where} has "
                    f"{most_cpu:g}")
            fix = "add larger nodes"
        else:
            what = (f"{cpu:g} CPUs and {gpu:g} GPUs on one node, but no node of {where} has "
                    "both")
            fix = "lower --gpus-per-trial or add such a node"
        raise BenchError(f"{label} needs {what} ({len(nodes)} node(s) alive); no trial "
                         f"could ever start: {fix}")


def node_identity() -> dict[str, str] | None:
    """{"id", "ip"} of the Ray node this process runs on; None outside Ray."""
    ray = sys.modules.get("ray")
    if ray is None or not ray.is_initialized():
        return None
    try:
        node_id = ray.get_runtime_context().get_node_id()
        ip = ray.util.get_node_ip_address()
    except Exception:  # noqa: BLE001 - identity is informative, never fatal
        return None
    return {"id": str(node_id), "ip": str(ip)}
