"""CVH: Cross-View Hashing (Kumar & Udupa, IJCAI 2011), paired-only setting."""

from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="cvh",
    entry="bench.methods.cvh.method:CVH",
    version="1",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=True,
    defaults={"reg": 1e-4, "cyy": "inverse", "lift": "gaussian", "center": True},
    search_space={"reg": {"type": "loguniform", "low": 1e-6, "high": 1e2}},
    param_types={"reg": "float[0,]", "cyy": "'inverse'|'toolbox'",
                 "lift": "'gaussian'|'null_space'|'error'"},
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Kumar & Udupa, Learning hash functions for cross-view similarity search, "
                 "IJCAI 2011",
        "code": "BMC-SDNU/Cross-Modal-Hashing-Retrieval@0196e313aad0: CVH/code/CVH_learn.m, "
                "CVHtrainCCA.m, demo_CVH.m (defaults, formulas; numpy re-implementation)",
    },
    description=(
        "CVH with only pair information (W = I): the relaxed problem (uncorrelated, "
        "unit-variance bits, codes of a pair equal across views) is the generalised "
        "eigenproblem C_xy K C_yx a = λ C_xx a with K = (C_yy + reg I)^-1, C = unnormalised "
        "(co)variances + reg I (absolute ridge 1e-4 as the reference); W_y = K C_yx W_x Λ^-1/2; "
        "codes sign. cyy=toolbox uses K = C_yy + reg I as BMC-SDNU's CVHtrainCCA does. Bits "
        "beyond the min(dx, dy) non-degenerate solutions: lift=gaussian (seeded), null_space "
        "(the zero-eigenvalue directions an eigen-solver returns: noise bits, as the "
        "reference) or error."
    ),
)
