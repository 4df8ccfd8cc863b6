"""Modification indices of an ordinal fit: lavaan 0.6.14's ``modindices()`` on a WLSMV, ULSMV,
DWLS, ULS or WLS fit (delta or theta parameterization, every observed variable ordinal).

lavaan (``modindices``, ``information = "expected"``) frees every parameter of its full table
(``lav_partable_full``: cross-loadings, residual covariances of the items, latent covariances and
regressions) and computes, for each one not in the model, the score test of the WLS discrepancy:

* the expected information of the extended model ``I = Delta' W Delta`` with ``W`` the fit's weight
  matrix (DWLS: the diagonal of the NACOV inverted; ULS: the identity; WLS: the full inverse) and
  ``Delta`` the Jacobian of the model statistics (thresholds, then the correlations of the
  latent responses) in every model parameter (thresholds included) and the candidate;
* the gradient of lavaan's ``fmin = (N-1)/N F/2``, ``F = (s - sigma)' W (s - sigma)``, in the
  candidate: ``g = -(N-1)/N Delta_c' W (s - sigma)``;
* ``V = I_cc - I_cm I_mm^-1 I_mc`` (NA, and the row left out, when ``V < eps^(1/3)``: a candidate
  redundant with the free parameters, e.g. the residual variance of an item, which no
  correlation depends on), ``mi = N g^2 / V``, ``epc = -g / V``;
* ``sepc.lv``, ``sepc.all``, ``sepc.nox`` by lavaan's ``lav_standardize_*`` with ``cov.std``, at
  the fit's matrices (the items' residual variances at ``1 - R^2``, so ``sd(y*) = 1``).

The theta parameterization: the candidates move ``sigma = [tau / sd(y*), cor(y*)]`` through
``Sigma`` and ``sd(y*) = sqrt(diag(Sigma))`` (the chain rule of :meth:`.fit._Engine.jacobian`), the
standardized EPCs at the fit's matrices (residual variances 1). Observed covariates (lavaan's
conditional.x, delta): lavaan's ``strict.exo`` candidates (nothing on a covariate's left), their
``dSigma`` of the joint (y*, x) matrix turned into derivatives of the conditional statistics
(:func:`_conditional_dx`). Continuous observed variables, covariates in the theta
parameterization (lavaan adds the ``~*~`` scales as candidates) and items regressed directly on
something next to covariates are refused (one line).
References: ``Rscript scripts/lavaan_wlsmv_modindices_reference.R``; tests/test_ordinal_modindices.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...exceptions import OptionError

__all__ = ["ordinal_modindices"]


def ordinal_modindices(res, minimum: float = 0.0, sort: bool = True) -> pd.DataFrame:
    """lavaan's ``modindices(fit)`` of an ordinal fit (see the module); columns ``MI_COLUMNS``."""
    from .. import diagnostics as dg
    from .fit import _Weight

    info = getattr(res, "_ordinal", None)
    if info is None:
        raise OptionError("ordinal_modindices needs a fit with ordered items (fit(..., ordered=...))")
    eng = info["engine"]
    xs = list(info.get("covariates") or [])
    if xs and (eng.mixed or eng.theta_param):
        raise OptionError("modification indices of an ordinal fit with observed covariates are supported in the "
                          "delta parameterization with ordinal items only (lavaan's theta candidates include the "
                          "~*~ scales)")
    if xs and any(eng.ov[i] in set(eng.pm.base.inner) for i in eng.items):
        raise OptionError("modification indices of a covariate model with an item regressed directly on something "
                          "are not supported yet")
    if eng.mixed:
        raise OptionError("modification indices of an ordinal fit with continuous observed variables are not "
                          "supported yet")
    theta = np.asarray(res.start, dtype=float)
    mx = eng.matrices(theta, info["ordinal"])
    existing = dg._existing(res)
    cands = [c for c in dg._candidates(res) if c not in existing]
    if xs:  # lavaan's strict.exo with conditional.x: nothing regressed on or covarying with a covariate's row
        xset = set(xs)
        cands = [c for c in cands if c[0] not in xset and not (c[1] == "~~" and c[2] in xset)]
    jac_x, ok = dg._extra_jacobian(mx, cands)
    cands = [c for c, g in zip(cands, ok) if g]
    jac_x = jac_x[np.array(ok, dtype=bool)] if cands else jac_x[:0]
    nstat = eng.nth + len(eng.r)
    dx = np.zeros((len(cands), nstat))
    if cands and xs:
        dx = _conditional_dx(eng, mx, jac_x, xs, theta)
    elif cands and not eng.theta_param:
        dx[:, eng.nth:] = jac_x[:, eng.r, eng.c]  # delta: the candidates move the correlations only
    elif cands:  # theta: sigma = [tau / sd(y*), cor(y*)] with sd(y*) = sqrt(diag(Sigma)) moving too
        sig = eng.sigma(theta)
        var = np.diag(mx.implied_cov)
        sd = np.sqrt(var)
        ar = np.arange(len(var))
        dvar = jac_x[:, ar, ar] / var[None, :]
        dx[:, :eng.nth] = -0.5 * sig[None, :eng.nth] * dvar[:, eng.th_item]
        dx[:, eng.nth:] = (jac_x[:, eng.r, eng.c] / (sd[eng.r] * sd[eng.c])[None, :]
                           - 0.5 * sig[None, eng.nth:] * (dvar[:, eng.r] + dvar[:, eng.c]))
    ss = res.sample_stats
    s = ss.wls_obs.to_numpy(dtype=float)
    w = _Weight(info["weights"], ss.nacov.to_numpy(dtype=float))
    from ..._threads import single_thread

    d = np.concatenate([eng.jacobian(theta), dx.T], axis=1)
    k = eng.npar
    with single_thread():  # small matrices: threaded BLAS only contends for the cores
        inf = d.T @ w.mul(d)
        i22, i11, i12 = inf[:k, :k], inf[k:, k:], inf[k:, :k]
        v = np.diag(i11) - np.einsum("ij,ji->i", i12, np.linalg.solve(i22, i12.T))
    n = float(res.n)
    e = s - np.real(eng.sigma(theta))
    g = -(n - 1.0) / n * (dx @ w.mul(e))  # gradient of lavaan's fmin = (N-1)/N F/2
    mi, epc = dg.mi_epc(n, g, v)
    obs = list(mx.observed)
    factors = dg._std_factors(res, mx)
    rows = []
    for (lhs, op, rhs), m, ep in zip(cands, mi, epc):
        if not np.isfinite(m):
            continue
        ee = ep
        if op == "~~" and lhs == rhs:  # cov.std: a variance is standardized at its estimate
            ee = float(mx.theta[obs.index(lhs), obs.index(lhs)]) if lhs in obs else ep
        sl, sa, sn = dg._standardize_epc(res, mx, lhs, op, rhs, abs(ee), factors)
        sign = np.sign(ep)
        rows.append((lhs, op, rhs, float(m), float(ep), sign * sl, sign * sa, sign * sn))
    out = pd.DataFrame(rows, columns=dg.MI_COLUMNS)
    if sort:
        out = out.sort_values("mi", ascending=False, kind="stable")
    if minimum > 0:
        out = out[out.mi > minimum]
    return out.reset_index(drop=True)


def _conditional_dx(eng, mx, jac_x, xs, theta):
    """d(conditional statistics)/d(candidate) of a covariate (conditional.x) fit from the
    candidates' dSigma of the joint (y*, x) matrix: with ``A = Sigma_yx S_xx^-1`` (the slopes; the
    covariates' block is the fixed sample one), ``dA = dSigma_yx S_xx^-1`` and ``d res.cov =
    dSigma_yy - dSigma_yx A' - A dSigma_xy``; theta: through ``sd = sqrt(diag(res.cov))`` too."""
    obs = list(mx.observed)
    oi = np.asarray(eng.items)
    xi = np.array([obs.index(v) for v in xs])
    cov = mx.implied_cov
    s_inv = np.linalg.inv(cov[np.ix_(xi, xi)])
    A = cov[np.ix_(oi, xi)] @ s_inv
    d_yx = jac_x[:, oi][:, :, xi]
    dA = d_yx @ s_inv
    dR = jac_x[:, oi][:, :, oi] - d_yx @ A.T - A @ np.swapaxes(d_yx, 1, 2)
    k = len(jac_x)
    nth = eng.nuni
    if not eng.theta_param:
        parts = [np.zeros((k, nth)), np.swapaxes(dA, 1, 2).reshape(k, -1), dR[:, eng.v_i, eng.v_i],
                 dR[:, eng.r_i, eng.c_i]]
        return np.concatenate(parts, axis=1)
    sig = np.real(eng.sigma(theta))
    rescov = cov[np.ix_(oi, oi)] - A @ cov[np.ix_(xi, oi)]
    var = np.diag(rescov)
    sd = np.sqrt(var)
    rel = 0.5 * np.diagonal(dR, axis1=1, axis2=2) / var[None, :]  # d sd / sd
    tstd = sig[:nth]
    cor = sig[eng.n_pre:]
    d_th = -tstd[None, :] * rel[:, eng.th_it]
    d_sl = dA / sd[None, :, None] - (A / sd[:, None])[None] * rel[:, :, None]
    d_cor = dR[:, eng.r_i, eng.c_i] / (sd[eng.r_i] * sd[eng.c_i])[None, :] - cor[None, :] * (rel[:, eng.r_i]
                                                                                            + rel[:, eng.c_i])
    return np.concatenate([d_th, np.swapaxes(d_sl, 1, 2).reshape(k, -1), d_cor], axis=1)
