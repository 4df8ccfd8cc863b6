"""Step 2 of the ordinal chain: two-step polychoric and polyserial correlations.

Polychoric (lavaan's ``lav_bvord_cor_twostep_fit``): the thresholds of both items are fixed at
their step-1 values and rho maximises ``sum(freq * log(PI(rho)))`` over the bivariate
contingency table, inside ``[-0.999, 0.999]``, cell probabilities floored at ``sqrt(eps)``. The
solver is Newton on rho with lavaan's analytic gradient and Hessian, vectorised over all item
pairs at once (and over bootstrap draws in :mod:`.batched`: the same function with one more
leading axis, so a batched draw is computed exactly as a single one).

Zero cells, lavaan 0.6.14's defaults ``zero.add = c(0.5, 0.0)``, ``zero.keep.margins = TRUE``:
* a 2x2 table with one empty cell: 0.5 is moved onto the empty cell's diagonal and taken off the
  other diagonal (the margins are kept);
* a 2x2 table with two empty cells: rho = +1 or -1 (with a warning, as lavaan);
* larger tables: empty cells are left empty (``zero.add[2] = 0``); the pair is listed in
  ``zero_cell_tables``.
Then, for 2x2 tables, ``ad == bc`` gives rho = 0 and two median splits ``-cos(2 pi p11)``.

Polyserial (lavaan's ``lav_bvmix_cor_twostep_fit``): mean and variance (N denominator) of the
continuous variable and the item's thresholds fixed; rho maximises the casewise likelihood
``dnorm(y) * P(item | y)`` inside ``[-0.995, 0.995]``, cases with likelihood below
``sqrt(eps)`` left out, as lavaan does.

Two continuous variables (lavaan's ``lav_bvreg_cor_twostep_fit``): Pearson's r when neither has
a missing value, otherwise ML of rho with the means and variances fixed (:func:`pearson_twostep`).

Missing answers: every pair uses the cases observed on both (pairwise), every threshold the
cases observed on its item. (lavaan's own default is ``missing = "listwise"``; ``missing =
"pairwise"`` there gives the same numbers as here.)
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import ndtr

from ...exceptions import DataError, DataWarning
from .thresholds import OrdinalData, item_thresholds, prepare

__all__ = [
    "bvn_cdf",
    "dbinorm",
    "pair_index",
    "solve_polychoric",
    "polychoric_matrix",
    "polyserial",
    "pearson_twostep",
    "CorrelationResult",
    "two_step",
]

SQRT_EPS = float(np.sqrt(np.finfo(float).eps))
TWO_PI = 2.0 * np.pi

# Gauss-Legendre nodes and weights (n = 20, one half) of Genz's BVND, the algorithm behind R's
# pbivnorm used by lavaan
_GL_W = np.array([
    0.01761400713915212, 0.04060142980038694, 0.06267204833410906, 0.08327674157670475,
    0.1019301198172404, 0.1181945319615184, 0.1316886384491766, 0.1420961093183821,
    0.1491729864726037, 0.1527533871307259,
])
_GL_X = np.array([
    0.9931285991850949, 0.9639719272779138, 0.9122344282513259, 0.8391169718222188,
    0.7463319064601508, 0.6360536807265150, 0.5108670019508271, 0.3737060887154196,
    0.2277858511416451, 0.07652652113349733,
])
_W = np.concatenate([_GL_W, _GL_W])
_X = np.concatenate([1.0 - _GL_X, 1.0 + _GL_X])


def _bvnu(dh, dk, r):
    """P(X > dh, Y > dk) for a standard bivariate normal with correlation r (Genz's BVNU)."""
    dh, dk, r = np.broadcast_arrays(np.asarray(dh, float), np.asarray(dk, float), np.asarray(r, float))
    out = np.zeros(dh.shape)
    fin = np.isfinite(dh) & np.isfinite(dk)
    # infinite limits
    h_ninf, k_ninf = dh == -np.inf, dk == -np.inf
    out[h_ninf & k_ninf] = 1.0
    m = h_ninf & np.isfinite(dk)
    out[m] = ndtr(-dk[m])
    m = k_ninf & np.isfinite(dh)
    out[m] = ndtr(-dh[m])
    if not fin.any():
        return out
    h, k, rr = dh[fin], dk[fin], r[fin]
    res = np.empty(h.shape)
    hk = h * k
    low = np.abs(rr) < 0.925
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        if low.any():
            hl, kl, rl = h[low], k[low], rr[low]
            hs = (hl * hl + kl * kl) / 2.0
            asr = np.arcsin(rl) / 2.0
            sn = np.sin(asr[:, None] * _X)
            bvn = np.exp((sn * (hl * kl)[:, None] - hs[:, None]) / (1.0 - sn * sn)) @ _W
            res[low] = bvn * asr / TWO_PI + ndtr(-hl) * ndtr(-kl)
        hi = ~low
        if hi.any():
            hh, kk, rh = h[hi], k[hi].copy(), rr[hi]
            hkh = hk[hi].copy()
            neg = rh < 0
            kk[neg] = -kk[neg]
            hkh[neg] = -hkh[neg]
            bvn = np.zeros(hh.shape)
            inner = np.abs(rh) < 1
            if inner.any():
                hI, kI, hkI = hh[inner], kk[inner], hkh[inner]
                as_ = 1.0 - rh[inner] ** 2
                a = np.sqrt(as_)
                bs = (hI - kI) ** 2
                asr = -(bs / as_ + hkI) / 2.0
                c = (4.0 - hkI) / 8.0
                d = (12.0 - hkI) / 80.0
                b1 = np.where(asr > -100, a * np.exp(asr) * (1 - c * (bs - as_) * (1 - d * bs) / 3 + c * d * as_ * as_), 0.0)
                b = np.sqrt(bs)
                sp = np.sqrt(TWO_PI) * ndtr(-b / a)
                b1 = np.where(hkI > -100, b1 - np.exp(-hkI / 2) * sp * b * (1 - c * bs * (1 - d * bs) / 3), b1)
                a2 = a / 2.0
                xs = (a2[:, None] * _X) ** 2
                asr2 = -(bs[:, None] / xs + hkI[:, None]) / 2.0
                ok = asr2 > -100
                spx = 1.0 + c[:, None] * xs * (1.0 + 5.0 * d[:, None] * xs)
                rs = np.sqrt(1.0 - xs)
                ep = np.exp(-(hkI[:, None] / 2.0) * xs / (1.0 + rs) ** 2) / rs
                term = np.where(ok, np.exp(asr2) * (spx - ep), 0.0)
                bvn[inner] = (a2 * (term @ _W) - b1) / TWO_PI
            pos = rh > 0
            bvn[pos] = bvn[pos] + ndtr(-np.maximum(hh[pos], kk[pos]))
            ng = ~pos
            hn, kn = hh[ng], kk[ng]
            L = np.where(hn < 0, ndtr(kn) - ndtr(hn), ndtr(-hn) - ndtr(-kn))
            bvn[ng] = np.where(hn >= kn, -bvn[ng], L - bvn[ng])
            res[hi] = bvn
    out[fin] = np.clip(res, 0.0, 1.0)
    return out


def bvn_cdf(h, k, r):
    """P(X < h, Y < k) of a standard bivariate normal with correlation ``r`` (broadcasting)."""
    return _bvnu(-np.asarray(h, float), -np.asarray(k, float), r)


def dbinorm(u, v, rho):
    """Standard bivariate normal density (lavaan's ``dbinorm``)."""
    rho = np.clip(rho, -0.9999, 0.9999)
    R = 1.0 - rho * rho
    return np.exp(-0.5 * (u * u - 2.0 * rho * u * v + v * v) / R) / (TWO_PI * np.sqrt(R))


def pair_index(p: int) -> tuple[np.ndarray, np.ndarray]:
    """lavaan's order of the correlations (``vech(R, diagonal = FALSE)``): (2,1), (3,1), ..., (p,1), (3,2), ...

    Returns ``(row, col)`` with ``row > col``.
    """
    rows, cols = [], []
    for j in range(p - 1):
        for i in range(j + 1, p):
            rows.append(i)
            cols.append(j)
    return np.array(rows, dtype=int), np.array(cols, dtype=int)


# ----------------------------------------------------------------------------------------------
# the polychoric core, vectorised over leading axes
# ----------------------------------------------------------------------------------------------
_CLIP = 50.0  # a threshold beyond this is +-inf for every density used here


_GL6 = (np.array([0.1713244923791705, 0.3607615730481384, 0.4679139345726904]),
        np.array([0.9324695142031522, 0.6612093864662647, 0.2386191860831970]))
_GL12 = (np.array([.04717533638651177, 0.1069393259953183, 0.1600783285433464,
                   0.2031674267230659, 0.2334925365383547, 0.2491470458134029]),
         np.array([0.9815606342467191, 0.9041172563704750, 0.7699026741943050,
                   0.5873179542866171, 0.3678314989981802, 0.1252334085114692]))
_NODES = []
for _w, _x in (_GL6, _GL12, (_GL_W, _GL_X)):
    _NODES.append((np.concatenate([_w, _w]), np.concatenate([1.0 - _x, 1.0 + _x])))


def _bvn_grid(h, k, r):
    """P(X < h_a, Y < k_c) on the grid (..., A1, C1) of finite h (..., A1), k (..., C1), r (...).

    Genz's algorithm with the node count pbivnorm uses (6, 12, 20 for |r| < .3, < .75, < .925);
    the sines depend on r only, so they are computed once per table, not per grid point.
    """
    lead = r.shape
    E = int(np.prod(lead)) if lead else 1
    A1, C1 = h.shape[-1], k.shape[-1]
    hf = h.reshape(E, A1)
    kf = k.reshape(E, C1)
    rf = r.reshape(E)
    out = np.empty((E, A1, C1))
    ar = np.abs(rf)
    groups = [ar < 0.3, (ar >= 0.3) & (ar < 0.75), (ar >= 0.75) & (ar < 0.925)]
    for g, (wn, xn) in zip(groups, _NODES):
        if not g.any():
            continue
        hg, kg, rg = hf[g], kf[g], rf[g]
        asr = np.arcsin(rg) / 2.0
        sn = np.sin(asr[:, None] * xn)  # (Eg, nodes)
        den = 1.0 / (1.0 - sn * sn)
        a = (sn * den)[:, None, None, :]
        b = den[:, None, None, :]
        hk = (hg[:, :, None] * kg[:, None, :])[..., None]
        hs = ((hg[:, :, None] ** 2 + kg[:, None, :] ** 2) / 2.0)[..., None]
        with np.errstate(under="ignore"):
            val = np.exp(hk * a - hs * b) @ wn
        out[g] = val * (asr / TWO_PI)[:, None, None] + ndtr(hg)[:, :, None] * ndtr(kg)[:, None, :]
    hi = ar >= 0.925
    if hi.any():
        hh = np.broadcast_to(hf[hi][:, :, None], (hi.sum(), A1, C1))
        kk = np.broadcast_to(kf[hi][:, None, :], (hi.sum(), A1, C1))
        rr = np.broadcast_to(rf[hi][:, None, None], (hi.sum(), A1, C1))
        out[hi] = bvn_cdf(hh, kk, rr)
    return np.clip(out, 0.0, 1.0).reshape(lead + (A1, C1))


def _core_grid(th1, th2, rho):
    """P(Y1* < t1_a, Y2* < t2_c) on the inner grid (..., A-1, C-1); +inf padding allowed."""
    inf1 = ~np.isfinite(th1)
    inf2 = ~np.isfinite(th2)
    core = _bvn_grid(np.where(inf1, 0.0, th1), np.where(inf2, 0.0, th2), rho)
    if inf1.any() or inf2.any():  # +inf padding: P(X < inf, Y < k) = Phi(k)
        p1, p2 = ndtr(th1), ndtr(th2)
        core = np.where(inf1[..., :, None], p2[..., None, :], core)
        core = np.where(inf2[..., None, :], p1[..., :, None], core)
        core = np.where(inf1[..., :, None] & inf2[..., None, :], 1.0, core)
    return core


_GL3_X = np.array([-np.sqrt(0.6), 0.0, np.sqrt(0.6)])
_GL3_W = np.array([5.0, 8.0, 5.0]) / 9.0


def _core_increment(th1, th2, r0, r1):
    """int_{r0}^{r1} of the bivariate density on the inner grid (dPhi2/drho = phi2), 3-point Gauss-Legendre.

    Used for |r1 - r0| < 0.05 only, where its error is far below 1e-13.
    """
    t1 = np.clip(th1, -_CLIP, _CLIP)[..., :, None]
    t2 = np.clip(th2, -_CLIP, _CLIP)[..., None, :]
    half = ((r1 - r0) / 2.0)[..., None, None]
    mid = ((r1 + r0) / 2.0)[..., None, None]
    out = 0.0
    for x, w in zip(_GL3_X, _GL3_W):
        out = out + w * dbinorm(t1, t2, mid + half * x)
    return out * half


def _bi_from_core(core, th1, th2):
    sh = core.shape[:-2]
    A1, C1 = core.shape[-2:]
    BI = np.zeros(sh + (A1 + 2, C1 + 2))
    BI[..., 1:-1, 1:-1] = core
    BI[..., -1, 1:-1] = ndtr(th2)
    BI[..., 1:-1, -1] = ndtr(th1)
    BI[..., -1, -1] = 1.0
    return BI


def _bi_grid(th1, th2, rho):
    """Cumulative grid BI (..., A+1, C+1) of P(Y1* < b_a, Y2* < b_c), b_0 = -inf, b_A = +inf."""
    sh = np.broadcast_shapes(th1.shape[:-1], th2.shape[:-1], rho.shape)
    th1 = np.broadcast_to(th1, sh + th1.shape[-1:])
    th2 = np.broadcast_to(th2, sh + th2.shape[-1:])
    rho = np.broadcast_to(rho, sh)
    return _bi_from_core(_core_grid(th1, th2, rho), th1, th2)


def _diff2(G):
    return G[..., 1:, 1:] - G[..., :-1, 1:] - G[..., 1:, :-1] + G[..., :-1, :-1]


def cell_probs(th1, th2, rho):
    """Model cell probabilities PI (..., A, C), floored at sqrt(eps) as lavaan does."""
    PI = _diff2(_bi_grid(th1, th2, rho))
    return np.maximum(PI, SQRT_EPS)


def _phi_gnorm(th1, th2, rho, need_g=True):
    """dPI/drho (phi) and d2PI/drho2 (gnorm) per cell, (..., A, C)."""
    t1 = np.clip(th1, -_CLIP, _CLIP)[..., :, None]
    t2 = np.clip(th2, -_CLIP, _CLIP)[..., None, :]
    r = rho[..., None, None]
    d = dbinorm(t1, t2, r)
    sh = d.shape[:-2]
    D = np.zeros(sh + (d.shape[-2] + 2, d.shape[-1] + 2))
    D[..., 1:-1, 1:-1] = d
    phi = _diff2(D)
    if not need_g:
        return phi, None
    R = 1.0 - r * r
    guv = (t1 * t2 * R - r * (t1 * t1 - 2.0 * r * t1 * t2 + t2 * t2) + r * R) / (R * R)
    D[..., 1:-1, 1:-1] = d * guv
    return phi, _diff2(D)


def _pearson_from_table(freq):
    """Pearson correlation of the codes 1..A, 1..C from a table (lavaan's start value)."""
    A, C = freq.shape[-2:]
    a = np.arange(1, A + 1, dtype=float)
    c = np.arange(1, C + 1, dtype=float)
    n = freq.sum((-2, -1))
    with np.errstate(invalid="ignore", divide="ignore"):
        ma = (freq.sum(-1) @ a) / n
        mc = (freq.sum(-2) @ c) / n
        saa = (freq.sum(-1) @ (a * a)) / n - ma * ma
        scc = (freq.sum(-2) @ (c * c)) / n - mc * mc
        sac = np.einsum("...ac,a,c->...", freq, a, c) / n - ma * mc
        r = sac / np.sqrt(saa * scc)
    return np.where(np.isfinite(r) & (np.abs(r) < 1), r, 0.0)


def _loglik(freq, PI):
    return np.sum(freq * np.log(PI), axis=(-2, -1))


def solve_polychoric(freq, th1, th2, rho0=None, *, bounds=0.999, tol=1e-7, maxit=100, incremental=0.05):
    """ML rho for stacked tables ``freq`` (..., A, C) with fixed thresholds th1 (..., A-1), th2 (..., C-1).

    Padded categories (thresholds +inf, zero counts) are allowed, so tables of items with
    different numbers of categories can be stacked. Returns ``(rho, converged)``.
    """
    freq = np.asarray(freq, float)
    th1 = np.asarray(th1, float)
    th2 = np.asarray(th2, float)
    sh = freq.shape[:-2]
    rho = _pearson_from_table(freq) if rho0 is None else np.array(np.broadcast_to(rho0, sh), float)
    rho = np.ascontiguousarray(np.clip(rho, -bounds, bounds))  # updated through flat views below
    done = np.zeros(sh, bool)
    ll_prev = np.full(sh, -np.inf)
    rho_prev = rho.copy()
    th1 = np.broadcast_to(th1, sh + th1.shape[-1:])
    th2 = np.broadcast_to(th2, sh + th2.shape[-1:])
    # the cumulative grid of the last evaluation: the next one adds the integral of the density
    # over the (small) Newton step instead of a fresh Genz evaluation
    core_state = np.zeros(sh + (th1.shape[-1], th2.shape[-1]))
    r_state = np.full(sh, np.nan)
    for _ in range(maxit):
        act = ~done
        if not act.any():
            break
        f, t1, t2, r = freq[act], th1[act], th2[act], rho[act]
        rs = r_state[act]
        inc = np.abs(r - rs) < incremental  # NaN (no previous grid) compares False
        core = np.empty(r.shape + core_state.shape[-2:])
        if (~inc).any():
            core[~inc] = _core_grid(t1[~inc], t2[~inc], r[~inc])
        if inc.any():
            core[inc] = core_state[act][inc] + _core_increment(t1[inc], t2[inc], rs[inc], r[inc])
        core_state[act] = core
        r_state[act] = r
        PI = np.maximum(_diff2(_bi_from_core(core, t1, t2)), SQRT_EPS)
        ll = _loglik(f, PI)
        worse = ll < ll_prev[act] - 1e-13 * np.abs(ll_prev[act])
        phi, gn = _phi_gnorm(t1, t2, r)
        okc = PI > SQRT_EPS
        fp = np.where(okc, f / PI, 0.0)
        g = np.sum(fp * phi, axis=(-2, -1))
        info = np.sum(fp * phi * phi / PI, axis=(-2, -1))
        H = np.sum(fp * gn, axis=(-2, -1)) - info
        step = np.where(H < 0, -g / np.where(H < 0, H, -1.0), g / np.maximum(info, 1e-300))
        step = np.clip(step, -0.5, 0.5)
        new = np.clip(r + step, -bounds, bounds)
        # a step that lowered the log-likelihood is halved back towards the previous iterate
        rp = rho_prev[act]
        new = np.where(worse, 0.5 * (r + rp), new)
        conv = (~worse) & (np.abs(new - r) < tol)
        idx = np.flatnonzero(act.ravel())
        rflat, pflat, lflat, dflat = rho.reshape(-1), rho_prev.reshape(-1), ll_prev.reshape(-1), done.reshape(-1)
        pflat[idx] = np.where(worse, rp, r)
        lflat[idx] = np.where(worse, ll_prev[act], ll)
        rflat[idx] = new
        dflat[idx] = conv
    return rho, done


# ----------------------------------------------------------------------------------------------
# tables, zero cells
# ----------------------------------------------------------------------------------------------
def pair_tables(codes, rows, cols, kmax, weights=None):
    """Bivariate tables (P, kmax, kmax) of items ``cols[p]`` (rows) x ``rows[p]`` (columns).

    ``codes`` (n, p) with 0 = missing; a case missing either item is left out of that table.
    """
    K1 = kmax + 1
    out = np.empty((len(rows), kmax, kmax))
    for q, (i, j) in enumerate(zip(rows, cols)):
        comb = codes[:, j] * K1 + codes[:, i]
        t = np.bincount(comb, weights=weights, minlength=K1 * K1).reshape(K1, K1)
        out[q] = t[1:, 1:]
    return out


def zero_cell_rules(freq, nlev1, nlev2, th1_first, th2_first, zero_add=(0.5, 0.0), zero_keep_margins=True):
    """lavaan's zero-cell corrections. Returns (adjusted freq, fixed rho or NaN, has-empty-cell, two-empty 2x2).

    Works on stacked tables (..., A, C); ``nlev1``/``nlev2`` are the real numbers of categories.
    """
    freq = np.array(freq, float)
    A, C = freq.shape[-2:]
    ia = np.arange(A)
    ic = np.arange(C)
    real = (ia[:, None] < np.asarray(nlev1)[..., None, None]) & (ic[None, :] < np.asarray(nlev2)[..., None, None])
    zero = real & (freq == 0)
    nzero = zero.sum((-2, -1))
    empty = nzero > 0
    fixed = np.full(freq.shape[:-2], np.nan)
    is22 = (np.asarray(nlev1) == 2) & (np.asarray(nlev2) == 2) & np.ones(freq.shape[:-2], bool)
    two = is22 & (nzero == 2)
    if two.any():
        fixed = np.where(two, np.where(freq[..., 0, 0] > 0, 1.0, -1.0), fixed)
    one = is22 & (nzero == 1) & (zero_add[0] > 0)
    if one.any():
        za = zero_add[0]
        diag_zero = zero[..., 0, 0] | zero[..., 1, 1]
        if zero_keep_margins:
            sgn = np.where(diag_zero, 1.0, -1.0) * za
            adj = np.zeros(freq.shape)
            adj[..., 0, 0] = sgn
            adj[..., 1, 1] = sgn
            adj[..., 0, 1] = -sgn
            adj[..., 1, 0] = -sgn
            freq = np.where(one[..., None, None], freq + adj, freq)
        else:
            freq = np.where(one[..., None, None] & zero, freq + za, freq)
    big = ~is22
    if zero_add[1] > 0 and big.any():
        freq = np.where(big[..., None, None] & zero, zero_add[1], freq)
    if is22.any():
        f = freq
        indep = is22 & ~two & (f[..., 0, 0] * f[..., 1, 1] == f[..., 0, 1] * f[..., 1, 0])
        fixed = np.where(indep, 0.0, fixed)
        med = is22 & ~two & ~indep & (np.asarray(th1_first) == 0) & (np.asarray(th2_first) == 0)
        if med.any():
            fixed = np.where(med, -np.cos(TWO_PI * f[..., 0, 0] / f.sum((-2, -1))), fixed)
    return freq, fixed, empty, two


# ----------------------------------------------------------------------------------------------
# polyserial
# ----------------------------------------------------------------------------------------------
def _uvreg(x, weights=None):
    obs = ~np.isnan(x)
    w = np.ones_like(x) if weights is None else np.asarray(weights, float)
    wo = w[obs]
    mu = np.sum(wo * x[obs]) / wo.sum()
    var = np.sum(wo * (x[obs] - mu) ** 2) / wo.sum()
    return mu, var


def _item_bounds(codes, th):
    """Upper and lower thresholds of each case's category (lavaan's z1, z2: +-100 outside); NaN if missing."""
    tt = np.concatenate([[-100.0], th, [100.0]])
    c = np.asarray(codes)
    z1 = np.where(c > 0, tt[np.clip(c, 0, len(tt) - 1)], np.nan)
    z2 = np.where(c > 0, tt[np.clip(c - 1, 0, len(tt) - 1)], np.nan)
    return z1, z2


def _polyserial_terms(rho, Z, py1, z1, z2):
    R = np.sqrt(1.0 - rho * rho)
    ts1 = (z1 - rho * Z) / R
    ts2 = (z2 - rho * Z) / R
    py2 = ndtr(ts1) - ndtr(ts2)
    py2 = np.maximum(py2, np.finfo(float).eps)
    lik = py1 * py2
    return R, ts1, ts2, py2, lik


def polyserial(x, codes, th, *, weights=None, rho0=None, bounds=0.995, tol=1e-11, maxit=200):
    """Two-step polyserial rho of continuous ``x`` (NaN = missing) with item ``codes`` (0 = missing).

    ``x``, ``codes`` may be (n,) or stacked (n, P) with ``th`` a list of P threshold vectors.
    Returns ``(rho, converged)`` (scalars or (P,) arrays).
    """
    x = np.asarray(x, float)
    single = x.ndim == 1
    X = x[:, None] if single else x
    Cd = np.asarray(codes)[:, None] if single else np.asarray(codes)
    ths = [th] if single else list(th)
    n, P = X.shape
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    Z = np.empty((n, P))
    py1 = np.empty((n, P))
    z1 = np.empty((n, P))
    z2 = np.empty((n, P))
    start = np.empty(P)
    for q in range(P):
        mu, var = _uvreg(X[:, q], w)
        sd = np.sqrt(var)
        Z[:, q] = (X[:, q] - mu) / sd
        py1[:, q] = np.exp(-0.5 * Z[:, q] ** 2) / (np.sqrt(TWO_PI) * sd)
        z1[:, q], z2[:, q] = _item_bounds(Cd[:, q], ths[q])
        yc = np.where(Cd[:, q] > 0, Cd[:, q], np.nan)
        ok = ~np.isnan(X[:, q]) & ~np.isnan(yc)
        if weights is None:
            cor = np.corrcoef(X[ok, q], yc[ok])[0, 1]
            Ntot = n
            sdy = np.nanstd(yc, ddof=1) * np.sqrt((Ntot - 1) / Ntot)
        else:
            wo = w[ok]
            xm = np.average(X[ok, q], weights=wo)
            ym = np.average(yc[ok], weights=wo)
            cor = np.sum(wo * (X[ok, q] - xm) * (yc[ok] - ym)) / np.sqrt(
                np.sum(wo * (X[ok, q] - xm) ** 2) * np.sum(wo * (yc[ok] - ym) ** 2))
            oy = ~np.isnan(yc)
            ym2 = np.average(yc[oy], weights=w[oy])
            sdy = np.sqrt(np.sum(w[oy] * (yc[oy] - ym2) ** 2) / w[oy].sum())
        r0 = cor * sdy / np.sum(np.exp(-0.5 * np.asarray(ths[q]) ** 2) / np.sqrt(TWO_PI))
        if not np.isfinite(r0):
            r0 = 0.0
        elif abs(r0) > 0.9:
            r0 = r0 / 2
        start[q] = r0
    rho = np.clip(start if rho0 is None else np.asarray(rho0, float).reshape(P), -bounds, bounds)
    valid = ~np.isnan(Z) & ~np.isnan(z1)
    Zs = np.where(valid, Z, 0.0)
    z1s = np.where(valid, z1, 0.0)
    z2s = np.where(valid, z2, 0.0)
    W = np.where(valid, w[:, None], 0.0)
    done = np.zeros(P, bool)
    ll_prev = np.full(P, -np.inf)
    rho_prev = rho.copy()
    for _ in range(maxit):
        if done.all():
            break
        r = rho
        R, ts1, ts2, py2, lik = _polyserial_terms(r, Zs, py1, z1s, z2s)
        use = (lik >= SQRT_EPS) & valid
        Wu = np.where(use, W, 0.0)
        ll = np.sum(Wu * np.log(np.where(use, lik, 1.0)), axis=0)
        yz1 = np.exp(-0.5 * ts1 ** 2) / np.sqrt(TWO_PI)
        yz2 = np.exp(-0.5 * ts2 ** 2) / np.sqrt(TWO_PI)
        inv3 = 1.0 / (py2 * R ** 3)
        d1 = z1s * r - Zs
        d2 = z2s * r - Zs
        dx = inv3 * (yz1 * d1 - yz2 * d2)
        g = np.sum(Wu * dx, axis=0)
        R2 = R * R
        t1 = Zs - r * ts1 / R
        t2 = Zs - r * ts2 / R
        tmp = (yz1 * (d1 * ((3 * r / R2) + ts1 * t1 / R) + z1s + dx * R2 * t1)
               - yz2 * (d2 * ((3 * r / R2) + ts2 * t2 / R) + z2s + dx * R2 * t2))
        H = np.sum(Wu * tmp * inv3, axis=0)
        worse = ll < ll_prev - 1e-13 * np.abs(ll_prev)
        info = np.sum(Wu * dx * dx, axis=0)
        step = np.where(H < 0, -g / np.where(H < 0, H, -1.0), g / np.maximum(info, 1e-300))
        step = np.clip(step, -0.5, 0.5)
        new = np.clip(r + step, -bounds, bounds)
        new = np.where(worse, 0.5 * (r + rho_prev), new)
        conv = (~worse) & (np.abs(new - r) < tol)
        act = ~done
        rho_prev = np.where(act & ~worse, r, rho_prev)
        ll_prev = np.where(act & ~worse, ll, ll_prev)
        rho = np.where(act & ~conv, new, r)
        done = done | conv
    if single:
        return float(rho[0]), bool(done[0])
    return rho, done


def pearson_twostep(y1, y2, *, weights=None, bounds=0.999, tol=1e-10, maxit=100):
    """Correlation of two continuous variables, lavaan's ``lav_bvreg_cor_twostep_fit``.

    Without missing values it is Pearson's r (the ML estimate given the ML means and
    variances). With missing values: ML of rho over the cases observed on both, the means and
    variances fixed at their own-variable ML values; cases with a likelihood below sqrt(eps)
    are left out, as lavaan does. Returns ``(rho, converged)``.
    """
    w = np.ones(len(y1)) if weights is None else np.asarray(weights, float)
    ok = ~np.isnan(y1) & ~np.isnan(y2)
    wo = w[ok]
    a, b = y1[ok], y2[ok]
    am, bm = np.average(a, weights=wo), np.average(b, weights=wo)
    r0 = np.sum(wo * (a - am) * (b - bm)) / np.sqrt(np.sum(wo * (a - am) ** 2) * np.sum(wo * (b - bm) ** 2))
    if not np.isfinite(r0) or abs(r0) >= 1:
        r0 = 0.0
    if ok.all():
        return float(r0), True
    m1, v1 = _uvreg(y1, w)
    m2, v2 = _uvreg(y2, w)
    c1, c2 = a - m1, b - m2
    s12 = np.sqrt(v1 * v2)
    t1 = c1 * c2 / s12
    rho = float(np.clip(r0, -bounds, bounds))
    for _ in range(maxit):
        R = 1.0 - rho * rho
        t2 = c1 * c1 / v1 - 2 * rho * t1 + c2 * c2 / v2
        lik = np.exp(-0.5 * t2 / R) / (TWO_PI * np.sqrt(v1 * v2 * R))
        use = lik >= SQRT_EPS
        ww = np.where(use, wo, 0.0)
        dx = (rho + t1 - t2 * rho / R) / R
        rho2 = rho * rho
        h = 1 / R - (2 * rho2 * t2) / R ** 3 + 2 * rho2 * (1 - t2 / R) / R ** 2 + 4 * rho * t1 / R ** 2 - t2 / R ** 2
        g, H = np.sum(ww * dx), np.sum(ww * h)
        step = -g / H if H < 0 else g / max(np.sum(ww * dx * dx), 1e-300)
        new = float(np.clip(rho + np.clip(step, -0.5, 0.5), -bounds, bounds))
        if abs(new - rho) < tol:
            return new, True
        rho = new
    return rho, False


# ----------------------------------------------------------------------------------------------
# the whole matrix
# ----------------------------------------------------------------------------------------------
class CorrelationResult:
    """Step-1 and step-2 statistics of one sample (lavaan's ``muthen1984`` without the weights)."""

    def __init__(self, od, th, mean, var, R, converged, zero_cell_tables, tables=None):
        self.data = od
        self.th = th  # list per variable: thresholds (ordered) or [mean] (numeric)
        self.mean = mean
        self.var = var  # 1 for ordered items
        self.R = R
        self.converged = converged
        self.zero_cell_tables = zero_cell_tables
        self.tables = tables
        self.weights = None

    @property
    def names(self):
        return self.data.names

    def cor(self):
        import pandas as pd

        return pd.DataFrame(self.R, index=self.names, columns=self.names)

    def cov(self):
        sd = np.sqrt(self.var)
        return self.R * np.outer(sd, sd)


def _check_codes(codes, weights=None):
    codes = np.asarray(codes)
    if codes.ndim != 2:
        raise DataError(f"codes must be a 2-D array (cases x items), got shape {codes.shape}")
    if not np.issubdtype(codes.dtype, np.integer):
        if np.any(np.isnan(codes)):
            codes = np.where(np.isnan(codes), 0, codes)
        if np.any(codes != np.round(codes)):
            raise DataError("codes must be whole numbers 1..K (0 = missing)")
        codes = codes.astype(np.int64)
    if codes.min() < 0:
        raise DataError("codes must be whole numbers 1..K (0 = missing)")
    return codes


def _item_counts(codes, kmax, weights=None):
    p = codes.shape[1]
    cnt = np.zeros((p, kmax))
    for j in range(p):
        cnt[j] = np.bincount(codes[:, j], weights=weights, minlength=kmax + 1)[1:kmax + 1]
    return cnt


def padded_thresholds(cnt, nlev):
    """Thresholds (p, kmax-1) from category counts (p, kmax), +inf beyond an item's own K-1."""
    p, kmax = cnt.shape[-2:]
    th = np.full(cnt.shape[:-1] + (kmax - 1,), np.inf)
    for j in range(p):
        k = nlev[j]
        th[..., j, : k - 1] = item_thresholds(cnt[..., j, :k])
    return th


def polychoric_matrix(codes, weights=None, *, names=None, zero_add=(0.5, 0.0), zero_keep_margins=True,
                      return_details=False):
    """Polychoric correlation matrix of ordinal ``codes`` (n, p): ints 1..K, 0 = missing.

    ``weights`` (n,) are case weights (counts of a bootstrap draw, survey weights). Thresholds
    and tables use the cases observed on the item / the pair (pairwise deletion).
    Returns the (p, p) matrix, or a :class:`CorrelationResult` with ``return_details=True``.
    """
    codes = _check_codes(codes)
    n, p = codes.shape
    names = list(names) if names is not None else [f"V{j + 1}" for j in range(p)]
    kmax = int(codes.max())
    cnt = _item_counts(codes, kmax, weights)
    nlev = np.array([int(np.flatnonzero(cnt[j] > 0).max()) + 1 if (cnt[j] > 0).any() else 0 for j in range(p)])
    for j in range(p):
        k = nlev[j]
        if np.count_nonzero(cnt[j, :k]) < 2:
            raise DataError(f"ordered item {names[j]!r} has fewer than two observed categories")
        if np.any(cnt[j, :k] == 0):
            raise DataError(
                f"some categories of ordered item {names[j]!r} are empty; frequencies are "
                f"[{' '.join(f'{c:g}' for c in cnt[j, :k])}]")
    th = padded_thresholds(cnt, nlev)
    rows, cols = pair_index(p)
    freq = pair_tables(codes, rows, cols, kmax, weights)
    res = _solve_pairs(freq, th, nlev, rows, cols, names, zero_add, zero_keep_margins, warn=True)
    R = np.eye(p)
    R[rows, cols] = res[0]
    R[cols, rows] = res[0]
    if not return_details:
        return R
    od = OrdinalData(names=names, types=["ordered"] * p, codes=codes,
                     values=np.where(codes > 0, codes, np.nan).astype(float), nlev=nlev,
                     levels=[list(range(1, k + 1)) for k in nlev])
    ths = [th[j, : nlev[j] - 1] for j in range(p)]
    return CorrelationResult(od, ths, np.zeros(p), np.ones(p), R, res[1], res[2], tables=res[3])


def _solve_pairs(freq, th, nlev, rows, cols, names, zero_add, zero_keep_margins, warn, rho0=None):
    """Zero-cell rules, then Newton for the pairs without a fixed value. th (..., p, kmax-1)."""
    t1 = th[..., cols, :]  # table rows: the earlier item (lavaan's fit.y1 = UNI[[j]])
    t2 = th[..., rows, :]
    adj, fixed, empty, two = zero_cell_rules(freq, nlev[cols], nlev[rows], t1[..., 0], t2[..., 0],
                                             zero_add, zero_keep_margins)
    rho, conv = solve_polychoric(adj, t1, t2, rho0)
    rho = np.where(np.isnan(fixed), rho, fixed)
    conv = conv | ~np.isnan(fixed)
    zct = []
    if warn:
        for q in np.flatnonzero(np.asarray(empty).reshape(-1)) if np.ndim(empty) == 1 else []:
            zct.append((names[cols[q]], names[rows[q]]))
        for q in np.flatnonzero(np.asarray(two)) if np.ndim(two) == 1 else []:
            warnings.warn(f"two empty cells in the 2x2 table of {names[cols[q]]} x {names[rows[q]]}: "
                          f"polychoric correlation set to {rho[q]:+.0f}", DataWarning, stacklevel=3)
        for q in np.flatnonzero(~conv) if np.ndim(conv) == 1 else []:
            warnings.warn(f"polychoric correlation of {names[cols[q]]} and {names[rows[q]]} did not converge",
                          DataWarning, stacklevel=3)
        for q in np.flatnonzero(np.abs(rho) > 0.99) if np.ndim(rho) == 1 else []:
            warnings.warn(f"correlation between {names[rows[q]]} and {names[cols[q]]} is (nearly) 1.0 "
                          f"({rho[q]:.4f})", DataWarning, stacklevel=3)
    return rho, conv, zct, adj


def two_step(data, ordered=True, *, weights=None, missing="pairwise", zero_add=(0.5, 0.0),
             zero_keep_margins=True, levels=None, group=None) -> CorrelationResult:
    """Thresholds, means/variances and polychoric/polyserial correlations of ``data``.

    ``missing`` is ``"pairwise"`` (every statistic from the cases observed on its variables)
    or ``"listwise"`` (cases with any missing value dropped first).
    """
    import pandas as pd

    if missing not in ("pairwise", "listwise"):
        from ...exceptions import OptionError

        raise OptionError(f"missing must be one of pairwise, listwise; got {missing!r}")
    if not isinstance(data, OrdinalData):
        df = data if isinstance(data, pd.DataFrame) else pd.DataFrame(np.asarray(data))
        na = df.isna().to_numpy()
        # listwise: every incomplete case goes; pairwise: the cases without any answer (lavaan
        # drops these "empty cases" and does not count them in N)
        keep = ~na.any(axis=1) if missing == "listwise" else ~na.all(axis=1)
        if missing == "pairwise" and not keep.all():
            warnings.warn(f"{int((~keep).sum())} case(s) have no value at all and are left out (as lavaan does)",
                          DataWarning, stacklevel=2)
        if not keep.all():
            data = df.loc[keep]
            if weights is not None:
                weights = np.asarray(weights, float)[keep]
    od = data if isinstance(data, OrdinalData) else prepare(data, ordered, levels=levels, group=group)
    p = len(od.names)
    oi, ni = od.ordered_idx, od.numeric_idx
    kmax = int(od.nlev.max())
    th_all = np.full((p, kmax - 1), np.inf)
    cnt = _item_counts(od.codes, kmax, weights)
    for j in oi:
        th_all[j, : od.nlev[j] - 1] = item_thresholds(cnt[j, : od.nlev[j]])
    mean = np.zeros(p)
    var = np.ones(p)
    for j in ni:
        mean[j], var[j] = _uvreg(od.values[:, j], weights)
    rows, cols = pair_index(p)
    R = np.eye(p)
    conv = np.ones(len(rows), bool)
    zct = []
    oo = np.flatnonzero(np.isin(rows, oi) & np.isin(cols, oi))
    tables = None
    if oo.size:
        freq = pair_tables(od.codes, rows[oo], cols[oo], kmax, weights)
        r, c, z, tables = _solve_pairs(freq, th_all, od.nlev, rows[oo], cols[oo], od.names, zero_add,
                                       zero_keep_margins, warn=True)
        R[rows[oo], cols[oo]] = r
        conv[oo] = c
        zct = z
    mixed = np.flatnonzero(np.isin(rows, oi) != np.isin(cols, oi))
    if mixed.size:
        num = np.where(np.isin(rows[mixed], ni), rows[mixed], cols[mixed])
        ordv = np.where(np.isin(rows[mixed], ni), cols[mixed], rows[mixed])
        r, c = polyserial(od.values[:, num], od.codes[:, ordv], [th_all[j, : od.nlev[j] - 1] for j in ordv],
                          weights=weights)
        R[rows[mixed], cols[mixed]] = r
        conv[mixed] = c
    nn = np.flatnonzero(np.isin(rows, ni) & np.isin(cols, ni))
    for q in nn:
        R[rows[q], cols[q]], conv[q] = pearson_twostep(od.values[:, rows[q]], od.values[:, cols[q]],
                                                       weights=weights)
    R[cols, rows] = R[rows, cols]
    ths = [th_all[j, : od.nlev[j] - 1] if od.types[j] == "ordered" else np.array([mean[j]]) for j in range(p)]
    out = CorrelationResult(od, ths, mean, var, R, conv, zct, tables=tables)
    out.weights = None if weights is None else np.asarray(weights, float)  # of the cases kept
    return out
