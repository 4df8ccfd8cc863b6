"""Missing responses: MCAR and MAR with a target rate.

The *rate* is always the share of missing cells among all item cells of the survey, so
the two mechanisms are comparable.

- **MCAR**: every item cell is missing independently with probability ``rate``.
- **MAR**: one observed *driver* column is always answered; the other affected items are
  missing with probability ``expit(alpha + strength * z)``, where ``z`` is the driver's
  observed value standardized in the sample (the Likert code when the items are Likert)
  and ``alpha`` is solved (:func:`scipy.optimize.brentq`) so that the expected share of
  missing cells equals ``rate``. Missingness then depends on what is observed (the
  driver) and, given the driver, not on the item's own value: missing at random.

Missingness has its own random stream, so adding it never changes the complete data
drawn with the same seed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Collection, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, special

from .._validation import check_option, check_real
from ..exceptions import OptionError

__all__ = ["MissingSpec", "apply_missing", "missing_mask", "MECHANISMS"]

MECHANISMS = ("mcar", "mar")


@dataclass(frozen=True)
class MissingSpec:
    """How responses go missing.

    Parameters
    ----------
    rate : float
        Target share of missing item cells, in ``[0, 1)``.
    mechanism : {"mcar", "mar"}, default="mcar"
    driver : str, optional
        MAR only: the observed column that drives missingness (never missing itself).
        Default: the model's first item.
    items : sequence of str, optional
        MAR only: the items that can go missing. Default: every item except the driver.
    strength : float, default=1.0
        MAR only: log-odds of missingness per standard deviation of the driver.
    """

    rate: float
    mechanism: str = "mcar"
    driver: str | None = None
    items: tuple[str, ...] | None = None
    strength: float = 1.0

    def __post_init__(self) -> None:
        check_real("missing rate", self.rate, low=0.0, high=1.0, high_open=True)
        check_option("missing mechanism", self.mechanism, MECHANISMS)
        check_real("MAR strength", self.strength)
        if self.items is not None:
            object.__setattr__(self, "items", tuple(self.items))

    def to_mapping(self) -> dict[str, Any]:
        return {"rate": self.rate, "mechanism": self.mechanism, "driver": self.driver,
                "items": None if self.items is None else list(self.items), "strength": self.strength}


def _mar_intercept(z: np.ndarray, strength: float, target: float) -> float:
    """``alpha`` with ``mean(expit(alpha + strength z)) == target`` (monotone in alpha)."""
    def f(a: float) -> float:
        return float(special.expit(a + strength * z).mean()) - target
    return float(optimize.brentq(f, -60.0, 60.0, xtol=1e-12))


def _bernoulli(rng: np.random.Generator, prob: np.ndarray, cols: int, rows: int = 1 << 16) -> np.ndarray:
    """``rng.random((n, cols)) < prob[:, None]``, drawn in row blocks to bound memory.

    Block by block the generator yields exactly the numbers of one ``(n, cols)`` draw.
    """
    n = len(prob)
    mask = np.empty((n, cols), dtype=bool)
    for start in range(0, n, rows):
        stop = min(start + rows, n)
        np.less(rng.random((stop - start, cols)), prob[start:stop, None], out=mask[start:stop])
    return mask


def missing_mask(n: int, items: Sequence[str], spec: MissingSpec, rng: np.random.Generator,
                 column: Callable[[str], np.ndarray], columns: Collection[str]
                 ) -> tuple[np.ndarray, list[str], dict[str, Any]]:
    """Which cells of ``items`` go missing: the draws behind :func:`apply_missing`.

    Parameters
    ----------
    n : int
        Rows.
    items : sequence of str
        The model's items (the rate is a share of their cells).
    spec : MissingSpec
        With ``spec.rate > 0``.
    rng : numpy.random.Generator
        The missingness stream.
    column : callable
        ``column(name)`` gives a column's values as floats (the MAR driver).
    columns : collection of str
        The columns there are (a MAR driver must be one of them).

    Returns
    -------
    (ndarray of bool (n, len(targets)), targets, dict)
        The mask, the items it applies to, and the sidecar record (without
        ``realized_rate``).
    """
    items = list(items)
    info: dict[str, Any] = spec.to_mapping()
    if spec.mechanism == "mcar":
        return _bernoulli(rng, np.full(n, spec.rate), len(items)), items, info
    driver = spec.driver if spec.driver is not None else items[0]
    if driver not in columns:
        raise OptionError(f"MAR driver {driver!r} is not a column of the survey")
    targets = list(spec.items) if spec.items is not None else [c for c in items if c != driver]
    bad = [c for c in targets if c not in items]
    if bad:
        raise OptionError(f"MAR items {', '.join(bad)} are not items of the model")
    if driver in targets:
        raise OptionError(f"MAR driver {driver} cannot be one of the items that go missing")
    if not targets:
        raise OptionError("MAR needs at least one item besides the driver")
    share = spec.rate * len(items) / len(targets)
    if share >= 1.0:
        raise OptionError(f"missing rate {spec.rate} is too high for MAR on {len(targets)} of "
                          f"{len(items)} items (each would have to be missing with probability {share:.3f})")
    x = column(driver)
    sd = x.std()
    z = (x - x.mean()) / sd if sd > 0 else np.zeros(n)
    alpha = _mar_intercept(z, spec.strength, share)
    info["driver"], info["items"], info["intercept"] = driver, targets, alpha
    prob = special.expit(alpha + spec.strength * z)
    return _bernoulli(rng, prob, len(targets)), targets, info


def apply_missing(df: pd.DataFrame, items: Sequence[str], spec: MissingSpec, rng: np.random.Generator
                  ) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Blank cells of ``items`` in ``df`` (a copy) and describe what was done.

    Returns
    -------
    (DataFrame, dict)
        Integer Likert columns become pandas' nullable integers (empty cells in CSV);
        the dict (for the sidecar) holds the spec, the solved MAR intercept and the
        realized rate.
    """
    items = list(items)
    n = len(df)
    if spec.rate == 0.0:
        info = spec.to_mapping()
        info["realized_rate"] = 0.0
        return df, info
    mask, targets, info = missing_mask(n, items, spec, rng,
                                       lambda c: pd.to_numeric(df[c]).to_numpy(dtype=float), df.columns)
    out = df.copy()
    for k, col in enumerate(targets):
        values = out[col].to_numpy()
        if np.issubdtype(values.dtype, np.integer):
            # Nullable integers keep Likert codes integral and write empty cells to CSV.
            out[col] = pd.arrays.IntegerArray(values.copy(), mask[:, k].copy())
        else:
            values = values.astype(float, copy=True)
            values[mask[:, k]] = np.nan
            out[col] = values
    info["realized_rate"] = float(mask.sum() / (n * len(items)))
    return out, info
