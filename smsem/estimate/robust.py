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

import numpy as np

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


def baseline_scaling(s: np.ndarray, gamma: np.ndarray) -> float:
    """Scaling factor of the independence model (free variances only), fitted at ``diag(S)``."""
    p = s.shape[0]
    r, c = vech_indices(p)
    delta = np.zeros((len(r), p))
    for k in range(p):
        delta[(r == k) & (c == k), k] = 1.0
    w = weight_matrix(np.diag(np.diag(s)))
    return sb_scaling(delta, w, gamma, p * (p - 1) / 2)
