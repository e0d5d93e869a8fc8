"""LSH: the sign of a random Gaussian projection, the floor of every table."""

from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="lsh",
    entry="bench.methods.lsh.method:LSH",
    version="1",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=False,
    defaults={"center": True},
    # No search space: the projection is random and `center` is a preprocessing switch, not a
    # hyperparameter with a range; `bench tune` refuses LSH unless --space gives one (README).
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Charikar, Similarity estimation techniques from rounding algorithms, STOC 2002",
        "code": "none (a few lines of numpy)",
    },
    description=(
        "One Gaussian projection shared by both modalities when their features live in one "
        "space (same dimension); separate projections otherwise (then cross-modal retrieval is "
        "at chance level, by design). center: subtract each modality's training mean first."
    ),
)
