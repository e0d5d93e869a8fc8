"""DSAH: Deep Semantic-Alignment Hashing (Yang et al., ICMR 2020)."""

from bench.deep.options import LOOP_SPACE, LOOP_TYPES
from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="dsah",
    entry="bench.methods.dsah.method:DSAH",
    version="1",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={
        # baselines.md §3.1: alpha 0.9, K 1.5, eta 0.1, symmetry weight 2, SGD lr 0.005,
        # momentum 0.7, batch 32, 200 epochs; the reference keeps its best epoch
        "epochs": 200, "batch_size": 32, "optimizer": "sgd", "lr_image": 0.005,
        "lr_text": 0.005, "momentum": 0.7, "weight_decay": 5e-4, "alpha": 0.9, "k": 1.5,
        "eta": 0.1, "symmetry": 2.0, "diagonal": 1.0, "reconstruction": 1.0,
        "drop_last": True, "code_scale": "sqrt_epoch", "hidden": 4096, "image_net": "mlp",
        "decoder_hidden": 4096,
        "selection": "validation", "val_every": 10, "report_every": 10,
    },
    param_types={**LOOP_TYPES, "alpha": "float[0,1]", "k": "float(0,]", "eta": "float[0,]",
                 "symmetry": "float[0,]", "diagonal": "float[0,]",
                 "reconstruction": "float[0,]", "decoder_hidden": "int[1,]"},
    search_space={
        "alpha": {"type": "uniform", "low": 0.0, "high": 1.0},
        "k": {"type": "uniform", "low": 1.0, "high": 2.0},
        "eta": {"type": "loguniform", "low": 0.01, "high": 1.0},
        "symmetry": {"type": "loguniform", "low": 0.1, "high": 10.0},
        "reconstruction": {"type": "loguniform", "low": 0.01, "high": 10.0},
        **LOOP_SPACE,
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Yang, Wu, Zhang, Zhang, Li, Wang: Deep Semantic-Alignment Hashing for "
                 "Unsupervised Cross-Modal Retrieval, ICMR 2020",
        "code": "idejie/DSAH (not readable here; reconstructed from baselines.md §3; no code "
                "copied)",
        "protocol": "DJSRH protocol, mAP@50",
    },
    description=(
        "S = k*(alpha*S_I + (1-alpha)*S_T) of the batch's features (2cos-1); code-similarity "
        "MSEs of B_T B_T^T, B_I B_T^T, B_I B_I^T to S (eta on the intra-modal ones), the "
        "diagonal of B_I B_T^T pulled to k, symmetry of B_I B_T^T, and cross-modal "
        "reconstruction: image features decoded from text codes and text features from image "
        "codes."
    ),
)
