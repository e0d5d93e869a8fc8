"""One trial: load data, fit, encode, evaluate with the harness's metric engine, store.

``run_trial`` is plain Python (Ray Tune calls it through ``bench.runner.tune``; tests and
``bench validate`` call it directly). Its config holds only JSON values and absolute paths.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bench import registry
from bench.environment import environment
from bench.metrics import PROTOCOL, evaluate_retrieval, pack_codes
from bench.plugins import FitContext, HashMethod, PairedData
from bench.results import ResultStore, json_safe
from bench.runner.data import TrialData, load_dataset, prepare, with_features

Reporter = Callable[[dict[str, Any]], None]


def _device(requested: str) -> str:
    if requested != "auto":
        return requested
    try:
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


def encode_both(method: HashMethod, data: PairedData) -> dict[str, dict[int, np.ndarray]]:
    out = {"image": method.encode(data, "image"), "text": method.encode(data, "text")}
    for modality, per_bits in out.items():
        for b in method.bits:
            codes = per_bits.get(b)
            if codes is None or codes.shape != (len(data), b):
                got = None if codes is None else codes.shape
                raise ValueError(f"{method.spec.name}.encode({modality}) gave {got} for {b} bits, "
                                 f"expected {(len(data), b)}")
    return out


def evaluate_codes(q: Mapping[str, np.ndarray], r: Mapping[str, np.ndarray],
                   q_labels: np.ndarray, r_labels: np.ndarray,
                   k_values: tuple[int, ...]) -> dict[str, dict[str, Any]]:
    """Both directions: image queries vs text database, and text queries vs image database."""
    return {
        "i2t": evaluate_retrieval(q["image"], r["text"], q_labels, r_labels, k_values=k_values),
        "t2i": evaluate_retrieval(q["text"], r["image"], q_labels, r_labels, k_values=k_values),
    }


def validation_score(method: HashMethod, val: PairedData, val_labels: np.ndarray) -> float | None:
    """Mean mAP@all (both directions, first bit length) of the validation split against itself."""
    if len(val) == 0:
        return None
    codes = encode_both(method, val)
    b = method.bits[0]
    q = {m: codes[m][b] for m in codes}
    res = evaluate_codes(q, q, val_labels, val_labels, (len(val),))
    values = [res[d]["map_all"] for d in res if res[d]["map_all"] is not None]
    return float(np.mean(values)) if values else None


def run_trial(cfg: Mapping[str, Any], report: Reporter | None = None) -> dict[str, Any]:
    """Run one trial described by ``cfg`` (see ``bench.runner.grid``); returns its record."""
    report = report or (lambda metrics: None)
    spec = registry.methods.get(cfg["method"])
    dspec = registry.datasets.get(cfg["dataset"])
    store = ResultStore(Path(cfg["results_dir"]))
    tracker = None
    if cfg.get("tracking_uri"):
        from bench.tracking import RunLogger

        tracker = RunLogger(
            cfg["tracking_uri"], cfg["experiment_id"], run_name=cfg["key"],
            parent_run_id=cfg.get("parent_run_id"),
            tags={"method": spec.name, "dataset": dspec.name, "preset": cfg["preset"],
                  "bits": ",".join(map(str, cfg["bits"])), "budget": cfg["budget_label"],
                  "seed": cfg["seed"], "result_key": cfg["key"],
                  "harness_version": environment()["harness_version"],
                  "git_commit": environment()["git_commit"], "supervision": spec.supervision},
        )
        tracker.log_params({"method": spec.name, "method_version": spec.version,
                            "dataset": dspec.name, "preset": cfg["preset"],
                            "bits": cfg["bits"], "budget": cfg["budget_label"],
                            "seed": cfg["seed"], "hp": cfg["params"]})
    try:
        record = _run(cfg, spec, store, report, tracker)
    except BaseException as exc:
        if tracker is not None:
            tracker.set_tags({"error": f"{type(exc).__name__}: {exc}"[:5000]})
            tracker.end("FAILED")
        raise
    if tracker is not None:
        tracker.end("FINISHED")
    return record


def _run(cfg: Mapping[str, Any], spec, store: ResultStore, report: Reporter,
         tracker) -> dict[str, Any]:
    t0 = time.perf_counter()
    ds = load_dataset(cfg["dataset"], cfg.get("data_root"), cfg["cache_dir"],
                      cfg.get("dataset_options"))
    ds = with_features(ds, spec.inputs, cfg.get("encoder"), cfg["cache_dir"],
                       log=lambda msg: print(f"[{cfg['key']}] {msg}", flush=True))
    preset = registry.datasets.get(cfg["dataset"]).preset(cfg["preset"])
    data: TrialData = prepare(ds, preset, cfg["budget"], cfg["seed"], spec.inputs,
                              spec.labels_at_encode)
    labels = ds.items.labels
    val_labels = labels[data.split.validation]
    t_data = time.perf_counter() - t0

    device = _device(cfg.get("device", "auto"))
    method = spec.load()(cfg["bits"], cfg["params"], cfg["seed"], device)
    workdir = Path(cfg["results_dir"]) / "work" / cfg["key"]
    workdir.mkdir(parents=True, exist_ok=True)

    def on_epoch(epoch: int, **metrics: Any) -> None:
        clean = {k: float(v) for k, v in metrics.items() if isinstance(v, (int, float))}
        report({"epoch": int(epoch), **clean})
        if tracker is not None and clean:
            tracker.log_metrics({f"train.{k}": v for k, v in clean.items()}, step=int(epoch))

    ctx = FitContext(
        validation=data.validation, seed=cfg["seed"], device=device, workdir=workdir,
        dataset=cfg["dataset"],
        report=on_epoch, validate=lambda: validation_score(method, data.validation, val_labels),
        log=lambda msg: print(f"[{cfg['key']}] {msg}", flush=True),
    )
    t1 = time.perf_counter()
    method.fit(data.train, ctx)
    t_fit = time.perf_counter() - t1

    t2 = time.perf_counter()
    q_codes = encode_both(method, data.query)
    r_codes = encode_both(method, data.retrieval)
    t_encode = time.perf_counter() - t2
    val = validation_score(method, data.validation, val_labels)

    t3 = time.perf_counter()
    k_values = tuple(cfg.get("k_values") or PROTOCOL["k_values"])
    q_labels, r_labels = labels[data.split.query], labels[data.split.retrieval]
    metrics: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {
        "q_index": data.split.query, "r_index": data.split.retrieval,
        "train_index": data.train_index, "q_labels": q_labels, "r_labels": r_labels,
    }
    for b in method.bits:
        q = {m: q_codes[m][b] for m in q_codes}
        r = {m: r_codes[m][b] for m in r_codes}
        metrics[str(b)] = evaluate_codes(q, r, q_labels, r_labels, k_values)
        for role, codes in (("q", q), ("r", r)):
            arrays[f"{role}_img_{b}"] = pack_codes(codes["image"])
            arrays[f"{role}_txt_{b}"] = pack_codes(codes["text"])
    t_eval = time.perf_counter() - t3

    used_index = (data.train_index if method.train_rows_used is None
                  else data.train_index[method.train_rows_used])
    arrays["train_index_used"] = used_index
    codes_path = store.write_codes(cfg["key"], arrays)
    record = {
        "schema": 1, "key": cfg["key"], "status": "finished",
        "method": spec.name, "method_version": spec.version, "supervision": spec.supervision,
        "labels_at_encode": spec.labels_at_encode,
        "dataset": cfg["dataset"], "dataset_options": cfg.get("dataset_options") or {},
        "encoder": cfg["definition"].get("encoder"),
        "features": {k: v for k, v in (ds.info.get("features") or {}).items()
                     if k in ("file", "key")} or None,
        "preset": preset.as_dict(), "bits": list(method.bits), "budget": cfg["budget_label"],
        "n_train": int(len(data.train_index)),
        "n_train_used": int(len(used_index)),
        "train_index_used": None if method.train_rows_used is None else used_index.tolist(),
        "seed": cfg["seed"], "params": method.params,
        "split": {"checksum": data.split.checksum(), "sizes": data.split.sizes(),
                  "train_checksum": _checksum(data.train_index)},
        "selection": method.selection_rule,
        "validation": {"map_mean_first_bits": val},
        "metrics": metrics, "protocol": PROTOCOL,
        "timing": {"data_s": t_data, "fit_s": t_fit, "encode_s": t_encode, "eval_s": t_eval},
        "device": device, "codes_file": str(codes_path.relative_to(store.root)),
        "environment": environment(), "definition": cfg["definition"],
        "mlflow_run_id": tracker.run_id if tracker is not None else None,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if tracker is not None:
        final = {f"{d}.map_all.{b}": metrics[b][d]["map_all"]
                 for b in metrics for d in ("i2t", "t2i")}
        tracker.log_metrics({**final, "fit_time_s": t_fit, "encode_time_s": t_encode,
                             "validation_map": val if val is not None else float("nan")},
                            step=0)
        tracker.log_artifact(codes_path, "codes")
    path = store.write_record(record)
    if tracker is not None:
        tracker.log_artifact(path, "record")
    summary = {f"map_{d}_{b}": metrics[b][d]["map_all"] for b in metrics for d in ("i2t", "t2i")}
    report({"finished": 1, **{k: v for k, v in summary.items() if v is not None}})
    return json_safe(record)


def _checksum(index: np.ndarray) -> str:
    from bench.splits import index_checksum

    return index_checksum({"train": index})


def format_exception(exc: BaseException) -> str:
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()
