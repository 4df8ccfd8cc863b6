"""Thresholds and polychoric correlations of many bootstrap draws at once.

A draw is a vector of counts (how often each case was drawn: resampling by counts). Its
univariate and bivariate tables are weighted counts of the original codes, so for B draws they
are one sparse product ``counts (B, n) @ M (n, cells)`` where ``M`` marks each case's cell of
every item and every item pair. The thresholds follow in closed form and the polychorics are
solved by :func:`.polychoric.solve_polychoric` with the draws as one more leading axis: the
same code, so a batched draw equals ``polychoric_matrix(codes, weights=counts[b])``.

A draw in which an item loses one of its categories cannot be used (lavaan's bootstrap fails
on it: "some categories ... are empty"); it is flagged in ``ok`` and its values are NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ...exceptions import DataError
from .polychoric import _check_codes, _solve_pairs, pair_index, padded_thresholds

__all__ = ["BatchedPolychoric", "BatchResult", "draw_counts"]


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
        # draws per chunk: about 4000 tables at a time
        self.chunk = int(chunk) if chunk else max(1, 4000 // max(1, len(self.rows)))
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
