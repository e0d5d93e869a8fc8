"""CCA-ITQ: canonical correlation analysis, then an iterative-quantisation rotation."""

from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="cca-itq",
    entry="bench.methods.cca_itq.method:CCAITQ",
    version="1",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={"reg": 1e-4, "itq_iters": 50, "eig_power": 4.0},
    param_types={"reg": "float[0,]", "itq_iters": "int[0,]", "eig_power": "float[0,]"},
    search_space={
        "reg": {"type": "loguniform", "low": 1e-5, "high": 1.0},
        "eig_power": {"type": "choice", "values": [0.0, 1.0, 4.0]},
    },
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Gong et al., Iterative quantization, TPAMI 2013 (CCA-ITQ, section 5)",
        "code": "ITQ step: Gong's ITQ.m as copied in willard-yuan/hashing-baseline-for-"
                "image-retrieval@691805128950 (ITQ.m:18-31); CCA step: numpy implementation "
                "from the paper (no public CCA-ITQ code)",
    },
    description=(
        "Regularised CCA (C + reg * trace(C) * I); the top `bits` canonical directions scaled "
        "by correlation**eig_power (p=4 as in Gong et al.'s multi-view embedding); one ITQ "
        "rotation learned on both modalities' projections. When bits exceed min(dim_image, "
        "dim_text), the canonical space is lifted by a seeded Gaussian map before ITQ."
    ),
)
