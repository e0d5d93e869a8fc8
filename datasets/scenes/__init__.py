"""Generated image-caption scenes: the default dataset of ``bench run``.

64x64 RGB scenes with several objects each, natural-language captions and multi-hot labels over
MIRFLICKR-25K's 24 concepts with its frequencies and co-occurrence (see ``stats.py``,
``render.py``, ``captions.py``). Deterministic by seed, generated once into the cache.
"""

from bench.plugins import DatasetSpec, Preset

SPEC = DatasetSpec(
    name="synthetic-scenes",
    entry="bench.datasets.scenes.generate:SyntheticScenes",
    version="1",
    provides=("images", "captions", "labels"),
    presets={
        "default": Preset("default", query=1000, validation=500, seed=0,
                          description="1,000 queries, 500 validation, the rest retrieval and "
                          "training pool"),
        "gnah": Preset("gnah", query=1000, validation=200, seed=0,
                       description="few-pair protocol: 1,000 queries, budgets 20/40/80/160 "
                       "drawn from the retrieval set, 200 validation"),
        "small": Preset("small", query=200, validation=100, seed=0,
                        description="quick checks and tests (e.g. with n_items=1000): 200 "
                        "queries, 100 validation, the rest retrieval and training pool"),
    },
    default_preset="default",
    needs_root=False,
    size_option=("n_items", 10000),
    option_types={"n_items": "int[1,]", "seed": "int[0,]"},
    description=(
        "Generated 64x64 scenes (sky, sunset, night, rooms, sea, lakes, rivers, buildings, "
        "trees, flowers, people, animals, vehicles, food) with natural-language captions "
        "(synonyms, varied word order, omitted objects, distractor and wrong words) and labels "
        "over MIRFLICKR-25K's 24 concepts with its frequencies and co-occurrence. Features come "
        "from the run's encoder (default: the bundled small CLIP). Options: n_items (10000), "
        "seed (0)."
    ),
)
