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

Not supported (refused with one line): MLM/MLR/FIML, ``:=`` rows and constraints other
than equalities of two labels.
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
from . import ml
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

    @property
    def n(self) -> int:
        return int(sum(self.n_per_group))

    @property
    def ngroups(self) -> int:
        return len(self.group_labels)

    def __str__(self) -> str:
        from ..report.multigroup import render_multigroup_fit

        return render_multigroup_fit(self)


def _union_params(pt: Any, views: list[_GroupTable], pms: list[ParamMap]) -> tuple[list[np.ndarray], int, list[int]]:
    """Global parameter index of every group's local parameters (shared labels, plabels and
    simple ``==`` rows across groups joined). Returns (index per group, n_global, exo)."""
    rows = [r for r in table_rows(pt) if r["op"] in _PARAM_OPS]
    node: dict[tuple[int, int], tuple[int, int]] = {}  # (g, local k) -> union-find key
    parent: dict[tuple[int, int], tuple[int, int]] = {}

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    def union(a, b):
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for g, pm in enumerate(pms):
        for k in range(pm.n_free):
            parent[(g, k)] = (g, k)
    by_name: dict[str, tuple[int, int]] = {}
    exo_keys = set()
    for r in rows:
        g = r["group"] - 1
        key = (r["lhs"], r["op"], r["rhs"])
        k = pms[g].aliases.get(key)
        if k is None:
            continue
        node[(g, k)] = (g, k)
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
                ig = ml.expected_information_means(jac, mjac, sigma) if pm.meanstructure else \
                    ml.expected_information(jac, sigma)
                np.add.at(info, (idx[:, None], idx[None, :]), w * ig)
        return f, grad, info


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
                   level: float = 0.95, **table_options: Any) -> MultiGroupFit:
    """Fit ``model`` in every group of ``data[group]`` by ML, as lavaan's
    ``sem(model, data, group = group, group.equal = ..., group.partial = ...)``.

    Raises
    ------
    OptionError
        An estimator other than ML, or FIML (not supported yet with groups).
    DataError
        The group column is absent or has one level; a group has too few complete cases.
    SpecError
        ``:=`` rows or constraints other than equalities of labels (not supported yet).
    """
    if str(estimator).upper() != "ML":
        raise OptionError(f"--group with --estimator {estimator} is not supported yet (ML only)")
    if missing != "listwise":
        raise OptionError("--group with missing='fiml' is not supported yet (listwise ML only)")
    labels = check_groups(data, group)
    ge, gp = _as_list(group_equal), _as_list(group_partial)
    opts = dict(table_options)
    opts.update(ngroups=len(labels), group_equal=tuple(ge), group_partial=tuple(gp))
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
    keep = x.notna().all(axis=1) & gcol.notna()
    dropped = int((~keep).sum())
    if dropped:
        warnings.warn(f"{dropped} row(s) with missing values were dropped (listwise deletion)", stacklevel=3)
    x, gcol = x[keep].reset_index(drop=True), gcol[keep].reset_index(drop=True).map(_label)
    views = [_GroupTable(pt, g + 1) for g in range(len(labels))]
    pms = [param_map_from_table(v) for v in views]
    p = len(ov)
    xs, moments, ns = [], [], []
    for lab, pm in zip(labels, pms):
        xg = x[gcol == lab].to_numpy(dtype=float)
        if len(xg) <= p:
            raise DataError(f"group {lab!r} of {group!r} has {len(xg)} complete row(s) for {p} observed variables; "
                            f"at least {p + 1} are needed")
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
        st = start_values(v, pm, xbar, s)
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
    theta, ok = _minimize(prob, start)
    if not ok:
        warnings.warn("the multiple-group ML fit did not converge; estimates may be unreliable",
                      ConvergenceWarning, stacklevel=3)
    n_tot = int(sum(ns))
    f, _, info = prob.parts(theta, True)
    try:
        vcov = np.linalg.inv(info) / n_tot
    except np.linalg.LinAlgError:
        warnings.warn("the information matrix is singular: standard errors are unavailable (NaN); the model "
                      "may be empirically under-identified", SingularInformationWarning, stacklevel=3)
        vcov = np.full_like(info, np.nan)
    ind = _indices(pt, pms, index, theta, xs, moments, ns, exo, n_glob)
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
                         fitted, dropped, tuple(ge), tuple(gp))


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
