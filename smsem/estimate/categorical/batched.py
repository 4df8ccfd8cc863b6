"""Thresholds and polychoric correlations of many bootstrap draws at once.

A draw is a vector of counts (how often each case was drawn: resampling by counts). Its
univariate and bivariate tables are weighted counts of the original codes, so for B draws they
are one sparse product ``counts (B, n) @ M (n, cells)`` where ``M`` marks each case's cell of
every item and every item pair. The thresholds follow in closed form and the polychorics are
solved by :func:`.polychoric.solve_polychoric` with the draws as one more leading axis: the
same code, so a batched draw equals ``polychoric_matrix(codes, weights=counts[b])``.

A draw in which an item loses one of its categories cannot be used (lavaan 0.6.14's bootstrap
fails on it in ``lav_samplestats_from_data``, "some categories ... are empty", and drops the
draw); it is flagged in ``ok`` and its values are NaN.

:func:`dwls_diagonal` gives every draw's DWLS weights (the diagonal of its own NACOV, as
lavaan's bootstrap recomputes ``WLS.V`` per draw) from the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...exceptions import DataError
from .polychoric import _check_codes, _solve_pairs, pair_index, padded_thresholds

__all__ = ["BatchedPolychoric", "BatchResult", "draw_counts", "dwls_diagonal"]


def draw_counts(n: int, B: int, rng) -> np.ndarray:
    """(B, n) counts of a nonparametric bootstrap: each row a multinomial(n, 1/n) draw."""
    rng = np.random.default_rng(rng)
    return rng.multinomial(n, np.full(n, 1.0 / n), size=B).astype(np.float64)


@dataclass(frozen=True)
class BatchResult:
    """``R`` (B, p, p) correlations, ``th`` (B, p, kmax-1) thresholds (+inf padding),
    ``converged`` (B, P) per pair, ``ok`` (B,) draws usable (no item lost a category)."""

    R: np.ndarray
    th: np.ndarray
    converged: np.ndarray
    ok: np.ndarray


class BatchedPolychoric:
    """Precomputed cell indicators of ``codes`` (n, p), ints 1..K with 0 = missing.

    >>> bp = BatchedPolychoric(codes)              # doctest: +SKIP
    >>> res = bp(draw_counts(len(codes), 1000, 1))   # doctest: +SKIP
    """

    def __init__(self, codes, names=None, *, zero_add=(0.5, 0.0), zero_keep_margins=True, chunk=None):
        codes = _check_codes(codes)
        self.codes = codes
        self.n, self.p = codes.shape
        self.names = list(names) if names is not None else [f"V{j + 1}" for j in range(self.p)]
        self.kmax = kmax = int(codes.max())
        self.nlev = np.array([int(codes[:, j].max()) for j in range(self.p)])
        for j in range(self.p):
            used = np.unique(codes[:, j][codes[:, j] > 0])
            if used.size < 2:
                raise DataError(f"ordered item {self.names[j]!r} has fewer than two observed categories")
            if used.size != self.nlev[j]:
                raise DataError(f"ordered item {self.names[j]!r} has an empty category (codes {used.tolist()})")
        self.rows, self.cols = pair_index(self.p)
        self.nonempty = (codes > 0).any(axis=1)  # a case without any answer does not count in N
        # draws per chunk: about 8000 tables at a time (measured best on the 22-item survey)
        self.chunk = int(chunk) if chunk else max(1, 8000 // max(1, len(self.rows)))
        self.zero_add = zero_add
        self.zero_keep_margins = zero_keep_margins
        # the full-sample polychorics start every draw's Newton iterations (draws are near them)
        from .polychoric import polychoric_matrix

        self.R0 = polychoric_matrix(codes, names=self.names, zero_add=zero_add, zero_keep_margins=zero_keep_margins)
        self.rho0 = self.R0[self.rows, self.cols]
        K1 = kmax + 1
        n, p, P = self.n, self.p, len(self.rows)
        case = np.arange(n)
        # marginal cells: item j, code c -> column j*K1 + c
        mi = (np.arange(p)[None, :] * K1 + codes).ravel()
        self._M1 = sp.csr_matrix((np.ones(n * p), (np.repeat(case, p), mi)), shape=(n, p * K1))
        # pair cells: pair q, (code of earlier item, code of later item)
        pc = (np.arange(P)[None, :] * K1 * K1 + codes[:, self.cols] * K1 + codes[:, self.rows]).ravel()
        self._M2 = sp.csr_matrix((np.ones(n * P), (np.repeat(case, P), pc)), shape=(n, P * K1 * K1))
        self._M1T = self._M1.T.tocsr()
        self._M2T = self._M2.T.tocsr()

    def tables(self, counts):
        """Item counts (B, p, kmax) and pair tables (B, P, kmax, kmax) of the draws."""
        C = np.atleast_2d(np.asarray(counts, float))
        if C.shape[1] != self.n:
            raise DataError(f"counts must have {self.n} columns (one per case), got {C.shape[1]}")
        B, K1, P = C.shape[0], self.kmax + 1, len(self.rows)
        m1 = (self._M1T @ C.T).T.reshape(B, self.p, K1)[:, :, 1:]
        m2 = (self._M2T @ C.T).T.reshape(B, P, K1, K1)[:, :, 1:, 1:]
        return m1, m2

    def __call__(self, counts) -> BatchResult:
        m1, m2 = self.tables(counts)
        B = m1.shape[0]
        kidx = np.arange(self.kmax)[None, None, :]
        real = kidx < self.nlev[None, :, None]
        ok = ~np.any(real & (m1 == 0), axis=(1, 2))
        P = len(self.rows)
        R = np.full((B, self.p, self.p), np.nan)
        th = np.full((B, self.p, self.kmax - 1), np.nan)
        conv = np.zeros((B, P), bool)
        okb = np.flatnonzero(ok)
        for s in range(0, okb.size, self.chunk):  # a few draws at a time keep the temporaries in cache
            sel = okb[s:s + self.chunk]
            thv = padded_thresholds(m1[sel], self.nlev)
            rho, cv, _, _ = _solve_pairs(m2[sel], thv, self.nlev, self.rows, self.cols, self.names,
                                         self.zero_add, self.zero_keep_margins, warn=False,
                                         rho0=np.broadcast_to(self.rho0, (sel.size, self.rho0.size)))
            Rv = np.broadcast_to(np.eye(self.p), (sel.size, self.p, self.p)).copy()
            Rv[:, self.rows, self.cols] = rho
            Rv[:, self.cols, self.rows] = rho
            R[sel] = Rv
            th[sel] = thv
            conv[sel] = cv
        return BatchResult(R=R, th=th, converged=conv, ok=ok)


# ----------------------------------------------------------------------------------------------
# DWLS weights of every draw (the diagonal of each draw's NACOV), from its tables alone
# ----------------------------------------------------------------------------------------------
def _uni_scores(th):
    """Univariate threshold scores by category: (..., K, K-1) from padded thresholds (..., K-1)."""
    from scipy.special import ndtr

    K1 = th.shape[-1]
    up = np.concatenate([th, np.full(th.shape[:-1] + (1,), np.inf)], axis=-1)
    lo = np.concatenate([np.full(th.shape[:-1] + (1,), -np.inf), th], axis=-1)
    pc = ndtr(up) - ndtr(lo)
    big = lo > 1
    pc = np.where(big, ndtr(-lo) - ndtr(-up), pc)
    dth = np.where(np.isfinite(th), np.exp(-0.5 * np.where(np.isfinite(th), th, 0.0) ** 2) / np.sqrt(2 * np.pi), 0.0)
    S = np.zeros(th.shape[:-1] + (K1 + 1, K1))
    with np.errstate(divide="ignore", invalid="ignore"):
        inv = np.where(pc > 0, 1.0 / pc, 0.0)
    k = np.arange(K1)
    S[..., k, k] = dth * inv[..., :K1]
    S[..., k + 1, k] = -dth * inv[..., 1:]
    return S


def _biv_scores(th1, th2, rho):
    """Per cell of stacked pairs: s_rho (..., A, C) and bivariate threshold scores (..., A, C, A-1), (..., A, C, C-1)."""
    from scipy.special import ndtr

    from .polychoric import SQRT_EPS, _phi_gnorm, cell_probs

    PI = cell_probs(th1, th2, rho)
    bad = PI <= SQRT_EPS
    lik = np.where(bad, 1.0, PI)
    phi, _ = _phi_gnorm(th1, th2, rho, need_g=False)
    s_rho = np.where(bad, 0.0, phi / lik)

    def bounds(t):
        t = np.where(np.isfinite(t), t, 100.0)
        sh = t.shape[:-1] + (1,)
        return np.concatenate([np.full(sh, -100.0), t, np.full(sh, 100.0)], axis=-1)

    def dn(x):
        return np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)

    b1, b2 = bounds(th1), bounds(th2)
    r = rho[..., None, None]
    R = np.sqrt(1.0 - r * r)
    # ndtr((b2_c - r b1_a) / R) on the (A+1) x (C+1) grid of bounds, differenced along c (and
    # its mirror along a): half the ndtr calls of evaluating every cell's two bounds
    G12 = ndtr((b2[..., None, :] - r * b1[..., :, None]) / R)  # (..., A+1, C+1)
    G21 = ndtr((b1[..., :, None] - r * b2[..., None, :]) / R)
    d1 = dn(b1)[..., :, None]
    d2 = dn(b2)[..., None, :]
    D12 = G12[..., :, 1:] - G12[..., :, :-1]  # (..., A+1, C): bound a of item 1, cell column c
    D21 = G21[..., 1:, :] - G21[..., :-1, :]  # (..., A, C+1)
    y1Z1 = d1[..., 1:, :] * D12[..., 1:, :]
    y1Z2 = d1[..., :-1, :] * D12[..., :-1, :]
    y2Z1 = d2[..., :, 1:] * D21[..., :, 1:]
    y2Z2 = d2[..., :, :-1] * D21[..., :, :-1]
    A, C = PI.shape[-2:]
    s1 = np.zeros(PI.shape + (A - 1,))
    s2 = np.zeros(PI.shape + (C - 1,))
    k = np.arange(A - 1)
    s1[..., k, :, k] += np.moveaxis(y1Z1[..., :-1, :], -2, 0)
    s1[..., k + 1, :, k] -= np.moveaxis(y1Z2[..., 1:, :], -2, 0)
    k = np.arange(C - 1)
    s2[..., :, k, k] += y2Z1[..., :, :-1]  # adjacent advanced indices keep their place
    s2[..., :, k + 1, k] -= y2Z2[..., :, 1:]
    s1 = np.where(bad[..., None], 0.0, s1 / lik[..., None])
    s2 = np.where(bad[..., None], 0.0, s2 / lik[..., None])
    return s_rho, s1, s2


def dwls_diagonal(bp: "BatchedPolychoric", counts, res: BatchResult) -> np.ndarray:
    """Diagonal of each draw's NACOV (B, nth + P), in lavaan's WLS.obs order (ordinal items only).

    Equal to ``nacov_from(two_step(data, weights=counts[b])).nacov`` diagonal: the threshold
    slots are ``N diag(A11_j^-1)``; a correlation slot needs only its pair's table, because its
    row of ``B^-1`` touches its own score and the two items' thresholds. DWLS weights are
    ``1 / dwls_diagonal(...)``. Draws with ``ok = False`` are NaN.
    """
    C = np.atleast_2d(np.asarray(counts, float))
    m1, m2 = bp.tables(C)
    B, p, kmax = m1.shape
    K1 = kmax - 1
    nth_j = bp.nlev - 1
    nth = int(nth_j.sum())
    out = np.full((B, nth + len(bp.rows)), np.nan)
    okall = np.flatnonzero(res.ok)
    cols_th = np.concatenate([np.arange(k) + j * K1 for j, k in enumerate(nth_j)])
    pad = np.arange(K1)[None, :] >= nth_j[:, None]  # (p, K1)
    rows, cols = bp.rows, bp.cols
    mm = np.matmul
    for s0 in range(0, okall.size, bp.chunk):
        okb = okall[s0:s0 + bp.chunk]
        N = C[okb][:, bp.nonempty].sum(axis=1)
        th = res.th[okb]  # (b, p, K1), +inf padding
        U = _uni_scores(th)  # (b, p, kmax, K1)
        Ut = np.swapaxes(U, -1, -2)
        A11 = mm(Ut * m1[okb][:, :, None, :], U)
        A11 = A11 + np.eye(K1)[None, None] * pad[None, :, :, None]
        A11inv = np.linalg.inv(A11)
        diag_th = np.diagonal(A11inv, axis1=-2, axis2=-1) * N[:, None, None]  # (b, p, K1)
        out[np.ix_(okb, np.arange(nth))] = diag_th.reshape(len(okb), -1)[:, cols_th]
        rho = res.R[okb][:, rows, cols]  # (b, P)
        t1, t2 = th[:, cols, :], th[:, rows, :]
        f = m2[okb]  # (b, P, kmax, kmax): rows item cols[q] (j), columns item rows[q] (i)
        s_rho, d1, d2 = _biv_scores(t1, t2, rho)
        fr = f * s_rho
        b_, P_, A, Cc = fr.shape
        frv = fr.reshape(b_, P_, 1, A * Cc)
        a21_j = mm(frv, d1.reshape(b_, P_, A * Cc, -1))[..., 0, :]
        a21_i = mm(frv, d2.reshape(b_, P_, A * Cc, -1))[..., 0, :]
        a22 = np.sum(fr * s_rho, axis=(-2, -1))
        Uj, Ui = U[:, cols], U[:, rows]  # (b, P, kmax, K1) by category
        Aj, Ai = A11[:, cols], A11[:, rows]
        X = mm(mm(np.swapaxes(Uj, -1, -2), f), Ui)  # cross block of the two items' thresholds
        xj = mm(fr.sum(-1)[..., None, :], Uj)[..., 0, :]
        xi = mm(fr.sum(-2)[..., None, :], Ui)[..., 0, :]
        vj = -mm(a21_j[..., None, :], A11inv[:, cols])[..., 0, :] / a22[..., None]
        vi = -mm(a21_i[..., None, :], A11inv[:, rows])[..., 0, :] / a22[..., None]
        vq = 1.0 / a22

        def quad(u, M, v):
            return mm(mm(u[..., None, :], M), v[..., :, None])[..., 0, 0]

        w = (quad(vj, Aj, vj) + quad(vi, Ai, vi) + 2 * quad(vj, X, vi)
             + 2 * vq * (np.sum(vj * xj, -1) + np.sum(vi * xi, -1)) + vq * vq * a22)
        out[np.ix_(okb, nth + np.arange(len(rows)))] = w * N[:, None]
    return out
