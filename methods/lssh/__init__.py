"""LSSH: Latent Semantic Sparse Hashing (Zhou, Ding & Guo, SIGIR 2014)."""

from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="lssh",
    entry="bench.methods.lssh.method:LSSH",
    version="1",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={"mu": 0.05, "rho": 0.5, "lam": 0.2, "atoms": 512, "outer_iters": 20,
              "lasso_iters": 30, "dict_sweeps": 5, "center": True, "max_train": 10000},
    search_space={
        "mu": {"type": "loguniform", "low": 1e-3, "high": 10.0},
        "rho": {"type": "uniform", "low": 0.05, "high": 0.95},
        "lam": {"type": "loguniform", "low": 1e-3, "high": 10.0},
        "atoms": {"type": "choice", "values": [128, 256, 512, 1024]},
    },
    param_types={"mu": "float(0,]", "rho": "float(0,1)", "lam": "float(0,]", "atoms": "int[1,]",
                 "outer_iters": "int[0,]", "lasso_iters": "int[1,]", "dict_sweeps": "int[1,]",
                 "max_train": "int[2,]|null"},
    resources={"cpu": 1, "gpu": 0},
    unified_database=True,  # unified_codes: the reference's database codes
    reference={
        "paper": "Zhou, Ding & Guo, Latent semantic sparse hashing for cross-modal similarity "
                 "search, SIGIR 2014",
        "code": "BMC-SDNU/Cross-Modal-Hashing-Retrieval@0196e313aad0: LSSH/code/solveLSSH.m, "
                "LSSHcoding.m, demo_LSSH.m (defaults, preprocessing, updates, coding; numpy "
                "re-implementation)",
    },
    description=(
        "Images: centred, PCA to min(bits, dim), rows ℓ2-normalised, sparse codes S over a "
        "dictionary B (`atoms` unit-norm columns); texts: centred, ℓ2-normalised, factorised "
        "T ≈ Y Uᵀ; latent alignment Y ≈ S Rᵀ. Minimise ||X - S Bᵀ||² + rho|S|_1 + lam ||Y - S "
        "Rᵀ||² + mu ||T - Y Uᵀ||² by alternating LASSO (rho relative to each sample's "
        "lambda_max, as the reference's SLEP call), constrained least squares for B, R, U and "
        "the closed form for Y; `outer_iters` rounds (20). Codes: sign(R s(x)) for images, "
        "sign((UᵀU + lam/mu I)^-1 Uᵀ t) for texts. Trains on at most max_train pairs (10,000, "
        "as the reference)."
    ),
)
