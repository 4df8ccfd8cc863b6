"""The result of a latent-interaction fit (LMS or QML)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["InteractionFit", "implied_moments"]


def implied_moments(lm: Any, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Model-implied means and covariances of the inner variables and of the items, the
    products included (the mixture over the quadrature nodes: exact while the moments are
    polynomials of degree below twice the number of nodes in the conditioning variables)."""
    mx, Sx, mz, Sz = lm.node_moments(np.asarray(theta, float)[None])
    w = lm.weights
    mz, Sz, mx, Sx = mz[0], Sz[0], mx[0], Sx[0]
    ez = w @ mz
    cz = np.einsum("q,qij->ij", w, Sz) + np.einsum("q,qi,qj->ij", w, mz, mz) - np.outer(ez, ez)
    ex = w @ mx
    cx = np.einsum("q,qij->ij", w, Sx) + np.einsum("q,qi,qj->ij", w, mx, mx) - np.outer(ex, ex)
    return ez, cz, ex, cx


@dataclass(frozen=True)
class InteractionFit:
    """A latent-interaction fit.

    Attributes
    ----------
    method : str
        ``"lms"`` or ``"qml"``.
    model : SEMModel or None
    table : ParTable
        The parameter table that was fitted (with its ``y ~ a:b`` rows).
    data : DataFrame
        The item columns of the cases fitted (complete cases).
    params : DataFrame
        One row per ``=~ ~ ~~ ~1`` row of the table, in its order, then the added item
        intercepts ``x ~1`` (when the table has no mean structure); columns of
        :data:`smsem.estimate.results.PARAM_COLUMNS` (Wald 95% CI). ``std_all`` and
        ``std_lv`` use the model-implied variances with the products' contribution; the
        ``y ~ a:b`` row's ``std_all`` is ``est * sd(a) sd(b) / sd(y)`` (Wen, Marsh & Hau, 2010).
    loglik, npar, aic, bic : float / int
        ``npar`` counts every estimated parameter, the added intercepts included (a linear
        model to compare by likelihood ratio must be fitted with ``meanstructure=True``).
    vcov : DataFrame
        Covariance of the free parameters, index and columns ``"lhs op rhs"``.
    converged : bool
    iterations : int
    """

    method: str
    model: Any
    table: Any
    data: pd.DataFrame
    params: pd.DataFrame
    loglik: float
    npar: int
    vcov: pd.DataFrame
    converged: bool
    iterations: int
    n_dropped: int = 0
    theta: np.ndarray = field(default=None, repr=False)
    engine: Any = field(default=None, repr=False)
    seconds: float = float("nan")
    _vcov_all: np.ndarray = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.data)

    @property
    def aic(self) -> float:
        return -2 * self.loglik + 2 * self.npar

    @property
    def bic(self) -> float:
        return -2 * self.loglik + np.log(self.n) * self.npar

    @property
    def fit_indices(self) -> dict[str, float]:
        return {"logl": self.loglik, "npar": float(self.npar), "aic": self.aic, "bic": self.bic,
                "ntotal": float(self.n)}

    # ------------------------------------------------------------------ accessors
    def coef(self, lhs: str, rhs: str) -> float:
        """Estimate of the regression ``lhs ~ rhs`` (``rhs`` may be a product ``"a:b"``)."""
        return float(self._row(lhs, rhs)["est"])

    def _row(self, lhs: str, rhs: str) -> pd.Series:
        p = self.params
        sel = p[(p.lhs == lhs) & (p.op == "~") & (p.rhs == rhs)]
        if sel.empty:
            raise KeyError(f"{lhs} ~ {rhs} is not a regression of the model")
        return sel.iloc[0]

    def path(self, lhs: str, rhs: str) -> pd.Series:
        return self._row(lhs, rhs)

    def cov_coef(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Covariance matrix of the regression coefficients ``(lhs, rhs)`` in ``pairs``
        (0 rows/columns for fixed coefficients)."""
        keys = [f"{l} ~ {r}" for l, r in pairs]
        out = np.zeros((len(keys), len(keys)))
        idx = [self.vcov.index.get_loc(k) if k in self.vcov.index else None for k in keys]
        for i, a in enumerate(idx):
            for j, b in enumerate(idx):
                if a is not None and b is not None:
                    out[i, j] = self.vcov.iloc[a, b]
        return out

    def latent_moments(self) -> tuple[pd.Series, pd.DataFrame]:
        """Model-implied means and covariance matrix of the latent (and structural observed)
        variables, the products' contribution to the endogenous ones included."""
        ez, cz, _, _ = implied_moments(self.engine, self.theta)
        names = list(self.engine.inner)
        return pd.Series(ez, index=names), pd.DataFrame(cz, index=names, columns=names)

    def accessors_at(self, theta: np.ndarray) -> "_ThetaView":
        """The accessors (``coef``, ``cov_coef`` zeros, ``latent_moments``) at other
        estimates ``theta`` (:meth:`LMSModel.names` order), e.g. a bootstrap draw."""
        return _ThetaView(self, np.asarray(theta, dtype=float))

    def bootstrap_thetas(self, n_boot: int, seed: int) -> np.ndarray:
        """``n_boot`` nonparametric bootstrap estimates (rows of NaN for failed draws):
        LMS refits warm-started from the full-sample solution
        (:func:`smsem.estimate.interaction.lms.bootstrap_lms`). Same seed, same draws."""
        from ...exceptions import OptionError

        if self.method != "lms":
            raise OptionError(f"bootstrap CIs are not available for {self.method!r} fits yet (use lms)")
        from .lms import bootstrap_lms

        return bootstrap_lms(self, int(n_boot), seed=int(seed))

    def summary(self) -> str:
        """The fit laid out as lavaan's summary (:func:`smsem.report.summary.interaction_summary_text`)."""
        from ...report.summary import interaction_summary_text

        return interaction_summary_text(self)

    __str__ = summary

    # ------------------------------------------------------------------ building
    @classmethod
    def build(cls, method: str, model: Any, pt: Any, xdf: pd.DataFrame, lm: Any, theta: np.ndarray,
              vcov: np.ndarray, loglik: float, converged: bool, iterations: int, dropped: int,
              seconds: float = float("nan")) -> "InteractionFit":
        from ... import _dist as stats
        from ..matrices import table_rows
        from ..results import PARAM_COLUMNS

        names = lm.names()
        index = {k: j for j, k in enumerate(names)}
        pm = lm.pm
        for key, j in pm.aliases.items():
            index.setdefault(key, j)
        ez, cz, ex, cx = implied_moments(lm, theta)
        inner = {v: i for i, v in enumerate(lm.inner)}
        obs = {v: i for i, v in enumerate(lm.observed)}
        lv = set(pt.lv)

        def sd(v: str) -> float:
            if v in inner:
                return float(np.sqrt(max(cz[inner[v], inner[v]], 0.0)))
            if v in obs:
                return float(np.sqrt(max(cx[obs[v], obs[v]], 0.0)))
            return float("nan")

        prods = {p[0]: (p[1], p[2]) for p in (getattr(pt, "lv_interactions", None) or [])}

        def sd_term(v: str, latent_only: bool) -> float:
            if v in prods:
                a, b = prods[v]
                return sd_term(a, latent_only) * sd_term(b, latent_only)
            if latent_only and v not in lv:
                return 1.0
            return sd(v)

        def std(lhs: str, op: str, rhs: str, est: float, latent_only: bool) -> float:
            s = lambda v: sd_term(v, latent_only)  # noqa: E731
            if op == "=~":
                return est * s(lhs) / s(rhs)
            if op == "~":
                return est * s(rhs) / s(lhs)
            if op == "~~":
                return est / (s(lhs) * s(rhs))
            if op == "~1":
                return est / s(lhs)
            return float("nan")

        rows = []
        z975 = float(stats.norm.ppf(0.975))
        se_all = np.sqrt(np.where(np.diag(vcov) > 0, np.diag(vcov), np.nan))
        out_keys = [(r["lhs"], r["op"], r["rhs"], r["label"], r["free"], r["ustart"], r["exo"])
                    for r in table_rows(pt) if r["op"] in ("=~", "~", "~~", "~1")]
        if lm.added_means:
            out_keys += [(v, "~1", "", "", 1, np.nan, 0) for v in lm.observed]
        for lhs, op, rhs, label, free, ustart, exo in out_keys:
            key = (lhs, op, rhs)
            j = index.get(key)
            if j is None and op == "~~":
                j = index.get((rhs, op, lhs))
            if j is not None and (free > 0 or exo == 1):
                est = float(theta[j])
                se = float(se_all[j]) if free > 0 else float("nan")
            else:
                est, se = float(ustart), float("nan")
            zz = est / se if np.isfinite(se) and se > 0 else float("nan")
            pv = float(2 * stats.norm.sf(abs(zz))) if np.isfinite(zz) else float("nan")
            rows.append((lhs, op, rhs, label, est, se, zz, pv, est - z975 * se, est + z975 * se,
                         std(lhs, op, rhs, est, True), std(lhs, op, rhs, est, False)))
        params = pd.DataFrame(rows, columns=PARAM_COLUMNS)
        defined = _defined(pt, lm, theta, vcov, params, z975)
        if defined is not None:
            params = pd.concat([params, defined], ignore_index=True)
        labels = [f"{l} {o} {r}".rstrip() for l, o, r in names]
        vdf = pd.DataFrame(vcov, index=labels, columns=labels)
        exo = set(pm.exo)
        keepv = [j for j in range(len(names)) if j not in exo]
        vdf = vdf.iloc[keepv, keepv]
        return cls(method, model, pt, xdf, params, float(loglik), int(lm.npar), vdf, bool(converged),
                   int(iterations), dropped, np.asarray(theta, float).copy(), lm, seconds,
                   np.asarray(vcov, float))


class _ThetaView:
    """An :class:`InteractionFit` read at other estimates (no standard errors)."""

    def __init__(self, parent: InteractionFit, theta: np.ndarray):
        self.parent, self.theta, self.model = parent, theta, parent.model

    def coef(self, lhs: str, rhs: str) -> float:
        names = self.parent.engine.names()
        key = (lhs, "~", rhs)
        if key in names:
            return float(self.theta[names.index(key)])
        j = self.parent.engine.pm.aliases.get(key)
        return float(self.theta[j]) if j is not None else self.parent.coef(lhs, rhs)

    def cov_coef(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        return np.zeros((len(pairs), len(pairs)))

    def latent_moments(self) -> tuple[pd.Series, pd.DataFrame]:
        ez, cz, _, _ = implied_moments(self.parent.engine, self.theta)
        names = list(self.parent.engine.inner)
        return pd.Series(ez, index=names), pd.DataFrame(cz, index=names, columns=names)


def _defined(pt: Any, lm: Any, theta: np.ndarray, vcov: np.ndarray, params: pd.DataFrame, zcrit: float
             ) -> pd.DataFrame | None:
    """lavaan's ``:=`` rows: the definitions at the estimates (labels of product rows
    included), delta-method SEs from ``vcov``; std columns from the rows' std values."""
    from ... import _dist as stats
    from .. import constraints
    from ..matrices import table_rows
    from ..results import PARAM_COLUMNS

    trows = table_rows(pt)
    rows = [r for r in trows if r["op"] == ":="]
    if not rows:
        return None
    _, _, defs = constraints.constraints_from_table(pt.df)
    pmap = constraints.ParameterMap.from_table(pt.df)
    prod_index = {pr.row: lm.n_lin + j for j, pr in enumerate(lm.products)}
    free = [r for r in trows if r["op"] in ("=~", "~", "~~", "~1") and r["free"] > 0]
    nfree = max((r["free"] for r in free), default=0)
    E = np.zeros((nfree, len(theta)))
    x_std, x_lv = np.zeros(nfree), np.zeros(nfree)
    prow = {(a, o, b): k for k, (a, o, b) in enumerate(zip(params.lhs, params.op, params.rhs))}
    for r in free:
        key = (r["lhs"], r["op"], r["rhs"])
        j = prod_index.get(key, lm.pm.aliases.get(key))
        E[r["free"] - 1, j] = 1.0
        k = prow[key]
        x_std[r["free"] - 1], x_lv[r["free"] - 1] = params.std_all.iloc[k], params.std_lv.iloc[k]
    res = constraints.defined_values(defs, E @ theta, pmap, E @ np.nan_to_num(vcov) @ E.T)
    std = constraints.defined_values(defs, x_std, pmap).est
    std_lv = constraints.defined_values(defs, x_lv, pmap).est
    out = []
    for name, est, se, sa, sl, r in zip(res.names, res.est, res.se, std, std_lv, rows):
        if not np.all(np.isfinite(np.diag(vcov))):
            se = np.nan
        z = est / se if np.isfinite(se) and se > 0 else np.nan
        p = 2 * stats.norm.sf(abs(z)) if np.isfinite(z) else np.nan
        out.append((name, ":=", r["rhs"], name, float(est), float(se), z, p, est - zcrit * se, est + zcrit * se,
                    float(sl), float(sa)))
    return pd.DataFrame(out, columns=PARAM_COLUMNS)
