"""Reporting: formats results objects; computes nothing."""

from .tables import FORMATS, render_propositions

__all__ = ["FORMATS", "render_propositions"]
