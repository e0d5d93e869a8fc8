"""IMH: Inter-Media Hashing (Song et al., SIGMOD 2013), fully paired setting."""

from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="imh",
    entry="bench.methods.imh.method:IMH",
    version="1",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=True,
    defaults={"beta": 1.0, "lam": 1.0, "k": 1, "weights": "binary", "sigma": 1.0,
              "threshold": "train_median", "center": True, "max_train": 5000},
    search_space={
        "beta": {"type": "loguniform", "low": 1e-3, "high": 1e2},
        "lam": {"type": "loguniform", "low": 1e-3, "high": 1e2},
        "k": {"type": "choice", "values": [1, 5, 10, 20]},
        "weights": {"type": "choice", "values": ["binary", "heat"]},
    },
    param_types={"beta": "float(0,]", "lam": "float[0,]", "k": "int[0,]",
                 "weights": "'binary'|'heat'", "sigma": "float(0,]",
                 "threshold": "'train_median'|'batch_median'", "max_train": "int[2,]|null"},
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Song, Yang, Yang, Huang & Shen, Inter-media hashing for large-scale "
                 "retrieval from heterogeneous data sources, SIGMOD 2013",
        "code": "BMC-SDNU/Cross-Modal-Hashing-Retrieval@0196e313aad0: IMH/code/IMH_learn.m, "
                "Laplacian_GK.m, IMH_compress.m, demo_IMH.m (defaults, formulas; numpy "
                "re-implementation)",
    },
    description=(
        "Codes Y (n x bits, YᵀY = I) = smallest eigenvectors of A_1 + A_2 + lam (L_1 + L_2), "
        "A_m = I - X_m (X_mᵀX_m + beta I)^-1 X_mᵀ (ridge hash functions substituted), L_m the "
        "Laplacian of a symmetrised k-NN graph per modality (binary weights as the reference, "
        "or heat kernel exp(-d²/sigma²)); paired codes equal (the reference's 1e10 "
        "consistency weight, taken to its limit). Hash functions W_m = (X_mᵀX_m + beta I)^-1 "
        "X_mᵀ Y, binarised at the training median (threshold=batch_median: the median of the "
        "batch being encoded, code 1 strictly above it, as the reference). O(n²) memory and "
        "O(n³) time: trains on a seeded subset of max_train pairs (default 5,000)."
    ),
)
