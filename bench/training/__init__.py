"""Shared training machinery of the deep hashing methods (imports nothing heavy):

* :mod:`bench.training.optim` - ``BertAdam`` and its warm-up cosine schedule;
* :mod:`bench.training.schedule` - named training schedules (``reference``, ``quick``, ``auto``);
* :mod:`bench.training.method` - ``TrainedHashMethod`` (model selection on the harness's
  validation split, checkpoints, cached encoding) and ``CLIPHashMethod`` (the end-to-end
  training and encoding loop over raw images and captions with an open_clip backbone from
  :mod:`bench.encoders.backbone`).
"""
