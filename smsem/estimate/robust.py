"""Robust ML (lavaan's ``estimator = "MLM"``): Satorra-Bentler scaling and sandwich SEs.

``Gamma`` is the asymptotic covariance of ``sqrt(N) vech(S)`` estimated from the data's
fourth-order moments (centered at the sample mean, divided by N as lavaan's default
``Gamma.n.minus.one = FALSE``). ``W`` is the normal-theory weight at the model-implied
covariance and ``Delta = d vech(Sigma) / d theta``. Then

- robust covariance of the estimates: ``A^-1 (Delta' W Gamma W Delta) A^-1 / N`` with
  ``A = Delta' W Delta`` (the expected information per case);
- scaling factor ``c = tr(U Gamma) / df`` with ``U = W - W Delta A^-1 Delta' W``, and
  the scaled statistic ``chi2 / c``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .fitindices import baseline_cells
from .ml import vech_indices, weight_matrix

__all__ = ["gamma_adf", "sandwich_vcov", "sb_scaling", "baseline_scaling"]


def gamma_adf(x: np.ndarray) -> np.ndarray:
    """Distribution-free ``Gamma`` of ``vech(S)`` from the cases ``x`` (N divisor)."""
    n, p = x.shape
    d = x - x.mean(axis=0)
    r, c = vech_indices(p)
    z = d[:, r] * d[:, c]
    z = z - z.mean(axis=0)
    return z.T @ z / n


def gamma_adf_fixed_x(x: np.ndarray, x_idx: Sequence[int], meanstructure: bool = False) -> np.ndarray:
    """lavaan's ``Gamma`` with fixed covariates (``lav_samplestats_Gamma(fixed.x = TRUE)``):
    the casewise moments of ``x`` less those of its part explained by the covariates (the
    other columns replaced by their OLS fit on the covariates and an intercept), so the
    covariates' own moments carry no sampling variance. ``meanstructure`` prepends the
    means' rows. Without covariates, :func:`gamma_adf` (plus the means when asked)."""
    n, p = x.shape
    idx = [int(i) for i in x_idx]
    r, c = vech_indices(p)
    xc = x - x.mean(axis=0)
    if idx:
        rest = [j for j in range(p) if j not in idx]
        design = np.column_stack([np.ones(n), x[:, idx]])
        coef, *_ = np.linalg.lstsq(design, x[:, rest], rcond=None)
        yhat = x.copy()
        yhat[:, rest] = design @ coef
    else:
        yhat = np.tile(x.mean(axis=0), (n, 1))
    hc = yhat - yhat.mean(axis=0)
    z = xc[:, r] * xc[:, c] - hc[:, r] * hc[:, c]
    if meanstructure:
        z = np.concatenate([x - yhat, z], axis=1)
    z = z - z.mean(axis=0)
    return z.T @ z / n


def sandwich_vcov(delta: np.ndarray, w: np.ndarray, gamma: np.ndarray, n: int) -> np.ndarray:
    """Robust covariance of the ML estimates; ``delta`` has one column per parameter."""
    a_inv = np.linalg.inv(delta.T @ w @ delta)
    b = delta.T @ w @ gamma @ w @ delta
    return a_inv @ b @ a_inv / n


def sb_scaling(delta: np.ndarray, w: np.ndarray, gamma: np.ndarray, df: float) -> float:
    """Satorra-Bentler scaling factor ``c`` (the scaled chi2 is ``chi2 / c``)."""
    wd = w @ delta
    u = w - wd @ np.linalg.solve(delta.T @ wd, wd.T)
    return float(np.trace(u @ gamma) / df)


def baseline_scaling(s: np.ndarray, gamma: np.ndarray, fixed_x: Sequence[int] = ()) -> float:
    """Scaling factor of the baseline model fitted at ``diag(S)``: free variances, and free
    covariances among the fixed covariates ``fixed_x`` (positions), as lavaan's baseline."""
    p = s.shape[0]
    r, c = vech_indices(p)
    x = [int(i) for i in fixed_x]
    cells = baseline_cells(p, x)
    delta = np.zeros((len(r), len(cells)))
    for j, (a, b) in enumerate(cells):
        delta[((r == a) & (c == b)) | ((r == b) & (c == a)), j] = 1.0
    sigma_b = np.diag(np.diag(s))
    sigma_b[np.ix_(x, x)] = s[np.ix_(x, x)]
    w = weight_matrix(sigma_b)
    return sb_scaling(delta, w, gamma, p * (p - 1) / 2 - len(x) * (len(x) - 1) / 2)
