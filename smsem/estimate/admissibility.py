"""Admissibility of an ML solution (pure numpy; no semopy).

A solution is inadmissible when the optimizer did not converge, a variance is negative
(a Heywood case), or an estimated covariance matrix is not positive definite (e.g. two
latent variables correlating beyond 1). Each problem names the parameter involved.
"""

from __future__ import annotations

import numpy as np

__all__ = ["inadmissibility", "free_cells"]


def free_cells(param_map) -> set[tuple[int, int, int]]:
    """The ``(matrix, row, col)`` cells of a :class:`~smsem.estimate.backend.ParamMap` that are free."""
    return {loc for locs in param_map.locations for loc in locs}

_TOL = 1e-10
_BOUND_TOL = 1e-10  # a variance this small sits on semopy's bound (it stores exactly 0.0 there)


def _non_pd(names: tuple[str, ...], cov: np.ndarray, what: str) -> list[str]:
    cov = np.asarray(cov, dtype=float)
    if cov.size == 0 or not np.all(np.isfinite(cov)):
        return [f"the {what} contains non-finite values"] if cov.size else []
    w = np.linalg.eigvalsh((cov + cov.T) / 2)
    if w[0] > _TOL * max(abs(w[-1]), 1.0):
        return []
    sd = np.sqrt(np.clip(np.diag(cov), 0, None))
    worst, pair = 0.0, None
    for i in range(len(names)):
        for j in range(i):
            if sd[i] > 0 and sd[j] > 0:
                r = cov[i, j] / (sd[i] * sd[j])
                if abs(r) > worst:
                    worst, pair = abs(r), (names[j], names[i], r)
    detail = f"; largest correlation {pair[0]} ~~ {pair[1]} = {pair[2]:.3f}" if pair else ""
    return [f"the {what} is not positive definite (smallest eigenvalue {w[0]:.3g}){detail}"]


def inadmissibility(matrices, converged: bool = True, free_cells=None) -> tuple[str, ...]:
    """The reasons why a solution is inadmissible (empty when it is admissible).

    A variance at exactly 0 counts as a Heywood case only when it is a free parameter
    (its cell is in ``free_cells``); without ``free_cells`` every zero variance is reported.

    Parameters
    ----------
    matrices : Matrices
        Estimated model matrices (``smsem.estimate.backend.Matrices``).
    converged : bool, default=True
        Whether the optimizer reported convergence.
    free_cells : collection of (matrix, row, col), optional
        Cells holding free parameters (``ParamMap.locations``; matrix 2 is psi, 3 is theta).
        A variance fixed to 0 is no problem; nor is the zero residual semopy gives an
        observed variable that it carries as a latent one (an exogenous regressor).

    Returns
    -------
    tuple of str
        One message per problem, each naming the parameter (``lhs ~~ rhs``).
    """
    problems: list[str] = []
    if not converged:
        problems.append("the optimizer did not converge")
    for m, names, mat in ((2, matrices.inner, matrices.psi), (3, matrices.observed, matrices.theta)):
        for k, (name, v) in enumerate(zip(names, np.diag(mat))):
            if v < 0:
                problems.append(f"negative variance estimate for {name} ~~ {name} ({v:.4g}) (Heywood case)")
            elif v <= _BOUND_TOL and (free_cells is None or (m, k, k) in free_cells):
                # semopy bounds variances below by 0: a Heywood case ends on the bound.
                problems.append(f"variance {name} ~~ {name} is at its lower bound 0 (Heywood case: the "
                                "unbounded ML estimate would be zero or negative)")
    if not problems:
        try:
            problems += _non_pd(matrices.inner, matrices.inner_cov, "latent covariance matrix")
            problems += _non_pd(matrices.observed, matrices.implied_cov, "model-implied covariance matrix")
        except np.linalg.LinAlgError:
            problems.append("the latent covariance matrix cannot be computed ((I - B) is singular)")
    return tuple(problems)
