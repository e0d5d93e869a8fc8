"""Persistent Optuna studies: one per search cell, in an RDB storage (SQLite inside the results
folder by default, any SQLAlchemy URL Optuna accepts with ``--storage``).

A study carries its cell definition (user attribute ``cell``): a rerun of the same command
finds it by name and continues it; a study name that exists with another definition is refused.
Trials count towards ``--trials`` when they finished, were pruned or failed; trials a killed or
interrupted driver left ``RUNNING`` are marked failed with ``interrupted=True`` and do not count,
so the rerun replaces them. While a driver works on a study it says so (user attribute
``active``), and a second driver on the same host refuses to touch it while the first is alive.

:func:`write_outputs` writes ``trials.csv``, ``best_params.json`` and the optimisation-history
and parameter-importance plots (Optuna's matplotlib visualisation) into the study's folder.
"""

from __future__ import annotations

import json
import os
import platform
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from bench.errors import BenchError
from bench.files import atomic_write, atomic_write_bytes, sqlite_file, sqlite_url, url_scheme
from bench.schema import canonical_json, digest

STORAGE_FILE = "optuna.db"
RDB_SCHEMES = ("sqlite", "postgresql", "mysql", "oracle", "mssql")
Log = Callable[[str], None]


def default_storage(results_dir: Path) -> str:
    return sqlite_url(Path(results_dir) / "tune" / STORAGE_FILE)


def check_storage_url(url: str) -> None:
    """A one-line BenchError for a URL that is no RDB storage URL."""
    if "://" not in url or url_scheme(url) not in RDB_SCHEMES:
        raise BenchError(f"--storage {url!r}: not an Optuna RDB storage URL (expected "
                         "sqlite:///ABS/PATH.db or postgresql://USER@HOST/DB, ...)")


def shown_url(url: str) -> str:
    """``url`` without a password (for records, logs and MLflow)."""
    head, sep, tail = url.partition("://")
    if not sep or "@" not in tail.split("/", 1)[0]:
        return url
    creds, _, rest = tail.partition("@")
    return f"{head}://{creds.split(':', 1)[0]}:***@{rest}"


def open_storage(url: str, create: bool = True) -> Any:
    """The Optuna RDB storage at ``url`` (None when ``create`` is false and its SQLite file does
    not exist yet, so that nothing is written)."""
    import optuna

    path = sqlite_file(url)
    if path is not None:
        if not create and not path.exists():
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {"connect_args": {"timeout": 60}} if path is not None else {}
    for attempt in range(3):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except Exception as exc:  # noqa: BLE001 - SQLAlchemy/driver errors of many types
            # another process (a second driver, optuna-dashboard) may be creating the tables
            # at this moment: the next attempt finds them
            if attempt < 2 and type(exc).__name__ in ("IntegrityError", "OperationalError"):
                time.sleep(1.0 + attempt)
                continue
            raise BenchError(f"cannot open the Optuna storage {shown_url(url)}: "
                             f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}") from None
    raise AssertionError("unreachable")


def find_study(storage: Any, name: str) -> Any | None:
    import optuna

    if storage is None:
        return None
    try:
        return optuna.load_study(study_name=name, storage=storage)
    except KeyError:
        return None


def differing(stored: Mapping[str, Any], current: Mapping[str, Any],
              ignore: Sequence[str] = ()) -> list[str]:
    """Top-level fields (``definition.x`` one level down) whose values differ."""
    out = []
    for key in sorted(set(stored) | set(current)):
        if key in ignore:
            continue
        a, b = stored.get(key), current.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += [f"{key}.{k}" for k in differing(a, b, ignore)]
        elif canonical_json(a) != canonical_json(b):
            out.append(key)
    return out


def check_cell(study: Any, cell: Mapping[str, Any], ignore: Sequence[str] = ()) -> None:
    """A one-line BenchError when ``study`` was made for another cell definition."""
    stored = study.user_attrs.get("cell")
    if stored is None:
        raise BenchError(f"study {study.study_name!r} exists but was not made by bench tune "
                         "(no cell definition); choose another --study name")
    diff = differing(stored, cell, ignore)
    if diff:
        raise BenchError(f"study {study.study_name!r} exists with another cell definition "
                         f"(differs in {', '.join(diff[:6])}{' ...' if len(diff) > 6 else ''}); "
                         "choose another --study name, or leave --study out")


def create_study(storage: Any, name: str, cell: Mapping[str, Any]) -> Any:
    import optuna

    study = optuna.create_study(study_name=name, storage=storage, direction="maximize",
                                load_if_exists=True)
    if "cell" not in study.user_attrs:
        study.set_user_attr("cell", json.loads(canonical_json(cell)))
        study.set_user_attr("cell_digest", digest(cell))
        study.set_user_attr("created", time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    return study


# --------------------------------------------------------------------------- one driver at a time


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_CLAIMS: dict[str, Any] = {}  #: study name -> the lock this process holds on it


def claim(study: Any, run_id: str, log: Log, folder: Path | None = None) -> None:
    """Mark ``study`` as worked on by this process; refuse when another live process on this
    host does (a driver on another host is only warned about: its liveness is unknown). With
    ``folder`` (the study's folder) the claim is first an exclusive lock on
    ``folder/claim.lock`` (:class:`bench.locks.FileLock`, released when this process ends),
    so two drivers starting together cannot both claim it."""
    if folder is not None:
        from bench.locks import FileLock, describe

        lock = FileLock(Path(folder) / "claim.lock", {"run_id": run_id})
        if not lock.acquire(wait=False):
            raise BenchError(f"study {study.study_name!r} is being searched by "
                             f"{describe(lock.owner())}; wait for it to finish or stop it "
                             "first")
        _CLAIMS[study.study_name] = lock
        study.set_user_attr("active", {"run_id": run_id, "host": platform.node(),
                                       "pid": os.getpid(), "since": time.strftime("%H:%M:%S")})
        return
    active = study.user_attrs.get("active") or {}
    if active and active.get("run_id") != run_id:
        host, pid = active.get("host"), int(active.get("pid") or 0)
        if host == platform.node() and pid and pid != os.getpid() and _alive(pid):
            raise BenchError(f"study {study.study_name!r} is being searched by process {pid} "
                             f"(run {active.get('run_id')}, since {active.get('since')}); wait "
                             "for it to finish or stop it first")
        if host != platform.node():
            log(f"bench: warning: study {study.study_name} was last searched from host {host} "
                f"(run {active.get('run_id')}), which did not release it; continuing here")
    study.set_user_attr("active", {"run_id": run_id, "host": platform.node(),
                                   "pid": os.getpid(), "since": time.strftime("%H:%M:%S")})


def release(study: Any) -> None:
    study.set_user_attr("active", {})
    lock = _CLAIMS.pop(study.study_name, None)
    if lock is not None:
        lock.release()


# --------------------------------------------------------------------------- trials


def reconcile(study: Any) -> list[int]:
    """Mark trials left RUNNING or WAITING (by a killed or interrupted driver) as failed with
    ``interrupted=True``; their numbers."""
    from optuna.trial import TrialState

    stale = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING, TrialState.WAITING)):
        study._storage.set_trial_user_attr(t._trial_id, "interrupted", True)
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
        stale.append(t.number)
    return stale


def counted(study: Any) -> list[Any]:
    """The trials that count towards ``--trials``, by number: finished, pruned, and failed
    ones except those a driver interruption left behind."""
    from optuna.trial import TrialState

    keep = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
    return sorted((t for t in study.get_trials(deepcopy=False, states=keep)
                   if not t.user_attrs.get("interrupted")), key=lambda t: t.number)


def best_of(trials: Sequence[Any]) -> Any | None:
    """The finished trial with the highest validation score (the first one on ties)."""
    from optuna.trial import TrialState

    done = [t for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    return max(done, key=lambda t: (t.value, -t.number)) if done else None


def state_counts(trials: Sequence[Any]) -> dict[str, int]:
    names = {"COMPLETE": "finished", "PRUNED": "pruned", "FAIL": "failed"}
    out = {"finished": 0, "pruned": 0, "failed": 0}
    for t in trials:
        out[names.get(t.state.name, t.state.name.lower())] += 1
    return out


# --------------------------------------------------------------------------- outputs


def trials_frame(study: Any, counted_numbers: set[int]) -> Any:
    """One row per trial: number, state, whether it counts, validation score, rounds, the last
    round's score, parameters, timing and where it ran."""
    import pandas as pd

    rows = []
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        steps = sorted(t.intermediate_values)
        row = {
            "number": t.number, "state": t.state.name, "counted": t.number in counted_numbers,
            "value": t.value, "rounds": len(steps),
            "last_round_value": t.intermediate_values[steps[-1]] if steps else None,
            "interrupted": bool(t.user_attrs.get("interrupted")),
            "datetime_start": t.datetime_start, "datetime_complete": t.datetime_complete,
            "duration_s": (t.duration.total_seconds() if t.duration is not None else None),
        }
        row.update({f"params_{k}": v for k, v in sorted(t.params.items())})
        row.update({f"user_{k}": v for k, v in sorted(t.user_attrs.items())
                    if k != "interrupted"})
        rows.append(row)
    return pd.DataFrame(rows)


def _save_figure(ax: Any, path: Path) -> Path:
    fig = ax.figure if hasattr(ax, "figure") else ax.flat[0].figure
    fig.set_size_inches(8, 5)
    fig.tight_layout()
    out = atomic_write(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110),
                       suffix=".png")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return out


def write_plots(study: Any, folder: Path, log: Log) -> dict[str, Path]:
    """Optimisation history and parameter importances (PNG); a plot that cannot be drawn yet
    (e.g. importances need two finished trials) is skipped with a note."""
    import matplotlib

    matplotlib.use("Agg")
    import optuna
    from optuna.visualization import matplotlib as ovm

    out: dict[str, Path] = {}
    plots = {"history": ("optimization_history.png", ovm.plot_optimization_history),
             "importance": ("param_importances.png", ovm.plot_param_importances)}
    for key, (name, fn) in plots.items():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                optuna.logging.set_verbosity(optuna.logging.ERROR)
                ax = fn(study)
            out[key] = _save_figure(ax, folder / name)
        except Exception as exc:  # noqa: BLE001 - a plot is a convenience, never fatal
            log(f"bench: note: {study.study_name}: no {name} yet "
                f"({type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''})")
    return out


def write_outputs(study: Any, folder: Path, counted_trials: Sequence[Any],
                  best: dict[str, Any] | None, log: Log) -> dict[str, Path]:
    """``trials.csv``, ``best_params.json`` (when a trial finished) and the plots."""
    folder.mkdir(parents=True, exist_ok=True)
    frame = trials_frame(study, {t.number for t in counted_trials})
    paths = {"trials": atomic_write_bytes(folder / "trials.csv",
                                          frame.to_csv(index=False).encode())}
    if best is not None:
        text = json.dumps(best, indent=1, sort_keys=True, default=str)
        paths["best"] = atomic_write_bytes(folder / "best_params.json", text.encode())
    paths.update(write_plots(study, folder, log))
    return paths
