"""CMSSH: Cross-Modal Similarity-Sensitive Hashing (Bronstein et al., CVPR 2010)."""

from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="cmssh",
    entry="bench.methods.cmssh.method:CMSSH",
    version="1",
    supervision="supervised",
    inputs=("image_features", "text_features", "labels"),
    multi_bit=True,
    defaults={"pairs": 20000, "positive_fraction": 0.5, "thresholds": 21, "center": True},
    search_space={
        "pairs": {"type": "choice", "values": [5000, 20000, 50000]},
        "positive_fraction": {"type": "uniform", "low": 0.2, "high": 0.8},
        "thresholds": {"type": "choice", "values": [11, 21, 41]},
    },
    param_types={"pairs": "int[2,]", "positive_fraction": "float(0,1)", "thresholds": "int[1,]"},
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Bronstein, Bronstein, Michel & Paragios, Data fusion through cross-modality "
                 "metric learning using similarity-sensitive hashing, CVPR 2010",
        "code": "none public (no implementation in BMC-SDNU/Cross-Modal-Hashing-Retrieval"
                "@0196e313aad0 nor elsewhere on GitHub as far as searched); numpy "
                "implementation from the paper's boosting algorithm",
    },
    description=(
        "Boosting over labelled cross-modal pairs (image of item i, text of item j; s = +1 if "
        "they share a label, -1 otherwise; `pairs` seeded pairs, `positive_fraction` of them "
        "similar). Bit t: p, q = top singular vectors of Σ w_k s_k x_k y_kᵀ, thresholds a, b "
        "by a grid search over `thresholds` quantiles of the training projections maximising "
        "r = Σ w_k s_k sgn(pᵀx_k + a) sgn(qᵀy_k + b); α = ½ log((1+r)/(1-r)); w_k ← w_k "
        "exp(-α s_k ξ_k η_k), normalised. Codes sgn(pᵀx + a), sgn(qᵀy + b)."
    ),
)
