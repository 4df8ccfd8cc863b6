"""Fit indices with lavaan's definitions (``fitMeasures()``, lavaan 0.6).

Everything here is a function of test statistics, degrees of freedom, N and residuals;
no estimation. N is the number of cases (lavaan's ``likelihood = "normal"``), not N - 1.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .. import _dist as stats

__all__ = ["CUTOFFS", "cfi", "tli", "rmsea", "rmsea_ci", "rmsea_pvalue", "srmr", "information_criteria",
           "baseline_fmin", "baseline_df", "baseline_cells", "fixed_x_index"]

#: The cut-offs most used in marketing (Hu and Bentler 1999; Hair et al.):
#: name -> (comparison, threshold).
CUTOFFS: dict[str, tuple[str, float]] = {
    "cfi": (">=", 0.95),
    "tli": (">=", 0.95),
    "rmsea": ("<=", 0.06),
    "srmr": ("<=", 0.08),
}


def fixed_x_index(observed: Sequence[str], fixed_x: Sequence[str]) -> np.ndarray:
    """Positions of lavaan's fixed covariates (``ParsedModel.fixed_x``) in ``observed``."""
    obs = list(observed)
    return np.array([obs.index(v) for v in fixed_x], dtype=np.intp)


def baseline_cells(p: int, fixed_x: Sequence[int] = ()) -> list[tuple[int, int]]:
    """Covariance cells ``(row, col)`` free in lavaan's baseline model: every variance, then
    the covariances among the fixed covariates ``fixed_x`` (positions)."""
    x = [int(i) for i in fixed_x]
    return [(j, j) for j in range(p)] + [(a, b) for i, a in enumerate(x) for b in x[i + 1:]]


def baseline_df(p: int, k: int = 0) -> float:
    """Degrees of freedom of lavaan's baseline model: ``p (p - 1) / 2`` covariances,
    less the ``k (k - 1) / 2`` among fixed covariates, which it leaves free."""
    return p * (p - 1) / 2 - k * (k - 1) / 2


def baseline_fmin(s: np.ndarray, fixed_x: np.ndarray | Sequence[int] = ()) -> np.ndarray:
    """ML discrepancy ``F_b`` of lavaan's baseline model at sample covariance(s) ``s``.

    The baseline makes the variables independent, except that the covariances among the
    fixed covariates stay at their sample values (lavaan's ``fixed.x``); its ML fit is
    ``Sigma_b = diag(S)`` with that block of ``S``, so ``tr(S Sigma_b^-1) = p`` and
    ``F_b = sum of log s_ii over the other variables + log|S_xx| - log|S|``. Works on
    one matrix or a stack (..., p, p), elementwise per matrix.
    """
    s = np.asarray(s, dtype=float)
    x = np.asarray(fixed_x, dtype=np.intp)
    logdiag = np.log(np.diagonal(s, axis1=-2, axis2=-1))
    out = logdiag.sum(axis=-1) - np.linalg.slogdet(s)[1]
    if x.size > 1:
        out = out - logdiag[..., x].sum(axis=-1) + np.linalg.slogdet(s[..., x[:, None], x])[1]
    return out


def meets_cutoff(name: str, value: float) -> bool | None:
    """Whether ``value`` of index ``name`` meets its cut-off (None if it has none or is NaN)."""
    if name not in CUTOFFS or value is None or not math.isfinite(value):
        return None
    op, thr = CUTOFFS[name]
    return value >= thr if op == ">=" else value <= thr


def cfi(chi2: float, df: float, chi2_b: float, df_b: float) -> float:
    """Comparative fit index, in [0, 1] as lavaan computes it (1 when both excesses are 0)."""
    t1 = max(chi2 - df, 0.0)
    t2 = max(chi2 - df, chi2_b - df_b, 0.0)
    if math.isclose(t1, 0.0, abs_tol=1.5e-8) and math.isclose(t2, 0.0, abs_tol=1.5e-8):
        return 1.0
    return 1.0 - t1 / t2


def tli(chi2: float, df: float, chi2_b: float, df_b: float) -> float:
    """Tucker-Lewis index (not truncated: it can exceed 1, as in lavaan)."""
    if df <= 0:
        return 1.0
    t1 = chi2_b / df_b - chi2 / df
    t2 = chi2_b / df_b - 1.0
    if t1 < 0 and t2 < 0:
        return 1.0
    return t1 / t2


def rmsea(chi2: float, df: float, n: int, c_hat: float = 1.0) -> float:
    """``sqrt(max(chi2 / (N df) - c_hat / N, 0))`` (``c_hat`` != 1: lavaan's robust RMSEA)."""
    if df <= 0:
        return 0.0
    return math.sqrt(max(chi2 / (n * df) - c_hat / n, 0.0))


def _ncp_root(chi2: float, df: float, target: float, upper: float) -> float:
    """Noncentrality ``lam`` with ``P(X <= chi2 | df, lam) = target`` (decreasing in lam)."""
    f = lambda lam: stats.ncx2.cdf(chi2, df, lam) - target if lam > 0 else stats.chi2.cdf(chi2, df) - target  # noqa: E731
    # Bisection of the bracket [0, upper] to brentq's stopping rule (half-width below
    # 1e-12 + 1e-12 |lam|): the same root to 1e-12 without importing scipy.optimize
    # (0.2 s of the one-fit command's start-up). About 50 evaluations of the cdf.
    lo, hi = 0.0, float(upper)
    f_lo = f(lo)
    if f_lo == 0.0:
        return lo
    if f_lo * f(hi) > 0:
        raise ValueError("f(a) and f(b) must have different signs")
    while hi - lo > 2e-12 + 2e-12 * abs(hi):
        mid = 0.5 * (lo + hi)
        f_mid = f(mid)
        if f_mid == 0.0:
            return mid
        if (f_mid > 0) == (f_lo > 0):
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def rmsea_ci(chi2: float, df: float, n: int, level: float = 0.90, c_hat: float = 1.0) -> tuple[float, float]:
    """RMSEA confidence interval by inverting the noncentral chi-square (lavaan's method).

    The bounds solve ``P(X <= chi2 | df, lam) = 1 - a/2`` (lower) and ``= a/2`` (upper)
    for the noncentrality ``lam`` and report ``sqrt(c_hat lam / (N df))``; a bound is 0
    when the central chi-square already lies beyond the target. ``df`` may be fractional
    (lavaan's scaled interval uses ``chi2`` with ``df = c df``).
    """
    if df <= 0:
        return 0.0, 0.0
    a = 1.0 - level
    hi_t, lo_t = 1.0 - a / 2, a / 2
    cdf0 = stats.chi2.cdf(chi2, df)
    lam_l = 0.0 if cdf0 < hi_t else _ncp_root(chi2, df, hi_t, max(chi2, 1.0))
    top = max(n, 4.0 * chi2)
    if cdf0 < lo_t or stats.ncx2.cdf(chi2, df, top) > lo_t:
        lam_u = 0.0
    else:
        lam_u = _ncp_root(chi2, df, lo_t, top)
    return math.sqrt(c_hat * lam_l / (n * df)), math.sqrt(c_hat * lam_u / (n * df))


def rmsea_pvalue(chi2: float, df: float, n: int, h0: float = 0.05, c_hat: float = 1.0) -> float:
    """p-value of the test of close fit, H0: RMSEA <= ``h0``."""
    if df <= 0:
        return float("nan")
    return float(stats.ncx2.sf(chi2, df, n * df * h0 ** 2 / c_hat))


def srmr(s: np.ndarray, sigma: np.ndarray, m: np.ndarray | None = None, mu: np.ndarray | None = None) -> float:
    """Standardized root mean square residual (Bentler's; lavaan's ``srmr``).

    Residuals ``(s_ij - sigma_ij) / sqrt(s_ii s_jj)`` over the lower triangle with the
    diagonal; with a mean structure also ``(m_i - mu_i) / sqrt(s_ii)``.
    """
    sd = np.sqrt(np.diag(s))
    r = (s - sigma) / np.outer(sd, sd)
    idx = np.tril_indices(s.shape[0])
    res = list(r[idx])
    if m is not None and mu is not None:
        res += list((m - mu) / sd)
    res_a = np.asarray(res)
    return float(np.sqrt(np.mean(res_a ** 2)))


def information_criteria(logl: float, npar: int, n: int) -> dict[str, float]:
    """AIC, BIC and sample-size adjusted BIC as lavaan (``-2 logl + penalty``)."""
    return {
        "aic": -2 * logl + 2 * npar,
        "bic": -2 * logl + npar * math.log(n),
        "bic2": -2 * logl + npar * math.log((n + 2) / 24),
    }
