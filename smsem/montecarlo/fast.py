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
from scipy.linalg import lapack

from ..estimate import fitindices as fitidx
from ..estimate import ml
from ..estimate.backend import ParamMap
from ..estimate.matrices import param_map_from_table, start_values
from ..estimate.batched import STATUS_OK, ModelStructure, fit_batch
from ..simulate import population_model
from .config import Cell, StudyConfig
from .rows import VALUE_FIELDS, Estimates
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
    columns : ndarray of int
        Position of each of ``items`` among the population model's items (the columns
        the generator draws).
    rows : tuple of (lhs, op, rhs)
        The free parameters in the reference path's row order (lavaan naming, ``~~``
        pairs sorted).
    index : ndarray of int
        Position in ``theta`` of each row.
    kind, a, b : ndarray of int
        std.all formula of each row and its two matrix indices.
    df : float
        Degrees of freedom of the model chi2.
    fixed_x : ndarray of int
        Positions in ``items`` of lavaan's fixed covariates (saturated in the baseline).
    pairs : tuple of ndarray
        The outer-product terms of ``dSigma/dtheta`` (see :func:`_pairs`).
    """

    pmap: ParamMap
    structure: ModelStructure
    start: np.ndarray
    items: tuple[str, ...]
    columns: np.ndarray
    rows: tuple[tuple[str, str, str], ...]
    index: np.ndarray
    kind: np.ndarray
    a: np.ndarray
    b: np.ndarray
    df: float
    fixed_x: np.ndarray
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray]


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

    The analysis model (its parameter table) is fitted by smsem's ML engine to the population's
    implied covariance of its items: a deterministic fit whose solution is the population
    value of every parameter (or the pseudo-true value under misspecification).
    """
    pop_model, ana_model = models(config)
    pop = population_model(pop_model, cell_population(config, effect_multiplier))
    items = list(ana_model.items)
    cov = pop.implied_cov.loc[items, items]
    pt = ana_model.partable
    pm = param_map_from_table(pt)
    obs = list(pm.base.observed)
    s_pop = cov.loc[obs, obs].to_numpy(dtype=float)
    start, _, _ = ml.minimize_ml(pm, start_values(pt, pm, np.zeros(len(obs)), s_pop), s_pop, None)
    inner = {v: i for i, v in enumerate(pm.base.inner)}
    oix = {v: i for i, v in enumerate(obs)}
    rows, index, kind, a, b = [], [], [], [], []
    # The free rows in the parameter table's order (lavaan's), as smsem.fit reports them.
    table = ana_model.partable.df
    free_rows = table[table.op.isin(["=~", "~", "~~"]) & (table.free > 0)]
    for lhs, op, rhs in zip(free_rows.lhs, free_rows.op, free_rows.rhs):
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
    pop_items = list(pop_model.items)
    columns = np.array([pop_items.index(v) for v in obs], dtype=np.intp)
    return CellPlan(pm, st, start, tuple(obs), columns, tuple(rows), np.array(index, dtype=np.intp),
                    np.array(kind), np.array(a, dtype=np.intp), np.array(b, dtype=np.intp),
                    float(p * (p + 1) / 2 - pm.n_free),
                    fitidx.fixed_x_index(obs, ana_model.parsed.fixed_x), _pairs(st))


_INFO_BLOCK = 16


def _information(st: ModelStructure, parts: dict[str, np.ndarray],
                 pairs: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Expected information per case ``0.5 tr(Sigma^-1 D_k Sigma^-1 D_l)`` (B, q, q).

    Equal to ``0.5 * st.information(parts)`` (and :func:`ml.expected_information`) at a
    fraction of the cost. Every ``D_k = dSigma/dtheta_k`` is a sum of symmetrized outer
    products ``f (x y' + y x')`` of a few vectors (unit vectors ``e_i``, columns of
    ``G = Lambda (I - B)^-1`` and of ``K = Lambda Phi``; see :mod:`smsem.estimate.batched`
    and :func:`_pairs`). With ``W = V' Sigma^-1 V`` over those vectors (symmetric),
    ``0.5 tr(Sigma^-1 D_k Sigma^-1 D_l) = sum f_k f_l (W[x_k, x_l] W[y_k, y_l]
    + W[x_k, y_l] W[y_k, x_l])``: four gathers of a q x q block per pair of terms, no
    p x p product per parameter.
    """
    xs, ys, fs = _pairs(st) if pairs is None else pairs
    nb, p = parts["Sigma"].shape[:2]
    q, width = xs.shape
    vecs = np.concatenate([np.broadcast_to(np.eye(p), (nb, p, p)), parts["G"], parts["K"]], axis=2)
    sinv = np.linalg.inv(parts["Sigma"])
    sinv = 0.5 * (sinv + np.swapaxes(sinv, 1, 2))
    w = np.swapaxes(vecs, 1, 2) @ sinv @ vecs  # (B, P, P), P = p + 2m
    w = 0.5 * (w + np.swapaxes(w, 1, 2))  # exactly symmetric: W[y, x] is W[x, y]'
    size = w.shape[1]
    flat = w.reshape(nb, size * size)

    def idx(i: np.ndarray, j: np.ndarray) -> np.ndarray:  # flat positions of W[i_k, j_l]
        return (i[:, None] * size + j[None, :]).ravel()

    # Per pair of terms (a of parameter k, b of parameter l; usually the one pair a = b = 0):
    # the weights and the positions of W[x, x], W[y, y], W[x, y] and, for a != b, W[y, x].
    combos = [(fs[:, a, None] * fs[None, :, b], idx(xs[:, a], xs[:, b]), idx(ys[:, a], ys[:, b]),
               idx(xs[:, a], ys[:, b]), None if a == b else idx(ys[:, a], xs[:, b]))
              for a in range(width) for b in range(width)]
    info = np.zeros((nb, q, q))
    # A few replications at a time, so the q x q temporaries stay in cache (several times
    # faster than whole-chunk arrays); every operation is elementwise per replication.
    for b0 in range(0, nb, _INFO_BLOCK):
        blk = flat[b0:b0 + _INFO_BLOCK]
        out = info[b0:b0 + _INFO_BLOCK]
        for f, ixx, iyy, ixy, iyx in combos:
            t = np.take(blk, ixx, axis=1).reshape(-1, q, q)
            t *= np.take(blk, iyy, axis=1).reshape(-1, q, q)
            c = np.take(blk, ixy, axis=1).reshape(-1, q, q)
            # W[y_k, x_l] = W[x_l, y_k]: the transpose of W[x, y] when a = b.
            c = c * (np.swapaxes(c, 1, 2) if iyx is None else np.take(blk, iyx, axis=1).reshape(-1, q, q))
            t += c
            t *= f
            out += t
    return info


def _pairs(st: ModelStructure) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``D_k = sum_t f_kt (x_kt y_kt' + y_kt x_kt')``: vector indices ``x, y`` (q, T) into
    ``[e_1..e_p, G_1..G_m, K_1..K_m]`` and weights ``f`` (q, T).

    ``T`` is the most terms of any parameter (1 unless labels equate parameters); shorter
    lists are padded with weight 0. A variance cell ``x x'`` is ``f = 1/2``; a covariance
    lists both triangles, which make one pair with ``f = 1``.
    """
    p, m, q = st.n_obs, st.n_lat, st.n_free
    g, k_ = (lambda i: p + i), (lambda j: p + m + j)
    terms: list[list[tuple[int, int, float]]] = [[] for _ in range(q)]
    for kk, ii, jj in zip(*st.cells[0]):  # beta: G_i K_j' + K_j G_i'
        terms[kk].append((g(ii), k_(jj), 1.0))
    for kk, ii, jj in zip(*st.cells[1]):  # lambda: e_i K_j' + K_j e_i'
        terms[kk].append((ii, k_(jj), 1.0))
    for mat, vec in ((2, g), (3, lambda i: i)):  # psi: G_i G_j'; theta: e_i e_j'
        cells = set(zip(*(c.tolist() for c in st.cells[mat])))
        for kk, ii, jj in cells:
            if ii == jj:
                terms[kk].append((vec(ii), vec(ii), 0.5))
            elif ii < jj:
                if (kk, jj, ii) not in cells:  # pragma: no cover - ParamMap lists both triangles
                    raise ValueError("a covariance cell without its transpose")
                terms[kk].append((vec(ii), vec(jj), 1.0))
    if any(not t for t in terms):  # pragma: no cover - every parameter has a cell
        raise ValueError("a free parameter without a matrix cell")
    width = max(len(t) for t in terms)
    xs = np.zeros((q, width), dtype=np.intp)
    ys = np.zeros((q, width), dtype=np.intp)
    fs = np.zeros((q, width))
    for kk, t in enumerate(terms):
        for j, (x, y, f) in enumerate(sorted(t)):
            xs[kk, j], ys[kk, j], fs[kk, j] = x, y, f
    return xs, ys, fs


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


def _inverse_diagonal(info: np.ndarray) -> np.ndarray:
    """``diag(I^-1)`` of each information matrix (B, q), by Cholesky (LAPACK potrf and
    potri); NaN for a matrix that is not positive definite.

    A third of the work of a general inverse; one matrix at a time, so a matrix's
    result never depends on the others in the stack.
    """
    out = np.full(info.shape[:2], np.nan)
    for b in range(info.shape[0]):
        chol, err = lapack.dpotrf(info[b], lower=True, clean=False)
        if err:
            continue
        inv, err = lapack.dpotri(chol, lower=True)
        if not err:
            out[b] = np.diagonal(inv)
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
    info = _information(st, parts, plan.pairs)
    inv_diag = _inverse_diagonal(info)
    std = _std_all(plan, parts)
    s_ok = s[ok]
    # Baseline model in closed form (independence; fixed covariates saturated).
    fmin_b = fitidx.baseline_fmin(s_ok, plan.fixed_x)
    p = s.shape[1]
    df, df_b = plan.df, fitidx.baseline_df(p, len(plan.fixed_x))
    n_ok = n[ok].astype(float)
    chi2_all = n_ok * res.fmin[ok]
    # Elementwise (one value per replication, whatever the chunk); NaN when df = 0.
    pval_all = stats.chi2.sf(chi2_all, df) if df > 0 else np.full(ok.size, np.nan)
    # Every value of every row at once (elementwise: a row's values do not depend on the
    # chunk); each row's Estimates is a view of its block.
    n_f = n_ok[:, None]
    se_all = np.sqrt(inv_diag / n_f)
    finite = np.isfinite(se_all).all(axis=1)
    values = np.full((ok.size, len(plan.rows), len(VALUE_FIELDS)), np.nan)
    values[:, :, 0] = theta[:, plan.index]
    values[:, :, 1] = se_all[:, plan.index]
    values[:, :, 2] = std
    for t, b in enumerate(ok):
        if not finite[t]:
            continue
        nb = int(n[b])
        chi2 = float(chi2_all[t])
        chi2_b = float(nb * fmin_b[t])
        out[b] = {
            "status": "ok", "reason": "", "improper": 0, "improper_reason": "", "n_used": nb,
            "chi2": chi2, "df": float(df),
            "pvalue": float(pval_all[t]),
            "cfi": float(fitidx.cfi(chi2, df, chi2_b, df_b)),
            "tli": float(fitidx.tli(chi2, df, chi2_b, df_b)),
            "rmsea": float(fitidx.rmsea(chi2, df, nb)),
            "estimates": Estimates(plan.rows, values[t]),
        }
    return out
