"""JDSH: Joint-modal Distribution-based Similarity Hashing (Liu et al., SIGIR 2020)."""

from bench.deep.options import LOOP_SPACE, LOOP_TYPES
from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="jdsh",
    entry="bench.methods.jdsh.method:JDSH",
    version="2",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={
        # reference MIRFLICKR setting (KaiserLew/JDSH@caa8224e2f2e, config/JDSH_MIRFlickr.json
        # and JDSH.py): 300 epochs, batch 32 (drop_last), SGD per network, codes tanh(sqrt(t+1)·hid)
        "epochs": 300, "batch_size": 32, "optimizer": "sgd", "lr_image": 0.01, "lr_text": 0.01,
        "momentum": 0.9, "weight_decay": 5e-4, "alpha": 0.5, "beta": 0.1, "lamb": 0.4,
        "mu": 1.4, "intra": 0.1, "l1": 0.1, "l2": 0.2, "left_scales": 2.0,
        "right_scales": 4.0, "drop_last": True, "code_scale": "sqrt_epoch",
        # DSDW thresholds: "fit" = fitted on this training set's batch affinities (the
        # reference's constants were fitted offline on MIRFLICKR); "mir" = those constants
        "thresholds": "fit", "fit_batches": 64,
        # image: only the hash layer Linear(d, L) on frozen features (models.py: the AlexNet
        # runs under no_grad); text: d -> 4096 -> L ("hidden" is the text net's width)
        "hidden": 4096, "image_net": "linear",
        "selection": "final", "val_every": 10, "report_every": 10,
    },
    param_types={**LOOP_TYPES, "alpha": "float[0,]", "beta": "float[0,]", "lamb": "float[0,]",
                 "mu": "float(0,]", "intra": "float[0,]", "l1": "float[0,]", "l2": "float[0,]",
                 "left_scales": "float[0,]", "right_scales": "float[0,]",
                 "thresholds": "'fit'|'mir'", "fit_batches": "int[1,]"},
    search_space={
        "alpha": {"type": "uniform", "low": 0.0, "high": 1.0},
        "beta": {"type": "uniform", "low": 0.0, "high": 1.0},
        "lamb": {"type": "uniform", "low": 0.0, "high": 1.0},
        "mu": {"type": "uniform", "low": 1.0, "high": 2.0},
        "intra": {"type": "loguniform", "low": 0.01, "high": 1.0},
        "l1": {"type": "uniform", "low": 0.0, "high": 0.5},
        "l2": {"type": "uniform", "low": 0.0, "high": 0.5},
        **LOOP_SPACE,
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Liu, Liu, Li, Sun, Ji, Zhang: Joint-modal Distribution-based Similarity "
                 "Hashing for Large-scale Unsupervised Deep Cross-modal Retrieval, SIGIR 2020",
        "code": "KaiserLew/JDSH@caa8224e2f2e (JDSH.py, models.py, config/JDSH_MIRFlickr.json, "
                "main.py, args.py; re-implemented, no code copied)",
        "protocol": "DJSRH protocol (5,000 training pairs, mAP@50)",
    },
    description=(
        "Joint-modal affinity alpha*S_I + beta*S_T + lamb*(S_high + S_high^T)/2 with "
        "S_high = norm(S_I) norm(S_T)^T, then distribution-based similarity decision and "
        "weighting (entries beyond fitted thresholds amplified exponentially), scaled by mu; "
        "intra-modal (weight intra) and both cross-modal code-similarity MSEs, minus the mean "
        "paired code agreement."
    ),
)
