"""MLflow logging from the driver for trials run through Ray Tune (``bench run``).

A Ray trial run with ``tracking.by_driver`` never imports or calls MLflow: it writes its record
(``tracking_state: "pending"``) and codes, keeps its per-epoch metrics next to its work folder,
and reports its end to Ray Tune. :class:`TrackingRelay`, a thread of the driver, hears that end
(a Tune callback, :meth:`TrackingRelay.callback`) and logs the record exactly as the trial would
have (one child run per trial under the run's parent run: params, tags, per-epoch metrics, final
metrics, codes and record artifacts; :class:`bench.runner.trial.TrialTracker`), then marks it
``logged``. So a warm worker pays neither MLflow's import nor its store connection, and the
driver's one client logs while the workers go on with the next trials.

The guarantees stay those of in-trial logging: nothing is logged before the record and codes
are written; an outage never fails a trial or the run (the record stays "pending" with the
error; after a failure the relay lets the next trials' records wait for
:data:`COOLDOWN_S` seconds instead of spending a bounded wait on each, and the driver's end of
run sync or ``bench mlflow sync`` uploads what is still pending).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.results import ResultStore
from bench.schema import TrialConfig

Log = Callable[[str], None]
#: after a failed upload, records wait this long (pending) before the relay tries again
COOLDOWN_S = 30.0
#: keys of a trial's last Ray Tune report: it ran to its end (finished) or its method failed
END_MARKERS = ("finished", "failed")


class TrackingRelay:
    """Logs the records of ``configs`` to MLflow from a thread of the driver, each once, in the
    order their trials end. The thread first calls ``open_parent`` (the driver's parent run,
    opened while Ray Tune starts: a new SQLite store takes seconds to create); what it returns
    (None: no tracking; ``tracking.experiment_id`` None: the store is unavailable, and every
    record stays pending) is what :meth:`close` returns."""

    def __init__(self, configs: Sequence[TrialConfig], log: Log,
                 open_parent: Callable[[], Any]):
        self._configs = {c.key: c for c in configs}
        self._log = log
        self._open_parent = open_parent
        self.parent: Any = None
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._down_until = 0.0
        self.logged: list[str] = []  #: keys whose record this relay logged
        self._thread = threading.Thread(target=self._loop, name="bench-mlflow-relay",
                                        daemon=True)
        self._thread.start()

    def submit(self, key: str) -> None:
        """The trial ``key`` ended (its record is written): log it (once)."""
        with self._lock:
            if key not in self._configs or key in self._seen:
                return
            self._seen.add(key)
        self._queue.put(key)

    def close(self, flush: bool = True) -> Any:
        """Wait for the queued records; ``flush``: first queue every other trial whose record of
        this run is still pending (a trial whose end was not heard). The parent (see the class
        doc)."""
        if flush:
            for key in list(self._configs):
                self.submit(key)
        self._queue.put(None)
        self._thread.join()
        return self.parent

    def callback(self) -> Any:
        """A Ray Tune callback that submits a trial when its last report arrives."""
        from ray.tune import Callback

        class EndOfTrial(Callback):
            def __init__(self, relay: TrackingRelay | None):
                self.relay = relay

            def __getstate__(self) -> dict[str, Any]:  # Tune saves its callbacks: not the thread
                return {"relay": None}

            def on_trial_result(self, iteration: int, trials: list, trial: Any,
                                result: dict, **info: Any) -> None:
                if self.relay is not None and any(result.get(m) for m in END_MARKERS):
                    self.relay.submit(str((trial.config.get("trial") or {}).get("key")))

        return EndOfTrial(self)

    def _loop(self) -> None:
        try:
            self.parent = self._open_parent()
        except Exception as exc:  # noqa: BLE001 - tracking never stops the run
            self._log(f"bench: warning: MLflow parent run not opened ({type(exc).__name__}: "
                      f"{exc}); the records stay 'pending'")
        tracking = getattr(self.parent, "tracking", None)
        while (key := self._queue.get()) is not None:
            if tracking is None or tracking.experiment_id is None:
                continue  # no store: the records stay pending
            try:
                self._upload(self._configs[key].with_tracking(tracking))
            except Exception as exc:  # noqa: BLE001 - tracking never stops the run
                self._log(f"bench: warning: MLflow logging of {key} failed "
                          f"({type(exc).__name__}: {exc}); its record stays 'pending'")

    def _upload(self, cfg: TrialConfig) -> None:
        from bench.runner.trial import TrialTracker

        store = ResultStore(Path(cfg.results_dir))
        record = store.read(cfg.method, cfg.dataset, cfg.key)
        if record is None or (record.run or {}).get("id") != cfg.run_id \
                or record.tracking_state != "pending" or time.time() < self._down_until:
            return  # not this run's, already logged, or the store was down a moment ago
        TrialTracker.for_record(cfg, record, self._log).finish(record, store)
        if record.tracking_state == "logged":
            self.logged.append(cfg.key)
        else:
            self._down_until = time.time() + COOLDOWN_S
