"""What one replication leaves behind: the row fields and its :class:`Estimates`.

A row is a dict with keys :data:`ROW_FIELDS`; it depends only on ``(config, cell, rep)``.
The runner's workers produce rows, :class:`~smsem.montecarlo.store.Store` persists them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

__all__ = ["Estimates", "NO_ESTIMATES", "STATUSES", "FIT_FIELDS", "ROW_FIELDS", "VALUE_FIELDS",
           "ESTIMATE_FIELDS"]

STATUSES = ("ok", "nonconvergence", "error")
FIT_FIELDS = ("chi2", "df", "pvalue", "cfi", "tli", "rmsea")
ROW_FIELDS = ("cell", "rep", "status", "reason", "improper", "improper_reason", "n_used") + FIT_FIELDS + ("estimates",)
# The values of one parameter in a row's ``estimates``; boot_lower/upper are NaN under
# Wald inference.
VALUE_FIELDS = ("est", "se", "std", "boot_lower", "boot_upper")
ESTIMATE_FIELDS = ("lhs", "op", "rhs") + VALUE_FIELDS


@dataclass(frozen=True, eq=False)
class Estimates:
    """The free parameters of one replication: their names and one array of values.

    Attributes
    ----------
    params : tuple of (lhs, op, rhs)
        lavaan naming, ``~~`` pairs sorted. On the fast path every replication of a cell
        shares one tuple, so the names of a chunk of rows are pickled and stored once.
    values : ndarray (k, 5)
        Columns :data:`VALUE_FIELDS`: est, se, std (std.all; the standardized path for
        ``~``), boot_lower, boot_upper.

    Iterating gives ``[lhs, op, rhs, est, se, std, boot_lower, boot_upper]`` per
    parameter; two Estimates are equal when their names and values are (NaN equal to NaN).
    """

    params: tuple[tuple[str, str, str], ...]
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.values.shape != (len(self.params), len(VALUE_FIELDS)):
            raise ValueError(f"estimates: {len(self.params)} parameters but values of shape {self.values.shape}")

    def __len__(self) -> int:
        return len(self.params)

    def __iter__(self) -> Iterator[list[Any]]:
        for key, vals in zip(self.params, self.values.tolist()):
            yield [*key, *vals]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Estimates):
            return NotImplemented
        return self.params == other.params and np.array_equal(self.values, other.values, equal_nan=True)

    __hash__ = None  # type: ignore[assignment]  # holds an array

    def to_list(self) -> list[list[Any]]:
        return list(self)


_EMPTY = np.empty((0, len(VALUE_FIELDS)))
_EMPTY.setflags(write=False)
#: The estimates of a replication that produced none (an error).
NO_ESTIMATES = Estimates((), _EMPTY)
