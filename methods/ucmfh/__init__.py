"""UCMFH: "When CLIP meets cross-modal hashing retrieval: a new strong baseline" (Xia et al.,
Information Fusion 2023)."""

from bench.deep.options import SELECTION_TYPES
from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="ucmfh",
    entry="bench.methods.ucmfh.method:UCMFH",
    # 2: the fusion halves are ℓ2-normalised inside the NT-Xent as in the reference's
    # ContrastiveLoss (XinyuXia97/UCMFH@116f015d512, metric.py:12-13); version 1 used their raw
    # dot products (each half has norm < 1, so the effective temperature was about doubled),
    # kept as normalize_halves=False
    version="2",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    requires=("joint_space",),
    defaults={
        # reference MIRFLICKR setting (XinyuXia97/UCMFH@116f015d512, ICMR.py:17-49): 2-layer
        # Transformer encoder, 4 heads, over the concatenated [image; text] token; heads
        # d -> 4096 -> L with dropout 0.3; NT-Xent (temperature 0.5) on the fusion outputs +
        # 0.5 x on the hash codes; Adam (betas 0.5, 0.999) 1e-4 fusion / 1e-3 heads; batch
        # 128; 100 epochs (test-flickr.sh); the first 4,992 training pairs
        "epochs": 100, "batch_size": 128, "lr_fusion": 1e-4, "lr_heads": 1e-3,
        "adam_beta1": 0.5, "temperature": 0.5, "hash_weight": 0.5, "layers": 2, "heads": 4,
        "feedforward": 2048, "dropout": 0.1, "head_hidden": 4096, "head_dropout": 0.3,
        # the reference steps the heads' MultiStepLR every iteration: lr x1.2 after 30 and
        # again after 80 iterations (MIR / NUS setting)
        "head_lr_milestones": [30, 80], "head_lr_gamma": 1.2,
        "max_train": 4992, "drop_last": True, "fusion_epochs": 0,
        # what the fusion encoder reads when one modality is encoded (see the README):
        # "own_gap" = the item's own feature, its missing half filled across the modality gap;
        # "paired" = the reference: the item's other modality too (not cross-modal retrieval)
        "fusion_input": "own_gap",
        # True = the reference: NT-Xent on the re-normalised fusion halves (metric.py:12-13);
        # False = their raw dot products (version 1; each half has norm < 1)
        "normalize_halves": True,
        "selection": "final", "val_every": 10, "report_every": 10,
    },
    param_types={**SELECTION_TYPES, "epochs": "int[1,]", "batch_size": "int[2,]",
                 "lr_fusion": "float(0,]", "lr_heads": "float(0,]", "adam_beta1": "float[0,1)",
                 "temperature": "float(0,]", "hash_weight": "float[0,]", "layers": "int[1,]",
                 "heads": "int[1,]", "feedforward": "int[1,]", "dropout": "float[0,1)",
                 "head_hidden": "int[1,]", "head_dropout": "float[0,1)",
                 "head_lr_gamma": "float(0,]", "max_train": "int[1,]|null",
                 "drop_last": "bool", "fusion_epochs": "int[0,]",
                 "fusion_input": "'own_gap'|'paired'", "normalize_halves": "bool"},
    search_space={
        "temperature": {"type": "loguniform", "low": 0.05, "high": 1.0},
        "hash_weight": {"type": "loguniform", "low": 0.1, "high": 2.0},
        "lr_fusion": {"type": "loguniform", "low": 1e-5, "high": 1e-3},
        "lr_heads": {"type": "loguniform", "low": 1e-4, "high": 1e-2},
        "epochs": {"type": "int", "low": 20, "high": 200},
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Xia, Dong, Peng, Wang et al.: When CLIP meets cross-modal hashing retrieval: "
                 "A new strong baseline, Information Fusion 2023",
        "code": "XinyuXia97/UCMFH@116f015d512 (ICMR.py, model.py, metric.py, load_dataset.py "
                "read; re-implemented, no code copied)",
        "protocol": "MIR, NUS, COCO from provided CLIP .pkl features, mAP@50",
    },
    description=(
        "A Transformer encoder over each pair's concatenated [image; text] CLIP token, split "
        "into two normalised halves (NT-Xent), and per-modality MLP hash heads on the halves "
        "(0.5 x NT-Xent on the codes). fusion_input says what the fusion reads when only one "
        "modality is encoded. Needs a joint space (image and text features of one dimension)."
    ),
)
