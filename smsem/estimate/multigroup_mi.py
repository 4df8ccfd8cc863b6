"""Modification indices of a multiple-group fit, as lavaan 0.6's ``modindices(fit)``.

lavaan (``modindices`` in ``lav_modindices.R``) extends the fitted table with every group's
``lav_partable_full`` rows (cross-loadings, residual covariances, latent covariances,
regressions among the structural variables, intercepts and latent means) and frees every
fixed row (``all.free = TRUE``: marker loadings, fixed latent means, user-fixed values). For
each added parameter ``a`` of group ``g``:

- ``g_a`` the gradient of lavaan's ``fmin = sum_g (n_g / N) F_g / 2`` at the estimates;
- ``I`` the expected information per case ``sum_g (n_g / N) I_g`` of the extended model
  (``0.5 tr(S^-1 dS_a S^-1 dS_b) + dmu_a' S^-1 dmu_b`` in each group);
- ``V_a = I_aa - I_a,m I_mm^+ I_m,a`` with ``I_mm^+`` lavaan's inverted information of the
  fitted model, which under the ``group.equal`` equality rows is ``Z (Z' I_mm Z)^-1 Z'`` (``Z``
  the map from the free parameters to the table's copies): the information of smsem's
  global (constrained) parameter vector, so the equality constraints are kept, not tested
  (releasing them is :func:`smsem.invariance.score_tests`, lavaan's ``lavTestScore``);
- ``mi = N g_a^2 / V_a``, ``epc = -g_a / V_a``; ``V_a < eps^(1/3)`` (not identified, e.g. a
  latent mean next to free intercepts) is NA and the row is dropped (``na.remove = TRUE``);
- sepc.lv, sepc.all, sepc.nox with ``cov.std = TRUE`` from the group's own implied moments
  (:func:`smsem.estimate.diagnostics._standardize_epc`).

The information is the expected one whatever the estimator (lavaan's ``modindices``
default ``information = "expected"``), so MLM and MLR fits have the ML fit's indices. FIML
fits (lavaan's ``missing = "ml"``): each group's structured expected information per
missingness pattern and the gradient of its casewise log-likelihood, as the one-group FIML
:func:`~smsem.estimate.diagnostics.modindices`. Fixed covariates (fixed.x) are refused in
one line.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import OptionError
from . import ml

__all__ = ["multigroup_modindices", "MG_MI_COLUMNS"]

MG_MI_COLUMNS = ["lhs", "op", "rhs", "group", "mi", "epc", "sepc_lv", "sepc_all", "sepc_nox"]


class _View:
    """One group's block as the one-group helpers of :mod:`.diagnostics` read it."""

    def __init__(self, pt: Any, g: int):
        from .multigroup import _GroupTable

        self.table = _GroupTable(pt, g)
        self.table.ov_nox = [v for v in self.table.ov if v not in set(self.table.ov_x)]
        self.model = SimpleNamespace(partable=self.table, parsed=SimpleNamespace(fixed_x=list(self.table.ov_x)))


def _mean_candidates(view: _View, existing: set, fixed: set) -> list[tuple[str, str, str]]:
    """lav_partable_full's ``~1`` rows (observed, then latent variables) not in the table."""
    t = view.table
    return [(v, "~1", "") for v in list(t.ov) + list(t.lv)
            if (v, "~1", "") not in existing and (v, "~1", "") not in fixed]


def _intercept_jacobian(mx, cands: list[tuple[str, str, str]]) -> tuple[np.ndarray, list[bool]]:
    """d mu / d(intercept) of ``~1`` candidates: ``e_i`` for an observed variable's intercept,
    ``(Lambda (I - B)^-1)[:, j]`` for an inner variable's (latent or structural) mean."""
    inner = {v: i for i, v in enumerate(mx.inner)}
    obs = {v: i for i, v in enumerate(mx.observed)}
    lb = mx.lambda_ @ np.linalg.inv(np.eye(len(mx.inner)) - mx.beta)
    out = np.zeros((len(cands), len(mx.observed)))
    ok = []
    for k, (lhs, _op, _rhs) in enumerate(cands):
        if lhs in inner:
            out[k] = lb[:, inner[lhs]]
        elif lhs in obs:
            out[k, obs[lhs]] = 1.0
        else:
            ok.append(False)
            continue
        ok.append(True)
    return out, ok


def multigroup_modindices(res: Any, minimum: float = 0.0, sort: bool = True) -> pd.DataFrame:
    """lavaan's ``modindices(fit, sort. = sort, minimum.value = minimum)`` of a
    :class:`~smsem.estimate.multigroup.MultiGroupFit`.

    Returns
    -------
    DataFrame
        Columns ``MG_MI_COLUMNS`` (``group`` 1..G as in ``res.params``), lavaan's row order
        (every group's fixed rows in table order, then group 1's added rows, group 2's, ...)
        unless ``sort``.

    Raises
    ------
    OptionError
        Fixed covariates, or a row the engine cannot place (an indicator that is also
        regressed): not supported yet, in one line.
    """
    from .diagnostics import (_candidates, _existing, _extra_jacobian, _extra_mean_jacobian, _std_factors,
                              _standardize_epc, mi_epc)
    from .multigroup import _expected_info

    fiml_ = getattr(res, "missing", "listwise") == "fiml"
    pt = res.partable
    if list(getattr(pt, "ov_x", []) or []):
        raise OptionError("--modindices with --group and fixed covariates (fixed.x) is not supported yet")
    data = res.data
    ns = np.asarray(res.n_per_group, float)
    n_tot = float(ns.sum())
    w = ns / n_tot
    theta = np.asarray(res.start, float)
    n_glob = len(theta)
    ov = list(pt.ov)
    views = [_View(pt, g + 1) for g in range(res.ngroups)]
    # lavaan's merged table: the fixed rows of every group in table order, then each
    # group's lav_partable_full rows that are not in the table
    fixed_rows: list[list[tuple]] = []
    added: list[list[tuple]] = []
    for v in views:
        df = v.table.df
        fx = df[(df.free == 0) & df.op.isin(["=~", "~", "~~", "~1"])]
        fixed_rows.append([(a, o, b if o != "~1" else "") for a, o, b in zip(fx.lhs, fx.op, fx.rhs)])
        existing = _existing(v)
        fset = set(fixed_rows[-1])
        full = [c for c in _candidates(v) if c not in existing and c not in fset]
        added.append(full + _mean_candidates(v, {(a, o, "") for a, o in zip(df.lhs, df.op) if o == "~1"}, fset))
    per_group = []          # (group, candidates, g, info_xx diag, info_xm (global columns))
    info_mm = np.zeros((n_glob, n_glob))
    for gi, (v, pm, idx) in enumerate(zip(views, res.param_maps, res.index)):
        th = theta[idx]
        mx = pm.matrices_at(th)
        sigma, mu = mx.implied_cov, mx.implied_mean
        cands = fixed_rows[gi] + added[gi]
        cov_c = [c for c in cands if c[1] != "~1"]
        jac_c, ok = _extra_jacobian(mx, cov_c)
        mjac_c = _extra_mean_jacobian(mx, cov_c)
        int_c = [c for c in cands if c[1] == "~1"]
        mjac_i, ok_i = _intercept_jacobian(mx, int_c)
        bad = [c for c, k in zip(cov_c, ok) if not k] + [c for c, k in zip(int_c, ok_i) if not k]
        if bad:  # a row lavaan tests that smsem cannot place in its matrices: refused, not left out
            lhs, op, rhs = bad[0]
            raise OptionError(f"--modindices with --group: the modification index of {lhs} {op} {rhs} (group "
                              f"{gi + 1}) is not supported yet (an observed variable that is also regressed)")
        keep_c = np.array(ok, bool)
        keep_i = np.array(ok_i, bool)
        cands_g = [c for c, k in zip(cov_c, ok) if k] + [c for c, k in zip(int_c, ok_i) if k]
        p = sigma.shape[0]
        jac_x = np.concatenate([jac_c[keep_c] if len(cov_c) else np.zeros((0, p, p)), np.zeros((int(keep_i.sum()), p, p))])
        mj_x = np.concatenate([mjac_c[keep_c] if len(cov_c) else np.zeros((0, p)),
                               mjac_i[keep_i] if len(int_c) else np.zeros((0, p))])
        # lavaan's order of the merged table, whatever the kind of candidate
        order = {c: k for k, c in enumerate(cands)}
        perm = np.argsort([order[c] for c in cands_g], kind="stable")
        cands_g = [cands_g[k] for k in perm]
        jac_x, mj_x = jac_x[perm], mj_x[perm]
        jac_m = ml.sigma_jacobian(pm, th)
        mjac_m = ml.mean_jacobian(pm, th)
        k_m = len(jac_m)
        xg = data.loc[data[res.group] == res.group_labels[gi], ov].to_numpy(dtype=float)
        if fiml_:
            # lavaan's information = "expected" under missing = "ml": the structured expected
            # information per missingness pattern (the one-group FIML modindices)
            from . import fiml
            from .diagnostics import _fiml_information

            pat = fiml.Patterns.from_data(xg)
            info = _fiml_information(sigma, np.concatenate([jac_m, jac_x]), np.concatenate([mjac_m, mj_x]), pat)
        else:
            info = _expected_info(np.concatenate([jac_m, jac_x]), np.concatenate([mjac_m, mj_x]), sigma)
        np.add.at(info_mm, (idx[:, None], idx[None, :]), w[gi] * info[:k_m, :k_m])
        i_xm = np.zeros((len(cands_g), n_glob))
        np.add.at(i_xm, (slice(None), idx), w[gi] * info[k_m:, :k_m])
        if fiml_:  # gradient of -logl / N: the group's casewise likelihood
            _, g_mu, g_sig = fiml.fiml_loglik(pat, mu, sigma, grad=True)
            grad = -(np.einsum("ij,kij->k", g_sig, jac_x) + mj_x @ g_mu) / n_tot
        else:
            xbar, s = ml.sample_moments(xg)
            # gradient of lavaan's fmin: (n_g / N) times the gradient of F_g / 2
            grad = w[gi] * 0.5 * ml.ml_gradient_means(jac_x, mj_x, s, xbar, sigma, mu)
        per_group.append((gi + 1, v, mx, cands_g, grad, w[gi] * np.diag(info)[k_m:], i_xm))
    try:
        inv_mm = np.linalg.inv(info_mm)
    except np.linalg.LinAlgError:
        raise OptionError("could not compute modification indices: the information matrix is singular") from None
    rows, keys = [], []
    for grp, v, mx, cands_g, grad, i_xx, i_xm in per_group:
        vv = i_xx - np.einsum("ij,jk,ik->i", i_xm, inv_mm, i_xm)
        mi, epc = mi_epc(n_tot, grad, vv)
        factors = _std_factors(v, mx)
        obs = list(mx.observed)
        nfix = len(fixed_rows[grp - 1])
        pos = {c: k for k, c in enumerate(fixed_rows[grp - 1] + added[grp - 1])}
        for (lhs, op, rhs), m, e in zip(cands_g, mi, epc):
            if not np.isfinite(m):
                continue
            k = pos[(lhs, op, rhs)]
            keys.append((0, grp, k) if k < nfix else (1, grp, k))
            ee = e
            if op == "~~" and lhs == rhs:  # cov.std: a variance is standardized at its estimate
                ee = float(mx.theta[obs.index(lhs), obs.index(lhs)]) if lhs in obs else e
            if op == "~1":
                sl, sa, sn = _standardize_mean(mx, lhs, abs(ee), factors)
            else:
                sl, sa, sn = _standardize_epc(v, mx, lhs, op, rhs, abs(ee), factors)
            sign = np.sign(e)
            rows.append((lhs, op, rhs, grp, float(m), float(e), sign * sl, sign * sa, sign * sn))
    rows = [rows[k] for k in sorted(range(len(rows)), key=keys.__getitem__)]
    out = pd.DataFrame(rows, columns=MG_MI_COLUMNS)
    if sort:
        out = out.sort_values("mi", ascending=False, kind="stable")
    if minimum > 0:
        out = out[out.mi > minimum]
    return out.reset_index(drop=True)


def _standardize_mean(mx, lhs: str, epc: float, factors: tuple) -> tuple[float, float, float]:
    """sepc of an intercept or latent mean (lavaan's lav_standardize_*: divided by the
    variable's implied sd; std.lv leaves observed intercepts as they are)."""
    sd_lv, sd_ov, _, _ = factors
    if lhs in set(mx.latent):
        s = epc / sd_lv[lhs]
        return s, s, s
    if lhs in set(mx.inner):
        s = epc / sd_lv[lhs]
        return epc, s, s
    return epc, epc / sd_ov[lhs], epc / sd_ov[lhs]
