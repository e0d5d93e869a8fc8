"""CMFH: Collective Matrix Factorization Hashing (Ding, Guo & Zhou, CVPR 2014)."""

from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="cmfh",
    entry="bench.methods.cmfh.method:CMFH",
    version="2",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={"alpha": 0.5, "mu": 100.0, "gamma": 0.01, "iters": 25, "center": True,
              "projection_update": "reference"},
    search_space={
        "alpha": {"type": "uniform", "low": 0.1, "high": 0.9},
        "mu": {"type": "loguniform", "low": 1e-2, "high": 1e3},
        "gamma": {"type": "loguniform", "low": 1e-4, "high": 1.0},
    },
    param_types={"alpha": "float[0,1]", "mu": "float(0,]", "gamma": "float(0,]",
                 "iters": "int[1,]", "projection_update": "'reference'|'exact'"},
    resources={"cpu": 1, "gpu": 0},
    unified_database=True,
    reference={
        "paper": "Ding, Guo & Zhou, Collective matrix factorization hashing for multimodal "
                 "data, CVPR 2014 (and the TKDE version's objective, as the reference code)",
        "code": "BMC-SDNU/Cross-Modal-Hashing-Retrieval@0196e313aad0, CMFH/code/CMFH_learn.m, "
                "CMFH_compress1.m, CMFH_compress.m (numpy re-implementation)",
    },
    description=(
        "Shared latent V (n x bits) factorises both modalities: minimise Σ_t α_t (||X_t - V "
        "U_t||² + mu ||V - X_t P_t||² + gamma (||U_t||² + ||P_t||² + ||V||²)), α = (alpha, "
        "1 - alpha), by alternating ridge updates of U_t, V, P_t (Cholesky), `iters` rounds "
        "from a seeded uniform start (the reference runs 25). projection_update: 'reference' "
        "(default) is the reference's P_t line as MATLAB parses it (1/mu² times the "
        "minimiser), 'exact' the minimiser. Codes sign(x_t P_t) on centred features; with "
        "`bench run --database-codes unified`, database items are coded sign(V(x, y) - "
        "mean V) from both modalities (the paper's protocol)."
    ),
)
