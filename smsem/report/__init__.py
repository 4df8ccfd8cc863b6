"""Reporting: formats results objects; computes nothing."""

from .bundle import report_file_names, report_files, write_report_files
from .diagram import DIAGRAM_FORMATS, diagram_source, path_diagram, render_diagram
from .formats import TABLE_FORMATS, render_effects, render_params, render_quality, stars
from .tables import FORMATS, render_propositions, render_reproduction

__all__ = [
    "DIAGRAM_FORMATS", "FORMATS", "TABLE_FORMATS", "diagram_source", "path_diagram", "render_diagram",
    "render_effects", "render_params", "render_propositions", "render_quality", "report_file_names",
    "render_reproduction", "report_files", "stars", "write_report_files",
]
