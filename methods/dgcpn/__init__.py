"""DGCPN: Deep Graph-neighbor Coherence Preserving Network (Yu et al., AAAI 2021)."""

from bench.deep.options import SELECTION_TYPES
from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="dgcpn",
    entry="bench.methods.dgcpn.method:DGCPN",
    version="2",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={
        # Atmegal/DGCPN@9f62c56 train.py:37-63 (MIRFlickr / NUS defaults) and models.py
        "epochs": 100, "batch_size": 32, "lr_image": 0.005, "lr_text": 0.005,
        "momentum": 0.9, "weight_decay": 5e-4, "a1": 0.01, "a2": 0.3,
        "knn_keep": 0.4,  # paper's K = 2,000 of 5,000 (code: knn_number = 3,000 zeroed)
        "scale": 2.0,  # per kept neighbour: the code's scale 4,000 = 2.0 x 2,000
        "K": 1.5, "dw": 1.0, "cw": 1.0, "hidden": 4096, "dropout": 0.5,
        "text_init_std": 0.3, "updates": "three", "drop_last": False,
        # the reference evaluates every epoch, keeps the best, stops after > 10 misses
        "selection": "validation", "val_every": 1, "patience": 10, "report_every": 10,
    },
    param_types={**SELECTION_TYPES, "epochs": "int[1,]", "batch_size": "int[2,]",
                 "lr_image": "float(0,]", "lr_text": "float(0,]", "momentum": "float[0,1)",
                 "weight_decay": "float[0,]", "a1": "float[0,1]", "a2": "float[0,1]",
                 "knn_keep": "float(0,1]", "scale": "float(0,]", "K": "float",
                 "dw": "float[0,]", "cw": "float[0,]", "hidden": "int[1,]",
                 "dropout": "float[0,1)", "text_init_std": "float[0,]",
                 "updates": "'three'|'joint'", "drop_last": "bool", "patience": "int[0,]"},
    search_space={
        "a1": {"type": "uniform", "low": 0.0, "high": 1.0},
        "a2": {"type": "uniform", "low": 0.0, "high": 1.0},
        "knn_keep": {"type": "uniform", "low": 0.05, "high": 0.8},
        "scale": {"type": "loguniform", "low": 0.5, "high": 8.0},
        "dw": {"type": "loguniform", "low": 0.1, "high": 10.0},
        "cw": {"type": "loguniform", "low": 0.1, "high": 10.0},
        "lr_image": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
        "lr_text": {"type": "loguniform", "low": 1e-4, "high": 1e-1},
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Yu, Zhou, Zhan, Tao: Deep Graph-neighbor Coherence Preserving Network for "
                 "Unsupervised Cross-modal Hashing, AAAI 2021",
        "code": "Atmegal/DGCPN@9f62c56 (train.py, train_div.py, models.py, load_data.py read; "
                "re-implemented, no code copied)",
        "protocol": "MIRFlickr, NUS-WIDE (5,000 training pairs), Wiki; VGG-19 fc7 and BoW "
                    "features; best validation epoch",
    },
    description=(
        "Global affinity S = 2*((1-a2)*S_pair + a2*pro_dis) - 1: S_pair = a1*cos_T + "
        "(1-a1)*cos_I, pro_dis = scale * P P^T with P the kNN-sparsified (self and the "
        "knn_number smallest zeroed), row-normalised S_pair (graph-neighbour coherence). Loss: "
        "paired code cosines to K, off-diagonal intra/inter-modal code cosines to S (dw), four "
        "consistency MSEs between the code-similarity matrices (cw); per batch a joint update "
        "and one update per net against the other net's sign codes."
    ),
)
