"""Parameter rules (``MethodSpec.param_types``, syntax in :mod:`bench.params`) and search-space
entries shared by the deep plugins' specs. Imports nothing heavy: plugin ``__init__`` modules
read it."""

from __future__ import annotations

#: Model selection on the harness's validation signal, shared by every deep plugin.
SELECTION_TYPES = {
    "selection": "'final'|'validation'", "val_every": "int[1,]", "report_every": "int[1,]",
}

#: The DJSRH-family training loop (``bench.deep.reconstruction``).
LOOP_TYPES = {
    "epochs": "int[1,]", "batch_size": "int[2,]", "optimizer": "'sgd'|'adam'",
    "lr_image": "float(0,]", "lr_text": "float(0,]", "momentum": "float[0,1)",
    "weight_decay": "float[0,]", "hidden": "int[1,]", "image_net": "'mlp'|'linear'",
    "code_scale": "'sqrt_epoch'|'none'", "drop_last": "bool", **SELECTION_TYPES,
}

#: Search-space entries of the DJSRH-family loop's per-network SGD learning rates.
LOOP_SPACE = {
    "lr_image": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
    "lr_text": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
}
