"""Pascal Sentence (Rashtchian et al. 2010): 1,000 images, 20 classes × 50, 5 sentences each."""

from bench.plugins import DatasetSpec, Preset

SPEC = DatasetSpec(
    name="pascal-sentence",
    entry="bench.datasets.pascal_sentence.loader:PascalSentence",
    version="1",
    provides=("image_features", "text_features", "images", "captions", "labels"),
    presets={
        "standard": Preset("standard", query=200, validation=100, seed=0, query_per_class=10,
                           description="200 queries (10 per class) / 800 database pairs; 100 "
                           "of them validate, 700 train"),
        "dscmr": Preset("dscmr", query=100, validation=100, seed=0,
                        description="800 train / 100 validation / 100 test (DSCMR line of "
                        "work), random: the 100 test pairs are the queries"),
        "fixed": Preset("fixed", query=100, validation=100, fixed=True, seed=0,
                        description="the file's own split (*_te = queries, the rest = "
                        "database), 100 validation pairs from the database"),
    },
    default_preset="standard",
    description=(
        "Pascal Sentence, single-label. Layouts: the original release folders (images and five "
        "sentences per image: option caption=random|first|concat), a train/test .mat with "
        "I_*/T_*/L_* features, or a generic features file."
    ),
    layouts=("pascal-raw", "split-mat", "features"),
)
