"""DJSRH: Deep Joint-Semantics Reconstructing Hashing (Su et al., ICCV 2019)."""

from bench.deep.options import LOOP_SPACE, LOOP_TYPES
from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="djsrh",
    entry="bench.methods.djsrh.method:DJSRH",
    version="2",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={
        # reference MIRFLICKR setting (zzs1994/DJSRH@6041c2df8107, settings.py and train.py)
        "epochs": 80, "batch_size": 32, "optimizer": "sgd", "lr_image": 0.001, "lr_text": 0.01,
        "momentum": 0.9, "weight_decay": 5e-4, "beta": 0.9, "eta": 0.4, "mu": 1.5,
        "lambda1": 0.1, "lambda2": 0.1, "drop_last": True, "code_scale": "sqrt_epoch",
        # frozen features: the fine-tuned AlexNet becomes a d -> 4096 layer (see README), with
        # the reference classifier's Dropout(0.5) in front of it in training (0 = none)
        "hidden": 4096, "image_net": "mlp", "image_dropout": 0.5,
        "selection": "final", "val_every": 10, "report_every": 10,
    },
    param_types={**LOOP_TYPES, "beta": "float[0,1]", "eta": "float[0,1]", "mu": "float(0,]",
                 "lambda1": "float[0,]", "lambda2": "float[0,]", "image_dropout": "float[0,1)"},
    search_space={
        "beta": {"type": "uniform", "low": 0.0, "high": 1.0},
        "eta": {"type": "uniform", "low": 0.0, "high": 1.0},
        "mu": {"type": "uniform", "low": 1.0, "high": 2.0},
        "lambda1": {"type": "loguniform", "low": 0.01, "high": 1.0},
        "lambda2": {"type": "loguniform", "low": 0.01, "high": 1.0},
        **LOOP_SPACE,
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Su, Zhong, Zhang: Deep Joint-Semantics Reconstructing Hashing for Large-Scale "
                 "Unsupervised Cross-Modal Retrieval, ICCV 2019",
        "code": "zzs1994/DJSRH@6041c2df8107 (train.py, models.py, settings.py; re-implemented, "
                "no code copied)",
        "protocol": "MIR/NUS-TC10: 5,000 training pairs, mAP@50",
    },
    description=(
        "Joint affinity S~ = beta*S_I + (1-beta)*S_T of the batch's feature cosines (2cos-1), "
        "diffused S = mu*((1-eta)*S~ + eta*S~S~^T/m); MSE of the code cosine matrices "
        "B_I B_I^T (lambda1), B_I B_T^T (1), B_T B_T^T (lambda2) to S; codes tanh(sqrt(t+1) hid)."
    ),
)
