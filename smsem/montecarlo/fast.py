"""The fast estimation path of a Monte Carlo cell: batched ML on covariance matrices.

For ML cells with Wald inference a replication needs no more than its sample covariance
matrix. The model structure (:class:`~smsem.estimate.backend.ParamMap`) and the start
values are built ONCE per cell, by fitting the analysis model to the population's implied
covariance; every replication is then fitted by :func:`smsem.estimate.batched.fit_batch`
(quasi-Newton with analytic gradients, warm-started at that population solution), and its
SEs (expected information, as lavaan's ML), std.all values, chi2 and fit indices come
from closed forms. A chunk of replications is fitted together; each replication is
iterated until its own convergence and frozen, and every product is a per-replication
(stacked) one, so a row is bit-identical whatever the chunk it ran in.

A replication the fast path cannot settle (a draw that does not converge, an improper or
non-positive-definite solution, too few complete rows) is rerun by the reference path
(:func:`smsem.fit`), so its status, reason and improper flag are the reference's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from scipy import stats

from ..estimate import fitindices as fitidx
from ..estimate import ml
from ..estimate.backend import ParamMap, fit_semopy
from ..estimate.batched import STATUS_OK, ModelStructure, fit_batch
from ..estimate.results import _rows
from ..simulate import population_model
from .config import Cell, StudyConfig
from .scenarios import cell_population, models

__all__ = ["CellPlan", "cell_plan", "fast_applicable", "fit_chunk"]

# Row kinds of the std.all formulas (as smsem.estimate.standardized.standardize).
_LOADING, _PATH, _LATVAR, _LATCOV, _RESVAR, _RESCOV = range(6)


@dataclass(frozen=True)
class CellPlan:
    """What the fast path needs to fit every replication of a cell.

    Attributes
    ----------
    pmap : ParamMap
        The analysis model's free parameters (built once, from the population fit).
    structure : ModelStructure
    start : ndarray (q,)
        The ML solution for the population covariance (the population values in the
        marker metric when the analysis model is the population model).
    items : tuple of str
        Item columns in the order of ``pmap.base.observed``.
    rows : tuple of (lhs, op, rhs)
        The free parameters in the reference path's row order (lavaan naming, ``~~``
        pairs sorted).
    index : ndarray of int
        Position in ``theta`` of each row.
    kind, a, b : ndarray of int
        std.all formula of each row and its two matrix indices.
    df : float
        Degrees of freedom of the model chi2.
    """

    pmap: ParamMap
    structure: ModelStructure
    start: np.ndarray
    items: tuple[str, ...]
    rows: tuple[tuple[str, str, str], ...]
    index: np.ndarray
    kind: np.ndarray
    a: np.ndarray
    b: np.ndarray
    df: float


def fast_applicable(config: StudyConfig, cell: Cell) -> bool:
    """True when the cell's replications may take the fast path (ML, Wald, engine fast)."""
    return config.engine == "fast" and config.inference == "wald" and cell.estimator == "ML"


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    if op == "~~":
        lhs, rhs = sorted((lhs, rhs))
    return lhs, op, rhs


@lru_cache(maxsize=64)
def cell_plan(config: StudyConfig, effect_multiplier: float) -> CellPlan:
    """The :class:`CellPlan` of the cells with ``effect_multiplier`` (cached per process).

    The analysis model is fitted (semopy, then Fisher scoring) to the population's
    implied covariance of its items: a deterministic fit whose solution is the population
    value of every parameter (or the pseudo-true value under misspecification).
    """
    pop_model, ana_model = models(config)
    pop = population_model(pop_model, cell_population(config, effect_multiplier))
    items = list(ana_model.items)
    cov = pop.implied_cov.loc[items, items]
    sfit = fit_semopy(ana_model.parsed, None, cov=cov, n_samples=1000)
    pm = sfit.param_map()
    obs = list(pm.base.observed)
    start, _ = ml.fisher_scoring(pm, sfit.start, cov.loc[obs, obs].to_numpy(dtype=float))
    inner = {v: i for i, v in enumerate(pm.base.inner)}
    oix = {v: i for i, v in enumerate(obs)}
    rows, index, kind, a, b = [], [], [], [], []
    for lhs, op, rhs in _rows(sfit):
        try:
            j = pm.index(lhs, op, rhs)
        except KeyError:  # a fixed parameter (marker loading)
            continue
        if op == "=~":
            kd, ia, ib = _LOADING, oix[rhs], inner[lhs]
        elif op == "~":
            kd, ia, ib = _PATH, inner[lhs], inner[rhs]
        elif lhs in inner and rhs in inner:
            kd, ia, ib = (_LATVAR if lhs == rhs else _LATCOV), inner[lhs], inner[rhs]
        else:
            kd, ia, ib = (_RESVAR if lhs == rhs else _RESCOV), oix[lhs], oix[rhs]
        rows.append(_key(lhs, op, rhs))
        index.append(j)
        kind.append(kd)
        a.append(ia)
        b.append(ib)
    p = len(obs)
    return CellPlan(pm, ModelStructure(pm), start, tuple(obs), tuple(rows), np.array(index, dtype=np.intp),
                    np.array(kind), np.array(a, dtype=np.intp), np.array(b, dtype=np.intp),
                    float(p * (p + 1) / 2 - pm.n_free))


def _information(st: ModelStructure, parts: dict[str, np.ndarray]) -> np.ndarray:
    """Expected information per case ``0.5 tr(Sigma^-1 D_k Sigma^-1 D_l)`` (B, q, q).

    Equal to ``0.5 * st.information(parts)`` but cheaper when Theta is diagonal: a
    residual variance has ``D = E_ii``, so with ``M_k = Sigma^-1 D_k Sigma^-1`` its
    entries are ``M_k[i, i]`` and, between two of them, ``(Sigma^-1)_ij^2``; only the
    other parameters need their ``M_k`` (2 of 5 of the integrative model's skip it).
    """
    if not st.diagonal_theta:
        return 0.5 * st.information(parts)
    q = st.n_free
    tk, ti, _ = st.cells[3]
    rest = np.setdiff1d(np.arange(q), tk)
    sinv = np.linalg.inv(parts["Sigma"])
    sinv = 0.5 * (sinv + np.swapaxes(sinv, 1, 2))
    d = st.jacobian(parts)[:, rest]  # (B, r, p, p)
    nb, r, p, _ = d.shape
    # Sigma^-1 [D_1 ... D_r] Sigma^-1 as two products per replication (not 2r small ones).
    a = (sinv @ d.transpose(0, 2, 1, 3).reshape(nb, p, r * p)).reshape(nb, p, r, p).transpose(0, 2, 1, 3)
    m = (np.ascontiguousarray(a).reshape(nb, r * p, p) @ sinv).reshape(nb, r, p, p)
    h = np.empty((nb, q, q))
    h[np.ix_(np.arange(nb), rest, rest)] = m.reshape(nb, r, p * p) @ np.swapaxes(d.reshape(nb, r, p * p), 1, 2)
    cross = m[:, :, ti, ti]  # (B, r, t): tr(M_k E_ii) = M_k[i, i]
    h[np.ix_(np.arange(nb), rest, tk)] = cross
    h[np.ix_(np.arange(nb), tk, rest)] = np.swapaxes(cross, 1, 2)
    h[np.ix_(np.arange(nb), tk, tk)] = sinv[:, ti][:, :, ti] ** 2
    return 0.5 * h


def _std_all(plan: CellPlan, parts: dict[str, np.ndarray]) -> np.ndarray:
    """std.all of every row (B, rows), the formulas of ``standardize`` vectorized."""
    lam, psi, th, phi, sig = parts["lambda"], parts["psi"], parts["theta"], parts["Phi"], parts["Sigma"]
    beta = plan.structure.matrices(parts["_theta"])[0]
    sd_in = np.sqrt(np.diagonal(phi, axis1=1, axis2=2))
    sd_ob = np.sqrt(np.diagonal(sig, axis1=1, axis2=2))
    out = np.full((lam.shape[0], len(plan.rows)), np.nan)
    k, a, b = plan.kind, plan.a, plan.b
    for kd in range(6):
        sel = np.flatnonzero(k == kd)
        if not sel.size:
            continue
        i, j = a[sel], b[sel]
        if kd == _LOADING:
            out[:, sel] = lam[:, i, j] * sd_in[:, j] / sd_ob[:, i]
        elif kd == _PATH:
            out[:, sel] = beta[:, i, j] * sd_in[:, j] / sd_in[:, i]
        elif kd == _LATVAR:
            out[:, sel] = psi[:, i, j] / phi[:, i, i]
        elif kd == _LATCOV:
            out[:, sel] = psi[:, i, j] / np.sqrt(np.abs(psi[:, i, i]) * np.abs(psi[:, j, j]))
        elif kd == _RESVAR:
            out[:, sel] = th[:, i, j] / sd_ob[:, i] ** 2
        else:
            out[:, sel] = th[:, i, j] / np.sqrt(np.abs(th[:, i, i]) * np.abs(th[:, j, j]))
    return out


def fit_chunk(plan: CellPlan, s: np.ndarray, n: np.ndarray) -> list[dict[str, Any] | None]:
    """Fit a chunk of replications from their sample covariance matrices.

    Parameters
    ----------
    plan : CellPlan
    s : ndarray (B, p, p)
        N-divided sample covariance matrices (items in ``plan.items`` order).
    n : ndarray of int (B,)
        Cases behind each matrix.

    Returns
    -------
    list
        Per replication, the row fields ``status, reason, improper, improper_reason,
        n_used, chi2, df, pvalue, cfi, tli, rmsea, estimates`` of an admissible converged
        solution, or None where the reference path must decide.
    """
    res = fit_batch(plan.pmap, s, plan.start, structure=plan.structure)
    ok = np.flatnonzero(res.status == STATUS_OK)
    out: list[dict[str, Any] | None] = [None] * s.shape[0]
    if not ok.size:
        return out
    st = plan.structure
    theta = res.theta[ok]
    parts = st.implied(theta)
    parts["_theta"] = theta
    # Expected information per case (ml.expected_information), SEs = sqrt(diag(I^-1) / N).
    info = _information(st, parts)
    try:
        inv = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        # One singular matrix fails the whole stack: invert one by one, so the others
        # get exactly the values they would get in any other chunk.
        inv = np.full_like(info, np.nan)
        for t in range(info.shape[0]):
            try:
                inv[t] = np.linalg.inv(info[t])
            except np.linalg.LinAlgError:
                pass
    std = _std_all(plan, parts)
    s_ok = s[ok]
    # Independence model in closed form: F_ML(S, diag S) = sum log s_ii - log|S|.
    logdiag = np.log(np.diagonal(s_ok, axis1=1, axis2=2)).sum(axis=1)
    _, logdet_s = np.linalg.slogdet(s_ok)
    p = s.shape[1]
    df, df_b = plan.df, p * (p - 1) / 2
    n_ok = n[ok].astype(float)
    chi2_all = n_ok * res.fmin[ok]
    # Elementwise (one value per replication, whatever the chunk); NaN when df = 0.
    pval_all = stats.chi2.sf(chi2_all, df) if df > 0 else np.full(ok.size, np.nan)
    for t, b in enumerate(ok):
        nb = int(n[b])
        se = np.sqrt(np.clip(np.diagonal(inv[t]) / nb, 0.0, None))
        if not np.all(np.isfinite(se)):
            continue
        chi2 = float(chi2_all[t])
        chi2_b = float(nb * (logdiag[t] - logdet_s[t]))
        est = theta[t, plan.index]
        se_r = se[plan.index]
        nan = float("nan")
        out[b] = {
            "status": "ok", "reason": "", "improper": 0, "improper_reason": "", "n_used": nb,
            "chi2": chi2, "df": float(df),
            "pvalue": float(pval_all[t]),
            "cfi": float(fitidx.cfi(chi2, df, chi2_b, df_b)),
            "tli": float(fitidx.tli(chi2, df, chi2_b, df_b)),
            "rmsea": float(fitidx.rmsea(chi2, df, nb)),
            "estimates": [[lhs, op, rhs, e, v, sa, nan, nan]  # tolist(): Python floats
                          for (lhs, op, rhs), e, v, sa in zip(plan.rows, est.tolist(), se_r.tolist(),
                                                              std[t].tolist())],
        }
    return out
