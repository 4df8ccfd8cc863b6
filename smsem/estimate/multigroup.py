"""Multiple-group ML (lavaan's ``group=``, ``group.equal=``, ``group.partial=``), complete data.

The parameter table (:func:`smsem.model.partable.lavaanify` with ``ngroups``) holds every
group's rows (``group`` 1..G) and the ``==`` rows of ``group.equal``. Each group block is
read by the one-group engine (:func:`~smsem.estimate.matrices.param_map_from_table` on the
group's rows), and one global parameter vector joins them: rows that share a label or
plabel, or are tied by a simple ``==`` row between two plabels, are one parameter (as the
engine does within a group). fixed.x rows are each group's own sample moments.

lavaan's normal-likelihood conventions (``likelihood = "normal"``, the default):

- ``S_g`` divides by ``n_g``; ``F = sum_g (n_g / N) F_g`` with ``F_g`` the one-group ML
  discrepancy (means included); ``chi2 = sum_g n_g F_g`` (lavaan's ``fmin`` is ``chi2 / 2N``);
- expected information ``sum_g (n_g / N) I_g``, ``vcov = I^-1 / N``;
- ``df`` = the table's ``df_model``; the baseline is the independence model in every group
  (free means and variances), ``chi2_b = sum_g n_g F_b,g``;
- RMSEA (``lav_fit_rmsea.R``): ``sqrt(max(chi2 / (N df) - 1 / N, 0)) * sqrt(G)``, its CI
  the one-group inversion times ``sqrt(G)``, the close-fit p-value with noncentrality
  ``N df h0^2 / G``;
- SRMR (``lav_fit_srmr.R``): the groups' Bentler SRMR (means included) averaged with
  weights ``n_g / N``;
- ``logl`` and the unrestricted ``logl`` summed over groups; AIC, BIC with the total N.

Groups are the values of the group column in order of first appearance (lavaan's
``unique()``), as strings.

Robust and missing-data variants (each checked against lavaan 0.6.14 in
tests/test_multigroup_robust.py):

- ``estimator="MLM"``: Satorra-Bentler sandwich and scaled test over the groups (:func:`_mlm`);
- ``estimator="MLR"``: Huber-White SEs and the Yuan-Bentler (Mplus) scaled test (:func:`_mlr`),
  with complete data or FIML;
- ``missing="fiml"``: each group's casewise likelihood (:func:`_fiml_minimize`), SEs from the
  observed information, chi2 against each group's EM saturated model.
  Scaled RMSEA and its CI carry lavaan's ``sqrt(G)``. lavaan's FIML-corrected robust RMSEA
  (``rmsea.robust`` with missing data) is not computed (NaN), as in the one-group FIML.

Not supported (refused with one line): ``:=`` rows, constraints other than equalities of
two labels, MLR or FIML with fixed covariates.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ..exceptions import ConvergenceWarning, DataError, OptionError, SingularInformationWarning, SpecError
from . import fitindices as fitidx
from . import fiml, ml, mlr, robust
from .matrices import Matrices, ParamMap, param_map_from_table, simple_equalities, start_values, table_rows

__all__ = ["MultiGroupFit", "fit_multigroup", "group_labels", "MG_PARAM_COLUMNS"]

MG_PARAM_COLUMNS = ["lhs", "op", "rhs", "group", "label", "est", "se", "z", "pvalue", "ci_lower", "ci_upper",
                    "std_lv", "std_all"]

_PARAM_OPS = ("=~", "~", "~~", "~1")


class _GroupTable:
    """One group's block of a multiple-group table, seen as a one-group table (``group`` 1,
    no constraint rows) so that the one-group engine reads it."""

    def __init__(self, pt: Any, g: int):
        df = pt.df
        df = df[(df["op"].isin(_PARAM_OPS)) & (df["group"].astype(int) == g)].copy()
        df["group"] = 1
        self._df = df
        self.ov, self.lv = list(pt.ov), list(pt.lv)
        self.meanstructure = pt.meanstructure
        self.ov_x = list(getattr(pt, "ov_x", []) or [])
        self._names = getattr(pt, "_names", None)
        self.options = dict(getattr(pt, "options", {}))
        self.npar = 0

    @property
    def df(self) -> pd.DataFrame:
        return self._df.copy()


def group_labels(values: pd.Series) -> list[str]:
    """The group labels in lavaan's order: ``unique()`` of the column (first appearance),
    missing values left out, as strings (integral floats without ``.0``)."""
    out: list[str] = []
    for v in values.dropna().unique():
        out.append(_label(v))
    seen: list[str] = []
    for v in out:
        if v not in seen:
            seen.append(v)
    return seen


def _label(v: Any) -> str:
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


@dataclass(frozen=True)
class MultiGroupFit:
    """Results of a multiple-group ML fit (:func:`fit_multigroup`); nothing here refits.

    Attributes
    ----------
    params : DataFrame
        lavaan's ``parameterEstimates()`` of a multiple-group fit: the table's ``=~ ~ ~~ ~1``
        rows in its order (group 1's block, then group 2's, ...), columns
        ``MG_PARAM_COLUMNS`` (``group`` is 1..G; ``label`` is the table's label, lavaan's
        ``.pN.`` plabels for ``group.equal`` rows); fixed rows have SE NaN (lavaan: 0).
    fit_indices : dict
        As :attr:`FitResults.fit_indices` (lavaan's multiple-group formulas, see the module).
    group_labels : list of str
        The group values in lavaan's order (first appearance in the data).
    group : str
        The group column.
    n_per_group : list of int
        Complete cases per group.
    matrices : list of Matrices
        Each group's estimated matrices.
    param_maps : list of ParamMap
        Each group's layout; ``theta[index[g]]`` is group ``g``'s local parameter vector.
    index : list of ndarray
    start : ndarray
        The global estimate vector.
    vcov : ndarray
        Its covariance (inverse expected information / N).
    converged : bool
    partable : ParTable
    data : DataFrame
        The fitted cases (the model's columns and the group column).
    n_dropped : int
    """

    params: pd.DataFrame
    fit_indices: dict[str, float]
    group_labels: list[str]
    group: str
    n_per_group: list[int]
    matrices: list[Matrices] = field(repr=False)
    param_maps: list[ParamMap] = field(repr=False)
    index: list[np.ndarray] = field(repr=False)
    start: np.ndarray = field(repr=False)
    vcov: np.ndarray = field(repr=False)
    converged: bool = True
    partable: Any = field(default=None, repr=False)
    data: pd.DataFrame | None = field(default=None, repr=False)
    n_dropped: int = 0
    group_equal: tuple[str, ...] = ()
    group_partial: tuple[str, ...] = ()
    estimator: str = "ML"
    missing: str = "listwise"

    @property
    def n(self) -> int:
        return int(sum(self.n_per_group))

    @property
    def ngroups(self) -> int:
        return len(self.group_labels)

    def modindices(self, minimum: float = 0.0, sort: bool = True) -> pd.DataFrame:
        """lavaan's ``modindices()`` of the multiple-group fit (per group; equality
        constraints kept): :func:`smsem.estimate.multigroup_mi.multigroup_modindices`."""
        from .multigroup_mi import multigroup_modindices

        return multigroup_modindices(self, minimum=minimum, sort=sort)

    def __str__(self) -> str:
        from ..report.multigroup import render_multigroup_fit

        return render_multigroup_fit(self)


def _union_params(pt: Any, views: list[_GroupTable], pms: list[ParamMap]) -> tuple[list[np.ndarray], int, list[int]]:
    """Global parameter index of every group's local parameters (shared labels, plabels and
    simple ``==`` rows across groups joined). Returns (index per group, n_global, exo)."""
    rows = [r for r in table_rows(pt) if r["op"] in _PARAM_OPS]
    from scipy.cluster.hierarchy import DisjointSet

    sets = DisjointSet((g, k) for g, pm in enumerate(pms) for k in range(pm.n_free))  # (group, local k)
    union, find = sets.merge, sets.__getitem__
    by_name: dict[str, tuple[int, int]] = {}
    exo_keys = set()
    for r in rows:
        g = r["group"] - 1
        key = (r["lhs"], r["op"], r["rhs"])
        k = pms[g].aliases.get(key)
        if k is None:
            continue
        if r["exo"] == 1:
            exo_keys.add((g, k))
            continue
        for nm in (r["plabel"], r["label"]):
            if not nm:
                continue
            if nm in by_name:
                union((g, k), by_name[nm])
            else:
                by_name[nm] = (g, k)
    for c in simple_equalities(pt):
        union(by_name[c["lhs"].strip()], by_name[c["rhs"].strip()])
    roots: dict[tuple[int, int], int] = {}
    index = []
    exo = []
    for g, pm in enumerate(pms):
        idx = np.empty(pm.n_free, dtype=np.intp)
        for k in range(pm.n_free):
            root = find((g, k))
            if root not in roots:
                roots[root] = len(roots)
                if (g, k) in exo_keys:
                    exo.append(roots[root])
            idx[k] = roots[root]
        index.append(idx)
    return index, len(roots), exo


class _Problem:
    """The summed objective, gradient and information over groups."""

    def __init__(self, pms, index, n_glob, moments, ns):
        self.pms, self.index, self.n_glob = pms, index, n_glob
        self.moments, self.ns = moments, np.asarray(ns, float)
        self.w = self.ns / self.ns.sum()

    def parts(self, theta: np.ndarray, need_info: bool = False):
        f = 0.0
        grad = np.zeros(self.n_glob)
        info = np.zeros((self.n_glob, self.n_glob)) if need_info else None
        for pm, idx, (xbar, s), w in zip(self.pms, self.index, self.moments, self.w):
            th = theta[idx]
            mx = pm.matrices_at(th)
            sigma = mx.implied_cov
            mu = mx.implied_mean if pm.meanstructure else None
            try:
                fg = ml.f_ml_means(s, xbar if mu is not None else None, sigma, mu)
            except np.linalg.LinAlgError:
                fg = np.inf
            if not np.isfinite(fg):
                return np.inf, grad, info
            jac = ml.sigma_jacobian(pm, th)
            mjac = ml.mean_jacobian(pm, th) if pm.meanstructure else None
            gg = ml.ml_gradient_means(jac, mjac, s, xbar, sigma, mu)
            f += w * fg
            np.add.at(grad, idx, w * gg)
            if need_info:
                ig = _expected_info(jac, mjac if pm.meanstructure else None, sigma)
                np.add.at(info, (idx[:, None], idx[None, :]), w * ig)
        return f, grad, info


def _expected_info(jac: np.ndarray, mjac: np.ndarray | None, sigma: np.ndarray) -> np.ndarray:
    """:func:`smsem.estimate.ml.expected_information_means` (or without the mean part)
    written as one matrix product ``0.5 vec(S^-1 dS_k)' vec(dS_l S^-1)`` instead of an
    einsum: ~8x faster on one thread for the integrative model (k = 75, p = 22)."""
    k = jac.shape[0]
    si = np.linalg.inv(sigma)
    a = np.matmul(si, jac)
    info = 0.5 * (a.reshape(k, -1) @ a.transpose(0, 2, 1).reshape(k, -1).T)
    if mjac is not None:
        info = info + mjac @ si @ mjac.T
    return info


def _fisher(prob: _Problem, theta: np.ndarray, max_iter: int = 300, tol: float = 1e-10) -> tuple[np.ndarray, bool]:
    theta = theta.copy()
    f_old, grad, info = prob.parts(theta, True)
    if not np.isfinite(f_old):
        return theta, False
    for _ in range(max_iter):
        try:
            step = -np.linalg.solve(2 * info, grad)
        except np.linalg.LinAlgError:
            return theta, False
        t = 1.0
        while t > 1e-8:
            cand = theta + t * step
            f_new, g_new, i_new = prob.parts(cand, True)
            if np.isfinite(f_new) and f_new <= f_old + 1e-12:
                break
            t /= 2
        else:
            return theta, bool(np.max(np.abs(grad)) < 1e-8)
        theta, f_old, grad, info = cand, f_new, g_new, i_new
        if np.max(np.abs(t * step) / np.maximum(1.0, np.abs(theta))) < tol and np.max(np.abs(grad)) < 1e-6:
            return theta, True
    return theta, False


def _minimize(prob: _Problem, start: np.ndarray) -> tuple[np.ndarray, bool]:
    theta, ok = _fisher(prob, start)
    if ok:
        return theta, True
    from scipy import optimize

    def fun(th):
        f, g, _ = prob.parts(th)
        return (1e10, np.zeros_like(th)) if not np.isfinite(f) else (f, g)

    res = optimize.minimize(fun, start, jac=True, method="L-BFGS-B",
                            options={"maxiter": 10000, "maxfun": 20000, "ftol": 1e-14, "gtol": 1e-9})
    theta2, ok2 = _fisher(prob, res.x)
    if ok2 or fun(theta2)[0] < fun(theta)[0]:
        return theta2, ok2
    return theta, ok


def check_groups(data: pd.DataFrame, group: str) -> list[str]:
    """Validate the group column; its labels in lavaan's order. DataError with one line."""
    if group not in data.columns:
        raise DataError(f"the group column {group!r} is not in the data (columns: {', '.join(map(str, data.columns))})")
    labels = group_labels(data[group])
    if len(labels) < 2:
        raise DataError(f"the group column {group!r} has {len(labels)} level(s) "
                        f"({', '.join(labels) or 'all missing'}); a multiple-group model needs at least 2")
    return labels


def fit_multigroup(model: Any, data: pd.DataFrame, group: str, *, group_equal: Sequence[str] = (),
                   group_partial: Sequence[str] = (), estimator: str = "ML", missing: str = "listwise",
                   level: float = 0.95, evaluate_at: pd.DataFrame | None = None,
                   **table_options: Any) -> MultiGroupFit:
    # One BLAS thread: the matrices are small (p ~ 10-30), and on a loaded machine
    # multithreaded BLAS spins (measured: the integrative model's configural fit 8.5 s with
    # the default threads at load 13 on 2 cores, 0.7 s with one), besides giving the same
    # bits whatever the machine.
    from .._threads import single_thread

    with single_thread():
        return _fit_multigroup(model, data, group, group_equal=group_equal, group_partial=group_partial,
                               estimator=estimator, missing=missing, level=level, evaluate_at=evaluate_at,
                               **table_options)


def _fit_multigroup(model: Any, data: pd.DataFrame, group: str, *, group_equal: Sequence[str] = (),
                    group_partial: Sequence[str] = (), estimator: str = "ML", missing: str = "listwise",
                    level: float = 0.95, evaluate_at: pd.DataFrame | None = None,
                    **table_options: Any) -> MultiGroupFit:
    """Fit ``model`` in every group of ``data[group]`` by ML, as lavaan's
    ``sem(model, data, group = group, group.equal = ..., group.partial = ...)``.

    ``evaluate_at`` (a :attr:`MultiGroupFit.params` table of a nested, more restricted fit):
    no estimation, every quantity is evaluated at those estimates (lavaan's ``M10`` model of
    the Satorra-Bentler 2010 difference test, ``lav_test_diff_m10``).

    Raises
    ------
    OptionError
        An estimator other than ML, MLM, MLR; MLM with FIML.
    DataError
        The group column is absent or has one level; a group has too few complete cases.
    SpecError
        ``:=`` rows or constraints other than equalities of labels (not supported yet).
    """
    est = str(estimator).upper()
    if est not in ("ML", "MLM", "MLR"):
        raise OptionError(f"--group with --estimator {estimator} is not supported (ML, MLM, MLR)")
    if missing not in ("listwise", "fiml"):
        raise OptionError(f"unknown missing-data option {missing!r} (listwise or fiml)")
    fiml_ = missing == "fiml"
    if fiml_ and est == "MLM":
        raise OptionError("missing='fiml' supports estimators 'ML' and 'MLR' (lavaan's robust FIML), not 'MLM', "
                          "which needs complete data")
    labels = check_groups(data, group)
    ge, gp = _as_list(group_equal), _as_list(group_partial)
    opts = dict(table_options)
    opts.update(ngroups=len(labels), group_equal=tuple(ge), group_partial=tuple(gp))
    if fiml_:
        opts["missing"] = "fiml"
    if callable(getattr(model, "table", None)):
        try:
            pt = model.table(**opts)
        except TypeError as exc:
            raise OptionError(f"unknown model option: {exc}") from None
    else:
        from ..model.partable import lavaanify

        pt = lavaanify(model, **opts)
    tr = table_rows(pt)
    if any(r["op"] == ":=" for r in tr):
        raise SpecError("defined parameters (:=) are not supported yet with --group")
    simple = {r["id"] for r in simple_equalities(pt)}
    other = [r for r in tr if r["op"] in ("==", "<", ">") and r["id"] not in simple]
    if other:
        r = other[0]
        raise SpecError(f"constraint {r['lhs']} {r['op']} {r['rhs']} is not supported yet with --group")
    from .results import _table_columns

    x = _table_columns(pt, data)
    ov = list(x.columns)
    gcol = data[group]
    keep = (x.notna().any(axis=1) if fiml_ else x.notna().all(axis=1)) & gcol.notna()
    dropped = int((~keep).sum())
    if dropped:
        what = "with every item missing or no group" if fiml_ else "with missing values"
        warnings.warn(f"{dropped} row(s) {what} were dropped" + ("" if fiml_ else " (listwise deletion)"),
                      stacklevel=3)
    if fiml_ and list(getattr(pt, "ov_x", []) or []):
        raise SpecError("missing='fiml' with fixed covariates (fixed.x) is not supported yet with --group")
    x, gcol = x[keep].reset_index(drop=True), gcol[keep].reset_index(drop=True).map(_label)
    views = [_GroupTable(pt, g + 1) for g in range(len(labels))]
    pms = [param_map_from_table(v) for v in views]
    p = len(ov)
    xs, moments, ns = [], [], []
    for lab, pm in zip(labels, pms):
        xg = x[gcol == lab].to_numpy(dtype=float)
        if len(xg) <= p:
            raise DataError(f"group {lab!r} of {group!r} has {len(xg)} {'usable' if fiml_ else 'complete'} row(s) "
                            f"for {p} observed variables; at least {p + 1} are needed")
        if fiml_:
            pat = fiml.Patterns.from_data(xg)
            mu_em, s_em, _, _ = fiml.em_saturated(xg, pat)
            xbar, s = mu_em, s_em
            sd = np.nanstd(xg, axis=0)
            if np.any(~(sd > 0)):
                const = [v for v, d in zip(ov, sd) if not d > 0]
                raise DataError(f"item {const[0]} is constant (or missing) in group {lab!r} of {group!r}")
        else:
            xbar, s = ml.sample_moments(xg)
        if np.any(np.diag(s) <= 0):
            const = [v for v, d in zip(ov, np.diag(s)) if d <= 0]
            raise DataError(f"item {const[0]} is constant in group {lab!r} of {group!r}")
        xs.append(xg)
        moments.append((xbar, s))
        ns.append(len(xg))
    index, n_glob, exo = _union_params(pt, views, pms)
    start = np.full(n_glob, np.nan)
    for v, pm, idx, (xbar, s) in zip(views, pms, index, moments):
        st = _indicator_starts(v, pm, start_values(v, pm, xbar, s), s)
        for k, j in enumerate(idx):
            if not np.isfinite(start[j]):
                start[j] = st[k]
    prob = _Problem(pms, index, n_glob, [(m if pm.meanstructure else None, s) for (m, s), pm in zip(moments, pms)],
                    ns)
    if not np.isfinite(prob.parts(start)[0]):
        # lavaan's simple start (latent variances 0.05) can make Sigma indefinite next to a
        # fixed latent covariance (e.g. ``c(0.5, NA)*``): start the latent variances at 1.
        lvs = set(pt.lv)
        for pm, idx in zip(pms, index):
            for k, (lhs, op, rhs) in enumerate(pm.names):
                if op == "~~" and lhs == rhs and lhs in lvs:
                    start[idx[k]] = 1.0
    n_tot = int(sum(ns))
    if evaluate_at is not None:
        theta, ok = _theta_at(evaluate_at, pms, index, n_glob), True
    else:
        theta, ok = _minimize(prob, start)
    if fiml_ and evaluate_at is not None:
        pats = [fiml.Patterns.from_data(xg) for xg in xs]
        ok, hess = True, _fiml_hessian(pms, index, n_glob, pats, ns, theta)
    elif fiml_:
        theta, ok, hess = _fiml_minimize(pms, index, n_glob, xs, ns, theta)
    if not ok:
        warnings.warn(f"the multiple-group {'FIML' if fiml_ else 'ML'} fit did not converge; estimates may be "
                      "unreliable", ConvergenceWarning, stacklevel=3)
    if fiml_:
        info = hess
    else:
        f, _, info = prob.parts(theta, True)
    try:
        vcov = np.linalg.inv(info) / n_tot
    except np.linalg.LinAlgError:
        warnings.warn("the information matrix is singular: standard errors are unavailable (NaN); the model "
                      "may be empirically under-identified", SingularInformationWarning, stacklevel=3)
        vcov = np.full_like(info, np.nan)
    if fiml_:
        ind = _fiml_indices(pt, pms, index, theta, xs, moments, ns, exo, n_glob)
    else:
        ind = _indices(pt, pms, index, theta, xs, moments, ns, exo, n_glob)
    if est == "MLM":
        vcov = _mlm(pt, pms, index, theta, xs, ns, n_glob, ind)
    elif est == "MLR":
        vcov = _mlr(pt, pms, index, theta, xs, moments, ns, n_glob, ind, info, fiml_)
    from .results import _table_params

    blocks = []
    for g, (v, pm, idx) in enumerate(zip(views, pms, index)):
        vg = vcov[np.ix_(idx, idx)]
        b = _table_params(pm, v, theta[idx], vg, level)
        b.insert(3, "group", g + 1)
        blocks.append(b)
    params = pd.concat(blocks, ignore_index=True)[MG_PARAM_COLUMNS]
    mats = [pm.matrices_at(theta[idx]) for pm, idx in zip(pms, index)]
    from ..exceptions import HeywoodWarning
    from .admissibility import free_cells, inadmissibility

    for lab, pm, mx in zip(labels, pms, mats):
        for problem in inadmissibility(mx, free_cells=free_cells(pm)):
            if "variance" in problem:
                warnings.warn(f"group {lab!r}: {problem}: the solution is inadmissible", HeywoodWarning, stacklevel=3)
    fitted = x.copy()
    fitted[group] = gcol
    return MultiGroupFit(params, ind, labels, group, ns, mats, pms, index, theta.copy(), vcov, bool(ok), pt,
                         fitted, dropped, tuple(ge), tuple(gp), est, missing)


def _indicator_starts(view: _GroupTable, pm: ParamMap, st: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Data-based starts for the free loadings of a factor with a marker (fixed loading)
    and observed indicators: ``lambda_j = median_k s_jk / s_mk`` over the factor's other
    indicators ``k`` (the three-indicator ratio), the factor variance ``median_j s_mj /
    lambda_j``. lavaan's simple start (all loadings 1) leaves Fisher scoring in a region of
    indefinite Sigma when a marker is reverse-keyed (psych::bfi's A1), so that the fit
    needs thousands of iterations; this start does not change the optimum. User starts
    (``start()``, fixed values) are kept."""
    st = st.copy()
    obs = {v: i for i, v in enumerate(pm.base.observed)}
    rows = [r for r in table_rows(view) if r["op"] == "=~"]
    user = {(r["lhs"], r["rhs"]) for r in rows if np.isfinite(r["start"]) or (r["free"] > 0 and np.isfinite(r["ustart"]))}
    by_f: dict[str, list] = {}
    for r in rows:
        by_f.setdefault(r["lhs"], []).append(r)
    for f, rs in by_f.items():
        if any(r["rhs"] not in obs for r in rs):
            continue
        markers = [r for r in rs if r["free"] <= 0 and np.isfinite(r["ustart"]) and r["ustart"] != 0]
        if not markers or len(rs) < 3:
            continue
        mk = obs[markers[0]["rhs"]]
        scale = float(markers[0]["ustart"])
        lam = {}
        for r in rs:
            if r["free"] <= 0 or (f, r["rhs"]) in user:
                continue
            j = obs[r["rhs"]]
            ratios = [s[j, obs[q["rhs"]]] / s[mk, obs[q["rhs"]]] for q in rs
                      if q["rhs"] not in (r["rhs"], markers[0]["rhs"]) and abs(s[mk, obs[q["rhs"]]]) > 1e-8]
            if ratios and np.isfinite(np.median(ratios)):
                lam[r["rhs"]] = float(np.median(ratios)) * scale
                k = pm.aliases.get((f, "=~", r["rhs"]))
                if k is not None:
                    st[k] = lam[r["rhs"]]
        k = pm.aliases.get((f, "~~", f))
        vals = [s[mk, obs[v]] / (scale * l) for v, l in lam.items() if abs(l) > 1e-8]
        if k is not None and vals and (f, "~~", f) not in {(r["lhs"], r["op"], r["rhs"]) for r in table_rows(view)
                                                            if r["op"] == "~~" and np.isfinite(r["start"])}:
            psi = float(np.median(vals))
            if np.isfinite(psi) and psi > 0.05:
                st[k] = psi
    return st


def _theta_at(params: pd.DataFrame, pms, index, n_glob) -> np.ndarray:
    """The global vector at the estimates of another fit's ``params`` (same groups and
    variables; rows matched by lhs, op, rhs and group)."""
    est = {(r.lhs, r.op, r.rhs, int(r.group)): float(r.est) for r in params.itertuples()}
    theta = np.full(n_glob, np.nan)
    for g, (pm, idx) in enumerate(zip(pms, index)):
        for k, (lhs, op, rhs) in enumerate(pm.names):
            v = est.get((lhs, op, rhs, g + 1))
            if v is None:
                raise SpecError(f"{lhs} {op} {rhs} (group {g + 1}) is not in the table to evaluate at")
            theta[idx[k]] = v
    return theta


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    return [str(s).strip() for s in v if str(s).strip()]


def _indices(pt, pms, index, theta, xs, moments, ns, exo, n_glob) -> dict[str, float]:
    n_tot = int(sum(ns))
    G = len(ns)
    chi2 = chi2_b = logl = logl_h1 = srmr_w = 0.0
    ov_x = list(getattr(pt, "ov_x", []) or [])
    names = getattr(pt, "_names", None)
    base_names = list(getattr(names, "ov_x", ov_x)) if names is not None else ov_x
    obs = list(pms[0].base.observed)
    fixed_x = fitidx.fixed_x_index(obs, ov_x)
    base_x = fitidx.fixed_x_index(obs, [v for v in base_names if v in obs])
    p = len(obs)
    for pm, idx, xg, (xbar, s), n in zip(pms, index, xs, moments, ns):
        mx = pm.matrices_at(theta[idx])
        sigma = mx.implied_cov
        mu = mx.implied_mean if pm.meanstructure else None
        chi2 += n * ml.f_ml_means(s, xbar if mu is not None else None, sigma, mu)
        chi2_b += n * float(fitidx.baseline_fmin(s, base_x))
        lg = ml.loglik_normal(s, sigma, n)
        if mu is not None:
            d = xbar - mu
            lg -= n / 2 * float(d @ np.linalg.solve(sigma, d))
        from .results import _x_loglik

        lx = _x_loglik(xg, fixed_x)
        logl += lg - lx
        logl_h1 += ml.loglik_normal(s, s, n) - lx
        sr = fitidx.srmr(s, sigma, xbar, mu) if mu is not None else fitidx.srmr(s, sigma)
        srmr_w += n * sr
    df = float(pt.df_model)
    df_b = G * fitidx.baseline_df(p, len(base_x))
    npar = n_glob - len(exo)
    lo, hi = fitidx.rmsea_ci(chi2, df, n_tot)
    sg = math.sqrt(G)
    out = {
        "chi2": chi2,
        "df": df,
        "pvalue": float(stats.chi2.sf(chi2, df)) if df > 0 else float("nan"),
        "baseline_chi2": chi2_b,
        "baseline_df": df_b,
        "cfi": fitidx.cfi(chi2, df, chi2_b, df_b),
        "tli": fitidx.tli(chi2, df, chi2_b, df_b),
        "rmsea": fitidx.rmsea(chi2, df, n_tot) * sg,
        "rmsea_ci_lower": lo * sg,
        "rmsea_ci_upper": hi * sg,
        "rmsea_pvalue": fitidx.rmsea_pvalue(chi2, df, n_tot, h0=0.05 / sg),
        "srmr": srmr_w / n_tot,
        "logl": logl,
        "unrestricted_logl": logl_h1,
        "npar": float(npar),
        "ntotal": float(n_tot),
        "fmin": chi2 / (2 * n_tot),
    }
    out.update(fitidx.information_criteria(logl, npar, n_tot))
    return out



# --------------------------------------------------------------------------- FIML


def _fiml_negll(pms, index, n_glob, pats, ns):
    """``theta -> (-loglik / N, gradient)`` summed over groups (each group's casewise
    likelihood, :func:`smsem.estimate.fiml.negloglik`, weighted by ``n_g / N``)."""
    w = np.asarray(ns, float) / float(sum(ns))
    parts = [fiml.negloglik(pm, pat) for pm, pat in zip(pms, pats)]

    def negll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        f = 0.0
        grad = np.zeros(n_glob)
        for part, idx, wg in zip(parts, index, w):
            fg, gg = part(theta[idx])
            if not np.isfinite(fg):
                return np.inf, grad
            f += wg * fg
            np.add.at(grad, idx, wg * gg)
        return f, grad

    return negll


def _fiml_hessian(pms, index, n_glob, pats, ns, theta) -> np.ndarray:
    """Observed information per case, ``sum_g f_g H_g`` with each group's Hessian of its own
    ``-loglik / n_g`` (central differences of the analytic gradient over the group's
    parameters only: half the gradient evaluations of differencing the global vector)."""
    w = np.asarray(ns, float) / float(sum(ns))
    h = np.zeros((n_glob, n_glob))
    for pm, pat, idx, wg in zip(pms, pats, index, w):
        h[np.ix_(idx, idx)] += wg * fiml.observed_information(pm, pat, theta[idx])
    return h


def _fiml_minimize(pms, index, n_glob, xs, ns, start):
    """FIML over all groups from the ML fit to the groups' EM moments: Newton steps on the
    observed information (refreshed only after a large step or a failed line search, as the
    one-group FIML's refinement), L-BFGS-B first if that does not converge. Returns
    (theta, converged, observed information per case at theta)."""
    pats = [fiml.Patterns.from_data(x) for x in xs]
    negll = _fiml_negll(pms, index, n_glob, pats, ns)

    def newton(z):
        f, g = negll(z)
        if not np.isfinite(f):
            return z, False
        hess, fresh = _fiml_hessian(pms, index, n_glob, pats, ns, z), True
        for _ in range(100):
            try:
                step = -np.linalg.solve(hess, g)
            except np.linalg.LinAlgError:
                return z, False
            t = 1.0
            while t > 1e-6:
                f2, g2 = negll(z + t * step)
                if f2 <= f + 1e-14 * max(1.0, abs(f)):
                    break
                t /= 2
            else:
                if fresh:
                    return z, bool(np.max(np.abs(g)) < 1e-9)
                hess, fresh = _fiml_hessian(pms, index, n_glob, pats, ns, z), True
                continue
            z, f, g = z + t * step, f2, g2
            if np.max(np.abs(t * step)) < 1e-9:
                return z, True
            if t < 1 or np.max(np.abs(step)) > 1e-3:
                hess, fresh = _fiml_hessian(pms, index, n_glob, pats, ns, z), True
            else:
                fresh = False
        return z, False

    theta, ok = newton(np.asarray(start, float).copy())
    if not ok:
        from scipy import optimize

        res = optimize.minimize(lambda t: (1e10, np.zeros_like(t)) if not np.isfinite(negll(t)[0]) else negll(t),
                                start, jac=True, method="L-BFGS-B",
                                options={"maxiter": 5000, "ftol": 1e-15, "gtol": 1e-9})
        theta, ok = newton(res.x)
    return theta, ok, _fiml_hessian(pms, index, n_glob, pats, ns, theta)


def _fiml_indices(pt, pms, index, theta, xs, moments, ns, exo, n_glob) -> dict[str, float]:
    """Fit indices of a multiple-group FIML fit (lavaan's ``missing = "ml"``): chi2 is twice
    the summed log-likelihood difference from each group's EM saturated model, the
    baseline each group's independence model; SRMR from the EM moments."""
    n_tot = int(sum(ns))
    G = len(ns)
    p = xs[0].shape[1]
    logl = logl_h1 = logl_b = srmr_w = 0.0
    for pm, idx, xg, (mu_em, s_em), n in zip(pms, index, xs, moments, ns):
        pat = fiml.Patterns.from_data(xg)
        mx = pm.matrices_at(theta[idx])
        logl += fiml.fiml_loglik(pat, mx.implied_mean, mx.implied_cov)
        logl_h1 += fiml.em_saturated(xg, pat)[2]
        logl_b += fiml.baseline_loglik(xg, [])
        srmr_w += n * fitidx.srmr(s_em, mx.implied_cov, mu_em, mx.implied_mean)
    chi2 = 2 * (logl_h1 - logl)
    chi2_b = 2 * (logl_h1 - logl_b)
    df = float(pt.df_model)
    df_b = G * fitidx.baseline_df(p, 0)
    npar = n_glob - len(exo)
    return _assemble(chi2, df, chi2_b, df_b, n_tot, G, srmr_w / n_tot, logl, logl_h1, npar)


def _assemble(chi2, df, chi2_b, df_b, n_tot, G, srmr, logl, logl_h1, npar) -> dict[str, float]:
    lo, hi = fitidx.rmsea_ci(chi2, df, n_tot)
    sg = math.sqrt(G)
    out = {
        "chi2": chi2, "df": df, "pvalue": float(stats.chi2.sf(chi2, df)) if df > 0 else float("nan"),
        "baseline_chi2": chi2_b, "baseline_df": df_b,
        "cfi": fitidx.cfi(chi2, df, chi2_b, df_b), "tli": fitidx.tli(chi2, df, chi2_b, df_b),
        "rmsea": fitidx.rmsea(chi2, df, n_tot) * sg, "rmsea_ci_lower": lo * sg, "rmsea_ci_upper": hi * sg,
        "rmsea_pvalue": fitidx.rmsea_pvalue(chi2, df, n_tot, h0=0.05 / sg),
        "srmr": srmr, "logl": logl, "unrestricted_logl": logl_h1, "npar": float(npar), "ntotal": float(n_tot),
        "fmin": chi2 / (2 * n_tot),
    }
    out.update(fitidx.information_criteria(logl, npar, n_tot))
    return out


# --------------------------------------------------------------------------- robust


def _global(local: np.ndarray, idx: np.ndarray, n_glob: int) -> np.ndarray:
    """Columns of a local Jacobian (rows x local parameters) moved to the global vector."""
    out = np.zeros((local.shape[0], n_glob))
    np.add.at(out, (slice(None), idx), local)
    return out


def _scaled(ind: dict, c: float, c_b: float, G: int, robust_rmsea: bool) -> None:
    """lavaan's scaled (and robust) indices of a multiple-group fit: the one-group formulas
    (:func:`smsem.estimate.results._scaled_indices`) with RMSEA and its CI times sqrt(G)
    and the close-fit null 0.05 / sqrt(G) (lav_fit_rmsea.R)."""
    from .results import _robust_rmsea, _scaled_indices

    chi2, df, n = ind["chi2"], ind["df"], int(ind["ntotal"])
    sc = _scaled_indices(chi2, df, c, ind["baseline_chi2"], ind["baseline_df"], c_b, n)
    sg = math.sqrt(G)
    for k in ("rmsea_scaled", "rmsea_ci_lower_scaled", "rmsea_ci_upper_scaled"):
        sc[k] *= sg
    sc["rmsea_pvalue_scaled"] = fitidx.rmsea_pvalue(chi2, c * df, n, h0=0.05 / sg)
    ind.update(sc)
    if robust_rmsea:
        rr = _robust_rmsea(chi2, df, c, n)
        ind.update({k: v * sg for k, v in rr.items()})
        # lavaan's cfi.robust / tli.robust (Brosseau-Savalei 2012), complete data:
        # the noncentralities chi2 - c df of the model and of the baseline.
        t1, t_b = chi2 - c * df, ind["baseline_chi2"] - c_b * ind["baseline_df"]
        ind["cfi_robust"] = 1.0 - max(t1, 0.0) / max(t_b, t1, 0.0) if max(t_b, t1, 0.0) > 0 else 1.0
        ind["tli_robust"] = 1.0 - (t1 / df) / (t_b / ind["baseline_df"]) if t_b != 0 else float("nan")


def _mlm(pt, pms, index, theta, xs, ns, n_glob, ind) -> np.ndarray:
    """MLM with groups (lavaan's ``estimator = "MLM"``): the sandwich
    ``A^-1 (sum_g f_g D_g' W_g Gamma_g W_g D_g) A^-1 / N`` with ``A = sum_g f_g D_g' W_g D_g``
    (``f_g = n_g / N``, ``D_g`` group g's moment Jacobian in the global parameters), and the
    Satorra-Bentler trace ``sum_g tr[(W_g - f_g W_g D_g A^-1 D_g' W_g) Gamma_g]``
    (lav_test_satorra_bentler.R: ``Gamma_g / f_g`` against ``f_g W_g``)."""
    n_tot = float(sum(ns))
    w = np.asarray(ns, float) / n_tot
    obs = list(pms[0].base.observed)
    fixed_x = fitidx.fixed_x_index(obs, list(getattr(pt, "ov_x", []) or []))
    names = getattr(pt, "_names", None)
    base_names = list(getattr(names, "ov_x", getattr(pt, "ov_x", []) or [])) if names is not None else \
        list(getattr(pt, "ov_x", []) or [])
    base_x = fitidx.fixed_x_index(obs, [v for v in base_names if v in obs])
    parts = []
    a = np.zeros((n_glob, n_glob))
    for pm, idx, x, wg in zip(pms, index, xs, w):
        th = theta[idx]
        mx = pm.matrices_at(th)
        sigma = mx.implied_cov
        p = sigma.shape[0]
        delta = ml.vech(ml.sigma_jacobian(pm, th)).T
        wm = ml.weight_matrix(sigma)
        if pm.meanstructure:
            gamma = robust.gamma_adf_fixed_x(x, fixed_x, meanstructure=True)
            delta = np.concatenate([ml.mean_jacobian(pm, th).T, delta], axis=0)
            q = wm.shape[0]
            wf = np.zeros((p + q, p + q))
            wf[:p, :p] = np.linalg.inv(sigma)
            wf[p:, p:] = wm
            wm = wf
        else:
            gamma = robust.gamma_adf_fixed_x(x, fixed_x) if len(fixed_x) else robust.gamma_adf(x)
        dg = _global(delta, idx, n_glob)
        a += wg * dg.T @ wm @ dg
        parts.append((dg, wm, gamma, wg, x))
    try:
        a_inv = np.linalg.inv(a)
    except np.linalg.LinAlgError:
        return np.full((n_glob, n_glob), np.nan)
    b = sum(wg * dg.T @ wm @ gamma @ wm @ dg for dg, wm, gamma, wg, _ in parts)
    vcov = a_inv @ b @ a_inv / n_tot
    df = ind["df"]
    if df > 0:
        tr = 0.0
        tr_b = 0.0
        for dg, wm, gamma, wg, x in parts:
            wd = wm @ dg
            u = wm - wg * wd @ a_inv @ wd.T
            tr += float(np.sum(u * gamma))
            _, s = ml.sample_moments(x)
            p = s.shape[0]
            g_cov = robust.gamma_adf_fixed_x(x, fixed_x) if len(fixed_x) else robust.gamma_adf(x)
            df_bg = p * (p - 1) / 2 - len(base_x) * (len(base_x) - 1) / 2
            tr_b += robust.baseline_scaling(s, g_cov, base_x) * df_bg
        _scaled(ind, tr / df, tr_b / ind["baseline_df"], len(ns), robust_rmsea=True)
    return vcov


_TRACES: dict = {}


def _data_traces(x, pat, mu, sigma, means: bool, fiml_: bool) -> tuple[float, float]:
    """``tr(A1^-1 B1)`` of the saturated model and the baseline model's ``tr(A0^-1 B0)``:
    they depend on the group's data only, so they are cached by its bytes (the invariance
    sequence fits the same groups 4-8 times). With complete data ``A1`` is the saturated
    model's information at the sample moments, where observed equals expected:
    ``blockdiag(S^-1, 0.5 D'(S^-1 kron S^-1) D)`` (no numerical Hessian; equal to
    :func:`smsem.estimate.mlr.h1_trace` to 1e-9 relative on the integrative data)."""
    import hashlib

    key = (hashlib.sha1(np.ascontiguousarray(x).tobytes()).hexdigest(), x.shape, means, fiml_)
    hit = _TRACES.get(key)
    if hit is not None:
        return hit
    if fiml_:
        h1 = mlr.h1_trace(x, pat, mu, sigma, means=means)
    else:
        p = x.shape[1]
        sc = mlr._saturated_scores(x, mu, sigma)
        a1 = np.zeros((sc.shape[1], sc.shape[1]))
        a1[:p, :p] = np.linalg.inv(sigma)
        a1[p:, p:] = ml.weight_matrix(sigma)
        keep = slice(None) if means else slice(p, None)
        a1, sc = a1[keep, keep], sc[:, keep]
        h1 = float(np.sum(np.linalg.inv(a1) * (sc.T @ sc / len(x)).T))
    mu_b, sig_b = fiml.baseline_moments(x, [])
    hb = mlr.baseline_h0_trace(x, pat, mu_b, sig_b, np.array([], dtype=int), means=means)
    if len(_TRACES) > 32:
        _TRACES.clear()
    _TRACES[key] = (h1, hb)
    return h1, hb


def _mlr(pt, pms, index, theta, xs, moments, ns, n_glob, ind, info, fiml_) -> np.ndarray:
    """MLR with groups (lavaan's ``estimator = "MLR"``, complete data or FIML): Huber-White
    ``A0^-1 B0 A0^-1 / N`` with ``A0 = sum_g f_g H_g`` (each group's observed information
    per case) and ``B0 = sum_g f_g B_g`` (its mean outer product of casewise scores); the
    Yuan-Bentler trace ``sum_g tr(A1_g^-1 B1_g) - tr(A0^-1 B0)`` (lav_test_yuan_bentler.R:
    the saturated traces per group, the model's over the global parameters)."""
    if list(getattr(pt, "ov_x", []) or []):
        raise SpecError("--estimator MLR with fixed covariates (fixed.x) is not supported yet with --group")
    n_tot = float(sum(ns))
    w = np.asarray(ns, float) / n_tot
    a0 = np.zeros((n_glob, n_glob)) if not fiml_ else info
    b0 = np.zeros((n_glob, n_glob))
    h1 = hb = 0.0
    for pm, idx, x, (mu_h1, s_h1), wg in zip(pms, index, xs, moments, w):
        th = theta[idx]
        pat = fiml.Patterns.from_data(x)
        means = bool(pm.meanstructure)
        k = pm.n_free
        if means:
            scores = mlr.model_scores(pm, x, th, None)
            if not fiml_:
                hess = fiml.observed_information(pm, pat, th)
        else:
            xbar = x.mean(axis=0)
            scores = mlr.model_scores(pm, x, th, xbar)[:, :k]
            if not fiml_:
                hess = fiml.observed_information(pm, pat, np.concatenate([th, xbar]))[:k, :k]
        if not fiml_:
            a0[np.ix_(idx, idx)] += wg * hess
        sg = _global(scores, idx, n_glob)
        b0 += wg * sg.T @ sg / len(x)
        h1_g, hb_g = _data_traces(x, pat, mu_h1, s_h1, means, fiml_)
        h1 += h1_g
        hb += hb_g
    try:
        a_inv = np.linalg.inv(a0)
    except np.linalg.LinAlgError:
        warnings.warn("the observed information matrix is singular: robust standard errors and the scaled test "
                      "are unavailable (NaN); the model may be empirically under-identified",
                      SingularInformationWarning, stacklevel=4)
        return np.full((n_glob, n_glob), np.nan)
    vcov = a_inv @ b0 @ a_inv / n_tot
    df = ind["df"]
    if df > 0:
        h0 = float(np.sum(a_inv * b0.T))
        _scaled(ind, (h1 - h0) / df, (h1 - hb) / ind["baseline_df"], len(ns), robust_rmsea=not fiml_)
    return vcov


# --------------------------------------------------------------------------- stratified bootstrap

PATH_DIFF_COLUMNS = ["id", "path", "contrast", "est_ref", "est_group", "diff", "se", "z", "pvalue", "ci_lower",
                     "ci_upper", "boot_ci_lower", "boot_ci_upper"]


@dataclass(frozen=True)
class StratifiedBootstrap:
    """Draws of a multiple-group fit resampled within groups (:func:`stratified_bootstrap`).

    ``estimates`` (n_boot x n_global): the global parameter vector of every draw (NaN rows
    for failed draws); ``seconds_per_draw`` the measured mean time of one draw."""

    estimates: np.ndarray
    n_boot: int
    n_failed: int
    seed: int
    seconds_per_draw: float


def stratified_bootstrap(res: MultiGroupFit, n_boot: int = 1000, seed: int = 20190102, *,
                         batched: bool = True) -> StratifiedBootstrap:
    """Nonparametric bootstrap of a complete-data multiple-group ML fit, resampling cases
    within each group (every draw keeps the groups' sizes). Draw ``b`` uses the stream
    ``SeedSequence(seed).spawn(n_boot)[b]`` (group by group), so the draws do not depend on
    how they are computed.

    ``batched=True`` (default): every draw's groups are summarized by their resampled means
    and covariances (from the resampling counts, no data set is formed) and all draws are
    refitted together from the full-sample estimate (:func:`_batched_refits`: limited-memory
    BFGS from the full-sample Hessian, a line search per draw, to
    ``max|grad| < 1e-8``, which puts the estimates within ~1e-7 of the optimum); a draw that
    does not converge so is refitted alone as below. Saturated intercepts (every group's
    intercepts free and its own, latent means fixed at 0: configural, metric) are
    concentrated out (:class:`_Concentrated`: each is the group's resampled mean), and groups
    that share no parameter are refitted as separate problems (:func:`_pieces`).
    ``batched=False``: each draw refits alone by Fisher scoring (then L-BFGS-B). A draw whose
    fit does not converge is a NaN row (counted in ``n_failed``). ``seconds_per_draw`` is the
    measured mean time of one draw."""
    import time

    from .._threads import single_thread

    if res.missing != "listwise":
        raise OptionError("the stratified bootstrap needs complete data (listwise); FIML fits are not resampled yet")
    if res.estimator != "ML":
        raise OptionError(f"the stratified bootstrap refits by ML; the fit used --estimator {res.estimator}")
    n_boot = int(n_boot)
    xs = [res.data[res.data[res.group] == lab].drop(columns=[res.group]).to_numpy(float)
          for lab in res.group_labels]
    ns = [len(x) for x in xs]
    n_glob = len(res.start)
    out = np.full((n_boot, n_glob), np.nan)
    children = np.random.SeedSequence(seed).spawn(n_boot)
    t0 = time.perf_counter()
    counts = [np.zeros((n_boot, n)) for n in ns]
    for b, child in enumerate(children):
        rng = np.random.default_rng(child)
        for g, n in enumerate(ns):
            counts[g][b] = np.bincount(rng.integers(0, n, n), minlength=n)
    covs, means = [], []
    for x, c, n in zip(xs, counts, ns):
        center = x.mean(axis=0)
        xc = x - center
        m = c @ xc / n
        covs.append(np.einsum("bk,ki,kj->bij", c, xc, xc, optimize=True) / n - m[:, :, None] * m[:, None, :])
        means.append(m + center)
    todo = np.arange(n_boot)
    with single_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if batched and n_boot:
            prob_all = _BatchProblem(res, covs, means)
            nus = _saturated_intercepts(res, prob_all)
            hinv0 = conc = None
            if nus is not None:
                # every group's intercepts free and its own, no free latent mean: at any
                # covariance parameters the intercepts' optimum is the group's mean
                # (mu = xbar, the mean part of F is 0), so the draws are refitted on the
                # covariance parameters alone (the concentrated F, same optimum) and each
                # intercept is its group's resampled mean
                conc = _Concentrated(prob_all, nus)
                hinv0 = _start_metric(res, xs, ns, conc)
                if hinv0 is None:
                    conc = None
            if hinv0 is None:
                hinv0 = _start_metric(res, xs, ns)
            if hinv0 is not None:
                pieces = _pieces(res, prob_all, conc, nus, hinv0)
                chunk = 256  # draws per batch: the inverse Hessians (chunk, q, q) stay small
                left = []
                for c0 in range(0, n_boot, chunk):
                    rows = np.arange(c0, min(c0 + chunk, n_boot))
                    ok_all = np.ones(rows.size, dtype=bool)
                    for prob_p, idx, start_p, hinv_p in pieces:
                        sub = prob_p.take(rows)
                        theta, ok = _batched_refits(sub, start_p, hinv_p)
                        if isinstance(sub, _Concentrated):
                            theta = sub.full(theta)
                        out[np.ix_(rows, idx)] = theta
                        ok_all &= ok
                    out[rows[~ok_all]] = np.nan
                    left.append(rows[~ok_all])
                todo = np.concatenate(left)
        failed = 0
        for b in todo:
            moments = [(means[g][b] if pm.meanstructure else None, covs[g][b]) for g, pm in enumerate(res.param_maps)]
            prob = _Problem(res.param_maps, res.index, n_glob, moments, ns)
            # relative step 1e-7 (the full fit: 1e-10): the draws move by ~1e-7, three
            # orders below the CIs' printed digits, for a third less time per draw
            theta_b, ok_b = _fisher(prob, res.start, tol=1e-7)
            if not ok_b:  # as the full-sample fit: L-BFGS-B, then Fisher scoring from its end
                theta_b, ok_b = _minimize(prob, res.start)
            if ok_b:
                out[b] = theta_b
            else:
                failed += 1
    per = (time.perf_counter() - t0) / max(n_boot, 1)
    return StratifiedBootstrap(out, n_boot, failed, int(seed), per)


def path_differences(res: MultiGroupFit, boot: StratifiedBootstrap | None = None, *, paths=None,
                     level: float = 0.95) -> pd.DataFrame:
    """For each path ``target ~ source`` (default: the model's proposition paths; else every
    regression), its unstandardized estimate in the reference group (group 1) and in each
    other group, the difference (group - reference), its Wald test (SE from the joint
    covariance of the estimates: ``var_a + var_b - 2 cov``, zero when the path is
    constrained equal) and, with ``boot``, the percentile CI of the difference over the
    stratified draws. Columns ``PATH_DIFF_COLUMNS``."""
    if paths is None:
        props = getattr(getattr(res, "_model", None), "propositions", None)
        paths = props
    rows = []
    p = res.params
    z = stats.norm.ppf(0.5 + level / 2)
    if paths is None:
        regs = p[(p["op"] == "~") & (p["group"] == 1)]
        paths = [(f"{r.lhs}~{r.rhs}", r.rhs, r.lhs) for r in regs.itertuples()]
    else:
        paths = [(q.id, q.source, q.target) for q in paths if getattr(q, "kind", "path") == "path"]
    for pid, src, dst in paths:
        ks = []
        for g, pm in enumerate(res.param_maps):
            k = pm.aliases.get((dst, "~", src))
            ks.append(None if k is None else int(res.index[g][k]))
        if ks[0] is None:
            continue
        for g in range(1, res.ngroups):
            if ks[g] is None:
                continue
            a, b = ks[0], ks[g]
            ea, eb = float(res.start[a]), float(res.start[b])
            d = eb - ea
            var = res.vcov[a, a] + res.vcov[b, b] - 2 * res.vcov[a, b]
            se = math.sqrt(max(var, 0.0)) if a != b else 0.0
            zz = d / se if se > 0 else float("nan")
            pv = 2 * stats.norm.sf(abs(zz)) if se > 0 else float("nan")
            lo = hi = float("nan")
            if boot is not None and a != b:
                draws = boot.estimates[:, b] - boot.estimates[:, a]
                draws = draws[np.isfinite(draws)]
                if len(draws):
                    lo, hi = np.quantile(draws, [(1 - level) / 2, (1 + level) / 2])
            rows.append([pid, f"{dst} ~ {src}", f"{res.group_labels[g]} - {res.group_labels[0]}", ea, eb, d, se, zz,
                         pv, d - z * se if se > 0 else float("nan"), d + z * se if se > 0 else float("nan"),
                         float(lo), float(hi)])
    return pd.DataFrame(rows, columns=PATH_DIFF_COLUMNS)


def standardized_path(res: MultiGroupFit, theta: np.ndarray, g: int, source: str, target: str) -> float:
    """std.all value of the regression ``target ~ source`` in group ``g`` (0-based) at the
    global parameter vector ``theta``: ``b * sd(source) / sd(target)``, the standard
    deviations from the group's model-implied covariance of the inner variables (lavaan's
    ``standardizedSolution()``; the full-sample value equals ``params.std_all``)."""
    pm = res.param_maps[g]
    mx = pm.matrices_at(theta[res.index[g]])
    i, j = mx.inner.index(target), mx.inner.index(source)
    c = mx.inner_cov
    return float(mx.beta[i, j] * math.sqrt(c[j, j] / c[i, i]))


def group_path_rows(res: MultiGroupFit, paths: Sequence[Any], boot: StratifiedBootstrap | None = None,
                    level: float = 0.95) -> list[dict]:
    """Per group and proposition path: the unstandardized estimate, its SE and p-value, the
    std.all value and, with ``boot``, the stratified-bootstrap percentile CI of the std.all
    value (the draws' standardized paths, computed per group from each draw's estimates)."""
    p = res.params
    rows = []
    for q in paths:
        for g, lab in enumerate(res.group_labels):
            r = p[(p["group"] == g + 1) & (p["op"] == "~") & (p["lhs"] == q.target) & (p["rhs"] == q.source)]
            if not len(r):
                continue
            r = r.iloc[0]
            lo = hi = float("nan")
            if boot is not None:
                ok = boot.estimates[np.all(np.isfinite(boot.estimates), axis=1)]
                if len(ok):
                    draws = np.array([standardized_path(res, th, g, q.source, q.target) for th in ok])
                    lo, hi = (float(v) for v in np.quantile(draws, [(1 - level) / 2, (1 + level) / 2]))
            rows.append({"id": q.id, "group": lab, "proposition": q.proposition,
                         "path": f"{q.source} -> {q.target}", "sign": q.sign, "est": float(r["est"]),
                         "std_est": float(r["std_all"]), "se": float(r["se"]), "pvalue": float(r["pvalue"]),
                         "ci_lower": lo, "ci_upper": hi, "label": q.text})
    return rows


# --------------------------------------------------------------------------- batched stratified bootstrap


class _BatchProblem:
    """The multiple-group ML objective and gradient for a stack of draws at once.

    Group ``g`` of draw ``b`` has the N-divided covariance ``S[g][b]`` and mean
    ``xbar[g][b]`` of its resampled cases; ``F_b = sum_g w_g F_ML(S, xbar; Sigma_g, mu_g)``
    with ``w_g = n_g / N`` (:class:`_Problem` draw by draw). The covariance part of the
    gradient is :meth:`ModelStructure.gradient` with ``Gamma = Sigma^-1 - Sigma^-1 (S + d d')
    Sigma^-1`` and the mean part :meth:`FimlStructure.mean_gradient` with ``dF/dmu =
    -2 Sigma^-1 d`` (``d = xbar - mu``); each group's local gradient is scattered onto the
    global parameters by a 0/1 matrix (shared parameters sum)."""

    def __init__(self, res: "MultiGroupFit", covs: list[np.ndarray], means: list[np.ndarray]):
        from .batched import FimlStructure, ModelStructure

        self.st = [ModelStructure(pm) for pm in res.param_maps]
        self.fs = [FimlStructure(s) for s in self.st]
        self.idx = res.index
        self.ms = [pm.meanstructure for pm in res.param_maps]
        n_glob = len(res.start)
        self.scat = []
        for idx in res.index:
            sc = np.zeros((len(idx), n_glob))
            sc[np.arange(len(idx)), idx] = 1.0
            self.scat.append(sc)
        # a group whose local parameters are distinct globals (no label shared within the
        # group) adds its gradient by indexing: the same bits as the 0/1 product (x * 1
        # plus zeros), without a (B, q_g) x (q_g, q) product per group and evaluation
        self.unique = [len(set(idx.tolist())) == len(idx) for idx in res.index]
        ns = np.asarray(res.n_per_group, float)
        self.w = ns / ns.sum()
        self.covs, self.means = covs, means
        self.logdet_s = [np.linalg.slogdet(c)[1] for c in covs]

    def take(self, rows: np.ndarray) -> "_BatchProblem":
        out = object.__new__(_BatchProblem)
        out.__dict__.update(self.__dict__)
        out.covs = [c[rows] for c in self.covs]
        out.means = [m[rows] for m in self.means]
        out.logdet_s = [v[rows] for v in self.logdet_s]
        return out

    def information(self, theta: np.ndarray) -> np.ndarray:
        """Twice the expected information of ``F`` per draw (B, q, q), as :class:`_Problem`'s
        ``2 * info``: per group ``tr(Sigma^-1 D_k Sigma^-1 D_l) + 2 J_mu Sigma^-1 J_mu'``
        (``J_mu = dmu/dtheta``, read off :meth:`FimlStructure.mean_gradient` at unit
        vectors), scattered onto the global parameters."""
        nb, q = theta.shape
        out = np.zeros((nb, q, q))
        for st, fs, idx, ms, sc, w in zip(self.st, self.fs, self.idx, self.ms, self.scat, self.w):
            th = theta[:, idx]
            parts = st.implied(th)
            h = st.information(parts)
            if ms:
                p = parts["Sigma"].shape[1]
                _, eta = fs.means(th, parts)
                rep = {"G": np.repeat(parts["G"], p, axis=0)}
                jm = fs.mean_gradient(rep, np.repeat(eta, p, axis=0), np.tile(np.eye(p), (nb, 1)))
                jm = jm.reshape(nb, p, -1)  # (B, p, q_g): row i = dmu_i/dtheta
                prec = np.linalg.inv(parts["Sigma"])
                h = h + 2.0 * np.swapaxes(jm, 1, 2) @ prec @ jm
            out += w * (sc.T @ h @ sc)
        return out

    def evaluate(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(F, dF/dtheta)`` per draw (``F = inf`` where a group's Sigma is not positive
        definite). Each group's ``F_ML`` with ``M = S + d d'`` in place of ``S`` is
        :func:`smsem.estimate.batched._evaluate` (Woodbury inverse for a diagonal Theta)."""
        from .batched import _evaluate

        nb = theta.shape[0]
        f = np.zeros(nb)
        grad = np.zeros_like(theta)
        for st, fs, idx, ms, sc, w, s, xbar, lds, uniq in zip(self.st, self.fs, self.idx, self.ms, self.scat, self.w,
                                                             self.covs, self.means, self.logdet_s, self.unique):
            th = theta[:, idx]
            m = s
            if ms:
                beta, lam = _beta_lambda(st, th)
                nu, alpha = fs.vectors(th)
                eta = _inner_means(st, beta, alpha)
                d = xbar - (nu + (lam @ eta[:, :, None])[:, :, 0])
                m = s + d[:, :, None] * d[:, None, :]
            ev = _evaluate(st, th, m, lds)
            prec = ev.sinv if ev.ok.all() else np.where(ev.ok[:, None, None], ev.sinv, 0.0)
            gg = st.gradient(ev.parts, prec - prec @ m @ prec)
            if ms:
                gg = gg + fs.mean_gradient(ev.parts, eta, -2.0 * (prec @ d[:, :, None])[:, :, 0])
            f += w * np.where(ev.ok, ev.f, np.inf)
            if uniq:
                grad[:, idx] += w * gg
            else:
                grad += w * (gg @ sc)
        f[~np.isfinite(f)] = np.inf
        return f, grad


def _saturated_intercepts(res: "MultiGroupFit", prob: "_BatchProblem") -> list[np.ndarray] | None:
    """Per group, the global index of each observed variable's intercept (in the order of
    the group's observed variables) when every group's mean structure is saturated: each
    intercept free, its own parameter (no label or equality shared with any other row), the
    latent means all fixed at 0. None otherwise (e.g. ``group.equal`` intercepts or means)."""
    from collections import Counter

    uses = Counter(int(k) for idx in res.index for k in idx)
    out = []
    for st, fs, idx, ms in zip(prob.st, prob.fs, res.index, prob.ms):
        if not ms:
            return None
        (nu_k, nu_i), (al_k, _) = fs.mean_cells
        base = st.pmap.base
        p = st.n_obs
        if len(al_k) or np.any(np.asarray(base.alpha) != 0) or len(nu_i) != p or sorted(nu_i.tolist()) != list(range(p)):
            return None
        if len(set(nu_k.tolist())) != p:
            return None
        # a parameter that is an intercept has no other cell (e.g. a shared label with a loading)
        for k in nu_k:
            if len(st.pmap.locations[int(k)]) != 1 or uses[int(idx[int(k)])] != 1:
                return None
        glob = np.empty(p, dtype=np.intp)
        glob[nu_i] = idx[nu_k]
        out.append(glob)
    return out


def _pieces(res: "MultiGroupFit", prob: "_BatchProblem", conc: "_Concentrated | None", nus, hinv0: np.ndarray
            ) -> list[tuple[Any, np.ndarray, np.ndarray, np.ndarray]]:
    """The independent problems of the batched refit: ``(problem, global indices, start,
    inverse metric)``. When no parameter is shared between groups (configural), F is a
    sum of the groups' own objectives: each group is refitted alone (its own line search
    and BFGS memory, stopped when its own gradient is small, as a one-group refit; the
    Hessian is block diagonal, so its metric is its block of ``hinv0``). Otherwise one
    joint problem."""
    from collections import Counter

    q = len(res.start)
    if conc is None:
        whole = (prob, np.arange(q), res.start, hinv0)
    else:
        whole = (conc, np.arange(q), res.start[conc.keep], hinv0)
    uses = Counter(int(k) for idx in res.index for k in idx)
    if len(res.index) < 2 or any(v != 1 for v in uses.values()):
        return [whole]
    pos = {int(k): i for i, k in enumerate(conc.keep if conc is not None else range(q))}
    out = []
    for g, idx in enumerate(res.index):
        pg = object.__new__(_BatchProblem)
        pg.__dict__.update(prob.__dict__)
        for name in ("st", "fs", "ms", "covs", "means", "logdet_s", "w"):
            setattr(pg, name, [getattr(prob, name)[g]])
        pg.idx, pg.scat, pg.unique = [np.arange(len(idx))], [np.eye(len(idx))], [True]
        if conc is not None:
            local = {int(k): i for i, k in enumerate(idx)}
            pg = _Concentrated(pg, [np.array([local[int(k)] for k in nus[g]], dtype=np.intp)])
            sel = [pos[int(idx[k])] for k in pg.keep]
            start = res.start[idx][pg.keep]
        else:
            sel = [pos[int(k)] for k in idx]
            start = res.start[idx]
        out.append((pg, np.asarray(idx), start, hinv0[np.ix_(sel, sel)]))
    return out


class _Concentrated:
    """The stratified objective with the saturated intercepts concentrated out: ``F`` and
    its gradient in the other parameters (``keep``), each group's covariance part only (its
    mean part is 0 at ``nu = xbar``; by the envelope theorem the gradient is the same).
    ``full`` rebuilds the global vector with each group's resampled means."""

    def __init__(self, inner: "_BatchProblem", nus: list[np.ndarray], keep: np.ndarray | None = None):
        self.inner, self.nus = inner, nus
        q = len(inner.scat[0][0])
        mask = np.ones(q, dtype=bool)
        for nu in nus:
            mask[nu] = False
        self.keep = np.flatnonzero(mask) if keep is None else keep
        self.q = q
        self._cov = object.__new__(_BatchProblem)
        self._cov.__dict__.update(inner.__dict__)
        self._cov.ms = [False] * len(inner.ms)

    @property
    def covs(self) -> list[np.ndarray]:
        return self.inner.covs

    def take(self, rows: np.ndarray) -> "_Concentrated":
        return _Concentrated(self.inner.take(rows), self.nus, self.keep)

    def full(self, theta: np.ndarray) -> np.ndarray:
        out = np.zeros((theta.shape[0], self.q))
        out[:, self.keep] = theta
        for nu, xbar in zip(self.nus, self.inner.means):
            out[:, nu] = xbar
        return out

    def evaluate(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        full = np.zeros((theta.shape[0], self.q))
        full[:, self.keep] = theta
        f, g = self._cov.evaluate(full)
        return f, g[:, self.keep]


def _beta_lambda(st: Any, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(beta, lambda)`` of :meth:`ModelStructure.matrices` without building psi and theta
    (the mean part needs only these two)."""
    base = st.pmap.base
    out = []
    for m, b in ((0, base.beta), (1, base.lambda_)):
        arr = np.broadcast_to(b, (theta.shape[0], *b.shape)).copy()
        k, i, j = st.cells[m]
        if len(k):
            arr[:, i, j] = theta[:, k]
        out.append(arr)
    return out[0], out[1]


def _inner_means(st: Any, beta: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """``(I - B)^-1 alpha`` per draw: for a recursive model the Horner sum
    ``alpha + B (alpha + B (...))`` over ``B``'s nilpotency depth (as
    :meth:`ModelStructure.implied`), without a batched LU solve per group and evaluation."""
    depth = st.beta_depth
    if depth is None:
        return np.linalg.solve(np.eye(beta.shape[1]) - beta, alpha[:, :, None])[:, :, 0]
    eta = alpha
    for _ in range(depth - 1):
        eta = alpha + (beta @ eta[:, :, None])[:, :, 0]
    return eta


def _start_metric(res: MultiGroupFit, xs: list[np.ndarray], ns: list[int],
                  conc: "_Concentrated | None" = None) -> np.ndarray | None:
    """The inverse of the exact Hessian of the full-sample ``F`` at the estimate (central
    differences of the analytic gradient, all ``2q`` points in one batch; as the one-group
    :func:`smsem.estimate.batched.fit_batch`'s first metric), or of twice the expected
    information when that Hessian is not positive definite; None when neither inverts."""
    start = res.start if conc is None else res.start[conc.keep]
    q = len(start)
    moments = [ml.sample_moments(x) for x in xs]
    full = _BatchProblem(res, [np.repeat(s[None], 2 * q, axis=0) for _, s in moments],
                         [np.repeat(m[None], 2 * q, axis=0) for m, _ in moments])
    h = 1e-5 * np.maximum(1.0, np.abs(start))
    pts = np.concatenate([start + np.diag(h), start - np.diag(h)])
    # (concentrated: the Hessian of the concentrated F, the Schur complement of the full one)
    _, g = (full if conc is None else _Concentrated(full, conc.nus, conc.keep)).evaluate(pts)
    hess = (g[:q] - g[q:]) / (2 * h[:, None])
    hess = 0.5 * (hess + hess.T)
    cands = [hess] if conc is not None else [hess, full.take(np.zeros(1, dtype=np.intp)).information(start[None])[0]]
    for cand in cands:
        try:
            np.linalg.cholesky(cand)
            return np.linalg.inv(cand)
        except np.linalg.LinAlgError:
            continue
    return None


def _batched_refits(prob: _BatchProblem, start: np.ndarray, hinv0: np.ndarray, *, max_iter: int = 100,
                    gtol: float = 1e-8, ftol: float = 1e-15, memory: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Limited-memory BFGS refits of every draw at once from ``start``: the initial inverse
    Hessian is ``hinv0`` (:func:`_start_metric`, the full-sample Hessian, close to every
    draw's), corrected per draw by its last ``memory``
    steps and gradient changes (the two-loop recursion of :mod:`smsem.estimate.batched`);
    a backtracking line search per draw; until ``max|grad| < gtol``. Returns
    ``(theta, ok)``; a draw whose step stops decreasing ``F`` or that has not converged in
    ``max_iter`` steps has ``ok`` False (it is then refitted alone)."""
    from .batched import _rowwise

    nb, q = prob.covs[0].shape[0], start.size
    theta = np.broadcast_to(start, (nb, q)).copy()
    f, g = prob.evaluate(theta)
    ok = np.zeros(nb, dtype=bool)
    active = np.flatnonzero(np.isfinite(f))
    # the state of the active draws, kept compact (aligned with ``active``) and compressed
    # only when draws leave: no per-step gathers of the draws' moments or BFGS memory
    sub = prob.take(active) if active.size < nb else prob
    th, fa, ga = theta[active], f[active], g[active]
    hs = np.zeros((memory, active.size, q))
    hy = np.zeros((memory, active.size, q))
    hr = np.zeros((memory, active.size))  # rho = 1 / s'y; 0 leaves a pair out (no update that step)

    def leave(gone: np.ndarray, converged: bool) -> None:
        nonlocal active, sub, th, fa, ga, hs, hy, hr
        theta[active[gone]] = th[gone]
        if converged:
            ok[active[gone]] = True
        keep = ~gone
        active, th, fa, ga = active[keep], th[keep], fa[keep], ga[keep]
        hs, hy, hr = hs[:, keep], hy[:, keep], hr[:, keep]
        sub = sub.take(np.flatnonzero(keep))

    for it in range(max_iter):
        if not active.size:
            break
        done = np.max(np.abs(ga), axis=1) < gtol
        if done.any():
            leave(done, True)
            if not active.size:
                break
        order = [(k % memory) for k in range(max(0, it - memory), it)]
        r = ga.copy()
        alphas = []
        for k in reversed(order):
            al = hr[k] * np.einsum("bi,bi->b", hs[k], r)
            r -= al[:, None] * hy[k]
            alphas.append(al)
        r = _rowwise(r, hinv0)
        for k, al in zip(order, reversed(alphas)):
            be = hr[k] * np.einsum("bi,bi->b", hy[k], r)
            r += (al - be)[:, None] * hs[k]
        # converged too when the step would lower a quadratic model of F by at most
        # ftol * max(1, F) (half the Newton decrement), as the one-group fit_batch
        flat = 0.5 * np.einsum("bi,bi->b", ga, r) <= ftol * np.maximum(1.0, np.abs(fa))
        if flat.any():
            r = r[~flat]
            leave(flat, True)
            if not active.size:
                break
        step = -r
        t = np.ones(active.size)
        pending = np.arange(active.size)
        new_th, new_f, new_g = th.copy(), fa.copy(), ga.copy()
        for _ls in range(30):
            cand = th[pending] + t[pending, None] * step[pending]
            fc, gc = (sub.take(pending) if pending.size < active.size else sub).evaluate(cand)
            # a decrease of F, or, within F's rounding next to the optimum (1e-12, as _fisher),
            # a smaller gradient (F alone would let the draws drift there)
            good = np.isfinite(fc) & ((fc < fa[pending]) | ((fc <= fa[pending] + 1e-12) & (
                np.max(np.abs(gc), axis=1) < np.max(np.abs(ga[pending]), axis=1))))
            acc = pending[good]
            new_th[acc], new_f[acc], new_g[acc] = cand[good], fc[good], gc[good]
            pending = pending[~good]
            if not pending.size:
                break
            t[pending] /= 2
        sv, yv = new_th - th, new_g - ga
        sy = np.einsum("bi,bi->b", sv, yv)
        upd = sy > 1e-14 * np.maximum(1.0, np.einsum("bi,bi->b", yv, yv))  # positive curvature only
        k = it % memory
        hs[k], hy[k] = sv, yv
        hr[k] = np.where(upd, 1.0 / np.where(upd, sy, 1.0), 0.0)
        th, fa, ga = new_th, new_f, new_g
        if pending.size:  # no decrease: the draw is left to the one-at-a-time refit
            stuck = np.zeros(active.size, dtype=bool)
            stuck[pending] = True
            leave(stuck, False)
    theta[active] = th
    return theta, ok
