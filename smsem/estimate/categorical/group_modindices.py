"""Modification indices of a multiple-group ordinal fit: lavaan 0.6.14's ``modindices(fit)`` on
``cfa(..., ordered = TRUE, group = g, group.equal = ...)`` (WLSMV, ULSMV, DWLS, ULS; delta or
theta parameterization).

lavaan (``modindices``: ``lav_object_extended(all.free = TRUE)`` with every group's
``lav_partable_full`` rows) tests, in each group ``g``, every fixed row of the group's block
(marker loadings, the items' intercepts ``~1`` and residual variances, the scaling factors
``~*~``, the latent means) and every full-table row not in the model (cross-loadings, residual
covariances of the items), the score test of the WLS discrepancy (as
:mod:`.score_test`, lavaan's ``gradient.logl`` and ``information.expected``):

* ``Delta_c`` the derivatives of group ``g``'s statistics ``[Delta (tau - mu*), Delta_i Delta_j
  Sigma*_ij]`` in the candidate (a structural row through ``Sigma*`` and ``mu* = Lambda (I-B)^-1
  alpha``; an intercept or latent mean through ``mu*``; a scaling factor through ``Delta_i``);
* the gradient ``g_c = -(n_g - 1)/N Delta_c' W_g (s_g - sigma_g)``, the information
  ``I = sum_g n_g/N Delta_g' W_g Delta_g`` with the model block the information of the fit's
  global (constrained) parameter vector, so the ``group.equal`` constraints are kept, not tested
  (lavaan's ``inverted.information`` under the ``==`` rows; releasing them:
  :func:`.score_test.ordinal_score_tests`);
* ``V = I_cc - I_cm I_mm^-1 I_mc``; ``V < eps^(1/3)`` (a row not identified next to the free ones,
  e.g. an intercept next to group-specific thresholds) is NA and left out (``na.remove``);
  ``mi = N g_c^2 / V``, ``epc = -g_c / V``;
* sepc.lv, sepc.all, sepc.nox (``cov.std``) at the group's matrices (the items' residual
  variances at ``1/Delta^2 - common``, so ``sd(y*) = 1/Delta``); a scaling factor ``~*~`` (tested
  e.g. with equal loadings and group-specific thresholds) as lavaan's ``lav_standardize_*``:
  sepc.lv the EPC, sepc.all and sepc.nox ``sign(epc)``. A fixed threshold (a finite index on a
  ``|`` row) is refused in one line.

The theta parameterization (``Delta = 1/sd(y*)`` of ``Sigma*``): a structural candidate moves
``sigma`` through ``Sigma*`` and ``sd(y*)`` (the chain rule of the one-group theta indices); a scaling
factor ``~*~`` (lavaan overwrites it with ``1/sd(y*)``, yet its analytic Jacobian differentiates
the thresholds ``Delta_i (tau - mu*)`` in it and leaves the correlations) moves the item's
thresholds only, which is what lavaan tests (finite indices under equal thresholds). The Wu &
Estabrook (2016) steps of :mod:`.invariance` (``wu_estabrook=True``) are refused in one line.
References:
``Rscript scripts/lavaan_wlsmv_groups_modindices_reference.R``; tests/test_ordinal_group_modindices.py.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from ...exceptions import OptionError

__all__ = ["ordinal_group_modindices"]


def _group_view(eng) -> SimpleNamespace:
    """The group's block as the one-group helpers of :mod:`..diagnostics` read it."""
    v = eng.view
    tab = SimpleNamespace(df=v.df, ov=list(v.ov), lv=list(v.lv), ov_nox=list(v.ov), ov_x=[])
    return SimpleNamespace(model=SimpleNamespace(partable=tab, parsed=SimpleNamespace(fixed_x=[])))


def _rhs(r) -> str:
    return r if isinstance(r, str) else ""


def ordinal_group_modindices(res: Any, minimum: float = 0.0, sort: bool = True) -> pd.DataFrame:
    """lavaan's ``modindices(fit, sort. = sort, minimum.value = minimum)`` of an
    :class:`~.multigroup.OrdinalMultiGroupFit`; columns ``lhs, op, rhs, group, mi, epc, sepc_lv,
    sepc_all, sepc_nox`` (``group`` 1..G), lavaan's row order unless ``sort``."""
    from .. import diagnostics as dg
    from ..multigroup_mi import MG_MI_COLUMNS, _intercept_jacobian, _standardize_mean

    theta_p = getattr(res, "parameterization", "delta") == "theta"
    info = res._internal
    if (info.get("options") or {}).get("wu_estabrook"):
        raise OptionError("modification indices of a Wu & Estabrook (2016) invariance step are not supported yet "
                          "(not compared with lavaan)")
    table, engs, x = info["table"], info["engines"], np.asarray(res.x, float)
    ns = np.asarray(info["ns"], float)
    N = float(ns.sum())
    fg = ns / N
    Einv = info["Einv"]
    if not np.all(np.isfinite(Einv)):
        raise OptionError("could not compute modification indices: the information matrix is singular")
    keys, rows = [], []
    for gi, eng in enumerate(engs):
        view = _group_view(eng)
        grp = table[table["group"] == gi + 1]
        fx = grp[(grp["free"] == 0) & grp["op"].isin(["=~", "~", "~~", "~1", "~*~", "|"])]
        fixed = [(a, o, _rhs(b)) for a, o, b in zip(fx["lhs"], fx["op"], fx["rhs"])]
        fset = set(fixed)
        existing = dg._existing(view)
        added = [c for c in dg._candidates(view) if c not in existing and c not in fset]
        cands = fixed + added
        ts, tau, dl = eng.parts(x)
        mx0 = eng.pm.matrices_at(ts)
        mu = mx0.implied_mean
        it = eng.th_item
        nstat = eng.nth + len(eng.r)
        dx = np.zeros((len(cands), nstat))
        pos = {v: i for i, v in enumerate(eng.ov)}
        th_name = [f"{eng.ov[i]}|" for i in it]
        struct = [k for k, c in enumerate(cands) if c[1] in ("=~", "~", "~~")]
        if struct:
            sc = [cands[k] for k in struct]
            jac, ok = dg._extra_jacobian(mx0, sc)
            bad = [c for c, good in zip(sc, ok) if not good]
            if bad:
                raise OptionError(f"--modindices with --ordered and --group: the modification index of "
                                  f"{' '.join(bad[0])} (group {gi + 1}) is not supported yet")
            mj = dg._extra_mean_jacobian(mx0, sc)
            dx[struct, :eng.nth] = -dl[it][None, :] * mj[:, it]
            dx[struct, eng.nth:] = (dl[eng.r] * dl[eng.c])[None, :] * jac[:, eng.r, eng.c]
            if theta_p:  # Delta = 1/sd(y*) moves with the candidate too
                var = np.diag(mx0.implied_cov)
                ar = np.arange(len(var))
                dvar = jac[:, ar, ar] / var[None, :]
                sig = eng.sigma(x)
                dx[struct, :eng.nth] -= 0.5 * sig[None, :eng.nth] * dvar[:, it]
                dx[struct, eng.nth:] -= 0.5 * sig[None, eng.nth:] * (dvar[:, eng.r] + dvar[:, eng.c])
        means = [k for k, c in enumerate(cands) if c[1] == "~1"]
        if means:
            mj, ok = _intercept_jacobian(mx0, [cands[k] for k in means])
            dx[means, :eng.nth] = -dl[it][None, :] * mj[:, it]
        for k, (lhs, op, rhs) in enumerate(cands):
            if op == "~*~":  # d sigma / d Delta_i
                i = pos[lhs]
                sel = np.flatnonzero(it == i)
                dx[k, sel] = (tau - mu[it])[sel]
                if theta_p:  # lavaan's theta Jacobian: the scale moves the thresholds only
                    continue
                rr = np.flatnonzero(eng.r == i)
                dx[k, eng.nth + rr] = dl[eng.c[rr]] * mx0.implied_cov[i, eng.c[rr]]
                cc = np.flatnonzero(eng.c == i)
                dx[k, eng.nth + cc] = dl[eng.r[cc]] * mx0.implied_cov[eng.r[cc], i]
            elif op == "|":
                j = [n for n, t in enumerate(th_name) if t == f"{lhs}|"]
                # the k-th threshold of the item: rows of th_item in order
                dx[k, j[int(rhs[1:]) - 1]] = dl[pos[lhs]]
        w = info["w"][gi]
        e = info["s"][gi] - eng.sigma(x)
        d = info["ds"][gi]
        grad = -(ns[gi] - 1.0) / N * (dx @ (w * e))
        i_cc = fg[gi] * np.einsum("ij,j,ij->i", dx, w, dx)
        i_cm = fg[gi] * (dx @ (w[:, None] * d))
        v = i_cc - np.einsum("ij,jk,ik->i", i_cm, Einv, i_cm)
        mi, epc = dg.mi_epc(N, grad, v)
        mx = eng.matrices(x)
        factors = dg._std_factors(view, mx)
        obs = list(mx.observed)
        nfix = len(fixed)
        for k, ((lhs, op, rhs), m, ep) in enumerate(zip(cands, mi, epc)):
            if not np.isfinite(m):
                continue
            if op == "|":
                raise OptionError(f"--modindices with --ordered and --group: the standardized change of {lhs} {op} "
                                  f"{rhs} (group {gi + 1}) is not supported yet")
            ee = ep
            if op == "~~" and lhs == rhs:  # cov.std: a variance is standardized at its estimate
                ee = float(mx.theta[obs.index(lhs), obs.index(lhs)]) if lhs in obs else ep
            if op == "~*~":  # lav_standardize_lv leaves a scaling factor as it is, _all and _all_nox set 1
                sl, sa, sn = abs(ee), 1.0, 1.0
            elif op == "~1":
                sl, sa, sn = _standardize_mean(mx, lhs, abs(ee), factors)
            else:
                sl, sa, sn = dg._standardize_epc(view, mx, lhs, op, rhs, abs(ee), factors)
            sign = np.sign(ep)
            keys.append((0, gi, k) if k < nfix else (1, gi, k))
            rows.append((lhs, op, rhs, gi + 1, float(m), float(ep), sign * sl, sign * sa, sign * sn))
    rows = [rows[k] for k in sorted(range(len(rows)), key=keys.__getitem__)]
    out = pd.DataFrame(rows, columns=MG_MI_COLUMNS)
    if sort:
        out = out.sort_values("mi", ascending=False, kind="stable")
    if minimum > 0:
        out = out[out.mi > minimum]
    return out.reset_index(drop=True)
