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
