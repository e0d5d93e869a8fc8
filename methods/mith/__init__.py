"""MITH (ACM MM 2023): multi-granularity interactive transformer hashing, CLIP fine-tuned end
to end with a global concept branch and a local token branch (Zhang et al., ACM MM 2023; code
DarrenZZhang/MM23-MITH@4583a7c)."""

from bench.plugins import MethodSpec
from bench.training.defaults import clip_method_defaults, param_types_for

_DEFAULTS = clip_method_defaults(
    # schedules (README): reference 30 epochs, batch 128; quick on generated data
    # BertAdam over CLIP (clip_lr) and the hashing model (lr): the library defaults
    lr=1e-3, clip_lr=2e-6, weight_decay=0.01, warmup=0.05, max_grad_norm=1.0,
    # architecture: top-k concepts per token (LTA), LCT transformer layers, GCL ResMLPs
    top_k_label=8, transformer_layers=2, res_mlp_layers=2, activation="gelu", dropout=0.0,
    # loss weights (library defaults): intra-token likelihood, global inter-modal
    # likelihood, quantisation, InfoNCE (global + alpha · token-level), distillation;
    # lambda mixes the global and token codes of the quantisation target
    w_tokens_intra=1.0, w_cls_inter=10.0, w_quan=8.0, w_info_nce=50.0, w_distill=1.0,
    alpha=0.01, hyper_lambda=0.99, tau=0.07,
)

SPEC = MethodSpec(
    name="mith",
    entry="bench.methods.mith.method:MITH",
    version="1",
    supervision="supervised",
    inputs=("images", "captions", "labels"),
    multi_bit=False,  # one model per code length, as the reference scripts
    defaults=_DEFAULTS,
    param_types=param_types_for(_DEFAULTS),
    search_space={
        "lr": {"type": "loguniform", "low": 1e-4, "high": 3e-3},
        "w_quan": {"type": "choice", "values": [1.0, 8.0]},
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Zhang, Wu, Xu, Ren, Tian, Li. Multi-Granularity Interactive Transformer "
                 "Hashing for Cross-modal Retrieval. ACM MM 2023",
        "code": "DarrenZZhang/MM23-MITH@4583a7c (train_asym.py, hash_model.py, utils/get_args.py, "
                "run_MITH.sh)",
    },
    description=(
        "MITH: CLIP fine-tuned end to end. Global concept learning (shared ResMLPs + a "
        "bias-free concept layer, tanh) on the image class token and the text end-of-text "
        "token; localized token aggregation (each token votes for its top-8 positive "
        "concepts) and a 2-layer transformer over the K concept tokens with bitwise hashing, "
        "per modality. Loss: intra-modal token likelihood, inter-modal global likelihood "
        "(against code buffers), quantisation, InfoNCE (global + token level) and "
        "global-to-token distillation. Code: sign(global + token hashes)."
    ),
)
