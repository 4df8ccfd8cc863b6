"""WLSMV, DWLS, ULS(MV) and WLS fits of models with ordinal indicators (lavaan's ``ordered =``).

The chain is lavaan 0.6.14's, delta (default) or theta parameterization, one group, every
observed variable ordinal (theta: residual variances fixed at 1, ``sigma = [tau / sd(y*),
cor(y*)]``, lavaan's ``delta = 1 / sd(y*)`` on the ``~*~`` rows):

1. the sample statistics ``s = [thresholds, polychoric correlations]`` (lavaan's WLS.obs), their
   asymptotic covariance ``Gamma`` (NACOV) and the weights ``W`` (lavaan's WLS.V:
   ``diag(Gamma)^-1`` for DWLS/WLSMV, ``I`` for ULS/ULSMV, ``Gamma^-1`` for WLS) —
   :mod:`.nacov`;
2. the parameter table of ``cfa/sem(..., ordered = TRUE)`` (:func:`ordinal_table`): the
   threshold rows ``item | t1 ...`` after the user's rows, the residual variances of the items
   fixed (``ustart`` 1; reported as ``1 - R^2``), the scaling rows ``item ~*~ item`` fixed at 1,
   the intercepts and latent means fixed at 0;
3. the model-implied statistics ``sigma(theta) = [tau, offdiag(Lambda (I-B)^-1 Psi (I-B)^-T
   Lambda' + Theta)]`` and the fit function ``F = (s - sigma)' W (s - sigma)`` minimised by
   Levenberg-Marquardt on ``W^1/2 (s - sigma)``; lavaan's ``fmin`` is ``F / 2`` and its chi2
   ``N F``;
4. SEs (lavaan's ``se = "robust.sem"`` for WLSMV and ULSMV): ``(D'WD)^-1 D'W Gamma W D (D'WD)^-1
   / (N - 1)`` with ``D = dsigma/dtheta``; for DWLS, ULS and WLS lavaan's ``se = "standard"``,
   ``(D'WD)^-1 / (N - 1)`` (valid for WLS only; lavaan prints it for DWLS and ULS too);
5. the test: with ``U = W - W D (D'WD)^-1 D'W``, ``tr(U Gamma)`` and ``tr((U Gamma)^2)``;
   ``scaled.shifted`` (WLSMV): ``a = sqrt(df / tr((U Gamma)^2))``, ``T = a chi2 + df - a tr(U Gamma)``;
   (ULSMV is ``scaled.shifted`` too in lavaan 0.6.14; ``mean.var.adjusted``:
   ``df* = tr(U Gamma)^2 / tr((U Gamma)^2)``, ``T = chi2 df* / tr(U Gamma)``, is not exposed yet);
6. the baseline (thresholds free, correlations 0) the same way; CFI, TLI, RMSEA, their scaled
   versions as lavaan's ``fitMeasures()``; SRMR on the correlations.

What is not done is refused (:func:`check_supported`): a sentence, never a silent number.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from ...exceptions import ConvergenceWarning, DataError, OptionError, SpecError
from ..matrices import param_map_from_table, start_values, table_rows
from .nacov import sample_stats

__all__ = ["ORDINAL_ESTIMATORS", "ordinal_table", "fit_ordinal", "check_supported", "render_ordinal"]

#: estimator -> (weights, test) as lavaan's defaults for each
ORDINAL_ESTIMATORS = {
    "WLSMV": ("DWLS", "scaled.shifted"),
    "DWLS": ("DWLS", "standard"),
    "ULSMV": ("ULS", "scaled.shifted"),  # lavaan 0.6.14: ULSMV is test = "scaled.shifted" too
    "ULS": ("ULS", "standard"),
    "WLS": ("WLS", "standard"),
}
_ENGINE_OPS = ("=~", "~", "~~")


def _ordered_names(ordered: Any, ov: Sequence[str]) -> list[str]:
    if ordered is True:
        return list(ov)
    if isinstance(ordered, str):
        ordered = [ordered] if ordered.lower() != "all" else list(ov)
    names = list(ordered)
    unknown = [v for v in names if v not in ov]
    if unknown:
        raise OptionError(f"ordered names {', '.join(unknown)}, which are not observed variables of the model")
    return names


def check_supported(pt: Any, ordered: list[str], *, estimator: str, missing: str,
                    parameterization: str = "delta") -> None:
    """Raise (one line) on a combination this module does not reproduce yet."""
    if estimator not in ORDINAL_ESTIMATORS:
        raise OptionError(f"estimator {estimator!r} with ordered items: use one of "
                          f"{', '.join(ORDINAL_ESTIMATORS)}")
    if parameterization not in ("delta", "theta"):
        raise OptionError(f"parameterization={parameterization!r}: use 'delta' (lavaan's default) or 'theta'")
    if missing not in ("listwise", "pairwise"):
        raise OptionError(f"missing={missing!r} is not available with ordered items "
                          "(lavaan: 'listwise' (default) or 'pairwise')")
    ov = list(pt.ov)
    cont = [v for v in ov if v not in ordered]
    if cont and parameterization != "delta":
        raise OptionError(f"continuous observed variables ({', '.join(cont)}) with ordered items are supported in "
                          "the delta parameterization only, not yet in theta")
    if cont and not ordered:
        raise OptionError("no ordered item: fit the model without ordered= (ML)")
    rows = table_rows(pt)
    indicators = {r["rhs"] for r in rows if r["op"] == "=~"}
    for r in rows:  # y ~ x with x continuous and observed: lavaan's conditional.x = TRUE
        if r["op"] == "~" and r["rhs"] in ov and r["rhs"] not in ordered and r["rhs"] not in indicators:
            raise OptionError(f"line {r['line']}: {r['lhs']} ~ {r['rhs']}: a continuous observed predictor with "
                              f"ordered items is supported as a fixed.x covariate only (lavaan's conditional.x; "
                              f"here fixed_x is False or {r['rhs']} is not exogenous; docs/ordinal.md)")
    if getattr(pt, "ov_x", None):
        raise OptionError(f"observed exogenous covariates ({', '.join(pt.ov_x)}) are not supported yet with "
                          "ordered items (lavaan's conditional.x = TRUE; docs/ordinal.md)")
    if any(r["group"] > 1 for r in rows):
        raise OptionError("a multiple-group table with ordered items: fit it with group= (smsem.fit(..., group=...), "
                          "categorical/multigroup.py), not fit_ordinal")
    bad = [r for r in rows if r["op"] not in _ENGINE_OPS + (":=",)]
    if bad:
        r = bad[0]
        raise OptionError(f"{r['lhs']} {r['op']} {r['rhs']}: constraints (==, <, >) and mean-structure rows are "
                          "not supported yet with ordered items")
    labels = [r["label"] for r in rows if r["label"]]
    if len(labels) != len(set(labels)):
        raise OptionError("shared labels (equality constraints) are not supported yet with ordered items")
    lv = set(pt.lv)
    for r in rows:
        if r["op"] == "~" and (r["lhs"] not in lv or r["rhs"] not in lv):
            raise OptionError(f"{r['lhs']} ~ {r['rhs']}: regressions on or of observed ordinal items are not "
                              "supported yet (only paths among latent variables)")
        if r["op"] == "=~" and r["lhs"] not in lv:
            raise OptionError(f"{r['lhs']} =~ {r['rhs']}: not supported with ordered items")
        if r["op"] == "=~" and r["rhs"] in cont and (r["lhs"] not in lv):
            raise OptionError(f"{r['lhs']} =~ {r['rhs']}: not supported with ordered items")
        if r["op"] == "~~" and r["lhs"] in ordered and r["lhs"] == r["rhs"] and r["user"] == 1 and r["free"] > 0:
            raise OptionError(f"{r['lhs']} ~~ {r['lhs']}: a free residual variance of an ordinal item is not "
                              "identified in the delta parameterization")


def ordinal_table(pt: Any, nth: dict[str, int], ordinal: Sequence[str] | None = None) -> pd.DataFrame:
    """lavaan's ``parTable()`` of ``sem(..., ordered = TRUE)`` (delta) from the continuous table.

    ``nth``: number of thresholds of every ordinal item (in ``pt.ov`` order). Rows: the user's
    rows, the thresholds ``item | t1 ...`` (items in ``pt.ov`` order), the other automatic
    rows (the residual variances of the items fixed, ``ustart`` 1), ``item ~*~ item`` (fixed
    1), ``item ~1`` and ``latent ~1`` (fixed 0); ``free`` numbered 1.. in table order.
    """
    df = pt.df.reset_index(drop=True)
    auto = np.flatnonzero(df["user"].to_numpy() == 0)
    cut = int(auto[0]) if len(auto) else len(df)
    defs = df[df["op"] == ":="].copy()  # lavaan: the := rows come last
    df = df[df["op"] != ":="].reset_index(drop=True)
    auto = np.flatnonzero(df["user"].to_numpy() == 0)
    cut = int(auto[0]) if len(auto) else len(df)
    head, tail = df.iloc[:cut].copy(), df.iloc[cut:].copy()
    cols = list(df.columns)

    def row(lhs, op, rhs, free, ustart):
        r = {c: None for c in cols}
        r.update(id=0, lhs=lhs, op=op, rhs=rhs, user=0, block=1, group=1, free=free, ustart=ustart, exo=0,
                 label="", plabel="", start=np.nan, line=0)
        return r

    th = pd.DataFrame([row(v, "|", f"t{k + 1}", 1, np.nan) for v in pt.ov for k in range(nth[v])], columns=cols)
    ords = set(nth) if ordinal is None else set(ordinal)  # the other observed variables are continuous
    is_res = (tail["op"] == "~~") & (tail["lhs"] == tail["rhs"]) & tail["lhs"].isin(ords)
    tail.loc[is_res, "free"] = 0
    tail.loc[is_res, "ustart"] = 1.0
    hres = (head["op"] == "~~") & (head["lhs"] == head["rhs"]) & head["lhs"].isin(ords) & (head["free"] == 0)
    head.loc[hres & head["ustart"].isna(), "ustart"] = 1.0
    scal = pd.DataFrame([row(v, "~*~", v, 0, 1.0) for v in pt.ov if v in ords], columns=cols)
    # lavaan: the intercepts of continuous variables are free (their means are statistics)
    means = pd.DataFrame([row(v, "~1", "", 0, 0.0) if v in ords or v in pt.lv else row(v, "~1", "", 1, np.nan)
                          for v in list(pt.ov) + list(pt.lv)], columns=cols)
    out = pd.concat([head, th, tail, scal, means, defs], ignore_index=True)
    free = out["free"].to_numpy().astype(int)
    out["free"] = np.where(free > 0, np.cumsum(free > 0), 0)
    out["id"] = np.arange(1, len(out) + 1)
    out["plabel"] = [f".p{i}." for i in out["id"]]
    for c in ("user", "block", "group", "exo", "line"):
        out[c] = out[c].astype(int)
    return out


class _Engine:
    """sigma(theta), its Jacobian and the parameter layout (theta in lavaan's free order)."""

    def __init__(self, pt: Any, table: pd.DataFrame, obs_names: Sequence[str], theta_param: bool = False):
        from ...model.partable import ParTable

        eng = table[table["op"].isin(_ENGINE_OPS + (":=",))].reset_index(drop=True)
        self.ept = ParTable(eng, pt._names, False, pt.options)
        self.pm = param_map_from_table(self.ept, collapse=False)
        ov = list(self.pm.base.observed)
        pos = {v: i for i, v in enumerate(ov)}
        # lavaan's WLS.obs: thresholds and means of continuous variables ("x~1") in data order,
        # the variances of the continuous variables ("x~~x"), then the correlations/covariances
        th_names = [n for n in obs_names if "|t" in n or n.endswith("~1")]
        var_names = [n for n in obs_names if "~~" in n and n.split("~~")[0] == n.split("~~")[1]]
        cor_names = [n for n in obs_names if "~~" in n and n.split("~~")[0] != n.split("~~")[1]]
        self.nuni = len(th_names)
        self.nth = len(th_names) + len(var_names)  # the rows before the correlations
        self.vi = np.array([pos[n.split("~~")[0]] for n in var_names], dtype=int)
        self.r = np.array([pos[n.split("~~")[0]] for n in cor_names])
        self.c = np.array([pos[n.split("~~")[1]] for n in cor_names])
        self.th_item = np.array([pos[n.split("|")[0] if "|" in n else n[:-2]] for n in th_names], dtype=int)
        self.mixed = bool(len(var_names))
        # every cell of every free parameter, by matrix: (rows i, cols j, indicator cells x params)
        self._cells = {}
        for mcode in range(4):
            cells = [(k, i, j) for k, locs in enumerate(self.pm.locations) for m, i, j in locs if m == mcode]
            g = np.zeros((len(cells), self.pm.n_free))
            for q, (k, _, _) in enumerate(cells):
                g[q, k] = 1.0
            self._cells[mcode] = (np.array([c[1] for c in cells], dtype=int),
                                  np.array([c[2] for c in cells], dtype=int), g)
        self.theta_param = theta_param
        # lavaan's free vector -> (structural parameter k | threshold j)
        free_rows = table[table["free"] > 0]
        self.npar = len(free_rows)
        self.struct_idx, self.struct_pos, self.th_idx, self.th_pos = [], [], [], []
        self.th_sign = np.ones(self.npar)  # -1 for the intercepts of continuous variables
        th_pos = {n: j for j, n in enumerate(th_names)}
        for _, r in free_rows.iterrows():
            f = int(r["free"]) - 1
            if r["op"] == "|":
                self.th_idx.append(f)
                self.th_pos.append(th_pos[f"{r['lhs']}|{r['rhs']}"])
            elif r["op"] == "~1":  # a continuous variable's intercept: lavaan's statistic is -mean
                self.th_idx.append(f)
                self.th_pos.append(th_pos[f"{r['lhs']}~1"])
                self.th_sign[f] = -1.0
            else:
                self.struct_idx.append(f)
                self.struct_pos.append(self.pm.aliases[(r["lhs"], r["op"], r["rhs"])])
        if len(self.struct_idx) != self.pm.n_free:
            raise SpecError("the ordinal table and the engine disagree on the free parameters")
        self.ov = ov

    def split(self, theta):
        ts = np.empty(self.pm.n_free)
        ts[self.struct_pos] = theta[self.struct_idx]
        tau = np.empty(self.nuni)
        tau[self.th_pos] = theta[self.th_idx] * self.th_sign[self.th_idx]
        return ts, tau

    def sigma(self, theta):
        ts, tau = self.split(theta)
        cov = self.pm.matrices_at(ts).implied_cov
        if not self.theta_param:
            return np.concatenate([tau, cov[self.vi, self.vi], cov[self.r, self.c]])
        # theta parameterization: y* has variance diag(Sigma); lavaan's delta = 1/sd
        sd = np.sqrt(np.diag(cov))
        return np.concatenate([tau / sd[self.th_item], cov[self.r, self.c] / (sd[self.r] * sd[self.c])])

    def cov_jacobian(self, mx, rr, cc):
        """``dSigma[rr, cc] / dtheta`` (len(rr), n_free) for the cells (rr, cc), in ParamMap order;
        the formulas of :func:`smsem.estimate.ml.sigma_jacobian`, vectorized over parameters."""
        binv = np.linalg.inv(np.eye(len(mx.inner)) - mx.beta)
        lb = mx.lambda_ @ binv
        lc = mx.lambda_ @ (binv @ mx.psi @ binv.T)
        out = np.zeros((len(rr), self.pm.n_free))
        i, j, g = self._cells[0]  # beta
        if len(i):
            out += (lb[rr][:, i] * lc[cc][:, j] + lb[cc][:, i] * lc[rr][:, j]) @ g
        i, j, g = self._cells[1]  # lambda
        if len(i):
            out += ((rr[:, None] == i) * lc[cc][:, j] + (cc[:, None] == i) * lc[rr][:, j]) @ g
        i, j, g = self._cells[2]  # psi (both triangles listed)
        if len(i):
            out += (lb[rr][:, i] * lb[cc][:, j]) @ g
        i, j, g = self._cells[3]  # theta
        if len(i):
            out += ((rr[:, None] == i) & (cc[:, None] == j)).astype(float) @ g
        return out

    def jacobian(self, theta):
        ts, tau = self.split(theta)
        mx = self.pm.matrices_at(ts)
        d = np.zeros((self.nth + len(self.r), self.npar))
        joff = self.cov_jacobian(mx, self.r, self.c)[:, self.struct_pos]
        if not self.theta_param:
            d[self.nth:, self.struct_idx] = joff
            if len(self.vi):
                d[self.nuni:self.nth, self.struct_idx] = self.cov_jacobian(mx, self.vi, self.vi)[:, self.struct_pos]
            d[self.th_pos, self.th_idx] = self.th_sign[self.th_idx]
            return d
        cov = mx.implied_cov
        var = np.diag(cov)
        sd = np.sqrt(var)
        p = len(var)
        ar = np.arange(p)
        dvar = self.cov_jacobian(mx, ar, ar)[:, self.struct_pos] / var[:, None]  # (p, k): dvar / var
        cor = cov[self.r, self.c] / (sd[self.r] * sd[self.c])
        d[self.nth:, self.struct_idx] = (joff / (sd[self.r] * sd[self.c])[:, None]
                                         - 0.5 * cor[:, None] * (dvar[self.r] + dvar[self.c]))
        tstd = tau / sd[self.th_item]
        d[:self.nth, self.struct_idx] = -0.5 * tstd[:, None] * dvar[self.th_item]
        d[self.th_pos, self.th_idx] = 1.0 / sd[self.th_item][self.th_pos]
        return d

    def delta(self, theta):
        """lavaan's scaling factors ``1 / sd(y*)`` (1 in the delta parameterization)."""
        ts, _ = self.split(theta)
        return 1.0 / np.sqrt(np.diag(self.pm.matrices_at(ts).implied_cov))

    def matrices(self, theta, ordinal):
        """The model matrices; delta: the residual variances of the items at ``1 - R^2``."""
        ts, _ = self.split(theta)
        mx = self.pm.matrices_at(ts)
        if self.theta_param:
            return mx
        th = mx.theta.copy()
        common = np.diag(mx.lambda_ @ mx.inner_cov @ mx.lambda_.T)
        for i, v in enumerate(self.ov):
            if v in ordinal:
                th[i, i] = 1.0 - common[i]
        import dataclasses

        return dataclasses.replace(mx, theta=th)


def _row_values(eng: "_Engine", theta: np.ndarray, table: pd.DataFrame, ordinal: set):
    """est, std.all and std.lv of every non-``:=`` row of the ordinal table at ``theta``."""
    from ..standardized import standardize_cells

    mx = eng.matrices(theta, ordinal)
    scale = dict(zip(eng.ov, eng.delta(theta))) if eng.theta_param else dict.fromkeys(eng.ov, 1.0)
    rows = list(eng.pm.rows)
    std_all, std_lv = standardize_cells(mx, rows, eng.pm.row_locations)
    std = {k: (sa, sl) for k, sa, sl in zip(rows, std_all, std_lv)}
    mats = (mx.beta, mx.lambda_, mx.psi, mx.theta)
    cells = dict(zip(rows, eng.pm.row_locations))
    est_v, sa_v, sl_v = [], [], []
    for lhs, op, rhs, f, ustart in zip(table["lhs"], table["op"], table["rhs"], table["free"], table["ustart"]):
        if op == ":=":
            continue
        key = (lhs, op, rhs)
        if key in cells:
            m, i, j = cells[key]
            est = float(mats[m][i, j])
            sa, sl = std[key]
        elif op == "|":
            est = sl = float(theta[int(f) - 1])  # lavaan: std.lv = est, std.all = est / sd(y*)
            sa = est * scale[lhs]
        elif op == "~*~":  # lavaan: std.lv = est, std.all = 1
            est = sl = float(scale[lhs])
            sa = 1.0
        elif f > 0:  # the free intercept of a continuous variable (lavaan: std.all = est / sd)
            est = sl = float(theta[int(f) - 1])
            i = eng.ov.index(lhs)
            sa = est / np.sqrt(float(np.diag(mx.implied_cov)[i]))
        else:  # ~1 rows
            est = sa = sl = float(ustart)
        est_v.append(est)
        sa_v.append(float(sa))
        sl_v.append(float(sl))
    if hasattr(eng, "adjust_std"):  # the covariate model's std.all of thresholds and covariate means
        return eng.adjust_std(theta, table, np.array(est_v), np.array(sa_v), np.array(sl_v), mx)
    return np.array(est_v), np.array(sa_v), np.array(sl_v)


def standardized_solution(res, level: float = 0.95) -> pd.DataFrame:
    """lavaan's ``standardizedSolution()`` of an ordinal fit: std.all and std.lv with delta-method
    SEs (central differences of the standardized values in lavaan's free parameters; ``:=`` rows
    evaluated at the standardized free rows, as lavaan)."""
    from ..standardized import STD_COLUMNS, _inference

    info = res._ordinal
    eng, table, theta, vcov = info["engine"], res.ordinal_table, res.start, res.vcov
    has_def = bool((table["op"] == ":=").any())
    dstd = _DefinedStd(eng, info["ordinal"]) if has_def else None

    def values(t):
        _, sa, sl = _row_values(eng, t, table, info["ordinal"])
        if has_def:
            da, dl = dstd(t)
            sa = np.concatenate([sa, da])
            sl = np.concatenate([sl, dl])
        return np.concatenate([sa, sl])

    v0 = values(theta)
    jac = np.zeros((len(v0), len(theta)))
    for k in range(len(theta)):
        h = 1e-6 * max(1.0, abs(theta[k]))
        tp, tm = theta.copy(), theta.copy()
        tp[k] += h
        tm[k] -= h
        jac[:, k] = (values(tp) - values(tm)) / (2 * h)
    cov = jac @ vcov @ jac.T
    m = len(v0) // 2
    a = _inference(v0[:m], cov[:m, :m], level)
    b = _inference(v0[m:], cov[m:, m:], level)
    p = res.params
    out = pd.DataFrame({"lhs": p.lhs, "op": p.op, "rhs": p.rhs, "std_all": v0[:m], "std_all_se": a[0],
                        "std_all_z": a[1], "std_all_pvalue": a[2], "std_all_ci_lower": a[3],
                        "std_all_ci_upper": a[4], "std_lv": v0[m:], "std_lv_se": b[0], "std_lv_z": b[1],
                        "std_lv_pvalue": b[2], "std_lv_ci_lower": b[3], "std_lv_ci_upper": b[4]})
    return out[STD_COLUMNS]


def _defined(eng: "_Engine", theta: np.ndarray, vcov: np.ndarray, mx) -> pd.DataFrame:
    """lavaan's ``:=`` rows (value, delta-method SE, std.all/std.lv at the standardized free rows)
    by smsem's ML code, on the structural parameters (thresholds cannot be labelled)."""
    import dataclasses

    from ..results import _defined_rows

    pm = eng.pm
    # the base matrices carry the fitted residual variances (delta: 1 - R^2), so std.all is right
    pm_fit = dataclasses.replace(pm, base=dataclasses.replace(pm.base, theta=mx.theta.copy()))
    ts, _ = eng.split(theta)
    v = np.zeros((pm.n_free, pm.n_free))
    si, sp_ = np.asarray(eng.struct_idx), np.asarray(eng.struct_pos)
    v[np.ix_(sp_, sp_)] = vcov[np.ix_(si, si)]
    out = _defined_rows(eng.ept, pm_fit, ts, v)
    return out


class _DefinedStd:
    """std.all and std.lv of the ``:=`` rows at ``theta``: the definitions evaluated at the
    standardized free rows, as :func:`_defined` (lavaan), with the table work done once (a
    bootstrap or a numerical Jacobian evaluates it many times)."""

    def __init__(self, eng: "_Engine", ordinal: set):
        from .. import constraints
        from ..matrices import table_rows

        pt = eng.ept
        _, _, defs = constraints.constraints_from_table(pt.df)
        self.full = constraints._expand(defs)
        self.names = tuple(self.full)
        self.params = constraints.ParameterMap.from_table(pt.df)
        rows = list(table_rows(pt))
        self.nx = max([int(r["free"]) for r in rows] + [0])
        self.slots = [(int(r["free"]) - 1, (r["lhs"], r["op"], r["rhs"])) for r in rows
                      if r["op"] in ("=~", "~", "~~", "~1") and r["free"] > 0]
        self.eng, self.ordinal = eng, ordinal

    def __call__(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from ..standardized import standardize_cells

        eng = self.eng
        rows = list(eng.pm.rows)
        sa, sl = standardize_cells(eng.matrices(theta, self.ordinal), rows, eng.pm.row_locations)
        a, b = dict(zip(rows, sa)), dict(zip(rows, sl))
        xa, xb = np.zeros(self.nx), np.zeros(self.nx)
        for f, k in self.slots:
            xa[f], xb[f] = a[k], b[k]
        va, vb = self.params.values(xa), self.params.values(xb)
        return (np.array([float(self.full[n].evaluate(va)) for n in self.names]),
                np.array([float(self.full[n].evaluate(vb)) for n in self.names]))


def _marker_starts(eng: _Engine, start: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Start values of a factor with a marker loading fixed at 1 from the polychorics: its
    variance ``phi = median(r_mj r_mk / r_jk)`` over pairs of its other indicators (at least
    0.05), loadings ``r_jm / phi`` (the one-factor model's moments); a user's ``start()`` or a
    free row's ``ustart`` keeps its value. Without two other indicators: the default start."""
    pm = eng.pm
    out = start.copy()
    lam = pm.base.lambda_
    user = {(r["lhs"], r["op"], r["rhs"]) for r in table_rows(eng.ept)
            if np.isfinite(r["start"]) or (r["free"] > 0 and np.isfinite(r["ustart"]))}
    obs = list(pm.base.observed)
    for f, lv in enumerate(pm.base.inner):
        if lv not in set(pm.base.latent_names):
            continue
        markers = [i for i in range(len(obs)) if lam[i, f] == 1.0]
        free = {}
        for k, locs in enumerate(pm.locations):
            for m, i, j in locs:
                if m == 1 and j == f and pm.names[k] not in user:
                    free[i] = k
        try:
            kv = pm.index(lv, "~~", lv)
        except KeyError:
            continue
        if len(markers) != 1 or len(free) < 2 or pm.names[kv] in user:
            continue
        mk = markers[0]
        others = sorted(free)
        ratios = [R[mk, a] * R[mk, b] / R[a, b] for ia, a in enumerate(others) for b in others[ia + 1:]
                  if abs(R[a, b]) > 1e-3]
        ratios = [x for x in ratios if np.isfinite(x) and x > 0]
        if not ratios:
            continue
        phi = float(np.clip(np.median(ratios), 0.05, 1.0))
        out[kv] = phi
        for i in others:
            out[free[i]] = float(np.clip(R[i, mk] / phi, -5.0, 5.0))
    return out


class _Weight:
    """lavaan's WLS.V: a vector for DWLS and ULS (its diagonal), a matrix for WLS."""

    def __init__(self, kind: str, gamma: np.ndarray):
        if kind == "DWLS":
            self.diag, self.mat = 1.0 / np.diag(gamma), None
        elif kind == "ULS":
            self.diag, self.mat = np.ones(len(gamma)), None
        else:
            self.diag, self.mat = None, np.linalg.inv(gamma)
        self.half_ = np.sqrt(self.diag) if self.diag is not None else np.linalg.cholesky(self.mat).T

    def mul(self, x):
        """``W @ x``."""
        if self.mat is not None:
            return self.mat @ x
        return self.diag[:, None] * x if np.ndim(x) == 2 else self.diag * x

    def half(self, x):
        """``W^1/2 @ x`` with ``W = W^1/2' W^1/2``."""
        if self.mat is not None:
            return self.half_ @ x
        return self.half_[:, None] * x if np.ndim(x) == 2 else self.half_ * x

    def full(self):
        return self.mat if self.mat is not None else np.diag(self.diag)


def _traces(delta, w: _Weight, gamma):
    """``tr(U Gamma)`` and ``tr((U Gamma)^2)`` with ``U = W - W D (D'WD)^-1 D'W``."""
    wd = w.mul(delta)
    wg = w.mul(gamma)
    ug = wg - wd @ np.linalg.solve(delta.T @ wd, wd.T @ gamma)
    return float(np.trace(ug)), float(np.sum(ug * ug.T))


def _adjusted(chi2, df, tr1, tr2, test):
    """(statistic, df, scaling factor, shift) of lavaan's scaled.shifted / mean.var.adjusted test."""
    if test == "scaled.shifted":
        a = np.sqrt(df / tr2)
        shift = df - a * tr1
        return a * chi2 + shift, df, 1.0 / a, shift
    dfs = tr1 * tr1 / tr2
    c = tr1 / dfs
    return chi2 / c, dfs, c, 0.0


def _rmsea(chi2, df, n):
    if df <= 0:
        return 0.0
    return float(np.sqrt(max(chi2 / (n * df) - 1.0 / n, 0.0)))


def _cfi(t, df, tb, dfb):
    num = max(t - df, 0.0)
    den = max(t - df, tb - dfb, 0.0)
    return 1.0 if den == 0 else 1.0 - num / den


def _tli(t, df, tb, dfb):
    if df <= 0:
        return 1.0
    return (tb / dfb - t / df) / (tb / dfb - 1.0)


def _robust_indices(fi: dict, *, s, sigma, d, w: "_Weight", gamma, nth: int, p: int, n: float, df: float,
                    df_b: float, R: np.ndarray) -> None:
    """lavaan 0.6.14's ``cfi.robust``, ``tli.robust``, ``rmsea.robust`` (+ CI, p-values) for
    categorical data (Savalei 2021; ``lav_fit_catml_dwls``): the ML discrepancy between the
    polychoric matrix and the implied correlations at the DWLS estimates (``lav_object_catml``,
    N = nobs), scaled by ``c = tr(U' V U Gamma) / df`` with ``V`` the expected ML information of
    the correlations at the implied matrix and ``U = I - Delta (D'WD)^-1 Delta' W`` (correlation
    rows); the baseline's ``c = tr(Gamma) / df_b``. lavaan gives NA when the polychoric matrix is
    not positive definite (an eigenvalue below sqrt(eps)); so does smsem.
    """
    from .. import fitindices as fitidx

    names = ("cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust", "rmsea_ci_upper_robust",
             "rmsea_pvalue_robust")
    if df <= 0 or np.min(np.linalg.eigvalsh(R)) < np.sqrt(np.finfo(float).eps):
        fi.update({k: float("nan") for k in names})
        return
    il, jl = _vechs_index(p)
    S_hat = np.eye(p)
    S_hat[il, jl] = S_hat[jl, il] = sigma[nth:]
    try:
        sinv = np.linalg.inv(S_hat)
        ld_s = np.linalg.slogdet(S_hat)
        ld_r = np.linalg.slogdet(R)
        if ld_s[0] <= 0:
            raise np.linalg.LinAlgError
    except np.linalg.LinAlgError:
        fi.update({k: float("nan") for k in names})
        return
    f_ml = ld_s[1] + float(np.sum(R * sinv)) - ld_r[1] - p
    xx3 = n * f_ml  # catML: 2 N fmin, fmin = F/2, N = nobs (ML's likelihood = "normal")
    xx3_b = -n * ld_r[1]  # independence: Sigma = I
    # V: 0.5 D_cor' (Sinv x Sinv) D_cor = s_ik s_jl + s_il s_jk
    V = sinv[np.ix_(il, il)] * sinv[np.ix_(jl, jl)] + sinv[np.ix_(il, jl)] * sinv[np.ix_(jl, il)]
    e_inv = np.linalg.inv(d.T @ w.mul(d))
    dc = d[nth:]
    wc = w.full()[nth:, nth:]
    gc = gamma[nth:, nth:]
    wiu = np.eye(len(dc)) - dc @ e_inv @ dc.T @ wc
    c3 = float(np.trace(wiu.T @ V @ wiu @ gc)) / df
    c3_b = float(np.trace(gc)) / df_b
    t1 = max(xx3 - c3 * df, 0.0)
    t2 = max(xx3 - c3 * df, xx3_b - c3_b * df_b, 0.0)
    fi["cfi_robust"] = 1.0 if (abs(t1) < 1e-8 and abs(t2) < 1e-8) else 1.0 - t1 / t2
    t1 = (xx3 - c3 * df) * df_b
    t2 = (xx3_b - c3_b * df_b) * df
    fi["tli_robust"] = 1.0 - t1 / t2 if abs(t2) > 0 else 1.0
    nn = n - 1.0  # lavaan: N - 1 for the DWLS object's RMSEA
    fi["rmsea_robust"] = fitidx.rmsea(xx3, df, nn, c_hat=c3)
    fi["rmsea_ci_lower_robust"], fi["rmsea_ci_upper_robust"] = fitidx.rmsea_ci(xx3 / c3, df, nn, c_hat=c3)
    fi["rmsea_pvalue_robust"] = fitidx.rmsea_pvalue(xx3 / c3, df, nn, c_hat=c3)


def _vechs_index(p: int):
    """Row and column of lavaan's ``vech(., diagonal = FALSE)``: (2,1), (3,1), ..., (p,1), (3,2), ..."""
    il, jl = [], []
    for j in range(p):
        for i in range(j + 1, p):
            il.append(i)
            jl.append(j)
    return np.array(il, int), np.array(jl, int)


def _results_class():
    """:class:`OrdinalFitResults`, defined on first use (smsem.estimate.results imports late)."""
    global OrdinalFitResults
    if "OrdinalFitResults" in globals():
        return OrdinalFitResults
    from dataclasses import dataclass, field

    from ..results import FitResults

    @dataclass(frozen=True)
    class OrdinalFitResults(FitResults):
        """:class:`~smsem.estimate.results.FitResults` of an ordinal fit.

        ``start`` and ``vcov`` follow lavaan's free vector (``ordinal_table.free``, thresholds
        included); ``param_map`` is None. Extra attributes: ``ordinal_table`` (lavaan's
        ``parTable()`` with est and se), ``sample_stats`` (thresholds, polychorics, NACOV,
        weights), ``parameterization``.
        """

        ordinal_table: pd.DataFrame | None = field(default=None, repr=False)
        sample_stats: Any = field(default=None, repr=False)
        parameterization: str = "delta"
        _ordinal: dict | None = field(default=None, repr=False)

        @property
        def standardized(self) -> pd.DataFrame:
            """lavaan's ``standardizedSolution()`` (delta-method SEs), see :func:`standardized_solution`."""
            return standardized_solution(self)

        @property
        def fit_table(self) -> pd.DataFrame:
            fi = self.fit_indices
            return pd.DataFrame([(label, fi[k]) for k, label in _FIT_ROWS if k in fi], columns=["index", "value"])

    globals()["OrdinalFitResults"] = OrdinalFitResults
    return OrdinalFitResults


def fit_ordinal(model: Any, data: pd.DataFrame, *, ordered: Any = True, estimator: str = "WLSMV",
                missing: str = "listwise", parameterization: str = "delta", **table_options: Any):
    """Fit ``model`` with ordinal indicators as lavaan's ``sem(..., ordered = ordered, estimator = estimator)``.

    Parameters
    ----------
    ordered : True, "all" or list of str
        The ordinal items (every observed variable of the model must be one).
    estimator : {"WLSMV", "DWLS", "ULSMV", "ULS", "WLS"}, default="WLSMV"
    missing : {"listwise", "pairwise"}, default="listwise"
        lavaan's default with ordered items is listwise deletion; ``"pairwise"`` uses every
        available pair for the polychorics (lavaan's ``missing = "pairwise"``).

    Returns
    -------
    FitResults
        ``params`` with the threshold rows, ``fit_indices`` with lavaan's names in
        smsem's spelling (``chi2``, ``chi2_scaled``, ``cfi_scaled``, ...), ``vcov`` in
        lavaan's free order (``partable`` free 1..npar).
    """
    from ..._threads import single_thread

    # One BLAS thread: the matrices are small (a few hundred statistics), and on a busy
    # machine threaded BLAS was 10x slower here; the bits also do not depend on the pool.
    with single_thread():
        return _fit_ordinal(model, data, ordered=ordered, estimator=estimator, missing=missing,
                            parameterization=parameterization, **table_options)


def _fit_ordinal(model: Any, data: pd.DataFrame, *, ordered: Any, estimator: str, missing: str,
                 parameterization: str, **table_options: Any):

    estimator = str(estimator).upper()
    options = {k: v for k, v in table_options.items() if v is not None}  # None: the table's default
    pt = model.table(**options) if callable(getattr(model, "table", None)) else model
    if getattr(pt, "ov_x", None):
        from .conditional import fit_conditional  # observed covariates: lavaan's conditional.x = TRUE

        return fit_conditional(model, data, pt, ordered=ordered, estimator=estimator, missing=missing,
                               parameterization=parameterization, options=options)
    ov = list(pt.ov)
    ordinal = _ordered_names(ordered, ov)
    check_supported(pt, ordinal, estimator=estimator, missing=missing, parameterization=parameterization)
    absent = [c for c in ov if c not in data.columns]
    if absent:
        raise DataError(f"the data lack the column(s) {', '.join(absent)} named in the model")
    x = data[ov]
    dropped = 0
    if missing == "listwise":
        keep = x.notna().all(axis=1)
        dropped = int((~keep).sum())
        if dropped:
            warnings.warn(f"{dropped} row(s) with missing answers were dropped (listwise deletion, lavaan's "
                          "default; missing='pairwise' keeps them)", stacklevel=4)
        x = x[keep].reset_index(drop=True)
    ss = sample_stats(x, ordered=True if len(ordinal) == len(ov) else list(ordinal), missing=missing)
    n = float(ss.nobs)
    s = ss.wls_obs.to_numpy()
    gamma = ss.nacov.to_numpy()
    nth = {v: 0 for v in ov}
    for nm in ss.wls_obs.index:
        if "|t" in nm:
            nth[nm.split("|")[0]] += 1
    table = ordinal_table(pt, nth, ordinal)
    eng = _Engine(pt, table, list(ss.wls_obs.index), theta_param=parameterization == "theta")
    if eng.ov != ov:
        raise SpecError("internal: the observed variables are not in the table's order")
    wkind, test = ORDINAL_ESTIMATORS[estimator]
    w = _Weight(wkind, gamma)

    # start: lavaan-like simple values on the polychoric matrix; thresholds at the sample ones
    R = ss.cor.loc[ov, ov].to_numpy()
    if eng.mixed:  # start values from the covariances (continuous variables keep their variances)
        cv = pd.DataFrame(ss.two_step.cov(), index=ss.two_step.names, columns=ss.two_step.names)
        R = cv.loc[ov, ov].to_numpy()
    ts0 = _marker_starts(eng, start_values(eng.ept, eng.pm, np.zeros(len(ov)), R), R)
    theta0 = np.empty(eng.npar)
    theta0[eng.struct_idx] = ts0[eng.struct_pos]
    theta0[eng.th_idx] = s[:eng.nth][eng.th_pos] * eng.th_sign[eng.th_idx]
    if eng.theta_param:  # thresholds on the y* scale of the start values
        ts_, _ = eng.split(theta0)
        sd0 = np.sqrt(np.diag(eng.pm.matrices_at(ts_).implied_cov))
        theta0[eng.th_idx] = (s[:eng.nth] * sd0[eng.th_item])[eng.th_pos]

    def resid(t):
        return w.half(s - eng.sigma(t))

    def jac(t):
        return -w.half(eng.jacobian(t))

    sol = optimize.least_squares(resid, theta0, jac=jac, method="lm", xtol=1e-14, ftol=1e-14, gtol=1e-14,
                                 max_nfev=2000)
    theta = sol.x
    # polish with Gauss-Newton steps (the optimum to machine precision)
    e = s - eng.sigma(theta)
    f_old = float(e @ w.mul(e))
    for _ in range(20 if sol.status > 0 else 0):
        d = eng.jacobian(theta)
        step = np.linalg.solve(d.T @ w.mul(d), d.T @ w.mul(e))
        e_new = s - eng.sigma(theta + step)
        f_new = float(e_new @ w.mul(e_new))
        if not f_new <= f_old * (1 + 1e-12):
            break
        theta, e, f_old = theta + step, e_new, f_new
        if np.max(np.abs(step)) < 1e-12:
            break
    e = s - eng.sigma(theta)
    d = eng.jacobian(theta)
    grad = d.T @ w.mul(e)
    converged = bool(sol.status > 0 and np.max(np.abs(grad)) < 1e-6)
    if not converged:
        warnings.warn(f"the {estimator} fit did not converge ({sol.message}); estimates may be unreliable",
                      ConvergenceWarning, stacklevel=4)
    fmin = float(e @ w.mul(e))
    chi2 = (n - 1.0) * fmin  # lavaan: fmin = (N-1)/N F/2 and chi2 = 2 N fmin
    nstat = len(s)
    df = float(nstat - eng.npar)
    wd = w.mul(d)
    a = d.T @ wd
    a_inv = np.linalg.inv(a)
    if test == "standard":  # lavaan's se = "standard" for DWLS, ULS, WLS: (D'WD)^-1 / (N-1)
        vcov = a_inv / (n - 1.0)
    else:
        vcov = a_inv @ (wd.T @ gamma @ wd) @ a_inv / (n - 1.0)

    # baseline: thresholds free, correlations 0 (a linear model)
    db = np.zeros((nstat, eng.nth))
    db[np.arange(eng.nth), np.arange(eng.nth)] = 1.0
    tb = np.linalg.solve(db.T @ w.mul(db), db.T @ w.mul(s))
    if eng.mixed and np.any(tb[eng.nuni:eng.nth] < 0):  # lavaan bounds the baseline's variances at 0
        lb = np.full(eng.nth, -np.inf)
        lb[eng.nuni:] = 0.0
        tb = optimize.lsq_linear(w.half(db), w.half(s), bounds=(lb, np.inf), method="bvls", tol=1e-15).x
    eb = s - db @ tb
    chi2_b = (n - 1.0) * float(eb @ w.mul(eb))
    df_b = float(nstat - eng.nth)
    fi = fit_measures(chi2, df, chi2_b, df_b, n, fmin, eng.npar, wkind, test, d, db, w, gamma)
    if test != "standard" and df > 0:
        if test == "scaled.shifted" and eng.mixed:  # lavaan: NA with continuous variables
            fi.update({k: float("nan") for k in ("cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust",
                                                 "rmsea_ci_upper_robust", "rmsea_pvalue_robust")})
        elif test == "scaled.shifted":  # lavaan's robust indices (its robust.flag: scaled.shifted tests)
            _robust_indices(fi, s=s, sigma=eng.sigma(theta), d=d, w=w, gamma=gamma, nth=eng.nth, p=len(ov), n=n,
                            df=df, df_b=df_b, R=R)
    # SRMR (lavaan's srmr for categorical data: the correlation residuals, diagonal included)
    p = len(ov)
    rc = e[eng.nth:]
    if eng.mixed:  # lavaan: standardized by the sample variances (1 for the ordinal items); the
        var = np.ones(p)  # diagonal counts with residual 0 (also for a continuous variable's variance)
        var[eng.vi] = s[eng.nuni:eng.nth]
        rc = rc / np.sqrt(var[eng.r] * var[eng.c])
    fi["srmr"] = float(np.sqrt(np.sum(rc * rc) / (p * (p + 1) / 2)))

    mx = eng.matrices(theta, set(ordinal))
    neg = [v for v, t in zip(eng.ov, np.diag(mx.theta)) if t < 0]
    neg += [v for v, t in zip(mx.inner, np.diag(mx.psi)) if t < 0 and v in set(mx.latent_names)]
    warn_negative_variances(neg)
    est_v, sa_v, sl_v = _row_values(eng, theta, table, set(ordinal))
    params = params_table(table, est_v, sa_v, sl_v, vcov)
    if (table["op"] == ":=").any():
        params = pd.concat([params, _defined(eng, theta, vcov, mx)], ignore_index=True)
    table = table.assign(est=params["est"].to_numpy(), se=params["se"].fillna(0.0).to_numpy())
    OrdinalFitResults = _results_class()
    return OrdinalFitResults(model if not isinstance(model, type(pt)) else None, x, dropped, params, fi, converged,
                             mx, theta.copy(), None, vcov, estimator=estimator, missing=missing, partable=None,
                             table_options=options, ordinal_table=table, sample_stats=ss,
                             parameterization=parameterization,
                             _ordinal={"engine": eng, "weights": wkind, "test": test, "ordinal": set(ordinal)})


_FIT_ROWS = (("chi2", "chi2 (lavaan's chisq)"), ("df", "df"), ("pvalue", "p"),
             ("chi2_scaled", "chi2 scaled-shifted"), ("df_scaled", "df scaled"), ("pvalue_scaled", "p scaled"),
             ("scaling_factor", "scaling factor"), ("shift_parameter", "shift parameter"),
             ("cfi", "CFI"), ("tli", "TLI"), ("rmsea", "RMSEA"), ("rmsea_ci_lower", "RMSEA 90% CI lower"),
             ("rmsea_ci_upper", "RMSEA 90% CI upper"), ("rmsea_pvalue", "RMSEA p (<= .05)"),
             ("cfi_scaled", "CFI scaled"), ("tli_scaled", "TLI scaled"), ("rmsea_scaled", "RMSEA scaled"),
             ("rmsea_ci_lower_scaled", "RMSEA scaled 90% CI lower"), ("rmsea_ci_upper_scaled", "RMSEA scaled 90% CI upper"),
             ("rmsea_pvalue_scaled", "RMSEA scaled p (<= .05)"),
             ("cfi_robust", "CFI robust"), ("tli_robust", "TLI robust"), ("rmsea_robust", "RMSEA robust"),
             ("rmsea_ci_lower_robust", "RMSEA robust 90% CI lower"),
             ("rmsea_ci_upper_robust", "RMSEA robust 90% CI upper"),
             ("rmsea_pvalue_robust", "RMSEA robust p (<= .05)"), ("srmr", "SRMR"))


def render_ordinal(res: Any, fmt: str = "text", boot=None) -> str:
    """The fit indices and parameter table of an ordinal fit (text, markdown, csv or json).

    ``boot``: ``(percentile CI table, usable draws, draws, level)`` adds ``boot_lower`` and
    ``boot_upper`` to the free rows."""
    import json

    fi = res.fit_indices
    rows = [(label, fi[k]) for k, label in _FIT_ROWS if k in fi]
    cols = ["lhs", "op", "rhs", "est", "se", "z", "pvalue", "std_all"]
    p = res.params[cols]
    note = ""
    if boot is not None:
        ci, n_ok, n_boot, level = boot[:4]
        method = boot[4] if len(boot) > 4 else "percentile"
        key = ci.set_index(["lhs", "op", "rhs"])
        idx = list(zip(p.lhs, p.op, p.rhs))
        p = p.assign(boot_lower=[key["ci_lower"].get(k, np.nan) for k in idx],
                     boot_upper=[key["ci_upper"].get(k, np.nan) for k in idx])
        note = (f"bootstrap: {n_ok} of {n_boot} draws usable (a draw in which an item loses a category, or "
                f"whose refit fails, is dropped); {level:.0%} {method} CIs of the free parameters\n")
    if fmt == "json":
        return json.dumps({"estimator": res.estimator, "n": res.n, "converged": res.converged,
                           **({"bootstrap": {"draws": boot[2], "usable": boot[1], "level": boot[3], "ci": method}}
                              if boot is not None else {}),
                           "fit": {k: fi[k] for k, _ in _FIT_ROWS if k in fi},
                           "params": json.loads(p.to_json(orient="records"))}, indent=2) + "\n"
    if fmt == "csv":
        return p.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    head = (f"smsem {res.estimator} fit (ordinal items, {getattr(res, 'parameterization', 'delta')} "
            f"parameterization, {res.missing}): "
            f"n = {res.n}, converged = {res.converged}")
    fit_df = pd.DataFrame(rows, columns=["index", "value"])
    if fmt == "markdown":
        from ...report.fit_section import _md_table

        def cells(df, digits):
            return [[v if isinstance(v, str) else ("" if not np.isfinite(v) else f"{v:.{digits}f}")
                     for v in row] for row in df.itertuples(index=False)]

        return "\n".join([f"**{head}**", ""] + ([note.rstrip(), ""] if note else [])
                         + _md_table(list(fit_df.columns), cells(fit_df, 4)) + [""]
                         + _md_table(list(p.columns), cells(p, 3))) + "\n"
    head = head + ("\n" + note.rstrip() if note else "")
    return (head + "\n\n" + fit_df.to_string(index=False, float_format=lambda v: f"{v:.4f}") + "\n\n"
            + p.to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="") + "\n")


def warn_negative_variances(neg: list[str]) -> None:
    """The HeywoodWarning of an ordinal fit with negative (residual) variances, naming them."""
    if neg:
        from ...exceptions import HeywoodWarning

        warnings.warn(f"negative (residual) variance of {', '.join(neg)}: the solution is inadmissible",
                      HeywoodWarning, stacklevel=5)


def params_table(table: pd.DataFrame, est_v, sa_v, sl_v, vcov: np.ndarray) -> pd.DataFrame:
    """``res.params`` rows (all but ``:=``) of an ordinal fit: the table's rows with the values
    ``est_v, sa_v, sl_v``, robust SE from ``vcov`` by the ``free`` index, Wald z, p and 95% CI."""
    from ..results import PARAM_COLUMNS

    se_all = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    zcrit = stats.norm.ppf(0.975)
    out = []
    for (_, r), est, sa, sl in zip(table[table["op"] != ":="].iterrows(), est_v, sa_v, sl_v):
        f = int(r["free"])
        se = float(se_all[f - 1]) if f > 0 else float("nan")
        z = est / se if np.isfinite(se) and se > 0 else np.nan
        pv = 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else np.nan
        out.append((r["lhs"], r["op"], r["rhs"], r["label"] or "", est, se, z, pv, est - zcrit * se,
                    est + zcrit * se, float(sl), float(sa)))
    return pd.DataFrame(out, columns=PARAM_COLUMNS)


def fit_measures(chi2: float, df: float, chi2_b: float, df_b: float, n: float, fmin: float, npar: int,
                 wkind: str, test: str, d: np.ndarray, db: np.ndarray, w: Any, gamma: Any) -> dict[str, float]:
    """The fit measures every ordinal fit reports as lavaan: chi2 and its baseline, CFI, TLI,
    RMSEA (N - 1) with its CI and p, and with a robust test the scaled / scaled-shifted
    statistics (``_traces`` of the model's ``d`` and the baseline's ``db`` Jacobians) and the
    scaled indices. The robust indices and SRMR are left to the caller."""
    from .. import fitindices as fitidx

    fi: dict[str, float] = {"npar": float(npar), "fmin": 0.5 * (n - 1.0) / n * fmin, "chi2": chi2, "df": df,
                            "pvalue": float(stats.chi2.sf(chi2, df)) if df > 0 else float("nan"),
                            "baseline_chi2": chi2_b, "baseline_df": df_b,
                            "baseline_pvalue": float(stats.chi2.sf(chi2_b, df_b))}
    if wkind == "ULS":  # lavaan: the ULS statistic is not chi2-distributed, no p-value
        fi["pvalue"] = fi["baseline_pvalue"] = float("nan")
    fi["cfi"] = _cfi(chi2, df, chi2_b, df_b)
    fi["tli"] = _tli(chi2, df, chi2_b, df_b)
    fi["rmsea"] = _rmsea(chi2, df, n - 1.0)  # lavaan: N - 1 here
    if df > 0:
        fi["rmsea_ci_lower"], fi["rmsea_ci_upper"] = fitidx.rmsea_ci(chi2, df, n - 1.0)
        fi["rmsea_pvalue"] = fitidx.rmsea_pvalue(chi2, df, n - 1.0)
    if test != "standard" and df > 0:
        tr1, tr2 = _traces(d, w, gamma)
        t_s, df_s, c, shift = _adjusted(chi2, df, tr1, tr2, test)
        tr1b, tr2b = _traces(db, w, gamma)
        tb_s, dfb_s, cb, _ = _adjusted(chi2_b, df_b, tr1b, tr2b, test)
        fi.update(chi2_scaled=t_s, df_scaled=df_s, pvalue_scaled=float(stats.chi2.sf(t_s, df_s)),
                  scaling_factor=c, shift_parameter=shift, baseline_chi2_scaled=tb_s, baseline_df_scaled=dfb_s,
                  baseline_scaling_factor=cb)
        fi["cfi_scaled"] = _cfi(t_s, df_s, tb_s, dfb_s)
        fi["tli_scaled"] = _tli(t_s, df_s, tb_s, dfb_s)
        fi["rmsea_scaled"] = _rmsea(t_s, df_s, n - 1.0)
        fi["rmsea_ci_lower_scaled"], fi["rmsea_ci_upper_scaled"] = fitidx.rmsea_ci(t_s, df_s, n - 1.0)
        fi["rmsea_pvalue_scaled"] = fitidx.rmsea_pvalue(t_s, df_s, n - 1.0)
    return fi
