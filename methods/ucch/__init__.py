"""UCCH: Unsupervised Contrastive Cross-modal Hashing (Hu et al., TPAMI 2023)."""

from bench.deep.options import SELECTION_TYPES
from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="ucch",
    entry="bench.methods.ucch.method:UCCH",
    version="2",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={
        # reference feature setting (penghu-cs/UCCH README command for MIRFLICKR features and
        # its config defaults): alpha 0.7, margin 0.2, shift 0.1, Adam 1e-4, 20 epochs, batch
        # 256, 3 (image) / 2 (text) linear layers, K 4096 negatives, T 0.9, memory momentum
        # 0.4, one warm-up epoch, weight decay 1e-6, gradient clipping 1.0, best epoch kept
        "epochs": 20, "batch_size": 256, "lr": 1e-4, "weight_decay": 1e-6, "alpha": 0.7,
        "margin": 0.2, "shift": 0.1, "negatives": 4096, "temperature": 0.9,
        "memory_momentum": 0.4, "warmup_epochs": 1, "clip_grad": 1.0,
        # memory bank start: "reference" = normalise(sign(randn - 0.5)) as NCEAverage.py
        # (about 31 % of the bits +1); "balanced" = normalise(sign(randn))
        "memory_init": "reference",
        "image_layers": 3, "text_layers": 2, "lr_milestones": [30, 60, 90, 120],
        "drop_last": True,
        # hidden width: 8192 in the reference (for 4096-d VGG features); see the README
        "hidden": 2048,
        "selection": "validation", "val_every": 1, "report_every": 1,
    },
    param_types={**SELECTION_TYPES, "epochs": "int[1,]", "batch_size": "int[2,]",
                 "lr": "float(0,]", "weight_decay": "float[0,]", "alpha": "float[0,1]",
                 "margin": "float[0,]", "shift": "float[0,]", "negatives": "int[1,]",
                 "temperature": "float(0,]", "memory_momentum": "float[0,1)",
                 "warmup_epochs": "int[0,]", "clip_grad": "float[0,]", "image_layers": "int[1,]",
                 "text_layers": "int[1,]", "drop_last": "bool", "hidden": "int[1,]",
                 "memory_init": "'reference'|'balanced'"},
    search_space={
        "alpha": {"type": "uniform", "low": 0.0, "high": 1.0},
        "margin": {"type": "uniform", "low": 0.0, "high": 0.5},
        "shift": {"type": "uniform", "low": 0.0, "high": 1.0},
        "temperature": {"type": "loguniform", "low": 0.05, "high": 2.0},
        "memory_momentum": {"type": "uniform", "low": 0.0, "high": 0.9},
        "lr": {"type": "loguniform", "low": 1e-5, "high": 1e-3},
        "hidden": {"type": "choice", "values": [1024, 2048, 4096, 8192]},
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Hu, Zhu, Lin, Peng: Unsupervised Contrastive Cross-modal Hashing, "
                 "IEEE TPAMI 2023",
        "code": "penghu-cs/UCCH@0c20e62b9987 (UCCH.py, NCE/NCEAverage.py, NCE/NCECriterion.py, "
                "src/utils.py, nets/ImageNet.py, nets/TextNet.py, utils/config.py, README.md; "
                "re-implemented, no code copied)",
        "protocol": "MIR 2,000 queries, trains on the whole retrieval set; mAP@ALL",
    },
    description=(
        "MLP hash networks (tanh, l2-normalised); contrastive hashing against a momentum "
        "memory bank of binary codes (softmax over sign(memory) of the pair and K sampled "
        "negatives, temperature T*sqrt(L), both modalities) plus the cross-modal ranking loss "
        "(log-sum-exp over in-batch negatives with margin and shift); alpha*L_c + "
        "(1-alpha)*L_r."
    ),
)
