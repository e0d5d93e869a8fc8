"""A real multi-node Ray cluster and a real MLflow tracking server on this one machine.

For the cluster tests and benchmarks (and for trying ``bench run --address`` without machines):
a head and N worker nodes, each its own ``ray start --block`` process with its own raylet, in
its own process group, all addressed as 127.0.0.1 on free ports, with token authentication
(a fresh token in a private file) and their own temporary folder (never ``/tmp/ray``, so that
no other Ray instance on the machine is affected and ``address="auto"`` never finds them).
Nodes and servers are stopped by process group, never by name.

Ray 2.60 rewrites a loopback address (``--node-ip-address 127.0.0.1``, ``--address
127.0.0.1:P``) into the machine's routable address, and then binds its servers on every
interface; with the node address kept at 127.0.0.1 its GCS and raylets listen on 127.0.0.1 only.
So the nodes are started through :data:`RAY_START`, which is Ray's own ``ray start`` with that
one rewrite turned off, and a driver joins with ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` in its
environment (:attr:`LocalCluster.driver_env`), Ray's documented switch for loopback-only
addresses (it refuses to start worker *nodes*, which is why the nodes use the launcher).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from bench.files import write_private

LOCALHOST = "127.0.0.1"
#: GCS health checks tuned so that a killed node is declared dead in ~3 s instead of ~30 s
FAST_HEALTH_CHECKS = {"RAY_health_check_period_ms": "1000",
                      "RAY_health_check_timeout_ms": "1000",
                      "RAY_health_check_failure_threshold": "3",
                      "RAY_health_check_initial_delay_ms": "1000"}


#: ``ray start`` that keeps a loopback node address (see the module doc)
RAY_START = ("import sys; import ray._private.services as s; s.resolve_ip_for_localhost = "
             "lambda host: host; from ray.scripts.scripts import main; "
             "sys.argv = ['ray', *sys.argv[1:]]; main()")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return int(s.getsockname()[1])


def wait_for_port(host: str, port: int, timeout: float, proc: subprocess.Popen | None = None,
                  what: str = "server") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before listening "
                               f"on {host}:{port}")
        try:
            socket.create_connection((host, port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"{what} did not listen on {host}:{port} within {timeout:.0f} s")


def stop_group(proc: subprocess.Popen, grace: float = 10.0) -> None:
    """SIGTERM the process group of ``proc`` (its own session), then SIGKILL what is left."""
    stop_groups([proc], grace)


def stop_groups(procs: list[subprocess.Popen], grace: float = 10.0) -> None:
    """:func:`stop_group` for several groups at once."""
    pgids = []
    for proc in procs:
        try:
            pgids.append(os.getpgid(proc.pid))
        except ProcessLookupError:
            proc.poll()
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        for pgid in pgids:
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and any(group_alive(g) for g in pgids):
            for proc in procs:
                proc.poll()
            time.sleep(0.2)
        pgids = [g for g in pgids if group_alive(g)]
        if not pgids:
            break
    for proc in procs:
        proc.poll()


def group_alive(pgid: int) -> bool:
    """Whether any process of process group ``pgid`` is alive (zombies do not count)."""
    return bool(group_pids(pgid))


def group_pids(pgid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()
        if fields[0] != "Z" and int(fields[2]) == pgid:
            out.append(int(entry.name))
    return out


@dataclass
class Node:
    """One ``ray start --block`` process (and, in its process group, its raylet and workers)."""

    name: str
    proc: subprocess.Popen
    log: Path

    @property
    def pgid(self) -> int:
        return self.proc.pid  # started with start_new_session: group id = its pid

    def alive(self) -> bool:
        return group_alive(self.pgid)


@dataclass
class LocalCluster:
    """A head and ``num_workers`` worker nodes, ``cpus_per_node`` CPUs each (see module doc).

    ``extra_env`` goes to every node (e.g. ``PYTHONPATH`` for plugins); :attr:`driver_env` is
    what a driver needs to connect (the token). Use as a context manager or call
    :meth:`start` / :meth:`stop`.
    """

    root: Path | None = None
    num_workers: int = 2
    cpus_per_node: int = 1
    head_cpus: int | None = None  #: default cpus_per_node (0: trials run on workers only)
    extra_env: dict[str, str] = field(default_factory=dict)
    fast_health_checks: bool = True
    start_timeout: float = 180.0
    nodes: list[Node] = field(default_factory=list)
    gcs_port: int = 0

    def __post_init__(self) -> None:
        # Unix socket paths are limited to ~107 characters: keep the temporary folder short.
        self._own_root = self.root is None
        self.root = Path(self.root or tempfile.mkdtemp(prefix="bcl-", dir="/tmp"))
        self.token_file = self.root / "auth_token"

    # -- addresses and environments
    @property
    def address(self) -> str:
        return f"{LOCALHOST}:{self.gcs_port}"

    @property
    def driver_env(self) -> dict[str, str]:
        """Environment a driver on this machine needs to join the cluster."""
        return {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(self.token_file),
                "RAY_USAGE_STATS_ENABLED": "0", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
                **self.extra_env}

    def _node_env(self, head: bool) -> dict[str, str]:
        env = {**os.environ, **self.driver_env}
        env.pop("RAY_AUTH_TOKEN", None)
        env.pop("RAY_ADDRESS", None)
        env.pop("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", None)
        if self.fast_health_checks:
            env.update(FAST_HEALTH_CHECKS)
        return env

    # -- lifecycle
    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        write_private(self.token_file, secrets.token_hex(32))
        self.gcs_port = free_port()
        try:
            self._start_node("head", head=True)
            for _ in range(self.num_workers):
                self.add_worker()
            self.wait_for_nodes(1 + self.num_workers)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_node(self, name: str, head: bool, prefix: list[str] | None = None) -> Node:
        cpus = self.cpus_per_node if not head or self.head_cpus is None else self.head_cpus
        args = [*(prefix or []), sys.executable, "-c", RAY_START, "start", "--block",
                f"--node-ip-address={LOCALHOST}", f"--num-cpus={cpus}", "--num-gpus=0",
                "--object-store-memory=100000000", "--disable-usage-stats",
                f"--node-manager-port={free_port()}", f"--object-manager-port={free_port()}",
                f"--dashboard-agent-listen-port={free_port()}",
                f"--dashboard-agent-grpc-port={free_port()}",
                f"--runtime-env-agent-port={free_port()}", f"--metrics-export-port={free_port()}"]
        if head:
            args += ["--head", f"--port={self.gcs_port}",
                     "--include-dashboard=false", f"--temp-dir={self.root / 'ray'}"]
        else:
            args += [f"--address={self.address}"]
        log = self.root / f"{name}.log"
        with open(log, "ab") as fh:
            proc = subprocess.Popen(args, env=self._node_env(head), stdout=fh,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        node = Node(name=name, proc=proc, log=log)
        self.nodes.append(node)
        # One node at a time: nodes of one machine share the session folder, and two starting
        # at once can pick the same socket and log names.
        self._wait_started(node)
        return node

    def _wait_started(self, node: Node) -> None:
        """Until ``ray start`` says the node runs (it has registered with the GCS)."""
        deadline = time.monotonic() + self.start_timeout
        while b"Ray runtime started" not in node.log.read_bytes():
            if node.proc.poll() is not None:
                raise RuntimeError(f"Ray node {node.name} exited with code "
                                   f"{node.proc.returncode}; see {node.log}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"Ray node {node.name} did not start within "
                                   f"{self.start_timeout:.0f} s; see {node.log}")
            time.sleep(0.2)

    def add_worker(self, prefix: list[str] | None = None) -> Node:
        """Start one more worker node; ``prefix`` wraps its command (e.g. ``unshare``)."""
        return self._start_node(f"worker{len(self.nodes)}", head=False, prefix=prefix)

    def kill_node(self, node: Node) -> None:
        """A node dies: SIGKILL its whole process group (``ray start``, raylet, workers)."""
        try:
            os.killpg(node.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        node.proc.wait(timeout=30)

    def stop(self, grace: float = 3.0) -> None:
        """Stop every node: SIGTERM all process groups, SIGKILL what is left after ``grace``
        seconds (Ray drains a node for up to 30 s on SIGTERM; the tests need no draining)."""
        stop_groups([node.proc for node in self.nodes], grace)
        self.nodes.clear()
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- state
    def alive_nodes(self) -> list[dict]:
        """The cluster's alive nodes as Ray reports them (asked from a short subprocess, so
        that this process never becomes a Ray driver)."""
        code = (f"import json, ray; ray.init(address={self.address!r}, log_to_driver=False, "
                "logging_level='ERROR'); print(json.dumps([{'id': n['NodeID'], 'ip': "
                "n['NodeManagerAddress'], 'resources': n['Resources']} for n in ray.nodes() "
                "if n['Alive']]))")
        env = {**os.environ, **self.driver_env}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"cannot list the nodes of {self.address}: "
                               f"{out.stderr.strip().splitlines()[-1:]}")
        return json.loads(out.stdout.strip().splitlines()[-1])

    def wait_for_nodes(self, n: int, timeout: float | None = None) -> list[dict]:
        deadline = time.monotonic() + (timeout or self.start_timeout)
        while True:
            for node in self.nodes:
                if node.proc.poll() is not None:
                    raise RuntimeError(f"Ray node {node.name} exited with code "
                                       f"{node.proc.returncode}; see {node.log}")
            alive = self.alive_nodes()
            if len(alive) >= n or time.monotonic() > deadline:
                if len(alive) < n:
                    raise TimeoutError(f"{len(alive)} of {n} Ray nodes alive after waiting")
                return alive
            time.sleep(1.0)


@dataclass
class MlflowServer:
    """A real MLflow tracking server on 127.0.0.1 (a free port), started as ``python -m bench
    mlflow serve`` (:mod:`bench.mlflow_server`: SQLite store and served artifacts under
    ``root``, one worker, no job execution) in its own process group."""

    root: Path
    port: int = 0
    host: str = LOCALHOST
    proc: subprocess.Popen | None = None
    start_timeout: float = 180.0

    @property
    def uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> MlflowServer:
        self.root = Path(self.root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        cmd = [sys.executable, "-m", "bench", "mlflow", "serve", "--host", self.host,
               "--port", str(self.port), "--store", str(self.root)]
        with open(self.root / "server.log", "ab") as fh:
            self.proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mlflow server exited with code {self.proc.returncode}; "
                                   f"see {self.root / 'server.log'}")
            try:
                with urllib.request.urlopen(f"{self.uri}/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"mlflow server at {self.uri} did not answer /health")
            time.sleep(0.3)

    def kill(self) -> None:
        """The server dies: SIGKILL its process group."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc is not None:
            stop_group(self.proc)

    def __enter__(self) -> MlflowServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
