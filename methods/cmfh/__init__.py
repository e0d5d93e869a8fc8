"""CMFH: Collective Matrix Factorization Hashing (Ding, Guo & Zhou, CVPR 2014)."""

from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="cmfh",
    entry="bench.methods.cmfh.method:CMFH",
    version="1",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={"alpha": 0.5, "mu": 100.0, "gamma": 0.01, "iters": 25, "center": True},
    search_space={
        "alpha": {"type": "uniform", "low": 0.1, "high": 0.9},
        "mu": {"type": "loguniform", "low": 1e-2, "high": 1e3},
        "gamma": {"type": "loguniform", "low": 1e-4, "high": 1.0},
    },
    param_types={"alpha": "float[0,1]", "mu": "float(0,]", "gamma": "float(0,]",
                 "iters": "int[1,]"},
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Ding, Guo & Zhou, Collective matrix factorization hashing for multimodal "
                 "data, CVPR 2014 (and the TKDE version's objective, as the reference code)",
        "code": "BMC-SDNU/Cross-Modal-Hashing-Retrieval CMFH (defaults); numpy "
                "re-implementation from the formulas",
    },
    description=(
        "Shared latent V (n x bits) factorises both modalities: minimise Σ_t α_t (||X_t - V "
        "U_t||² + mu ||V - X_t P_t||² + gamma (||U_t||² + ||P_t||² + ||V||²)), α = (alpha, "
        "1 - alpha), by exact alternating ridge updates of U_t, V, P_t (Cholesky), `iters` "
        "rounds from a seeded uniform start (the reference runs 25). Codes sign(x_t P_t) on "
        "centred features."
    ),
)
