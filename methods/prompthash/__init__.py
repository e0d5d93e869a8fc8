"""PromptHash (CVPR 2025): affinity-prompted collaborative cross-modal hashing, end to end on
raw images and captions with an open_clip backbone. Two leaderboard rows: ``prompthash``
(faithful to the reference code, quirks included) and ``prompthash-clean``."""

from bench.plugins import MethodSpec
from bench.training.defaults import param_types_for

_COMMON = {
    # schedule: "auto" = "quick" on generated data (needs_root=False), else "reference"
    # (100 epochs, batch 128); explicit epochs / batch_size / eval_batch_size / max_train
    # override it (eval_batch_size None: the training batch size for fusion=batch)
    "schedule": "auto", "epochs": None, "batch_size": None, "eval_batch_size": None,
    "max_train": None,
    # optimiser (BertAdam, warm-up cosine, per-tensor clipping); the scripts' lr
    "lr": 1e-3, "clip_lr": 1e-6, "clip_lr_scale": 10.0, "fusion_lr_scale": 0.1,
    "ctx_lr": None, "weight_decay": 0.01, "warmup": 0.05, "max_grad_norm": 1.0,
    # loss weights: None = the reference's value for the dataset (README)
    "w_intra": None, "w_inter": None, "w_quan": None, "w_recon": None, "w_global": None,
    "w_local": None, "w_lambda": None, "mu": None, "tau_global": 0.07, "tau_local": 0.07,
    # architecture
    "aux_bits": 256, "res_mlp_layers": 2, "dropout": 0.5, "activation": "gelu",
    "fusion_heads": 4, "d_state": 16, "d_conv": 4, "expand": 2, "unfreeze_blocks": 2,
    "clip_model": "bundled", "clip_weights": None,
    # runtime
    "mamba_backend": "auto", "amp": "fp32", "image_cache_mb": 2048, "checkpoint": "trainable",
    # model selection on the harness's validation split (the reference used the test queries)
    "selection": "validation", "val_every": 1,
}
#: accepted values whose type differs from the default's, and ranges (bench.params): the rules
#: shared with the other CLIP-based methods (clip_model: an open_clip config name or dict)
_TYPES = param_types_for(
    _COMMON, mamba_backend="'auto'|'torch'|'cuda'", fusion="'batch'|'sample'")
#: bench tune (README "Search space"): the hash-head learning rate around the scripts' 1e-3 and
#: the default 2e-3, and the loss weights the reference scripts set per dataset (Flickr/NUS vs
#: COCO: w_inter 5 or 20, w_quan 0.1 or 1, w_recon 0.001 vs the default 0.005)
_SEARCH = {
    "lr": {"type": "loguniform", "low": 1e-4, "high": 3e-3},
    "w_inter": {"type": "choice", "values": [5.0, 20.0]},
    "w_quan": {"type": "choice", "values": [0.1, 1.0]},
    "w_recon": {"type": "choice", "values": [0.001, 0.005]},
}
_REFERENCE = {
    "paper": "Zou, Cheng, Chen. PromptHash: Affinity-Prompted Collaborative Cross-Modal "
             "Learning for Adaptive Hashing Retrieval. CVPR 2025 (arXiv 2503.16064)",
    "code": "CCRG-XJU/PromptHash@6bfbe3f (train_asym.py, hash_model.py, model/open_clip/, "
            "optimization.py, load_data.py, utils/get_args.py, PromptHash_*.sh)",
}

SPEC = MethodSpec(
    name="prompthash",
    entry="bench.methods.prompthash.method:PromptHash",
    version="3",  # 2: fusion=batch encodes in batches of the training size; 3: likelihood clamp
    supervision="supervised",
    inputs=("images", "captions", "labels"),
    multi_bit=True,
    labels_at_encode=True,
    defaults={**_COMMON, "fusion": "batch", "train_ctx": False, "prompt_init": "random",
              "encode_prompt": "labels", "prompt_label_dropout": 0.0},
    search_space=_SEARCH,
    param_types=_TYPES,
    iterative=True,
    resources={"cpu": 1, "gpu": 0},
    reference=_REFERENCE,
    description=(
        "Faithful PromptHash: open_clip backbone (last two vision/text blocks trained), label "
        "prompts 'This is an image containing <names>.' + fixed random context through a "
        "two-block prompt transformer, FusionTransMamba twice (Mamba over the mini-batch, "
        "attention across the batch), residual MLPs, tanh heads + 256-bit auxiliary code, "
        "Bayesian/quantisation/InfoNCE/reconstruction losses, BertAdam. Label prompts are fed "
        "when encoding queries and database items (a label leak, as in the reference)."
    ),
)

SPEC_CLEAN = MethodSpec(
    name="prompthash-clean",
    entry="bench.methods.prompthash.method:PromptHashClean",
    version="2",  # 2: the likelihood clamps a·bᵀ before halving, as the reference
    supervision="supervised",
    inputs=("images", "captions", "labels"),
    multi_bit=True,
    labels_at_encode=False,
    defaults={**_COMMON, "fusion": "sample", "train_ctx": True, "prompt_init": "pretrained",
              "encode_prompt": "label_free", "prompt_label_dropout": 0.5},
    search_space=_SEARCH,
    param_types=_TYPES,
    iterative=True,
    resources={"cpu": 1, "gpu": 0},
    reference=_REFERENCE,
    description=(
        "PromptHash without the reference's quirks: per-sample fusion (codes independent of "
        "batch mates), trained context, prompt transformer initialised from the pretrained "
        "text blocks, label prompts replaced by the label-free prompt for half the training "
        "samples and for every encoded item (no label information at encoding time)."
    ),
)
