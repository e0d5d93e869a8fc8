"""FSH: Fusion Similarity Hashing (Liu et al., CVPR 2017), reconstructed."""

from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="fsh",
    entry="bench.methods.fsh.method:FSH",
    version="1",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={"anchors": 500, "nearest": 5, "diffusion": 1, "itq_iters": 50, "ridge": 1e-2,
              "kmeans_iters": 50, "center": True},
    search_space={
        "anchors": {"type": "choice", "values": [250, 500, 1000]},
        "nearest": {"type": "int", "low": 2, "high": 10},
        "diffusion": {"type": "choice", "values": [0, 1, 2]},
        "ridge": {"type": "loguniform", "low": 1e-4, "high": 1.0},
    },
    param_types={"anchors": "int[2,]", "nearest": "int[1,]", "diffusion": "int[0,]",
                 "itq_iters": "int[0,]", "ridge": "float(0,]", "kmeans_iters": "int[1,]"},
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Liu, Ji, Wu, Huang & Zhang, Cross-modality binary code learning via fusion "
                 "similarity hashing, CVPR 2017",
        "code": "none public; RECONSTRUCTED from the abstract and baselines.md §4 "
                "(medium confidence)",
    },
    description=(
        "RECONSTRUCTED (no public code, the paper's details unavailable): anchor pairs = "
        "seeded k-means centres of the joint (per-modality scaled) features; per-modality "
        "anchor graphs Z_m (s nearest anchors, Gaussian weights, rows sum to 1) fused as "
        "Z = (Z_1 + Z_2)/2 and diffused `diffusion` times through the anchor transition "
        "Λ^-1 ZᵀZ (an undirected asymmetric sample-anchor graph); sample and anchor codes "
        "from the non-trivial singular vectors of Z Λ^-1/2, discretised by an ITQ rotation "
        "shared by samples and anchors (alternating sign and rotation updates: balanced, "
        "decorrelated bits); hash functions are ridge regressions of the codes on each "
        "modality's centred features."
    ),
)
