"""Expanding a `bench run` request into trial configs (one per method × bits-or-bit-set ×
budget × seed), each with its content-hash result key."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import registry
from bench.errors import BenchError
from bench.metrics import PROTOCOL, PROTOCOL_VERSION
from bench.plugins import MethodSpec
from bench.results import result_key
from bench.splits import budget_label


@dataclass
class RunRequest:
    methods: Sequence[str]
    bits: Sequence[int]
    dataset: str = "synthetic-features"
    preset: str | None = None
    budgets: Sequence[int | float | None] = (None,)
    seeds: Sequence[int] = (0,)
    overrides: Mapping[str, Any] = field(default_factory=dict)  #: "param" or "method.param"
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    data_root: str | None = None
    results_dir: Path = Path("results")
    cache_dir: Path | None = None
    device: str = "auto"
    gpus_per_trial: float | None = None  #: overrides every method's GPU request


def method_params(spec: MethodSpec, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Defaults of ``spec`` updated with the overrides that apply to it."""
    params = dict(spec.defaults)
    for key, value in overrides.items():
        method, _, name = key.rpartition(".")
        if method and method != spec.name:
            continue
        if name in params:
            params[name] = value
        elif method:
            raise BenchError(f"method {spec.name!r} has no hyperparameter {name!r} "
                             f"(it has: {', '.join(sorted(params)) or 'none'})")
    return params


def check_overrides(specs: Sequence[MethodSpec], overrides: Mapping[str, Any]) -> None:
    names = {s.name for s in specs}
    for key in overrides:
        method, _, name = key.rpartition(".")
        if method and method not in names:
            raise BenchError(f"--set {key}: method {method!r} is not in this run")
        if not method and not any(name in s.defaults for s in specs):
            raise BenchError(f"--set {key}: no method in this run has a hyperparameter {name!r}")


def set_encoder(configs: Sequence[dict[str, Any]], encoder: Mapping[str, Any]) -> None:
    """Put the frozen encoder (``EncoderSpec.as_config()``) whose features the trials use into
    each config, its identity (name, architecture, weights SHA-256, preprocessing; no paths)
    into the result definition, and recompute the result keys."""
    identity = {k: v for k, v in encoder.items() if k != "weights"}
    for c in configs:
        definition = {**c["definition"], "encoder": identity}
        c.update(definition=definition, key=result_key(definition), encoder=dict(encoder))


def expand(req: RunRequest) -> list[dict[str, Any]]:
    dspec = registry.datasets.get(req.dataset)
    preset = dspec.preset(req.preset)
    specs = [registry.methods.get(m) for m in req.methods]
    check_overrides(specs, req.overrides)
    results_dir = Path(req.results_dir).resolve()
    cache_dir = Path(req.cache_dir).resolve() if req.cache_dir else results_dir / "cache"
    configs = []
    for spec in specs:
        params = method_params(spec, req.overrides)
        bit_sets = [sorted(set(req.bits))] if spec.multi_bit else [[b] for b in req.bits]
        for bits in bit_sets:
            for budget in req.budgets:
                for seed in req.seeds:
                    definition = {
                        "method": spec.name, "method_version": spec.version,
                        "dataset": dspec.name, "dataset_version": dspec.version,
                        "dataset_options": dict(sorted(req.dataset_options.items())),
                        "preset": preset.as_dict(), "bits": list(bits),
                        "budget": budget_label(budget), "seed": int(seed), "params": params,
                        "protocol_version": PROTOCOL_VERSION, "k_values": PROTOCOL["k_values"],
                    }
                    configs.append({
                        "key": result_key(definition), "definition": definition,
                        "method": spec.name, "dataset": dspec.name, "preset": preset.name,
                        "dataset_options": dict(req.dataset_options),
                        "data_root": str(Path(req.data_root).resolve()) if req.data_root else None,
                        "bits": list(bits), "budget": budget, "budget_label": budget_label(budget),
                        "seed": int(seed), "params": params, "results_dir": str(results_dir),
                        "cache_dir": str(cache_dir), "device": req.device,
                        "resources": {**dict(spec.resources),
                                      **({"gpu": req.gpus_per_trial}
                                         if req.gpus_per_trial is not None else {})},
                    })
    return configs
