"""Multiple-group fits with ordinal indicators (lavaan 0.6.14's ``cfa/sem(..., ordered = TRUE,
group = g, group.equal = ..., group.partial = ...)``, delta or theta parameterization; theta: see
:func:`ordinal_group_table`).

The parameter table (:func:`ordinal_group_table`) is lavaan's ``parTable()``: every group's
block holds the user's rows, the thresholds ``item | tk`` (free), the automatic rows (the
residual variances of the items fixed at 1, reported as ``1/delta^2 - common``), the scaling
factors ``item ~*~ item`` (fixed at 1), the intercepts ``item ~1`` and the latent means (fixed
at 0); then the ``==`` rows of ``group.equal``. lavaan's consequences of ``group.equal``
(``lav_partable_flat``, 0.6.14), for groups 2..G:

- ``thresholds``: the thresholds equal across groups and the scaling factors free;
- ``thresholds`` or ``intercepts`` (and not ``means``): the latent means free;
- ``std.lv`` with ``loadings`` (and not ``lv.variances``): the latent variances free;
- ``intercepts`` and ``residuals`` constrain fixed rows only (the items' intercepts are fixed at
  0, their residual variances are not parameters in the delta parameterization): no-ops.

``wu_estabrook=True`` builds Wu & Estabrook's (2016) models instead (semTools'
``measEq.syntax(ID.cat = "Wu.Estabrook.2016")``, in marker identification): with equal
thresholds and without equal intercepts the items' intercepts and scaling factors are free in
groups 2..G and the latent means stay fixed at 0; with equal intercepts, lavaan's model above.

Each group's implied statistics (lavaan's ``computeTH``/``computeSigmaHat`` with ``delta``):
``th = Delta (tau - mu*)``, ``mu* = nu + Lambda (I-B)^-1 alpha``, the correlations
``Delta_i Delta_j Sigma*_ij``. The fit (lavaan's ``lav_model_objective``) minimises
``sum_g (n_g - 1) / N * (s_g - sigma_g)' W_g (s_g - sigma_g) / 2``; chi2 = ``sum_g (n_g - 1) F_g``.
SEs (``robust.sem``): ``E^-1 (sum_g f_g D_g' W_g Gamma_g W_g D_g) E^-1 / (N - G)`` with ``E = sum_g f_g
D_g' W_g D_g``, ``f_g = n_g / N`` (``lav_model_nvcov_robust_sem``, ``lav_model_vcov``). The scaled-shifted
test from ``U = V - V D E^-1 D' V`` with ``V = bdiag(f_g W_g)``, ``Gamma = bdiag(Gamma_g / f_g)``
(``lav_test_satorra_bentler_trace_original``). Labels and ``==`` rows between two labels are one
parameter (lavaan keeps one free index per row plus an ``==`` row; the fit and df are the same).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ...exceptions import ConvergenceWarning, DataError, OptionError, SpecError

__all__ = ["ordinal_group_table", "fit_ordinal_multigroup", "OrdinalMultiGroupFit", "difference_test"]

_GE_TABLE = ("loadings", "regressions", "lv.variances", "lv.covariances", "residual.covariances")
_GE_OWN = ("thresholds", "intercepts", "means", "residuals")
_ESTIMATORS = {"WLSMV": ("DWLS", "scaled.shifted"), "DWLS": ("DWLS", "standard"),
               "ULSMV": ("ULS", "scaled.shifted"), "ULS": ("ULS", "standard")}


def _norm_partial(s: str) -> str:
    return "".join(str(s).split())


def ordinal_group_table(model: Any, ngroups: int, nth: dict[str, int], *, group_equal: Sequence[str] = (),
                        group_partial: Sequence[str] = (), std_lv: bool = False, wu_estabrook: bool = False,
                        parameterization: str = "delta", **table_options: Any) -> tuple[Any, pd.DataFrame]:
    """(continuous ParTable, lavaan's ``parTable()`` of the ordinal multiple-group model).

    ``nth``: the number of thresholds of every item (all observed variables are ordinal).
    ``parameterization="theta"``: the scaling factors stay fixed at 1 and equal thresholds free
    the items' residual variances of groups 2..G instead (fixed at 1 again with ``residuals``)."""
    from ...model.partable import lavaanify

    ge = [str(g) for g in group_equal]
    unknown = [g for g in ge if g not in _GE_TABLE + _GE_OWN]
    if unknown:
        raise OptionError(f"group_equal {unknown[0]!r} is not available with ordered items (use "
                          f"{', '.join(_GE_TABLE + _GE_OWN)})")
    if "intercepts" in ge and "thresholds" not in ge:
        raise OptionError("group_equal 'intercepts' without 'thresholds' with ordered items: the items' intercepts "
                          "are fixed at 0 and lavaan would free the latent means next to group-specific thresholds "
                          "(not identified); add 'thresholds'")
    gp = [_norm_partial(s) for s in group_partial]
    th_partial = {s for s in gp if "|" in s}
    bad = [s for s in th_partial if s.split("|")[0] not in nth or not s.split("|")[1].startswith("t")]
    if bad:
        raise OptionError(f"group_partial {bad[0]!r}: not a threshold of an item of the model (item|t1, ...)")
    opts = dict(table_options)
    opts.update(ngroups=ngroups, group_equal=tuple(g for g in ge if g in _GE_TABLE),
                group_partial=tuple(s for s in gp if "|" not in s), meanstructure=False, std_lv=std_lv)
    opts.setdefault("model_type", "cfa")
    if callable(getattr(model, "table", None)):
        pt = model.table(**opts)
    else:
        pt = lavaanify(model, **opts)
    df = pt.df.reset_index(drop=True)
    user_ops = set(df.loc[df["user"] == 1, "op"])
    if "~1" in user_ops:
        raise OptionError("intercepts or means written in the model (~ 1) are not supported yet with ordered items "
                          "and groups")
    cons = df[df["op"].isin(["==", "<", ">", ":="])]
    body = df[~df["op"].isin(["==", "<", ">", ":="])]
    cols = list(df.columns)
    ords = set(nth)
    lv = list(pt.lv)
    th_eq = "thresholds" in ge
    ov_int_free = wu_estabrook and th_eq and "intercepts" not in ge
    if wu_estabrook:
        lv_mean_free = "intercepts" in ge and "means" not in ge
    else:
        lv_mean_free = ("intercepts" in ge or th_eq) and "means" not in ge

    def row(lhs, op, rhs, g, free, ustart, label=""):
        r = {c: None for c in cols}
        r.update(id=0, lhs=lhs, op=op, rhs=rhs, user=0, block=g, group=g, free=free, ustart=ustart, exo=0,
                 label=label, plabel="", start=np.nan, line=0)
        return r

    blocks = []
    for g in range(1, ngroups + 1):
        b = body[body["group"].astype(int) == g].copy()
        auto = np.flatnonzero(b["user"].to_numpy() == 0)
        cut = int(auto[0]) if len(auto) else len(b)
        head, tail = b.iloc[:cut].copy(), b.iloc[cut:].copy()
        th = pd.DataFrame([row(v, "|", f"t{k + 1}", g, 1, np.nan) for v in pt.ov for k in range(nth[v])],
                          columns=cols)
        is_res = (tail["op"] == "~~") & (tail["lhs"] == tail["rhs"]) & tail["lhs"].isin(ords)
        res_free = parameterization == "theta" and g > 1 and th_eq and "residuals" not in ge
        tail.loc[is_res, "free"] = 1 if res_free else 0
        tail.loc[is_res, "ustart"] = np.nan if res_free else 1.0
        tail.loc[is_res, "label"] = ""
        hres = (head["op"] == "~~") & (head["lhs"] == head["rhs"]) & head["lhs"].isin(ords)
        if parameterization == "delta" and (hres & (head["free"] > 0)).any():
            r = head[hres & (head["free"] > 0)].iloc[0]
            raise OptionError(f"{r['lhs']} ~~ {r['lhs']}: a free residual variance of an ordinal item is not "
                              "identified in the delta parameterization")
        head.loc[hres & head["ustart"].isna(), "ustart"] = 1.0
        scal_free = 1 if (g > 1 and th_eq and parameterization == "delta") else 0
        scal = pd.DataFrame([row(v, "~*~", v, g, scal_free, np.nan if scal_free else 1.0) for v in pt.ov],
                            columns=cols)
        oi = 1 if (g > 1 and ov_int_free) else 0
        means = [row(v, "~1", "", g, oi, np.nan if oi else 0.0) for v in pt.ov]
        lm = 1 if (g > 1 and lv_mean_free) else 0
        means += [row(v, "~1", "", g, lm, np.nan if lm else 0.0) for v in lv]
        blocks.append(pd.concat([head, th, tail, scal, pd.DataFrame(means, columns=cols)], ignore_index=True))
    out = pd.concat(blocks, ignore_index=True)
    free = out["free"].to_numpy().astype(int)
    out["free"] = np.where(free > 0, np.cumsum(free > 0), 0)
    out["id"] = np.arange(1, len(out) + 1)
    # the continuous table's plabels are renumbered: map the old ones used as labels / in == rows
    new_pl = {pl: f".p{rid}." for pl, rid in zip(out["plabel"], out["id"]) if isinstance(pl, str) and pl}
    out["plabel"] = [f".p{i}." for i in out["id"]]
    out["label"] = [new_pl.get(lb, lb) if isinstance(lb, str) and lb.startswith(".p") else (lb or "")
                    for lb in out["label"]]
    eq_rows = []
    for _, r in cons.iterrows():
        r = r.to_dict()
        r["lhs"] = new_pl.get(str(r["lhs"]).strip(), r["lhs"])
        r["rhs"] = new_pl.get(str(r["rhs"]).strip(), r["rhs"])
        eq_rows.append(r)
    if th_eq:  # thresholds: group g's row labelled by group 1's plabel, plus the == row (lavaan's order:
        key1 = {}  # the == rows of group.equal follow the table, thresholds after loadings)
        for i, r in out.iterrows():
            if r["op"] != "|":
                continue
            k = (r["lhs"], r["rhs"])
            if f"{r['lhs']}|{r['rhs']}" in th_partial:
                continue
            if int(r["group"]) == 1:
                key1[k] = r["plabel"]
                out.at[i, "label"] = r["plabel"]
            else:
                out.at[i, "label"] = key1[k]
                eq_rows.append({**{c: None for c in cols}, "lhs": key1[k], "op": "==", "rhs": r["plabel"], "user": 2,
                                "block": 0, "group": 0, "free": 0, "ustart": np.nan, "exo": 0, "label": "",
                                "plabel": "", "start": np.nan, "line": 0})
    if eq_rows:
        eq = pd.DataFrame(eq_rows, columns=cols)
        # lavaan: the == rows in table order of their left-hand rows, then of their right-hand rows
        # (with 3+ groups: .p2. == .p74., .p2. == .p146., .p3. == .p75., ...)
        order = {pl: k for k, pl in enumerate(out["plabel"])}
        eq = eq.assign(_l=[order.get(str(x).strip(), 10 ** 9) for x in eq["lhs"]],
                       _o=[order.get(str(x).strip(), 10 ** 9) for x in eq["rhs"]]).sort_values(["_l", "_o"],
                                                                                               kind="stable")
        out = pd.concat([out, eq.drop(columns=["_l", "_o"])], ignore_index=True)
        out["id"] = np.arange(1, len(out) + 1)
    for c in ("user", "block", "group", "exo", "line", "free"):
        out[c] = out[c].fillna(0).astype(int)
    out["label"] = out["label"].fillna("")
    out["plabel"] = out["plabel"].fillna("")
    return pt, out


class _View:
    """One group's rows as a one-group table with a mean structure (for param_map_from_table)."""

    def __init__(self, pt: Any, table: pd.DataFrame, g: int):
        d = table[(table["group"] == g) & table["op"].isin(["=~", "~", "~~", "~1"])].copy()
        d["group"] = 1
        self._df = d
        self.ov, self.lv = list(pt.ov), list(pt.lv)
        self.meanstructure = True
        self.ov_x = []
        self._names = getattr(pt, "_names", None)
        self.options = dict(getattr(pt, "options", {}))

    @property
    def df(self) -> pd.DataFrame:
        return self._df.copy()


class _GroupEngine:
    """sigma_g(x) and its Jacobian in the global parameter vector x."""

    def __init__(self, pt, table, g, obs_names, gidx_of_row, theta_param: bool = False):
        from ..matrices import param_map_from_table

        self.theta_param = theta_param
        self.view = _View(pt, table, g)
        self.pm = param_map_from_table(self.view, collapse=False)
        ov = list(self.pm.base.observed)
        self.ov = ov
        pos = {v: i for i, v in enumerate(ov)}
        th_names = [n for n in obs_names if "|t" in n]
        cor_names = [n for n in obs_names if "~~" in n]
        if len(th_names) + len(cor_names) != len(obs_names):
            raise SpecError("internal: unexpected statistics of an ordinal group")
        self.nth = len(th_names)
        self.r = np.array([pos[n.split("~~")[0]] for n in cor_names], dtype=int)
        self.c = np.array([pos[n.split("~~")[1]] for n in cor_names], dtype=int)
        self.th_item = np.array([pos[n.split("|")[0]] for n in th_names], dtype=int)
        th_pos = {n: j for j, n in enumerate(th_names)}
        rows = table[table["group"] == g]
        self.struct_glob = np.full(self.pm.n_free, -1, dtype=int)
        self.tau_fixed = np.zeros(self.nth)
        self.tau_glob = np.full(self.nth, -1, dtype=int)
        self.scale_fixed = np.ones(len(ov))
        self.scale_glob = np.full(len(ov), -1, dtype=int)
        for rid, lhs, op, rhs, free, ustart in zip(rows["id"], rows["lhs"], rows["op"], rows["rhs"], rows["free"],
                                                    rows["ustart"]):
            gi = gidx_of_row.get(int(rid), -1)
            if op == "|":
                j = th_pos[f"{lhs}|{rhs}"]
                if free > 0:
                    self.tau_glob[j] = gi
                else:
                    self.tau_fixed[j] = float(ustart)
            elif op == "~*~":
                if free > 0:
                    self.scale_glob[pos[lhs]] = gi
                else:
                    self.scale_fixed[pos[lhs]] = float(ustart)
            elif free > 0:
                self.struct_glob[self.pm.aliases[(lhs, op, rhs)]] = gi
        if np.any(self.struct_glob < 0):
            raise SpecError("internal: the ordinal table and the engine disagree on the free parameters")
        self.tau_free = self.tau_glob >= 0
        self.scale_free = self.scale_glob >= 0

    def parts(self, x):
        ts = x[self.struct_glob]
        tau = np.where(self.tau_free, x[np.maximum(self.tau_glob, 0)], self.tau_fixed)
        if self.theta_param:  # lavaan's delta = 1 / sd(y*) of the implied y* variances
            dl = 1.0 / np.sqrt(np.diag(self.pm.matrices_at(ts).implied_cov))
        else:
            dl = np.where(self.scale_free, x[np.maximum(self.scale_glob, 0)], self.scale_fixed)
        return ts, tau, dl

    def sigma(self, x):
        ts, tau, dl = self.parts(x)
        mx = self.pm.matrices_at(ts)
        cov, mu = mx.implied_cov, mx.implied_mean
        th = dl[self.th_item] * (tau - mu[self.th_item])
        return np.concatenate([th, dl[self.r] * dl[self.c] * cov[self.r, self.c]])

    def _theta_jacobian(self, x, nglob, sj, mj, tau, dl, cov, mu):
        """theta: Delta = 1/sqrt(diag Sigma*) depends on the structural parameters."""
        ns = self.nth + len(self.r)
        d = np.zeros((ns, nglob))
        var = np.diag(cov)
        ar = np.arange(len(var))
        dvar = sj[:, ar, ar].T / var[:, None]  # (p, k): dvar / var
        it = self.th_item
        thv = dl[it] * (tau - mu[it])
        dth = -(dl[it][:, None] * mj[:, it].T) - 0.5 * thv[:, None] * dvar[it]
        cor = dl[self.r] * dl[self.c] * cov[self.r, self.c]
        dcor = ((dl[self.r] * dl[self.c])[:, None] * sj[:, self.r, self.c].T
                - 0.5 * cor[:, None] * (dvar[self.r] + dvar[self.c]))
        blk = np.vstack([dth, dcor])
        for k, gi in enumerate(self.struct_glob):
            d[:, gi] += blk[:, k]
        j = np.flatnonzero(self.tau_free)
        np.add.at(d, (j, self.tau_glob[j]), dl[it[j]])
        return d

    def jacobian(self, x, nglob):
        from .. import ml

        ts, tau, dl = self.parts(x)
        mx = self.pm.matrices_at(ts)
        cov, mu = mx.implied_cov, mx.implied_mean
        ns = self.nth + len(self.r)
        d = np.zeros((ns, nglob))
        sj = ml.sigma_jacobian(self.pm, ts)  # (k, p, p)
        mj = ml.mean_jacobian(self.pm, ts)  # (k, p)
        if self.theta_param:
            return self._theta_jacobian(x, nglob, sj, mj, tau, dl, cov, mu)
        dth = -(dl[self.th_item][:, None] * mj[:, self.th_item].T)
        dcor = (dl[self.r] * dl[self.c])[:, None] * sj[:, self.r, self.c].T
        blk = np.vstack([dth, dcor])
        for k, gi in enumerate(self.struct_glob):
            d[:, gi] += blk[:, k]
        j = np.flatnonzero(self.tau_free)
        np.add.at(d, (j, self.tau_glob[j]), dl[self.th_item[j]])
        for i in np.flatnonzero(self.scale_free):
            gi = self.scale_glob[i]
            sel = self.th_item == i
            d[np.flatnonzero(sel), gi] += (tau - mu[self.th_item])[sel]
            rr = np.flatnonzero(self.r == i)
            d[self.nth + rr, gi] += dl[self.c[rr]] * cov[i, self.c[rr]]
            cc = np.flatnonzero(self.c == i)
            d[self.nth + cc, gi] += dl[self.r[cc]] * cov[self.r[cc], i]
        return d

    def matrices(self, x):
        """The model matrices with the items' residual variances at ``1/delta^2 - common``."""
        import dataclasses

        ts, _, dl = self.parts(x)
        mx = self.pm.matrices_at(ts)
        if self.theta_param:  # the residual variances are parameters (or fixed at 1)
            return mx
        th = mx.theta.copy()
        common = np.diag(mx.lambda_ @ mx.inner_cov @ mx.lambda_.T)
        for i in range(len(self.ov)):
            th[i, i] = 1.0 / dl[i] ** 2 - common[i]
        return dataclasses.replace(mx, theta=th)


def _global_index(table: pd.DataFrame) -> tuple[dict[int, int], int]:
    """row id -> global parameter (rows sharing a label, or tied by a simple == row, are one)."""
    from scipy.cluster.hierarchy import DisjointSet

    free = table[(table["free"] > 0) & (table["op"] != "==")]
    sets = DisjointSet(int(i) for i in free["id"])
    union, find = sets.merge, sets.__getitem__
    by_name: dict[str, int] = {}
    for rid, lab, pl in zip(free["id"], free["label"], free["plabel"]):
        for nm in (pl, lab):
            if not nm:
                continue
            if nm in by_name:
                union(int(rid), by_name[nm])
            else:
                by_name[nm] = int(rid)
    for _, r in table[table["op"] == "=="].iterrows():
        a, b = str(r["lhs"]).strip(), str(r["rhs"]).strip()
        if a in by_name and b in by_name:
            union(by_name[a], by_name[b])
        else:
            raise SpecError(f"constraint {r['lhs']} == {r['rhs']} is not supported yet with ordered items and groups")
    if (table["op"].isin(["<", ">", ":="])).any():
        r = table[table["op"].isin(["<", ">", ":="])].iloc[0]
        raise SpecError(f"{r['lhs']} {r['op']} {r['rhs']}: not supported yet with ordered items and groups")
    roots: dict[int, int] = {}
    out = {}
    for rid in free["id"]:
        root = find(int(rid))
        if root not in roots:
            roots[root] = len(roots)
        out[int(rid)] = roots[root]
    return out, len(roots)


@dataclass(frozen=True)
class OrdinalMultiGroupFit:
    """A multiple-group fit with ordinal items (:func:`fit_ordinal_multigroup`).

    ``params``: lavaan's ``parameterEstimates()`` rows (``group`` 1..G, thresholds, scaling
    factors, means); ``ordinal_table``: lavaan's ``parTable()`` with est and se; ``fit_indices``
    in smsem's names (``chi2``, ``chi2_scaled``, ``cfi_scaled``, ...); ``x``/``vcov`` in the
    global parameter vector (rows tied by equalities are one parameter)."""

    params: pd.DataFrame
    fit_indices: dict
    group_labels: list
    group: str
    n_per_group: list
    converged: bool
    estimator: str
    group_equal: tuple = ()
    group_partial: tuple = ()
    ordinal_table: pd.DataFrame | None = field(default=None, repr=False)
    x: np.ndarray | None = field(default=None, repr=False)
    vcov: np.ndarray | None = field(default=None, repr=False)
    n_dropped: int = 0
    _internal: dict | None = field(default=None, repr=False)
    parameterization: str = "delta"

    @property
    def n(self) -> int:
        return int(sum(self.n_per_group))

    @property
    def ngroups(self) -> int:
        return len(self.group_labels)

    def __str__(self) -> str:
        return render_ordinal_multigroup(self)

    def modindices(self, minimum: float = 0.0, sort: bool = True) -> pd.DataFrame:
        """lavaan's ``modindices()`` of the multiple-group ordinal fit (per group, equality
        constraints kept): :mod:`.group_modindices`."""
        from .group_modindices import ordinal_group_modindices

        return ordinal_group_modindices(self, minimum=minimum, sort=sort)


def fit_ordinal_multigroup(model: Any, data: pd.DataFrame, group: str, *, ordered: Any = True,
                           estimator: str = "WLSMV", group_equal: Sequence[str] = (),
                           group_partial: Sequence[str] = (), std_lv: bool = False, missing: str = "listwise",
                           parameterization: str = "delta", wu_estabrook: bool = False,
                           reuse: Any = None, **table_options: Any) -> OrdinalMultiGroupFit:
    """Fit ``model`` with ordinal items in every group of ``data[group]``, as lavaan's
    ``cfa(model, data, ordered = TRUE, group = group, estimator = estimator, group.equal = ...,
    group.partial = ...)`` (delta parameterization; see the module docstring).

    ``reuse``: a fit of the same model items, data and groups whose sample statistics
    (thresholds, polychorics, NACOV per group) are taken instead of recomputed (the invariance
    sequence)."""
    from ..._threads import single_thread

    with single_thread():
        return _fit(model, data, group, ordered=ordered, estimator=estimator, group_equal=group_equal,
                    group_partial=group_partial, std_lv=std_lv, missing=missing,
                    parameterization=parameterization, wu_estabrook=wu_estabrook, reuse=reuse, **table_options)


def _as_list(v) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    return [str(s) for s in v]


def _fit(model, data, group, *, ordered, estimator, group_equal, group_partial, std_lv, missing, parameterization,
         wu_estabrook, reuse=None, **table_options):
    from scipy import optimize, stats

    from .. import fitindices as fitidx
    from ..multigroup import check_groups, _label
    from .fit import _adjusted, _cfi, _tli
    from .nacov import sample_stats
    from .thresholds import prepare

    est = str(estimator).upper()
    if est not in _ESTIMATORS:
        raise OptionError(f"estimator {estimator!r} with ordered items and groups: use one of {', '.join(_ESTIMATORS)}")
    if parameterization not in ("delta", "theta"):
        raise OptionError(f"parameterization={parameterization!r}: use 'delta' (lavaan's default) or 'theta'")
    if missing not in ("listwise", "pairwise"):
        raise OptionError(f"missing={missing!r} with ordered items and groups: use 'listwise' (lavaan's default) or "
                          "'pairwise'")
    labels = check_groups(data, group)
    ge, gp = _as_list(group_equal), _as_list(group_partial)
    # first pass: the observed variables of the model
    from ...model.partable import lavaanify

    popts = {**table_options, "model_type": table_options.get("model_type", "cfa"), "ngroups": len(labels)}
    probe = model.table(**popts) if callable(getattr(model, "table", None)) else lavaanify(model, **popts)
    ov = list(probe.ov)
    if ordered is True or (isinstance(ordered, str) and ordered.lower() == "all"):
        ordinal = list(ov)
    else:
        ordinal = [ordered] if isinstance(ordered, str) else list(ordered)
    unknown = [v for v in ordinal if v not in ov]
    if unknown:
        raise OptionError(f"ordered names {', '.join(unknown)}, which are not observed variables of the model")
    if set(ordinal) != set(ov):
        cont = [v for v in ov if v not in ordinal]
        raise OptionError(f"continuous observed variables ({', '.join(cont)}) next to ordered items are not "
                          "supported yet with groups")
    if getattr(probe, "ov_x", None):
        raise OptionError(f"observed exogenous covariates ({', '.join(probe.ov_x)}) are not supported yet with "
                          "ordered items")
    absent = [c for c in ov if c not in data.columns]
    if absent:
        raise DataError(f"the data lack the column(s) {', '.join(absent)} named in the model")
    bundle = reuse._internal.get("stats_bundle") if reuse is not None else None
    if bundle is not None:  # the same data's sample statistics (the invariance sequence)
        if bundle[0] != labels or bundle[5] != tuple(ov) or bundle[6] != group or bundle[7] != missing:
            raise OptionError("reuse= is a fit of other items or groups")
        levels, sss, ns, dropped = bundle[1:5]
    else:
        x = data[ov]
        gcol = data[group]
        answered = x.notna().all(axis=1) if missing == "listwise" else x.notna().any(axis=1)
        keep = answered & gcol.notna()
        dropped = int((~keep).sum())
        if dropped:
            what = ("with missing answers or no group were dropped (listwise deletion, lavaan's default)"
                    if missing == "listwise" else "with no answer or no group were dropped")
            warnings.warn(f"{dropped} row(s) {what}", stacklevel=4)
        x, gcol = x[keep].reset_index(drop=True), gcol[keep].reset_index(drop=True).map(_label)
        levels = prepare(x, True).level_map()
        sss, ns = [], []
        for lab in labels:
            xg = x[(gcol == lab).to_numpy()].reset_index(drop=True)
            # lavaan needs every category in every group; a two-step estimate needs rows beyond the items
            if len(xg) <= len(ov):
                raise DataError(f"group {lab!r} of {group!r} has {len(xg)} complete row(s) for {len(ov)} ordinal items; "
                                f"at least {len(ov) + 1} are needed")
            ss = sample_stats(xg, ordered=True, missing=missing, levels=levels, group=lab)
            sss.append(ss)
            ns.append(int(ss.nobs))
    nth = {v: len(levels[v]) - 1 for v in ov}
    pt, table = ordinal_group_table(model, len(labels), nth, group_equal=ge, group_partial=gp, std_lv=std_lv,
                                    wu_estabrook=wu_estabrook, parameterization=parameterization, **table_options)
    gidx, nglob = _global_index(table)
    G = len(labels)
    engs = [_GroupEngine(pt, table, g + 1, list(sss[g].wls_obs.index), gidx, parameterization == "theta")
            for g in range(G)]
    wkind, test = _ESTIMATORS[est]
    s = [ss.wls_obs.to_numpy() for ss in sss]
    gam = [ss.nacov.to_numpy() for ss in sss]
    w = [1.0 / np.diag(gm) if wkind == "DWLS" else np.ones(len(gm)) for gm in gam]
    N = float(sum(ns))
    nsa = np.asarray(ns, float)
    fg = nsa / N

    # starts: lavaan-like, per group (the first group's value for a shared parameter)
    from ..matrices import start_values
    from .fit import _marker_starts

    x0 = np.full(nglob, np.nan)
    for g, eng in enumerate(engs):
        R = sss[g].cor.loc[ov, ov].to_numpy()
        shim = type("E", (), {})()
        shim.pm, shim.ept = eng.pm, eng.view
        st = _marker_starts(shim, start_values(eng.view, eng.pm, np.zeros(len(ov)), R), R)
        for k, gi in enumerate(eng.struct_glob):
            if not np.isfinite(x0[gi]):
                x0[gi] = st[k]
        thv = s[g][:eng.nth]
        for j in np.flatnonzero(eng.tau_free):
            if not np.isfinite(x0[eng.tau_glob[j]]):
                x0[eng.tau_glob[j]] = thv[j]
        for i in np.flatnonzero(eng.scale_free):
            if not np.isfinite(x0[eng.scale_glob[i]]):
                x0[eng.scale_glob[i]] = 1.0
    x0 = np.where(np.isfinite(x0), x0, 0.0)
    if parameterization == "theta":  # the thresholds on the y* scale of the start values
        for g, eng in enumerate(engs):
            sd0 = np.sqrt(np.diag(eng.pm.matrices_at(x0[eng.struct_glob]).implied_cov))
            thv = s[g][:eng.nth]
            for j in np.flatnonzero(eng.tau_free):
                if g == 0 or eng.tau_glob[j] not in engs[0].tau_glob:
                    x0[eng.tau_glob[j]] = thv[j] * sd0[eng.th_item[j]]
    sq = [np.sqrt((n - 1.0) * wg) for n, wg in zip(nsa, w)]

    def resid(xx):
        return np.concatenate([q * (sg - e.sigma(xx)) for q, sg, e in zip(sq, s, engs)])

    def jac(xx):
        return np.vstack([-q[:, None] * e.jacobian(xx, nglob) for q, e in zip(sq, engs)])

    xh, ok, msg = _levenberg_marquardt(resid, jac, x0)
    if not ok:  # MINPACK's LM from the same start, then the same Gauss-Newton polish
        sol = optimize.least_squares(resid, x0, jac=jac, method="lm", xtol=1e-14, ftol=1e-14, gtol=1e-14,
                                     max_nfev=3000)
        xh, ok, msg = _levenberg_marquardt(resid, jac, sol.x, max_iter=50)
        ok = ok and sol.status > 0
        msg = msg if ok else sol.message
    r = resid(xh)
    grad = jac(xh).T @ r
    converged = bool(ok and np.max(np.abs(grad)) < 1e-6 * max(1.0, N))
    if not converged:
        warnings.warn(f"the multiple-group {est} fit did not converge ({msg}); estimates may be unreliable",
                      ConvergenceWarning, stacklevel=3)
    es = [sg - e.sigma(xh) for sg, e in zip(s, engs)]
    ds = [e.jacobian(xh, nglob) for e in engs]
    fgrp = [float(eg @ (wg * eg)) for eg, wg in zip(es, w)]
    chi2_g = [(n - 1.0) * f for n, f in zip(nsa, fgrp)]
    chi2 = float(sum(chi2_g))
    nstat = sum(len(sg) for sg in s)
    df = float(nstat - nglob)
    E = sum(f * (d.T @ (wg[:, None] * d)) for f, d, wg in zip(fg, ds, w))
    try:
        Einv = np.linalg.inv(E)
    except np.linalg.LinAlgError:
        Einv = np.full_like(E, np.nan)
    if test == "standard":
        vcov = Einv / (N - G)
    else:
        M = sum(f * ((wg[:, None] * d).T @ gm @ (wg[:, None] * d)) for f, d, wg, gm in zip(fg, ds, w, gam))
        vcov = Einv @ M @ Einv / (N - G)
    if np.any(~np.isfinite(vcov)) or np.min(np.linalg.eigvalsh((vcov + vcov.T) / 2)) < -1e-12 * np.max(np.abs(vcov)):
        from ...exceptions import SingularInformationWarning

        warnings.warn("the information matrix is singular or the parameter covariance is not positive definite: "
                      "the model may not be identified", SingularInformationWarning, stacklevel=3)

    fi: dict[str, float] = {"npar": float(nglob), "fmin": chi2 / (2 * N), "chi2": chi2, "df": df,
                            "pvalue": float(stats.chi2.sf(chi2, df)) if df > 0 else float("nan"),
                            "ntotal": N, "ngroups": float(G)}
    for g, c in enumerate(chi2_g):
        fi[f"chi2_group{g + 1}"] = c
    # baseline: thresholds free in every group, correlations 0
    chi2_b = 0.0
    df_b = 0.0
    tr1b = tr2b = 0.0
    for g, e in enumerate(engs):
        sc = s[g][e.nth:]
        chi2_b += (nsa[g] - 1.0) * float(sc @ (w[g][e.nth:] * sc))
        df_b += len(sc)
        if test != "standard":
            wg, gm = w[g], gam[g]
            ug = wg[:, None] * gm
            # U = W - W D (D'WD)^-1 D'W with D the threshold rows: zero the threshold block of W
            ug[:e.nth] = 0.0
            tr1b += float(np.trace(ug))
            tr2b += float(np.sum(ug * ug.T))
    fi.update(baseline_chi2=chi2_b, baseline_df=df_b, baseline_pvalue=float(stats.chi2.sf(chi2_b, df_b)))
    if wkind == "ULS":
        fi["pvalue"] = fi["baseline_pvalue"] = float("nan")
    nn = N - G
    fi["cfi"] = _cfi(chi2, df, chi2_b, df_b)
    fi["tli"] = _tli(chi2, df, chi2_b, df_b)
    fi["rmsea"] = _rmsea_g(chi2, df, nn, G)
    if df > 0:
        lo, hi = fitidx.rmsea_ci(chi2, df, nn)
        fi["rmsea_ci_lower"], fi["rmsea_ci_upper"] = lo * np.sqrt(G), hi * np.sqrt(G)
    internal = {"optimizer": msg, "stats_bundle": (labels, levels, sss, ns, dropped, tuple(ov), group, missing),
                "M": None if test == "standard" else M, "engines": engs, "s": s, "gamma": gam, "w": w, "ns": ns, "ds": ds, "Einv": Einv, "table": table,
                "pt": pt, "ov": ov, "sample_stats": sss, "gidx": gidx,
                "options": dict(ordered=ordered, std_lv=std_lv, wu_estabrook=wu_estabrook, **table_options)}
    if test != "standard" and df > 0:
        tr1, tr2 = _traces(ds, w, gam, fg, Einv)
        t_s, df_s, c, shift = _adjusted(chi2, df, tr1, tr2, test)
        tb_s, dfb_s, cb, shiftb = _adjusted(chi2_b, df_b, tr1b, tr2b, test)
        fi.update(chi2_scaled=t_s, df_scaled=df_s, pvalue_scaled=float(stats.chi2.sf(t_s, df_s)),
                  scaling_factor=c, shift_parameter=shift, baseline_chi2_scaled=tb_s, baseline_df_scaled=dfb_s,
                  baseline_scaling_factor=cb)
        fi["cfi_scaled"] = _cfi(t_s, df_s, tb_s, dfb_s)
        fi["tli_scaled"] = _tli(t_s, df_s, tb_s, dfb_s)
        fi["rmsea_scaled"] = _rmsea_g(t_s, df_s, nn, G)
        lo, hi = fitidx.rmsea_ci(t_s, df_s, nn)
        fi["rmsea_ci_lower_scaled"], fi["rmsea_ci_upper_scaled"] = lo * np.sqrt(G), hi * np.sqrt(G)
        for g, c_g in enumerate(chi2_g):  # lavaan's stat.group: a T_g + f_g shift
            fi[f"chi2_scaled_group{g + 1}"] = c_g / c + fg[g] * shift
        if test == "scaled.shifted":
            _robust_indices_groups(fi, table, engs, xh, s, w, gam, ds, Einv, nsa, df)
    # SRMR: each group's correlation residuals (diagonal counted, residual 0), weighted n_g / N
    srmr = 0.0
    p = len(ov)
    for g, e in enumerate(engs):
        rc = es[g][e.nth:]
        srmr += fg[g] * float(np.sqrt(np.sum(rc * rc) / (p * (p + 1) / 2)))
    fi["srmr"] = srmr

    from ...exceptions import HeywoodWarning

    for lab, eng in zip(labels, engs):  # as the one-group fit: a negative (residual) variance is named
        mx = eng.matrices(xh)
        neg = [v for v, t in zip(eng.ov, np.diag(mx.theta)) if t < 0]
        neg += [v for v, t in zip(mx.inner, np.diag(mx.psi)) if t < 0 and v in set(mx.latent_names)]
        if neg:
            warnings.warn(f"group {lab!r}: negative (residual) variance of {', '.join(neg)}: the solution is "
                          "inadmissible", HeywoodWarning, stacklevel=3)
    params = _params(table, engs, xh, vcov, gidx)
    tab = table.copy()
    cols3 = np.full((len(tab), 3), np.nan)
    key = {(r.lhs, r.op, r.rhs, r.group): (r.est, r.se, r.std_all) for r in params.itertuples()}
    for i, r in enumerate(tab.itertuples()):
        v = key.get((r.lhs, r.op, r.rhs if isinstance(r.rhs, str) else "", r.group))
        if v is not None:
            cols3[i] = v
    tab["est"], tab["se"], tab["std_all"] = cols3[:, 0], cols3[:, 1], cols3[:, 2]
    internal["table"] = tab
    return OrdinalMultiGroupFit(params, fi, labels, group, ns, converged, est, tuple(ge), tuple(gp), tab, xh.copy(),
                                vcov, dropped, internal, parameterization)


def _levenberg_marquardt(resid, jac, x0, max_iter: int = 300):
    """Minimise ``|resid(x)|^2`` by Levenberg-Marquardt on the normal equations (Marquardt's
    diagonal scaling), to machine precision: (x, converged, message)."""
    x = np.asarray(x0, float).copy()
    r = resid(x)
    f = float(r @ r)
    lam = 1e-3
    for it in range(max_iter):
        jm = jac(x)
        g = jm.T @ r
        h = jm.T @ jm
        dg = np.maximum(np.diag(h), 1e-12)
        while True:
            try:
                step = np.linalg.solve(h + lam * np.diag(dg), -g)
            except np.linalg.LinAlgError:
                step = None
            if step is not None and np.all(np.isfinite(step)):
                r_new = resid(x + step)
                f_new = float(r_new @ r_new)
                if np.isfinite(f_new) and f_new <= f:
                    break
            lam *= 10.0
            if lam > 1e12:
                return x, False, "no descent step (the damping grew beyond 1e12)"
        x, r, f_prev, f = x + step, r_new, f, f_new
        lam = max(lam / 10.0, 1e-12)
        if np.max(np.abs(step) / np.maximum(1.0, np.abs(x))) < 1e-12 or f_prev - f <= 1e-15 * max(f, 1e-300):
            return x, True, f"converged in {it + 1} iterations"
    return x, False, f"no convergence in {max_iter} iterations"


def _robust_indices_groups(fi, table, engs, xh, s, w, gam, ds, Einv, ns, df) -> None:
    """lavaan 0.6.14's ``cfi.robust``, ``tli.robust``, ``rmsea.robust`` (+ CI, p-value) of a
    multiple-group categorical fit (``lav_fit_catml_dwls``): the ML discrepancy between each group's
    polychoric matrix and the implied correlations at the DWLS estimates, ``XX3 = sum_g n_g F_ML,g``,
    scaled by ``c = tr(U' V U Gamma) / df`` with ``V = bdiag(f_g V_g)`` (the expected ML information
    of the correlations), ``U = I - D E^-1 D' bdiag(f_g W_g)`` on the correlation rows and
    ``Gamma = bdiag(Gamma_g / f_g)``; the baseline's ``c = tr(Gamma) / df_b``; RMSEA with ``N - G``
    and ``sqrt(G)``. lavaan's catML refit fails (NA) when thresholds are constrained across groups
    (free scaling factors or intercepts, ``==`` rows on thresholds): NaN here too, as when a
    polychoric matrix is not positive definite."""
    from scipy.linalg import block_diag

    from .. import fitindices as fitidx
    from .fit import _vechs_index

    names = ("cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust", "rmsea_ci_upper_robust",
             "rmsea_pvalue_robust")
    th_labels = set(table.loc[table["op"] == "|", "label"]) - {""}
    constrained = bool(((table["op"] == "~*~") & (table["free"] > 0)).any()
                       or ((table["op"] == "~1") & (table["free"] > 0) & ~table["lhs"].isin(engs[0].view.lv)).any()
                       or any(lb in th_labels for lb in table.loc[table["op"] == "==", "lhs"]))
    if df <= 0 or constrained:
        fi.update({k: float("nan") for k in names})
        return
    N = float(np.sum(ns))
    G = len(ns)
    fg = ns / N
    p = len(engs[0].ov)
    il, jl = _vechs_index(p)
    xx3 = xx3_b = 0.0
    V, W, Gm, D = [], [], [], []
    for g, e in enumerate(engs):
        k = e.nth
        R = np.eye(p)
        R[il, jl] = R[jl, il] = s[g][k:]
        S = np.eye(p)
        S[il, jl] = S[jl, il] = e.sigma(xh)[k:]
        if np.min(np.linalg.eigvalsh(R)) < np.sqrt(np.finfo(float).eps):
            fi.update({k2: float("nan") for k2 in names})
            return
        ld_s, ld_r = np.linalg.slogdet(S), np.linalg.slogdet(R)
        if ld_s[0] <= 0:
            fi.update({k2: float("nan") for k2 in names})
            return
        si = np.linalg.inv(S)
        xx3 += ns[g] * (ld_s[1] + float(np.sum(R * si)) - ld_r[1] - p)
        xx3_b += -ns[g] * ld_r[1]
        V.append(fg[g] * (si[np.ix_(il, il)] * si[np.ix_(jl, jl)] + si[np.ix_(il, jl)] * si[np.ix_(jl, il)]))
        W.append(fg[g] * w[g][k:])
        Gm.append(gam[g][k:, k:] / fg[g])
        D.append(ds[g][k:])
    Vall, Gall, Dall, Wall = block_diag(*V), block_diag(*Gm), np.vstack(D), np.concatenate(W)
    wiu = np.eye(len(Wall)) - (Dall @ Einv @ Dall.T) * Wall[None, :]
    c3 = float(np.sum((wiu.T @ Vall @ wiu) * Gall.T)) / df
    df_b = G * len(il)
    c3_b = float(sum(np.trace(x) for x in Gm)) / df_b
    t1 = max(xx3 - c3 * df, 0.0)
    t2 = max(xx3 - c3 * df, xx3_b - c3_b * df_b, 0.0)
    fi["cfi_robust"] = 1.0 if (abs(t1) < 1e-8 and abs(t2) < 1e-8) else 1.0 - t1 / t2
    t2b = (xx3_b - c3_b * df_b) * df
    fi["tli_robust"] = 1.0 - (xx3 - c3 * df) * df_b / t2b if abs(t2b) > 0 else 1.0
    nn = N - G
    fi["rmsea_robust"] = fitidx.rmsea(xx3, df, nn, c_hat=c3) * np.sqrt(G)
    lo, hi = fitidx.rmsea_ci(xx3 / c3, df, nn, c_hat=c3)
    fi["rmsea_ci_lower_robust"], fi["rmsea_ci_upper_robust"] = lo * np.sqrt(G), hi * np.sqrt(G)
    fi["rmsea_pvalue_robust"] = fitidx.rmsea_pvalue(xx3 / c3, df, nn / G, c_hat=c3)


def _rmsea_g(chi2, df, n, G):
    if df <= 0:
        return 0.0
    return float(np.sqrt(max(chi2 / (n * df) - 1.0 / n, 0.0)) * np.sqrt(G))


def _traces(ds, w, gam, fg, Einv):
    """tr(U Gamma), tr((U Gamma)^2) of lavaan's multiple-group scaled-shifted test, with
    ``U = V - V D E^-1 D' V``, ``V = bdiag(f_g W_g)``, ``Gamma = bdiag(Gamma_g / f_g)``, expanded so
    that only per-group products appear (the f_g cancel in ``V Gamma``):
    ``tr(UG) = sum_g tr(W_g G_g) - tr(E^-1 M)``, ``M = sum_g f_g D_g' W_g G_g W_g D_g``;
    ``tr((UG)^2) = sum_g tr((W_g G_g)^2) - 2 tr(E^-1 Q) + tr(E^-1 M E^-1 M)``,
    ``Q = sum_g f_g D_g' W_g G_g W_g G_g W_g D_g``."""
    k = Einv.shape[0]
    t1 = t2 = 0.0
    M = np.zeros((k, k))
    Q = np.zeros((k, k))
    for f, d, wg, gm in zip(fg, ds, w, gam):
        wgm = wg[:, None] * gm  # W_g Gamma_g
        t1 += float(np.trace(wgm))
        t2 += float(np.sum(wgm * wgm.T))
        wd = wg[:, None] * d
        gwd = gm @ wd  # Gamma_g W_g D_g
        M += f * (wd.T @ gwd)
        Q += f * (gwd.T @ (wg[:, None] * gwd))
    em = Einv @ M
    return t1 - float(np.trace(em)), t2 - 2.0 * float(np.sum(Einv * Q.T)) + float(np.sum(em * em.T))


def _params(table, engs, xh, vcov, gidx):
    """lavaan's parameterEstimates() rows, group by group, with std.lv and std.all (lavaan's
    standardizedSolution(): y* has variance 1/delta^2, so a threshold's std.all is est * delta)."""
    from scipy import stats

    from ..standardized import standardize_cells

    se_all = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    zc = stats.norm.ppf(0.975)
    out = []
    for g, eng in enumerate(engs, start=1):
        mx = eng.matrices(xh)
        ts, tau, dl = eng.parts(xh)
        mats = (mx.beta, mx.lambda_, mx.psi, mx.theta, mx.nu, mx.alpha)
        cells = dict(zip(eng.pm.rows, eng.pm.row_locations))
        s_all, s_lv = standardize_cells(mx, list(eng.pm.rows), list(eng.pm.row_locations))
        std = dict(zip(eng.pm.rows, zip(s_all, s_lv)))
        rows = table[(table["group"] == g) & (table["op"] != "==")]
        for rid, lhs, op, rhs, free, ustart, label in zip(rows["id"], rows["lhs"], rows["op"], rows["rhs"],
                                                          rows["free"], rows["ustart"], rows["label"]):
            rhs = rhs if isinstance(rhs, str) else ""
            if op == "|":
                est = float(xh[gidx[int(rid)]]) if free > 0 else float(ustart)
                sa, sl = est * dl[eng.ov.index(lhs)], est
            elif op == "~*~":
                est = float(dl[eng.ov.index(lhs)])
                sa, sl = 1.0, est
            else:
                m, i, j = cells[(lhs, op, rhs)]
                est = float(mats[m][i] if m >= 4 else mats[m][i, j])
                sa, sl = std[(lhs, op, rhs)]
            se = float(se_all[gidx[int(rid)]]) if free > 0 else float("nan")
            z = est / se if np.isfinite(se) and se > 0 else np.nan
            pv = 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else np.nan
            out.append((lhs, op, rhs, g, label or "", est, se, z, pv, est - zc * se, est + zc * se, float(sl),
                        float(sa)))
    cols = ["lhs", "op", "rhs", "group", "label", "est", "se", "z", "pvalue", "ci_lower", "ci_upper", "std_lv",
            "std_all"]
    return pd.DataFrame(out, columns=cols)


def difference_test(m1: OrdinalMultiGroupFit, m0: OrdinalMultiGroupFit) -> dict:
    """lavaan's ``lavTestLRT(m1, m0)`` for WLSMV fits: the scaled-shifted difference test of
    Satorra (2000) (``lav_test_diff_Satorra2000``, ``A.method = "delta"``, reference H1).

    ``m1`` is the less restricted model, ``m0`` the nested one. Returns ``chi2_diff``, ``df_diff``,
    ``pvalue`` (and ``a``, ``b``, the traces)."""
    from ..._threads import single_thread

    if m0.fit_indices["df"] < m1.fit_indices["df"]:  # lavTestLRT orders the models by df
        m1, m0 = m0, m1
    with single_thread():  # small dense algebra: one BLAS thread (threaded BLAS spins on a busy machine)
        return _difference_test(m1, m0)


def _difference_test(m1: OrdinalMultiGroupFit, m0: OrdinalMultiGroupFit) -> dict:
    from scipy import linalg, stats

    i1, i0 = m1._internal, m0._internal
    T1, T0 = m1.fit_indices["chi2"], m0.fit_indices["chi2"]
    r1, r0 = m1.fit_indices["df"], m0.fit_indices["df"]
    m = int(round(r0 - r1))
    if m <= 0:
        return {"chi2_diff": T0 - T1, "df_diff": float(m), "pvalue": float("nan")}
    D1 = np.vstack(i1["ds"])
    D0 = np.vstack(i0["ds"])
    try:  # lavaan's ginv(D1) D0; D1 has full column rank (an identified m1): the normal equations
        H = np.linalg.solve(D1.T @ D1, D1.T @ D0)
    except np.linalg.LinAlgError:
        H = np.linalg.pinv(D1) @ D0
    q, _ = np.linalg.qr(H, mode="complete")
    rank = np.linalg.matrix_rank(H)
    A = q[:, rank:].T  # the orthogonal complement of H's columns (lav_matrix_orthogonal_complement)
    Pinv = i1["Einv"]
    apa = A @ Pinv @ A.T
    keep = ~((np.abs(apa.sum(axis=0)) < np.sqrt(np.finfo(float).eps))
             & (np.abs(apa.sum(axis=1)) < np.sqrt(np.finfo(float).eps)))
    A = A[keep]
    PAAPAAP = Pinv @ A.T @ linalg.pinv(A @ Pinv @ A.T) @ A @ Pinv
    ns = np.asarray(i1["ns"], float)
    fg = ns / ns.sum()
    # lavaan's traces of U = V D P A'(A P A')^- A P D' V (V = bdiag(W_g), Gamma = bdiag(f_g Gamma_g)):
    # with B = sum_g f_g (W_g D_g)' Gamma_g (W_g D_g), tr(U Gamma) = tr(PAAPAAP B) and
    # tr((U Gamma)^2) = tr((PAAPAAP B)^2)
    B = i1.get("M")
    if B is None:
        B = sum(f * ((wg[:, None] * d).T @ gm @ (wg[:, None] * d)) for f, wg, gm, d in zip(fg, i1["w"], i1["gamma"],
                                                                                          i1["ds"]))
    pb = PAAPAAP @ B
    tr1 = float(np.trace(pb))
    tr2 = float(np.sum(pb * pb.T))
    a = np.sqrt(m / tr2)
    b = m - a * tr1
    t = (T0 - T1) * a + b
    return {"chi2_diff": float(t), "df_diff": float(m), "pvalue": float(stats.chi2.sf(t, m)), "a": float(a),
            "b": float(b), "trace_ugamma": tr1, "trace_ugamma2": tr2}


def render_ordinal_multigroup(res: OrdinalMultiGroupFit, fmt: str = "text") -> str:
    """Fit indices and the group-stacked parameter table (text, markdown, csv or json)."""
    import json

    from .fit import _FIT_ROWS

    fi = res.fit_indices
    rows = [(label, fi[k]) for k, label in _FIT_ROWS if k in fi]
    p = res.params.copy()
    p["group"] = [res.group_labels[g - 1] for g in p["group"]]
    cols = ["group", "lhs", "op", "rhs", "label", "est", "se", "z", "pvalue", "std_all"]
    if fmt == "json":
        return json.dumps({"estimator": res.estimator, "group": res.group, "groups": res.group_labels,
                           "n_per_group": res.n_per_group, "converged": res.converged,
                           "group_equal": list(res.group_equal), "group_partial": list(res.group_partial),
                           "fit": {k: fi[k] for k, _ in _FIT_ROWS if k in fi},
                           "params": json.loads(p[cols].to_json(orient="records"))}, indent=2) + "\n"
    if fmt == "csv":
        return p[cols].to_csv(index=False, float_format="%.6g", lineterminator="\n")
    ng = ", ".join(f"{lab} {n}" for lab, n in zip(res.group_labels, res.n_per_group))
    head = (f"smsem {res.estimator} multiple-group fit (ordinal items, {res.parameterization} parameterization) by "
            f"{res.group!r}: "
            f"n = {res.n} ({ng}), converged = {res.converged}"
            + (f"\ngroup.equal: {', '.join(res.group_equal)}" if res.group_equal else "")
            + (f"; group.partial: {', '.join(res.group_partial)}" if res.group_partial else ""))
    fit_df = pd.DataFrame(rows, columns=["index", "value"])
    if fmt == "markdown":
        from ...report.fit_section import _md_table

        def cells(df, digits):
            return [[v if isinstance(v, str) else ("" if not np.isfinite(v) else f"{v:.{digits}f}")
                     for v in row] for row in df.itertuples(index=False)]

        return "\n".join([f"**{head}**", ""] + _md_table(list(fit_df.columns), cells(fit_df, 4)) + [""]
                         + _md_table(cols, cells(p[cols], 3))) + "\n"
    return (head + "\n\n" + fit_df.to_string(index=False, float_format=lambda v: f"{v:.4f}") + "\n\n"
            + p[cols].to_string(index=False, float_format=lambda v: f"{v:.3f}", na_rep="") + "\n")


def cmd_fit_ordinal_groups(args: Any) -> int:
    """``smsem fit FILE --ordered ... --group COLUMN [--group-equal ...] [--group-partial ...]``:
    the ordinal multiple-group fit (fit indices and lavaan's group-stacked table); with ``--out DIR``
    fit.txt, parameters.csv and fit.json."""
    import sys
    from pathlib import Path

    from ..._validation import check_input_file
    from ...io import check_writable, read_survey, write_text
    from ...model import load_model

    est = args.estimator or "WLSMV"
    if est not in _ESTIMATORS:
        raise OptionError(f"--estimator {est} with --ordered and --group is not supported: use "
                          f"{', '.join(_ESTIMATORS)}")
    if args.ordered is None:
        raise OptionError(f"--estimator {est} needs --ordered all|ITEM,ITEM")
    if args.missing not in ("listwise", "pairwise"):
        raise OptionError(f"--missing {args.missing} with --ordered and --group: use listwise (lavaan's default) or "
                          "pairwise")
    if args.format not in ("text", "markdown", "csv", "json"):
        raise OptionError(f"--format {args.format} is not supported with --ordered and --group (text, markdown, csv, "
                          "json)")
    if getattr(args, "meanstructure", None):
        raise OptionError("--meanstructure is not supported yet with --ordered")
    if getattr(args, "interaction_method", None) is not None or getattr(args, "match", False) or \
            getattr(args, "chain", None):
        raise OptionError("latent interactions (--interaction-method, --match, --chain) are not supported with "
                          "--ordered and --group")
    check_input_file(args.file)
    model = load_model(args.model)
    if getattr(args, "hypotheses", None) is not None:  # a bad file fails before any work
        from ...model.hypotheses import with_hypotheses

        model = with_hypotheses(model, args.hypotheses)
    names = ("fit.txt", "parameters.csv", "fit.json") + tuple(
        f"{b}.{e}" for b in ("propositions", "group_differences") for e in ("txt", "md", "tex", "csv", "json")) + (
        tuple(f"modindices.{e}" for e in ("txt", "md", "csv", "json")) if args.modindices is not None else ())
    if args.out is not None:
        for name in names:
            check_writable(Path(args.out) / name, args.force)
    # pairwise: every row with an answer counts (read_survey's "fiml" row check)
    data = read_survey(args.file, model, columns=args.columns, keep=[args.group], likert=args.likert,
                       missing="fiml" if args.missing == "pairwise" else "listwise")
    ordered = (True if args.ordered.strip().lower() == "all"
               else [v.strip() for v in args.ordered.split(",") if v.strip()])
    opts = {}
    if getattr(args, "model_type", "sem") not in (None, "sem"):
        opts["model_type"] = args.model_type
    res = fit_ordinal_multigroup(model, data, args.group, ordered=ordered, estimator=est,
                                 group_equal=_as_list(args.group_equal), group_partial=_as_list(args.group_partial),
                                 std_lv=bool(args.std_lv), parameterization=args.parameterization,
                                 missing=args.missing, **opts)
    from ...report.tables import group_table_files, render_propositions
    from .group_props import ordinal_group_proposition_table, stratified_bootstrap_ordinal

    boot = (stratified_bootstrap_ordinal(res, model, data, args.boot, seed=args.seed, jobs=getattr(args, "jobs", 1))
            if args.boot else None)
    table = ordinal_group_proposition_table(res, boot, model=model, level=args.level)
    mi_text = {}
    if args.modindices is not None:  # lavaan's modindices(fit) of the multiple-group WLSMV fit, per group
        from ...report.after import render_modindices

        mi_text = {fmt: render_modindices(res, fmt, minimum=args.modindices)
                   for fmt in ("text", "markdown", "csv", "json")}
    if args.format == "json":  # the fit document with the proposition document (both blocks)
        import json

        doc = json.loads(render_ordinal_multigroup(res, "json"))
        doc["propositions"] = json.loads(render_propositions(table, "json"))
        if mi_text:
            doc["modindices"] = json.loads(mi_text["json"])["modindices"]
        sys.stdout.write(json.dumps(doc, indent=2) + "\n")
    elif args.format in ("text", "markdown"):
        sys.stdout.write(render_ordinal_multigroup(res, args.format) + "\n" + render_propositions(table, args.format)
                         + ("\n" + mi_text[args.format] + "\n" if mi_text else ""))
    else:
        sys.stdout.write(render_ordinal_multigroup(res, args.format))
    if args.out is not None:
        files = {name: render_ordinal_multigroup(res, fmt) for name, fmt in zip(names, ("text", "csv", "json"))}
        files.update(group_table_files(table, mi_text))
        for name, content in files.items():
            write_text(Path(args.out) / name, content, force=args.force)
        print(f"wrote {len(files)} files to {args.out}", file=sys.stderr)
    return 0
