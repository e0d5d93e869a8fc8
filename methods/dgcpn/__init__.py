"""DGCPN: Deep Graph-neighbor Coherence Preserving Network (Yu et al., AAAI 2021)."""

from bench.deep.options import LOOP_SPACE, LOOP_TYPES
from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="dgcpn",
    entry="bench.methods.dgcpn.method:DGCPN",
    version="1",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={
        # baselines.md §3.1 (SGD lr 0.005, batch 32, scale K = 1.5, weights dw / cw); values
        # marked recon in methods/DEEP_UNSUPERVISED.md are reconstructions
        "epochs": 80, "batch_size": 32, "optimizer": "sgd", "lr_image": 0.005,
        "lr_text": 0.005, "momentum": 0.9, "weight_decay": 5e-4, "a1": 0.6, "a2": 0.5,
        "knn_fraction": 0.4, "scale": 1.5, "dw": 0.1, "cw": 1.0, "drop_last": True,
        "code_scale": "sqrt_epoch", "hidden": 4096, "image_net": "mlp",
        "selection": "final", "val_every": 10, "report_every": 10,
    },
    param_types={**LOOP_TYPES, "a1": "float[0,1]", "a2": "float[0,1]",
                 "knn_fraction": "float(0,1]", "scale": "float(0,]", "dw": "float[0,]",
                 "cw": "float[0,]"},
    search_space={
        "a1": {"type": "uniform", "low": 0.0, "high": 1.0},
        "a2": {"type": "uniform", "low": 0.0, "high": 1.0},
        "knn_fraction": {"type": "uniform", "low": 0.05, "high": 0.8},
        "scale": {"type": "uniform", "low": 1.0, "high": 2.0},
        "dw": {"type": "loguniform", "low": 0.01, "high": 1.0},
        **LOOP_SPACE,
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Yu, Zhou, Zhan, Tao: Deep Graph-neighbor Coherence Preserving Network for "
                 "Unsupervised Cross-modal Hashing, AAAI 2021",
        "code": "Atmegal/DGCPN (not readable here; reconstructed from baselines.md §3 and the "
                "paper's description; no code copied)",
        "protocol": "MIR, NUS, Wiki; 5,000 training pairs",
    },
    description=(
        "Affinity over the whole training set: first-order joint cosine S1 = a1*cos_I + "
        "(1-a1)*cos_T plus graph-neighbour coherence S2 = cosine of the kNN-sparsified rows of "
        "S1 (agreement of neighbour sets), S = scale*(2*((1-a2)*S1 + a2*S2) - 1); intra- (dw) "
        "and inter-modal (cw) code-similarity MSEs to the batch's block of S."
    ),
)
