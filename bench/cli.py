"""Command line: ``python -m bench run|leaderboard|report|ls|datasets|validate|train-clip``.

User errors (unknown names, bad numbers, unwritable folders, corrupt records) print one line
``bench: error: ...`` and exit with code 2, before anything is written.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench.errors import BenchError

DEFAULT_DATASET = "synthetic-scenes"


def parse_bits(text: str) -> list[int]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise BenchError("no bit lengths given")
    bits = []
    for p in parts:
        if not p.isdigit() or int(p) <= 0 or int(p) > 4096:
            raise BenchError(f"bits must be positive integers (at most 4096), got {p!r}")
        bits.append(int(p))
    if len(set(bits)) != len(bits):
        raise BenchError(f"bit length listed twice in {text!r}")
    return bits


def parse_ints(text: str, what: str) -> list[int]:
    out = []
    for p in (x.strip() for x in text.split(",")):
        try:
            out.append(int(p))
        except ValueError:
            raise BenchError(f"{what} must be integers, got {p!r}") from None
    if len(set(out)) != len(out):
        raise BenchError(f"{what}: a value is listed twice in {text!r}")
    return out


def parse_assignments(items: list[str], what: str) -> dict[str, Any]:
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BenchError(f"{what} expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            out[key.strip()] = value
    return out


def writable_dir(path: Path) -> Path:
    path = path.resolve()
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_text("ok")
        probe.unlink()
    except OSError as exc:
        raise BenchError(f"results folder {path} is not writable ({exc.strerror})") from None
    return path


def cmd_run(args: argparse.Namespace) -> int:
    from bench import registry
    from bench.splits import budget_label, parse_budget

    methods = registry.methods.parse_list(args.methods)
    bits = parse_bits(args.bits)
    registry.datasets.get(args.dataset)
    budgets = [parse_budget(b) for b in args.budgets.split(",")]
    if len({budget_label(b) for b in budgets}) != len(budgets):
        raise BenchError(f"a budget is listed twice in {args.budgets!r}")
    seeds = parse_ints(args.seeds, "seeds")
    if args.gpus_per_trial is not None and not args.gpus_per_trial >= 0:
        raise BenchError(f"--gpus-per-trial must be >= 0, got {args.gpus_per_trial}")
    _check_encoder_file(args)
    results_dir = writable_dir(Path(args.results))

    from bench.runner.grid import RunRequest, expand

    req = RunRequest(
        methods=methods, bits=bits, dataset=args.dataset, preset=args.preset, budgets=budgets,
        seeds=seeds, overrides=parse_assignments(args.set or [], "--set"),
        dataset_options=parse_assignments(args.dataset_opt or [], "--dataset-opt"),
        data_root=args.data_root, results_dir=results_dir,
        cache_dir=Path(args.cache_dir) if args.cache_dir else None, device=args.device,
        gpus_per_trial=args.gpus_per_trial,
    )
    configs = expand(req)
    _check_data(configs, budgets, seeds, args)

    from bench.results import ResultStore

    store = ResultStore(results_dir)
    todo = [c for c in configs
            if args.force or not store.exists(c["method"], c["dataset"], c["key"])]
    skipped = len(configs) - len(todo)
    print(f"bench: {len(configs)} trial(s): {len(todo)} to run, {skipped} already finished"
          f"{' (use --force to redo them)' if skipped and not args.force else ''}", flush=True)

    failures: dict[str, str] = {}
    if todo:
        failures = _execute(todo, args, results_dir, methods)
    from bench.leaderboard import write_leaderboard

    paths = write_leaderboard(results_dir)
    print(f"bench: leaderboard {paths['long']} and {paths['markdown']}")
    print(paths["markdown"].read_text())
    if not args.no_report:
        _report_after_run(results_dir, args.dataset)
    if failures:
        for key, err in failures.items():
            print(f"bench: trial {key} failed: {err}", file=sys.stderr)
        return 1
    return 0


def _report_after_run(results_dir: Path, dataset: str) -> None:
    """The report of the run's dataset (figures, tables, HTML, Markdown; no PDF). A failure
    here is a warning: the records and the leaderboard are already written."""
    try:
        from bench.report import write_report

        manifest = write_report(results_dir, datasets=[dataset])
        print(f"bench: report {Path(manifest['out']) / 'index.html'}")
    except Exception as exc:  # noqa: BLE001 - the run's results are safe; say why, go on
        print(f"bench: warning: report not written ({type(exc).__name__}: {exc}); "
              f"`python -m bench report --results {results_dir}` retries", file=sys.stderr)


def _check_encoder_file(args: argparse.Namespace) -> None:
    """Fail fast (before anything is written) when the encoder's weights file is missing and
    the run may need it (the dataset declares no features of its own, or an encoder is named)."""
    from bench import registry
    from bench.encoders.models import BUNDLED, locate_weights

    dspec = registry.datasets.get(args.dataset)
    declared = set(dspec.provides)
    explicit = args.encoder is not None or args.encoder_weights
    if explicit:
        locate_weights(args.encoder or BUNDLED, args.encoder_weights)
    elif not dspec.needs_root and not {"image_features", "text_features"} <= declared:
        locate_weights(BUNDLED, None)


def _check_data(configs: list[dict[str, Any]], budgets, seeds,
                args: argparse.Namespace | None = None) -> None:
    """Load the dataset and cut the split in the driver, so bad budgets fail before any trial.

    When the dataset has raw images and captions but no features and a method needs features,
    the encoder's identity goes into those trials' configs and result keys, and its features
    are extracted here, once, into the feature cache (trials only read them).
    """
    from bench import registry
    from bench.runner.data import (
        check_requirements,
        load_dataset,
        needs_encoder,
        prepare,
        uses_features,
        with_features,
    )

    first = configs[0]
    print(f"bench: loading dataset {first['dataset']} ...", flush=True)
    ds = load_dataset(first["dataset"], first["data_root"], first["cache_dir"],
                      first["dataset_options"])
    featured = [c for c in configs if uses_features(registry.methods.get(c["method"]).inputs)]
    if featured and needs_encoder(ds):
        from bench.encoders.models import BUNDLED, resolve_encoder
        from bench.runner.grid import set_encoder

        name = getattr(args, "encoder", None)
        if name is None and getattr(args, "encoder_weights", None):
            name = BUNDLED
        if name is None:
            if registry.datasets.get(ds.name).needs_root:
                raise BenchError(
                    f"dataset {ds.name!r} has images and captions but no features; name a frozen "
                    "encoder with --encoder MODEL --encoder-weights FILE (e.g. ViT-B-32 with a "
                    "local OpenAI file); '--encoder bundled' forces the project's tiny CLIP, "
                    "which is trained on generated scenes only")
            name = BUNDLED
        encoder = resolve_encoder(name, getattr(args, "encoder_weights", None)).as_config()
        set_encoder(featured, encoder)
        ds = with_features(ds, ("image_features", "text_features"), encoder,
                           first["cache_dir"])
    elif args is not None and (args.encoder is not None or args.encoder_weights):
        print(f"bench: note: dataset {ds.name} has features of its own (or no method here "
              "reads features); --encoder is not used", flush=True)
    preset = registry.datasets.get(first["dataset"]).preset(first["preset"])
    for c in configs:
        spec = registry.methods.get(c["method"])
        check_requirements(ds, spec.name, spec.inputs, spec.requires)
    needed = {tuple(registry.methods.get(c["method"]).inputs) for c in configs}
    for inputs in needed:
        for b in budgets:
            prepare(ds, preset, b, seeds[0], inputs)


def _execute(todo, args, results_dir: Path, methods: list[str]) -> dict[str, str]:
    from bench import tracking

    uri = args.tracking_uri or tracking.default_tracking_uri(results_dir)
    experiment_id = tracking.prepare_experiment(uri, results_dir, args.experiment)
    name = time.strftime("run-%Y%m%d-%H%M%S")
    parent = tracking.RunLogger(uri, experiment_id, run_name=name,
                                tags={"kind": "bench run", "methods": ",".join(methods),
                                      "command": " ".join(sys.argv)})
    parent.log_params({"methods": ",".join(methods), "bits": args.bits, "dataset": args.dataset,
                       "budgets": args.budgets, "seeds": args.seeds, "n_trials": len(todo)})
    for c in todo:
        c.update(tracking_uri=uri, experiment_id=experiment_id, parent_run_id=parent.run_id)
    status = "FAILED"
    try:
        if args.no_ray:
            failures = _execute_in_process(todo)
        else:
            from bench.runner.tune import run_with_ray

            outcome = run_with_ray(todo, results_dir, name, address=args.address,
                                   num_cpus=args.num_cpus, max_concurrent=args.max_concurrent)
            failures = {k: v for k, v in outcome.items() if v is not None}
        status = "FINISHED" if not failures else "FAILED"
    finally:
        parent.end(status)
    return failures


def _execute_in_process(todo) -> dict[str, str]:
    from bench.runner.trial import format_exception, run_trial

    failures = {}
    for i, cfg in enumerate(todo, 1):
        print(f"bench: [{i}/{len(todo)}] {cfg['key']}", flush=True)
        try:
            run_trial(cfg, report=lambda m: None)
        except BenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported per trial, the run goes on
            failures[cfg["key"]] = format_exception(exc)
    return failures


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from bench.leaderboard import write_leaderboard

    results_dir = Path(args.results).resolve()
    if not results_dir.is_dir():
        raise BenchError(f"results folder {results_dir} does not exist")
    paths = write_leaderboard(results_dir, Path(args.out) if args.out else None)
    print(paths["markdown"].read_text())
    print(f"bench: wrote {paths['long']}, {paths['pivot']}, {paths['markdown']}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report import parse_formats, write_report

    formats = parse_formats(args.format)
    results_dir = Path(args.results).resolve()
    if not results_dir.is_dir():
        raise BenchError(f"results folder {results_dir} does not exist")
    reference = Path(args.reference).resolve() if args.reference else None
    if reference is not None and not reference.is_dir():
        raise BenchError(f"reference folder {reference} does not exist")
    curve_bits = parse_bits(args.bits)[0] if args.bits else None
    out = Path(args.out).resolve() if args.out else None
    manifest = write_report(results_dir, out, datasets=args.dataset or None, formats=formats,
                            reference_dir=reference, curve_bits=curve_bits,
                            log=lambda msg: print(msg, flush=True))
    n_fig = sum(len(d["figures"]) for d in manifest["datasets"].values())
    n_tab = sum(len(d["tables"]) for d in manifest["datasets"].values())
    print(f"bench: report of {len(manifest['datasets'])} dataset(s): {n_fig} figures, {n_tab} "
          f"tables, {len(manifest['published'])} published tables, in {manifest['out']}")
    pages = {"html": "index.html", "md": "report.md"}
    for fmt in (f for f in formats if f in pages):
        print(f"bench: {Path(manifest['out']) / pages[fmt]}")
    return 0


def cmd_ls(args: argparse.Namespace) -> int:
    from bench import registry

    if args.what == "methods":
        for name in registry.methods.names():
            s = registry.methods.get(name)
            bits = "multi-bit" if s.multi_bit else "one length per run"
            print(f"{name:<18} {s.supervision:<13} {bits:<19} inputs: {', '.join(s.inputs)}")
            if args.verbose:
                print(f"    {s.description}\n    defaults: {dict(s.defaults)}\n"
                      f"    reference: {dict(s.reference)}\n    resources: {dict(s.resources)}")
    else:
        for name in registry.datasets.names():
            s = registry.datasets.get(name)
            print(f"{name:<22} presets: {', '.join(s.presets)} (default {s.default_preset}); "
                  f"provides: {', '.join(s.provides)}")
            if args.verbose:
                print(f"    {s.description}")
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from bench.dataset_cli import run_datasets_command

    return run_datasets_command(args)


def cmd_validate(args: argparse.Namespace) -> int:
    from bench.validate import validate_method

    for line in validate_method(args.method, bits=parse_bits(args.bits)):
        print(line)
    return 0


def cmd_train_clip(args: argparse.Namespace) -> int:
    from bench.encoders.train import train_clip

    out = Path(args.out).resolve() if args.out else None
    if out is None:
        from bench.encoders.tiny_clip import ASSETS

        out = ASSETS
    writable_dir(out)
    cache = writable_dir(Path(args.cache_dir))
    config = Path(args.config) if args.config else None
    if config is not None and not config.is_file():
        raise BenchError(f"model config {config} does not exist")
    kwargs = {"n_train": args.n_train, "epochs": args.epochs,
              "captions_per_image": args.captions_per_image, "batch_size": args.batch_size,
              "lr": args.lr, "seed": args.seed, "data_seed": args.data_seed,
              "threads": args.threads, "max_minutes": args.max_minutes}
    if config is not None:
        kwargs["config_file"] = config
    record = train_clip(out, cache, **kwargs)
    r = record["heldout_recall"]
    print(f"bench: held-out recall@1/5: image->text {r['i2t_r1']:.3f}/{r['i2t_r5']:.3f}, "
          f"text->image {r['t2i_r1']:.3f}/{r['t2i_r5']:.3f}; "
          f"{record['time']['train_minutes']:.1f} min of training")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="bench", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run methods × bits × budgets × seeds as Ray Tune trials")
    r.add_argument("--methods", required=True, help="comma-separated method names")
    r.add_argument("--bits", default="16,32,64", help="comma-separated code lengths")
    r.add_argument("--dataset", default=DEFAULT_DATASET,
                   help=f"dataset (default {DEFAULT_DATASET})")
    r.add_argument("--encoder", default=None,
                   help="frozen encoder for datasets without features: 'bundled' (the "
                        "project's small CLIP; the default on generated data) or an open_clip "
                        "model name with local weights (required for real datasets)")
    r.add_argument("--encoder-weights", default=None, metavar="FILE",
                   help="local weights file of --encoder (default: the bundled checkpoint, "
                        "or $BENCH_WEIGHTS_DIR/<name>.safetensors); never downloaded")
    r.add_argument("--preset", default=None, help="split protocol preset (dataset's default)")
    r.add_argument("--budgets", default="all",
                   help="training pairs: counts (20,40), fractions (0.5) or 'all'")
    r.add_argument("--seeds", default="0", help="comma-separated seeds (budget draw and init)")
    r.add_argument("--set", action="append", metavar="[METHOD.]PARAM=VALUE",
                   help="override a hyperparameter (repeatable)")
    r.add_argument("--dataset-opt", action="append", metavar="KEY=VALUE",
                   help="dataset option, e.g. n_items=2000 (repeatable)")
    r.add_argument("--data-root", default=None, help="folder with the dataset's files")
    r.add_argument("--results", default="results", help="results folder (default ./results)")
    r.add_argument("--cache-dir", default=None, help="cache folder (default RESULTS/cache)")
    r.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI (default sqlite:///RESULTS/mlflow.db)")
    r.add_argument("--experiment", default="bench", help="MLflow experiment name")
    r.add_argument("--address", default=None, help="Ray cluster address (default: local Ray)")
    r.add_argument("--num-cpus", type=int, default=None, help="CPUs for the local Ray instance")
    r.add_argument("--max-concurrent", type=int, default=None, help="trials at once")
    r.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    r.add_argument("--gpus-per-trial", type=float, default=None, metavar="F",
                   help="GPU request of every trial (e.g. 1 or 0.5 on GPU clusters; default: "
                        "each method's own request, 0 for all methods on CPU-only machines)")
    r.add_argument("--force", action="store_true", help="redo finished results")
    r.add_argument("--no-ray", action="store_true",
                   help="run trials one by one in this process (debugging)")
    r.add_argument("--no-report", action="store_true",
                   help="skip the report of the run's dataset (RESULTS/report) at the end")
    r.set_defaults(func=cmd_run)

    lb = sub.add_parser("leaderboard", help="rebuild the leaderboard tables from the records")
    lb.add_argument("--results", default="results")
    lb.add_argument("--out", default=None, help="output folder (default: the results folder)")
    lb.set_defaults(func=cmd_leaderboard)

    rp = sub.add_parser("report", help="figures, tables and an HTML/Markdown page from the "
                                       "records and stored codes")
    rp.add_argument("--results", default="results", help="results folder (default ./results)")
    rp.add_argument("--dataset", action="append", metavar="D",
                    help="only this dataset (a name, or a label such as "
                         "synthetic-features[n_items=1500]); repeatable; default: all")
    rp.add_argument("--out", default=None, help="output folder (default RESULTS/report)")
    rp.add_argument("--format", default="html,md,png",
                    help="comma-separated: html (self-contained page), md (Markdown; writes "
                         "the PNGs too), png, pdf (vector figures); default html,md,png")
    rp.add_argument("--bits", default=None, metavar="B",
                    help="code length of the precision-recall and precision@N curves "
                         "(default 32 when measured, else the middle one)")
    rp.add_argument("--reference", default=None, metavar="DIR",
                    help="published tables (default RESULTS/reference, else the checkout's "
                         "results/reference)")
    rp.set_defaults(func=cmd_report)

    ls = sub.add_parser("ls", help="list methods or datasets")
    ls.add_argument("what", choices=["methods", "datasets"])
    ls.add_argument("-v", "--verbose", action="store_true")
    ls.set_defaults(func=cmd_ls)

    d = sub.add_parser("datasets", help="list datasets, layouts and presets; check a folder; "
                                        "write a preset's split index files")
    d.add_argument("action", nargs="?", choices=["list", "check", "split"], default="list")
    d.add_argument("path", nargs="?", help="check: the folder; split: the dataset name")
    d.add_argument("--dataset", default=None, help="check the folder as this dataset")
    d.add_argument("--preset", default=None, help="split: the preset (dataset's default)")
    d.add_argument("--data-root", default=None, help="split: the dataset's folder")
    d.add_argument("--out", default=None, help="split: output folder")
    d.add_argument("--cache-dir", default=None, help="split: cache folder")
    d.add_argument("--dataset-opt", action="append", metavar="KEY=VALUE",
                   help="dataset option (repeatable)")
    d.set_defaults(func=cmd_datasets)

    v = sub.add_parser("validate", help="check a method plugin quickly on small generated data")
    v.add_argument("method")
    v.add_argument("--bits", default="16,32")
    v.set_defaults(func=cmd_validate)

    from bench.encoders.train import DEFAULTS as T

    t = sub.add_parser("train-clip", help="train the bundled small CLIP on generated scenes")
    t.add_argument("--out", default=None,
                   help="output folder (default: bench/encoders/assets, replacing the bundle)")
    t.add_argument("--cache-dir", default="results/cache", help="where generated data goes")
    t.add_argument("--config", default=None, help="open_clip model config JSON (default: "
                   "the bundled cmh-tiny-clip.json)")
    t.add_argument("--n-train", type=int, default=T["n_train"], help="training scenes")
    t.add_argument("--epochs", type=int, default=T["epochs"])
    t.add_argument("--captions-per-image", type=int, default=T["captions_per_image"],
                   help="distinct captions per training image (epoch e uses caption e mod k)")
    t.add_argument("--batch-size", type=int, default=T["batch_size"])
    t.add_argument("--lr", type=float, default=T["lr"])
    t.add_argument("--seed", type=int, default=T["seed"], help="initialisation and order")
    t.add_argument("--data-seed", type=int, default=T["data_seed"])
    t.add_argument("--threads", type=int, default=None, help="torch threads (default: all)")
    t.add_argument("--max-minutes", type=float, default=None,
                   help="stop training after this many minutes")
    t.set_defaults(func=cmd_train_clip)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except BenchError as exc:
        print(f"bench: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
