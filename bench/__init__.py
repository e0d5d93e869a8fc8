"""cmh-bench: a benchmark harness for cross-modal (image-text) hashing."""

from pathlib import Path as _Path

from bench._layout import map_plugin_folders as _map_plugin_folders

__version__ = "0.1.0"

_map_plugin_folders(__name__, _Path(__file__).parent)
