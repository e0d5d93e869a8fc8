"""SePH: Semantics-Preserving Hashing (Lin, Ding, Hu & Wang, CVPR 2015), two anchor variants."""

from bench.plugins import MethodSpec

_DEFAULTS = {"alpha": 1e-2, "iters": 100, "lr": 500.0, "momentum": 0.5, "anchors": 500,
             "C": 1e-2, "klr_iters": 500, "kmeans_iters": 100, "center": True,
             "max_train": 5000}
_SEARCH = {
    "alpha": {"type": "loguniform", "low": 1e-4, "high": 1.0},
    "C": {"type": "loguniform", "low": 1e-4, "high": 1.0},
    "anchors": {"type": "choice", "values": [250, 500, 1000]},
    "lr": {"type": "loguniform", "low": 50.0, "high": 5000.0},
}
_TYPES = {"alpha": "float[0,]", "iters": "int[0,]", "lr": "float(0,]", "momentum": "float[0,1)",
          "anchors": "int[1,]", "C": "float[0,]", "klr_iters": "int[1,]",
          "kmeans_iters": "int[1,]", "max_train": "int[2,]|null"}
_REFERENCE = {
    "paper": "Lin, Ding, Hu & Wang, Semantics-preserving hashing for cross-view retrieval, "
             "CVPR 2015",
    "code": "BMC-SDNU/Cross-Modal-Hashing-Retrieval@0196e313aad0: SePH/code/demo_SePH.m, "
            "minKLD.m, kernelMatrix.m, markSchmidt/lossFuncs/{LogisticLoss,penalizedKernelL2}.m "
            "(defaults, optimiser settings, formulas; numpy re-implementation)",
}
_COMMON = (
    "Training codes H minimise KL(P || Q) + alpha/(bits n) || |H| - 1 ||², P = cosine label "
    "similarity (zero diagonal, sum 1), Q ∝ (1 + ||h_i - h_j||²/4)^-1 (a Student-t over "
    "relaxed Hamming distances), by t-SNE-style gradient descent (iters 100, lr 500, "
    "momentum 0.5, gains, centring each step; the lowest-objective iterate is kept), B = "
    "sign(H). Hash functions per modality and bit: kernel logistic regression on RBF "
    "features exp(-d²/σ²) to `anchors` anchors (σ² = mean squared training distance), "
    "penalty C wᵀK_0w, L-BFGS. O(n²) memory: trains on a seeded subset of max_train pairs "
    "(5,000)."
)

SPEC_RND = MethodSpec(
    name="seph-rnd", entry="bench.methods.seph.method:SePHRnd", version="1",
    supervision="supervised", inputs=("image_features", "text_features", "labels"),
    multi_bit=False, defaults=_DEFAULTS, search_space=_SEARCH, param_types=_TYPES,
    resources={"cpu": 1, "gpu": 0}, reference=_REFERENCE, unified_database=True,
    description="SePH_rnd: kernel anchors are seeded random training items. " + _COMMON,
)

SPEC_KM = MethodSpec(
    name="seph-km", entry="bench.methods.seph.method:SePHKM", version="1",
    supervision="supervised", inputs=("image_features", "text_features", "labels"),
    multi_bit=False, defaults=_DEFAULTS, search_space=_SEARCH, param_types=_TYPES,
    resources={"cpu": 1, "gpu": 0}, reference=_REFERENCE, unified_database=True,
    description="SePH_km: kernel anchors are seeded k-means centres per modality. " + _COMMON,
)
