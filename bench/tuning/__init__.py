"""``bench tune``: Optuna hyperparameter search through Ray Tune, one persistent study per
cell (``driver``), search spaces (``space``), studies and their outputs (``study``), the Tuner
and its callbacks (``search``) and the search trial (``trial``)."""
