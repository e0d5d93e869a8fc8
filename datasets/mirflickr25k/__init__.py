"""MIRFLICKR-25K (Huiskes & Lew 2008): the DCMH-cleaned 20,015 pairs, 24 labels."""

from bench.plugins import DatasetSpec, Preset

SPEC = DatasetSpec(
    name="mirflickr25k",
    entry="bench.datasets.mirflickr25k.loader:MirFlickr25k",
    version="1",
    provides=("image_features", "text_features", "images", "captions", "labels"),
    presets={
        "dcmh": Preset("dcmh", query=2000, validation=1000, train_pool=10000, seed=0,
                       description="DCMH/MITH: 2,000 random queries, the other 18,015 are the "
                       "database; 1,000 validation and 10,000 training pairs from it"),
        "ucch": Preset("ucch", query=2000, validation=1000, seed=0,
                       description="UCCH: 2,000 queries; train on the whole database (less the "
                       "1,000 validation pairs: 17,015)"),
        "djsrh": Preset("djsrh", query=2000, validation=1000, train_pool=5000, seed=0,
                        query_per_class=80, query_first_class=160,
                        description="DJSRH/DSAH/CAGAN: class-balanced queries (160 from the "
                        "first label, then 80 per label: 2,000), 5,000 training pairs"),
        "gnah": Preset("gnah", query=2000, validation=200, seed=0,
                       description="GNAH few-pair protocol: 2,000 queries, budgets "
                       "(--budgets 20,40,80,160) drawn from the database; 200 validation"),
        "dsph": Preset("dsph", query=5000, validation=1000, train_pool=10000, seed=0,
                       description="DSPH/DCHMT code defaults: 5,000 queries, 10,000 training"),
        "small": Preset("small", query=200, validation=100, train_pool=1000, seed=0,
                        description="quick checks: 200 queries, 1,000 training pairs"),
    },
    default_preset="dcmh",
    description=(
        "MIRFLICKR-25K, 20,015 pairs with tags and labels (24 concepts), tags restricted to the "
        "1,386 frequent ones. Text: 1,386-d bag-of-words (YAll, or built from the tags with "
        "TagList.txt) and the raw tag string as captions; images: files, IAll pixels or XAll "
        "features."
    ),
    layouts=("dcmh-mat", "text", "index-mat", "features"),
)
