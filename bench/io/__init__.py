"""Readers shared by the real-dataset plugins: MATLAB v5/v7.3 files, text files, image folders,
the common on-disk layouts, checks and a small cache. Every problem with a user's file is raised
as a one-line :class:`bench.errors.BenchError` naming the file."""
