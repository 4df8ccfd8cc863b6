"""Reporting: formats results objects; computes nothing.

The names below are imported from their modules on first use (as in :mod:`smsem`), so the
one-fit command that prints tables does not import the report bundle's writers.
"""

from .._lazy import lazy_attributes

_LAZY = {
    "report_file_names": ".bundle", "report_files": ".bundle", "write_report_files": ".bundle",
    "DIAGRAM_FORMATS": ".diagram", "diagram_source": ".diagram", "path_diagram": ".diagram",
    "render_diagram": ".diagram",
    "TABLE_FORMATS": ".formats", "render_effects": ".formats", "render_params": ".formats",
    "render_quality": ".formats", "stars": ".formats",
    "FORMATS": ".tables", "render_propositions": ".tables", "render_reproduction": ".tables",
}

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())

__all__ = [
    "DIAGRAM_FORMATS", "FORMATS", "TABLE_FORMATS", "diagram_source", "path_diagram", "render_diagram",
    "render_effects", "render_params", "render_propositions", "render_quality", "report_file_names",
    "render_reproduction", "report_files", "stars", "write_report_files",
]
