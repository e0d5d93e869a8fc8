"""FSH: Fusion Similarity Hashing (Liu et al., CVPR 2017): the first author's public MATLAB
re-implementation (``variant="reference"``, the default) and a reconstruction from the abstract
(``variant="reconstruction"``, the default of version 1)."""

from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="fsh",
    entry="bench.methods.fsh.method:FSH",
    version="2",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={"variant": "reference", "anchors": 500, "nearest": 5, "diffusion": 1,
              "itq_iters": 50, "ridge": 1e-2, "kmeans_iters": 50, "center": True,
              "ref_anchors": 50, "ref_anchor_kind": "random", "ref_k": 10, "ref_lambda": 300.0,
              "ref_lam": 0.5, "ref_iters": 100},
    search_space={
        "ref_anchors": {"type": "choice", "values": [25, 50, 100, 200]},
        "ref_k": {"type": "int", "low": 2, "high": 20},
        "ref_lambda": {"type": "loguniform", "low": 1.0, "high": 1e4},
        "ref_lam": {"type": "uniform", "low": 0.2, "high": 0.8},
    },
    param_types={"variant": "'reconstruction'|'reference'", "anchors": "int[2,]",
                 "nearest": "int[1,]", "diffusion": "int[0,]", "itq_iters": "int[0,]",
                 "ridge": "float(0,]", "kmeans_iters": "int[1,]", "ref_anchors": "int[1,]",
                 "ref_anchor_kind": "'random'|'kmeans'", "ref_k": "int[1,]",
                 "ref_lambda": "float[0,]", "ref_lam": "float(0,1)", "ref_iters": "int[0,]"},
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Liu, Ji, Wu, Huang & Zhang, Cross-modality binary code learning via fusion "
                 "similarity hashing, CVPR 2017",
        "code": "Lyn-L/FSH@de7f82e757a1 (the first author's public MATLAB re-implementation; "
                "the original is unreleased): trainFSH.m, testFSH.m, followed by the default "
                "variant=reference; variant=reconstruction (the default of version 1) is a "
                "reconstruction from the paper's abstract, written before that code was found",
    },
    description=(
        "variant=reference (default): the first author's public MATLAB implementation "
        "(Lyn-L/FSH trainFSH.m): `ref_anchors` random (or k-means) anchor pairs, cross-modal "
        "fusion affinities A_1, A_2 averaged over the `ref_k` nearest anchors, alternating "
        "B = sgn(B_a D^T + 2 ref_lambda (W_x^T X + W_y^T Y)), B_a = sgn(B D), least-squares "
        "W_m and the modality weight update, `ref_iters` rounds. "
        "variant=reconstruction (the default of version 1; written from the abstract before "
        "the code was found): anchor pairs = "
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
