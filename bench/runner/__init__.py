"""Running benchmarks: ``driver`` (a typed request -> checked, planned, executed trials and a
summary; the one entry point of ``bench run``, ``bench tune`` and tests), ``grid`` (complete
trial configs), ``data`` (dataset loading and splits), ``trial`` (one trial, whatever happens it
leaves a record), ``tune`` (Ray Tune) and ``local`` (in-process)."""
