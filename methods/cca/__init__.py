"""CCA hashing: the sign of the top canonical projections (the plain CCA baseline)."""

from bench.plugins import MethodSpec

SPEC = MethodSpec(
    name="cca",
    entry="bench.methods.cca.method:CCAHash",
    version="1",
    supervision="unsupervised",
    inputs=("image_features", "text_features"),
    multi_bit=True,
    defaults={"reg": 1e-4, "lift": "gaussian", "center": True},
    search_space={"reg": {"type": "loguniform", "low": 1e-6, "high": 1.0}},
    param_types={"reg": "float[0,]", "lift": "'gaussian'|'null_space'|'error'"},
    resources={"cpu": 1, "gpu": 0},
    reference={
        "paper": "Gong, Lazebnik, Gordo & Perronnin, Iterative quantization, TPAMI 2013 (the "
                 "CCA baseline); Hotelling 1936",
        "code": "none for this baseline (numpy implementation of regularised CCA, shared with "
                "cca-itq in bench.shallow.cca)",
    },
    description=(
        "Regularised CCA (covariances + reg * trace * I, centred on the training mean); "
        "codes sign(X W_x) and sign(Y W_y) of the top `bits` canonical directions. More bits "
        "than canonical pairs (min of the two feature dimensions; Wikipedia's text is 10-d): "
        "lift=gaussian maps the canonical space through a Gaussian matrix seeded by "
        "(seed, bits); lift=null_space takes the zero-correlation directions (noise bits, as "
        "reference eigen-solvers); lift=error refuses in one line."
    ),
)
