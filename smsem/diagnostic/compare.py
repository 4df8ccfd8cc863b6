"""The perception gap between two groups: Welch's t, Mann-Whitney U, Hedges' g.

The gap is always ``mean(b) - mean(a)`` (for the diagnostic: marketing minus sales).

Hedges' g and its interval (the method, stated once): ``d = (mean_b - mean_a) / s_p``
with the pooled SD ``s_p`` (``n - 1`` denominators), ``g = J d`` with the small-sample
factor ``J = 1 - 3 / (4 (n_a + n_b) - 9)`` (Hedges, 1981), standard error from the
normal approximation of Hedges & Olkin (1985, p. 86)
``SE = sqrt((n_a + n_b) / (n_a n_b) + g^2 / (2 (n_a + n_b)))`` and interval
``g -/+ t_{1 - alpha/2, n_a + n_b - 2} SE``. These are the formulas of pingouin's
``compute_effsize(eftype="hedges")`` and ``compute_esci`` (and R ``effsize::cohen.d``
with ``hedges.correction = TRUE, noncentral = FALSE``); smsem's tests compare with
values produced by pingouin.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import check_real

__all__ = ["EffectSize", "GroupComparison", "hedges_g", "compare_groups", "item_gaps"]


@dataclass(frozen=True)
class EffectSize:
    """Hedges' g of ``b`` versus ``a`` with its standard error and confidence interval."""

    d: float
    j: float
    g: float
    se: float
    ci_lower: float
    ci_upper: float
    level: float


def hedges_g(a: np.ndarray, b: np.ndarray, level: float = 0.95) -> EffectSize:
    """Hedges' g of ``b - a`` with the Hedges & Olkin normal-approximation interval.

    Parameters
    ----------
    a, b : array_like
        The two samples (NaN removed); each needs at least 2 values.
    level : float, default=0.95

    Returns
    -------
    EffectSize
        All NaN when a group has fewer than 2 values or both have zero variance.
    """
    level = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
    a = _clean(a)
    b = _clean(b)
    na, nb = len(a), len(b)
    nan = float("nan")
    if na < 2 or nb < 2:
        return EffectSize(nan, nan, nan, nan, nan, nan, level)
    sp = np.sqrt(((na - 1) * np.var(a, ddof=1) + (nb - 1) * np.var(b, ddof=1)) / (na + nb - 2))
    if sp == 0:
        return EffectSize(nan, nan, nan, nan, nan, nan, level)
    d = float((b.mean() - a.mean()) / sp)
    j = 1.0 - 3.0 / (4.0 * (na + nb) - 9.0)
    g = j * d
    se = float(np.sqrt((na + nb) / (na * nb) + g * g / (2.0 * (na + nb))))
    crit = float(stats.t.ppf(0.5 + level / 2, na + nb - 2))
    return EffectSize(d, j, g, se, g - crit * se, g + crit * se, level)


def _clean(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    return x[~np.isnan(x)]


@dataclass(frozen=True)
class GroupComparison:
    """The perception gap between group ``a`` and group ``b`` (gap = mean b - mean a).

    Attributes
    ----------
    a, b : str
        Group labels.
    n_a, n_b : int
    mean_a, mean_b, sd_a, sd_b : float
    gap : float
        ``mean_b - mean_a``.
    welch_t, welch_df, welch_p : float
        ``scipy.stats.ttest_ind(b, a, equal_var=False)``, two-sided.
    gap_ci_lower, gap_ci_upper : float
        Welch confidence interval of the gap.
    mwu_u, mwu_p : float
        ``scipy.stats.mannwhitneyu(b, a, alternative="two-sided")``: U of ``b``.
    effect : EffectSize
        Hedges' g with its interval.
    """

    a: str
    b: str
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    sd_a: float
    sd_b: float
    gap: float
    welch_t: float
    welch_df: float
    welch_p: float
    gap_ci_lower: float
    gap_ci_upper: float
    mwu_u: float
    mwu_p: float
    effect: EffectSize
    level: float = 0.95

    def significant(self, alpha: float = 0.05) -> bool:
        """Welch's test rejects equal means at ``alpha``."""
        return bool(self.welch_p < alpha)

    def to_dict(self) -> dict:
        out = asdict(self)
        eff = out.pop("effect")
        out.update({"hedges_g": eff["g"], "cohen_d": eff["d"], "g_se": eff["se"],
                    "g_ci_lower": eff["ci_lower"], "g_ci_upper": eff["ci_upper"]})
        return out


def compare_groups(a: np.ndarray, b: np.ndarray, labels: tuple[str, str] = ("a", "b"),
                   level: float = 0.95) -> GroupComparison:
    """Welch's t-test, Mann-Whitney U and Hedges' g of ``b`` versus ``a``.

    Tests need at least 2 values per group; with fewer, the statistics are NaN.
    """
    level = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
    a = _clean(a)
    b = _clean(b)
    nan = float("nan")
    t = df = p = lo = hi = u = pu = nan
    if len(a) >= 2 and len(b) >= 2:
        with np.errstate(invalid="ignore", divide="ignore"):
            res = stats.ttest_ind(b, a, equal_var=False)
            t, p, df = float(res.statistic), float(res.pvalue), float(res.df)
            if np.isfinite(t):
                ci = res.confidence_interval(confidence_level=level)
                lo, hi = float(ci.low), float(ci.high)
        mw = stats.mannwhitneyu(b, a, alternative="two-sided")
        u, pu = float(mw.statistic), float(mw.pvalue)

    def _sd(x: np.ndarray) -> float:
        return float(np.std(x, ddof=1)) if len(x) >= 2 else nan

    return GroupComparison(
        str(labels[0]), str(labels[1]), len(a), len(b),
        float(a.mean()) if len(a) else nan, float(b.mean()) if len(b) else nan, _sd(a), _sd(b),
        float(b.mean() - a.mean()) if len(a) and len(b) else nan,
        t, df, p, lo, hi, u, pu, hedges_g(a, b, level), level,
    )


ITEM_GAP_COLUMNS = ["rank", "item", "mean_a", "mean_b", "gap", "n_a", "n_b", "welch_p", "p_holm"]


def item_gaps(items_a: pd.DataFrame, items_b: pd.DataFrame) -> pd.DataFrame:
    """Item-level gaps ranked by absolute size (largest first).

    Each item uses the answers given (unanswered items are left out item by item).
    ``welch_p`` is Welch's two-sided p-value for that item, ``p_holm`` the Holm-adjusted
    p-value over all items (statsmodels ``multipletests``).

    Returns
    -------
    DataFrame
        Columns ``ITEM_GAP_COLUMNS``; ties in ``|gap|`` keep the instrument's order.
    """
    from statsmodels.stats.multitest import multipletests

    rows = []
    for col in items_a.columns:
        a = _clean(items_a[col].to_numpy())
        b = _clean(items_b[col].to_numpy())
        p = float("nan")
        if len(a) >= 2 and len(b) >= 2 and (np.var(a) > 0 or np.var(b) > 0):
            p = float(stats.ttest_ind(b, a, equal_var=False).pvalue)
        ma = float(a.mean()) if len(a) else float("nan")
        mb = float(b.mean()) if len(b) else float("nan")
        rows.append({"item": col, "mean_a": ma, "mean_b": mb, "gap": mb - ma, "n_a": len(a), "n_b": len(b),
                     "welch_p": p})
    out = pd.DataFrame(rows)
    out["p_holm"] = np.nan
    ok = out["welch_p"].notna().to_numpy()
    if ok.any():
        out.loc[ok, "p_holm"] = multipletests(out.loc[ok, "welch_p"].to_numpy(), method="holm")[1]
    order = np.argsort(-out["gap"].abs().fillna(-1).to_numpy(), kind="stable")
    out = out.iloc[order].reset_index(drop=True)
    out.insert(0, "rank", np.arange(1, len(out) + 1))
    return out[ITEM_GAP_COLUMNS]
