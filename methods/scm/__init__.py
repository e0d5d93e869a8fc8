"""SCM: Semantic Correlation Maximization (Zhang & Li, AAAI 2014), orthogonal and sequential."""

from bench.plugins import MethodSpec

_REFERENCE = {
    "paper": "Zhang & Li, Large-scale supervised multimodal hashing with semantic correlation "
             "maximization, AAAI 2014",
    "code": "BMC-SDNU/Cross-Modal-Hashing-Retrieval@0196e313aad0: SCM/code/trainSCM_orth.m, "
            "trainSCM_seq.m, trainCCA.m, demo_SCM.m (defaults, formulas; numpy "
            "re-implementation, CCA core shared in bench.shallow.cca)",
}
_COMMON = (
    "Label similarity S = 2 L̂L̂ᵀ - 1 (cosine of ℓ2-normalised label rows) enters only through "
    "XᵀSY = 2(XᵀL̂)(YᵀL̂)ᵀ - (Xᵀ1)(Yᵀ1)ᵀ, scaled by the code length (never n x n); "
    "covariances XᵀX + reg I (absolute ridge 1e-6 as the reference); centred features."
)

SPEC_ORTH = MethodSpec(
    name="scm-orth",
    entry="bench.methods.scm.method:SCMOrth",
    version="1",
    supervision="supervised",
    inputs=("image_features", "text_features", "labels"),
    multi_bit=True,
    defaults={"reg": 1e-6, "lift": "gaussian", "center": True},
    search_space={"reg": {"type": "loguniform", "low": 1e-8, "high": 1e-1}},
    param_types={"reg": "float[0,]", "lift": "'gaussian'|'null_space'|'error'"},
    resources={"cpu": 1, "gpu": 0},
    reference=_REFERENCE,
    description=(
        "SCM-Orth: all bits from one generalised eigenproblem (CCA with XᵀSY as the cross "
        "term). " + _COMMON + " Beyond min(dx, dy) bits the eigenvalues are 0: "
        "lift=null_space takes the zero-eigenvalue directions as the reference's eig does "
        "(noise bits), lift=gaussian (seeded) or error."
    ),
)

SPEC_SEQ = MethodSpec(
    name="scm-seq",
    entry="bench.methods.scm.method:SCMSeq",
    version="1",
    supervision="supervised",
    inputs=("image_features", "text_features", "labels"),
    multi_bit=False,
    defaults={"reg": 1e-6, "center": True},
    search_space={"reg": {"type": "loguniform", "low": 1e-8, "high": 1e-1}},
    param_types={"reg": "float[0,]"},
    resources={"cpu": 1, "gpu": 0},
    reference=_REFERENCE,
    description=(
        "SCM-Seq: bits one at a time, each the top rank-1 solution of the current cross term, "
        "which then loses the part the new bit explains, (Xᵀsgn(Xw_x))(Yᵀsgn(Yw_y))ᵀ. If the "
        "top eigenvalue increases, the remaining bits are plain CCA directions (in the "
        "reference's reversed order). " + _COMMON
    ),
)
