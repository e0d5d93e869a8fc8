"""Wikipedia (Rasiwasia et al. 2010): 2,866 pairs, 10 classes, classic 2,173 / 693 split."""

from bench.plugins import DatasetSpec, Preset

SPEC = DatasetSpec(
    name="wiki",
    entry="bench.datasets.wiki.loader:Wiki",
    version="1",
    provides=("image_features", "text_features", "captions", "images", "labels"),
    presets={
        "classic": Preset("classic", query=693, validation=173, fixed=True, seed=0,
                          description="the classic split: the 693 test pairs are the queries, "
                          "the 2,173 training pairs the database; 173 of them validate, "
                          "2,000 train"),
        "classic-full": Preset("classic-full", query=693, validation=0, fixed=True, seed=0,
                               description="the published protocol exactly: train on all "
                               "2,173 database pairs, no validation split"),
    },
    default_preset="classic",
    description=(
        "Wikipedia image-text pairs: 128-d SIFT bag-of-visual-words and 10-d LDA topic "
        "features, one of 10 classes each. Layout: wiki_data.mat (v7.3) or the older v5 .mat "
        "files with I_tr/I_te/T_tr/T_te and L_tr/L_te or the *_txt_img_cat.list files."
    ),
    layouts=("split-mat", "features"),
)
