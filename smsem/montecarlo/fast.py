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
    terms : tuple of ndarray
        The outer-product terms of ``dSigma/dtheta`` (see :func:`_information`).
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
    terms: tuple[np.ndarray, np.ndarray, np.ndarray]


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
    st = ModelStructure(pm)
    return CellPlan(pm, st, start, tuple(obs), tuple(rows), np.array(index, dtype=np.intp),
                    np.array(kind), np.array(a, dtype=np.intp), np.array(b, dtype=np.intp),
                    float(p * (p + 1) / 2 - pm.n_free), _terms(st))


def _information(st: ModelStructure, parts: dict[str, np.ndarray],
                 terms: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Expected information per case ``0.5 tr(Sigma^-1 D_k Sigma^-1 D_l)`` (B, q, q).

    Equal to ``0.5 * st.information(parts)`` (and :func:`ml.expected_information`) at a
    fraction of the cost: every ``D_k = dSigma/dtheta_k`` is a sum of outer products
    ``u v'`` of a few vectors (unit vectors ``e_i``, columns of ``G = Lambda (I - B)^-1``
    and of ``K = Lambda Phi``; see :mod:`smsem.estimate.batched`), so with
    ``W = V' Sigma^-1 V`` over those vectors
    ``tr(Sigma^-1 u_t v_t' Sigma^-1 u_s v_s') = W[v_t, u_s] W[v_s, u_t]``, summed over the
    terms of ``k`` and ``l``: no p x p product per parameter.
    """
    terms = _terms(st) if terms is None else terms
    nb, p = parts["Sigma"].shape[:2]
    vecs = np.concatenate([np.broadcast_to(np.eye(p), (nb, p, p)), parts["G"], parts["K"]], axis=2)
    sinv = np.linalg.inv(parts["Sigma"])
    sinv = 0.5 * (sinv + np.swapaxes(sinv, 1, 2))
    w = np.swapaxes(vecs, 1, 2) @ sinv @ vecs  # (B, p + 2m, p + 2m)
    u, v, starts = terms
    a = w[:, v][:, :, u]  # a[t, s] = v_t' Sigma^-1 u_s
    c = a * np.swapaxes(a, 1, 2)
    # Sum the terms of each parameter (terms are sorted by parameter).
    return 0.5 * np.add.reduceat(np.add.reduceat(c, starts, axis=1), starts, axis=2)


def _terms(st: ModelStructure) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Outer-product terms ``u v'`` of every ``D_k``: vector indices into
    ``[e_1..e_p, G_1..G_m, K_1..K_m]``, sorted by parameter, and where each parameter's
    terms start."""
    p, m, q = st.n_obs, st.n_lat, st.n_free
    e, g, k_ = (lambda i: i), (lambda i: p + i), (lambda j: p + m + j)
    u, v, par = [], [], []

    def add(k: int, a: int, b: int) -> None:
        u.append(a)
        v.append(b)
        par.append(k)

    for kk, ii, jj in zip(*st.cells[0]):  # beta: G_i K_j' + K_j G_i'
        add(kk, g(ii), k_(jj))
        add(kk, k_(jj), g(ii))
    for kk, ii, jj in zip(*st.cells[1]):  # lambda: e_i K_j' + K_j e_i'
        add(kk, e(ii), k_(jj))
        add(kk, k_(jj), e(ii))
    for kk, ii, jj in zip(*st.cells[2]):  # psi (each triangle listed): G_i G_j'
        add(kk, g(ii), g(jj))
    for kk, ii, jj in zip(*st.cells[3]):  # theta (each triangle listed): e_i e_j'
        add(kk, e(ii), e(jj))
    order = np.argsort(par, kind="stable")
    par_s = np.asarray(par)[order]
    if not np.array_equal(np.unique(par_s), np.arange(q)):  # pragma: no cover - every parameter has a cell
        raise ValueError("a free parameter without a matrix cell")
    starts = np.flatnonzero(np.r_[True, par_s[1:] != par_s[:-1]])
    return np.asarray(u, dtype=np.intp)[order], np.asarray(v, dtype=np.intp)[order], starts


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
    info = _information(st, parts, plan.terms)
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
