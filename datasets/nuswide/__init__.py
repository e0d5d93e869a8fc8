"""NUS-WIDE (Chua et al. 2009) in its two incompatible variants, named distinctly:
``nus-wide-21`` (21 most frequent concepts: 195,834 DCMH / 190,421 DCHMT-MITH pairs) and
``nus-wide-tc10`` (10 largest concepts: 186,577 pairs, DJSRH)."""

from bench.plugins import DatasetSpec, Preset

_LAYOUTS = ("dcmh-mat", "text", "index-mat", "features")
_PROVIDES = ("image_features", "text_features", "images", "captions", "labels")

SPEC_21 = DatasetSpec(
    name="nus-wide-21",
    entry="bench.datasets.nuswide.loader:NusWide21",
    version="1",
    provides=_PROVIDES,
    presets={
        "dcmh": Preset("dcmh", query=2100, validation=1000, train_pool=10500, seed=0,
                       description="DCMH/MITH/DCHMT: 2,100 random queries, 10,500 training "
                       "pairs and 1,000 validation pairs from the database"),
        "ucch": Preset("ucch", query=2100, validation=1000, seed=0,
                       description="2,100 queries; train on the whole database less the "
                       "1,000 validation pairs"),
        "gnah": Preset("gnah", query=2100, validation=200, seed=0,
                       description="few-pair protocol: 2,100 queries, budgets from the "
                       "database, 200 validation"),
        "small": Preset("small", query=200, validation=100, train_pool=1000, seed=0,
                        description="quick checks"),
    },
    default_preset="dcmh",
    description=(
        "NUS-WIDE restricted to the 21 most frequent concepts: 195,834 pairs (DCMH, 1,000-d "
        "tag bag-of-words) or 190,421 (MITH/DCHMT after removing empty items). Not TC-10."
    ),
    layouts=_LAYOUTS,
)

SPEC_TC10 = DatasetSpec(
    name="nus-wide-tc10",
    entry="bench.datasets.nuswide.loader:NusWideTC10",
    version="1",
    provides=_PROVIDES,
    presets={
        "djsrh": Preset("djsrh", query=2000, validation=1000, seed=0, query_per_class=200,
                        train_per_class=500,
                        description="DJSRH/DSAH: 2,000 queries (200 per class), 5,000 training "
                        "pairs (500 per class), 1,000 validation"),
        "ucch": Preset("ucch", query=2100, validation=1000, seed=0,
                       description="UCCH: 2,100 queries; train on the whole database less the "
                       "1,000 validation pairs"),
        "dcmh": Preset("dcmh", query=2100, validation=1000, train_pool=10500, seed=0,
                       description="2,100 queries, 10,500 training pairs"),
        "gnah": Preset("gnah", query=2100, validation=200, seed=0,
                       description="few-pair protocol: 2,100 queries, budgets from the "
                       "database, 200 validation"),
        "small": Preset("small", query=200, validation=100, train_pool=1000, seed=0,
                        description="quick checks"),
    },
    default_preset="djsrh",
    description=(
        "NUS-WIDE TC-10: the 10 largest concepts, 186,577 pairs (UCCH prints 186,557), "
        "1,000-d tag bag-of-words. Not the 21-concept variant."
    ),
    layouts=_LAYOUTS,
)
