"""``bench train-clip``: train the bundled small CLIP on generated scenes."""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.errors import BenchError


def add_parser(sub: argparse._SubParsersAction) -> None:
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
    t.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from bench.encoders.train import train_clip
    from bench.files import writable_dir

    if args.out:
        out = Path(args.out).resolve()
    else:
        from bench.encoders.tiny_clip import ASSETS

        out = ASSETS
    writable_dir(out, "output folder")
    cache = writable_dir(Path(args.cache_dir), "cache folder")
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
