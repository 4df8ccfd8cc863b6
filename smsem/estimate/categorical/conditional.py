"""Ordinal models with observed exogenous covariates: lavaan's ``conditional.x = TRUE``.

lavaan fits ``F =~ y1 + y2 + y3; F ~ age`` with ordered ``y`` not on the joint moments of
``(y*, age)`` but on the moments of ``y*`` *given* the covariates (lavaan 0.6.14,
``lav_samplestats_step1.R``, ``lav_samplestats_step2.R``, ``lav_muthen1984.R``):

1. step 1, per ordinal item a probit regression on every covariate ``x`` (``lav_uvord``):
   ``P(y = c | x) = Phi(tau_c - x'beta) - Phi(tau_{c-1} - x'beta)`` (lavaan's bounds +-100);
   ML by Fisher scoring -> the thresholds ``res.th`` and slopes ``res.slopes``; per continuous
   endogenous variable the linear regression (``lav_uvreg``: intercept, slopes, residual
   variance with divisor N);
2. step 2, per pair the residual correlation given ``x``: polychoric for two items
   (``lav_bvord``: the casewise bivariate probabilities with the bounds of step 1 shifted by
   ``x'beta``), polyserial for an item and a continuous variable (``lav_bvmix``, with the
   standardized regression residual), Pearson's r of two regression residuals (``lav_bvreg``);
   ML in ``rho`` -> ``res.cov`` (covariances where a continuous variable takes part);
3. the asymptotic covariance (``muthen1984``): casewise scores ``SC = [SC.TH, SC.SL, SC.VAR,
   SC.COR]``, ``INNER = SC'SC``, ``A11`` the per-variable blocks of ``INNER`` (thresholds or
   intercept, slopes, variance of one variable), ``A21`` the cross products of the correlation
   scores with the *bivariate* scores of the univariate parameters, ``A22 = diag(SC.COR'SC.COR)``;
   ``B^-1 = [[A11^-1, 0], [-A22^-1 A21 A11^-1, A22^-1]]``, ``NACOV = N H B^-1 INNER B^-T H'``
   (``lavInspect(fit, "gamma")``; lavaan's ``H`` turns correlations with a continuous variable
   into covariances, and the intercept rows change sign: WLS.obs holds ``-intercept``).

The statistics (lavaan's ``WLS.obs``): ``[res.th (and -intercepts), vec(res.slopes), residual
variances of the continuous variables, vech(res.cov, diagonal = FALSE)]``, the slopes column by
column (every variable's slope on the first covariate, then the second...). The model's counterparts (``lav_model_implied`` with ``conditional.x``): with
``T = Lambda (I - B)^-1`` the total effects, ``res.slopes = T[, x]``, ``res.cov = T Psi0 T' +
Theta`` where ``Psi0`` is ``Psi`` without the covariates' block (their variances and
covariances are the sample ones, lavaan's fixed.x rows, and do not enter), ``res.th = tau``
(delta parameterization; theta: divided by ``sd = sqrt(diag(res.cov))``, as the slopes, and
``res.cov`` scaled to a correlation matrix). The delta parameterization fixes the items'
*conditional* variances at 1, so an item's residual variance is reported as ``1 - R^2`` given
``x``. The baseline model: thresholds, slopes and variances free, residual correlations 0.
The bootstrap (:func:`bootstrap_conditional`) recomputes all of it per draw.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import optimize
from scipy.special import ndtr, ndtri

from ...exceptions import ConvergenceWarning, DataError, OptionError
from .nacov import _bvreg_scores
from .polychoric import TWO_PI, bvn_cdf, pair_index

__all__ = ["ConditionalStats", "conditional_stats", "fit_conditional", "covariates_of", "bootstrap_conditional"]

_BIG = 100.0  # lavaan's bounds for the outer categories
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _dnorm(x):
    return np.exp(-0.5 * x * x) * _INV_SQRT_2PI


def _dbinorm(u, v, rho):
    r2 = 1.0 - rho * rho
    return np.exp(-0.5 * (u * u - 2.0 * rho * u * v + v * v) / r2) / (TWO_PI * np.sqrt(r2))


@dataclass(frozen=True)
class ConditionalStats:
    """The sample statistics of the endogenous variables given covariates (one group).

    ``wls_obs`` (Series, lavaan's order; names ``x1|t1``, ``x9~1``, ``x1~age``, ``x9~~x9``,
    ``x1~~x2``), ``nacov`` (DataFrame, ``lavInspect(fit, "gamma")``), ``nobs``, ``items`` (the
    endogenous variables, model order) and ``covariates`` (names), ``th`` (thresholds of each
    ordinal item), ``slopes`` (items x covariates), ``cor`` (``res.cov``: residual correlations,
    covariances with continuous variables), ``x_mean`` and ``x_cov`` (the covariates' sample mean
    and covariance, N - 1 divisor as lavaan's fixed.x rows), ``numeric`` (the continuous items).
    """

    wls_obs: pd.Series
    nacov: pd.DataFrame
    nobs: float
    items: list
    covariates: list
    th: list
    slopes: np.ndarray
    cor: np.ndarray
    x_mean: np.ndarray
    x_cov: np.ndarray
    converged: bool = True
    numeric: list = None  # the continuous endogenous variables

    @property
    def n_th(self) -> int:
        return sum(len(t) for t in self.th)

    @property
    def n_slopes(self) -> int:
        return self.slopes.size


def _bounds(y, th, eta):
    """(upper, lower) bound of each case's category: ``tau_y - eta``, ``tau_{y-1} - eta``."""
    ext = np.concatenate([[-_BIG], th, [_BIG]])
    return ext[y] - eta, ext[y - 1] - eta


def _probit(y: np.ndarray, X: np.ndarray, K: int, name: str, tol: float = 1e-12, maxit: int = 200):
    """ML of the ordinal probit regression ``P(y <= c | x) = Phi(tau_c - x'beta)`` (lavaan's
    ``lav_uvord_fit``) by Fisher scoring with step halving. ``y`` in 1..K. Returns (tau, beta)."""
    n, q = X.shape
    cum = np.cumsum(np.bincount(y, minlength=K + 1)[1:])[:-1] / n
    theta = np.concatenate([ndtri(cum), np.zeros(q)])
    nth = K - 1

    def loglik(t):
        z1, z2 = _bounds(y, t[:nth], X @ t[nth:])
        p = ndtr(z1) - ndtr(z2)
        return float(np.sum(np.log(np.maximum(p, 1e-300)))) if np.all(np.diff(t[:nth]) > 0) else -np.inf

    ll = loglik(theta)
    for _ in range(maxit):
        th, beta = theta[:nth], theta[nth:]
        eta = X @ beta
        ext = np.concatenate([[-_BIG], th, [_BIG]])
        u = ext[None, :] - eta[:, None]  # (n, K+1) bounds of every category
        d = _dnorm(u)
        P = np.maximum(ndtr(u[:, 1:]) - ndtr(u[:, :-1]), 1e-300)  # (n, K)
        # dP_c / dtheta: thresholds (c -> +d[c] at tau_c, -d[c-1] at tau_{c-1}); slopes -x (d_c - d_{c-1})
        G = np.zeros((n, K, nth + q))
        for c in range(K):
            if c < nth:
                G[:, c, c] = d[:, c + 1]
            if c > 0:
                G[:, c, c - 1] = -d[:, c]
            G[:, c, nth:] = -X * (d[:, c + 1] - d[:, c])[:, None]
        Gw = (G * np.sqrt(1.0 / P)[:, :, None]).reshape(n * K, -1)
        info = Gw.T @ Gw
        obs = np.arange(n), y - 1
        score = (G[obs] / P[obs][:, None]).sum(axis=0)
        step = np.linalg.solve(info, score)
        h = 1.0
        while True:
            new = theta + h * step
            ll_new = loglik(new)
            if ll_new >= ll - 1e-10 * abs(ll) or h < 1e-8:
                break
            h /= 2
        theta, ll = new, ll_new
        if np.max(np.abs(h * step)) < tol:
            return theta[:nth], theta[nth:], True
    warnings.warn(f"the probit regression of {name} on the covariates did not converge", ConvergenceWarning,
                  stacklevel=3)
    return theta[:nth], theta[nth:], False


def _uni_scores(y, X, th, beta):
    """Casewise scores (n, nth + q) of the probit regression (lavaan's ``lav_uvord_scores``)."""
    nth = len(th)
    z1, z2 = _bounds(y, th, X @ beta)
    p = ndtr(z1) - ndtr(z2)
    d1, d2 = _dnorm(z1), _dnorm(z2)
    sc = np.zeros((len(y), nth + X.shape[1]))
    for k in range(nth):
        sc[:, k] = (d1 * (y == k + 1) - d2 * (y == k + 2)) / p
    sc[:, nth:] = -X * ((d1 - d2) / p)[:, None]
    return sc


def _corners(b1, b2):
    """The four corners (h, k) of every case's rectangle, stacked, with the signs of
    ``lik = F(u1, u2) - F(l1, u2) - F(u1, l2) + F(l1, l2)``."""
    (u1, l1), (u2, l2) = b1, b2
    return np.concatenate([u1, l1, u1, l1]), np.concatenate([u2, u2, l2, l2])


def _bvn_stacked(h, k, rho):
    """``P(X < h, Y < k)`` with the bounds at +-100 (lavaan's infinite ones) done exactly."""
    out = np.zeros(h.shape)
    hi_h, hi_k = h >= _BIG, k >= _BIG
    lo = (h <= -_BIG) | (k <= -_BIG)
    m = hi_h & ~lo
    out[m] = ndtr(k[m])
    m = hi_k & ~hi_h & ~lo
    out[m] = ndtr(h[m])
    m = ~(hi_h | hi_k | lo)
    out[m] = bvn_cdf(h[m], k[m], rho)
    return out


def _fold(v, n):
    return v[:n] - v[n:2 * n] - v[2 * n:3 * n] + v[3 * n:]


def _pair_lik(b1, b2, rho):
    h, k = _corners(b1, b2)
    return _fold(_bvn_stacked(h, k, rho), len(b1[0]))


def _pair_dlik(b1, b2, rho):
    h, k = _corners(b1, b2)
    return _fold(_dbinorm(h, k, rho), len(b1[0]))


def _residual_polychoric(b1, b2, names, r0=0.0, w=None):
    """ML of the residual polychoric correlation of one pair given the covariates (lavaan's
    ``lav_bvord_cor_twostep_fit``): Newton steps on the log-likelihood in ``rho``, kept inside
    (-0.995, 0.995); Brent's root of the score when Newton does not settle."""
    h_all, k_all = _corners(b1, b2)
    n = len(b1[0])
    w = np.ones(n) if w is None else w
    # neighbouring cases share corners: every distinct (h, k) once
    hk_u, inv = np.unique(h_all + 1j * k_all, return_inverse=True)
    inv = inv.reshape(-1)
    h, k = hk_u.real.copy(), hk_u.imag.copy()
    hk, h2k2 = h * k, h * h + k * k

    def derivs(r):
        lik = np.maximum(_fold(_bvn_stacked(h, k, r)[inv], n), 1e-300)
        d = _dbinorm(h, k, r)
        r2 = 1.0 - r * r
        g = r / r2 + (hk * r2 - r * (h2k2 - 2.0 * r * hk)) / (r2 * r2)  # dlog phi2 / drho
        dl = _fold(d[inv], n) / lik
        d2 = _fold((d * g)[inv], n) / lik
        return float(w @ dl), float(w @ (d2 - dl * dl))

    lo, hi = -0.995, 0.995
    r = float(np.clip(r0, -0.9, 0.9))
    for _ in range(50):
        s1, s2 = derivs(r)
        if not (s2 < 0 and np.isfinite(s1)):
            break
        step = -s1 / s2
        new = min(max(r + step, lo), hi)
        if abs(new - r) < 1e-8:  # Newton: the next step would be of order 1e-16
            return new
        r = new
    def score(x):
        return derivs(x)[0]

    s_lo, s_hi = score(lo), score(hi)
    if s_lo > 0 and s_hi > 0:
        return hi
    if s_lo < 0 and s_hi < 0:
        return lo
    return float(optimize.brentq(score, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps, maxiter=200))


def _pair_scores(y1, y2, b1, b2, rho, X, nth1, nth2):
    """Casewise scores of one pair's log-likelihood (lavaan's ``lav_bvord_cor_scores``):
    d/drho, d/dtau of each item, d/dbeta of each item."""
    (u1, l1), (u2, l2) = b1, b2
    lik = np.maximum(_pair_lik(b1, b2, rho), 1e-300)
    r = np.sqrt(1.0 - rho * rho)
    # d lik / d upper (z1) and d lik / d(-lower) (z2), for item 1 and item 2
    y1_z1 = _dnorm(u1) * (ndtr((u2 - rho * u1) / r) - ndtr((l2 - rho * u1) / r))
    y1_z2 = _dnorm(l1) * (ndtr((u2 - rho * l1) / r) - ndtr((l2 - rho * l1) / r))
    y2_z1 = _dnorm(u2) * (ndtr((u1 - rho * u2) / r) - ndtr((l1 - rho * u2) / r))
    y2_z2 = _dnorm(l2) * (ndtr((u1 - rho * l2) / r) - ndtr((l1 - rho * l2) / r))
    dth1 = np.zeros((len(y1), nth1))
    for k in range(nth1):
        dth1[:, k] = ((y1 == k + 1) * y1_z1 - (y1 == k + 2) * y1_z2) / lik
    dth2 = np.zeros((len(y2), nth2))
    for k in range(nth2):
        dth2[:, k] = ((y2 == k + 1) * y2_z1 - (y2 == k + 2) * y2_z2) / lik
    dsl1 = X * ((y1_z2 - y1_z1) / lik)[:, None]
    dsl2 = X * ((y2_z2 - y2_z1) / lik)[:, None]
    drho = _pair_dlik(b1, b2, rho) / lik
    return drho, dth1, dth2, dsl1, dsl2


def _uvreg(y, X):
    """lavaan's ``lav_uvreg_fit``: OLS intercept and slopes, residual variance with divisor N."""
    X1 = np.column_stack([np.ones(len(y)), X])
    beta = np.linalg.lstsq(X1, y, rcond=None)[0]
    res = y - X1 @ beta
    return beta[0], beta[1:], float(res @ res / len(y)), X1 @ beta


def _polyserial_given_x(Z, sd, b2, names):
    """ML of the polyserial correlation of a continuous variable's regression residual ``Z``
    (standardized) with an ordinal item given x (lavaan's ``lav_bvmix_cor_twostep_fit``).

    lavaan 0.6.14 leaves out of its log-likelihood every case whose likelihood is below sqrt(eps)
    (``lav_bvmix_lik``): near rho = +-1 that drops many cases, and lavaan's objective is then
    larger at its bounds (+-0.995) than at the maximum, where its local optimizer (nlminb from
    Olsson's start) sometimes stops (docs/ordinal.md: 2 of the 14 pairs of the HS case). smsem
    maximizes the likelihood of all cases, which is lavaan's estimate whenever lavaan's optimizer
    stays at the interior maximum (no case is left out there)."""
    dens = _dnorm(Z) / sd
    u2, l2 = b2

    def negll(r):
        rr = np.sqrt(1.0 - r * r)
        py = np.maximum(ndtr((u2 - r * Z) / rr) - ndtr((l2 - r * Z) / rr), np.finfo(float).eps)
        return -float(np.sum(np.log(dens * py)))

    res = optimize.minimize_scalar(negll, bounds=(-0.995, 0.995), method="bounded",
                                   options={"xatol": 1e-12, "maxiter": 500})
    return float(res.x)


def _polyserial_scores_x(Z, sd, var, b2, y2, nth2, rho, X):
    """lavaan's ``lav_bvmix_cor_scores`` with covariates: d/dmu (and slopes) and d/dvar of the
    continuous variable, d/dtau and d/dslopes of the item, d/drho."""
    u2, l2 = b2
    R = np.sqrt(1.0 - rho * rho)
    ts1, ts2 = (u2 - rho * Z) / R, (l2 - rho * Z) / R
    yZ1, yZ2 = _dnorm(ts1), _dnorm(ts2)
    pinv = 1.0 / np.maximum(ndtr(ts1) - ndtr(ts2), np.finfo(float).eps)
    dz = yZ1 - yZ2
    d_mu = 1.0 / sd * (Z + pinv * (rho / R) * dz)
    d_var = 1.0 / (2.0 * var) * ((Z * Z - 1.0) + (pinv * rho * Z / R) * dz)
    d_th = np.zeros((len(Z), nth2))
    for k in range(nth2):
        d_th[:, k] = ((y2 == k + 1) * yZ1 - (y2 == k + 2) * yZ2) / R * pinv
    d_rho = pinv / R ** 3 * (yZ1 * (u2 * rho - Z) - yZ2 * (l2 * rho - Z))
    return d_rho, d_mu, d_var, d_th, X * d_mu[:, None], X * ((yZ2 - yZ1) / R * pinv)[:, None]


def conditional_stats(data: pd.DataFrame, items: Sequence[str], covariates: Sequence[str], *,
                      numeric: Sequence[str] = (), nacov: bool = True) -> ConditionalStats:
    """lavaan's sample statistics of the endogenous ``items`` given the ``covariates`` (complete
    cases: lavaan's listwise deletion) and their NACOV; see the module docstring. ``numeric``:
    the items that are continuous (a linear regression on x; lavaan's ``lav_uvreg``)."""
    from .thresholds import prepare

    items, covariates = list(items), list(covariates)
    num = [v in set(numeric) for v in items]
    ords = [v for v, f in zip(items, num) if not f]
    od = prepare(data[ords], ordered=True) if ords else None
    if od is not None and (od.codes == 0).any():
        raise DataError("missing answers: the covariate model needs complete cases (listwise deletion)")
    X = data[covariates].to_numpy(dtype=float)
    if not np.all(np.isfinite(X)):
        raise DataError("missing or non-numeric covariate values: the covariate model needs complete cases")
    n, q = X.shape
    p = len(items)
    for k, c in enumerate(covariates):
        if np.ptp(X[:, k]) == 0:
            raise DataError(f"covariate {c} is constant: it cannot predict anything")
    Y = np.zeros((n, p))
    col = {v: j for j, v in enumerate(ords)}
    for i, v in enumerate(items):
        Y[:, i] = data[v].to_numpy(dtype=float) if num[i] else od.codes[:, col[v]]
    ths, betas, var, fitted, ok = [], [], np.ones(p), [None] * p, True
    for i in range(p):
        if num[i]:
            b0, b, var[i], fitted[i] = _uvreg(Y[:, i], X)
            t, conv = np.array([b0]), True
        else:
            t, b, conv = _probit(Y[:, i].astype(int), X, int(od.nlev[col[items[i]]]), items[i])
        ths.append(t)
        betas.append(b)
        ok &= conv
    slopes = np.array(betas).reshape(p, q)
    bounds = [None if num[i] else _bounds(Y[:, i].astype(int), ths[i], X @ betas[i]) for i in range(p)]
    rows, cols = pair_index(p)
    R = np.eye(p)
    xrow = np.unique(X, axis=0, return_inverse=True)[1].reshape(-1)
    gres = {}  # start values: the correlation of the probit regressions' generalized residuals, rescaled
    for i in range(p):
        if not num[i]:
            u, l = bounds[i]
            pr = np.maximum(ndtr(u) - ndtr(l), 1e-300)
            gres[i] = (_dnorm(l) - _dnorm(u)) / pr
    for i, j in zip(rows, cols):
        if num[i] and num[j]:  # Pearson's r of the residuals: the ML rho given step 1
            r = float(np.corrcoef(Y[:, i] - fitted[i], Y[:, j] - fitted[j])[0, 1])
        elif num[i] or num[j]:
            a, o = (i, j) if num[i] else (j, i)
            sd = np.sqrt(var[a])
            r = _polyserial_given_x((Y[:, a] - fitted[a]) / sd, sd, bounds[o], (items[a], items[o]))
        else:
            gi, gj = gres[i], gres[j]
            # cov(g_i, g_j) ~ rho var(g_i) var(g_j) for generalized residuals g = E(e | y, x)
            r0 = float(np.mean(gi * gj) / (np.mean(gi * gi) * np.mean(gj * gj)))
            # the likelihood depends on a case through (y_i, y_j, x) only: each distinct triple once, weighted
            key = (Y[:, i].astype(np.int64) * 64 + Y[:, j].astype(np.int64)) * (int(xrow.max()) + 1) + xrow
            _, first, cnt = np.unique(key, return_index=True, return_counts=True)
            bi = tuple(b[first] for b in bounds[i])
            bj = tuple(b[first] for b in bounds[j])
            r = _residual_polychoric(bi, bj, (items[i], items[j]), r0, cnt.astype(float))
        R[i, j] = R[j, i] = r
    sd = np.sqrt(var)
    C = R * np.outer(sd, sd)
    th_names = [f"{v}~1" if num[i] else f"{v}|t{k + 1}" for i, (v, t) in enumerate(zip(items, ths))
                for k in range(len(t))]
    sl_names = [f"{items[i]}~{covariates[k]}" for k in range(q) for i in range(p)]
    var_names = [f"{v}~~{v}" for v, f in zip(items, num) if f]
    cor_names = [f"{items[j]}~~{items[i]}" for i, j in zip(rows, cols)]
    names = th_names + sl_names + var_names + cor_names
    th_obs = np.concatenate([-t if num[i] else t for i, t in enumerate(ths)])  # lavaan: -intercept
    obs = np.concatenate([th_obs, slopes.T.reshape(-1), var[np.array(num, bool)], C[rows, cols]])
    x_mean = X.mean(axis=0)
    x_cov = np.atleast_2d(np.cov(X, rowvar=False, ddof=1))
    gamma = np.full((len(names), len(names)), np.nan)
    if nacov:
        gamma = _nacov(Y, X, ths, betas, bounds, R, rows, cols, num, var, fitted)
    return ConditionalStats(pd.Series(obs, index=names), pd.DataFrame(gamma, index=names, columns=names),
                            float(n), items, covariates, [t for t, f in zip(ths, num) if not f], slopes, C,
                            x_mean, x_cov, bool(ok), [v for v, f in zip(items, num) if f])


def _nacov(Y, X, ths, betas, bounds, R, rows, cols, num, var, fitted):
    """lavaan's ``muthen1984`` sandwich with covariates, times N (``lavInspect(fit, "gamma")``)."""
    xrow = np.unique(X, axis=0, return_inverse=True)[1].reshape(-1)
    n, p = Y.shape
    q = X.shape[1]
    nths = [len(t) for t in ths]
    th_start = np.concatenate([[0], np.cumsum(nths)])
    nth = int(th_start[-1])
    num_idx = [i for i in range(p) if num[i]]
    a11_size = nth + p * q + len(num_idx)
    th_idx = [np.arange(th_start[i], th_start[i + 1]) for i in range(p)]
    sl_idx = [nth + i + p * np.arange(q) for i in range(p)]
    var_idx = {i: nth + p * q + k for k, i in enumerate(num_idx)}
    pstar = len(rows)
    sc = np.zeros((n, a11_size + pstar))
    for i in range(p):
        if num[i]:
            e = Y[:, i] - fitted[i]
            sc[:, th_idx[i]] = (e / var[i])[:, None]
            sc[:, sl_idx[i]] = X * (e / var[i])[:, None]
            sc[:, var_idx[i]] = -1.0 / (2 * var[i]) + e * e / (2 * var[i] ** 2)
        else:
            s = _uni_scores(Y[:, i].astype(int), X, ths[i], betas[i])
            sc[:, th_idx[i]] = s[:, :nths[i]]
            sc[:, sl_idx[i]] = s[:, nths[i]:]
    a21 = np.zeros((pstar, a11_size))
    h21 = np.zeros((pstar, a11_size))
    h22 = np.ones(pstar)
    for k, (i, j) in enumerate(zip(rows, cols)):
        if num[i] and num[j]:
            d_mu1, d_var1, d_mu2, d_var2, drho = _bvreg_scores(Y[:, i], fitted[i], var[i], Y[:, j], fitted[j],
                                                               var[j], R[i, j])
            parts = {i: (d_mu1[:, None], X * d_mu1[:, None], d_var1), j: (d_mu2[:, None], X * d_mu2[:, None], d_var2)}
        elif num[i] or num[j]:
            a, o = (i, j) if num[i] else (j, i)
            sd = np.sqrt(var[a])
            drho, d_mu, d_var, d_th, d_sl1, d_sl2 = _polyserial_scores_x(
                (Y[:, a] - fitted[a]) / sd, sd, var[a], bounds[o], Y[:, o].astype(int), nths[o], R[i, j], X)
            parts = {a: (d_mu[:, None], d_sl1, d_var), o: (d_th, d_sl2, None)}
        else:  # the scores depend on a case through (y_i, y_j, x): each distinct triple once
            key = (Y[:, i].astype(np.int64) * 64 + Y[:, j].astype(np.int64)) * (int(xrow.max()) + 1) + xrow
            _, first, inv = np.unique(key, return_index=True, return_inverse=True)
            inv = inv.reshape(-1)
            out = _pair_scores(Y[first, i].astype(int), Y[first, j].astype(int), tuple(b[first] for b in bounds[i]),
                               tuple(b[first] for b in bounds[j]), R[i, j], X[first], nths[i], nths[j])
            drho, dth1, dth2, dsl1, dsl2 = (a[inv] for a in out)
            parts = {i: (dth1, dsl1, None), j: (dth2, dsl2, None)}
        sc[:, a11_size + k] = drho
        for v, (dth, dsl, dvar) in parts.items():
            a21[k, th_idx[v]] = drho @ dth
            a21[k, sl_idx[v]] = drho @ dsl
            if dvar is not None:
                a21[k, var_idx[v]] = drho @ dvar
        r = R[i, j]
        if num[i] and num[j]:
            h21[k, var_idx[i]] = np.sqrt(var[j]) * r / (2 * np.sqrt(var[i]))
            h21[k, var_idx[j]] = np.sqrt(var[i]) * r / (2 * np.sqrt(var[j]))
            h22[k] = np.sqrt(var[i] * var[j])
        elif num[i] or num[j]:
            a = i if num[i] else j
            h21[k, var_idx[a]] = r / (2 * np.sqrt(var[a]))
            h22[k] = np.sqrt(var[a])
    inner = sc.T @ sc
    a11 = np.zeros((a11_size, a11_size))
    for i in range(p):
        ix = np.concatenate([th_idx[i], sl_idx[i], [var_idx[i]] if num[i] else []]).astype(int)
        a11[np.ix_(ix, ix)] = inner[np.ix_(ix, ix)]
    a22 = np.diag(inner)[a11_size:]
    a11_inv = np.linalg.inv(a11)
    b_inv = np.zeros_like(inner)
    b_inv[:a11_size, :a11_size] = a11_inv
    b_inv[a11_size:, a11_size:] = np.diag(1.0 / a22)
    b_inv[a11_size:, :a11_size] = -(a21 / a22[:, None]) @ a11_inv
    w = b_inv @ inner @ b_inv.T
    if num_idx:  # lavaan's H: correlations -> covariances (delta rule); WLS.obs holds -intercept
        H = np.eye(len(w))
        H[a11_size:, :a11_size] = h21
        H[a11_size:, a11_size:] = np.diag(h22)
        w = H @ w @ H.T
        flip = np.array([th_idx[i][0] for i in num_idx])
        w[flip, :] *= -1
        w[:, flip] *= -1
    return n * w


# ----------------------------------------------------------------------------------------------
# the model
# ----------------------------------------------------------------------------------------------


def covariates_of(pt: Any) -> list:
    """The observed exogenous covariates of a table (lavaan's ``ov.x``), in the table's order."""
    return list(getattr(pt, "ov_x", None) or [])


def check_conditional(pt: Any, ordinal: Sequence[str], covariates: Sequence[str], *, estimator: str, missing: str,
                      parameterization: str) -> None:
    """Raise (one line, naming the statement's line) on what the covariate model does not reproduce."""
    from ..matrices import table_rows
    from .fit import ORDINAL_ESTIMATORS

    if estimator not in ORDINAL_ESTIMATORS:
        raise OptionError(f"estimator {estimator!r} with ordered items: use one of {', '.join(ORDINAL_ESTIMATORS)}")
    if parameterization not in ("delta", "theta"):
        raise OptionError(f"parameterization={parameterization!r}: use 'delta' (lavaan's default) or 'theta'")
    if missing != "listwise":
        raise OptionError(f"missing={missing!r} with observed covariates: only listwise deletion (lavaan's default "
                          "with conditional.x) is supported")
    xs, ords = set(covariates), set(ordinal)
    both = [v for v in covariates if v in ords and not isinstance(ordinal, _AllItems)]
    if both:
        raise OptionError(f"the covariate(s) {', '.join(both)} are listed as ordered: an exogenous covariate is "
                          "used as numeric (a 0/1 dummy for a binary one), as lavaan's conditional.x does")
    cont = [v for v in pt.ov if v not in xs and v not in ords]
    if cont and parameterization != "delta":
        raise OptionError(f"continuous endogenous variable(s) {', '.join(cont)} together with observed covariates "
                          "are supported in the delta parameterization only, not yet in theta")
    endo = ords | set(cont)
    rows = table_rows(pt)
    if any(r["group"] > 1 for r in rows):
        raise OptionError("multiple groups are not supported yet with ordered items and observed covariates")
    lv = set(pt.lv)
    labels = [r["label"] for r in rows if r["label"]]
    if len(labels) != len(set(labels)):
        raise OptionError("shared labels (equality constraints) are not supported yet with ordered items")
    for r in rows:
        where = f"line {r['line']}: {r['lhs']} {r['op']} {r['rhs']}"
        if r["op"] not in ("=~", "~", "~~", ":="):
            raise OptionError(f"{where}: constraints (==, <, >) and mean-structure rows are not supported yet with "
                              "ordered items and observed covariates")
        if r["op"] == "=~" and (r["lhs"] not in lv or r["rhs"] not in endo):
            raise OptionError(f"{where}: only latent variables measured by observed items are supported with "
                              "observed covariates")
        if r["op"] == "~":
            if r["lhs"] in xs:
                raise OptionError(f"{where}: a covariate cannot be regressed on something")
            if r["rhs"] in endo:
                raise OptionError(f"{where}: an observed item as a predictor is not supported yet with ordered "
                                  "items and covariates; only latent variables and covariates predict")
        if r["op"] == "~~" and r["user"] == 1:
            if (r["lhs"] in xs) != (r["rhs"] in xs):
                raise OptionError(f"{where}: a covariance between a covariate and a model variable is not part of "
                                  "lavaan's conditional.x model")
            if r["lhs"] in ords and r["lhs"] == r["rhs"] and r["free"] > 0 and parameterization == "delta":
                raise OptionError(f"{where}: a free residual variance of an ordinal item is not identified in the "
                                  "delta parameterization")


class _AllItems(list):
    """``ordered=True``: every endogenous observed variable (the covariates stay numeric)."""


def _complex_matrices(pm, ts):
    b = pm.base
    mats = [b.beta.astype(complex), b.lambda_.astype(complex), b.psi.astype(complex), b.theta.astype(complex)]
    for value, locs in zip(ts, pm.locations):
        for m, i, j in locs:
            if m < 4:
                mats[m][i, j] = value
    return mats


def _make_engine(pt, etable, ss: ConditionalStats, theta_param: bool):
    from .fit import _Engine

    class _CondEngine(_Engine):
        """sigma(theta) = [tau, vec(res.slopes), vech(res.cov, diag = FALSE)] (lavaan's conditional.x),
        its Jacobian by complex steps (exact to rounding)."""

        def __init__(self):
            names = list(ss.wls_obs.index)
            super().__init__(pt, etable, [nm for nm in names if "|t" in nm or "~~" in nm or nm.endswith("~1")],
                             theta_param=theta_param)
            inner = list(self.pm.base.inner)
            self.items = [self.ov.index(v) for v in ss.items]
            numeric = set(ss.numeric or ())
            self.ord_items = [self.ov.index(v) for v in ss.items if v not in numeric]
            self.x_inner = [inner.index(v) for v in ss.covariates]
            self.n_sl = ss.n_slopes
            self.n_var = len(self.vi)
            # [thresholds and -intercepts | slopes | variances of the continuous ones | covariances]
            self.n_pre = self.nuni + self.n_sl + self.n_var
            self.nth = self.n_pre  # the rows before the correlations (the baseline frees them)
            ip = {v: k for k, v in enumerate(self.items)}
            self.r_i = np.array([ip[i] for i in self.r])
            self.c_i = np.array([ip[i] for i in self.c])
            self.v_i = np.array([ip[i] for i in self.vi], dtype=int)
            self.th_it = np.array([ip[i] for i in self.th_item])
            self.mixed = bool(numeric)
            # the cells of every structural parameter, by matrix (batched complex steps)
            b = self.pm.base
            self._ind = [np.zeros((self.pm.n_free,) + mat.shape) for mat in (b.beta, b.lambda_, b.psi, b.theta)]
            for k, locs in enumerate(self.pm.locations):
                for mc, i, j in locs:
                    if mc < 4:
                        self._ind[mc][k, i, j] = 1.0
            self.covariates = set(ss.covariates)

        def split(self, theta):
            ts = np.empty(self.pm.n_free, dtype=theta.dtype)
            ts[self.struct_pos] = theta[self.struct_idx]
            tau = np.empty(self.nuni, dtype=theta.dtype)
            tau[self.th_pos] = theta[self.th_idx] * self.th_sign[self.th_idx]
            return ts, tau

        def _moments(self, ts, mats=None):
            """(res.cov, res.slopes); with ``mats`` (a batch of matrices) for every batch member."""
            beta, lam, psi, th = _complex_matrices(self.pm, ts) if mats is None else mats
            t = lam @ np.linalg.inv(np.eye(beta.shape[-1]) - beta)
            psi0 = psi.copy()
            psi0[..., self.x_inner, :] = 0.0
            psi0[..., :, self.x_inner] = 0.0
            it = self.items
            ti = t[..., it, :]
            rescov = ti @ psi0 @ np.swapaxes(ti, -1, -2) + th[..., it, :][..., :, it]
            slopes = ti[..., :, self.x_inner]
            return rescov, slopes

        def _stats(self, tau, rescov, slopes):
            lead = rescov.shape[:-2]
            vec_sl = np.swapaxes(slopes, -1, -2).reshape(lead + (-1,))
            if self.theta_param:
                sd = np.sqrt(np.diagonal(rescov, axis1=-2, axis2=-1))
                return np.concatenate([tau / sd[..., self.th_it],
                                       np.swapaxes(slopes / sd[..., :, None], -1, -2).reshape(lead + (-1,)),
                                       rescov[..., self.r_i, self.c_i] / (sd[..., self.r_i] * sd[..., self.c_i])],
                                      axis=-1)
            return np.concatenate([np.broadcast_to(tau, lead + tau.shape[-1:]), vec_sl,
                                   rescov[..., self.v_i, self.v_i], rescov[..., self.r_i, self.c_i]], axis=-1)

        def sigma(self, theta):
            ts, tau = self.split(theta)
            rescov, slopes = self._moments(ts)
            return self._stats(tau, rescov, slopes)

        def jacobian(self, theta):
            """Complex steps, all structural parameters at once (a batch of perturbed matrices);
            the thresholds enter sigma linearly (over sd(y*) in the theta parameterization)."""
            h = 1e-30
            theta = np.asarray(theta, dtype=float)
            ts, tau = self.split(theta)
            base = _complex_matrices(self.pm, ts)
            mats = [m[None] + 1j * h * ind for m, ind in zip(base, self._ind)]
            rescov, slopes = self._moments(None, mats)
            out = np.zeros((len(ss.wls_obs), len(theta)))
            dstat = np.imag(self._stats(tau.astype(complex), rescov, slopes)) / h  # (n_free, nstat)
            out[:, self.struct_idx] = dstat.T[:, self.struct_pos]
            sd = np.ones(len(self.items))
            if self.theta_param:
                sd = np.sqrt(np.real(np.diag(self._moments(ts)[0])))
            out[self.th_pos, self.th_idx] = self.th_sign[self.th_idx] / sd[self.th_it][self.th_pos]
            return out

        def delta(self, theta):
            ts, _ = self.split(theta)
            sd = np.ones(len(self.ov))
            if self.theta_param:
                rescov, _ = self._moments(ts)
                sd[self.items] = np.sqrt(np.real(np.diag(rescov)))
            return 1.0 / sd

        def adjust_std(self, theta, table, est, sa, sl, mx):
            """lavaan's std.all: a threshold over the *total* sd of y* (the covariates' part included),
            a covariate's mean over its sd."""
            sd = dict(zip(self.ov, np.sqrt(np.diag(mx.implied_cov))))
            rows = table[table["op"] != ":="]
            for k, (lhs, op) in enumerate(zip(rows["lhs"], rows["op"])):
                if op == "|" or (op == "~1" and lhs in self.covariates):
                    sa[k] = est[k] / sd[lhs]
            return est, sa, sl

        def residual_cells(self, mx):
            """Each item's residual variance cell: (matrix code, row, col), theta or a phantom's psi."""
            inner = list(mx.inner)
            out = []
            for i in self.ord_items:
                v = self.ov[i]
                out.append((2, inner.index(v), inner.index(v)) if v in inner else (3, i, i))
            return out

        def matrices(self, theta, ordinal):
            import dataclasses

            ts, _ = self.split(theta)
            mx = self.pm.matrices_at(ts)
            if self.theta_param:
                return mx
            psi, th = mx.psi.copy(), mx.theta.copy()
            cells = self.residual_cells(mx)
            for m, i, j in cells:
                (psi if m == 2 else th)[i, j] = 0.0
            mx0 = dataclasses.replace(mx, psi=psi, theta=th)
            rescov, _ = self._moments_of(mx0)  # the conditional variances without the residuals
            pos = [self.items.index(i) for i in self.ord_items]
            for (m, i, j), v in zip(cells, np.diag(rescov)[pos]):
                (psi if m == 2 else th)[i, j] = 1.0 - v
            return dataclasses.replace(mx, psi=psi, theta=th)

        def _moments_of(self, mx):
            t = mx.lambda_ @ np.linalg.inv(np.eye(len(mx.beta)) - mx.beta)
            psi0 = mx.psi.copy()
            psi0[self.x_inner, :] = 0.0
            psi0[:, self.x_inner] = 0.0
            it = self.items
            return t[it] @ psi0 @ t[it].T + mx.theta[np.ix_(it, it)], t[np.ix_(it, self.x_inner)]

    return _CondEngine()


def conditional_tables(pt, ss: ConditionalStats):
    """(lavaan's parTable of the fit, the engine's table): the covariates' rows are lavaan's fixed.x
    rows (``exo`` 1, their ``~1`` rows fixed at the sample means); in the engine's table they are
    fixed values (the sample covariances, N - 1 divisor as lavaan)."""
    from .fit import ordinal_table

    nth = {v: 0 for v in pt.ov}
    for v, t in zip([v for v in ss.items if v not in set(ss.numeric or ())], ss.th):
        nth[v] = len(t)
    table = ordinal_table(pt, nth, [v for v in ss.items if v not in set(ss.numeric or ())])
    xs = list(ss.covariates)
    isx_mean = (table["op"] == "~1") & table["lhs"].isin(xs)
    table.loc[isx_mean, "free"] = 0
    table.loc[isx_mean, "exo"] = 1
    free = table["free"].to_numpy().astype(int)
    table["free"] = np.where(free > 0, np.cumsum(free > 0), 0)
    etable = table.copy()
    # lavaan marks the regressions on a covariate exo = 1 too (free parameters of conditional.x)
    table.loc[(table["op"] == "~") & table["rhs"].isin(xs), "exo"] = 1
    xpos = {v: k for k, v in enumerate(xs)}
    isx = (etable["op"] == "~~") & etable["lhs"].isin(xs) & etable["rhs"].isin(xs)
    etable.loc[isx, "ustart"] = [ss.x_cov[xpos[a], xpos[b]] for a, b in zip(etable.loc[isx, "lhs"],
                                                                             etable.loc[isx, "rhs"])]
    etable.loc[isx, "exo"] = 0
    etable.loc[isx_mean, "ustart"] = ss.x_mean[[xpos[v] for v in etable.loc[isx_mean, "lhs"]]]
    return table, etable


def fit_conditional(model: Any, data: pd.DataFrame, pt: Any, *, ordered: Any, estimator: str, missing: str,
                    parameterization: str, options: dict):
    """lavaan's ``sem(model, data, ordered = ..., estimator = ...)`` of a model with observed exogenous
    covariates (``conditional.x = TRUE``); called by :func:`.fit.fit_ordinal`."""
    from .fit import (ORDINAL_ESTIMATORS, _marker_starts, _results_class, _row_values, _Weight, fit_measures,
                      params_table, warn_negative_variances)
    from ..matrices import start_values

    ov = list(pt.ov)
    xs = covariates_of(pt)
    endo = [v for v in ov if v not in xs]
    if ordered is True or (isinstance(ordered, str) and ordered.lower() == "all"):
        ordinal = _AllItems(endo)
    else:
        names = [ordered] if isinstance(ordered, str) else list(ordered)
        unknown = [v for v in names if v not in ov]
        if unknown:
            raise OptionError(f"ordered names {', '.join(unknown)}, which are not observed variables of the model")
        ordinal = names
    check_conditional(pt, ordinal, xs, estimator=estimator, missing=missing, parameterization=parameterization)
    items = list(endo)  # ordinal, and continuous (a linear regression on x) when not in ordered
    cont = [v for v in endo if v not in set(ordinal)]
    absent = [c for c in ov if c not in data.columns]
    if absent:
        raise DataError(f"the data lack the column(s) {', '.join(absent)} named in the model")
    x = data[ov]
    keep = x.notna().all(axis=1)
    dropped = int((~keep).sum())
    if dropped:
        warnings.warn(f"{dropped} row(s) with missing answers or covariates were dropped (listwise deletion, "
                      "lavaan's default)", stacklevel=4)
    x = x[keep].reset_index(drop=True)
    bad = [c for c in xs if not pd.api.types.is_numeric_dtype(x[c])]
    if bad:
        raise DataError(f"covariate {bad[0]} is not numeric: code it as a number (a 0/1 dummy for two groups)")
    ss = conditional_stats(x, items, xs, numeric=cont)
    n = ss.nobs
    s = ss.wls_obs.to_numpy()
    gamma = ss.nacov.to_numpy()
    table, etable = conditional_tables(pt, ss)
    eng = _make_engine(pt, etable, ss, parameterization == "theta")
    wkind, test = ORDINAL_ESTIMATORS[estimator]
    w = _Weight(wkind, gamma)

    # start values from the implied joint moments of (y*, x): residual polychorics + slopes S_xx
    p_all = len(eng.ov)
    C = np.zeros((p_all, p_all))
    it = eng.items
    xi = [eng.ov.index(v) for v in xs]
    C[np.ix_(it, it)] = ss.cor
    C[np.ix_(xi, xi)] = ss.x_cov
    C[np.ix_(it, xi)] = ss.slopes @ ss.x_cov
    C[np.ix_(xi, it)] = C[np.ix_(it, xi)].T
    ts0 = _marker_starts(eng, start_values(eng.ept, eng.pm, np.zeros(p_all), C), C)
    theta0 = np.empty(eng.npar)
    theta0[eng.struct_idx] = ts0[eng.struct_pos]
    theta0[eng.th_idx] = s[:eng.nuni][eng.th_pos] * eng.th_sign[eng.th_idx]
    if eng.theta_param:
        theta0[eng.th_idx] = s[:eng.nuni][eng.th_pos] / eng.delta(theta0)[eng.items][eng.th_it][eng.th_pos]

    def resid(t):
        return w.half(s - np.real(eng.sigma(t)))

    def jac(t):
        return -w.half(eng.jacobian(t))

    sol = optimize.least_squares(resid, theta0, jac=jac, method="lm", xtol=1e-14, ftol=1e-14, gtol=1e-14,
                                 max_nfev=2000)
    theta = sol.x
    e = s - np.real(eng.sigma(theta))
    f_old = float(e @ w.mul(e))
    for _ in range(20 if sol.status > 0 else 0):  # Gauss-Newton polish
        d = eng.jacobian(theta)
        step = np.linalg.solve(d.T @ w.mul(d), d.T @ w.mul(e))
        e_new = s - np.real(eng.sigma(theta + step))
        f_new = float(e_new @ w.mul(e_new))
        if not f_new <= f_old * (1 + 1e-12):
            break
        theta, e, f_old = theta + step, e_new, f_new
        if np.max(np.abs(step)) < 1e-12:
            break
    e = s - np.real(eng.sigma(theta))
    d = eng.jacobian(theta)
    grad = d.T @ w.mul(e)
    converged = bool(sol.status > 0 and np.max(np.abs(grad)) < 1e-6)
    if not converged:
        warnings.warn(f"the {estimator} fit did not converge ({sol.message}); estimates may be unreliable",
                      ConvergenceWarning, stacklevel=4)
    fmin = float(e @ w.mul(e))
    chi2 = (n - 1.0) * fmin
    nstat = len(s)
    df = float(nstat - eng.npar)
    wd = w.mul(d)
    a_inv = np.linalg.inv(d.T @ wd)
    vcov = a_inv / (n - 1.0) if test == "standard" else a_inv @ (wd.T @ gamma @ wd) @ a_inv / (n - 1.0)

    # baseline: thresholds and slopes free, residual correlations 0
    npre = eng.n_pre
    db = np.zeros((nstat, npre))
    db[np.arange(npre), np.arange(npre)] = 1.0
    eb = s.copy()
    eb[:npre] = 0.0
    chi2_b = (n - 1.0) * float(eb @ w.mul(eb))
    df_b = float(nstat - npre)
    fi = fit_measures(chi2, df, chi2_b, df_b, n, fmin, eng.npar, wkind, test, d, db, w, gamma)
    if test != "standard" and df > 0:
        # lavaan 0.6.14 gives NA for the robust indices of a conditional.x model
        fi.update({k: float("nan") for k in ("cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust",
                                             "rmsea_ci_upper_robust", "rmsea_pvalue_robust")})
    # SRMR on the residual correlations; lavaan 0.6.14 (lav_residuals_summary) divides by
    # p (p - 1) / 2 + nvar, nvar counting the covariates too
    p = len(items)
    rc = e[npre:]
    if cont:  # standardized by the sample (residual) variances, 1 for the ordinal items
        v = np.ones(p)
        v[eng.v_i] = s[eng.nuni + eng.n_sl:npre]
        rc = rc / np.sqrt(v[eng.r_i] * v[eng.c_i])
    fi["srmr"] = float(np.sqrt(np.sum(rc * rc) / (p * (p - 1) / 2 + p + len(xs))))

    ords = set(items) - set(cont)
    mx = eng.matrices(theta, ords)
    neg = [v for v, t in zip(eng.ov, np.diag(mx.theta)) if t < 0 and v in ords]
    neg += [v for v, t in zip(mx.inner, np.diag(mx.psi)) if t < 0 and (v in set(mx.latent_names) or v in ords)]
    warn_negative_variances(neg)
    est_v, sa_v, sl_v = _row_values(eng, theta, etable, ords)
    params = params_table(table, est_v, sa_v, sl_v, vcov)
    if (table["op"] == ":=").any():
        params = pd.concat([params, _defined_cond(eng, theta, vcov, mx)], ignore_index=True)
    table = table.assign(est=params["est"].to_numpy(), se=params["se"].fillna(0.0).to_numpy())
    OrdinalFitResults = _results_class()
    return OrdinalFitResults(model if not isinstance(model, type(pt)) else None, x, dropped, params, fi, converged,
                             mx, theta.copy(), None, vcov, estimator=estimator, missing=missing, partable=None,
                             table_options=options, ordinal_table=table, sample_stats=ss,
                             parameterization=parameterization,
                             _ordinal={"engine": eng, "weights": wkind, "test": test, "ordinal": ords,
                                       "covariates": list(xs)})


def _defined_cond(eng, theta, vcov, mx) -> pd.DataFrame:
    """The ``:=`` rows as :func:`.fit._defined`, with the fitted residual variances of the items
    (theta cells and phantom psi cells) in the base matrices."""
    import dataclasses

    from ..results import _defined_rows

    pm = eng.pm
    base = dataclasses.replace(pm.base, theta=mx.theta.copy(), psi=mx.psi.copy())
    pm_fit = dataclasses.replace(pm, base=base)
    ts, _ = eng.split(theta)
    v = np.zeros((pm.n_free, pm.n_free))
    si, sp_ = np.asarray(eng.struct_idx), np.asarray(eng.struct_pos)
    v[np.ix_(sp_, sp_)] = vcov[np.ix_(si, si)]
    return _defined_rows(eng.ept, pm_fit, ts, v)


# ----------------------------------------------------------------------------------------------
# the bootstrap
# ----------------------------------------------------------------------------------------------


def _refit(eng, theta0, s, wdiag, tol=1e-9, maxit=100):
    """Gauss-Newton with step halving from ``theta0`` on the statistics ``s`` (diagonal weights)."""
    from .bootstrap import gauss_newton

    return gauss_newton(eng, theta0, s, wdiag, tol, maxit)


def bootstrap_conditional(res, n_boot: int = 1000, seed=None, *, counts=None):
    """Nonparametric bootstrap of a covariate (conditional.x) fit, one draw at a time: the draw's
    rows (each case repeated ``counts[i]`` times, as lavaan's ``se = "bootstrap"`` resamples them)
    go through :func:`conditional_stats` again (probit and linear regressions, residual
    correlations, the DWLS weights from the draw's NACOV), then Gauss-Newton from the full-sample
    estimate. A draw equals ``fit(data.iloc[repeat], ...)``. A draw in which an item loses a
    category or a covariate is constant is dropped (lavaan drops it too), and so is a draw whose
    refit does not converge. Returns an :class:`.bootstrap.OrdinalBootstrap`."""
    from ..._threads import single_thread
    from .batched import draw_counts
    from .bootstrap import OrdinalBootstrap

    info = res._ordinal
    if info["weights"] == "WLS":
        raise OptionError("the bootstrap of a covariate model supports WLSMV, DWLS, ULSMV and ULS, not WLS")
    eng, ss = info["engine"], res.sample_stats
    data = res.data
    n = len(data)
    C = draw_counts(n, n_boot, seed) if counts is None else np.atleast_2d(np.asarray(counts, float))
    names0 = list(ss.wls_obs.index)
    est = np.full((len(C), eng.npar), np.nan)
    ok = np.zeros(len(C), dtype=bool)
    dwls = info["weights"] == "DWLS"
    with single_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for b, cnt in enumerate(C):
            d = data.iloc[np.repeat(np.arange(n), cnt.astype(int))].reset_index(drop=True)
            try:
                sb = conditional_stats(d, ss.items, ss.covariates, numeric=ss.numeric or (), nacov=dwls)
            except (DataError, np.linalg.LinAlgError, ValueError):
                continue
            if list(sb.wls_obs.index) != names0:  # an item lost a category
                continue
            s = sb.wls_obs.to_numpy()
            wdiag = 1.0 / np.diag(sb.nacov.to_numpy()) if dwls else np.ones(len(s))
            if not np.all(np.isfinite(wdiag)):
                continue
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                theta, conv = _refit(eng, np.asarray(res.start, float), s, wdiag)
            if conv and np.all(np.isfinite(theta)):
                est[b], ok[b] = theta, True
    table = res.ordinal_table
    free = table[table["free"] > 0].sort_values("free")
    return OrdinalBootstrap(estimates=est, ok=ok, counts=C, names=list(zip(free["lhs"], free["op"], free["rhs"])))
