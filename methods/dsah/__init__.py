"""DSAH: Deep Semantic-Alignment Hashing (Yang et al., ICMR 2020), rebuilt from the authors'
code idejie/DSAH@b231976 (README.md in this folder)."""

from bench.deep.options import LOOP_SPACE, LOOP_TYPES
from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="dsah",
    entry="bench.methods.dsah.method:DSAH",
    version="2",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={
        # idejie/DSAH@b231976 settings.py:18-49: 200 epochs, lr 0.005 (both nets), batch 32,
        # momentum 0.7 (Nesterov, train.py:64-72), weight decay 5e-4, ALPHA 0.9, K 1.5, ETA 0.1
        "epochs": 200, "batch_size": 32, "optimizer": "sgd", "lr_image": 0.005,
        "lr_text": 0.005, "momentum": 0.7, "nesterov": True, "weight_decay": 5e-4,
        "alpha": 0.9, "k": 1.5, "eta": 0.1,
        # loss weights, train.py:127: diagonal 1, reconstruction 1, symmetry 2
        "symmetry": 2.0, "diagonal": 1.0, "reconstruction": 1.0,
        # decoders read sign(code) (models.py:28-29,51-52): no gradient to the codes;
        # 'relaxed' feeds them the relaxed codes
        "decoder_input": "sign",
        # DataLoader drop_last (train.py:46); tanh(sqrt(epoch+1)*hid) (models.py:27,33)
        "drop_last": True, "code_scale": "sqrt_epoch",
        # frozen features: AlexNet's dropout(0.5) before fc7 on the input, then a trainable
        # d -> 4096 layer in place of fc7 (models.py:12-14); text d -> 4096 -> L (models.py:39)
        "hidden": 4096, "image_net": "mlp", "image_dropout": 0.5,
        # the reference scores every epoch (settings.py:21,31,40) and keeps the best
        "selection": "validation", "val_every": 1, "report_every": 10,
    },
    param_types={**LOOP_TYPES, "alpha": "float[0,1]", "k": "float(0,]", "eta": "float[0,]",
                 "symmetry": "float[0,]", "diagonal": "float[0,]",
                 "reconstruction": "float[0,]", "nesterov": "bool",
                 "decoder_input": "'sign'|'relaxed'", "image_dropout": "float[0,1)"},
    search_space={
        "alpha": {"type": "uniform", "low": 0.0, "high": 1.0},
        "k": {"type": "uniform", "low": 1.0, "high": 2.0},
        "eta": {"type": "loguniform", "low": 0.01, "high": 1.0},
        "symmetry": {"type": "loguniform", "low": 0.1, "high": 10.0},
        "reconstruction": {"type": "loguniform", "low": 0.01, "high": 10.0},
        "decoder_input": {"type": "choice", "values": ["sign", "relaxed"]},
        "image_dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
        **LOOP_SPACE,
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Yang, Wu, Zhang, Zhang, Li, Wang: Deep Semantic-Alignment Hashing for "
                 "Unsupervised Cross-Modal Retrieval, ICMR 2020",
        "code": "idejie/DSAH@b231976 (train.py, models.py, settings.py, datasets.py, "
                "metric.py read; no code copied)",
        "protocol": "MIRFlickr/NUS-WIDE/WIKI, best epoch by mAP@50",
    },
    description=(
        "S = k*(alpha*S_I + (1-alpha)*S_T) of the batch's feature cosines (2cos-1); "
        "element-mean MSEs of B_T B_T^T, B_I B_T^T, B_I B_I^T to S (weight 1) and of "
        "B_I B_I^T, B_T B_T^T to k*S_I, k*S_T (eta), diag(B_I B_T^T) to k, 2*symmetry of "
        "B_I B_T^T, and one-Linear cross-modal decoders reading sign(code) (decoder_input); "
        "SGD with Nesterov momentum, codes tanh(sqrt(t+1)*hid)."
    ),
)
