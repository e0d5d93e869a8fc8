"""CAGAN / AGAH: (CLIP-based) Adaptive Graph Attention Hashing (Li et al., Sensors 2023)."""

from bench.deep.options import LOOP_SPACE, LOOP_TYPES
from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="cagan",
    entry="bench.methods.cagan.method:CAGAN",
    version="2",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={
        # AwakerLee/AGAH@96e8b3c, CAGAN.zip: config/JAGH_MIRFlickr.json, CAGAN.py, models.py
        "epochs": 20, "batch_size": 32, "optimizer": "sgd", "lr_image": 0.01, "lr_text": 0.01,
        "momentum": 0.9, "weight_decay": 5e-4, "eta": 0.5, "beta": 0.2, "lamb": 0.3,
        "mu": 1.4, "delta": 0.1, "epsilon": 1.0, "phi": 0.15, "gamma": 0.45,
        "drop_last": True, "code_scale": "sqrt_epoch", "hidden": 4096, "image_net": "mlp",
        # the training-only GCN branch (models.py:57-59): d -> 2048 -> 1024 -> L
        "gcn_hidden": 2048, "gcn_mid": 1024,
        # 2cos-1 on dense text features; "sign" is the reference's form for BoW tags
        "text_similarity": "signed_cosine",
        "selection": "final", "val_every": 5, "report_every": 5,
    },
    param_types={**LOOP_TYPES, "eta": "float[0,]", "beta": "float[0,]", "lamb": "float[0,]",
                 "mu": "float(0,]", "delta": "float[0,]", "epsilon": "float[0,]",
                 "phi": "float[0,]", "gamma": "float[0,]", "gcn_hidden": "int[1,]",
                 "gcn_mid": "int[1,]", "text_similarity": "'signed_cosine'|'sign'"},
    search_space={
        "eta": {"type": "uniform", "low": 0.0, "high": 1.0},
        "beta": {"type": "uniform", "low": 0.0, "high": 1.0},
        "lamb": {"type": "uniform", "low": 0.0, "high": 1.0},
        "mu": {"type": "uniform", "low": 1.0, "high": 2.0},
        "phi": {"type": "loguniform", "low": 0.01, "high": 1.0},
        "gamma": {"type": "uniform", "low": 0.0, "high": 1.0},
        **LOOP_SPACE,
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Li et al.: Adaptive Graph Attention Hashing for Unsupervised Cross-Modal "
                 "Retrieval via Multimodal Transformers (CAGAN), Sensors 2023",
        "code": "AwakerLee/AGAH@96e8b3c (CAGAN.zip: CAGAN.py, models.py)",
        "protocol": "DJSRH protocol, mAP@5000",
    },
    description=(
        "S = mu*(eta*S_I + beta*S_T + lamb*norm(S_I) norm(S_T)^T) of the batch's features; "
        "intra- (delta) and inter-modal (epsilon, both directions, minus the paired diagonal) "
        "code-similarity MSEs; training-only: one GCN per modality (d->2048->1024->L) on the "
        "detached features over S + gamma*W (W learned), its codes tied to each other "
        "(epsilon) and the image GCN's codes to both hash nets' codes (phi). Encoding uses the "
        "hash networks only."
    ),
)
