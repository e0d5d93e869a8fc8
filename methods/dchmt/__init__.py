"""DCHMT ("DCMHT", ACM MM 2022): differentiable cross-modal hashing via multimodal
transformers, CLIP fine-tuned end to end with the "select" hash layer (Tu et al., ACM MM 2022;
code kalenforn/DCHMT@79bd5e6)."""

from bench.plugins import MethodSpec
from bench.training.defaults import clip_method_defaults, param_types_for

_DEFAULTS = clip_method_defaults(
    # BertAdam over CLIP (clip_lr) and the hash layers (lr). lr None: the schedule's (reference:
    # 1e-4 with batch 256, the example command; quick: 1e-3 with batch 64, the argument defaults)
    lr=None, clip_lr=1e-5, weight_decay=0.2, warmup=0.1, max_grad_norm=1.0,
    # hash layer: "select" (each bit a softmax over two logits, the code its argmax) or
    # "linear" (tanh, with the quantisation term)
    hash_layer="select", select_hidden=128,
    # similarity-preserving loss: euclidean distances, squared ("l2") hinge terms, negatives
    # pushed beyond sqrt(2·bits·vartheta); cosine: 1 - cos with sim_threshold
    similarity="euclidean", loss_type="l2", vartheta=0.75, sim_threshold=0.1,
    # quantisation weight: None = the reference's (0 for select, 1 for linear)
    w_quan=None,
)

SPEC = MethodSpec(
    name="dchmt",
    entry="bench.methods.dchmt.method:DCHMT",
    version="2",  # 2: the quick schedule's hash-layer lr is 1e-3 (get_args), not 1e-4
    supervision="supervised",
    inputs=("images", "captions", "labels"),
    multi_bit=False,  # one model per code length, as the reference scripts
    defaults=_DEFAULTS,
    param_types=param_types_for(_DEFAULTS, lr="float(0,]|null", hash_layer="'select'|'linear'",
                                similarity="'euclidean'|'cosine'", loss_type="'l1'|'l2'",
                                w_quan="float[0,]|null"),
    search_space={
        "lr": {"type": "loguniform", "low": 3e-5, "high": 1e-3},
        "vartheta": {"type": "uniform", "low": 0.3, "high": 1.0},
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Tu, Liu, Lin, Hong, Wang. Differentiable Cross-modal Hashing via Multimodal "
                 "Transformers. ACM MM 2022",
        "code": "kalenforn/DCHMT@79bd5e6 (train/hash_train.py, train/base.py, model/hash_model.py, "
                "utils/utils.py, utils/get_args.py)",
    },
    description=(
        "DCHMT: CLIP image and text encoders fine-tuned end to end; per modality a hash layer "
        "Linear(D, 128)-ReLU then, for every bit, a softmax over two logits (the 'select' "
        "layer; the code bit is the argmax). Label-similarity loss on the euclidean distances "
        "of the 2K-dim selections, image-text, image-image and text-text: squared distances "
        "of similar pairs plus squared hinges pushing dissimilar pairs beyond "
        "sqrt(2K·vartheta)."
    ),
)
