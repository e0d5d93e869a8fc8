"""User-facing errors: the CLI prints them as one line and exits with code 2."""


class BenchError(Exception):
    """A problem with the user's input or environment (bad option, missing file, ...).

    The message is shown as-is on one line, without a traceback.
    """


class PluginError(BenchError):
    """A plugin is missing, duplicated or malformed."""
