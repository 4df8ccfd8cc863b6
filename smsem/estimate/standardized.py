"""The standardized solution (lavaan's std.all and std.lv) with delta-method SEs.

Both standardizations are functions of the free parameters, so their covariance is
``J V J'`` with ``V`` the parameters' covariance and ``J`` the Jacobian of the map, here
by central differences (see :func:`delta_jacobian` for the step). Variances come from the
model-implied covariances, as in lavaan's ``standardizedSolution()``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable, NamedTuple, Sequence

import numpy as np
import pandas as pd
from .. import _dist as stats

from .matrices import Matrices, ParamMap

__all__ = ["STD_COLUMNS", "standardize", "standardize_cells", "delta_jacobian", "standardized_table"]

STD_COLUMNS = ["lhs", "op", "rhs", "std_all", "std_all_se", "std_all_z", "std_all_pvalue",
               "std_all_ci_lower", "std_all_ci_upper", "std_lv", "std_lv_se", "std_lv_z",
               "std_lv_pvalue", "std_lv_ci_lower", "std_lv_ci_upper"]

Row = tuple[str, str, str]


def standardize(mx: Matrices, rows: Sequence[Row], means: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """std.all and std.lv value of each ``(lhs, op, rhs)`` row at the matrices ``mx``.

    ``means`` are the observed intercepts (models with a mean structure, e.g. FIML), in
    ``mx.observed`` order; latent means are fixed at 0.
    """
    inner = {v: i for i, v in enumerate(mx.inner)}
    obs = {v: i for i, v in enumerate(mx.observed)}
    cov_in = mx.inner_cov
    sd_in = np.sqrt(np.diag(cov_in))
    sd_ob = np.sqrt(np.diag(mx.implied_cov))
    latent = set(mx.inner) - set(mx.observed)

    def sd_lv(v: str) -> float:  # std.lv standardizes latent variables only
        return sd_in[inner[v]] if v in latent else 1.0

    all_, lv = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    for k, (lhs, op, rhs) in enumerate(rows):
        if op == "=~":
            v = mx.lambda_[obs[rhs], inner[lhs]]
            all_[k] = v * sd_in[inner[lhs]] / sd_ob[obs[rhs]]
            lv[k] = v * sd_lv(lhs)
        elif op == "~":
            v = mx.beta[inner[lhs], inner[rhs]]
            all_[k] = v * sd_in[inner[rhs]] / sd_in[inner[lhs]]
            lv[k] = v * sd_lv(rhs) / sd_lv(lhs)
        elif op == "~~":
            # Variances are divided by the total (model-implied) variance; covariances by
            # the square roots of the two *residual* variances, i.e. they become residual
            # correlations (lavaan's cov.std = TRUE). std.lv leaves observed ones alone.
            if lhs in inner and rhs in inner:  # latent, or observed in the structural part
                a, b = inner[lhs], inner[rhs]
                v = mx.psi[a, b]
                if a == b:
                    all_[k] = v / cov_in[a, a]
                    lv[k] = v / sd_lv(lhs) ** 2
                else:
                    all_[k] = v / np.sqrt(abs(mx.psi[a, a]) * abs(mx.psi[b, b]))
                    # std.lv scales only the latent side(s): two observed covariates keep
                    # their covariance.
                    lv[k] = v / (np.sqrt(abs(mx.psi[a, a])) if lhs in latent else 1.0) \
                        / (np.sqrt(abs(mx.psi[b, b])) if rhs in latent else 1.0)
            else:
                a, b = obs[lhs], obs[rhs]
                v = mx.theta[a, b]
                lv[k] = v
                if a == b:
                    all_[k] = v / sd_ob[a] ** 2
                else:
                    all_[k] = v / np.sqrt(abs(mx.theta[a, a]) * abs(mx.theta[b, b]))
        elif op == "~1":
            if lhs in obs and means is not None:
                v = means[obs[lhs]]
                all_[k] = v / sd_ob[obs[lhs]]
                lv[k] = v
            else:  # latent means are fixed at zero
                all_[k] = lv[k] = 0.0
    return all_, lv


def standardize_cells(mx: Matrices, rows: Sequence[Row], cells: Sequence[tuple[int, int, int]]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """std.all and std.lv of each row of the parameter-table layout (``ParamMap.rows`` and
    ``ParamMap.row_locations``), lavaan's ``standardizedSolution()`` formulas.

    SDs are model-implied: of an inner variable (latent, or the inner copy of an observed
    one) from ``inner_cov``, of any other observed variable from ``implied_cov``. A
    covariance is divided by the square roots of the two variances of its own matrix (a
    residual correlation, lavaan's ``cov.std``); std.lv rescales latent variables only.
    """
    with np.errstate(invalid="ignore", divide="ignore"):  # a negative variance gives NaN, no warning
        return _standardize_cells(mx, rows, cells)


def _plan_of(mx: Matrices, rows: Sequence[Row], cells: Sequence[tuple[int, int, int]]) -> "_Plan":
    return _cells_plan(tuple(mx.inner), tuple(mx.observed), frozenset(mx.latent_names),
                       tuple(tuple(r) for r in rows), tuple(tuple(c) for c in cells))


def _standardize_cells(mx: Matrices, rows: Sequence[Row], cells: Sequence[tuple[int, int, int]],
                       plan: "_Plan | None" = None) -> tuple[np.ndarray, np.ndarray]:
    if plan is None:
        plan = _plan_of(mx, rows, cells)
    var_in = np.diag(mx.inner_cov)
    var_ob = np.diag(mx.implied_cov)
    mats = (mx.beta, mx.lambda_, mx.psi, mx.theta, mx.nu, mx.alpha)
    # Element by element the operations (and their order) of lavaan's formulas, row by row:
    # every SD is sqrt of a model-implied variance, a squared SD is Python's float ** 2.
    sd = np.sqrt(np.concatenate([var_in, var_ob[list(plan.obs_only)]]))
    sq = np.array([s ** 2 for s in sd.tolist()])
    sd_lv = np.where(plan.is_latent, sd, 1.0)
    sq_lv = np.where(plan.is_latent, sq, 1.0)
    v = np.empty(len(cells))
    for m, q, i, j in plan.by_matrix:  # each row's cell value
        v[q] = mats[m][i] if m >= 4 else mats[m][i, j]
    all_, lv = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
    k, a, b = plan.load  # =~ : v * sd(lhs) / sd(rhs)
    all_[k] = v[k] * sd[a] / sd[b]
    lv[k] = v[k] * sd_lv[a] / sd_lv[b]
    k, a, b = plan.reg  # ~ : v * sd(rhs) / sd(lhs)
    all_[k] = v[k] * sd[b] / sd[a]
    lv[k] = v[k] * sd_lv[b] / sd_lv[a]
    k, a = plan.var  # variances: v / sd(lhs) ** 2
    all_[k] = v[k] / sq[a]
    lv[k] = v[k] / sq_lv[a]
    k, lat_a, lat_b = plan.cov  # covariances: residual correlations (lavaan's cov.std)
    if len(k):
        di, dj = np.empty(len(k)), np.empty(len(k))
        for m, q, i, j in plan.cov_cells:  # the two variances of each covariance's own matrix
            di[q] = mats[m][i, i]
            dj[q] = mats[m][j, j]
        ri, rj = np.sqrt(np.abs(di)), np.sqrt(np.abs(dj))
        all_[k] = v[k] / (ri * rj)
        lv[k] = v[k] / np.where(lat_a, ri, 1.0) / np.where(lat_b, rj, 1.0)
    k, a = plan.mean  # ~1 : v / sd(lhs)
    all_[k] = v[k] / sd[a]
    lv[k] = v[k] / sd_lv[a]
    return all_, lv


class _Plan(NamedTuple):
    obs_only: tuple[int, ...]  # observed variables that are not inner ones (positions in observed)
    is_latent: np.ndarray  # per SD entry (inner, then obs_only)
    load: tuple[np.ndarray, np.ndarray, np.ndarray]  # rows, lhs SD, rhs SD
    reg: tuple[np.ndarray, np.ndarray, np.ndarray]
    var: tuple[np.ndarray, np.ndarray]
    cov: tuple[np.ndarray, np.ndarray, np.ndarray]  # rows, lhs latent?, rhs latent?
    mean: tuple[np.ndarray, np.ndarray]
    by_matrix: tuple[tuple[int, np.ndarray, np.ndarray, np.ndarray], ...]  # matrix, rows, cells
    cov_cells: tuple[tuple[int, np.ndarray, np.ndarray, np.ndarray], ...]  # matrix, cov rows, cells


@lru_cache(maxsize=64)
def _cells_plan(inner: tuple[str, ...], observed: tuple[str, ...], latent: frozenset,
                rows: tuple[Row, ...], cells: tuple[tuple[int, int, int], ...]) -> _Plan:
    """Which rows take which formula and which SDs (the layout only; no numbers)."""
    pos = {v: i for i, v in enumerate(inner)}
    obs_only = tuple(q for q, v in enumerate(observed) if v not in pos)
    for q in obs_only:
        pos[observed[q]] = len(pos)
    names = list(inner) + [observed[q] for q in obs_only]
    is_latent = np.array([v in latent for v in names], dtype=bool)
    load, reg, var, cov, mean = ([], [], []), ([], [], []), ([], []), ([], [], []), ([], [])
    for k, ((lhs, op, rhs), _) in enumerate(zip(rows, cells)):
        if op == "=~":
            for lst, x in zip(load, (k, pos[lhs], pos[rhs])):
                lst.append(x)
        elif op == "~":
            for lst, x in zip(reg, (k, pos[lhs], pos[rhs])):
                lst.append(x)
        elif op == "~~" and lhs == rhs:
            var[0].append(k)
            var[1].append(pos[lhs])
        elif op == "~~":
            for lst, x in zip(cov, (k, lhs in latent, rhs in latent)):
                lst.append(x)
        elif op == "~1":
            mean[0].append(k)
            mean[1].append(pos[lhs])

    def arrays(lists, kinds):
        return tuple(np.array(x, dtype=t) for x, t in zip(lists, kinds))

    def grouped(positions):  # (matrix, positions in ``positions``' order, i, j) per matrix
        per: dict[int, list[tuple[int, int, int]]] = {}
        for q, k in enumerate(positions):
            m, i, j = cells[k]
            per.setdefault(m, []).append((q, i, j))
        return tuple((m, *(np.array(x, dtype=np.intp) for x in zip(*v))) for m, v in sorted(per.items()))

    return _Plan(obs_only, is_latent, arrays(load, (int, int, int)), arrays(reg, (int, int, int)),
                 arrays(var, (int, int)), arrays(cov, (int, bool, bool)), arrays(mean, (int, int)),
                 grouped(range(len(cells))), grouped(cov[0]))


def delta_jacobian(func: Callable[[np.ndarray], np.ndarray], x: np.ndarray, rel_step: float = 1e-5) -> np.ndarray:
    """Jacobian of ``func`` at ``x`` by central differences.

    Step ``h_k = rel_step * max(1, |x_k|)``: the truncation error of a central difference
    is O(h^2) (~1e-10 here) and the rounding error O(eps / h) (~1e-11), both many orders
    below the 1% SE tolerance; tests check that halving the step leaves the SEs unchanged.
    """
    x = np.asarray(x, dtype=float)
    f0 = np.asarray(func(x))
    jac = np.empty((f0.size, x.size))
    for k in range(x.size):
        h = rel_step * max(1.0, abs(x[k]))
        e = np.zeros_like(x)
        e[k] = h
        jac[:, k] = (np.asarray(func(x + e)) - np.asarray(func(x - e))) / (2 * h)
    return jac


def _inference(est: np.ndarray, cov: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
    var = np.clip(np.diag(cov), 0.0, None)
    se = np.sqrt(var)
    # A standardized value that does not move with the parameters (e.g. the variance of an
    # exogenous latent, exactly 1) has SE 0 up to rounding; lavaan reports no z for it.
    with np.errstate(divide="ignore", invalid="ignore"):
        se = np.where(se < 1e-8 * np.maximum(1.0, np.abs(est)), 0.0, se)
        z = np.where(se > 0, est / se, np.nan)
    p = 2 * stats.norm.sf(np.abs(z))
    q = stats.norm.ppf(0.5 + level / 2)
    return se, z, p, est - q * se, est + q * se


def standardized_table(pm: ParamMap, theta: np.ndarray, vcov: np.ndarray, rows: Sequence[Row],
                       n_means: int = 0, level: float = 0.95) -> pd.DataFrame:
    """lavaan's ``standardizedSolution()`` for ``rows``: std.all and std.lv with SE, z, p, CI.

    ``theta`` holds the free parameters in :class:`ParamMap` order followed by
    ``n_means`` observed intercepts; ``vcov`` is its covariance matrix.
    """
    k = pm.n_free

    cells = None
    if pm.rows:  # the parameter-table layout: every row's cell is known
        where = dict(zip(pm.rows, pm.row_locations))
        where.update({(r, o, l): c for (l, o, r), c in zip(pm.rows, pm.row_locations) if o == "~~"})
        cells = [where[tuple(r)] for r in rows]

    plan = None

    def both(t: np.ndarray) -> np.ndarray:
        nonlocal plan
        mx = pm.matrices_at(t[:k])
        if cells is not None:
            if plan is None:  # the layout is the same at every theta
                plan = _plan_of(mx, rows, cells)
            with np.errstate(invalid="ignore", divide="ignore"):
                a, b = _standardize_cells(mx, rows, cells, plan)
        else:
            a, b = standardize(mx, rows, t[k:] if n_means else None)
        return np.concatenate([a, b])

    theta = np.asarray(theta, dtype=float)
    est = both(theta)
    jac = delta_jacobian(both, theta)
    cov = jac @ vcov @ jac.T
    m = len(rows)
    a = _inference(est[:m], cov[:m, :m], level)
    b = _inference(est[m:], cov[m:, m:], level)
    out = pd.DataFrame(list(rows), columns=["lhs", "op", "rhs"])
    for prefix, e, inf in (("std_all", est[:m], a), ("std_lv", est[m:], b)):
        out[prefix] = e
        for name, col in zip(("se", "z", "pvalue", "ci_lower", "ci_upper"), inf):
            out[f"{prefix}_{name}"] = col
    return out[STD_COLUMNS]
