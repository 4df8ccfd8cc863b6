"""Thresholds, polychorics and the full NACOV of many independent data sets at once.

The bootstrap (:mod:`.batched`) resamples one data set, so its draws share the codes and
differ in case weights. Monte Carlo replications are independent data sets: here a chunk of
``B`` of them, all ordinal items with the same numbers of categories, is one array of codes
``(B, n, p)`` (0 marks a padding case, so data sets of different sizes stack). Per data set:

* the univariate counts and the bivariate table of every item pair (one ``bincount`` over
  data sets x pairs),
* the thresholds ``qnorm(cumsum(p))`` and the two-step polychorics, solved for every data set
  and pair at once by :func:`.polychoric._solve_pairs` (the code behind
  :func:`.polychoric.polychoric_matrix`, with its zero-cell rules and its start),
* the casewise scores of thresholds and correlations gathered from per-cell score tables
  (:func:`.batched._uni_scores`, :func:`.batched._biv_scores`), and lavaan's "Muthén 1984"
  sandwich ``NACOV = N B^-1 (SC' SC) B^-T`` exactly as :func:`.nacov.nacov_from` forms it.

So data set ``b`` gives ``sample_stats(data_b, ordered=True)``'s ``wls_obs`` and ``nacov``
(tests: 1e-9). A data set in which an item does not use all its categories, a pair whose
polychoric did not converge or is fixed at +-1 (two empty cells of a 2x2 table) is flagged
in ``ok`` (its values are not to be used: the caller fits it one at a time).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .batched import _biv_scores, _uni_scores
from .polychoric import _solve_pairs, pair_index, padded_thresholds

__all__ = ["ReplicateStats", "replicate_tables", "replicate_stats"]


@dataclass(frozen=True)
class ReplicateStats:
    """``wls_obs`` (B, m) in lavaan's WLS.obs order (thresholds item by item, then the
    correlations ``vech(R, diagonal = FALSE)``), ``nacov`` (B, m, m), ``nobs`` (B,),
    ``R`` (B, p, p), ``ok`` (B,) data sets whose statistics are usable."""

    wls_obs: np.ndarray
    nacov: np.ndarray
    nobs: np.ndarray
    R: np.ndarray
    ok: np.ndarray


def replicate_tables(codes: np.ndarray, kmax: int) -> tuple[np.ndarray, np.ndarray]:
    """Item counts (B, p, kmax) and pair tables (B, P, kmax, kmax) of stacked data sets.

    ``codes`` (B, n, p) ints 0..kmax (0 = no answer / padding). Table ``q`` has the earlier
    item ``cols[q]`` in its rows and the later ``rows[q]`` in its columns (as
    :func:`.polychoric.pair_tables`).
    """
    B, n, p = codes.shape
    K1 = kmax + 1
    rows, cols = pair_index(p)
    P = len(rows)
    b1 = np.arange(B)[:, None, None] * p + np.arange(p)[None, None, :]
    m1 = np.bincount((b1 * K1 + codes).ravel(), minlength=B * p * K1).reshape(B, p, K1)[:, :, 1:]
    b2 = np.arange(B)[:, None, None] * P + np.arange(P)[None, None, :]
    idx = (b2 * K1 + codes[:, :, cols]) * K1 + codes[:, :, rows]
    m2 = np.bincount(idx.ravel(), minlength=B * P * K1 * K1).reshape(B, P, K1, K1)[:, :, 1:, 1:]
    return m1.astype(float), m2.astype(float)


def replicate_stats(codes, nlev, *, zero_add=(0.5, 0.0), zero_keep_margins=True, chunk: int = 16) -> ReplicateStats:
    """WLS.obs, NACOV and polychorics of every data set of ``codes`` (B, n, p).

    Parameters
    ----------
    codes : int array (B, n, p)
        Codes 1..nlev[j] of every item, 0 for a padding case (a case with no answer at all;
        it does not count in N). Every case is either complete or all 0 (listwise data).
    nlev : sequence of int (p,)
        The number of categories of every item (a data set that leaves one empty is not ok).
    chunk : int
        Data sets processed together (bounds the memory: about ``chunk * n * m`` doubles
        for the scores and ``chunk * m * m`` for the NACOV).
    """
    codes = np.asarray(codes, dtype=np.int64)
    nlev = np.asarray(nlev, dtype=np.int64)
    B, n, p = codes.shape
    kmax = int(nlev.max())
    K1 = kmax - 1
    rows, cols = pair_index(p)
    P = len(rows)
    nth_j = nlev - 1
    nth = int(nth_j.sum())
    m = nth + P
    th_cols = np.concatenate([np.arange(k) + j * K1 for j, k in enumerate(nth_j)])
    names = [f"V{j + 1}" for j in range(p)]
    wls = np.full((B, m), np.nan)
    G = np.full((B, m, m), np.nan)
    R = np.full((B, p, p), np.nan)
    nobs = np.zeros(B)
    ok = np.zeros(B, bool)
    for s0 in range(0, B, chunk):
        sl = slice(s0, min(B, s0 + chunk))
        c = codes[sl]
        b = c.shape[0]
        m1, m2 = replicate_tables(c, kmax)
        real = np.arange(kmax)[None, None, :] < nlev[None, :, None]
        good = ~np.any(real & (m1 == 0), axis=(1, 2))
        N = (c > 0).any(axis=2).sum(axis=1).astype(float)
        th = padded_thresholds(m1, nlev)  # (b, p, K1), +inf padding
        with np.errstate(all="ignore"):  # a data set with an empty category gives inf: not ok anyway
            rho, conv, _, _ = _solve_pairs(m2, th, nlev, rows, cols, names, zero_add, zero_keep_margins,
                                           warn=False)
        good &= conv.all(axis=1) & (np.abs(rho) < 1.0).all(axis=1) & np.isfinite(rho).all(axis=1)
        Rb = np.broadcast_to(np.eye(p), (b, p, p)).copy()
        Rb[:, rows, cols] = rho
        Rb[:, cols, rows] = rho
        R[sl] = Rb
        nobs[sl] = N
        wls[sl, :nth] = th.reshape(b, -1)[:, th_cols]
        wls[sl, nth:] = rho
        ix = np.flatnonzero(good)
        if ix.size:
            G[s0 + ix] = _nacov(c[ix], th[ix], rho[ix], m2[ix], N[ix], nlev, rows, cols, th_cols)
        ok[sl] = good & np.isfinite(G[sl]).all(axis=(1, 2))
    return ReplicateStats(wls_obs=wls, nacov=G, nobs=nobs, R=R, ok=ok)


def _nacov(codes, th, rho, m2, N, nlev, rows, cols, th_cols):
    """NACOV (b, m, m) of data sets with usable statistics (see :func:`.nacov.nacov_from`)."""
    b, n, p = codes.shape
    K1 = th.shape[-1]
    kmax = K1 + 1
    P = len(rows)
    nth_j = nlev - 1
    nth = int(nth_j.sum())
    m = nth + P
    bi = np.arange(b)[:, None, None]
    # ---- threshold scores by category, a zero row for code 0
    U = np.zeros((b, p, kmax + 1, K1))
    U[:, :, 1:] = _uni_scores(th)
    SC = np.empty((b, n, m))
    SC[:, :, :nth] = U[bi, np.arange(p)[None, None, :], codes].reshape(b, n, p * K1)[:, :, th_cols]
    # ---- correlation scores by cell (bad cells 0), a zero row/column for code 0
    s_rho, d1, d2 = _biv_scores(th[:, cols, :], th[:, rows, :], rho)
    S = np.zeros((b, P, kmax + 1, kmax + 1))
    S[:, :, 1:, 1:] = s_rho
    SC[:, :, nth:] = S[bi, np.arange(P)[None, None, :], codes[:, :, cols], codes[:, :, rows]]
    # ---- F = SC B^-T with B^-1 = [[A11^-1, 0], [-A22^-1 A21 A11^-1, A22^-1]] (A11 block-diagonal
    # per item, A22 diagonal), so that INNER = SC' SC gives B^-1 INNER B^-T = F' F
    F = np.empty_like(SC)
    A11inv = np.zeros((b, p, K1, K1))
    starts = np.concatenate([[0], np.cumsum(nth_j)[:-1]])
    for j in range(p):
        k = int(nth_j[j])
        blk = slice(starts[j], starts[j] + k)
        x = SC[:, :, blk]
        inv = np.linalg.inv(np.matmul(np.swapaxes(x, 1, 2), x))
        A11inv[:, j, :k, :k] = inv
        F[:, :, blk] = np.matmul(x, inv)
    scc = SC[:, :, nth:]
    a22 = np.einsum("bnq,bnq->bq", scc, scc)  # (b, P)
    fr = m2 * s_rho  # raw counts x score (bad cells: score 0)
    A, C = fr.shape[-2:]
    frv = fr.reshape(b, P, 1, A * C)
    a21_j = np.matmul(frv, d1.reshape(b, P, A * C, -1))  # (b, P, 1, K1)
    a21_i = np.matmul(frv, d2.reshape(b, P, A * C, -1))
    # rows of -A22^-1 A21 A11^-1 on the pair's two items (zero elsewhere)
    c_j = -np.matmul(a21_j, A11inv[:, cols])[..., 0, :] / a22[..., None]  # (b, P, K1)
    c_i = -np.matmul(a21_i, A11inv[:, rows])[..., 0, :] / a22[..., None]
    Cm = np.zeros((b, P, p * K1))
    q = np.arange(P)
    for t in range(K1):
        Cm[:, q, cols * K1 + t] = c_j[:, :, t]
        Cm[:, q, rows * K1 + t] = c_i[:, :, t]
    F[:, :, nth:] = scc / a22[:, None, :] + np.matmul(SC[:, :, :nth], np.swapaxes(Cm[:, :, th_cols], 1, 2))
    G = np.matmul(np.swapaxes(F, 1, 2), F) * N[:, None, None]
    return 0.5 * (G + np.swapaxes(G, 1, 2))
