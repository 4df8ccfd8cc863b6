"""MLR: ML estimates with Huber-White SEs and the Yuan-Bentler scaled chi2 (lavaan's MLR).

lavaan's ``estimator = "MLR"`` (complete data or ``missing = "ml"``) keeps the ML
estimates and changes the inference:

* SEs (``se = "robust.huber.white"``): ``A0^-1 B0 A0^-1 / N`` with ``A0`` the observed
  information of the model per case (the Hessian of ``-loglik / N``) and ``B0`` the
  first-order information ``sum_i s_i s_i' / N`` from the casewise scores ``s_i``.
* Test (``test = "yuan.bentler.mplus"``): ``chi2 / c`` with
  ``c = [tr(A1^-1 B1) - tr(A0^-1 B0)] / df``, where ``A1`` and ``B1`` are the observed
  and first-order information of the saturated model (means and covariances) at its own
  ML estimates (the sample moments, or EM's with missing data), and ``A0``, ``B0`` the
  model's above. The baseline model gets its own ``c`` the same way. (Found by taking
  lavaan 0.6-14's ``fit@test[[2]]`` apart: its ``trace.UGamma`` has exactly these two
  terms, e.g. 248.4844 - 56.18339 on the committed survey.)

The casewise scores are analytic, and so is the saturated model's observed information
(:func:`saturated_hessian`); the model's and the baseline's are central differences of
analytic gradients (:func:`smsem.estimate.standardized.delta_jacobian`).
"""

from __future__ import annotations

import numpy as np

from .matrices import ParamMap
from .fiml import Patterns, fiml_loglik
from .fitindices import baseline_cells
from .ml import mean_jacobian, sigma_jacobian, vech_indices
from .standardized import delta_jacobian

__all__ = ["casewise_scores", "model_scores", "sandwich", "h1_trace", "h0_trace", "baseline_h0_trace"]


def casewise_scores(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per case ``dl_i/dmu`` (n, p) and ``dl_i/dSigma`` (n, p, p) of the normal
    log-likelihood of the observed part of each row (NaN = missing).

    ``dl_i/dSigma`` treats the entries of Sigma as distinct (as :func:`fiml_loglik`'s
    gradient): ``0.5 (S_oo^-1 r r' S_oo^-1 - S_oo^-1)`` on the observed block.
    """
    n, p = x.shape
    g_mu = np.zeros((n, p))
    g_sig = np.zeros((n, p, p))
    mask = ~np.isnan(x)
    keys, inverse = np.unique(mask, axis=0, return_inverse=True)
    inverse = np.asarray(inverse).ravel()
    for k, key in enumerate(keys):
        o = np.flatnonzero(key)
        if not o.size:
            continue
        rows = np.flatnonzero(inverse == k)
        inv = np.linalg.inv(sigma[np.ix_(o, o)])
        u = (x[np.ix_(rows, o)] - mu[o]) @ inv  # (n_k, q): S^-1 r per case (inv is symmetric)
        g_mu[np.ix_(rows, o)] = u
        g_sig[np.ix_(rows, o, o)] = 0.5 * (u[:, :, None] * u[:, None, :] - inv)
    return g_mu, g_sig


def model_scores(pm: ParamMap, x: np.ndarray, theta: np.ndarray, nu: np.ndarray) -> np.ndarray:
    """Casewise gradients (N, q + p) of the model's log-likelihood with respect to
    ``(theta, nu)`` (free parameters, then one intercept per observed variable); with a mean
    structure in ``pm`` (``nu`` ignored) with respect to ``theta`` only."""
    if pm.meanstructure:
        mx = pm.matrices_at(theta)
        g_mu, g_sig = casewise_scores(x, mx.implied_mean, mx.implied_cov)
        return (np.einsum("nij,kij->nk", g_sig, sigma_jacobian(pm, theta))
                + g_mu @ mean_jacobian(pm, theta).T)
    sigma = pm.matrices_at(theta).implied_cov
    g_mu, g_sig = casewise_scores(x, nu, sigma)
    return np.concatenate([np.einsum("nij,kij->nk", g_sig, sigma_jacobian(pm, theta)), g_mu], axis=1)


def sandwich(hessian: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Huber-White covariance ``A^-1 B A^-1 / N`` (``hessian`` = A, of ``-loglik / N``;
    ``scores`` (N, k) the casewise gradients)."""
    n = scores.shape[0]
    b = scores.T @ scores / n
    a_inv = np.linalg.inv(hessian)
    return a_inv @ b @ a_inv / n


def _saturated_gradient(pat: Patterns, eta: np.ndarray, p: int) -> np.ndarray:
    """Gradient of the saturated log-likelihood with respect to ``(mu, vech Sigma)``."""
    r, c = vech_indices(p)
    mu = eta[:p]
    sigma = np.zeros((p, p))
    sigma[r, c] = eta[p:]
    sigma[c, r] = eta[p:]
    _, g_mu, g_sig = fiml_loglik(pat, mu, sigma, grad=True)
    if g_mu is None:
        raise np.linalg.LinAlgError("the implied covariance is not positive definite")
    g_vech = np.where(r == c, g_sig[r, c], g_sig[r, c] + g_sig[c, r])
    return np.concatenate([g_mu, g_vech])


def _saturated_scores(x: np.ndarray, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    p = x.shape[1]
    r, c = vech_indices(p)
    g_mu, g_sig = casewise_scores(x, mu, sigma)
    g_vech = np.where(r == c, g_sig[:, r, c], g_sig[:, r, c] + g_sig[:, c, r])
    return np.concatenate([g_mu, g_vech], axis=1)


def saturated_hessian(pat: Patterns, mu: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Analytic Hessian of the saturated normal log-likelihood (the sum over cases of
    :func:`fiml_loglik`) with respect to ``(mu, vech Sigma)``, the order of
    :func:`_saturated_gradient`'s vector.

    For a case with observed items ``o``, ``K = Sigma_oo^-1``, ``r = x_o - mu_o`` and
    ``u = K r``, treating the entries of Sigma as distinct:
    ``d2l/dmu dmu' = -K``, ``d2l/dmu_a dSigma_cd = -K_ac u_d`` and
    ``d2l/dSigma_ab dSigma_cd = (K_ac K_bd - K_ac u_b u_d - u_a u_d K_bc) / 2``; the sums
    over a pattern's cases need only ``sum u = n_k K d`` and ``sum u u' = n_k K m K``
    (``d`` = mean - mu, ``m`` = covariance + d d'). An off-diagonal element of vech Sigma
    moves two entries, so its rows and columns add both. (This replaced central
    differences of :func:`_saturated_gradient`, which needed 2 (p + p(p+1)/2) gradient
    evaluations, 30 times slower for 22 items: the two agree to 3e-10 relative, the
    differences' truncation error; tests/test_saturated_hessian.py checks it.)
    """
    p = pat.p
    n_pat = len(pat.counts)
    nk = np.asarray(pat.counts, dtype=float)
    # Each pattern's K and sum u u' embedded in p x p (zero outside its observed items), so
    # the sums over patterns below are matrix products over the pattern axis (BLAS).
    kk = np.zeros((n_pat, p, p))
    uu = np.zeros((n_pat, p, p))
    su = np.zeros((n_pat, p))
    for i, (o, xb, c) in enumerate(zip(pat.observed, pat.means, pat.covs)):
        k = np.linalg.inv(sigma[np.ix_(o, o)])
        d = xb - mu[o]
        kk[i][np.ix_(o, o)] = k
        uu[i][np.ix_(o, o)] = nk[i] * (k @ (c + np.outer(d, d)) @ k)
        su[i, o] = nk[i] * (k @ d)
    kf, uf = kk.reshape(n_pat, p * p), uu.reshape(n_pat, p * p)
    h_mm = -np.einsum("i,iab->ab", nk, kk)
    h_ms = -(kf.T @ su).reshape(p, p, p)                                  # [a, c, d]: -K_ac u_d
    t1 = ((nk[:, None] * kf).T @ kf).reshape(p, p, p, p).transpose(0, 2, 1, 3)  # n_k K_ac K_bd
    t2 = (kf.T @ uf).reshape(p, p, p, p).transpose(0, 2, 1, 3)               # K_ac (uu)_bd
    t3 = (uf.T @ kf).reshape(p, p, p, p).transpose(0, 2, 3, 1)               # (uu)_ad K_bc
    h_ss = (0.5 * (t1 - t2 - t3)).reshape(p * p, p * p)                     # [(a, b), (c, d)]
    h_ms = h_ms.reshape(p, p * p)
    r, c = vech_indices(p)
    off = (r != c).astype(float)
    i1, i2 = r * p + c, c * p + r
    hv = (h_ss[np.ix_(i1, i1)] + off[:, None] * h_ss[np.ix_(i2, i1)] + off[None, :] * h_ss[np.ix_(i1, i2)]
          + (off[:, None] * off[None, :]) * h_ss[np.ix_(i2, i2)])
    hmv = h_ms[:, i1] + off[None, :] * h_ms[:, i2]
    out = np.block([[h_mm, hmv], [hmv.T, hv]])
    return 0.5 * (out + out.T)


def h1_trace(x: np.ndarray, pat: Patterns, mu: np.ndarray, sigma: np.ndarray, means: bool) -> float:
    """``tr(A1^-1 B1)`` of the saturated model at its own ML moments ``(mu, sigma)`` (the
    sample moments, or the EM estimates with missing data): ``A1`` its observed
    information per case (:func:`saturated_hessian`), ``B1`` the mean
    outer product of its casewise scores. ``means=False`` leaves the mean block out
    (complete data without a mean structure, as lavaan)."""
    n, p = x.shape
    a1 = -saturated_hessian(pat, mu, sigma) / n
    s1 = _saturated_scores(x, mu, sigma)
    keep = slice(None) if means else slice(p, None)
    a1, s1 = a1[keep, keep], s1[:, keep]
    return float(np.sum(np.linalg.inv(a1) * (s1.T @ s1 / n).T))


def h0_trace(hessian: np.ndarray, scores: np.ndarray) -> float:
    """``tr(A0^-1 B0)`` of a fitted model: ``hessian`` its observed information per case,
    ``scores`` (N, k) its casewise gradients at the estimate."""
    b0 = scores.T @ scores / scores.shape[0]
    return float(np.sum(np.linalg.inv(hessian) * b0.T))


def baseline_h0_trace(x: np.ndarray, pat: Patterns, mu: np.ndarray, sigma: np.ndarray,
                      fixed_x: np.ndarray, means: bool) -> float:
    """:func:`h0_trace` of lavaan's baseline model at its ML moments ``(mu, sigma)``:
    free variances (and means), free covariances among the fixed covariates."""
    n, p = x.shape
    cells = baseline_cells(p, fixed_x)
    rows = np.array([a for a, _ in cells])
    cols = np.array([b for _, b in cells])

    def unpack(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sig = np.zeros((p, p))
        sig[rows, cols] = z[:len(cells)]
        sig[cols, rows] = z[:len(cells)]
        return (z[len(cells):] if means else mu), sig

    def grad(z: np.ndarray) -> np.ndarray:
        m, sig = unpack(z)
        _, g_mu, g_sig = fiml_loglik(pat, m, sig, grad=True)
        g = np.where(rows == cols, g_sig[rows, cols], g_sig[rows, cols] + g_sig[cols, rows])
        return np.concatenate([g, g_mu]) if means else g

    z = np.concatenate([sigma[rows, cols], mu]) if means else sigma[rows, cols]
    hess = -delta_jacobian(grad, z) / n
    hess = 0.5 * (hess + hess.T)
    g_mu, g_sig = casewise_scores(x, mu, sigma)
    sc = np.where(rows == cols, g_sig[:, rows, cols], g_sig[:, rows, cols] + g_sig[:, cols, rows])
    if means:
        sc = np.concatenate([sc, g_mu], axis=1)
    return h0_trace(hess, sc)
