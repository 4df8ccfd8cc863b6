"""Measurement quality per construct: loadings, alpha, CR, AVE, Fornell–Larcker, HTMT.

The statistics follow semTools 0.5.6 (the version the reference values come from;
``scripts/semtools_reference.R``), with its defaults:

* **alpha** — ``compRelSEM(fit, tau.eq = TRUE)``: Cronbach's coefficient alpha of the
  construct's items from the sample covariance, ``k/(k-1) (1 - tr S / 1'S1)``.
* **CR (omega, rhoC)** — ``compRelSEM(fit)`` (``tau.eq = FALSE``, ``obs.var = TRUE``):
  ``(1'λ)^2 φ / 1'S1`` with the *unstandardized* loadings λ, the model-implied variance φ
  of the construct and the *sample* covariance S of its items (divided by N, lavaan's
  ``sampstat``). With ``obs.var = TRUE`` the denominator is observed, not implied, so CR is
  not the textbook ``(Σλstd)^2 / ((Σλstd)^2 + Σθstd)``; the two agree when the model fits.
* **AVE** — ``AVE(fit)`` (``obs.var = TRUE``): ``Σλ² φ / tr S``; NaN for a construct with an
  item that also loads on another construct (as semTools).
* **Fornell–Larcker** — sqrt(AVE) on the diagonal, model-implied latent correlations
  (lavaan's ``cor.lv``) off it; the criterion holds when sqrt(AVE) of each construct
  exceeds its absolute correlation with every other construct.
* **HTMT** — ``htmt(model, data, htmt2 = FALSE)``: mean absolute heterotrait correlation
  over the geometric mean of the two mean monotrait correlations, from the Pearson
  correlations of the complete cases (under FIML: of the EM estimates, ``htmt(model, data,
  missing = "ml", htmt2 = FALSE)``, the same moments as alpha, CR and AVE). **HTMT2** — ``htmt2 = TRUE`` (semTools 0.5.6's
  default): the same with geometric instead of arithmetic means (Roemer et al., 2021).

Under FIML (``missing="fiml"``) every statistic reads the EM estimates of the unrestricted
covariance from every respondent the fit uses (lavaan's ``sampstat`` of a ``missing = "ml"``
fit, what semTools reads from it), not the complete cases; :attr:`MeasurementQuality.moments`
and ``n`` say which.

Constructs with a single indicator are left out (semTools' ``dropSingle = TRUE``).
Thresholds (Hair et al.): standardized loading >= .708, alpha and CR >= .70,
AVE >= .50, HTMT < .85 (strict) or < .90 (liberal); see :class:`QualityThresholds`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._validation import check_real
from .backend import standardized_matrices
from .results import FitResults

__all__ = [
    "QualityThresholds",
    "MeasurementQuality",
    "reliability",
    "LOADING_COLUMNS",
    "CONSTRUCT_COLUMNS",
    "DISCRIMINANT_COLUMNS",
    "cronbach_alpha",
    "composite_reliability",
    "average_variance_extracted",
    "htmt",
]

#: Columns of :attr:`MeasurementQuality.loadings`.
LOADING_COLUMNS = ["construct", "item", "est", "std_all", "loading_ok"]
#: Columns of :attr:`MeasurementQuality.constructs`.
CONSTRUCT_COLUMNS = [
    "construct", "n_items", "alpha", "cr", "ave", "sqrt_ave", "max_abs_corr",
    "alpha_ok", "cr_ok", "ave_ok", "fornell_larcker_ok",
]
#: Columns of :attr:`MeasurementQuality.discriminant` (one row per pair of constructs).
DISCRIMINANT_COLUMNS = [
    "construct_a", "construct_b", "corr", "htmt", "htmt2",
    "htmt_lt_strict", "htmt_lt_liberal", "htmt2_lt_strict", "htmt2_lt_liberal",
]


@dataclass(frozen=True)
class QualityThresholds:
    """Cut-offs of the measurement checklist (Hair et al., *PLS-SEM primer*; Henseler et al. 2015).

    Parameters
    ----------
    loading : float, default=0.708
        Minimum standardized loading.
    alpha, cr : float, default=0.70
        Minimum Cronbach's alpha and composite reliability.
    ave : float, default=0.50
        Minimum average variance extracted.
    htmt_strict, htmt_liberal : float, default=0.85, 0.90
        HTMT must be below these (conceptually distinct / similar constructs).
    """

    loading: float = 0.708
    alpha: float = 0.70
    cr: float = 0.70
    ave: float = 0.50
    htmt_strict: float = 0.85
    htmt_liberal: float = 0.90

    def __post_init__(self) -> None:
        for name in ("loading", "alpha", "cr", "ave", "htmt_strict", "htmt_liberal"):
            check_real(f"thresholds.{name}", getattr(self, name), low=0, high=1)


def cronbach_alpha(cov: np.ndarray) -> float:
    """Coefficient alpha of a sum score from the items' covariance matrix."""
    cov = np.asarray(cov, dtype=float)
    k = cov.shape[0]
    return float(k / (k - 1) * (1 - np.trace(cov) / cov.sum()))


def composite_reliability(loadings: np.ndarray, latent_var: float, cov: np.ndarray) -> float:
    """CR (omega) as ``semTools::compRelSEM`` (obs.var = TRUE): ``(sum λ)^2 φ / 1'S1``.

    ``loadings`` unstandardized, ``latent_var`` the model-implied variance of the construct,
    ``cov`` the sample covariance of its items.
    """
    lam = np.asarray(loadings, dtype=float)
    return float(lam.sum() ** 2 * latent_var / np.asarray(cov, dtype=float).sum())


def average_variance_extracted(loadings: np.ndarray, latent_var: float, cov: np.ndarray) -> float:
    """AVE as ``semTools::AVE`` (obs.var = TRUE): ``sum(λ^2) φ / tr S``."""
    lam = np.asarray(loadings, dtype=float)
    return float((lam ** 2).sum() * latent_var / np.trace(np.asarray(cov, dtype=float)))


def htmt(corr: pd.DataFrame, blocks: dict[str, list[str]], *, geometric: bool = False) -> pd.DataFrame:
    """Heterotrait–monotrait ratio matrix from an item correlation matrix (semTools' ``htmt``).

    Parameters
    ----------
    corr : DataFrame
        Item correlations, indexed and labelled by item.
    blocks : dict
        ``construct -> items``.
    geometric : bool, default=False
        Geometric means of the absolute correlations (HTMT2) instead of arithmetic means.
    """
    r = np.abs(corr.to_numpy(dtype=float))
    names = list(corr.columns)
    idx = {c: [names.index(i) for i in items] for c, items in blocks.items()}

    def mean(values: np.ndarray) -> float:
        return float(np.exp(np.mean(np.log(values)))) if geometric else float(np.mean(values))

    mono = {}
    for c, ii in idx.items():
        sub = r[np.ix_(ii, ii)]
        mono[c] = mean(sub[~np.eye(len(ii), dtype=bool)])
    cons = list(blocks)
    out = np.ones((len(cons), len(cons)))
    for a, ca in enumerate(cons):
        for b, cb in enumerate(cons):
            if a != b:
                out[a, b] = mean(r[np.ix_(idx[ca], idx[cb])].ravel()) / np.sqrt(mono[ca] * mono[cb])
    return pd.DataFrame(out, index=cons, columns=cons)


@dataclass(frozen=True)
class MeasurementQuality:
    """Reliability and validity of each construct of a fitted model. Build with :func:`reliability`.

    Attributes
    ----------
    loadings : DataFrame
        ``LOADING_COLUMNS``: unstandardized and standardized (std.all) loading of each item,
        flagged ``std_all >= thresholds.loading``.
    constructs : DataFrame
        ``CONSTRUCT_COLUMNS``: alpha, CR (omega), AVE, sqrt(AVE), the largest absolute
        correlation with another construct, and the flags.
    fornell_larcker : DataFrame
        Square: sqrt(AVE) on the diagonal, latent correlations off it.
    htmt, htmt2 : DataFrame
        Square HTMT and HTMT2 matrices (1 on the diagonal).
    discriminant : DataFrame
        ``DISCRIMINANT_COLUMNS``: each pair once, with its latent correlation, HTMT, HTMT2
        and whether each is below the strict and liberal cut-offs.
    thresholds : QualityThresholds
    n : int
        Respondents the statistics use: the complete cases, or under FIML every respondent
        with at least one answer (the EM moments).
    moments : str
        ``"complete cases"`` (sample moments of the complete cases) or ``"EM"`` (a FIML fit:
        alpha, CR, AVE and HTMT from the EM estimates of the unrestricted covariance, as
        semTools' compRelSEM and AVE on the lavaan fit and ``htmt(..., missing = "ml")``).
    """

    loadings: pd.DataFrame
    constructs: pd.DataFrame
    fornell_larcker: pd.DataFrame
    htmt: pd.DataFrame
    htmt2: pd.DataFrame
    discriminant: pd.DataFrame
    thresholds: QualityThresholds = field(default_factory=QualityThresholds)
    n: int = 0
    moments: str = "complete cases"

    @cached_property
    def problems(self) -> list[str]:
        """One sentence per failed check, e.g. ``"IS: AVE 0.432 < 0.50"``."""
        t = self.thresholds
        out = []
        for r in self.loadings.itertuples(index=False):
            if not r.loading_ok:
                out.append(f"{r.construct}: loading of {r.item} {r.std_all:.3f} < {t.loading:g}")
        for r in self.constructs.itertuples(index=False):
            if not r.alpha_ok:
                out.append(f"{r.construct}: alpha {r.alpha:.3f} < {t.alpha:g}")
            if not r.cr_ok:
                out.append(f"{r.construct}: CR {r.cr:.3f} < {t.cr:g}")
            if not r.ave_ok:
                out.append(f"{r.construct}: AVE {r.ave:.3f} < {t.ave:g}")
            if not r.fornell_larcker_ok:
                out.append(f"{r.construct}: sqrt(AVE) {r.sqrt_ave:.3f} <= |r| {r.max_abs_corr:.3f} (Fornell-Larcker)")
        for r in self.discriminant.itertuples(index=False):
            if not r.htmt_lt_liberal:
                out.append(f"{r.construct_a}-{r.construct_b}: HTMT {r.htmt:.3f} >= {t.htmt_liberal:g}")
            elif not r.htmt_lt_strict:
                out.append(f"{r.construct_a}-{r.construct_b}: HTMT {r.htmt:.3f} >= {t.htmt_strict:g}")
        return out

    def __str__(self) -> str:
        from ..report.formats import render_quality

        return render_quality(self, "text")


def latent_correlations_and_loadings(mx: Any, blocks: dict[str, list[str]], observed: list[str],
                                     th: QualityThresholds) -> tuple[np.ndarray, pd.DataFrame]:
    """The model-implied correlations of the inner variables and the loadings table
    (:data:`LOADING_COLUMNS`: raw and std.all loading of every item of ``blocks``, flagged
    against ``th.loading``); ``observed`` names the rows of ``mx.lambda_``."""
    phi = mx.inner_cov
    sd_lat = np.sqrt(np.diag(phi))
    cor_lv = phi / np.outer(sd_lat, sd_lat)
    _, lam_std = standardized_matrices(mx)
    inner = list(mx.inner)
    rows = []
    for c, its in blocks.items():
        j = inner.index(c)
        for it in its:
            i = observed.index(it)
            rows.append((c, it, float(mx.lambda_[i, j]), float(lam_std[i, j]), bool(lam_std[i, j] >= th.loading)))
    return cor_lv, pd.DataFrame(rows, columns=LOADING_COLUMNS)


def reliability(res: FitResults, thresholds: QualityThresholds | None = None) -> MeasurementQuality:
    """See :func:`_reliability`; an inadmissible solution (a negative variance) gives NaN
    measures without numpy warnings (the Heywood warning of the fit says why)."""
    from .._validation import check_single_group

    check_single_group(res, "reliability()")
    if getattr(res, "ordinal_table", None) is not None:  # ordinal alpha, categorical omega (semTools)
        from .categorical.quality import ordinal_quality

        return ordinal_quality(res, thresholds)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Mean of empty slice", RuntimeWarning)
        return _reliability(res, thresholds)


def _reliability(res: FitResults, thresholds: QualityThresholds | None = None) -> MeasurementQuality:
    """Measurement quality of every construct with two or more items.

    Parameters
    ----------
    res : FitResults
        From :func:`smsem.fit`.
    thresholds : QualityThresholds, optional
        Cut-offs of the flags (default: Hair et al.'s).

    Returns
    -------
    MeasurementQuality
    """
    th = thresholds if thresholds is not None else QualityThresholds()
    parsed = res.model.parsed
    mx = res.matrices
    inner, observed = list(mx.inner), list(mx.observed)
    blocks = {c: parsed.indicators(c) for c in parsed.latents if len(parsed.indicators(c)) > 1}
    items = [i for its in blocks.values() for i in its]
    x = res.data[list(dict.fromkeys(items))].dropna().astype(float)
    n = len(x)
    moments = "complete cases"
    if getattr(res, "missing", "listwise") == "fiml":
        # lavaan's sampstat under missing = "ml" (what semTools' compRelSEM and AVE read): the
        # EM estimate of the unrestricted covariance of every observed variable of the model,
        # from every respondent the fit uses
        from . import fiml

        ov = [v for v in observed if v in res.data.columns]
        xa = res.data[ov].astype(float).to_numpy()
        xa = xa[~np.isnan(xa).all(axis=1)]
        _, sigma, _, _ = fiml.em_saturated(xa, fiml.Patterns.from_data(xa))
        s = pd.DataFrame(sigma, index=ov, columns=ov).loc[x.columns, x.columns]
        # HTMT from the same EM moments: semTools' htmt(model, data, missing = "ml") (lavCor's
        # EM correlations; = htmt(model, sample.cov = the fit's sampstat)). Its default
        # missing = "listwise" would use the complete cases only (30 of 300 respondents on
        # data/synthetic/integrative_n300_seed1_missing.csv), while a FIML fit uses all.
        sd = np.sqrt(np.diag(s.to_numpy()))
        corr = s / np.outer(sd, sd)
        n = len(xa)
        moments = "EM"
    else:
        s = np.cov(x.to_numpy(), rowvar=False, bias=True)  # divided by N, as lavaan's sampstat
        s = pd.DataFrame(s, index=x.columns, columns=x.columns)
        corr = x.corr()  # HTMT: complete cases (semTools' htmt(missing = "listwise"))
    phi = mx.inner_cov
    cor_lv, loadings = latent_correlations_and_loadings(mx, blocks, observed, th)

    # Items loading on more than one construct: AVE undefined (semTools returns NA).
    lam_nz = np.abs(np.round(mx.lambda_, 5)) > 0
    cons = list(blocks)
    cidx = [inner.index(c) for c in cons]
    con_rows = []
    for c, its in blocks.items():
        j = inner.index(c)
        ii = [observed.index(i) for i in its]
        lam = mx.lambda_[ii, j]
        sb = s.loc[its, its].to_numpy()
        alpha = cronbach_alpha(sb)
        cr = composite_reliability(lam, phi[j, j], sb)
        cross = any(lam_nz[i, [k for k in cidx if k != j]].any() for i in ii)
        ave = float("nan") if cross else average_variance_extracted(lam, phi[j, j], sb)
        others = [abs(cor_lv[j, k]) for k in cidx if k != j]
        max_r = float(max(others)) if others else float("nan")
        sq = float(np.sqrt(ave)) if ave >= 0 else float("nan")
        con_rows.append((c, len(its), alpha, cr, ave, sq, max_r, bool(alpha >= th.alpha), bool(cr >= th.cr),
                         bool(ave >= th.ave), bool(sq > max_r) if others else True))
    constructs = pd.DataFrame(con_rows, columns=CONSTRUCT_COLUMNS)

    fl, h1, h2, discriminant = discriminant_tables(constructs, cor_lv, cidx, corr, blocks, th)
    return MeasurementQuality(loadings, constructs, fl, h1, h2, discriminant, th, n, moments)


def discriminant_tables(constructs: pd.DataFrame, cor_lv: np.ndarray, cidx: list[int], corr: pd.DataFrame,
                        blocks: dict[str, list[str]], th: QualityThresholds
                        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The Fornell-Larcker table (sqrt(AVE) on the diagonal, latent correlations below), HTMT,
    HTMT2 of the item correlations ``corr`` and the pairwise discriminant table, flagged
    against ``th``; ``cidx`` are the constructs' positions in ``cor_lv``."""
    cons = list(constructs["construct"])
    fl = pd.DataFrame(cor_lv[np.ix_(cidx, cidx)], index=cons, columns=cons)
    for c, sq in zip(cons, constructs["sqrt_ave"]):
        fl.loc[c, c] = sq
    h1 = htmt(corr, blocks)
    h2 = htmt(corr, blocks, geometric=True)
    pairs = []
    for a in range(len(cons)):
        for b in range(a + 1, len(cons)):
            ca, cb = cons[a], cons[b]
            v1, v2 = float(h1.loc[ca, cb]), float(h2.loc[ca, cb])
            pairs.append((ca, cb, float(cor_lv[cidx[a], cidx[b]]), v1, v2, v1 < th.htmt_strict,
                          v1 < th.htmt_liberal, v2 < th.htmt_strict, v2 < th.htmt_liberal))
    return fl, h1, h2, pd.DataFrame(pairs, columns=DISCRIMINANT_COLUMNS)
