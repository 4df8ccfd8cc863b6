"""Number formatting shared by every renderer (missing values print as empty cells)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt", "fmt_p", "p_clause"]


def fmt(v: Any, digits: int = 3) -> str:
    """``v`` with ``digits`` decimals if it is a float; ``""`` for None and NaN; else ``str(v)``."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def fmt_p(v: float | None) -> str:
    """A p-value as APA tables print it: ``<.001`` or three decimals; ``""`` when missing."""
    if v is None or math.isnan(v):
        return ""
    return "<.001" if v < 0.001 else f"{v:.3f}"


def p_clause(v: float | None) -> str:
    """A p-value in running text: ``p < .001`` or ``p = 0.042`` (never ``p = <.001``)."""
    if v is None or math.isnan(v):
        return "p = n/a"
    return "p < .001" if v < 0.001 else f"p = {v:.3f}"
