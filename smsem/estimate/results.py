"""Fitting a model to survey data and the immutable results object."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import DataError, EstimationError
from ..model.spec import SEMModel
from .backend import Matrices, ParamMap, fit_semopy, standardized_matrices

__all__ = ["FitResults", "fit", "PARAM_COLUMNS"]

PARAM_COLUMNS = ["lhs", "op", "rhs", "est", "se", "z", "pvalue", "ci_lower", "ci_upper", "std_all"]


@dataclass(frozen=True)
class FitResults:
    """Results of an ML fit. Build with :func:`fit`; nothing here refits.

    Attributes
    ----------
    model : SEMModel
    data : DataFrame
        The complete cases that were fitted (item columns, float).
    n_dropped : int
        Rows dropped because an item was missing (listwise deletion).
    params : DataFrame
        One row per parameter, lavaan's ``lhs op rhs`` naming, columns ``PARAM_COLUMNS``.
    fit_indices : dict
        chi2, df, pvalue, baseline chi2 and df, CFI, TLI, RMSEA (semopy's values).
    converged : bool
    matrices : Matrices
        Estimated model matrices.
    start : ndarray
        The estimate vector ``theta`` in :class:`ParamMap` order (semopy's order; the
        start values of bootstrap refits).
    param_map : ParamMap
        Where each element of ``theta`` sits in the matrices: ``param_map.matrices_at(theta)``
        rebuilds the model matrices, e.g. for delta-method derivatives.
    vcov : ndarray
        Covariance matrix of ``start`` (inverse expected information / N convention of
        lavaan's ML), in the same order.
    """

    model: SEMModel
    data: pd.DataFrame
    n_dropped: int
    params: pd.DataFrame
    fit_indices: dict[str, float]
    converged: bool
    matrices: Matrices
    start: np.ndarray = field(repr=False)
    param_map: ParamMap | None = field(default=None, repr=False)
    vcov: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        """Number of respondents used."""
        return len(self.data)

    @cached_property
    def problems(self) -> tuple[str, ...]:
        """Why the solution is inadmissible (non-convergence, Heywood case, non-PD); empty if admissible."""
        from .admissibility import free_cells, inadmissibility

        cells = free_cells(self.param_map) if self.param_map is not None else None
        return inadmissibility(self.matrices, self.converged, cells)

    @property
    def admissible(self) -> bool:
        """True when the optimizer converged to a proper solution (see :attr:`problems`)."""
        return not self.problems

    @cached_property
    def standardized_paths(self) -> pd.Series:
        """std.all coefficient of every structural path, indexed ``"lhs~rhs"``."""
        return structural_std(self.matrices, self.model)

    def path(self, lhs: str, rhs: str) -> pd.Series:
        """The parameter row of regression ``lhs ~ rhs``."""
        sel = self.params[(self.params.lhs == lhs) & (self.params.op == "~") & (self.params.rhs == rhs)]
        if sel.empty:
            raise KeyError(f"{lhs} ~ {rhs} is not a path of the model")
        return sel.iloc[0]

    def __str__(self) -> str:
        cols = ["lhs", "op", "rhs", "est", "se", "z", "pvalue", "std_all"]
        return (f"smsem ML fit of {self.model.name!r}: n = {self.n}, converged = {self.converged}\n"
                + self.params[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def structural_std(mx: Matrices, model: SEMModel) -> pd.Series:
    """std.all of each ``lhs ~ rhs`` regression of ``model`` from estimated matrices."""
    beta_std, _ = standardized_matrices(mx)
    idx = {v: i for i, v in enumerate(mx.inner)}
    return pd.Series(
        {f"{r.lhs}~{r.rhs}": float(beta_std[idx[r.lhs], idx[r.rhs]]) for r in model.parsed.regressions}
    )


def _complete_cases(model: SEMModel, data: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    missing = [c for c in model.items if c not in data.columns]
    if missing:
        raise DataError(f"the data lack the item column(s) {', '.join(missing)} required by model {model.name!r}")
    x = data[model.items].astype(float)
    keep = x.notna().all(axis=1)
    dropped = int((~keep).sum())
    x = x[keep].reset_index(drop=True)
    n_free = model.n_free
    if len(x) <= len(model.items):
        raise DataError(f"only {len(x)} complete rows for {len(model.items)} items: the sample covariance "
                        "would be singular; at least items + 1 complete rows are needed")
    if len(x) < n_free:
        raise DataError(f"only {len(x)} complete rows for {n_free} free parameters; collect more responses")
    return x, dropped


def _param_table(sfit: Any, level: float = 0.95) -> pd.DataFrame:
    ins = sfit.inspect()
    rows = []
    zcrit = stats.norm.ppf(0.5 + level / 2)
    latents = set(sfit.model.vars["latent"])
    for _, r in ins.iterrows():
        lval, op, rval = str(r["lval"]), str(r["op"]), str(r["rval"])
        # semopy writes a loading as "item ~ latent"; lavaan as "latent =~ item".
        if op == "~" and rval in latents and lval not in latents:
            lhs, op_, rhs = rval, "=~", lval
        else:
            lhs, op_, rhs = lval, op, rval
        est = float(r["Estimate"])
        se = _num(r["Std. Err"])
        z = est / se if np.isfinite(se) and se > 0 else np.nan
        p = 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else np.nan
        rows.append((lhs, op_, rhs, est, se, z, p, est - zcrit * se, est + zcrit * se, float(r["Est. Std"])))
    return pd.DataFrame(rows, columns=PARAM_COLUMNS)


def _num(v: Any) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


def fit(model: SEMModel, data: pd.DataFrame) -> FitResults:
    """Fit ``model`` to survey ``data`` by maximum likelihood.

    Parameters
    ----------
    model : SEMModel
        From :func:`smsem.load_model`.
    data : DataFrame
        One row per respondent; must contain every item column of the model. Rows with a
        missing item are dropped (listwise deletion).

    Returns
    -------
    FitResults

    Raises
    ------
    DataError
        Missing item columns or too few complete rows.
    """
    x, dropped = _complete_cases(model, data)
    if dropped:
        warnings.warn(f"{dropped} row(s) with missing items were dropped (listwise deletion)", stacklevel=2)
    sfit = fit_semopy(model.parsed, x)
    stats_ = sfit.calc_stats().T  # semopy: one row "Value", one column per index
    col = stats_.columns[0]
    indices = {
        "chi2": float(stats_.loc["chi2", col]),
        "df": float(stats_.loc["DoF", col]),
        "pvalue": float(stats_.loc["chi2 p-value", col]),
        "baseline_chi2": float(stats_.loc["chi2 Baseline", col]),
        "baseline_df": float(stats_.loc["DoF Baseline", col]),
        "cfi": float(stats_.loc["CFI", col]),
        "tli": float(stats_.loc["TLI", col]),
        "rmsea": float(stats_.loc["RMSEA", col]),
    }
    try:
        table = _param_table(sfit)
    except np.linalg.LinAlgError:  # semopy cannot invert Sigma at the solution: nothing to report
        from .admissibility import inadmissibility

        why = "; ".join(inadmissibility(sfit.matrices(), sfit.success)) or "a singular implied covariance matrix"
        raise EstimationError(f"the solution of model {model.name!r} cannot be summarized ({why}); "
                              "check the model for fixed values and identification") from None
    return FitResults(model, x, dropped, table, indices, sfit.success, sfit.matrices(),
                      sfit.start.copy(), sfit.param_map(), sfit.vcov())
