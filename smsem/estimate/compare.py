"""Comparing fitted models: nested likelihood-ratio tests, information criteria, Vuong tests.

Functions take fitted :class:`~smsem.estimate.results.FitResults` (duck-typed: ``.fit_indices``,
``.estimator``, ``.param_map``, ``.start``, ``.vcov``, ``.data``, ``.n``, ``.model``) and
return DataFrames or a :class:`Comparison`; nothing refits.

- :func:`lrt` is lavaan's ``lavTestLRT()`` / ``anova()``: models sorted by degrees of
  freedom, each tested against the next less restricted one. ML: the chi-square
  difference. MLM and MLR: the scaled difference of Satorra and Bentler (2001)
  (``method = "satorra.bentler.2001"``, lavaan's default for both):
  ``cd = (df0 c0 - df1 c1) / (df0 - df1)``, ``T = (T0 - T1) / cd`` with the unscaled
  statistics ``T`` and scaling factors ``c``; for MLM also the strictly positive
  version of Satorra and Bentler (2010) (``method = "satorra.bentler.2010"``), which
  takes ``c1`` from the less restricted model evaluated at the restricted model's
  estimates (lavaan's ``M10``).
- :func:`information_criteria`: AIC, BIC and the sample-size adjusted BIC (lavaan's
  ``bic2``) of each model.
- :func:`vuong` is ``nonnest2::vuongtest()`` (Vuong 1989; Merkle, You and Preacher 2016):
  casewise log-likelihood differences, the variance test (``n omega^2`` against a weighted
  sum of chi-squares, weights the squared eigenvalues of Vuong's W; Imhof's integral),
  and the non-nested LRT ``z = LR / (sqrt(n) omega)`` with its two one-sided p-values, or,
  for nested models, the robust LRT ``2 LR`` against the weighted sum with weights
  ``-eigen(W)``. Complete-data fits only.
- :func:`compare` puts them together with a verdict line.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import integrate, stats

from ..exceptions import OptionError
from . import ml, robust

__all__ = ["lrt", "information_criteria", "vuong", "compare", "Comparison", "casewise_loglik",
           "casewise_scores", "imhof_upper", "LRT_METHODS"]

LRT_METHODS = ("default", "satorra.bentler.2001", "satorra.bentler.2010")


# --------------------------------------------------------------------------- helpers
def _name(res: Any, i: int) -> str:
    nm = getattr(getattr(res, "model", None), "name", None)
    return str(nm) if nm else f"model {i + 1}"


def _fi(res: Any, key: str) -> float:
    return float(res.fit_indices[key])


def _free_names(res: Any) -> set:
    out = set()
    for lhs, op, rhs in res.param_map.names:
        out.add((lhs, op, rhs))
        if op == "~~":
            out.add((rhs, op, lhs))
    return out


def is_nested(restricted: Any, general: Any) -> bool:
    """True when every free parameter of ``restricted`` is free in ``general`` and both
    models have the same observed variables (nesting by fixing parameters; a sufficient,
    not necessary, condition: equality-constraint nesting is not detected)."""
    if set(restricted.param_map.base.observed) != set(general.param_map.base.observed):
        return False
    mine = {(l, o, r) for l, o, r in restricted.param_map.names}
    theirs = _free_names(general)
    return mine <= theirs and restricted.param_map.n_free < general.param_map.n_free


def _cell(mx: Any, lhs: str, op: str, rhs: str) -> float:
    inner = {v: i for i, v in enumerate(mx.inner)}
    obs = {v: i for i, v in enumerate(mx.observed)}
    if op == "=~":
        return float(mx.lambda_[obs[rhs], inner[lhs]]) if lhs in inner and rhs in obs else 0.0
    if op == "~":
        return float(mx.beta[inner[lhs], inner[rhs]]) if lhs in inner and rhs in inner else 0.0
    if lhs in inner and rhs in inner:
        return float(mx.psi[inner[lhs], inner[rhs]])
    if lhs in obs and rhs in obs:
        return float(mx.theta[obs[lhs], obs[rhs]])
    return 0.0


def _c10(general: Any, restricted: Any) -> float:
    """Satorra-Bentler (2010): the MLM scaling factor of ``general`` evaluated at the
    estimates of ``restricted`` (lavaan's ``lav_test_diff_m10``)."""
    pm1 = general.param_map
    mx0 = restricted.param_map.matrices_at(np.asarray(restricted.start, dtype=float))
    free0 = {nm: k for k, nm in enumerate(restricted.param_map.names)}
    theta10 = np.empty(pm1.n_free)
    for k, (lhs, op, rhs) in enumerate(pm1.names):
        j = free0.get((lhs, op, rhs), free0.get((rhs, op, lhs)) if op == "~~" else None)
        theta10[k] = restricted.start[j] if j is not None else _cell(mx0, lhs, op, rhs)
    obs = list(pm1.base.observed)
    x = general.data[obs].to_numpy(dtype=float)
    sigma = pm1.matrices_at(theta10).implied_cov
    delta = ml.vech(ml.sigma_jacobian(pm1, theta10)).T
    w = ml.weight_matrix(sigma)
    gamma = robust.gamma_adf(x)
    return robust.sb_scaling(delta, w, gamma, _fi(general, "df"))


# --------------------------------------------------------------------------- LRT
def lrt(*results: Any, method: str = "default", names: Sequence[str] | None = None) -> pd.DataFrame:
    """Likelihood-ratio tests of nested models, as lavaan's ``lavTestLRT()``.

    Parameters
    ----------
    *results : FitResults
        Two or more fits of nested models to the same data, same estimator.
    method : {"default", "satorra.bentler.2001", "satorra.bentler.2010"}, default="default"
        ``"default"`` is the chi-square difference for ML and Satorra-Bentler 2001 for
        MLM and MLR (lavaan's default); ``"satorra.bentler.2010"`` (MLM only) is the
        strictly positive scaled difference.
    names : sequence of str, optional
        Model names (default: the models' names).

    Returns
    -------
    DataFrame
        One row per model, sorted by df (least restricted first) as lavaan:
        ``model, npar, df, aic, bic, bic2, chi2, chi2_scaled, chi2_diff, df_diff, pvalue,
        scaling_diff, nested`` (the difference columns are NaN in the first row;
        ``chi2_diff`` is scaled under MLM/MLR; ``nested`` says whether the row's model
        is nested in the previous one by its free parameters).
    """
    if method not in LRT_METHODS:
        raise OptionError(f"method must be one of {', '.join(LRT_METHODS)}, not {method!r}")
    if len(results) < 2:
        raise OptionError("lrt needs at least two fitted models")
    est = {r.estimator for r in results}
    if len(est) > 1:
        raise OptionError(f"the models were fitted with different estimators ({', '.join(sorted(est))})")
    estimator = est.pop()
    ns = {r.n for r in results}
    if len(ns) > 1:
        raise OptionError(f"the models were fitted to different numbers of cases ({sorted(ns)}): not comparable")
    if method == "satorra.bentler.2010" and estimator != "MLM":
        raise OptionError("method 'satorra.bentler.2010' needs estimator MLM (smsem computes its M10 scaling "
                         "factor from the Satorra-Bentler Gamma)")
    if method != "default" and estimator == "ML":
        raise OptionError(f"method {method!r} scales the difference of a robust fit; these are ML fits")
    labels = list(names) if names is not None else [_name(r, i) for i, r in enumerate(results)]
    order = sorted(range(len(results)), key=lambda i: (_fi(results[i], "df"), i))
    scaled = estimator in ("MLM", "MLR")
    rows = []
    for pos, i in enumerate(order):
        r = results[i]
        row = {"model": labels[i], "npar": _fi(r, "npar"), "df": _fi(r, "df"), "aic": _fi(r, "aic"),
               "bic": _fi(r, "bic"), "bic2": _fi(r, "bic2"), "chi2": _fi(r, "chi2"),
               "chi2_scaled": _fi(r, "chi2_scaled") if scaled and "chi2_scaled" in r.fit_indices else np.nan,
               "chi2_diff": np.nan, "df_diff": np.nan, "pvalue": np.nan, "scaling_diff": np.nan,
               "nested": np.nan}
        if pos > 0:
            g = results[order[pos - 1]]
            t0, t1 = _fi(r, "chi2"), _fi(g, "chi2")
            r0, r1 = _fi(r, "df"), _fi(g, "df")
            m = r0 - r1
            row["df_diff"] = m
            row["nested"] = is_nested(r, g)
            if not scaled:
                diff = t0 - t1
            elif m == 0:
                diff = t0 - t1
            else:
                c0 = _fi(r, "scaling_factor") if r0 > 0 else 1.0
                if method == "satorra.bentler.2010":
                    c1 = _c10(g, r) if r1 > 0 else 1.0
                else:
                    c1 = _fi(g, "scaling_factor") if r1 > 0 else 1.0
                cd = (r0 * c0 - r1 * c1) / m
                if cd < 0:
                    cd = np.nan  # lavaan: "scaling factor is negative"
                row["scaling_diff"] = cd
                diff = (t0 - t1) / cd
            row["chi2_diff"] = diff
            row["pvalue"] = float(stats.chi2.sf(diff, m)) if m > 0 and np.isfinite(diff) else np.nan
        rows.append(row)
    return pd.DataFrame(rows)


def information_criteria(*results: Any, names: Sequence[str] | None = None) -> pd.DataFrame:
    """AIC, BIC and sample-size adjusted BIC (``bic2``) of each model, with the log-likelihood
    and the number of free parameters, as lavaan's ``fitMeasures()``; lower is better."""
    labels = list(names) if names is not None else [_name(r, i) for i, r in enumerate(results)]
    return pd.DataFrame([{"model": nm, "npar": _fi(r, "npar"), "logl": _fi(r, "logl"), "aic": _fi(r, "aic"),
                          "bic": _fi(r, "bic"), "bic2": _fi(r, "bic2")} for nm, r in zip(labels, results)])


# --------------------------------------------------------------------------- Vuong
def _check_complete(res: Any) -> None:
    if getattr(res, "missing", "listwise") != "listwise":
        raise NotImplementedError("Vuong tests are available for complete-data fits (missing='listwise')")


def casewise_loglik(res: Any) -> np.ndarray:
    """Each case's normal log-likelihood at the estimates (saturated means, lavaan's
    ``lavInspect(fit, "loglik.casewise")``); sums to ``fit_indices["logl"]``."""
    _check_complete(res)
    pm = res.param_map
    obs = list(pm.base.observed)
    x = res.data[obs].to_numpy(dtype=float)
    e = x - x.mean(axis=0)
    sigma = pm.matrices_at(np.asarray(res.start, dtype=float)).implied_cov
    _, logdet = np.linalg.slogdet(sigma)
    q = np.einsum("ij,ij->i", e @ np.linalg.inv(sigma), e)
    return -0.5 * (len(obs) * math.log(2 * math.pi) + logdet + q)


def casewise_scores(res: Any) -> np.ndarray:
    """Each case's derivative of its log-likelihood with respect to the free parameters
    (n x k, :class:`ParamMap` order; lavaan's ``lavScores()`` without mean structure)."""
    _check_complete(res)
    pm = res.param_map
    theta = np.asarray(res.start, dtype=float)
    obs = list(pm.base.observed)
    x = res.data[obs].to_numpy(dtype=float)
    e = x - x.mean(axis=0)
    sigma = pm.matrices_at(theta).implied_cov
    si = np.linalg.inv(sigma)
    jac = ml.sigma_jacobian(pm, theta)
    a = np.einsum("ij,kjl,lm->kim", si, jac, si)  # Sigma^-1 dSigma_k Sigma^-1
    tr = np.einsum("ij,kji->k", si, jac)
    quad = np.einsum("ni,kij,nj->nk", e, a, e, optimize=True)
    return -0.5 * tr[None, :] + 0.5 * quad


def imhof_upper(q: float, weights: np.ndarray) -> float:
    """``P(sum_j w_j chi2_1 > q)`` by Imhof's (1961) integral (as ``CompQuadForm::imhof(q,
    w)$Qq``); weights may be negative."""
    w = np.asarray(weights, dtype=float)
    w = w[np.abs(w) > 0]
    if w.size == 0:
        return float(q < 0)

    b = 0.5 * q  # sin(theta(u)) = sin(a(u) - b u) with a(u) = sum(arctan(w u)) / 2

    def amp(u: float) -> tuple[float, float]:
        return 0.5 * float(np.sum(np.arctan(w * u))), u * math.exp(float(np.sum(np.log1p((w * u) ** 2))) / 4)

    def full(u: float) -> float:
        if u == 0.0:
            return 0.5 * (float(np.sum(w)) - q)
        a_u, den = amp(u)
        return math.sin(a_u - b * u) / den

    # [0, c] directly; the oscillating tail [c, inf) as two Fourier integrals (QUADPACK's
    # QAWF), since sin(a - b u) = sin(a) cos(b u) - cos(a) sin(b u).
    c = 1.0
    val = integrate.quad(full, 0.0, c, limit=500, epsabs=1e-12, epsrel=1e-10)[0]
    if b == 0.0:
        val += integrate.quad(full, c, np.inf, limit=2000, epsabs=1e-12, epsrel=1e-10)[0]
    else:
        sgn = 1.0 if b > 0 else -1.0
        fs = lambda u: math.sin(amp(u)[0]) / amp(u)[1]  # noqa: E731
        fc = lambda u: math.cos(amp(u)[0]) / amp(u)[1]  # noqa: E731
        val += integrate.quad(fs, c, np.inf, weight="cos", wvar=abs(b), limlst=200, epsabs=1e-12)[0]
        val -= sgn * integrate.quad(fc, c, np.inf, weight="sin", wvar=abs(b), limlst=200, epsabs=1e-12)[0]
    return float(0.5 + val / math.pi)


def _vuong_weights(r1: Any, r2: Any) -> np.ndarray:
    """Eigenvalues of Vuong's W (eq. 3.6) from the scores and ``vcov`` of both models."""
    n = r1.n
    s1, s2 = casewise_scores(r1), casewise_scores(r2)
    a1_inv = n * np.asarray(r1.vcov)  # A^-1 with A = (n vcov)^-1
    a2_inv = n * np.asarray(r2.vcov)
    b1 = s1.T @ s1 / n
    b2 = s2.T @ s2 / n
    bc = s1.T @ s2 / n
    w = np.block([[-b1 @ a1_inv, -bc @ a2_inv], [bc.T @ a1_inv, b2 @ a2_inv]])
    return np.real(np.linalg.eigvals(w))


def vuong(res_a: Any, res_b: Any, nested: bool = False) -> dict[str, float]:
    """Vuong's tests of two models fitted to the same cases, as ``nonnest2::vuongtest()``.

    Returns
    -------
    dict
        ``omega2`` (variance of the casewise log-likelihood differences, N divisor),
        ``p_omega`` (variance test, H0: the models are indistinguishable), ``lr`` (sum of
        the casewise differences A - B), ``z`` (non-nested LRT statistic), ``p_a`` (H1: A
        fits better) and ``p_b`` (H1: B fits better); with ``nested=True`` the models
        are first ordered so that A has the larger log-likelihood, and ``lr2 = 2 LR`` with
        its robust p-value ``p_nested`` are added. ``swapped`` says whether A and B were
        exchanged.
    """
    if res_a.n != res_b.n:
        raise OptionError(f"the models were fitted to different cases (n = {res_a.n} and {res_b.n})")
    la, lb = casewise_loglik(res_a), casewise_loglik(res_b)
    swapped = False
    if nested and lb.sum() > la.sum():
        res_a, res_b, la, lb = res_b, res_a, lb, la
        swapped = True
    n = len(la)
    d = la - lb
    omega2 = float((n - 1) / n * np.var(d, ddof=1))
    lam = _vuong_weights(res_a, res_b)
    lr = float(d.sum())
    z = lr / (math.sqrt(n) * math.sqrt(omega2))
    out = {"n": n, "omega2": omega2, "p_omega": imhof_upper(n * omega2, lam ** 2), "lr": lr, "z": z,
           "p_a": float(stats.norm.sf(z)), "p_b": float(stats.norm.cdf(z)), "swapped": swapped}
    if nested:
        out["lr2"] = 2 * lr
        out["p_nested"] = imhof_upper(2 * lr, -lam)
    return out


# --------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class Comparison:
    """The comparison of two or more fitted models.

    Attributes
    ----------
    table : DataFrame
        :func:`lrt`'s table (models sorted by df) with the log-likelihood.
    vuong : dict of (name_a, name_b) -> dict
        :func:`vuong` of each consecutive pair that is not nested (and, as a robust
        check, of nested pairs under ``nested=True``).
    verdict : str
        One line: which model the tests and criteria prefer.
    estimator, method : str
    alpha : float
    """

    table: pd.DataFrame
    vuong: dict = field(default_factory=dict)
    verdict: str = ""
    estimator: str = "ML"
    method: str = "default"
    alpha: float = 0.05

    def __str__(self) -> str:
        cols = ["model", "npar", "df", "logl", "aic", "bic", "bic2", "chi2", "chi2_diff", "df_diff", "pvalue"]
        if self.estimator != "ML":
            cols.insert(cols.index("chi2") + 1, "chi2_scaled")
            cols.append("scaling_diff")
        t = self.table[cols].copy()
        for c in ("npar", "df", "df_diff"):
            t[c] = [f"{v:g}" if np.isfinite(v) else "" for v in t[c]]
        t["pvalue"] = [("< .001" if v < 0.001 else f"{v:.4f}") if np.isfinite(v) else "" for v in t["pvalue"]]
        lines = [f"Model comparison ({self.estimator}; "
                 f"{'chi-square difference' if self.estimator == 'ML' else _method_text(self.method)})",
                 t.to_string(index=False, na_rep="", float_format=lambda v: f"{v:.3f}")]
        for (a, b), v in self.vuong.items():
            lines.append(f"Vuong test {a} vs {b} (not nested): variance test omega2 = {v['omega2']:.4f}, "
                         f"p {_p_eq(v['p_omega'])} (small p: distinguishable); z = {v['z']:.3f}, "
                         f"p({a} better) {_p_eq(v['p_a'])}, p({b} better) {_p_eq(v['p_b'])}")
        lines.append(f"Verdict: {self.verdict}")
        return "\n".join(lines) + "\n"


def _method_text(method: str) -> str:
    return {"default": "Satorra-Bentler 2001 scaled difference", "satorra.bentler.2001":
            "Satorra-Bentler 2001 scaled difference", "satorra.bentler.2010":
            "Satorra-Bentler 2010 strictly positive scaled difference"}[method]


def compare(*results: Any, method: str = "default", names: Sequence[str] | None = None,
            alpha: float = 0.05) -> Comparison:
    """Compare fitted models: nested LRTs, information criteria and Vuong tests, with a verdict.

    Consecutive models (sorted by df) are compared by the (scaled) chi-square difference
    when the more restricted one is nested in the other (by free parameters), otherwise
    by Vuong's non-nested test. The verdict names the model preferred by the tests at
    ``alpha`` and says whether AIC and BIC agree.
    """
    labels = list(names) if names is not None else [_name(r, i) for i, r in enumerate(results)]
    if len(set(labels)) < len(labels):
        labels = [f"{nm} ({i + 1})" for i, nm in enumerate(labels)]
    table = lrt(*results, method=method, names=labels)
    by_name = dict(zip(labels, results))
    table.insert(3, "logl", [_fi(by_name[m], "logl") for m in table.model])
    vu: dict = {}
    parts = []
    for pos in range(1, len(table)):
        general, restricted = table.model[pos - 1], table.model[pos]
        row = table.iloc[pos]
        if bool(row.nested):
            if row.pvalue < alpha:
                parts.append(f"{restricted} fits significantly worse than {general} "
                             f"(chi2 diff = {row.chi2_diff:.2f}, df = {int(row.df_diff)}, p {_p_eq(row.pvalue)}): "
                             f"keep {general}")
            else:
                parts.append(f"{restricted} does not fit significantly worse than {general} "
                             f"(chi2 diff = {row.chi2_diff:.2f}, df = {int(row.df_diff)}, p {_p_eq(row.pvalue)}): "
                             f"prefer the more parsimonious {restricted}")
        else:
            table.loc[pos, ["chi2_diff", "pvalue", "scaling_diff"]] = np.nan
            v = vuong(by_name[general], by_name[restricted])
            vu[(general, restricted)] = v
            if v["p_omega"] >= alpha:
                parts.append(f"{general} and {restricted} are not nested and indistinguishable on these data "
                             f"(Vuong variance test p {_p_eq(v['p_omega'])})")
            elif v["p_a"] < alpha:
                parts.append(f"{general} fits better than {restricted} (Vuong z = {v['z']:.2f}, p {_p_eq(v['p_a'])})")
            elif v["p_b"] < alpha:
                parts.append(f"{restricted} fits better than {general} (Vuong z = {v['z']:.2f}, p {_p_eq(v['p_b'])})")
            else:
                parts.append(f"{general} and {restricted} are not nested; neither fits significantly better "
                             f"(Vuong z = {v['z']:.2f})")
    best_aic = table.model[int(np.argmin(table.aic))]
    best_bic = table.model[int(np.argmin(table.bic))]
    crit = (f"AIC and BIC both prefer {best_aic}" if best_aic == best_bic
            else f"AIC prefers {best_aic}, BIC prefers {best_bic}")
    verdict = "; ".join(parts + [crit]) + "."
    est = results[0].estimator
    return Comparison(table, vu, verdict, est, method, alpha)


def _p_eq(p: float) -> str:
    return "< .001" if p < 0.001 else f"= {p:.3f}"
