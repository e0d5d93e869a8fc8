"""Generated paired features: a fast, deterministic test fixture and the current default."""

from bench.plugins import DatasetSpec, Preset

SPEC = DatasetSpec(
    name="synthetic-features",
    entry="bench.datasets.synthetic.generate:SyntheticFeatures",
    version="1",
    provides=("image_features", "text_features", "labels"),
    presets={
        "default": Preset("default", query=1000, validation=500, seed=0,
                          description="1,000 queries, 500 validation, rest retrieval/train"),
        "small": Preset("small", query=200, validation=100, seed=0,
                        description="for quick checks and tests"),
        "gnah": Preset("gnah", query=1000, validation=200, seed=0,
                       description="few-pair protocol: budgets 20/40/80/160 from retrieval"),
    },
    default_preset="default",
    needs_root=False,
    size_option=("n_items", 10000),
    option_types={"n_items": "int[1,]", "dim": "int[1,]", "seed": "int[0,]"},
    description=(
        "Multi-hot labels over 24 concepts (uneven frequencies, grouped co-occurrence); image and "
        "text vectors built from the labels in one shared space plus a modality gap, a "
        "modality-specific nuisance subspace and noise. Options: n_items (10000), dim (128), "
        "seed (0)."
    ),
)
