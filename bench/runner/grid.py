"""Building complete trial configs: one per method × bits-or-bit-set × budget × seed.

:class:`RunContext` is what every trial of a run shares (dataset identity with its content
fingerprint, preset, encoder, paths); :func:`make_trial` turns one method setting into a
:class:`bench.schema.TrialConfig` whose key is final. ``bench run`` expands a grid with
:func:`expand`; ``bench tune`` builds its trials one by one with :func:`make_trial`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench import registry
from bench.errors import BenchError, PluginError
from bench.metrics import PROTOCOL, PROTOCOL_VERSION
from bench.params import method_params
from bench.plugins import MethodSpec, Preset
from bench.runner.data import uses_features
from bench.schema import DATABASE_CODES, DEFAULT_DATABASE_CODES, Definition, TrialConfig
from bench.splits import budget_label, canonical_budget


@dataclass(frozen=True)
class RunContext:
    """What the trials of one run share. Paths are absolute."""

    dataset: str
    preset: Preset
    results_dir: str
    cache_dir: str
    data_fingerprint: str | None = None
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    data_root: str | None = None
    #: the frozen encoder (EncoderSpec.as_config(), with its weights path) when the dataset's
    #: features come from one; it applies to methods that read features
    encoder: Mapping[str, Any] | None = None
    device: str = "auto"
    gpus_per_trial: float | None = None
    run_id: str = ""
    requested_seeds: tuple[int, ...] = ()
    #: how every trial codes the retrieval database (bench.schema.DATABASE_CODES)
    database_codes: str = DEFAULT_DATABASE_CODES
    #: pairs in the split's training pool: budgets are made canonical against it (one key per
    #: training set, see bench.splits.canonical_budget); None: budgets are used as given
    train_pool: int | None = None


def check_overrides(specs: Sequence[MethodSpec], overrides: Mapping[str, Any]) -> None:
    names = {s.name for s in specs}
    for key in overrides:
        method, _, name = key.rpartition(".")
        if method and method not in names:
            raise BenchError(f"--set {key}: method {method!r} is not in this run")
        if not method and not any(name in s.defaults for s in specs):
            raise BenchError(f"--set {key}: no method in this run has a hyperparameter {name!r}")


def unified_methods() -> list[str]:
    """The registered methods that declare ``unified_database``."""
    out = []
    for name in registry.methods.names():
        try:
            if registry.methods.get(name).unified_database:
                out.append(name)
        except PluginError:
            continue
    return out


def check_database_codes(specs: Sequence[MethodSpec], database_codes: str) -> None:
    """Refuse a database protocol that a method of the run does not support."""
    if database_codes not in DATABASE_CODES:
        raise BenchError(f"--database-codes {database_codes}: not one of "
                         f"{', '.join(DATABASE_CODES)}")
    if database_codes == "unified":
        unsupported = [s.name for s in specs if not s.unified_database]
        if unsupported:
            able = ", ".join(unified_methods())
            raise BenchError(f"--database-codes unified: {', '.join(unsupported)} cannot code "
                             f"an item from both modalities (methods that can: {able})")


def bit_sets(spec: MethodSpec, bits: Sequence[int]) -> list[list[int]]:
    """One set of all lengths for a multi-bit method, else one length per trial."""
    return [sorted(set(bits))] if spec.multi_bit else [[b] for b in bits]


def trial_resources(spec: MethodSpec, gpus_per_trial: float | None) -> dict[str, float]:
    """A trial's CPU/GPU request: its method's, with ``--gpus-per-trial`` overriding the GPUs."""
    resources = dict(spec.resources)
    if gpus_per_trial is not None:
        resources["gpu"] = gpus_per_trial
    return resources


def make_trial(spec: MethodSpec, bits: Sequence[int], budget: int | float | None, seed: int,
               params: Mapping[str, Any], ctx: RunContext,
               tuning: Mapping[str, Any] | None = None) -> TrialConfig:
    """The complete trial of ``spec`` with canonical ``params`` (see
    :func:`bench.params.method_params`) under ``ctx``. ``tuning``: the origin of a tuned
    configuration (``bench tune``); its ``study`` becomes part of the definition. The budget
    is made canonical against ``ctx.train_pool`` (``all`` and integer budgets keep their
    labels, and so their keys; a fraction becomes the count it draws)."""
    check_database_codes([spec], ctx.database_codes)
    budget = canonical_budget(budget, ctx.train_pool)
    dspec = registry.datasets.get(ctx.dataset)
    encoder = dict(ctx.encoder) if ctx.encoder is not None and uses_features(spec.inputs) \
        else None
    definition = Definition(
        method=spec.name, method_version=spec.version, dataset=dspec.name,
        dataset_version=dspec.version, dataset_options=dict(ctx.dataset_options),
        data_fingerprint=ctx.data_fingerprint, preset=ctx.preset.as_dict(),
        encoder=None if encoder is None else {k: v for k, v in encoder.items()
                                              if k != "weights"},
        bits=tuple(int(b) for b in bits), budget=budget_label(budget), seed=int(seed),
        params=dict(params), protocol_version=PROTOCOL_VERSION,
        k_values=tuple(PROTOCOL["k_values"]),
        tuned_by=None if tuning is None else str(tuning["study"]),
        database_codes=ctx.database_codes,
    )
    resources = trial_resources(spec, ctx.gpus_per_trial)
    return TrialConfig(definition=definition, budget=budget, results_dir=ctx.results_dir,
                       cache_dir=ctx.cache_dir, data_root=ctx.data_root, encoder=encoder,
                       device=ctx.device, resources=resources, run_id=ctx.run_id,
                       requested_seeds=tuple(ctx.requested_seeds),
                       tuning=None if tuning is None else dict(tuning))


def expand(methods: Sequence[str], bits: Sequence[int], budgets: Sequence[int | float | None],
           seeds: Sequence[int], overrides: Mapping[str, Any],
           ctx: RunContext) -> list[TrialConfig]:
    specs = [registry.methods.get(m) for m in methods]
    check_overrides(specs, overrides)
    check_database_codes(specs, ctx.database_codes)
    configs: dict[str, TrialConfig] = {}  # budgets drawing one training set: one trial
    for spec in specs:
        params = method_params(spec, overrides)
        for bs in bit_sets(spec, bits):
            for budget in budgets:
                for seed in seeds:
                    cfg = make_trial(spec, bs, budget, seed, params, ctx)
                    configs.setdefault(cfg.key, cfg)
    return list(configs.values())
