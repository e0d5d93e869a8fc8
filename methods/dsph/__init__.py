"""DSPH (TCSVT 2024): deep semantic-aware proxy hashing, CLIP fine-tuned end to end with one
learnable proxy per class (Huo et al., IEEE TCSVT 2024; code QinLab-WFU/DSPH@078b1a1)."""

from bench.plugins import MethodSpec
from bench.training.defaults import clip_method_defaults, param_types_for

_DEFAULTS = clip_method_defaults(
    # schedules (README): reference 100 epochs, batch 64; quick on generated data
    # BertAdam over CLIP (clip_lr) and the two hash layers (lr), the reference's values
    lr=1e-3, clip_lr=1e-5, weight_decay=0.2, warmup=0.1, max_grad_norm=1.0,
    # proxies: SGD(lr 0.02, momentum 0.9, weight decay 5e-4), Kaiming-normal (fan_out)
    # init from their own seed (the reference's hypseed 0, the same for every run)
    proxy_lr=0.02, proxy_momentum=0.9, proxy_weight_decay=5e-4, proxy_seed=0,
    # loss: threshold None = the reference's code-table value for (bits, ceil(log2 #classes))
    threshold=None, alpha=0.8, dropout=0.2,
)

SPEC = MethodSpec(
    name="dsph",
    entry="bench.methods.dsph.method:DSPH",
    version="2",  # 2: the threshold from the reference's code table (COCO 32 bits: 0.125)
    supervision="supervised",
    inputs=("images", "captions", "labels"),
    multi_bit=False,  # one model per code length, as the reference scripts
    defaults=_DEFAULTS,
    param_types=param_types_for(_DEFAULTS, threshold="float|null"),
    search_space={
        "lr": {"type": "loguniform", "low": 1e-4, "high": 3e-3},
        "alpha": {"type": "uniform", "low": 0.0, "high": 1.0},
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Huo, Qin, Dai, Wang, Zhang, Huang, Wang. Deep Semantic-Aware Proxy Hashing "
                 "for Multi-Label Cross-Modal Retrieval. IEEE TCSVT 34(1), 2024",
        "code": "QinLab-WFU/DSPH@078b1a1 (train/hash_train.py, utils/utils.py, utils/get_args.py, "
                "utils/codetable.xlsx, model/hash_model.py)",
    },
    description=(
        "DSPH: CLIP image and text encoders fine-tuned end to end, a tanh(dropout(linear)) hash "
        "layer per modality, one learnable proxy per class; loss 1 - cos(h, own proxies) + "
        "ReLU(cos(h, other proxies) - threshold) for both modalities, plus alpha times the "
        "same hinge on pairs of multi-label samples sharing no label. The threshold comes from "
        "a code table indexed by bits and ceil(log2(#classes))."
    ),
)
