"""The asymptotic covariance matrix of thresholds and correlations (lavaan's ``muthen1984``).

Casewise scores of the step-1 estimates (thresholds; mean and variance of a continuous
variable) and of every step-2 correlation are stacked in lavaan's order, ``SC = [SC.TH, SC.VAR,
SC.COR]``; ``INNER = SC' SC`` (missing values count as 0). With ``A11`` the block-diagonal
(per variable) part of ``INNER``, ``A22 = diag(sum(SC.COR^2))`` and ``A21`` the cross products of
the correlation scores with the *bivariate* threshold scores,
``B^-1 = [[A11^-1, 0], [-A22^-1 A21 A11^-1, A22^-1]]`` and ``W = B^-1 INNER B^-T`` ("Muthén
1984" sandwich). With continuous variables the correlation slots become covariances through
lavaan's ``H`` and the mean slots change sign (lavaan's WLS.obs holds ``-mean``).
``NACOV = N W`` (``lavInspect(fit, "gamma")``; lavaan's ``gamma.n.minus.one = FALSE``), and the
DWLS weight is ``WLS.V = diag(1 / diag(NACOV))``.

Order of the statistics (lavaan's WLS.obs): the thresholds of each variable in data order
(``x1|t1, x1|t2, ..., age~1``), the variances of the continuous variables (``age~~age``), then
the correlations/covariances ``vech(., diagonal = FALSE)``: (2,1), (3,1), ..., (p,1), (3,2), ...

``weights`` are frequency weights (case i counts ``w_i`` times): the result equals the one of
the data set with every case repeated, which is what a bootstrap draw by counts needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr

from .polychoric import SQRT_EPS, CorrelationResult, _phi_gnorm, cell_probs, pair_index, two_step
from .thresholds import category_probs

__all__ = ["SampleStats", "sample_stats", "nacov_from"]

_INV_SQRT_2PI = 1.0 / np.sqrt(2.0 * np.pi)


def _dnorm(x):
    return np.exp(-0.5 * x * x) * _INV_SQRT_2PI


@dataclass(frozen=True)
class SampleStats:
    """lavaan's categorical sample statistics of one group.

    ``wls_obs`` (Series, lavaan's names and order), ``nacov`` (DataFrame, ``lavInspect(fit,
    "gamma")``), ``wls_v`` (Series: the DWLS weights, the diagonal of ``WLS.V``), ``nobs``,
    ``two_step`` (the :class:`~.polychoric.CorrelationResult` of thresholds and correlations).
    """

    wls_obs: pd.Series
    nacov: pd.DataFrame
    wls_v: pd.Series
    nobs: float
    two_step: CorrelationResult

    @property
    def cor(self) -> pd.DataFrame:
        return self.two_step.cor()

    @property
    def th(self) -> pd.Series:
        """The thresholds of the ordinal items (lavaan's ``lavInspect(fit, "th")``)."""
        return self.wls_obs[[k for k in self.wls_obs.index if "|t" in k]]


def _bounds(th):
    """Category bounds with lavaan's +-100 outside: (K+1,) = [-100, th..., 100]."""
    return np.concatenate([[-100.0], np.asarray(th, float), [100.0]])


def _ordinal_th_scores(codes, th):
    """Univariate threshold scores (n, K-1) (lav_uvord_scores), 0 for a missing answer."""
    K = len(th) + 1
    pc = category_probs(th)
    tab = np.zeros((K + 1, K - 1))  # row 0 = missing
    dth = _dnorm(np.asarray(th))
    for c in range(1, K + 1):
        if c <= K - 1:
            tab[c, c - 1] += dth[c - 1] / pc[c - 1]
        if c >= 2:
            tab[c, c - 2] -= dth[c - 2] / pc[c - 1]
    return tab[codes]


def _pair_cell_scores(th1, th2, rho):
    """Per cell (A, C) of an ordinal pair: dlogPI/drho and dlogPI/dth for both items.

    Rows: item 1 (categories a), columns item 2. Cells with PI <= sqrt(eps) get NaN (lavaan's NA).
    Returns s_rho (A, C), s_t1 (A, C, A-1), s_t2 (A, C, C-1).
    """
    th1 = np.asarray(th1, float)
    th2 = np.asarray(th2, float)
    A, C = len(th1) + 1, len(th2) + 1
    PI = cell_probs(th1, th2, np.asarray(rho, float))
    lik = np.where(PI <= SQRT_EPS, np.nan, PI)
    phi, _ = _phi_gnorm(th1, th2, np.asarray(rho, float), need_g=False)
    s_rho = phi / lik
    R = np.sqrt(1.0 - rho * rho)
    b1, b2 = _bounds(th1), _bounds(th2)
    up1, lo1 = b1[1:][:, None], b1[:-1][:, None]  # (A,1)
    up2, lo2 = b2[1:][None, :], b2[:-1][None, :]  # (1,C)
    y1Z1 = _dnorm(up1) * (ndtr((up2 - rho * up1) / R) - ndtr((lo2 - rho * up1) / R))
    y1Z2 = _dnorm(lo1) * (ndtr((up2 - rho * lo1) / R) - ndtr((lo2 - rho * lo1) / R))
    y2Z1 = _dnorm(up2) * (ndtr((up1 - rho * up2) / R) - ndtr((lo1 - rho * up2) / R))
    y2Z2 = _dnorm(lo2) * (ndtr((up1 - rho * lo2) / R) - ndtr((lo1 - rho * lo2) / R))
    s_t1 = np.zeros((A, C, A - 1))
    s_t2 = np.zeros((A, C, C - 1))
    for k in range(A - 1):
        s_t1[k, :, k] += y1Z1[k, :]
        s_t1[k + 1, :, k] -= y1Z2[k + 1, :]
    for k in range(C - 1):
        s_t2[:, k, k] += y2Z1[:, k]
        s_t2[:, k + 1, k] -= y2Z2[:, k + 1]
    s_t1 /= lik[..., None]
    s_t2 /= lik[..., None]
    return s_rho, s_t1, s_t2


def _polyserial_scores(x, mu, var, codes, th, rho):
    """Casewise scores of a polyserial pair (lav_bvmix_cor_scores); NaN where either is missing."""
    sd = np.sqrt(var)
    Z = (x - mu) / sd
    b = _bounds(th)
    c = np.asarray(codes)
    miss = (c == 0) | np.isnan(x)
    cc = np.where(miss, 1, c)
    z1 = b[cc]
    z2 = b[cc - 1]
    R = np.sqrt(1.0 - rho * rho)
    ts1 = (z1 - rho * Z) / R
    ts2 = (z2 - rho * Z) / R
    yZ1, yZ2 = _dnorm(ts1), _dnorm(ts2)
    py = np.maximum(ndtr(ts1) - ndtr(ts2), np.finfo(float).eps)
    pinv = 1.0 / py
    dz = yZ1 - yZ2
    d_mu = 1.0 / sd * (Z + pinv * (rho / R) * dz)
    d_var = 1.0 / (2.0 * var) * ((Z * Z - 1.0) + (pinv * rho * Z / R) * dz)
    K = len(th) + 1
    d_th = np.zeros((len(x), K - 1))
    rows = np.arange(len(x))
    up = cc <= K - 1
    d_th[rows[up], cc[up] - 1] += yZ1[up]
    lo = cc >= 2
    d_th[rows[lo], cc[lo] - 2] -= yZ2[lo]
    d_th *= (pinv / R)[:, None]
    d_rho = pinv / R ** 3 * (yZ1 * (z1 * rho - Z) - yZ2 * (z2 * rho - Z))
    for a in (d_mu, d_var, d_rho):
        a[miss] = np.nan
    d_th[miss] = np.nan
    return d_mu, d_var, d_th, d_rho


def _bvreg_scores(y1, m1, v1, y2, m2, v2, rho):
    """Casewise scores of a pair of continuous variables (lav_bvreg_cor_scores); NaN if either is missing."""
    c1, c2 = y1 - m1, y2 - m2
    s1, s2 = np.sqrt(v1), np.sqrt(v2)
    R = 1.0 - rho * rho
    d_mu1 = (2 * c1 / v1 - 2 * rho * c2 / (s1 * s2)) / (2 * R)
    d_mu2 = -(2 * rho * c1 / (s1 * s2) - 2 * c2 / v2) / (2 * R)
    d_var1 = -(0.5 / v1 - ((c1 * c1) / (v1 * v1) - rho * c1 * c2 / (v1 * s1 * s2)) / (2 * R))
    d_var2 = -(0.5 / v2 + (rho * c1 * c2 / (v2 * s1 * s2) - (c2 * c2) / (v2 * v2)) / (2 * R))
    z = c1 * c1 / v1 - 2 * rho * c1 * c2 / (s1 * s2) + c2 * c2 / v2
    d_rho = rho / R + (c1 * c2 / (s1 * s2 * R) - z * rho / (R * R))
    return d_mu1, d_var1, d_mu2, d_var2, d_rho


def nacov_from(res: CorrelationResult, weights=None, *, chunk: int = 20000) -> SampleStats:
    """NACOV, WLS.obs and DWLS weights from a two-step result (see the module docstring)."""
    od = res.data
    n = od.n
    p = len(od.names)
    w = np.ones(n) if weights is None else np.asarray(weights, float)
    N = float(w.sum())
    types = od.types
    # ---- column layout
    th_cols, th_names, pos = [], [], 0
    for j in range(p):
        k = len(res.th[j])
        th_cols.append(np.arange(pos, pos + k))
        th_names += [f"{od.names[j]}|t{t + 1}" for t in range(k)] if types[j] == "ordered" else [f"{od.names[j]}~1"]
        pos += k
    nth = pos
    num = [j for j in range(p) if types[j] == "numeric"]
    var_col = {j: nth + q for q, j in enumerate(num)}
    rows, cols = pair_index(p)
    pstar = len(rows)
    ncol_a11 = nth + len(num)
    m = ncol_a11 + pstar
    # ---- univariate scores (n, ncol_a11)
    SC1 = np.zeros((n, ncol_a11))
    for j in range(p):
        if types[j] == "ordered":
            SC1[:, th_cols[j]] = _ordinal_th_scores(od.codes[:, j], res.th[j])
        else:
            x = od.values[:, j]
            r = x - res.mean[j]
            v = res.var[j]
            s_mu = np.where(np.isnan(x), 0.0, r / v)
            s_var = np.where(np.isnan(x), 0.0, -1.0 / (2 * v) + r * r / (2 * v * v))
            SC1[:, th_cols[j][0]] = s_mu
            SC1[:, var_col[j]] = s_var
    # ---- correlation scores and A21
    SCC = np.zeros((n, pstar))
    A21 = np.zeros((pstar, ncol_a11))
    H21 = np.zeros((pstar, ncol_a11))
    H22 = np.eye(pstar)
    for q in range(pstar):
        i, j = rows[q], cols[q]  # i later, j earlier
        rho = res.R[i, j]
        if types[i] == "ordered" and types[j] == "ordered":
            s_rho, s_tj, s_ti = _pair_cell_scores(res.th[j], res.th[i], rho)  # rows: item j
            Kj, Ki = od.nlev[j], od.nlev[i]
            cj, ci = od.codes[:, j], od.codes[:, i]
            obs = (cj > 0) & (ci > 0)
            sr = np.zeros(n)
            sr[obs] = s_rho[cj[obs] - 1, ci[obs] - 1]
            sr[~np.isfinite(sr)] = 0.0
            SCC[:, q] = sr
            tab = np.bincount((cj * (Ki + 1) + ci)[obs], weights=w[obs], minlength=(Kj + 1) * (Ki + 1))
            tab = tab.reshape(Kj + 1, Ki + 1)[1:, 1:]
            fr = np.where(np.isfinite(s_rho), tab * s_rho, 0.0)
            A21[q, th_cols[j]] = np.nansum(fr[..., None] * np.where(np.isfinite(s_tj), s_tj, 0.0), axis=(0, 1))
            A21[q, th_cols[i]] = np.nansum(fr[..., None] * np.where(np.isfinite(s_ti), s_ti, 0.0), axis=(0, 1))
        elif types[i] == "ordered" or types[j] == "ordered":
            nu, ov = (i, j) if types[i] == "numeric" else (j, i)
            d_mu, d_var, d_th, d_rho = _polyserial_scores(od.values[:, nu], res.mean[nu], res.var[nu],
                                                          od.codes[:, ov], res.th[ov], rho)
            d_rho = np.where(np.isnan(d_rho), 0.0, d_rho)
            SCC[:, q] = d_rho
            wr = w * d_rho
            A21[q, th_cols[nu][0]] = np.nansum(wr * d_mu)
            A21[q, th_cols[ov]] = np.nansum(wr[:, None] * d_th, axis=0)
            A21[q, var_col[nu]] = np.nansum(wr * d_var)
            H21[q, var_col[nu]] = rho / (2.0 * np.sqrt(res.var[nu]))
            H22[q, q] = np.sqrt(res.var[nu])
        else:  # two continuous variables (lav_bvreg_cor_scores, fit.y1 = the later one)
            sc = _bvreg_scores(od.values[:, i], res.mean[i], res.var[i], od.values[:, j], res.mean[j], res.var[j], rho)
            d_mu1, d_var1, d_mu2, d_var2, d_rho = (np.where(np.isnan(x), 0.0, x) for x in sc)
            SCC[:, q] = d_rho
            wr = w * d_rho
            A21[q, th_cols[i][0]] = np.sum(wr * d_mu1)
            A21[q, th_cols[j][0]] = np.sum(wr * d_mu2)
            A21[q, var_col[i]] = np.sum(wr * d_var1)
            A21[q, var_col[j]] = np.sum(wr * d_var2)
            vi, vj = res.var[i], res.var[j]
            H21[q, var_col[i]] = np.sqrt(vj) * rho / (2.0 * np.sqrt(vi))
            H21[q, var_col[j]] = np.sqrt(vi) * rho / (2.0 * np.sqrt(vj))
            H22[q, q] = np.sqrt(vi) * np.sqrt(vj)
    # ---- INNER = SC' diag(w) SC, in chunks of cases
    INNER = np.zeros((m, m))
    for s in range(0, n, chunk):
        blk = np.concatenate([SC1[s:s + chunk], SCC[s:s + chunk]], axis=1)
        INNER += blk.T @ (blk * w[s:s + chunk, None])
    A11 = np.zeros((ncol_a11, ncol_a11))
    for j in range(p):
        idx = list(th_cols[j]) + ([var_col[j]] if j in var_col else [])
        A11[np.ix_(idx, idx)] = INNER[np.ix_(idx, idx)]
    da22 = np.diag(INNER)[ncol_a11:]
    A11inv = np.linalg.inv(A11)
    A22inv = np.diag(1.0 / da22)
    Binv = np.zeros((m, m))
    Binv[:ncol_a11, :ncol_a11] = A11inv
    Binv[ncol_a11:, :ncol_a11] = -A22inv @ A21 @ A11inv
    Binv[ncol_a11:, ncol_a11:] = A22inv
    W = Binv @ INNER @ Binv.T
    if num:
        H = np.eye(m)
        H[ncol_a11:, :ncol_a11] = H21
        H[ncol_a11:, ncol_a11:] = H22
        W = H @ W @ H.T
        flip = np.ones(m)
        for j in num:
            flip[th_cols[j][0]] = -1.0
        W = W * np.outer(flip, flip)
    G = W * N
    G = 0.5 * (G + G.T)
    # ---- WLS.obs
    cov = res.cov()
    obs_vals = []
    for j in range(p):
        obs_vals += list(res.th[j]) if types[j] == "ordered" else [-res.mean[j]]
    obs_vals += [res.var[j] for j in num]
    obs_vals += list(cov[rows, cols])
    names = th_names + [f"{od.names[j]}~~{od.names[j]}" for j in num] + [
        f"{od.names[j]}~~{od.names[i]}" for i, j in zip(rows, cols)]
    wls_obs = pd.Series(np.asarray(obs_vals, float), index=names, name="wls.obs")
    nacov = pd.DataFrame(G, index=names, columns=names)
    wls_v = pd.Series(1.0 / np.diag(G), index=names, name="wls.v")
    return SampleStats(wls_obs=wls_obs, nacov=nacov, wls_v=wls_v, nobs=N, two_step=res)


def sample_stats(data, ordered=True, *, weights=None, missing="pairwise", zero_add=(0.5, 0.0),
                 zero_keep_margins=True, levels=None, group=None) -> SampleStats:
    """Thresholds, correlations, NACOV and DWLS weights of ``data`` (lavaan's WLSMV sample statistics).

    Equal to lavaan 0.6.14's ``lavInspect(fit, "wls.obs")``, ``lavInspect(fit, "gamma")`` and
    ``diag(lavInspect(fit, "wls.v"))`` for ``lavCor(data, ordered = ..., missing = ...,
    estimator = "WLSMV", se = "robust.sem", output = "fit")``. In a multi-group model call it
    per group with ``levels=prepare(all_data, ordered).level_map()`` and ``group=label``.
    """
    res = two_step(data, ordered, weights=weights, missing=missing, zero_add=zero_add,
                   zero_keep_margins=zero_keep_margins, levels=levels, group=group)
    return nacov_from(res, res.weights)
