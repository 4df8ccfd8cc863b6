"""Full-information ML for data with missing values (lavaan's ``missing = "ml"``).

The casewise normal likelihood is summed over missingness patterns: a case that observes
the items ``o`` contributes ``log N(x_o; mu_o, Sigma_oo)``. The model adds one free
intercept per item (``mu = nu``; latent means fixed at 0, as lavaan's ``sem()`` with
``missing = "ml"``). The unrestricted (H1) model is fitted by EM, the independence
baseline variable by variable (its likelihood factorizes). SEs come from the observed
information (the Hessian of the log-likelihood), lavaan's default for ``missing = "ml"``.

semopy 2.3's FIML was evaluated and not used: ``semopy.ModelMeans(...).fit(data,
obj="ML")`` (its FIML path) on data/synthetic/integrative_n300_seed1_missing.csv ran
547 s and ended far from lavaan (largest estimate difference 6e5, i.e. diverged). This
module fits the same data in a few seconds and is checked against lavaan in
``tests/test_lavaan_fiml.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Sequence

import numpy as np

from .matrices import ParamMap
from .ml import mean_jacobian, sigma_jacobian
from .standardized import delta_jacobian

__all__ = ["Patterns", "em_saturated", "fiml_loglik", "fit_fiml", "independence_loglik", "baseline_loglik",
           "baseline_moments", "negloglik", "observed_information"]

_LOG2PI = np.log(2 * np.pi)


@dataclass(frozen=True)
class Patterns:
    """Cases grouped by missingness pattern, with per-pattern mean and N-divided covariance."""

    observed: tuple[np.ndarray, ...]   # item indices observed in each pattern
    counts: np.ndarray
    means: tuple[np.ndarray, ...]
    covs: tuple[np.ndarray, ...]
    n: int
    p: int

    @classmethod
    def from_data(cls, x: np.ndarray) -> "Patterns":
        mask = ~np.isnan(x)
        keys, inverse = np.unique(mask, axis=0, return_inverse=True)
        obs, counts, means, covs = [], [], [], []
        for k, key in enumerate(keys):
            if not key.any():
                continue  # a case with nothing observed adds nothing to the likelihood
            rows = x[np.asarray(inverse).ravel() == k][:, key]
            m = rows.mean(axis=0)
            d = rows - m
            obs.append(np.flatnonzero(key))
            counts.append(len(rows))
            means.append(m)
            covs.append(d.T @ d / len(rows))
        return cls(tuple(obs), np.array(counts), tuple(means), tuple(covs), int(sum(counts)), x.shape[1])

    @cached_property
    def groups(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        return _groups(self)


def _groups(pat: Patterns) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Patterns stacked by number of observed items: ``(index, counts, means, covs)`` arrays."""
    out = []
    sizes = np.array([len(o) for o in pat.observed])
    for q in np.unique(sizes):
        sel = np.flatnonzero(sizes == q)
        out.append((np.stack([pat.observed[i] for i in sel]), pat.counts[sel].astype(float),
                    np.stack([pat.means[i] for i in sel]), np.stack([pat.covs[i] for i in sel])))
    return out


def fiml_loglik(pat: Patterns, mu: np.ndarray, sigma: np.ndarray, grad: bool = False):
    """Casewise log-likelihood; with ``grad`` also ``(dl/dmu, dl/dSigma)``.

    Patterns with the same number of observed items are processed as one batch of
    matrices (the speed of a FIML fit is this function's).
    """
    ll = 0.0
    g_mu = np.zeros(pat.p)
    g_sig = np.zeros((pat.p, pat.p))
    for idx, nk, xb, c in pat.groups:
        rows, cols = idx[:, :, None], idx[:, None, :]
        s_oo = sigma[rows, cols]
        sign, logdet = np.linalg.slogdet(s_oo)
        if np.any(sign <= 0):
            return (-np.inf, None, None) if grad else -np.inf
        inv = np.linalg.inv(s_oo)
        d = xb - mu[idx]
        m = c + d[:, :, None] * d[:, None, :]
        q = idx.shape[1]
        ll += float(-0.5 * np.sum(nk * (q * _LOG2PI + logdet + np.einsum("kij,kji->k", inv, m))))
        if grad:
            # Scatter-add into the full arrays; bincount is far faster than np.add.at.
            p = pat.p
            g_mu += np.bincount(idx.ravel(), weights=(nk[:, None] * np.einsum("kij,kj->ki", inv, d)).ravel(),
                                minlength=p)
            a = 0.5 * nk[:, None, None] * (inv @ m @ inv - inv)
            flat = (rows * p + cols).ravel()
            g_sig += np.bincount(flat, weights=a.ravel(), minlength=p * p).reshape(p, p)
    return (ll, g_mu, g_sig) if grad else ll


def em_saturated(x: np.ndarray, pat: Patterns, *, tol: float = 1e-10, max_iter: int = 5000
                 ) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """Unrestricted ML mean and covariance by EM: ``(mu, sigma, loglik, converged)``."""
    p = x.shape[1]
    mu = np.nanmean(x, axis=0)
    sigma = np.diag(np.nanvar(x, axis=0))
    groups = []
    for idx, nk, xb, c in pat.groups:
        mis = np.stack([np.setdiff1d(np.arange(p), row) for row in idx]) if idx.shape[1] < p else None
        groups.append((idx, mis, nk, xb, c))
    kk_cache: dict[int, np.ndarray] = {}
    for _ in range(max_iter):
        t1 = np.zeros(p)
        t2 = np.zeros((p, p))
        # One batch per number of observed items: expected sufficient statistics of the
        # cases given their observed items (regression of missing on observed items).
        for idx, mis, nk, xb, c in groups:
            w = nk[:, None]
            if mis is None:
                t1 += (w * xb).sum(axis=0)
                t2 += np.einsum("k,kij->ij", nk, c + xb[:, :, None] * xb[:, None, :])
                continue
            s_oo = sigma[idx[:, :, None], idx[:, None, :]]
            s_om = sigma[idx[:, :, None], mis[:, None, :]]
            s_mm = sigma[mis[:, :, None], mis[:, None, :]]
            b = np.transpose(np.linalg.solve(s_oo, s_om), (0, 2, 1))  # (K, m, q)
            cond = s_mm - b @ s_om
            e_mis = mu[mis] + np.einsum("kmq,kq->km", b, xb - mu[idx])
            k = len(nk)
            ex = np.empty((k, p))
            rows = kk_cache.setdefault(k, np.arange(k)[:, None])
            ex[rows, idx] = xb
            ex[rows, mis] = e_mis
            exx = np.empty((k, p, p))
            r3 = rows[:, :, None]
            exx[r3, idx[:, :, None], idx[:, None, :]] = c + xb[:, :, None] * xb[:, None, :]
            cross = c @ np.transpose(b, (0, 2, 1)) + xb[:, :, None] * e_mis[:, None, :]
            exx[r3, idx[:, :, None], mis[:, None, :]] = cross
            exx[r3, mis[:, :, None], idx[:, None, :]] = np.transpose(cross, (0, 2, 1))
            exx[r3, mis[:, :, None], mis[:, None, :]] = (b @ c @ np.transpose(b, (0, 2, 1))
                                                         + e_mis[:, :, None] * e_mis[:, None, :] + cond)
            t1 += (w * ex).sum(axis=0)
            t2 += np.einsum("k,kij->ij", nk, exx)
        n = pat.n
        mu_new = t1 / n
        sigma_new = t2 / n - np.outer(mu_new, mu_new)
        change = max(np.abs(mu_new - mu).max(), np.abs(sigma_new - sigma).max())
        mu, sigma = mu_new, sigma_new
        # EM converges linearly: stop on a tiny parameter change, not on the likelihood
        # change, which is quadratic in the remaining error and stalls too early.
        if change < tol:
            return mu, sigma, float(fiml_loglik(pat, mu, sigma)), True
    return mu, sigma, float(fiml_loglik(pat, mu, sigma)), False


def independence_loglik(x: np.ndarray) -> float:
    """Log-likelihood of the baseline (independent items, free means and variances)."""
    ll = 0.0
    for col in x.T:
        v = col[~np.isnan(col)]
        var = v.var()
        ll += -len(v) / 2 * (_LOG2PI + np.log(var) + 1.0)
    return float(ll)


def baseline_loglik(x: np.ndarray, fixed_x: Sequence[int] = ()) -> float:
    """Log-likelihood of lavaan's baseline model: independent variables, except that the
    fixed covariates ``fixed_x`` (positions) keep an unrestricted covariance (by EM)."""
    x_idx = [int(i) for i in fixed_x]
    if len(x_idx) < 2:
        return independence_loglik(x)
    rest = [j for j in range(x.shape[1]) if j not in x_idx]
    return independence_loglik(x[:, rest]) + _covariate_block(x, x_idx)[2]


def _covariate_block(x: np.ndarray, x_idx: list[int]) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """EM (:func:`em_saturated`) on the fixed covariates' columns; rows without any
    covariate add nothing and are left out."""
    block = x[:, x_idx]
    block = block[~np.isnan(block).all(axis=1)]
    return em_saturated(block, Patterns.from_data(block))


@dataclass(frozen=True)
class FimlFit:
    theta: np.ndarray     # structural parameters, ParamMap order
    nu: np.ndarray        # item intercepts, ParamMap.base.observed order
    loglik: float
    vcov: np.ndarray      # of (theta, nu), inverse observed information
    converged: bool
    message: str
    hessian: np.ndarray   # of -loglik / N at (theta, nu): the observed information per case


def fit_fiml(pm: ParamMap, x: np.ndarray, theta0: np.ndarray, nu0: np.ndarray | None,
             pat: Patterns | None = None) -> FimlFit:
    """Maximize the casewise likelihood over ``(theta, nu)`` from the given start.

    With a mean structure in ``pm`` (``pm.meanstructure``, the parameter-table layout) the
    means are the model's (``nu0`` is ignored): ``z = theta`` and ``FimlFit.nu`` is the
    implied mean.

    L-BFGS-B with the analytic gradient, then Newton steps on the Hessian (central
    differences of the analytic gradient) until the step is below 1e-9; the last
    Hessian gives the observed information.
    """
    pat = pat or Patterns.from_data(x)
    k = pm.n_free
    n = pat.n
    negll = negloglik(pm, pat)
    z = (np.asarray(theta0, dtype=float).copy() if pm.meanstructure
         else np.concatenate([theta0, nu0]).astype(float))
    if pm.meanstructure:
        # From the ML fit to the EM moments, damped Newton converges in a few steps;
        # L-BFGS-B (hundreds of iterations to the same point) only if it does not.
        hess_fn = _batched_hessian(pm, x)
        z_n, ok = _newton(negll, z, hess_fn)
        if ok:
            hess = hess_fn(z_n)
            vcov = np.linalg.inv(hess) / n
            return FimlFit(z_n.copy(), pm.matrices_at(z_n).implied_mean, -negll(z_n)[0] * n, vcov, True,
                           "converged", hess)
    from scipy import optimize  # here: 0.2 s of import, needed only when Newton/Fisher scoring fails

    res = optimize.minimize(negll, z, jac=True, method="L-BFGS-B",
                            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-9})
    z = res.x
    converged = bool(res.success)
    message = str(res.message)
    # Newton steps from the L-BFGS-B solution; the Hessian hardly changes over these tiny
    # steps, so it is computed once and reused (and refreshed only if a step is large).
    hess = _hessian(negll, z)
    for _ in range(10):
        step = -np.linalg.solve(hess, negll(z)[1])
        z = z + step
        if np.max(np.abs(step)) < 1e-9:
            converged = True
            break
        if np.max(np.abs(step)) > 1e-4:
            hess = _hessian(negll, z)
    else:
        converged = False
        message = "Newton refinement did not reach a step below 1e-9"
    vcov = np.linalg.inv(hess) / n
    nu = pm.matrices_at(z[:k]).implied_mean if pm.meanstructure else z[k:].copy()
    return FimlFit(z[:k].copy(), nu, -negll(z)[0] * n, vcov, converged, message, hess)


def _batched_hessian(pm: ParamMap, x: np.ndarray):
    """``z -> Hessian of -loglik / N`` (model with a mean structure): central differences of
    the analytic gradient with all 2k points evaluated in one batch by
    :func:`smsem.estimate.batched.fiml_hessian` (the same objective as :func:`negloglik`)."""
    from ..estimate.batched import FimlStructure, MissingPatterns, ModelStructure, fiml_hessian, fiml_moments

    pat = MissingPatterns.from_data(x)
    fs = FimlStructure(ModelStructure(pm))
    mom = fiml_moments(pat, np.ones((1, pat.n)))
    return lambda z: fiml_hessian(fs, np.asarray(z, dtype=float), mom)


def _newton(negll, z: np.ndarray, hess_fn=None, max_iter: int = 100) -> tuple[np.ndarray, bool]:
    """Damped Newton on ``negll`` (Hessian by central differences of the analytic gradient,
    or ``hess_fn``; step halving): ``(z, converged)``; converged when the step is below 1e-9."""
    hess_fn = hess_fn or (lambda t: _hessian(negll, t))
    z = np.asarray(z, dtype=float).copy()
    f, g = negll(z)
    if not np.isfinite(f):
        return z, False
    for _ in range(max_iter):
        try:
            step = -np.linalg.solve(hess_fn(z), g)
        except np.linalg.LinAlgError:
            return z, False
        if not np.all(np.isfinite(step)):
            return z, False
        t = 1.0
        while t > 1e-6:
            f2, g2 = negll(z + t * step)
            if f2 <= f + 1e-14 * max(1.0, abs(f)):
                break
            t /= 2
        else:
            return z, bool(np.max(np.abs(g)) < 1e-9)
        z, f, g = z + t * step, f2, g2
        if np.max(np.abs(t * step)) < 1e-9:
            return z, True
    return z, False


def negloglik(pm: ParamMap, pat: Patterns):
    """``z = (theta, nu) -> (-loglik / N, its gradient)``: the casewise likelihood of the
    model with free intercepts ``nu`` (one per observed variable); with a mean structure
    in ``pm``, ``z = theta`` and the means are the model's."""
    k, n = pm.n_free, pat.n

    if pm.meanstructure:
        def negll_ms(z: np.ndarray) -> tuple[float, np.ndarray]:
            mx = pm.matrices_at(z)
            ll, g_mu, g_sig = fiml_loglik(pat, mx.implied_mean, mx.implied_cov, grad=True)
            if not np.isfinite(ll):
                return np.inf, np.zeros_like(z)
            g = np.einsum("ij,kij->k", g_sig, sigma_jacobian(pm, z)) + mean_jacobian(pm, z) @ g_mu
            return -ll / n, -g / n

        return negll_ms

    def negll(z: np.ndarray) -> tuple[float, np.ndarray]:
        sigma = pm.matrices_at(z[:k]).implied_cov
        ll, g_mu, g_sig = fiml_loglik(pat, z[k:], sigma, grad=True)
        if not np.isfinite(ll):
            return np.inf, np.zeros_like(z)
        jac = sigma_jacobian(pm, z[:k])
        g = np.concatenate([np.einsum("ij,kij->k", g_sig, jac), g_mu])
        return -ll / n, -g / n

    return negll


def observed_information(pm: ParamMap, pat: Patterns, z: np.ndarray) -> np.ndarray:
    """Observed information per case at ``z = (theta, nu)``: the Hessian of ``-loglik / N``."""
    return _hessian(negloglik(pm, pat), z)


def baseline_moments(x: np.ndarray, fixed_x: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray]:
    """ML means and covariance of lavaan's baseline model (see :func:`baseline_loglik`)."""
    mu = np.nanmean(x, axis=0)
    sigma = np.diag(np.nanvar(x, axis=0))
    x_idx = [int(i) for i in fixed_x]
    if len(x_idx) >= 2:
        m, s, _, _ = _covariate_block(x, x_idx)
        mu[x_idx] = m
        sigma[np.ix_(x_idx, x_idx)] = s
    return mu, sigma


def _hessian(negll, z: np.ndarray) -> np.ndarray:
    hess = delta_jacobian(lambda t: negll(t)[1], z)
    return (hess + hess.T) / 2
