"""CIRH: Correlation-Identity Reconstruction Hashing (Zhu et al., TKDE 2022)."""

from bench.deep.options import SELECTION_TYPES
from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="cirh",
    entry="bench.methods.cirh.method:CIRH",
    version="1",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={
        # reference MIRFLICKR setting (XizeWu/CIRH@0f6439d3cad0, main_mir.py:61-77)
        "epochs": 60, "batch_size": 512, "lr_fusion": 1e-3, "lr_hash": 1e-4,
        "lambda1": 10.0, "lambda2": 1.0, "beta": 0.01, "a1": 0.6, "a2": 0.6,
        "zero_fraction": 0.6,  # K = 3,000 of 5,000 training pairs zeroed per row
        "fusion_width": 512, "image_hidden": 4096, "dropout": 0.3,
        "mix_weights": [0.7, 0.2, 0.1], "mix_neighbours": "reference",
        "stage_b_affinity": "reference",
        # the reference keeps the best of its evaluations every 10 epochs
        "selection": "validation", "val_every": 10, "report_every": 10,
    },
    param_types={**SELECTION_TYPES, "epochs": "int[1,]", "batch_size": "int[4,]",
                 "lr_fusion": "float(0,]", "lr_hash": "float(0,]", "lambda1": "float[0,]",
                 "lambda2": "float[0,]", "beta": "float[0,]", "a1": "float[0,1]",
                 "a2": "float[0,1]", "zero_fraction": "float[0,1)", "fusion_width": "int[1,]",
                 "image_hidden": "int[1,]", "dropout": "float[0,1)",
                 "mix_neighbours": "'reference'|'nearest'",
                 "stage_b_affinity": "'reference'|'aligned'"},
    search_space={
        "lambda1": {"type": "loguniform", "low": 0.1, "high": 100.0},
        "lambda2": {"type": "loguniform", "low": 0.1, "high": 10.0},
        "beta": {"type": "loguniform", "low": 1e-3, "high": 1.0},
        "a1": {"type": "uniform", "low": 0.0, "high": 1.0},
        "a2": {"type": "uniform", "low": 0.0, "high": 1.0},
        "zero_fraction": {"type": "uniform", "low": 0.0, "high": 0.9},
        "lr_fusion": {"type": "loguniform", "low": 1e-4, "high": 1e-2},
        "lr_hash": {"type": "loguniform", "low": 1e-5, "high": 1e-3},
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Zhu, Wu, Li, Zhang, Wang, Zhu: Work Together: Correlation-Identity "
                 "Reconstruction Hashing for Unsupervised Cross-modal Retrieval, IEEE TKDE 2022",
        "code": "XizeWu/CIRH@0f6439d3cad0 (my_opt.py, models.py, main_mir.py read; "
                "re-implemented, no code copied)",
        "protocol": "MIR, NUS, COCO from provided .mat splits, mAP@50",
    },
    description=(
        "Stage A: a fusion net (modality encoders, GCN layers over the affinity, a joint "
        "cross-modal GCN) gives H = tanh(BN(fc[H_I, H_J, H_T])), B = sgn(H), trained with "
        "correlation-identity reconstruction of the (neighbour-mixed) features, affinity "
        "reconstruction and MSE(H, B). Stage B (same epoch): per-modality hash nets distil B "
        "(+ beta x similarity preservation). Affinity over the training set: a1-mixed cosines, "
        "the smallest zero_fraction of each row zeroed, a sigmoid stretch mixed in with a2."
    ),
)
