"""Nonparametric bootstrap of a fitted model (resampling respondents).

Each draw has its own random stream, spawned from ``SeedSequence(seed)``, so draw ``b``
is the same whatever the order or the process that computes it. Every refit starts from
the full-sample estimate (semopy would otherwise warm-start from the previous draw and
couple the draws).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ._validation import check_int, check_option, check_real, check_seed
from .estimate.backend import Matrices, fit_semopy, refit
from .estimate.results import FitResults, structural_std

__all__ = ["BootstrapResults", "bootstrap", "percentile_ci", "DEFAULT_BOOT_SEED"]

DEFAULT_BOOT_SEED = 20190102
CI_METHODS = ("percentile",)


def _targets(mx: Matrices, res: FitResults) -> np.ndarray:
    """The bootstrapped statistics of one draw: unstandardized then std.all paths."""
    idx = {v: i for i, v in enumerate(mx.inner)}
    regs = res.model.parsed.regressions
    unstd = [mx.beta[idx[r.lhs], idx[r.rhs]] for r in regs]
    std = structural_std(mx, res.model).to_numpy()
    return np.concatenate([np.asarray(unstd, dtype=float), std])


def percentile_ci(draws: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each column of ``draws`` (NaN rows ignored)."""
    alpha = 1.0 - level
    lo = np.nanquantile(draws, alpha / 2, axis=0)
    hi = np.nanquantile(draws, 1 - alpha / 2, axis=0)
    return lo, hi


@dataclass(frozen=True)
class BootstrapResults:
    """Bootstrap draws of a model's structural paths.

    Attributes
    ----------
    names : list of str
        Column names of ``draws``: ``"lhs~rhs"`` (unstandardized) then ``"lhs~rhs:std"``.
    draws : ndarray (n_boot, k)
        One row per draw; rows of failed draws are NaN.
    failures : dict
        Count of failed draws per reason.
    seed : int
    """

    names: list[str]
    draws: np.ndarray = field(repr=False)
    failures: dict[str, int]
    seed: int

    @property
    def n_boot(self) -> int:
        return int(self.draws.shape[0])

    @property
    def n_failed(self) -> int:
        return int(sum(self.failures.values()))

    @cached_property
    def successful(self) -> np.ndarray:
        return self.draws[~np.isnan(self.draws).any(axis=1)]

    def conf_int(self, level: float = 0.95, method: str = "percentile") -> pd.DataFrame:
        """Confidence intervals with columns ``lower`` and ``upper`` (one row per statistic)."""
        level = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
        check_option("method", method, CI_METHODS)
        lo, hi = percentile_ci(self.successful, level)
        return pd.DataFrame({"lower": lo, "upper": hi}, index=self.names)

    @cached_property
    def std_errors(self) -> pd.Series:
        return pd.Series(np.std(self.successful, axis=0, ddof=1), index=self.names)


def bootstrap(res: FitResults, n_boot: int = 1000, seed: int = DEFAULT_BOOT_SEED) -> BootstrapResults:
    """Nonparametric bootstrap of the structural paths of a fit.

    Parameters
    ----------
    res : FitResults
        The full-sample fit.
    n_boot : int, default=1000
        Number of draws.
    seed : int, default=20190102
        Seed of the ``SeedSequence`` from which one stream per draw is spawned.

    Returns
    -------
    BootstrapResults
    """
    n_boot = check_int("n_boot", n_boot, low=1)
    seed = check_seed(seed)
    regs = res.model.parsed.regressions
    names = [f"{r.lhs}~{r.rhs}" for r in regs]
    names = names + [f"{nm}:std" for nm in names]
    # A private semopy model for the refits: the results object stays untouched.
    worker = fit_semopy(res.model.parsed, res.data)
    worker.start = res.start.copy()
    data = res.data.to_numpy()
    cols = list(res.data.columns)
    n = data.shape[0]
    draws = np.full((n_boot, len(names)), np.nan)
    failures: dict[str, int] = {}
    streams = np.random.SeedSequence(seed).spawn(n_boot)
    for b, ss in enumerate(streams):
        idx = np.random.default_rng(ss).integers(0, n, n)
        sample = pd.DataFrame(data[idx], columns=cols)
        ok, mx = refit(worker, sample)
        if not ok or mx is None:
            failures["nonconvergence"] = failures.get("nonconvergence", 0) + 1
            continue
        if np.any(np.diag(mx.psi) < 0) or np.any(np.diag(mx.theta) < 0):
            failures["negative variance"] = failures.get("negative variance", 0) + 1
            continue
        draws[b] = _targets(mx, res)
    return BootstrapResults(names, draws, failures, seed)
