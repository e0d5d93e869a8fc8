"""Command line: ``python -m bench run|leaderboard|report|ls|datasets|validate|train-clip``.

One module per subcommand turns its flags into a request and calls the library (``run`` ->
:mod:`bench.runner.driver`, ``leaderboard`` -> :mod:`bench.leaderboard`,
``report`` -> :mod:`bench.report`, ...); parsing helpers
live in :mod:`bench.cli.parsing`, the parser and the error handling in :mod:`bench.cli.app`.
User errors print one line ``bench: error: ...`` and exit with code 2, before anything runs.
"""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """The ``bench`` entry point (see :func:`bench.cli.app.main`)."""
    from bench.cli.app import main as app_main

    return app_main(argv)
