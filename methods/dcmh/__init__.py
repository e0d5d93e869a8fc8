"""DCMH (CVPR 2017): deep cross-modal hashing, the classic supervised deep method (Jiang, Li,
CVPR 2017; code jiangqy/DCMH-CVPR2017@67d0e84). Two rows: ``dcmh`` on frozen encoder features
and ``dcmh-e2e`` end to end through the shared open_clip backbone."""

from bench.plugins import MethodSpec
from bench.training.defaults import RUNTIME, SCHEDULE, param_types_for

_COMMON = {
    # schedules (README): reference 500 epochs, batch 128; quick on generated data
    **SCHEDULE,
    # alternating SGD: learning rate log-spaced from 10^lr_start to 10^lr_end over the epochs
    "lr_start": -1.5, "lr_end": -3.0, "weight_decay": 0.0,
    # loss: gamma (quantisation), eta (bit balance)
    "gamma": 1.0, "eta": 1.0,
    # each modality's network ends in Linear(D, hidden)-ReLU-Linear(hidden, bits) (DCMH's
    # text network; hidden 8192); its inputs standardised with the training pairs' statistics
    # (the reference's networks read raw pixels and counts; on L2-normalised CLIP features
    # the likelihood does not move from log 2 without it, README)
    "hidden": 8192, "standardize": True,
    **{k: v for k, v in RUNTIME.items() if k != "image_cache_mb"},
}
_REFERENCE = {
    "paper": "Jiang, Li. Deep Cross-Modal Hashing. CVPR 2017",
    "code": "jiangqy/DCMH-CVPR2017@67d0e84 (DCMH_matlab/DCMH_matlab/process_DCMH.m, "
            "update_net.m, DCMH_demo.m; DCMH_tensorflow/DCMH_tensorflow/DCMH_demo.py)",
}
_SEARCH = {"gamma": {"type": "loguniform", "low": 0.1, "high": 10.0},
           "eta": {"type": "loguniform", "low": 0.1, "high": 10.0}}

SPEC = MethodSpec(
    name="dcmh",
    entry="bench.methods.dcmh.method:DCMH",
    version="1",
    supervision="supervised",
    inputs=("image_features", "text_features", "labels"),
    multi_bit=False,  # one model per code length, as the reference
    defaults=dict(_COMMON),
    param_types=param_types_for(_COMMON),
    search_space=_SEARCH,
    resources={"cpu": 1, "gpu": 0},
    reference=_REFERENCE,
    description=(
        "DCMH on frozen encoder features: per modality an MLP (D-8192-K) trained alternately "
        "(image network, then text network, then B = sign(F + G)) on the pairwise negative "
        "log-likelihood of label similarity with theta = F_i.G_j / 2 against the other "
        "modality's buffer, plus gamma·||B - F||² and eta·||F·1||² (bit balance); SGD with "
        "a log-spaced learning rate."
    ),
)

_E2E_DEFAULTS = {
    **_COMMON,
    # the CLIP towers replace DCMH's CNN-F and bag-of-words inputs: their last unfreeze_blocks
    # blocks train at clip_lr_scale x the scheduled learning rate
    "clip_model": "bundled", "clip_weights": None, "unfreeze_blocks": 2, "clip_lr_scale": 0.01,
    "max_words": 32, "image_cache_mb": 2048,
}

SPEC_E2E = MethodSpec(
    name="dcmh-e2e",
    entry="bench.methods.dcmh.method:DCMHEndToEnd",
    version="1",
    supervision="supervised",
    inputs=("images", "captions", "labels"),
    multi_bit=False,
    defaults=_E2E_DEFAULTS,
    param_types=param_types_for(_E2E_DEFAULTS),
    search_space=_SEARCH,
    resources={"cpu": 1, "gpu": 0},
    reference=_REFERENCE,
    description=(
        "DCMH end to end: the same loss and alternating optimisation, with the image and text "
        "networks' inputs produced by the shared open_clip backbone's towers (last blocks "
        "fine-tuned) instead of frozen features."
    ),
)
