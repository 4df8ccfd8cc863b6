"""Reliability and validity of ordinal items, as semTools 0.5.6 computes them on a lavaan WLSMV fit.

Per construct (:func:`ordinal_reliability_table`):

- ``omega``: ``compRelSEM(fit)`` for categorical items, Green & Yang's (2009) categorical omega
  (``ord.scale = TRUE``): the share of the variance of the sum of the item codes due to the factor,
  from the bivariate normal probabilities of the thresholds under the model's common correlations
  ``s_i s_j lambda_i lambda_j psi`` against the polychorics.
- ``omega_lat``: ``compRelSEM(fit, ord.scale = FALSE)``: ``sum(L psi L') / sum(Sigma)`` on the
  latent responses.
- ``alpha_ord``: ordinal alpha (Zumbo et al. 2007), alpha of the polychoric correlations
  (``compRelSEM(fit, tau.eq = TRUE, ord.scale = FALSE)``).
- ``alpha_raw``: alpha of the raw item codes (``compRelSEM(fit, tau.eq = TRUE)``).
- ``ave``: ``AVE(fit)``: ``sum(lambda^2) psi / sum(diag(Sigma))``.

``Sigma`` is semTools' rescaled sample matrix ``diag(1/s) P diag(1/s)`` with ``P`` the polychorics
and ``s`` lavaan's scales (``~*~``: 1 in the delta parameterization, ``1/sd(y*)`` in theta),
``lambda`` and ``psi`` lavaan's estimates (``lavInspect(fit, "est")``, ``cov.lv``). HTMT and HTMT2
are semTools' ``htmt(model, data, ordered = items)``: the polychoric matrix of the fit.

:func:`ordinal_quality` fills :class:`smsem.estimate.quality.MeasurementQuality` (what
``smsem.reliability(res)`` returns) with ``alpha = alpha_ord`` and ``cr = omega``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["ordinal_reliability_table", "ordinal_quality", "omega_categorical"]

ORDINAL_RELIABILITY_COLUMNS = ["construct", "n_items", "omega", "omega_lat", "alpha_ord", "alpha_raw", "ave"]


def _alpha(s: np.ndarray) -> float:
    k = s.shape[0]
    return float(k / (k - 1) * (1 - np.trace(s) / np.sum(s)))


def omega_categorical(truevar: np.ndarray, thresholds: list[np.ndarray], scales: np.ndarray,
                      denom: np.ndarray) -> float:
    """semTools' ``omegaCat``: categorical omega of items with thresholds ``thresholds`` (y* scale),
    common covariance ``truevar`` (y* scale), ``scales`` (lavaan's ``~*~``) and the sample
    matrix ``denom`` (its correlation form is used)."""
    from .polychoric import bvn_cdf
    from scipy.special import ndtr

    R = scales[:, None] * truevar * scales[None, :]
    d = np.sqrt(np.diag(denom))
    P = denom / np.outer(d, d)
    t = [np.asarray(th, float) * sc for th, sc in zip(thresholds, scales)]
    num = den = 0.0
    k = len(t)
    for j in range(k):
        for jp in range(k):
            h, kk = np.meshgrid(t[j], t[jp], indexing="ij")
            both = float(ndtr(t[j]).sum() * ndtr(t[jp]).sum())
            num += float(bvn_cdf(h, kk, np.clip(R[j, jp], -1.0, 1.0)).sum()) - both
            den += float(bvn_cdf(h, kk, np.clip(P[j, jp], -1.0, 1.0)).sum()) - both
    return num / den


def _parts(res):
    info = getattr(res, "_ordinal", None)
    if info is None:
        from ...exceptions import OptionError

        raise OptionError("ordinal reliability needs a fit with ordered items (fit(..., ordered=...))")
    eng = info["engine"]
    mx = res.matrices
    ov = list(mx.observed)
    scales = np.asarray(eng.delta(res.start), float) if eng.theta_param else np.ones(len(ov))
    sc = dict(zip(eng.ov, scales))
    ts = res.sample_stats.two_step  # lavaan's sampstat cov: polychorics, variances of continuous items
    P = pd.DataFrame(ts.cov(), index=ts.names, columns=ts.names).loc[ov, ov].to_numpy()
    s_vec = np.array([sc[v] for v in ov])
    sigma = P / np.outer(s_vec, s_vec)
    p = res.params
    th = {v: p[(p.op == "|") & (p.lhs == v)]["est"].to_numpy(float) for v in ov}
    parsed = res.model.parsed
    blocks = {c: parsed.indicators(c) for c in parsed.latents if len(parsed.indicators(c)) > 1}
    return mx, ov, sc, sigma, th, blocks, set(res._ordinal["ordinal"])


def ordinal_reliability_table(res) -> pd.DataFrame:
    """Per construct with two or more items: ``ORDINAL_RELIABILITY_COLUMNS`` (see the module)."""
    mx, ov, sc, sigma, th, blocks, ordinal = _parts(res)
    inner = list(mx.inner)
    phi = mx.inner_cov
    lam_nz = np.abs(np.round(mx.lambda_, 5)) > 0
    cidx = [inner.index(c) for c in blocks]
    raw = res.data[ov].astype(float)
    raw_cov = np.cov(raw.dropna().to_numpy(), rowvar=False)
    s_vec = np.array([sc[v] for v in ov])
    raw_cov = raw_cov / np.outer(s_vec, s_vec)
    rows = []
    for c, its in blocks.items():
        j = inner.index(c)
        ii = [ov.index(i) for i in its]
        lam = mx.lambda_[ii, j]
        common = np.outer(lam, lam) * phi[j, j]
        sb = sigma[np.ix_(ii, ii)]
        cross = any(lam_nz[i, [k for k in cidx if k != j]].any() for i in ii)
        ave = float("nan") if cross else float(np.sum(lam ** 2) * phi[j, j] / np.trace(sb))
        if all(i in ordinal for i in its):
            omega = omega_categorical(common, [th[i] for i in its], s_vec[ii], sb)
            lat, a_ord = float(common.sum() / sb.sum()), _alpha(sb)
        elif not any(i in ordinal for i in its):  # continuous items only: the continuous formulas
            omega = lat = float(common.sum() / sb.sum())
            a_ord = _alpha(sb)
        else:  # semTools: no omega or latent-scale alpha for a factor of mixed items (NA)
            omega = lat = a_ord = float("nan")
        rows.append((c, len(its), omega, lat, a_ord, _alpha(raw_cov[np.ix_(ii, ii)]), ave))
    return pd.DataFrame(rows, columns=ORDINAL_RELIABILITY_COLUMNS)


def ordinal_quality(res, thresholds=None):
    """:class:`MeasurementQuality` of an ordinal fit: alpha = ordinal alpha, CR = categorical omega,
    AVE, Fornell-Larcker on the latent correlations, HTMT/HTMT2 on the polychorics."""
    from ..quality import (CONSTRUCT_COLUMNS, MeasurementQuality, QualityThresholds, discriminant_tables,
                           latent_correlations_and_loadings)

    if (getattr(res, "_ordinal", None) or {}).get("covariates"):
        from ...exceptions import OptionError

        raise OptionError("ordinal reliability with observed covariates (lavaan's conditional.x) is not available: "
                          "semTools' compRelSEM fails on such a model; fit the measurement model without them")
    th = thresholds if thresholds is not None else QualityThresholds()
    mx, ov, _, _, _, blocks, _ = _parts(res)
    inner = list(mx.inner)
    cor_lv, loadings = latent_correlations_and_loadings(mx, blocks, ov, th)
    rel = ordinal_reliability_table(res)
    cons = list(blocks)
    cidx = [inner.index(c) for c in cons]
    con_rows = []
    for r, j in zip(rel.itertuples(index=False), cidx):
        others = [abs(cor_lv[j, k]) for k in cidx if k != j]
        max_r = float(max(others)) if others else float("nan")
        sq = float(np.sqrt(r.ave)) if r.ave >= 0 else float("nan")
        con_rows.append((r.construct, r.n_items, r.alpha_ord, r.omega, r.ave, sq, max_r,
                         bool(r.alpha_ord >= th.alpha), bool(r.omega >= th.cr), bool(r.ave >= th.ave),
                         bool(sq > max_r) if others else True))
    constructs = pd.DataFrame(con_rows, columns=CONSTRUCT_COLUMNS)
    fl, h1, h2, discriminant = discriminant_tables(constructs, cor_lv, cidx, res.sample_stats.cor, blocks, th)
    return MeasurementQuality(loadings, constructs, fl, h1, h2, discriminant, th, int(res.n))
