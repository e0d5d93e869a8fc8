"""MS-COCO (2014 train+val = 2017 train+val, 80 categories, 5 captions per image)."""

from bench.plugins import DatasetSpec, Preset

SPEC = DatasetSpec(
    name="coco",
    entry="bench.datasets.coco.loader:Coco",
    version="1",
    provides=("image_features", "text_features", "images", "captions", "labels"),
    presets={
        "dcmh": Preset("dcmh", query=5000, validation=1000, train_pool=10000, seed=0,
                       description="DCMH-style/MITH/DAEH: 5,000 queries, 10,000 training pairs, "
                       "1,000 validation pairs from the database"),
        "ucch": Preset("ucch", query=5000, validation=1000, seed=0,
                       description="UCCH: 5,000 queries; train on the whole database less the "
                       "1,000 validation pairs"),
        "gnah": Preset("gnah", query=5000, validation=200, seed=0,
                       description="few-pair protocol: 5,000 queries, budgets from the "
                       "database, 200 validation"),
        "small": Preset("small", query=200, validation=100, train_pool=1000, seed=0,
                        description="quick checks"),
        "smoke": Preset("smoke", query=20, validation=10, seed=0,
                        description="tiny subsets such as COCO-MINI (159 pairs)"),
    },
    default_preset="dcmh",
    description=(
        "MS-COCO image-caption pairs with 80-category multi-labels; images without labels are "
        "dropped (122,218 pairs for 2014 train+val). One caption per image, chosen "
        "reproducibly (option caption=random|first|concat, caption_seed); every candidate is "
        "kept on each caption (.candidates). Option bow=N adds an N-word caption bag-of-words."
    ),
    layouts=("coco-json", "index-mat", "dcmh-mat", "features"),
)
