"""Any precomputed paired features: one .npz / .h5 / .mat file (or folder holding one)."""

from bench.plugins import DatasetSpec, Preset

SPEC = DatasetSpec(
    name="features",
    entry="bench.datasets.features.loader:Features",
    version="1",
    provides=("image_features", "text_features", "images", "captions", "labels"),
    presets={
        "default": Preset("default", query=1000, validation=500, seed=0,
                          description="1,000 random queries, 500 validation, the rest train"),
        "small": Preset("small", query=200, validation=100, seed=0,
                        description="200 queries, 100 validation"),
        "fixed": Preset("fixed", query=0, validation=100, fixed=True, seed=0,
                        description="the file's query_index / retrieval_index, 100 "
                        "validation pairs from the retrieval set"),
    },
    default_preset="default",
    description=(
        "Generic layout for precomputed features: arrays image_features (N×Di), text_features "
        "(N×Dt), labels (N×C multi-hot or N class numbers), optional names, captions, images "
        "(paths relative to the file), class_names, query_index/retrieval_index (0-based). "
        "Option file=NAME picks the file in a folder."
    ),
    layouts=("features", "split-mat"),
)
