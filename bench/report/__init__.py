"""``bench report``: figures and tables people would rather look at, from the result records
and their stored codes (see ``writer`` for the output layout, ``build`` for the data flow).

Entry point for every driver: ``write_report(results_dir, out_dir, datasets=..., formats=...)``.
"""

from .writer import DEFAULT_FORMATS, FORMATS, parse_formats, write_report

__all__ = ["DEFAULT_FORMATS", "FORMATS", "parse_formats", "write_report"]
