"""CAGAN / AGAH: (CLIP-based) Adaptive Graph Attention Hashing (Li et al., Sensors 2023)."""

from bench.deep.options import LOOP_SPACE, LOOP_TYPES
from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="cagan",
    entry="bench.methods.cagan.method:CAGAN",
    version="1",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={
        # baselines.md §3.1, MIRFLICKR setting
        "epochs": 20, "batch_size": 32, "optimizer": "sgd", "lr_image": 0.01, "lr_text": 0.01,
        "momentum": 0.9, "weight_decay": 5e-4, "eta": 0.5, "beta": 0.2, "lamb": 0.3,
        "mu": 1.4, "delta": 0.1, "epsilon": 1.0, "phi": 0.15,
        "drop_last": True, "code_scale": "sqrt_epoch", "hidden": 4096, "image_net": "mlp",
        # the graph-attention branch (reconstructed shape)
        "graph_hidden": 512, "graph_slope": 0.2,
        "selection": "final", "val_every": 5, "report_every": 5,
    },
    param_types={**LOOP_TYPES, "eta": "float[0,]", "beta": "float[0,]", "lamb": "float[0,]",
                 "mu": "float(0,]", "delta": "float[0,]", "epsilon": "float[0,]",
                 "phi": "float[0,]", "graph_hidden": "int[1,]", "graph_slope": "float[0,]"},
    search_space={
        "eta": {"type": "uniform", "low": 0.0, "high": 1.0},
        "beta": {"type": "uniform", "low": 0.0, "high": 1.0},
        "lamb": {"type": "uniform", "low": 0.0, "high": 1.0},
        "mu": {"type": "uniform", "low": 1.0, "high": 2.0},
        "phi": {"type": "loguniform", "low": 0.01, "high": 1.0},
        **LOOP_SPACE,
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Li et al.: Adaptive Graph Attention Hashing for Unsupervised Cross-Modal "
                 "Retrieval via Multimodal Transformers (CAGAN), Sensors 2023",
        "code": "AwakerLee/AGAH (CAGAN.zip, not readable here; reconstructed from baselines.md "
                "§3; no code copied)",
        "protocol": "DJSRH protocol, mAP@5000",
    },
    description=(
        "S = mu*(eta*S_I + beta*S_T + lamb*norm(S_I) norm(S_T)^T) of the batch's features; "
        "intra- (delta) and inter-modal (epsilon, minus the paired diagonal) code-similarity "
        "MSEs; an adaptive graph-attention branch over the batch (edges where S > 0) on the two "
        "hash networks' hidden features gives auxiliary codes aligned to S (phi). Encoding uses "
        "the hash networks only."
    ),
)
