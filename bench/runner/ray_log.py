"""Ray's own output during a ``bench run``, kept in the run's results folder.

While the trials run through Ray, everything Ray says through Python - its log records (the
``ray`` logger: start-up notes, Tune's messages and warnings) and the output of the trials'
worker processes that Ray forwards to the driver - goes to ``<results>/logs/<run id>-ray.log``.
By default it goes only there, so the terminal shows the compact progress view; with
``verbose`` (``bench run --verbose``) it is shown as well, as Ray prints it. Lines Ray's C++
core writes straight to the process's stderr, and Ray's own session logs
(``/tmp/ray/session_*/logs``), stay where Ray puts them.
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import threading
import time
from pathlib import Path
from typing import IO, Any

LOGS = "logs"
#: the name of the handler Ray registers to print its workers' output on the driver
RAY_PRINTER = "ray_print_logs"
OURS = "bench_ray_log"


def ray_log_path(results_dir: str | Path, run_id: str) -> Path:
    return Path(results_dir) / LOGS / f"{run_id}-ray.log"


class RayOutput:
    """Ray's Python-side output into ``path`` (appended) while entered; on the terminal too
    only when ``verbose``. Ray's log records are caught from the start (ray.init's notes
    included); the workers' forwarded output from :meth:`capture_workers`, called once Ray is
    connected (``ray.init`` installs its printer)."""

    def __init__(self, path: Path, verbose: bool = False, also: tuple[str, ...] = ()):
        self.path, self.verbose, self.also = path, verbose, also  #: also: more loggers
        self._stack = contextlib.ExitStack()
        self._fh: IO[str] | None = None

    def __enter__(self) -> RayOutput:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self._stack.enter_context(open(self.path, "a", encoding="utf-8",
                                                  buffering=1))
        handler = logging.StreamHandler(self._fh)
        handler.setFormatter(logging.Formatter(
            "%(asctime)s\t%(levelname)s %(name)s %(filename)s:%(lineno)s -- %(message)s"))
        import ray  # noqa: F401 - its import installs the handlers taken off here
        import ray.tune  # noqa: F401

        for name in self.also:  # their import installs their handlers too (optuna's)
            with contextlib.suppress(ImportError):
                importlib.import_module(name)

        changed: list[tuple[logging.Logger, list[logging.Handler]]] = []
        tops = ("ray", *self.also)
        for name in [*tops, *sorted(logging.root.manager.loggerDict)]:
            logger = logging.getLogger(name)
            if name not in tops and (not name.startswith("ray.") or not logger.handlers):
                continue
            hidden = [] if self.verbose else list(logger.handlers)
            for h in hidden:
                logger.removeHandler(h)
            if name in tops or not logger.propagate:
                logger.addHandler(handler)
            changed.append((logger, hidden))

        def restore() -> None:
            for logger, hidden in changed:
                logger.removeHandler(handler)
                for h in hidden:
                    logger.addHandler(h)

        self._stack.callback(restore)
        return self

    def capture_workers(self) -> None:
        """Route the workers' forwarded output into the file (and away from the terminal
        unless ``verbose``)."""
        try:
            from ray._private.ray_logging import (
                global_worker_stdstream_dispatcher as dispatcher,
            )
        except ImportError:  # another Ray layout: its output stays on the terminal
            return
        assert self._fh is not None, "enter first"
        printers = [] if self.verbose else [(n, h) for n, h in list(dispatcher.handlers)
                                            if n == RAY_PRINTER]
        for name, _ in printers:
            dispatcher.remove_handler(name)
        dispatcher.add_handler(OURS, _WorkerLines(self._fh))

        def restore() -> None:
            dispatcher.remove_handler(OURS)
            for name, printer in printers:
                dispatcher.add_handler(name, printer)

        self._stack.callback(restore)

    def __exit__(self, *exc: Any) -> None:
        self._stack.close()


class _WorkerLines:
    """Writes a batch of a worker's forwarded output lines, prefixed as Ray prefixes them."""

    def __init__(self, fh: IO[str]):
        self.fh = fh
        self.lock = threading.Lock()

    def __call__(self, data: dict[str, Any]) -> None:
        if data.get("pid") == "autoscaler":  # its periodic status: in Ray's session logs
            return
        who = data.get("actor_name") or data.get("task_name") or ""
        prefix = f"({who + ' ' if who else ''}pid={data.get('pid')}, ip={data.get('ip')})"
        stream = "stderr" if data.get("is_err") else "stdout"
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with self.lock:
            for line in data.get("lines") or []:
                self.fh.write(f"{stamp}\t{stream} {prefix} {line}\n")
