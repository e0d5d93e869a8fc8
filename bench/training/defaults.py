"""Default parameters shared by the CLIP-based deep methods' specs (plain data: plugin
``__init__`` modules import this without importing torch)."""

from __future__ import annotations

#: The training schedule: "auto" = "quick" on generated data, else "reference"; explicit
#: epochs / batch_size / eval_batch_size / max_train override the named schedule.
SCHEDULE = {"schedule": "auto", "epochs": None, "batch_size": None, "eval_batch_size": None,
            "max_train": None}

#: The open_clip backbone: the bundled small CLIP, fine-tuned whole ("all") as the DCHMT-family
#: references do; captions cut to 32 tokens as their loaders do.
BACKBONE = {"clip_model": "bundled", "clip_weights": None, "unfreeze_blocks": "all",
            "max_words": 32}

#: Runtime and model selection: fp32 (bf16 autocast on CUDA with amp=bf16), the image cache,
#: the end-of-fit checkpoint, the best epoch on the harness's validation split.
RUNTIME = {"amp": "fp32", "image_cache_mb": 2048, "checkpoint": "trainable",
           "selection": "validation", "val_every": 1}


def clip_method_defaults(**own: object) -> dict[str, object]:
    """A CLIP-based method's defaults: the shared schedule, backbone and runtime keys plus its
    own (which may override them)."""
    return {**SCHEDULE, **own, **{k: v for k, v in {**BACKBONE, **RUNTIME}.items()
                                  if k not in own}}

#: Parameter rules (bench.params) of the shared keys whose accepted values differ from their
#: default's type or have a range; a plugin adds its own with ``{**PARAM_TYPES, ...}``.
PARAM_TYPES = {
    "schedule": "'auto'|'quick'|'reference'",
    "epochs": "int[1,]|null", "batch_size": "int[1,]|null", "eval_batch_size": "int[1,]|null",
    "max_train": "int[0,]|null",
    # an open_clip config name, "bundled", or a config dict
    "clip_model": "str|any", "clip_weights": "str|null", "unfreeze_blocks": "'all'|int[0,]",
    "max_words": "int[1,]",
    "amp": "'fp32'|'bf16'", "image_cache_mb": "int[0,]", "checkpoint": "'trainable'|'full'|'none'",
    "selection": "'validation'|'final'", "val_every": "int[1,]",
}


def param_types_for(defaults: dict[str, object], **own: str) -> dict[str, str]:
    """The :data:`PARAM_TYPES` rules of the keys in ``defaults``, plus a method's own."""
    return {**{k: v for k, v in PARAM_TYPES.items() if k in defaults}, **own}
