"""Where the CLI prints: progress and results on stdout, warnings on stderr."""

from __future__ import annotations

import sys


def say(message: str) -> None:
    warning = message.startswith(("bench: warning", "bench: note"))
    print(message, file=sys.stderr if warning else sys.stdout, flush=True)
