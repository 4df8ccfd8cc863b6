"""The single place where options are checked (values declared as data)."""

from __future__ import annotations

from numbers import Integral, Real
from pathlib import Path
from typing import Any, Iterable

from .exceptions import DataError, OptionError


def check_int(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int, or raise :class:`OptionError` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise OptionError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if low is not None and value < low:
        raise OptionError(f"{name} must be at least {low}, got {value}")
    if high is not None and value > high:
        raise OptionError(f"{name} must be at most {high}, got {value}")
    return value


def check_real(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float inside the stated interval, or raise :class:`OptionError`."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise OptionError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if value != value:
        raise OptionError(f"{name} must be a number, got nan")
    if low is not None and (value < low or (low_open and value == low)):
        op = ">" if low_open else ">="
        raise OptionError(f"{name} must be {op} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        op = "<" if high_open else "<="
        raise OptionError(f"{name} must be {op} {high}, got {value}")
    return value


def check_option(name: str, value: Any, allowed: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``allowed``; the message lists the allowed values."""
    allowed = list(allowed)
    if value not in allowed:
        raise OptionError(f"{name} must be one of {', '.join(map(str, allowed))}; got {value!r}")
    return value


def check_seed(value: Any) -> int:
    """A seed is a non-negative integer (it feeds :class:`numpy.random.SeedSequence`)."""
    return check_int("seed", value, low=0)


def check_input_file(path: Any) -> Path:
    """``path`` as a :class:`~pathlib.Path` if it is an existing file, else :class:`DataError`.

    Import-free (no pandas), so the command line reports a mistyped path at once.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found" + (" (it is a folder)" if path.is_dir() else "")
                        + "; check the path")
    return path


def check_single_group(res: object, what: str) -> None:
    """Refuse, in one line, an analysis of a multiple-group fit that smsem does only for
    one group (rather than fail inside with an unrelated error)."""
    if getattr(res, "group_labels", None) is not None:
        from .exceptions import OptionError

        raise OptionError(f"{what} of a multiple-group fit is not supported yet; fit one group at a time "
                          "(or use smsem invariance for the group comparison)")
