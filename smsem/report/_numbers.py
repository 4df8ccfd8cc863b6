"""Number formatting shared by every renderer (missing values print as empty cells)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["fmt", "fmt_p"]


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
