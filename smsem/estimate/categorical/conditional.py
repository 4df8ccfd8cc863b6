"""Ordinal models with observed exogenous covariates: lavaan's ``conditional.x = TRUE``.

lavaan fits ``F =~ y1 + y2 + y3; F ~ age`` with ordered ``y`` not on the joint moments of
``(y*, age)`` but on the moments of ``y*`` *given* the covariates (lavaan 0.6.14,
``lav_samplestats_step1.R``, ``lav_samplestats_step2.R``, ``lav_muthen1984.R``):

1. step 1, per ordinal item a probit regression on every covariate ``x`` (``lav_uvord``):
   ``P(y = c | x) = Phi(tau_c - x'beta) - Phi(tau_{c-1} - x'beta)`` (lavaan's bounds +-100);
   ML by Fisher scoring -> the thresholds ``res.th`` and slopes ``res.slopes``;
2. step 2, per pair of items the residual polychoric correlation given ``x``
   (``lav_bvord``): the casewise bivariate probabilities with the bounds of step 1 shifted
   by ``x'beta``; ML in ``rho`` -> ``res.cov`` (a correlation matrix);
3. the asymptotic covariance (``muthen1984``): casewise scores ``SC = [SC.TH, SC.SL, SC.COR]``,
   ``INNER = SC'SC``, ``A11`` the per-item blocks of ``INNER`` (thresholds and slopes of one
   item), ``A21`` the cross products of the correlation scores with the *bivariate* scores of
   the thresholds and slopes, ``A22 = diag(SC.COR'SC.COR)``;
   ``B^-1 = [[A11^-1, 0], [-A22^-1 A21 A11^-1, A22^-1]]``, ``NACOV = N B^-1 INNER B^-T``
   (``lavInspect(fit, "gamma")``).

The statistics (lavaan's ``WLS.obs``): ``[res.th, vec(res.slopes), vech(res.cov, diagonal =
FALSE)]``, the slopes column by column (every item's slope on the first covariate, then the
second...). The model's counterparts (``lav_model_implied`` with ``conditional.x``): with
``T = Lambda (I - B)^-1`` the total effects, ``res.slopes = T[, x]``, ``res.cov = T Psi0 T' +
Theta`` where ``Psi0`` is ``Psi`` without the covariates' block (their variances and
covariances are the sample ones, lavaan's fixed.x rows, and do not enter), ``res.th = tau``
(delta parameterization; theta: divided by ``sd = sqrt(diag(res.cov))``, as the slopes, and
``res.cov`` scaled to a correlation matrix). The delta parameterization fixes the items'
*conditional* variances at 1, so an item's residual variance is reported as ``1 - R^2`` given
``x``. The baseline model: thresholds and slopes free, residual correlations 0.
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
from .polychoric import TWO_PI, bvn_cdf, pair_index

__all__ = ["ConditionalStats", "conditional_stats", "fit_conditional", "covariates_of"]

_BIG = 100.0  # lavaan's bounds for the outer categories
_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _dnorm(x):
    return np.exp(-0.5 * x * x) * _INV_SQRT_2PI


def _dbinorm(u, v, rho):
    r2 = 1.0 - rho * rho
    return np.exp(-0.5 * (u * u - 2.0 * rho * u * v + v * v) / r2) / (TWO_PI * np.sqrt(r2))


@dataclass(frozen=True)
class ConditionalStats:
    """The sample statistics of ordinal items given covariates (one group).

    ``wls_obs`` (Series, lavaan's order; names ``x1|t1``, ``x1~age``, ``x1~~x2``), ``nacov``
    (DataFrame, ``lavInspect(fit, "gamma")``), ``nobs``, ``items`` and ``covariates`` (names),
    ``th`` (list of arrays per item), ``slopes`` (items x covariates), ``cor`` (residual
    polychoric matrix), ``x_mean`` and ``x_cov`` (the covariates' sample mean and covariance,
    N - 1 divisor as lavaan's fixed.x rows).
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
        info = np.einsum("nkp,nkq,nk->pq", G, G, 1.0 / P)
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


def _pair_lik(b1, b2, rho):
    (u1, l1), (u2, l2) = b1, b2
    return (bvn_cdf(u1, u2, rho) - bvn_cdf(l1, u2, rho) - bvn_cdf(u1, l2, rho) + bvn_cdf(l1, l2, rho))


def _pair_dlik(b1, b2, rho):
    (u1, l1), (u2, l2) = b1, b2
    return (_dbinorm(u1, u2, rho) - _dbinorm(l1, u2, rho) - _dbinorm(u1, l2, rho) + _dbinorm(l1, l2, rho))


def _residual_polychoric(b1, b2, names):
    """ML of the residual polychoric correlation of one pair given the covariates (lavaan's
    ``lav_bvord_cor_twostep_fit``): the root of the score in (-0.995, 0.995)."""

    def score(r):
        return float(np.sum(_pair_dlik(b1, b2, r) / np.maximum(_pair_lik(b1, b2, r), 1e-300)))

    lo, hi = -0.995, 0.995
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


def conditional_stats(data: pd.DataFrame, items: Sequence[str], covariates: Sequence[str], *,
                      nacov: bool = True) -> ConditionalStats:
    """lavaan's sample statistics of the ordinal ``items`` given the ``covariates`` (complete
    cases: lavaan's listwise deletion) and their NACOV; see the module docstring."""
    from .thresholds import prepare

    items, covariates = list(items), list(covariates)
    od = prepare(data[items], ordered=True)
    if (od.codes == 0).any():
        raise DataError("missing answers: the covariate model needs complete cases (listwise deletion)")
    Y = od.codes.astype(int)
    X = data[covariates].to_numpy(dtype=float)
    if not np.all(np.isfinite(X)):
        raise DataError("missing or non-numeric covariate values: the covariate model needs complete cases")
    n, p = Y.shape
    q = X.shape[1]
    for k, c in enumerate(covariates):
        if np.ptp(X[:, k]) == 0:
            raise DataError(f"covariate {c} is constant: it cannot predict anything")
    K = [int(k) for k in od.nlev]
    ths, betas, ok = [], [], True
    for i in range(p):
        t, b, conv = _probit(Y[:, i], X, K[i], items[i])
        ths.append(t)
        betas.append(b)
        ok &= conv
    slopes = np.array(betas).reshape(p, q)
    bounds = [_bounds(Y[:, i], ths[i], X @ betas[i]) for i in range(p)]
    rows, cols = pair_index(p)
    R = np.eye(p)
    for i, j in zip(rows, cols):
        R[i, j] = R[j, i] = _residual_polychoric(bounds[i], bounds[j], (items[i], items[j]))
    th_names = [f"{v}|t{k + 1}" for v, t in zip(items, ths) for k in range(len(t))]
    sl_names = [f"{items[i]}~{covariates[k]}" for k in range(q) for i in range(p)]
    cor_names = [f"{items[j]}~~{items[i]}" for i, j in zip(rows, cols)]
    names = th_names + sl_names + cor_names
    obs = np.concatenate([np.concatenate(ths), slopes.T.reshape(-1), R[rows, cols]])
    x_mean = X.mean(axis=0)
    x_cov = np.atleast_2d(np.cov(X, rowvar=False, ddof=1))
    gamma = np.full((len(names), len(names)), np.nan)
    if nacov:
        gamma = _nacov(Y, X, ths, betas, bounds, R, rows, cols)
    return ConditionalStats(pd.Series(obs, index=names), pd.DataFrame(gamma, index=names, columns=names),
                            float(n), items, covariates, ths, slopes, R, x_mean, x_cov, bool(ok))


def _nacov(Y, X, ths, betas, bounds, R, rows, cols):
    """lavaan's ``muthen1984`` sandwich with covariates, times N (``lavInspect(fit, "gamma")``)."""
    n, p = Y.shape
    q = X.shape[1]
    nths = [len(t) for t in ths]
    th_start = np.concatenate([[0], np.cumsum(nths)])
    nth = int(th_start[-1])
    a11_size = nth + p * q
    th_idx = [np.arange(th_start[i], th_start[i + 1]) for i in range(p)]
    sl_idx = [nth + i + p * np.arange(q) for i in range(p)]
    pstar = len(rows)
    sc = np.zeros((n, a11_size + pstar))
    for i in range(p):
        s = _uni_scores(Y[:, i], X, ths[i], betas[i])
        sc[:, th_idx[i]] = s[:, :nths[i]]
        sc[:, sl_idx[i]] = s[:, nths[i]:]
    a21 = np.zeros((pstar, a11_size))
    for k, (i, j) in enumerate(zip(rows, cols)):
        drho, dth1, dth2, dsl1, dsl2 = _pair_scores(Y[:, i], Y[:, j], bounds[i], bounds[j], R[i, j], X,
                                                    nths[i], nths[j])
        sc[:, a11_size + k] = drho
        a21[k, th_idx[i]] = drho @ dth1
        a21[k, th_idx[j]] = drho @ dth2
        a21[k, sl_idx[i]] = drho @ dsl1
        a21[k, sl_idx[j]] = drho @ dsl2
    inner = sc.T @ sc
    a11 = np.zeros((a11_size, a11_size))
    for i in range(p):
        ix = np.concatenate([th_idx[i], sl_idx[i]])
        a11[np.ix_(ix, ix)] = inner[np.ix_(ix, ix)]
    a22 = np.diag(inner)[a11_size:]
    a11_inv = np.linalg.inv(a11)
    b_inv = np.zeros_like(inner)
    b_inv[:a11_size, :a11_size] = a11_inv
    b_inv[a11_size:, a11_size:] = np.diag(1.0 / a22)
    b_inv[a11_size:, :a11_size] = -(a21 / a22[:, None]) @ a11_inv
    return n * (b_inv @ inner @ b_inv.T)
