"""Fitting a model to survey data and the immutable results object."""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from .. import _dist as stats

from .._validation import check_option
from ..exceptions import (ConvergenceWarning, DataError, HeywoodWarning, OptionError, SingularInformationWarning,
                          SpecError)
from ..model.spec import SEMModel
from . import fiml, ml, mlr, robust
from . import fitindices as fitidx
from .backend import standardized_matrices
from .matrices import (Matrices, ParamMap, free_vector_map, nonlinear_constraints, param_map_from_table,
                       start_values, table_rows)
from .standardized import STD_COLUMNS, delta_jacobian, standardize_cells, standardized_table

__all__ = ["FitResults", "fit", "PARAM_COLUMNS", "STD_COLUMNS", "ESTIMATORS", "MISSING"]

PARAM_COLUMNS = ["lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "ci_lower", "ci_upper", "std_lv", "std_all"]


@dataclass(frozen=True)
class FitResults:
    """Results of an ML fit. Build with :func:`fit`; nothing here refits.

    Attributes
    ----------
    model : SEMModel
    data : DataFrame
        The cases that were fitted (item columns, float): the complete cases under
        listwise deletion; every row with at least one observed item under FIML.
    n_dropped : int
        Rows dropped because an item was missing (listwise deletion).
    params : DataFrame
        lavaan's ``parameterEstimates()``: the parameter table's ``=~ ~ ~~ ~1`` rows in its
        order and notation, then its ``:=`` rows; columns ``PARAM_COLUMNS`` (``est, se, z,
        pvalue`` and the Wald ``ci_lower, ci_upper``; fixed parameters, fixed covariates
        included, have SE NaN where lavaan prints 0; the rows of a shared label carry the
        same estimate and SE).
    fit_indices : dict
        lavaan's ``fitMeasures()`` under smsem's names: ``chi2, df, pvalue, baseline_chi2,
        baseline_df, cfi, tli, rmsea, rmsea_ci_lower, rmsea_ci_upper`` (90%),
        ``rmsea_pvalue`` (H0: RMSEA <= .05), ``srmr, logl, unrestricted_logl, aic, bic,
        bic2, npar, ntotal``; with MLM and MLR also ``chi2_scaled, pvalue_scaled,
        scaling_factor, baseline_chi2_scaled, baseline_scaling_factor, cfi_scaled,
        tli_scaled, rmsea_scaled`` (and its CI); with MLM and complete-data MLR
        ``rmsea_robust`` (and its CI).
    converged : bool
    matrices : Matrices
        Estimated model matrices.
    start : ndarray
        The estimate vector ``theta`` in :class:`ParamMap` order (the table's free rows in
        its order, a shared label once, fixed covariates' moments included; the start
        values of bootstrap refits).
    param_map : ParamMap
        Where each element of ``theta`` sits in the matrices: ``param_map.matrices_at(theta)``
        rebuilds the model matrices, e.g. for delta-method derivatives.
    vcov : ndarray
        Covariance matrix of ``start``: inverse expected information / N for ML
        (lavaan's default), the sandwich for MLM and MLR, the inverse observed information for FIML.
    estimator : str
        ``"ML"``, ``"MLM"`` or ``"MLR"``.
    missing : str
        ``"listwise"`` or ``"fiml"``.
    means : ndarray or None
        FIML only: the item intercepts, in ``matrices.observed`` order.
    vcov_means : ndarray or None
        FIML only: covariance of ``(start, means)`` together (``vcov`` is its top-left block).
    partable : ParTable or None
        The parameter table that was fitted (:mod:`smsem.model.partable`).
    table_options : dict
        The model options it was built with (``fit(..., **table_options)``; refit with them).
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
    estimator: str = "ML"
    missing: str = "listwise"
    means: np.ndarray | None = field(default=None, repr=False)
    vcov_means: np.ndarray | None = field(default=None, repr=False)
    partable: Any = field(default=None, repr=False)
    table_options: dict = field(default_factory=dict, repr=False)

    @property
    def n(self) -> int:
        """Number of respondents used."""
        return len(self.data)

    @cached_property
    def problems(self) -> tuple[str, ...]:
        """Why the solution is inadmissible (non-convergence, Heywood case, non-PD); empty if admissible."""
        from .admissibility import free_cells, inadmissibility

        cells = free_cells(self.param_map) if self.param_map is not None else None
        out = inadmissibility(self.matrices, self.converged, cells)
        if self.vcov is not None and not np.all(np.isfinite(self.vcov)):
            out += ("the information matrix is singular (no standard errors)",)
        return out

    @property
    def admissible(self) -> bool:
        """True when the optimizer converged to a proper solution (see :attr:`problems`)."""
        return not self.problems

    @cached_property
    def standardized_paths(self) -> pd.Series:
        """std.all coefficient of every structural path, indexed ``"lhs~rhs"``."""
        return structural_std(self.matrices, self.model)

    @cached_property
    def standardized(self) -> pd.DataFrame:
        """lavaan's ``standardizedSolution()`` for std.all and std.lv, one row per parameter.

        Columns ``STD_COLUMNS``: ``std_all`` and ``std_lv`` each with ``_se, _z, _pvalue,
        _ci_lower, _ci_upper`` (95%), SEs by the delta method from ``vcov``.
        """
        if self.param_map is None or self.vcov is None:
            raise ValueError("this FitResults has no parameter map / vcov (built by an old smsem)")
        rows = list(zip(self.params.lhs, self.params.op, self.params.rhs))
        if self.partable is not None:  # the table layout; := rows by the delta method too
            rows = [r for r in rows if r[1] != ":="]
            out = standardized_table(self.param_map, self.start, self.vcov, rows)
            extra = _defined_std(self.partable, self.param_map, self.start, self.vcov)
            return out if extra is None else pd.concat([out, extra], ignore_index=True)
        if self.means is None or self.vcov_means is None:
            return standardized_table(self.param_map, self.start, self.vcov, rows)
        theta = np.concatenate([self.start, self.means])
        return standardized_table(self.param_map, theta, self.vcov_means, rows, n_means=len(self.means))

    @cached_property
    def fit_table(self) -> pd.DataFrame:
        """The main fit indices with the cut-offs most used in marketing.

        Columns ``index, value, cutoff, ok`` (``ok`` is True/False where a cut-off applies:
        CFI and TLI >= .95, RMSEA <= .06, SRMR <= .08; None otherwise). Under MLM and MLR
        the scaled chi2, CFI, TLI and RMSEA are listed too.
        """
        fi = self.fit_indices
        names = ["chi2", "df", "pvalue", "baseline_chi2", "baseline_df", "cfi", "tli", "rmsea",
                 "rmsea_ci_lower", "rmsea_ci_upper", "rmsea_pvalue", "srmr", "logl", "aic", "bic"]
        if "chi2_scaled" in fi:
            names += ["chi2_scaled", "pvalue_scaled", "scaling_factor", "cfi_scaled", "tli_scaled",
                      "rmsea_scaled", "rmsea_ci_lower_scaled", "rmsea_ci_upper_scaled"]
        rows = []
        for nm in names:
            base = nm.replace("_scaled", "")
            cut = fitidx.CUTOFFS.get(base)
            rows.append((nm, float(fi[nm]), f"{cut[0]} {cut[1]:.2f}" if cut else "",
                         fitidx.meets_cutoff(base, float(fi[nm]))))
        return pd.DataFrame(rows, columns=["index", "value", "cutoff", "ok"])

    def path(self, lhs: str, rhs: str) -> pd.Series:
        """The parameter row of regression ``lhs ~ rhs``."""
        pos = self._path_positions.get((lhs, rhs))
        if pos is None:
            raise KeyError(f"{lhs} ~ {rhs} is not a path of the model")
        return self.params.iloc[pos]

    @cached_property
    def _path_positions(self) -> dict[tuple[str, str], int]:
        """``(lhs, rhs) -> position`` in :attr:`params` of the first ``lhs ~ rhs`` row."""
        out: dict[tuple[str, str], int] = {}
        for k, (lhs, op, rhs) in enumerate(zip(self.params.lhs, self.params.op, self.params.rhs)):
            if op == "~":
                out.setdefault((lhs, rhs), k)
        return out

    def r2(self) -> pd.DataFrame:
        """R² of every endogenous variable (lavaan's ``lavInspect(fit, "r2")``)."""
        from .diagnostics import r2

        return r2(self)

    def modindices(self, minimum: float = 0.0, sort: bool = True) -> pd.DataFrame:
        """lavaan's ``modindices()``: mi, epc, sepc.lv, sepc.all, sepc.nox of every fixed
        parameter lavaan considers, largest first; rows with ``mi >= minimum``."""
        from .diagnostics import modindices

        return modindices(self, minimum=minimum, sort=sort)

    def residuals(self, type: str = "cor.bollen") -> pd.DataFrame:
        """lavaan's ``lavResiduals()``: raw, cor.bollen or cor.bentler residuals with z."""
        from .diagnostics import residuals

        return residuals(self, type)

    def score_tests(self, cumulative: bool = True) -> dict[str, pd.DataFrame]:
        """lavaan's ``lavTestScore(fit, cumulative = TRUE)``: score tests of the equality
        constraints (shared labels, ``a == b``): ``total``, ``uni``, ``cumulative``."""
        from .diagnostics import score_tests

        return score_tests(self, cumulative=cumulative)

    def summary(self) -> str:
        """The fit as lavaan's ``summary(fit, standardized = TRUE, fit.measures = TRUE,
        rsquare = TRUE)`` prints it."""
        from ..report.summary import summary_text

        return summary_text(self)

    def _repr_html_(self) -> str:
        from ..report.summary import summary_html

        return summary_html(self)

    def __str__(self) -> str:
        cols = ["lhs", "op", "rhs", "est", "se", "z", "pvalue", "std_all"]
        how = self.estimator + (", FIML" if self.missing == "fiml" else "")
        return (f"smsem {how} fit of {self.model.name!r}: n = {self.n}, converged = {self.converged}\n"
                + self.params[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}"))


def structural_std(mx: Matrices, model: SEMModel) -> pd.Series:
    """std.all of each ``lhs ~ rhs`` regression of ``model`` from estimated matrices."""
    beta_std, _ = standardized_matrices(mx)
    idx = {v: i for i, v in enumerate(mx.inner)}
    return pd.Series(
        {f"{r.lhs}~{r.rhs}": float(beta_std[idx[r.lhs], idx[r.rhs]]) for r in model.parsed.regressions}
    )


def _robust_rmsea(chi2: float, df: float, c: float, n: int) -> dict[str, float]:
    """lavaan's ``rmsea.robust`` (Brosseau-Savalei and Savalei) of complete data, with its CI."""
    lo_r, hi_r = fitidx.rmsea_ci(chi2 / c, df, n, c_hat=c)
    return {
        "rmsea_robust": fitidx.rmsea(chi2, df, n, c_hat=c),  # lavaan: unscaled chi2 here, scaled in the CI
        "rmsea_ci_lower_robust": lo_r,
        "rmsea_ci_upper_robust": hi_r,
    }


def _scaled_indices(chi2: float, df: float, c: float, chi2_b: float, df_b: float, c_b: float,
                    n: int) -> dict[str, float]:
    """The scaled test and indices of MLM (Satorra-Bentler) and MLR (Yuan-Bentler), as lavaan:
    ``chi2 / c``, the baseline's ``chi2_b / c_b``, CFI and TLI from both, RMSEA from ``chi2``
    on ``c * df`` df (its CI by inverting the noncentral chi-square there)."""
    chi2_s, chi2_bs = chi2 / c, chi2_b / c_b
    lo, hi = fitidx.rmsea_ci(chi2, c * df, n)  # lavaan: unscaled chi2 on df = tr(U Gamma)
    return {
        "chi2_scaled": chi2_s,
        "pvalue_scaled": float(stats.chi2.sf(chi2_s, df)),
        "scaling_factor": c,
        "baseline_chi2_scaled": chi2_bs,
        "baseline_scaling_factor": c_b,
        "cfi_scaled": fitidx.cfi(chi2_s, df, chi2_bs, df_b),
        "tli_scaled": fitidx.tli(chi2_s, df, chi2_bs, df_b),
        "rmsea_scaled": fitidx.rmsea(chi2, c * df, n),
        "rmsea_ci_lower_scaled": lo,
        "rmsea_ci_upper_scaled": hi,
        "rmsea_pvalue_scaled": fitidx.rmsea_pvalue(chi2, c * df, n),
    }


def _indices(chi2: float, df: float, chi2_b: float, df_b: float, n: int, npar: int, logl: float,
             logl_h1: float, srmr: float) -> dict[str, float]:
    lo, hi = fitidx.rmsea_ci(chi2, df, n)
    out = {
        "chi2": chi2,
        "df": df,
        "pvalue": float(stats.chi2.sf(chi2, df)) if df > 0 else float("nan"),
        "baseline_chi2": chi2_b,
        "baseline_df": df_b,
        "cfi": fitidx.cfi(chi2, df, chi2_b, df_b),
        "tli": fitidx.tli(chi2, df, chi2_b, df_b),
        "rmsea": fitidx.rmsea(chi2, df, n),
        "rmsea_ci_lower": lo,
        "rmsea_ci_upper": hi,
        "rmsea_pvalue": fitidx.rmsea_pvalue(chi2, df, n),
        "srmr": srmr,
        "logl": logl,
        "unrestricted_logl": logl_h1,
        "npar": float(npar),
        "ntotal": float(n),
    }
    out.update(fitidx.information_criteria(logl, npar, n))
    return out


ESTIMATORS = ("ML", "MLM", "MLR")
MISSING = ("listwise", "fiml")


_ORDINAL_ONLY = ("WLSMV", "DWLS", "ULS", "ULSMV", "WLS")


def fit(model: SEMModel, data: pd.DataFrame, *, estimator: str = "ML", missing: str = "listwise",
        group: str | None = None, group_equal: Any = (), group_partial: Any = (),
        interaction_method: str | None = None, **table_options: Any) -> FitResults:
    """Fit ``model`` to survey ``data`` by maximum likelihood, as lavaan's ``sem()``.

    Parameters
    ----------
    model : SEMModel
        From :func:`smsem.load_model`.
    data : DataFrame
        One row per respondent; must contain every item column of the model.
    estimator : {"ML", "MLM", "MLR"}, default="ML"
        ``"ML"``: normal-theory ML, SEs from the expected information (lavaan's default).
        ``"MLM"``: the same estimates with robust (sandwich) SEs and the Satorra-Bentler
        scaled chi2 and scaled CFI, TLI and RMSEA (lavaan's ``estimator = "MLM"``;
        complete data). ``"MLR"``: the same estimates with Huber-White SEs from the observed
        information and the Yuan-Bentler (Mplus) scaled chi2, CFI, TLI and RMSEA (lavaan's
        ``estimator = "MLR"``), with complete data or FIML (:mod:`smsem.estimate.mlr`).
    missing : {"listwise", "fiml"}, default="listwise"
        ``"listwise"`` drops rows with a missing item (with a warning); ``"fiml"`` uses
        every observed value by full-information ML with item intercepts (lavaan's
        ``missing = "ml"``; SEs from the observed information). FIML takes ``"ML"`` or
        ``"MLR"`` (robust FIML).
    group : str or None, default=None
        A column of ``data``: fit the model in every group (lavaan's ``group =``; groups in
        order of first appearance) and return a
        :class:`~smsem.estimate.multigroup.MultiGroupFit` (ML, MLM, MLR; FIML with ML or MLR); with
        ``ordered=``, a :class:`~smsem.estimate.categorical.multigroup.OrdinalMultiGroupFit`
        (WLSMV, ULSMV, DWLS, ULS; ``group_equal`` may include ``thresholds``).
    group_equal : sequence of str or comma-separated str
        lavaan's ``group.equal`` (``loadings``, ``intercepts``, ``residuals``, ``means``, ...).
    group_partial : sequence of str or comma-separated str
        lavaan's ``group.partial`` (``"visual=~x3"``, ``"x1~1"``).
    interaction_method : {"lms", "qml", "dmc", "rca"} or None
        How a latent interaction ``y ~ a:b`` is estimated (:mod:`smsem.estimate.interaction`;
        None: its ``DEFAULT_METHOD``); the result is then that method's fit object. Only
        for models with a latent interaction.
    ordered : True, "all" or list of str, optional (keyword in ``table_options``)
        Ordinal items: the fit is lavaan's ``sem(..., ordered = ...)`` (estimator
        ``"WLSMV"`` by default, also ``"ULSMV"``, ``"DWLS"``, ``"ULS"``, ``"WLS"``; missing
        ``"listwise"`` or ``"pairwise"``); see :mod:`smsem.estimate.categorical.fit`.
    **table_options
        lavaan's model options, passed to :meth:`SEMModel.table` (``model_type``,
        ``std_lv``, ``meanstructure``, ``fixed_x``, ``orthogonal``, ...; see
        :func:`smsem.model.partable.lavaanify`). Default: lavaan's ``sem()``.

    Returns
    -------
    FitResults

    Raises
    ------
    DataError
        Missing item columns or too few rows.
    OptionError
        An unknown estimator or missing-data option, or MLM with FIML.
    """
    data = with_interaction_products(model, data)
    latent_products = getattr(getattr(model, "parsed", None), "latent_interactions", None) or []
    if latent_products:
        from .interaction import fit_interaction

        return fit_interaction(model, data, method=interaction_method, estimator=estimator, missing=missing,
                               group=group, group_equal=group_equal, group_partial=group_partial,
                               **table_options)
    if interaction_method is not None:
        raise OptionError(f"interaction_method={interaction_method!r} needs a latent interaction (a:b with a "
                          "latent variable) in the model; this model has none")
    ordered = table_options.pop("ordered", None)
    parameterization = table_options.pop("parameterization", "delta")
    if ordered is not None and ordered is not False or str(estimator).upper() in _ORDINAL_ONLY:
        from .categorical.fit import fit_ordinal  # WLSMV & co. (ordinal indicators)

        if ordered is None or ordered is False:
            raise OptionError(f"estimator {estimator!r} needs ordered items (ordered=True or a list of items)")
        if missing == "fiml":
            raise OptionError("missing='fiml' is not available with ordered items (lavaan: listwise or pairwise)")
        if group is not None:  # multiple groups (delta parameterization): categorical/multigroup.py
            from .categorical.multigroup import fit_ordinal_multigroup

            return fit_ordinal_multigroup(model, data, group, ordered=ordered,
                                          estimator="WLSMV" if estimator == "ML" else estimator,
                                          group_equal=group_equal, group_partial=group_partial, missing=missing,
                                          parameterization=parameterization, **table_options)
        if group_equal or group_partial:
            raise OptionError("group_equal and group_partial need group= (a group column)")
        return fit_ordinal(model, data, ordered=ordered, estimator="WLSMV" if estimator == "ML" else estimator,
                           missing=missing, parameterization=parameterization, **table_options)
    check_option("estimator", estimator, ESTIMATORS)
    check_option("missing", missing, MISSING)
    if group is not None:
        from .multigroup import fit_multigroup

        return fit_multigroup(model, data, group, group_equal=group_equal, group_partial=group_partial,
                              estimator=estimator, missing=missing, **table_options)
    if group_equal or group_partial:
        raise OptionError("group_equal and group_partial need group= (a group column)")
    pt = _model_table(model, missing, table_options)
    if pt is not None:
        res = fit_table(model, pt, data, estimator=estimator, missing=missing)
        return dataclasses.replace(res, table_options=dict(table_options))
    raise OptionError(f"{type(model).__name__} has no parameter table: fit a model from smsem.load_model "
                      "(or an object with a table(**options) method)")


def with_interaction_products(model: Any, data: pd.DataFrame) -> pd.DataFrame:
    """``data`` with a column ``a:b`` for every product of two observed variables in the
    model (lavaan's ``ov.interaction``: the product of the raw columns, no centering; a
    missing factor gives a missing product). ``data`` itself is not modified."""
    products = getattr(getattr(model, "parsed", None), "observed_interactions", None) or []
    if not products or not isinstance(data, pd.DataFrame):
        return data
    new = {}
    for name, a, b in products:
        absent = [c for c in (a, b) if c not in data.columns]
        if absent:
            raise DataError(f"the data lack the column(s) {', '.join(absent)} of the interaction term {name!r}")
        try:
            new[name] = data[a].astype(float) * data[b].astype(float)
        except (TypeError, ValueError) as exc:
            raise DataError(f"the columns of the interaction term {name!r} must be numeric ({exc})") from None
    return data.assign(**new)


def _model_table(model: Any, missing: str = "listwise", options: dict | None = None) -> Any:
    """The model's parameter table (``SEMModel.table(**options)``; lavaan's ``sem()``
    defaults without options; FIML adds ``missing="fiml"``, hence the mean structure), or
    None for a model without one."""
    options = dict(options or {})
    if missing == "fiml":
        options["missing"] = "fiml"
    if callable(getattr(model, "table", None)):
        try:
            return model.table(**options)
        except TypeError as exc:
            raise OptionError(f"unknown model option: {exc}") from None
    if options.keys() - {"missing"}:
        raise OptionError(f"model options {sorted(options)} need a model with a parameter table")
    pt = getattr(model, "partable", None)
    if callable(pt):
        pt = pt()
    return pt


def _constraint_hook(pt: Any):
    """None, or the constrained fit when the table has constraint rows (``==``, ``<``,
    ``>``) other than equalities of two labels (those are collapsed into one parameter);
    SpecError naming the line if :mod:`smsem.estimate.constraints` is not available."""
    rows = nonlinear_constraints(pt)
    if not rows:
        return None
    try:
        from . import constraints  # noqa: F401  (smsem.estimate.constraints, issue 12)
    except ImportError:
        r = rows[0]
        raise SpecError(f"line {r['line']}: constraint {r['lhs']} {r['op']} {r['rhs']} is not supported yet") from None
    return _fit_constrained_table


def _table_columns(pt: Any, data: pd.DataFrame) -> pd.DataFrame:
    """The table's observed variables (``pt.ov``, lavaan's order) as float columns of ``data``."""
    ov = list(pt.ov)
    absent = [c for c in ov if c not in data.columns]
    if absent:
        raise DataError(f"the data lack the column(s) {', '.join(absent)} named in the model")
    try:
        return data[ov].astype(float)
    except (TypeError, ValueError) as exc:
        raise DataError(f"the model's columns must be numeric ({exc})") from None


def _table_data(pt: Any, data: pd.DataFrame, fiml_: bool) -> tuple[pd.DataFrame, int]:
    x = _table_columns(pt, data)
    keep = x.notna().any(axis=1) if fiml_ else x.notna().all(axis=1)
    if fiml_ and not keep.all():
        warnings.warn(f"{int((~keep).sum())} row(s) with no observed value were dropped", stacklevel=4)
    ov_x = [v for v in (getattr(pt, "ov_x", None) or []) if v in x.columns]
    if fiml_ and ov_x:
        # lavaan (fixed.x = TRUE) deletes the cases with a missing covariate, even under FIML.
        miss_x = x[ov_x].isna().any(axis=1) & keep
        if miss_x.any():
            warnings.warn(f"{int(miss_x.sum())} row(s) with a missing fixed covariate ({', '.join(ov_x)}) were "
                          "dropped, as lavaan does with fixed.x = TRUE", stacklevel=4)
            keep &= ~miss_x
    dropped = int((~keep).sum())
    x = x[keep].reset_index(drop=True)
    npar = int(getattr(pt, "npar", 0) or 0)
    if not fiml_ and len(x) <= x.shape[1]:
        raise DataError(f"only {len(x)} complete rows for {x.shape[1]} observed variables: the sample covariance "
                        "would be singular; at least variables + 1 complete rows are needed")
    if len(x) < npar:
        raise DataError(f"only {len(x)} rows for {npar} free parameters; collect more responses")
    return x, dropped


def fit_table(model: Any, pt: Any, data: pd.DataFrame, *, estimator: str = "ML",
              missing: str = "listwise") -> FitResults:
    """Fit the parameter table ``pt`` (lavaan's ``parTable()``, :mod:`smsem.model.partable`)
    by ML as lavaan: the free rows are the parameters, shared labels one parameter, the
    fixed.x rows the sample moments; L-BFGS-B then Fisher scoring to a step below 1e-10.

    ``model`` is kept on the results (an :class:`SEMModel`, or None). See :func:`fit`.
    """
    check_option("estimator", estimator, ESTIMATORS)
    check_option("missing", missing, MISSING)
    hook = _constraint_hook(pt)
    if hook is not None:
        return hook(model, pt, data, estimator=estimator, missing=missing)
    pm = param_map_from_table(pt)
    if missing == "fiml":
        if estimator == "MLM":
            raise OptionError("missing='fiml' supports estimators 'ML' and 'MLR' (lavaan's robust FIML), "
                              "not 'MLM', which needs complete data")
        return _fit_fiml_table(model, pt, pm, data, robust=estimator == "MLR")
    x, dropped = _table_data(pt, data, False)
    if dropped:
        warnings.warn(f"{dropped} row(s) with missing values were dropped (listwise deletion)", stacklevel=3)
    xa = x.to_numpy(dtype=float)
    mean, s = ml.sample_moments(xa)
    start = start_values(pt, pm, mean, s)
    xbar = mean if pm.meanstructure else None
    theta, ok, msg = ml.minimize_ml(pm, start, s, xbar)
    if not ok:
        warnings.warn(f"the ML fit did not converge ({msg}); estimates may be unreliable",
                      ConvergenceWarning, stacklevel=3)
    xidx, bidx = _x_positions(pm, pt)
    indices, vcov = _table_indices(pm, theta, xa, estimator, xidx, bidx)
    mx = pm.matrices_at(theta)
    _warn_heywood_table(pm, mx)
    params = _with_defined(_table_params(pm, pt, theta, vcov), pt, pm, theta, vcov)
    return FitResults(model, x, dropped, params, indices, bool(ok), mx, theta.copy(), pm, vcov,
                      estimator=estimator, missing=missing, partable=pt)


def _warn_heywood_table(pm: ParamMap, mx: Matrices) -> None:
    from .admissibility import free_cells, inadmissibility

    for problem in inadmissibility(mx, free_cells=free_cells(pm)):
        if "variance" in problem:
            warnings.warn(f"{problem}: the solution is inadmissible", HeywoodWarning, stacklevel=4)


def _x_positions(pm: ParamMap, pt: Any) -> tuple[np.ndarray, np.ndarray]:
    """Positions (in ``pm.base.observed``) of the fixed covariates (``pt.ov_x``; none with
    ``fixed_x=False``) and of lavaan's observed exogenous variables, whose covariances
    lavaan's baseline model keeps free whether or not they are fixed."""
    obs = list(pm.base.observed)
    fixed = list(getattr(pt, "ov_x", None) or [])
    names = getattr(pt, "_names", None)
    base = list(getattr(names, "ov_x", fixed)) if names is not None else fixed
    return fitidx.fixed_x_index(obs, fixed), fitidx.fixed_x_index(obs, [v for v in base if v in obs])


def _table_indices(pm: ParamMap, theta: np.ndarray, x: np.ndarray, estimator: str, fixed_x: np.ndarray,
                   base_x: np.ndarray | None = None) -> tuple[dict[str, float], np.ndarray]:
    """Fit indices and vcov of a complete-data ML / MLM / MLR fit of the table layout
    (``fixed_x``: positions of the fixed covariates; ``base_x``: of the covariates the
    baseline model keeps correlated, default ``fixed_x``)."""
    base_x = fixed_x if base_x is None else base_x
    n, p = x.shape
    xbar, s = ml.sample_moments(x)
    mx = pm.matrices_at(theta)
    sigma = mx.implied_cov
    mu = mx.implied_mean if pm.meanstructure else None
    jac = ml.sigma_jacobian(pm, theta)
    mjac = ml.mean_jacobian(pm, theta)
    info = ml.expected_information_means(jac, mjac, sigma) if pm.meanstructure else ml.expected_information(jac, sigma)
    df = p * (p + 1) / 2 + (p if pm.meanstructure else 0) - pm.n_free
    chi2 = n * ml.f_ml_means(s, xbar, sigma, mu)
    chi2_b = n * float(fitidx.baseline_fmin(s, base_x))
    df_b = fitidx.baseline_df(p, len(base_x))
    logl = ml.loglik_normal(s, sigma, n)
    if mu is not None:
        d = xbar - mu
        logl -= n / 2 * float(d @ np.linalg.solve(sigma, d))
    logl_h1 = ml.loglik_normal(s, s, n)
    # lavaan's logl with fixed.x is conditional on the covariates: less their own (saturated) part.
    lx = _x_loglik(x, fixed_x)
    logl, logl_h1 = logl - lx, logl_h1 - lx
    srmr = fitidx.srmr(s, sigma, xbar, mu) if mu is not None else fitidx.srmr(s, sigma)
    ind = _indices(chi2, df, chi2_b, df_b, n, pm.npar, logl, logl_h1, srmr)
    if estimator == "ML":
        try:
            return ind, np.linalg.inv(info) / n
        except np.linalg.LinAlgError:
            warnings.warn("the information matrix is singular: standard errors are unavailable (NaN); the model "
                          "may be empirically under-identified", SingularInformationWarning, stacklevel=3)
            return ind, np.full_like(info, np.nan)
    if estimator == "MLR":
        return ind, _mlr_table(pm, theta, x, s, base_x, ind, df, chi2, chi2_b, df_b)
    # MLM: Satorra-Bentler sandwich; with a mean structure Gamma and Delta get the mean rows.
    # (lavaan's Gamma with fixed covariates: their moments carry no sampling variance.)
    delta = ml.vech(jac).T
    w = ml.weight_matrix(sigma)
    gamma = robust.gamma_adf_fixed_x(x, fixed_x) if len(fixed_x) else robust.gamma_adf(x)
    if pm.meanstructure:
        gamma_m = robust.gamma_adf_fixed_x(x, fixed_x, meanstructure=True)
        r, c = ml.vech_indices(p)
        delta_m = np.concatenate([mjac.T, delta], axis=0)
        q = len(r)
        w_m = np.zeros((p + q, p + q))
        w_m[:p, :p] = np.linalg.inv(sigma)
        w_m[p:, p:] = w
        vcov = robust.sandwich_vcov(delta_m, w_m, gamma_m, n)
        c_fac = robust.sb_scaling(delta_m, w_m, gamma_m, df) if df > 0 else float("nan")
    else:
        vcov = robust.sandwich_vcov(delta, w, gamma, n)
        c_fac = robust.sb_scaling(delta, w, gamma, df) if df > 0 else float("nan")
    if df <= 0:
        return ind, vcov
    c_b = robust.baseline_scaling(s, gamma, base_x)
    ind.update(_scaled_indices(chi2, df, c_fac, chi2_b, df_b, c_b, n))
    ind.update(_robust_rmsea(chi2, df, c_fac, n))
    return ind, vcov


def _mlr_table(pm: ParamMap, theta: np.ndarray, x: np.ndarray, s: np.ndarray, fixed_x: np.ndarray,
               ind: dict[str, float], df: float, chi2: float, chi2_b: float, df_b: float) -> np.ndarray:
    """MLR on complete data: Huber-White vcov of ``theta``; adds the Yuan-Bentler scaled
    indices to ``ind``. Without a mean structure (lavaan's default) the means are saturated
    at the sample means, where the information is block-diagonal between ``theta`` and the
    means, so the ``theta`` block alone gives ``theta``'s sandwich."""
    pat = fiml.Patterns.from_data(x)
    xbar = x.mean(axis=0)
    means = bool(pm.meanstructure)
    if means:
        hess = fiml.observed_information(pm, pat, theta)
        scores = mlr.model_scores(pm, x, theta, None)
    else:
        k = pm.n_free
        hess = fiml.observed_information(pm, pat, np.concatenate([theta, xbar]))[:k, :k]
        scores = mlr.model_scores(pm, x, theta, xbar)[:, :k]
    try:
        vcov = mlr.sandwich(hess, scores)
    except np.linalg.LinAlgError:  # report, never crash (issue 8)
        warnings.warn("the observed information matrix is singular: robust standard errors and the scaled test "
                      "are unavailable (NaN); the model may be empirically under-identified",
                      SingularInformationWarning, stacklevel=4)
        return np.full_like(hess, np.nan)
    if df > 0:
        h1 = mlr.h1_trace(x, pat, xbar, s, means=means)
        c = (h1 - mlr.h0_trace(hess, scores)) / df
        mu_b, sig_b = fiml.baseline_moments(x, fixed_x)
        c_b = (h1 - mlr.baseline_h0_trace(x, pat, mu_b, sig_b, fixed_x, means=means)) / df_b
        ind.update(_scaled_indices(chi2, df, c, chi2_b, df_b, c_b, len(x)))
        ind.update(_robust_rmsea(chi2, df, c, len(x)))
    return vcov


def _x_loglik(x: np.ndarray, fixed_x: np.ndarray) -> float:
    """Saturated log-likelihood of the fixed covariates' columns (EM with missing values)."""
    idx = [int(i) for i in fixed_x]
    if not idx:
        return 0.0
    block = x[:, idx]
    block = block[~np.isnan(block).all(axis=1)]
    if not np.isnan(block).any():
        _, s = ml.sample_moments(block)
        return ml.loglik_normal(s, s, len(block))
    return fiml.em_saturated(block, fiml.Patterns.from_data(block))[2]


def _table_params(pm: ParamMap, pt: Any, theta: np.ndarray, vcov: np.ndarray, level: float = 0.95) -> pd.DataFrame:
    """``res.params`` of a table fit: the table's ``=~ ~ ~~ ~1`` rows in its order, lavaan's
    notation; a shared label's rows all carry the parameter's estimate and SE; fixed rows
    (fixed.x ones included) have SE NaN (lavaan prints 0)."""
    mx = pm.matrices_at(theta)
    mats = (mx.beta, mx.lambda_, mx.psi, mx.theta, mx.nu, mx.alpha)
    se_all = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    exo = set(pm.exo)
    zcrit = stats.norm.ppf(0.5 + level / 2)
    rows = list(pm.rows)
    std_all, std_lv = standardize_cells(mx, rows, pm.row_locations)
    labels = {(r["lhs"], r["op"], r["rhs"]): r["label"] for r in table_rows(pt)}
    out = []
    for (lhs, op, rhs), (m, i, j), sa, sl in zip(rows, pm.row_locations, std_all, std_lv):
        k = pm.aliases.get((lhs, op, rhs))
        if k is not None:
            est = float(theta[k])
            se = float(se_all[k]) if k not in exo else float("nan")
            if se < 1e-8 * max(1.0, abs(est)):  # at an active inequality bound: 0 up to rounding,
                se = 0.0                        # lavaan prints SE 0 and no z (as the std tables)
        else:
            est, se = float(mats[m][i] if m >= 4 else mats[m][i, j]), float("nan")
        z = est / se if np.isfinite(se) and se > 0 else np.nan
        p = 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else np.nan
        out.append((lhs, op, rhs, labels.get((lhs, op, rhs), ""), est, se, z, p, est - zcrit * se,
                    est + zcrit * se, float(sl), float(sa)))
    return pd.DataFrame(out, columns=PARAM_COLUMNS)


def _fit_fiml_table(model: Any, pt: Any, pm: ParamMap, data: pd.DataFrame, robust: bool = False) -> FitResults:
    """FIML (lavaan's ``missing = "ml"``) of a table with a mean structure."""
    if not pm.meanstructure:
        raise SpecError("missing='fiml' needs the parameter table built with its mean structure "
                        "(lavaanify(..., missing='fiml'))")
    x, dropped = _table_data(pt, data, True)
    xa = x.to_numpy(dtype=float)
    pat = fiml.Patterns.from_data(xa)
    mu, sigma, logl_h1, em_ok = fiml.em_saturated(xa, pat)
    if not em_ok:
        warnings.warn("EM for the unrestricted model did not converge; chi2 may be imprecise",
                      ConvergenceWarning, stacklevel=3)
    # Start: the ML fit to the EM moments (complete-data ML on them).
    theta0, _, _ = ml.minimize_ml(pm, start_values(pt, pm, mu, sigma), sigma, mu)
    ff = fiml.fit_fiml(pm, xa, theta0, None, pat)
    if not ff.converged:
        warnings.warn(f"the FIML optimizer did not converge ({ff.message}); estimates may be unreliable",
                      ConvergenceWarning, stacklevel=3)
    mx = pm.matrices_at(ff.theta)
    _warn_heywood_table(pm, mx)
    n, p = xa.shape
    df = p * (p + 1) / 2 + p - pm.n_free
    chi2 = 2 * (logl_h1 - ff.loglik)
    xidx, bidx = _x_positions(pm, pt)
    chi2_b = 2 * (logl_h1 - fiml.baseline_loglik(xa, bidx))
    df_b = fitidx.baseline_df(p, len(bidx))
    lx = _x_loglik(xa, xidx)
    indices = _indices(chi2, df, chi2_b, df_b, n, pm.npar, ff.loglik - lx, logl_h1 - lx,
                       fitidx.srmr(sigma, mx.implied_cov, mu, mx.implied_mean))
    vcov = ff.vcov
    if robust:
        scores = mlr.model_scores(pm, xa, ff.theta, None)
        try:
            vcov = mlr.sandwich(ff.hessian, scores)
        except np.linalg.LinAlgError:
            warnings.warn("the observed information matrix is singular: robust standard errors and the scaled "
                          "test are unavailable (NaN); the model may be empirically under-identified",
                          SingularInformationWarning, stacklevel=3)
            vcov = np.full_like(ff.hessian, np.nan)
        if df > 0 and np.isfinite(vcov).all():
            h1 = mlr.h1_trace(xa, pat, mu, sigma, means=True)
            c = (h1 - mlr.h0_trace(ff.hessian, scores)) / df
            mu_b, sig_b = fiml.baseline_moments(xa, bidx)
            c_b = (h1 - mlr.baseline_h0_trace(xa, pat, mu_b, sig_b, bidx, means=True)) / df_b
            indices.update(_scaled_indices(chi2, df, c, chi2_b, df_b, c_b, n))
    params = _with_defined(_table_params(pm, pt, ff.theta, vcov), pt, pm, ff.theta, vcov)
    return FitResults(model, x, dropped, params, indices, ff.converged, mx, ff.theta.copy(), pm, vcov,
                      estimator="MLR" if robust else "ML", missing="fiml", partable=pt)


def _with_defined(params: pd.DataFrame, pt: Any, pm: ParamMap, theta: np.ndarray, vcov: np.ndarray
                  ) -> pd.DataFrame:
    extra = _defined_rows(pt, pm, theta, vcov)
    return params if extra is None else pd.concat([params, extra], ignore_index=True)


def _defined_std(pt: Any, pm: ParamMap, theta: np.ndarray, vcov: np.ndarray, level: float = 0.95
                 ) -> pd.DataFrame | None:
    """std.all and std.lv of the ``:=`` rows (each definition evaluated at the standardized
    free rows, lavaan's ``standardizedSolution()``), SEs by the delta method."""
    rows = [r for r in table_rows(pt) if r["op"] == ":="]
    if not rows:
        return None
    from . import constraints
    from .standardized import _inference

    _, _, defs = constraints.constraints_from_table(pt.df)
    params = constraints.ParameterMap.from_table(pt.df)
    free_rows = [(r["free"] - 1, (r["lhs"], r["op"], r["rhs"])) for r in table_rows(pt)
                 if r["op"] in ("=~", "~", "~~", "~1") and r["free"] > 0]
    npar = max((i for i, _ in free_rows), default=-1) + 1
    pos = {key: k for k, key in enumerate(pm.rows)}

    def both(t: np.ndarray) -> np.ndarray:
        a, b = standardize_cells(pm.matrices_at(t), list(pm.rows), pm.row_locations)
        xa, xb = np.zeros(npar), np.zeros(npar)
        for i, key in free_rows:
            xa[i], xb[i] = a[pos[key]], b[pos[key]]
        return np.concatenate([constraints.defined_values(defs, xa, params).est,
                               constraints.defined_values(defs, xb, params).est])

    est = both(np.asarray(theta, dtype=float))
    jac = delta_jacobian(both, np.asarray(theta, dtype=float))
    cov = jac @ np.nan_to_num(vcov) @ jac.T
    m = len(rows)
    out = pd.DataFrame([(r["lhs"], ":=", r["rhs"]) for r in rows], columns=["lhs", "op", "rhs"])
    for prefix, sl in (("std_all", slice(0, m)), ("std_lv", slice(m, 2 * m))):
        inf = _inference(est[sl], cov[sl, sl], level)
        out[prefix] = est[sl]
        for name, col in zip(("se", "z", "pvalue", "ci_lower", "ci_upper"), inf):
            out[f"{prefix}_{name}"] = col
    return out[STD_COLUMNS]


def _defined_rows(pt: Any, pm: ParamMap, theta: np.ndarray, vcov: np.ndarray, level: float = 0.95
                  ) -> pd.DataFrame | None:
    """lavaan's ``:=`` rows of ``parameterEstimates()``: value, delta-method SE, Wald z, p,
    CI, and std.all (the definition evaluated at the std.all values of the free rows)."""
    rows = [r for r in table_rows(pt) if r["op"] == ":="]
    if not rows:
        return None
    from . import constraints

    _, _, defs = constraints.constraints_from_table(pt.df)
    params = constraints.ParameterMap.from_table(pt.df)
    e = free_vector_map(pt, pm)
    x = e @ theta
    v = e @ np.nan_to_num(vcov) @ e.T
    res = constraints.defined_values(defs, x, params, v)
    # std.all of the free rows, in lavaan's free order
    mx = pm.matrices_at(theta)
    std_rows, lv_rows = standardize_cells(mx, list(pm.rows), pm.row_locations)
    x_std, x_lv = np.zeros(len(x)), np.zeros(len(x))
    by_key = {key: (a, b) for key, a, b in zip(pm.rows, std_rows, lv_rows)}
    for r in table_rows(pt):
        if r["op"] in ("=~", "~", "~~", "~1") and r["free"] > 0:
            x_std[r["free"] - 1], x_lv[r["free"] - 1] = by_key[(r["lhs"], r["op"], r["rhs"])]
    std = constraints.defined_values(defs, x_std, params).est
    std_lv = constraints.defined_values(defs, x_lv, params).est
    zcrit = stats.norm.ppf(0.5 + level / 2)
    out = []
    for name, est, se, sa, sl, r in zip(res.names, res.est, res.se, std, std_lv, rows):
        z = est / se if np.isfinite(se) and se > 0 else np.nan
        p = 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else np.nan
        out.append((name, ":=", r["rhs"], name, float(est), float(se), z, p, est - zcrit * se, est + zcrit * se,
                    float(sl), float(sa)))
    return pd.DataFrame(out, columns=PARAM_COLUMNS)


def _fit_constrained_table(model: Any, pt: Any, data: pd.DataFrame, *, estimator: str = "ML",
                           missing: str = "listwise") -> FitResults:
    """ML with lavaan's ``==``, ``<``, ``>`` rows (:func:`constraints.fit_constrained`):
    every free row is its own parameter (lavaan's free vector), fixed.x rows at the sample
    moments; objective ``F_ML / 2`` (lavaan's ``fmin``), expected information, vcov the
    augmented inverse / N, df corrected by the rank of the equalities."""
    from . import constraints

    if estimator != "ML" or missing != "listwise":
        r = nonlinear_constraints(pt)[0]
        raise SpecError(f"line {r['line']}: constraint {r['lhs']} {r['op']} {r['rhs']} is supported with "
                        f"estimator='ML' and complete data only, not yet with {estimator}/{missing}")
    pm = param_map_from_table(pt, collapse=False)
    x, dropped = _table_data(pt, data, False)
    if dropped:
        warnings.warn(f"{dropped} row(s) with missing values were dropped (listwise deletion)", stacklevel=3)
    xa = x.to_numpy(dtype=float)
    n = len(xa)
    mean, s = ml.sample_moments(xa)
    xbar = mean if pm.meanstructure else None
    theta0 = start_values(pt, pm, mean, s)
    e = free_vector_map(pt, pm)
    keep = np.flatnonzero(e.sum(axis=0) > 0)  # the non-fixed.x parameters, lavaan's order
    if not np.array_equal(e[:, keep], np.eye(len(keep))):
        raise SpecError("the parameter table's free numbering does not follow its rows")

    def theta_of(xv: np.ndarray) -> np.ndarray:
        t = theta0.copy()
        t[keep] = xv
        return t

    fun = ml._objective(pm, s, xbar)

    def objective(xv: np.ndarray) -> float:
        f = fun(theta_of(xv))[0]
        return 0.5 * f if f < 1e10 else np.inf

    def gradient(xv: np.ndarray) -> np.ndarray:
        return 0.5 * fun(theta_of(xv))[1][keep]

    def information(xv: np.ndarray) -> np.ndarray:
        t = theta_of(xv)
        sigma = pm.matrices_at(t).implied_cov
        jac = ml.sigma_jacobian(pm, t)
        if pm.meanstructure:
            info = ml.expected_information_means(jac, ml.mean_jacobian(pm, t), sigma)
        else:
            info = ml.expected_information(jac, sigma)
        return info[np.ix_(keep, keep)]

    eq, ineq, _ = constraints.constraints_from_table(pt.df)
    params = constraints.ParameterMap.from_table(pt.df)
    cr = constraints.fit_constrained(objective, gradient, information, theta0[keep], eq, ineq, params,
                                     nobs=n, warn=False)
    if not cr.converged:
        warnings.warn(f"the constrained ML fit did not converge ({cr.message})", ConvergenceWarning, stacklevel=3)
    theta = theta_of(cr.x)
    vcov = np.zeros((pm.n_free, pm.n_free))
    vcov[np.ix_(keep, keep)] = cr.vcov if cr.vcov is not None else np.nan
    xidx, bidx = _x_positions(pm, pt)
    indices, _ = _table_indices(pm, theta, xa, "ML", xidx, bidx)
    # lavaan: df = moments - npar + rank of the equality constraints; npar less that rank.
    indices["df"] += cr.df_correction
    indices["npar"] -= cr.df_correction
    df = indices["df"]
    indices["pvalue"] = float(stats.chi2.sf(indices["chi2"], df)) if df > 0 else float("nan")
    lo, hi = fitidx.rmsea_ci(indices["chi2"], df, n)
    indices.update(cfi=fitidx.cfi(indices["chi2"], df, indices["baseline_chi2"], indices["baseline_df"]),
                   tli=fitidx.tli(indices["chi2"], df, indices["baseline_chi2"], indices["baseline_df"]),
                   rmsea=fitidx.rmsea(indices["chi2"], df, n), rmsea_ci_lower=lo, rmsea_ci_upper=hi,
                   rmsea_pvalue=fitidx.rmsea_pvalue(indices["chi2"], df, n))
    indices.update(fitidx.information_criteria(indices["logl"], int(indices["npar"]), n))
    mx = pm.matrices_at(theta)
    _warn_heywood_table(pm, mx)
    params_df = _table_params(pm, pt, theta, vcov)
    params_df = _with_defined(params_df, pt, pm, theta, vcov)
    return FitResults(model, x, dropped, params_df, indices, bool(cr.converged), mx, theta.copy(), pm, vcov,
                      estimator=estimator, missing=missing, partable=pt)
