"""After the fit: R², residuals and modification indices, as lavaan 0.6.

Each function takes a fitted :class:`~smsem.estimate.results.FitResults` (duck-typed: it
reads ``.matrices``, ``.param_map``, ``.start``, ``.data``, ``.n``, ``.model``) and
returns a DataFrame; nothing refits.

- :func:`r2` is ``lavInspect(fit, "r2")``: ``1 - residual variance / implied variance``
  of every observed indicator or dependent observed variable and every latent variable
  that is regressed on something.
- :func:`residuals` is ``lavResiduals(fit, type = ...)`` (``lav_residuals.R``): raw
  (``S - Sigma``), ``cor.bollen`` (``cor(S) - cor(Sigma)``) and ``cor.bentler``
  (``(S - Sigma) / sqrt(s_ii s_jj)``) residuals with their z statistics. The z uses
  lavaan's default ``z.type = "standardized"``: the residuals' covariance is
  ``Q Gamma_S Q' / N`` with ``Q = I - Delta A0^-1 Delta' W(Sigma)``, ``Gamma_S =
  W(S)^-1`` (the unstructured h1 ACOV), ``A0 = Delta' W(Sigma) Delta`` (expected
  information per case) and, for correlation residuals, the Jacobian of the rescaling
  applied on both sides. :func:`residual_summary` gives lavaan's ``$summary`` (RMR,
  SRMR or CRMR with SE, exact-fit z, and the unbiased version with its CI and
  close-fit test); :func:`largest_residuals` lists the largest in absolute value.
- :func:`modindices` is ``modindices(fit)`` (lavaan's ``lav_mi.R``): the score test of
  each fixed parameter of ``lav_partable_full`` (cross-loadings, residual covariances
  among observed and among latent variables, regressions among the variables of the
  structural part) from the expected information of the extended model at the
  estimates: ``mi = N g^2 / (I_11 - I_12 I_22^-1 I_21)``, ``epc = -g / V`` with ``g``
  the gradient of lavaan's ``fmin = F_ML / 2`` (``-logl / N``), standardized EPCs with
  ``cov.std = TRUE``.

FIML fits (``missing = "fiml"``, lavaan's ``missing = "ml"``): :func:`residuals`,
:func:`mean_residuals` and :func:`residual_summary` are ``lavResiduals()`` of the lavaan fit:
the "observed" moments are the EM estimates of the unrestricted model (lavaan's h1), the
residuals have a mean part, and the z statistics use the observed h1 information under
missing data (:func:`_fiml_residual_parts`); :func:`modindices` uses the structured expected
information per missingness pattern.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from .. import _dist as stats

from ..exceptions import OptionError
from . import ml

__all__ = ["r2", "residuals", "mean_residuals", "residual_summary", "largest_residuals", "modindices", "score_tests", "RESIDUAL_TYPES",
           "MI_COLUMNS"]

RESIDUAL_TYPES = ("raw", "cor.bollen", "cor.bentler")
MI_COLUMNS = ["lhs", "op", "rhs", "mi", "epc", "sepc_lv", "sepc_all", "sepc_nox"]


# --------------------------------------------------------------------------- helpers
def _table(res: Any):
    return res.model.partable


def _ov_order(res: Any) -> list[str]:
    """Observed variables in lavaan's order (``lavNames(fit, "ov")``)."""
    try:
        ov = list(_table(res).ov)
    except Exception:  # noqa: BLE001 - an old model object: semopy's order
        ov = list(res.matrices.observed)
    obs = set(res.matrices.observed)
    return [v for v in ov if v in obs]


def _lv_order(res: Any) -> list[str]:
    try:
        return list(_table(res).lv)
    except Exception:  # noqa: BLE001
        return list(res.model.parsed.latents)


def _sample_cov(res: Any, order: list[str]) -> np.ndarray:
    _, s = ml.sample_moments(res.data[order].to_numpy(dtype=float))
    return s


def _check_complete(res: Any, what: str) -> None:
    if getattr(res, "missing", "listwise") != "listwise":
        raise NotImplementedError(f"{what} are available for complete-data fits (missing='listwise'); "
                                  "this FIML fit is not supported yet")


def _is_fiml(res: Any) -> bool:
    return getattr(res, "missing", "listwise") == "fiml"


def _lavaan_free(res: Any) -> np.ndarray:
    """Mask of the free parameters that lavaan estimates: smsem frees the (co)variances of
    lavaan's fixed covariates (``fixed.x``; their estimates are the sample values), lavaan
    keeps them fixed, so they are left out of the information and of ``Delta``."""
    fx = set(getattr(res.model.parsed, "fixed_x", ()) or ())
    # ("~1" rows, should the engine's ParamMap carry a mean structure, do not enter the
    # covariance structure of a complete-data fit either.)
    return np.array([op != "~1" and not (op == "~~" and lhs in fx and rhs in fx)
                     for lhs, op, rhs in res.param_map.names], dtype=bool)


def _x_vech(res: Any, order: list[str]) -> np.ndarray:
    """Mask of the ``vech`` elements among lavaan's fixed covariates: lavaan zeroes their rows
    and columns in the h1 information (``W``) and in ``Gamma`` (``fixed.x = TRUE``)."""
    fx = set(getattr(res.model.parsed, "fixed_x", ()) or ())
    r, c = _vech_idx(len(order))
    return np.array([order[i] in fx and order[j] in fx for i, j in zip(r, c)], dtype=bool)


def _zero_x(m: np.ndarray, mask: np.ndarray) -> np.ndarray:
    out = m.copy()
    out[mask, :] = 0.0
    out[:, mask] = 0.0
    return out


def _gamma_nt_raw(a: np.ndarray) -> np.ndarray:
    """``Gamma_NT`` of ``vech(S)`` at covariance ``a``: element (ab, cd) is ``a_ac a_bd + a_ad a_bc``."""
    r, c = _vech_idx(a.shape[0])
    return a[np.ix_(r, r)] * a[np.ix_(c, c)] + a[np.ix_(r, c)] * a[np.ix_(c, r)]


def _gamma_nt(s: np.ndarray, res: Any, order: list[str]) -> np.ndarray:
    """lavaan's normal-theory ``Gamma`` (the unstructured h1 ACOV times N); with fixed
    covariates ``Gamma(S) - Gamma(R)``, ``R = S - [S_yy.x 0; 0 0]`` (``S_yy.x`` the
    covariance of the other variables given the covariates), as
    ``lav_samplestats_Gamma_NT(fixed.x = TRUE)``."""
    g = _gamma_nt_raw(s)
    fx = set(getattr(res.model.parsed, "fixed_x", ()) or ())
    xi = [k for k, v in enumerate(order) if v in fx]
    if xi:
        yi = [k for k in range(len(order)) if k not in xi]
        b = s[np.ix_(yi, xi)]
        ybarx = s[np.ix_(yi, yi)] - b @ np.linalg.solve(s[np.ix_(xi, xi)], b.T)
        r = s.copy()
        r[np.ix_(yi, yi)] -= ybarx
        g = g - _gamma_nt_raw(r)
    return g


def _perm(res: Any, order: list[str]) -> list[int]:
    obs = list(res.matrices.observed)
    return [obs.index(v) for v in order]


# --------------------------------------------------------------------------- R²
def r2(res: Any) -> pd.DataFrame:
    """R² of every endogenous variable, as ``lavInspect(fit, "r2")``.

    Returns
    -------
    DataFrame
        Columns ``name, kind, r2`` (``kind`` is ``"observed"`` or ``"latent"``); observed
        variables first in lavaan's order, then the latent dependent variables.
        Observed exogenous covariates and exogenous latent variables have no R².
    """
    mx = res.matrices
    inner = list(mx.inner)
    obs = list(mx.observed)
    sigma = mx.implied_cov
    phi = mx.inner_cov
    lv = _lv_order(res)
    # lavaan: ov.ind plus dependent observed variables (ov.y); lv.y among the latents.
    parsed = res.model.parsed
    dep = {r.lhs for r in parsed.regressions}
    ov_x = set(getattr(parsed, "exogenous_observed", ()) or ())
    rows = []
    for v in _ov_order(res):
        if v in ov_x:
            continue
        i = obs.index(v)
        if v in inner:  # an observed variable of the structural part: its residual sits in psi
            k = inner.index(v)
            resid = mx.psi[k, k]
        else:
            resid = mx.theta[i, i]
        rows.append((v, "observed", 1.0 - resid / sigma[i, i]))
    for v in lv:
        if v not in dep:
            continue
        k = inner.index(v)
        rows.append((v, "latent", 1.0 - mx.psi[k, k] / phi[k, k]))
    return pd.DataFrame(rows, columns=["name", "kind", "r2"])


# --------------------------------------------------------------------------- residuals
def _vech_idx(p: int) -> tuple[np.ndarray, np.ndarray]:
    return ml.vech_indices(p)


def _duplication(p: int) -> np.ndarray:
    """Duplication matrix ``D`` (p^2 x p(p+1)/2): ``vec(A) = D vech(A)``."""
    r, c = _vech_idx(p)
    d = np.zeros((p * p, len(r)))
    for k, (i, j) in enumerate(zip(r, c)):
        d[j * p + i, k] = 1.0
        d[i * p + j, k] = 1.0
    return d


def _cov2cor_jacobian(s: np.ndarray) -> np.ndarray:
    """lavaan's ``lav_deriv_cov2corB``: derivative of vech(cor) wrt vech(cov), its own scaling."""
    p = s.shape[0]
    ds_inv = 1.0 / np.diag(s)
    sd = np.sqrt(np.diag(s))
    r = s / np.outer(sd, sd)
    a = -np.kron(r, 0.5 * np.diag(ds_inv))
    b = np.kron(0.5 * np.diag(ds_inv), -r)
    dd = np.diag(np.eye(p).reshape(-1, order="F"))
    out = a @ dd + b @ dd + np.diag(np.outer(np.sqrt(ds_inv), np.sqrt(ds_inv)).reshape(-1, order="F"))
    d = _duplication(p)
    return 0.5 * (d.T @ out @ d)


def _residual_parts(res: Any, type: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(order, residual matrix, ACOV of vech(residuals)) in lavaan's ov order."""
    if type not in RESIDUAL_TYPES:
        raise OptionError(f"type must be one of {', '.join(RESIDUAL_TYPES)}, not {type!r}")
    if _is_fiml(res):
        order, r, _, acov = _fiml_residual_parts(res, type)
        p = len(order)
        return order, r, acov[p:, p:]
    _check_complete(res, "residuals")
    order = _ov_order(res)
    perm = _perm(res, order)
    s = _sample_cov(res, order)
    pm = res.param_map
    theta = np.asarray(res.start, dtype=float)
    sigma = pm.matrices_at(theta).implied_cov[np.ix_(perm, perm)]
    jac = ml.sigma_jacobian(pm, theta)[_lavaan_free(res)][:, perm][:, :, perm]
    n = res.n
    sd_s = np.sqrt(np.diag(s))
    if type == "raw":
        r = s - sigma
    elif type == "cor.bentler":
        r = (s - sigma) / np.outer(sd_s, sd_s)
    else:
        sd_m = np.sqrt(np.diag(sigma))
        r = s / np.outer(sd_s, sd_s) - sigma / np.outer(sd_m, sd_m)
    # lav_residuals_acov(z.type = "standardized", h1.acov = "unstructured")
    xm = _x_vech(res, order)
    delta = ml.vech(jac).T
    delta[xm, :] = 0.0
    w_sigma = _zero_x(ml.weight_matrix(sigma), xm)
    a0 = delta.T @ w_sigma @ delta
    acov_est = delta @ np.linalg.pinv(a0) @ delta.T
    acov_obs = _gamma_nt(s, res, order) / n
    q = np.eye(len(delta)) - acov_est @ w_sigma
    acov = q @ acov_obs @ q.T
    if type == "cor.bentler":
        g = np.diag(ml.vech(np.outer(1 / sd_s, 1 / sd_s)))
        acov = g @ acov @ g
    elif type == "cor.bollen":
        f1 = _cov2cor_jacobian(s)
        acov = f1 @ acov @ f1.T
    return order, r, acov


def _missing_h1_information(pat: Any, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Observed information per case of the unrestricted normal model under missing data at
    ``(mu, sigma)``, for ``(mu, vech(Sigma))``: lavaan's
    ``lav_mvnorm_missing_information_observed_samplestats`` (minus the Hessian of the
    casewise log-likelihood, from each pattern's mean and N-divided covariance, over N)."""
    p = len(mu)
    dup = _duplication(p)
    h11 = np.zeros((p, p))
    k21 = np.zeros((p * p, p))
    k22 = np.zeros((p * p, p * p))
    for o, nk, m, c in zip(pat.observed, pat.counts, pat.means, pat.covs):
        s_inv = np.zeros((p, p))
        s_inv[np.ix_(o, o)] = np.linalg.inv(sigma[np.ix_(o, o)])
        si = s_inv[np.ix_(o, o)]
        d = m - mu[o]
        t21 = np.zeros((p, 1))
        t21[o, 0] = si @ d
        w = c + np.outer(d, d)
        t22 = np.zeros((p, p))
        t22[np.ix_(o, o)] = si @ (2 * w - sigma[np.ix_(o, o)]) @ si
        h11 += nk * s_inv
        k21 += nk * np.kron(t21, s_inv)
        k22 += nk * np.kron(s_inv, t22)
    h21 = dup.T @ k21
    h22 = 0.5 * dup.T @ k22 @ dup
    info = np.block([[h11, h21.T], [h21, h22]]) / pat.n
    return 0.5 * (info + info.T)


def _missing_h1_firstorder(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """First-order information per case of the unrestricted normal model under missing data
    for ``(mu, vech(Sigma))``: lavaan's ``lav_mvnorm_missing_information_firstorder``, the
    mean cross-product of the casewise scores (``Sigma_oo^-1 (x_o - mu_o)`` and the ``vech``
    of ``(z z' - Sigma_oo^-1) / 2`` with the off-diagonal counted twice)."""
    n, p = x.shape
    r, c = _vech_idx(p)
    scores = np.zeros((n, p + len(r)))
    mask = ~np.isnan(x)
    keys, inv = np.unique(mask, axis=0, return_inverse=True)
    inv = np.asarray(inv).ravel()
    for k, key in enumerate(keys):
        rows = np.flatnonzero(inv == k)
        o = np.flatnonzero(key)
        if not len(o):
            continue
        si = np.linalg.inv(sigma[np.ix_(o, o)])
        z = np.zeros((len(rows), p))
        z[:, o] = (x[np.ix_(rows, o)] - mu[o]) @ si
        s_inv = np.zeros((p, p))
        s_inv[np.ix_(o, o)] = si
        sc = z[:, r] * z[:, c] - s_inv[r, c]
        sc[:, r == c] /= 2
        scores[rows, :p] = z
        scores[rows, p:] = sc
    return scores.T @ scores / n


def _rescale(mat: np.ndarray, vec: np.ndarray, var_cov: np.ndarray, var_mean: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """lavaan's ``lav_residuals_rescale``: covariances by ``1 / sqrt(v_i v_j)`` and means by
    ``1 / sqrt(v2_i)``, an element below 1e-5 in absolute value left as it is."""
    sc = np.outer(1 / np.sqrt(var_cov), 1 / np.sqrt(var_cov))
    sc = np.where(np.abs(mat) < 1e-5, 1.0, sc)
    sm = 1 / np.sqrt(var_mean)
    sm = np.where(np.abs(vec) < 1e-5, 1.0, sm)
    return mat * sc, vec * sm


def _fiml_raw_parts(res: Any) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(order, EM mean, EM covariance, implied mean, implied covariance, ACOV of the raw
    ``[mean; vech(cov)]`` residuals), computed once per fit (a report asks for them many
    times) and kept on the (immutable) results object."""
    cache = res.__dict__.get("_fiml_residual_cache")
    if cache is not None:
        return cache
    from . import fiml

    order = _ov_order(res)
    perm = _perm(res, order)
    x = res.data[order].to_numpy(dtype=float)
    x = x[~np.isnan(x).all(axis=1)]
    pat = fiml.Patterns.from_data(x)
    mu_h1, s_h1, _, _ = fiml.em_saturated(x, pat)
    pm = res.param_map
    theta = np.asarray(res.start, dtype=float)
    mx = pm.matrices_at(theta)
    sigma = mx.implied_cov[np.ix_(perm, perm)]
    mu = np.asarray(mx.implied_mean, dtype=float)[perm]
    jac = ml.sigma_jacobian(pm, theta)[:, perm][:, :, perm]
    mjac = ml.mean_jacobian(pm, theta)[:, perm]
    delta = np.concatenate([mjac.T, ml.vech(jac).T])
    a1 = _missing_h1_information(pat, mu, sigma)
    i1_inv = np.linalg.inv(_missing_h1_information(pat, mu_h1, s_h1))
    if getattr(res, "estimator", "ML") == "MLR":
        # lavaan's se = "robust.huber.white": the sandwich I1^-1 J1 I1^-1 / N, J1 the
        # first-order h1 information (casewise scores) at the EM moments
        acov_obs = i1_inv @ _missing_h1_firstorder(x, mu_h1, s_h1) @ i1_inv / pat.n
    else:
        acov_obs = i1_inv / pat.n
    a0_inv = np.linalg.pinv(delta.T @ a1 @ delta)   # lavaan: use.ginv = TRUE
    q = np.eye(len(delta)) - delta @ a0_inv @ delta.T @ a1
    out = (order, mu_h1, s_h1, mu, sigma, q @ acov_obs @ q.T)
    object.__setattr__(res, "_fiml_residual_cache", out) if hasattr(res, "__dict__") else None
    return out


def _fiml_residual_parts(res: Any, type: str) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """``lavResiduals(fit, type)`` of a ``missing = "ml"`` fit: (order, covariance residuals,
    mean residuals, ACOV of ``[mean; vech(cov)]`` residuals) in lavaan's ov order.

    The "observed" moments are the EM estimates of the unrestricted model (lavaan's h1); the
    ACOV is lavaan's ``lav_residuals_acov(z.type = "standardized")`` with its defaults for
    ``missing = "ml"`` (``information = "observed"``): ``Q Gamma Q'`` with ``Gamma`` the
    inverse observed h1 information at the EM moments over N (``h1.acov = "unstructured"``),
    ``Q = I - Delta A0^-1 Delta' A1``, ``A1`` the observed h1 information at the model-implied
    moments (``h1.information = "structured"``) and ``A0 = Delta' A1 Delta``; for the
    correlation metrics the means are divided by the EM standard deviations and the
    covariances rescaled with lavaan's Jacobians.
    """
    # NotImplementedError, as every "not yet" of the diagnostics: the reports write a note
    if getattr(res, "estimator", "ML") not in ("ML", "MLR"):
        raise NotImplementedError(f"residuals of a FIML fit are available for estimators ML and MLR, "
                                  f"not {res.estimator}")
    if list(getattr(res.model.parsed, "fixed_x", ()) or ()):
        raise NotImplementedError("residuals of a FIML fit with fixed covariates (fixed.x) are not supported yet")
    order, mu_h1, s_h1, mu, sigma, acov = _fiml_raw_parts(res)
    p = len(order)
    v_obs = np.diag(s_h1)
    if type == "raw":
        r_cov, r_mean = s_h1 - sigma, mu_h1 - mu
    else:
        oc, om = _rescale(s_h1, mu_h1, v_obs, v_obs)
        if type == "cor.bentler":
            ec, em = _rescale(sigma, mu, v_obs, v_obs)
        else:
            ec, em = _rescale(sigma, mu, np.diag(sigma), v_obs)
        r_cov, r_mean = oc - ec, om - em
        ss = 1 / np.sqrt(v_obs)
        if type == "cor.bentler":
            ff = np.diag(np.concatenate([ss, ml.vech(np.outer(ss, ss))]))
        else:
            ff = np.zeros_like(acov)
            ff[:p, :p] = np.diag(ss)
            ff[p:, p:] = _cov2cor_jacobian(s_h1)
        acov = ff @ acov @ ff.T
    return order, r_cov, r_mean, acov


def _z_table(val: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SE and lavaan's z (a residual below 1e-4 in absolute value divided by 1; a negative
    variance gives NaN)."""
    d = np.asarray(var, dtype=float).copy()
    d[~np.isfinite(d) | (d < 0)] = np.nan
    se = np.sqrt(d)
    return se, val / np.where(np.abs(val) < 1e-4, 1.0, se)


def mean_residuals(res: Any, type: str = "cor.bollen") -> pd.DataFrame:
    """Residuals of the means, ``lavResiduals(fit, type)$mean`` with ``$mean.z``, of a fit with
    a mean structure (FIML: EM means minus model-implied means; in the correlation metrics
    divided by the EM standard deviations).

    Returns
    -------
    DataFrame
        ``lhs, residual, se, z`` in lavaan's ov order.

    Raises
    ------
    NotImplementedError
        A complete-data fit (lavaan's default has no mean structure: no mean residuals).
    """
    if type not in RESIDUAL_TYPES:
        raise OptionError(f"type must be one of {', '.join(RESIDUAL_TYPES)}, not {type!r}")
    if not _is_fiml(res):
        raise NotImplementedError("mean residuals need a mean structure: available for FIML fits "
                                  "(missing='fiml'); a complete-data fit has none")
    order, _, r_mean, acov = _fiml_residual_parts(res, type)
    p = len(order)
    se, z = _z_table(r_mean, np.diag(acov)[:p])
    return pd.DataFrame({"lhs": order, "residual": r_mean, "se": se, "z": z})


def residuals(res: Any, type: str = "cor.bollen") -> pd.DataFrame:
    """Residuals of the covariance structure as lavaan's ``lavResiduals(fit, type)``.

    Parameters
    ----------
    res : FitResults
    type : {"raw", "cor.bollen", "cor.bentler"}, default="cor.bollen"
        lavaan's default is ``"cor.bentler"`` (the residuals behind SRMR); ``"cor.bollen"``
        is the difference of the observed and implied correlation matrices.

    Returns
    -------
    DataFrame
        One row per element of the lower triangle with the diagonal, in lavaan's ``vech``
        order (column by column): ``lhs, rhs, residual, se, z`` (z is lavaan's ``cov.z``:
        standardized residuals; a residual below 1e-4 in absolute value is divided by 1,
        a negative variance gives NaN, as lavaan).
    """
    order, r, acov = _residual_parts(res, type)
    rows_i, cols_j = _vech_idx(len(order))
    d = np.diag(acov).copy()
    d[~np.isfinite(d) | (d < 0)] = np.nan
    se = np.sqrt(d)
    val = r[rows_i, cols_j]
    z = val / np.where(np.abs(val) < 1e-4, 1.0, se)
    return pd.DataFrame({"lhs": [order[i] for i in rows_i], "rhs": [order[j] for j in cols_j],
                         "residual": val, "se": se, "z": z})


def residual_matrix(res: Any, type: str = "cor.bollen", z: bool = False) -> pd.DataFrame:
    """The residual (or its z) matrix, labelled, as ``lavResiduals(fit, type)$cov`` (``$cov.z``)."""
    tab = residuals(res, type)
    order = list(dict.fromkeys(tab.rhs))
    p = len(order)
    m = np.zeros((p, p))
    col = "z" if z else "residual"
    idx = {v: k for k, v in enumerate(order)}
    for a, b, v in zip(tab.lhs, tab.rhs, tab[col]):
        m[idx[a], idx[b]] = m[idx[b], idx[a]] = v
    return pd.DataFrame(m, index=order, columns=order)


def _rms_summary(stats_v: np.ndarray, acov: np.ndarray, pstar: int, level: float = 0.90,
                 h0: float = 0.05) -> dict[str, float]:
    """lavaan's ``lav_residuals_summary_rms`` with lavResiduals' summary options."""
    rms = float(np.sqrt(np.sum(stats_v ** 2) / pstar))
    tr2 = float(np.trace(acov @ acov))
    tr1 = float(np.trace(acov))
    avar = tr2 / (tr1 * 2 * pstar)
    se = np.sqrt(avar) if np.isfinite(avar) and avar >= np.finfo(float).eps else np.nan
    e_rms = np.sqrt(tr1 / pstar) * (4 * tr1 * tr1 - tr2) / (4 * tr1 * tr1)
    z = max(rms - e_rms, 0.0) / se
    t_cov = float(stats_v @ stats_v)
    eve = float(stats_v @ acov @ stats_v)
    k_cov = 1 - (tr2 + 2 * eve) / (4 * t_cov * t_cov)
    urms = 1 / k_cov * np.sqrt(max(t_cov - tr1, 0.0) / pstar)
    uavar = 1 / (k_cov * k_cov) * (tr2 + 2 * eve) / (2 * pstar * t_cov)
    use = np.sqrt(uavar) if np.isfinite(uavar) and uavar >= np.finfo(float).eps else np.nan
    fac = stats.norm.ppf((1 - level) / 2)
    uz = (urms - h0) / use
    return {"value": rms, "se": se, "exactfit_z": z, "exactfit_pvalue": 1 - stats.norm.cdf(z),
            "unbiased": urms, "unbiased_se": use, "unbiased_ci_lower": urms + use * fac,
            "unbiased_ci_upper": urms - use * fac, "closefit_h0": h0, "closefit_z": uz,
            "closefit_pvalue": 1 - stats.norm.cdf(uz)}


_SUMMARY_NAME = {"raw": "rmr", "cor.bentler": "srmr", "cor.bollen": "crmr"}


def residual_summary(res: Any, type: str = "cor.bollen") -> pd.DataFrame:
    """lavaan's ``lavResiduals(fit, type)$summary``: RMR (raw), SRMR (cor.bentler) or CRMR
    (cor.bollen) over the covariance block, with SE, exact-fit z test, the unbiased
    estimate with its SE, 90% CI and close-fit test (H0: value <= .05).

    Returns
    -------
    DataFrame
        Columns ``stat, value``; ``stat`` is lavaan's row name with ``.`` kept
        (``crmr``, ``crmr.se``, ``crmr.exactfit.z``, ..., ``ucrmr.ci.upper``).
    """
    nm = _SUMMARY_NAME[type]
    keys = [(nm, "value"), (f"{nm}.se", "se"), (f"{nm}.exactfit.z", "exactfit_z"),
            (f"{nm}.exactfit.pvalue", "exactfit_pvalue"), (f"u{nm}", "unbiased"), (f"u{nm}.se", "unbiased_se"),
            (f"u{nm}.ci.lower", "unbiased_ci_lower"), (f"u{nm}.ci.upper", "unbiased_ci_upper"),
            (f"u{nm}.closefit.h0.value", "closefit_h0"), (f"u{nm}.closefit.z", "closefit_z"),
            (f"u{nm}.closefit.pvalue", "closefit_pvalue")]
    if _is_fiml(res):
        # lavaan's summary with a mean structure: the covariance block, the means, and both
        if type not in RESIDUAL_TYPES:
            raise OptionError(f"type must be one of {', '.join(RESIDUAL_TYPES)}, not {type!r}")
        order, r, r_mean, acov = _fiml_residual_parts(res, type)
        p = len(order)
        v = ml.vech(r)
        less = p if type == "cor.bollen" else 0
        cov_ = _rms_summary(v, acov[p:, p:], len(v) - less)
        mean_ = _rms_summary(r_mean, acov[:p, :p], p)
        tot = np.concatenate([r_mean, v])
        total = _rms_summary(tot, acov, len(tot) - less)
        return pd.DataFrame([(k, float(cov_[f]), float(mean_[f]), float(total[f])) for k, f in keys],
                            columns=["stat", "value", "mean", "total"])
    order, r, acov = _residual_parts(res, type)
    v = ml.vech(r)
    pstar = len(v) - (len(order) if type == "cor.bollen" else 0)
    out = _rms_summary(v, acov, pstar)
    return pd.DataFrame([(k, float(out[f])) for k, f in keys], columns=["stat", "value"])


def largest_residuals(res: Any, type: str = "cor.bollen", n: int = 10, by: str = "residual") -> pd.DataFrame:
    """The ``n`` largest off-diagonal residuals in absolute value (``by="residual"``, as
    ``lavResiduals(..., output = "table")``) or by absolute z (``by="z"``), with the item
    ids in ``lhs`` and ``rhs`` (join a codebook's wording on them)."""
    if by not in ("residual", "z"):
        raise OptionError(f"by must be 'residual' or 'z', not {by!r}")
    tab = residuals(res, type)
    tab = tab[tab.lhs != tab.rhs]
    key = tab[by].abs()
    return tab.loc[key.sort_values(ascending=False, kind="stable").index].head(n).reset_index(drop=True)


# --------------------------------------------------------------------------- modification indices
def _candidates(res: Any) -> list[tuple[str, str, str]]:
    """lavaan's ``lav_partable_full`` rows for one block without mean structure."""
    tab = _table(res)
    lv = list(tab.lv)
    ov = list(tab.ov)
    ov_nox = list(tab.ov_nox)
    ov_x = list(tab.ov_x)
    df = tab.df
    reg = df[df.op == "~"]
    eqs_y = list(dict.fromkeys(reg.lhs))
    eqs_x = list(dict.fromkeys(reg.rhs))
    eqs = list(dict.fromkeys(eqs_y + eqs_x))
    ov_ind = list(dict.fromkeys(df[df.op == "=~"].rhs))
    out = [(f, "=~", v) for f in lv for v in ov_nox if v not in eqs]
    # observed (co)variances: lower triangle column by column, lhs the earlier variable
    ovc = []
    for j, a in enumerate(ov_nox):
        for b in ov_nox[j:]:
            ovc.append((a, "~~", b))
    other = [v for v in ov if v not in ov_ind]
    if other:
        ovc = [t for t in ovc if not (t[0] in other or t[2] in other)]
    out += ovc
    for j, a in enumerate(ov_x):
        for b in ov_x[j:]:
            out.append((a, "~~", b))
    for j, a in enumerate(lv):
        for b in lv[j:]:
            out.append((a, "~~", b))
    for y in eqs:
        for x in eqs:
            if x != y and not (y in ov_ind and x in lv):
                out.append((y, "~", x))
    return out


def _existing(res: Any) -> set:
    """The table's free rows, matched as lavaan merges the full table: by ``lhs op rhs`` as
    written (a reversed ``~~`` counts as new; redundant with a free parameter, its score
    test is then undefined and dropped)."""
    df = _table(res).df
    df = df[df.free > 0]
    return set(zip(df.lhs, df.op, df.rhs))


def _fixed_rows(res: Any) -> list[tuple[str, str, str]]:
    """The table's fixed parameters (marker loadings, user-fixed values, the fixed
    covariates' moments): lavaan's ``all.free = TRUE`` tests them too."""
    df = _table(res).df
    df = df[(df.free == 0) & df.op.isin(["=~", "~", "~~"])]
    return list(zip(df.lhs, df.op, df.rhs))


def _extra_jacobian(mx, cands: list[tuple[str, str, str]]) -> tuple[np.ndarray, list[bool]]:
    """dSigma / d(candidate) for each candidate (p x p each); ok=False where the
    parameter has no cell in the engine's matrices."""
    inner = {v: i for i, v in enumerate(mx.inner)}
    obs = {v: i for i, v in enumerate(mx.observed)}
    lam = mx.lambda_
    binv = np.linalg.inv(np.eye(len(mx.inner)) - mx.beta)
    c = binv @ mx.psi @ binv.T
    lb = lam @ binv
    lc = lam @ c
    p = len(mx.observed)
    out = np.zeros((len(cands), p, p))
    ok = []
    for k, (lhs, op, rhs) in enumerate(cands):
        d = out[k]
        good = True
        if op == "=~" and lhs in inner and rhs in obs and rhs not in inner:
            i, j = obs[rhs], inner[lhs]
            d[i, :] += lc[:, j]
            d[:, i] += lc[:, j]
        elif op == "~" and lhs in inner and rhs in inner:
            t = np.outer(lb[:, inner[lhs]], lc[:, inner[rhs]])
            d += t + t.T
        elif op == "~~" and lhs in inner and rhs in inner:
            a, b = inner[lhs], inner[rhs]
            t = np.outer(lb[:, a], lb[:, b])
            d += t + t.T if a != b else t
        elif op == "~~" and lhs in obs and rhs in obs and (lhs in inner) != (rhs in inner):
            # one of the two is an observed variable of a regression, a phantom latent variable
            # in the engine (lambda 1, theta 0): the covariance of its disturbance with the
            # other's residual moves Sigma along the phantom's column of Lambda (I - B)^-1
            # (whatever the phantom predicts moves too), as lavaan's candidate row
            a, b = (lhs, rhs) if lhs in inner else (rhs, lhs)
            u = lb[:, inner[a]]
            d[:, obs[b]] += u
            d[obs[b], :] += u
        elif op == "~~" and lhs in obs and rhs in obs and lhs not in inner and rhs not in inner:
            a, b = obs[lhs], obs[rhs]
            d[a, b] += 1.0
            if a != b:
                d[b, a] += 1.0
        else:
            good = False
        ok.append(good)
    return out, ok


def _extra_mean_jacobian(mx, cands: list[tuple[str, str, str]]) -> np.ndarray:
    """d mu / d(candidate) (k, p) with a mean structure: a loading moves the item's mean by
    the latent mean, a regression moves the means through ``Lambda (I - B)^-1``."""
    inner = {v: i for i, v in enumerate(mx.inner)}
    obs = {v: i for i, v in enumerate(mx.observed)}
    binv = np.linalg.inv(np.eye(len(mx.inner)) - mx.beta)
    eta = binv @ mx.alpha if mx.alpha is not None else np.zeros(len(mx.inner))
    lb = mx.lambda_ @ binv
    out = np.zeros((len(cands), len(mx.observed)))
    for k, (lhs, op, rhs) in enumerate(cands):
        if op == "=~":
            out[k, obs[rhs]] += eta[inner[lhs]]
        elif op == "~":
            out[k] += lb[:, inner[lhs]] * eta[inner[rhs]]
    return out


def _fiml_information(sigma: np.ndarray, jac: np.ndarray, mjac: np.ndarray, pat: Any) -> np.ndarray:
    """Unit expected information of FIML (lavaan's ``information = "expected"``,
    ``h1.information = "structured"``): ``sum_k n_k / N`` of the normal information of
    ``(mu_o, Sigma_oo)`` of pattern ``k`` at the implied moments, through the Jacobians
    ``jac`` (q, p, p) of Sigma and ``mjac`` (q, p) of mu.

    With ``P_k`` the inverse of ``Sigma_oo`` padded with zeros to p x p, the weights are
    summed over the patterns first: ``V = sum_k w_k P_k`` (means) and
    ``W = sum_k w_k P_k (x) P_k`` (covariances, ``tr(P dS_a P dS_b) = vec(dS_a)' (P (x) P)
    vec(dS_b)``), so the parameters meet them once: ``mjac V mjac' + J W J' / 2``."""
    p = sigma.shape[0]
    v = np.zeros((p, p))
    w = np.zeros((p * p, p * p))
    for o, nk in zip(pat.observed, pat.counts):
        pk = np.zeros((p, p))
        pk[np.ix_(o, o)] = np.linalg.inv(sigma[np.ix_(o, o)])
        v += nk / pat.n * pk
        w += nk / pat.n * np.kron(pk, pk)
    j = jac.reshape(len(jac), p * p)
    info = mjac @ v @ mjac.T + 0.5 * (j @ w @ j.T)
    return 0.5 * (info + info.T)


def _std_factors(res: Any, mx) -> tuple[dict, dict, dict, dict]:
    """Standard deviations for lavaan's standardization of EPCs (cov.std = TRUE):
    implied sds of latent and observed variables and the residual variances."""
    inner = list(mx.inner)
    obs = list(mx.observed)
    sd_lv = dict(zip(inner, np.sqrt(np.diag(mx.inner_cov))))
    sd_ov = dict(zip(obs, np.sqrt(np.diag(mx.implied_cov))))
    rv_lv = dict(zip(inner, np.diag(mx.psi)))
    rv_ov = dict(zip(obs, np.diag(mx.theta)))
    return sd_lv, sd_ov, rv_lv, rv_ov


def _standardize_epc(res: Any, mx, lhs: str, op: str, rhs: str, epc: float,
                     factors: tuple | None = None) -> tuple[float, float, float]:
    """sepc.lv, sepc.all, sepc.nox of one EPC (lavaan's lav_standardize_* with cov.std);
    ``factors``: ``_std_factors(res, mx)`` computed once for many EPCs."""
    sd_lv, sd_ov, rv_lv, rv_ov = factors if factors is not None else _std_factors(res, mx)
    inner = set(mx.inner)
    obs_only = set(mx.observed) - inner
    lvs = set(_lv_order(res))
    ov_x = set(getattr(res.model.parsed, "fixed_x", ()) or ())

    def sd_all(v: str) -> float:
        return sd_ov[v] if v in obs_only else sd_lv[v]

    def sd_l(v: str) -> float:  # std.lv scales latent variables only
        return sd_lv[v] if v in lvs else 1.0

    if op == "=~":
        lv_ = epc * sd_lv[lhs]
        return lv_, lv_ / sd_ov[rhs], lv_ / sd_ov[rhs]
    if op == "~":
        lv_ = epc * sd_l(rhs) / sd_l(lhs)
        al = epc * sd_all(rhs) / sd_all(lhs)
        nox = al if rhs not in ov_x else epc / sd_all(lhs)
        return lv_, al, nox
    # ~~ with cov.std: covariance divided by the residual sds (variances by implied)
    if lhs == rhs:
        v = sd_all(lhs) ** 2
        return (epc / sd_lv[lhs] ** 2 if lhs in lvs else epc), epc / v, epc / v

    def rv(v: str) -> float:
        return rv_ov[v] if v in obs_only else rv_lv[v]

    al = epc / np.sqrt(rv(lhs) * rv(rhs))
    lv_ = al if (lhs in lvs and rhs in lvs) else epc
    return lv_, al, al


def mi_epc(n: float, g: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lavaan's ``modindices()`` from the gradient ``g`` of its fmin at the candidates and the
    diagonal ``v`` of their information given the free parameters: ``mi = N g² / v`` and
    ``epc = -mi / (N g)``; NaN where ``v < eps^(1/3)`` (lavaan's ``na.remove``: the score test
    is not defined)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.where(v < np.finfo(float).eps ** (1 / 3), np.nan, v)
        mi = n * g * g / v
        d = n * g
        d = np.where(np.abs(d) < 1e-15, 1.0, d)
        return mi, -mi / d


def modindices(res: Any, minimum: float = 0.0, sort: bool = True) -> pd.DataFrame:
    """Modification indices as lavaan's ``modindices(fit, sort. = TRUE)``.

    Parameters
    ----------
    res : FitResults
    minimum : float, default=0
        Keep rows with ``mi > minimum`` (lavaan's ``minimum.value``).
    sort : bool, default=True
        Largest MI first (lavaan's ``sort. = TRUE``); otherwise lavaan's table order.

    Returns
    -------
    DataFrame
        Columns ``MI_COLUMNS``: ``lhs, op, rhs, mi, epc, sepc_lv, sepc_all, sepc_nox``.
        Rows whose score test is not defined (the parameter is redundant with the free
        ones, ``V < eps^(1/3)``) are left out, as lavaan's ``na.remove = TRUE``.
    """
    from .categorical.multigroup import OrdinalMultiGroupFit

    if isinstance(res, OrdinalMultiGroupFit):  # a multiple-group ordinal fit: WLS score tests per group
        from .categorical.group_modindices import ordinal_group_modindices

        return ordinal_group_modindices(res, minimum=minimum, sort=sort)
    if getattr(res, "group_labels", None) is not None:  # a multiple-group fit: a group column
        from .multigroup_mi import multigroup_modindices

        return multigroup_modindices(res, minimum=minimum, sort=sort)
    if getattr(res, "_ordinal", None) is not None:  # WLSMV & co: the WLS discrepancy's score test
        from .categorical.modindices import ordinal_modindices

        return ordinal_modindices(res, minimum=minimum, sort=sort)
    fiml_ = getattr(res, "missing", "listwise") == "fiml"
    if not fiml_:
        _check_complete(res, "modification indices")
    elif list(getattr(res.model.parsed, "fixed_x", ()) or ()):
        raise OptionError("modification indices of a FIML fit with fixed covariates (fixed.x) are not supported yet")
    pm = res.param_map
    theta = np.asarray(res.start, dtype=float)
    mx = pm.matrices_at(theta)
    obs = list(mx.observed)
    sigma = mx.implied_cov
    existing = _existing(res)
    cands = _fixed_rows(res)
    cands += [c for c in _candidates(res) if c not in existing and c not in set(cands)]
    jac_x, ok = _extra_jacobian(mx, cands)
    cands = [c for c, g in zip(cands, ok) if g]
    jac_x = jac_x[np.array(ok, dtype=bool)] if cands else jac_x[:0]
    if fiml_:
        # lavaan's modindices(information = "expected") on a missing = "ml" fit: the
        # structured expected information per pattern, every free row (intercepts
        # included), and the FIML score of the candidates (their mean part as well).
        from . import fiml

        jac_m = ml.sigma_jacobian(pm, theta)
        mj_x = _extra_mean_jacobian(mx, cands)
        data = res.data[obs].to_numpy(dtype=float)
        pat = fiml.Patterns.from_data(data)
        info = _fiml_information(sigma, np.concatenate([jac_m, jac_x]),
                                 np.concatenate([ml.mean_jacobian(pm, theta), mj_x]), pat)
        _, g_mu, g_sig = fiml.fiml_loglik(pat, mx.implied_mean, sigma, grad=True)
        g = -(np.einsum("ij,kij->k", g_sig, jac_x) + mj_x @ g_mu) / res.n   # d(-logl/N) = d(F_ML/2)
    else:
        s = _sample_cov(res, obs)
        jac_m = ml.sigma_jacobian(pm, theta)[_lavaan_free(res)]
        jac = np.concatenate([jac_m, jac_x])
        # expected information Delta' W Delta, W with lavaan's fixed.x rows and columns zeroed
        xm = _x_vech(res, obs)
        w = _zero_x(ml.weight_matrix(sigma), xm)
        delta = ml.vech(jac).T
        info = delta.T @ w @ delta
        # gradient of lavaan's fmin (F_ML / 2) with respect to the extra parameters
        g = 0.5 * ml.ml_gradient(jac_x, s, sigma)  # gradient of F_ML / 2 (not the fixed.x-weighted form)
    k = len(jac_m)
    i22 = info[:k, :k]
    i11 = info[k:, k:]
    i12 = info[k:, :k]
    v = np.diag(i11) - np.einsum("ij,ji->i", i12, np.linalg.solve(i22, i12.T))
    n = res.n
    mi, epc = mi_epc(n, g, v)
    fx = set(getattr(res.model.parsed, "fixed_x", ()) or ())
    factors = _std_factors(res, mx)  # once for every candidate (they depend on the fit only)
    rows = []
    for (lhs, op, rhs), m, e in zip(cands, mi, epc):
        if lhs in fx and rhs in fx and lhs != rhs:
            # lavaan lists a regression or a reversed covariance between two fixed
            # covariates with mi = epc = 0 (their moments are not modelled under fixed.x)
            # (lavaan's sepc.all of the covariance is NA: the x variances are not standardized)
            rows.append((lhs, op, rhs, 0.0, 0.0, 0.0, np.nan if op == "~~" else 0.0, 0.0))
            continue
        if lhs in fx and lhs == rhs:  # a fixed covariate's variance: not tested (lavaan: NA)
            continue
        if not np.isfinite(m):
            continue
        ee = e
        if op == "~~" and lhs == rhs:  # cov.std: a variance is standardized at its estimate
            ee = float(mx.theta[obs.index(lhs), obs.index(lhs)]) if lhs in obs else e
        sl, sa, sn = _standardize_epc(res, mx, lhs, op, rhs, abs(ee), factors)
        sign = np.sign(e)
        rows.append((lhs, op, rhs, float(m), float(e), sign * sl, sign * sa, sign * sn))
    out = pd.DataFrame(rows, columns=MI_COLUMNS)
    if sort:
        out = out.sort_values("mi", ascending=False, kind="stable")
    if minimum > 0:
        out = out[out.mi > minimum]
    return out.reset_index(drop=True)


# --------------------------------------------------------------------------- score tests


def _fiml_expected_information(pm: Any, pat: Any, x: np.ndarray) -> np.ndarray:
    """Unit expected information of a FIML fit (lavaan's ``information = "expected"`` with
    ``h1.information = "structured"``): ``sum_k n_k / N`` of the normal information of
    ``(mu_o, Sigma_oo)`` of pattern ``k`` at the model-implied moments, taken through
    ``d mu / d theta`` and ``d Sigma / d theta``."""
    return _fiml_information(pm.matrices_at(x).implied_cov, ml.sigma_jacobian(pm, x), ml.mean_jacobian(pm, x), pat)


def score_tests(res: Any, cumulative: bool = True) -> dict[str, pd.DataFrame]:
    """lavaan's ``lavTestScore(fit, cumulative = TRUE)``: score (Lagrange multiplier) tests of
    the model's equality constraints, from shared labels (lavaan's ``.pK. == .pJ.`` rows)
    or ``a == b`` rows between two labels.

    Returns ``total`` (every constraint released, df = their number), ``uni`` (each released
    alone, df 1) and, with ``cumulative``, ``cumulative`` (released in decreasing order of
    the univariate statistic), rows named by the constraint's ``lhs == rhs`` (lavaan's
    labels/plabels) and the parameter it ties (``param``, e.g. ``dem60 =~ y2``).
    Single-group ML fits, complete data or FIML, with the expected information
    (``lavTestScore``'s default ``information = "expected"``; under FIML lavaan's structured
    per-pattern form, :func:`_fiml_expected_information`); a multiple-group fit
    is passed to :func:`smsem.invariance.score_tests`.

    Raises
    ------
    OptionError
        No equality constraint to test; an estimator other than ML; nonlinear or inequality
        constraints; fixed covariates (fixed.x) — each in one line.
    """
    if getattr(res, "group_labels", None) is not None:
        from ..invariance import score_tests as multigroup_score_tests

        return multigroup_score_tests(res)
    from ..invariance import score_test_tables
    from .matrices import nonlinear_constraints, param_map_from_table, simple_equalities, table_rows

    pt = getattr(res, "partable", None) or _table(res)
    if res.estimator != "ML":
        raise OptionError(f"score tests (lavTestScore) are available for estimator ML, not {res.estimator} "
                          "(lavaan 0.6.14 has no robust score test)")
    other = nonlinear_constraints(pt)
    if other:
        r = other[0]
        raise OptionError(f"line {r['line']}: score tests of the constraint {r['lhs']} {r['op']} {r['rhs']} are "
                          "not supported yet (equalities of two labels only)")
    cons = simple_equalities(pt)
    if not cons:
        raise OptionError("the model has no equality constraint to test (shared labels or a == b)")
    if list(getattr(pt, "ov_x", []) or []):
        raise OptionError("score tests with fixed covariates (fixed.x) are not supported yet")
    pm = param_map_from_table(pt, collapse=False)
    x = np.zeros(pm.n_free)
    est = res.params
    for lhs, op, rhs, e in zip(est["lhs"], est["op"], est["rhs"], est["est"]):
        k = pm.aliases.get((lhs, op, rhs))
        if k is not None:
            x[k] = e
    where: dict[str, int] = {}
    for r in table_rows(pt):
        if r["op"] not in ("=~", "~", "~~", "~1") or r["free"] <= 0:
            continue
        k = pm.aliases[(r["lhs"], r["op"], r["rhs"])]
        where[r["plabel"]] = k
        if r["label"]:
            where.setdefault(r["label"], k)
    R = np.zeros((len(cons), pm.n_free))
    for i, c in enumerate(cons):
        R[i, where[c["lhs"].strip()]] = 1.0
        R[i, where[c["rhs"].strip()]] = -1.0
    data = res.data[list(pt.ov)].to_numpy(dtype=float)
    if getattr(res, "missing", "listwise") == "fiml":
        from . import fiml

        pat = fiml.Patterns.from_data(data)
        score = -fiml.negloglik(pm, pat)(x)[1]            # gradient of logl / N
        info = _fiml_expected_information(pm, pat, x)
    else:
        xbar, s = ml.sample_moments(data)
        mx = pm.matrices_at(x)
        mu = mx.implied_mean if pm.meanstructure else None
        jac = ml.sigma_jacobian(pm, x)
        mjac = ml.mean_jacobian(pm, x) if pm.meanstructure else None
        score = -0.5 * ml.ml_gradient_means(jac, mjac, s, xbar if mu is not None else None, mx.implied_cov, mu)
        info = (ml.expected_information_means(jac, mjac, mx.implied_cov) if pm.meanstructure
                else ml.expected_information(jac, mx.implied_cov))
    by_plabel = {r["plabel"]: r for r in table_rows(pt)}
    by_label = {r["label"]: r for r in table_rows(pt) if r["label"]}
    params = []
    for c in cons:
        r = by_plabel.get(c["lhs"].strip()) or by_label.get(c["lhs"].strip())
        params.append(f"{r['lhs']} {r['op']} {r['rhs']}".strip() if r else "")
    return score_test_tables(cons, params, R, score, info, res.n, cumulative)
