"""A summary that reads like lavaan's ``summary(fit, standardized = TRUE,
fit.measures = TRUE, rsquare = TRUE)``, as text and as HTML (for notebooks).

Formats only: every number comes from :class:`~smsem.estimate.results.FitResults`
(``params``, ``standardized``, ``fit_indices``), :func:`smsem.estimate.diagnostics.r2` and
:func:`smsem.estimate.effects.defined_parameters`. The wrappers ``FitResults.summary()``
(returns :func:`summary_text`), ``FitResults.__str__`` and ``FitResults._repr_html_``
(return :func:`summary_html`) live with the results class.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import pandas as pd


from .. import __version__

if TYPE_CHECKING:  # pragma: no cover
    from ..estimate.results import FitResults

__all__ = ["summary_text", "summary_html", "summary_sections", "interaction_summary_text"]

_W = 54  # width of the "label .... value" lines, as lavaan's
_SECTIONS = (("=~", "Latent Variables"), ("~", "Regressions"), ("~~cov", "Covariances"),
             ("~1", "Intercepts"), ("~~var", "Variances"))


def _n(v: Any, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        return ""
    if isinstance(v, (int,)) and not isinstance(v, bool):
        return str(v)
    return f"{float(v):.{digits}f}"


def _kv(label: str, value: Any, digits: int = 3) -> tuple[str, str]:
    return label, value if isinstance(value, str) else _n(value, digits)


def summary_sections(res: "FitResults") -> list[tuple[str, list[tuple[str, str]]]]:
    """The header blocks (title, [(label, value)]) of the summary: model, test, fit
    measures, information criteria, RMSEA, SRMR. Empty values are left out."""
    fi = dict(res.fit_indices)
    npar = len(res.param_map.names) if getattr(res, "param_map", None) is not None else int(res.params.se.gt(0).sum())
    miss = "FIML (missing = \"ml\")" if getattr(res, "missing", "listwise") == "fiml" else "listwise"
    blocks = [("", [_kv("Estimator", res.estimator), _kv("Number of model parameters", npar),
                    _kv("Number of observations", res.n), _kv("Missing data", miss)])]
    test = [_kv("Test statistic", fi.get("chi2")), _kv("Degrees of freedom", _n(fi.get("df"), 0)),
            _kv("P-value (Chi-square)", fi.get("pvalue"))]
    if "chi2_scaled" in fi:
        test += [_kv("Scaled test statistic", fi.get("chi2_scaled")), _kv("Scaling correction factor",
                                                                           fi.get("scaling_factor")),
                 _kv("P-value (scaled)", fi.get("pvalue_scaled"))]
    blocks.append(("Model Test User Model:", test))
    from scipy import stats

    chi_b, df_b = fi.get("baseline_chi2"), fi.get("baseline_df")
    p_b = float(stats.chi2.sf(chi_b, df_b)) if chi_b is not None and df_b else float("nan")
    blocks.append(("Model Test Baseline Model:", [_kv("Test statistic", chi_b),
                                                   _kv("Degrees of freedom", _n(df_b, 0)), _kv("P-value", p_b)]))
    comp = [_kv("Comparative Fit Index (CFI)", fi.get("cfi")), _kv("Tucker-Lewis Index (TLI)", fi.get("tli"))]
    if "cfi_scaled" in fi:
        comp += [_kv("Scaled CFI", fi.get("cfi_scaled")), _kv("Scaled TLI", fi.get("tli_scaled"))]
    blocks.append(("User Model versus Baseline Model:", comp))
    blocks.append(("Loglikelihood and Information Criteria:", [
        _kv("Loglikelihood user model (H0)", fi.get("logl")), _kv("Akaike (AIC)", fi.get("aic")),
        _kv("Bayesian (BIC)", fi.get("bic"))]))
    blocks.append(("Root Mean Square Error of Approximation:", [
        _kv("RMSEA", fi.get("rmsea")), _kv("90 Percent confidence interval - lower", fi.get("rmsea_ci_lower")),
        _kv("90 Percent confidence interval - upper", fi.get("rmsea_ci_upper")),
        _kv("P-value H_0: RMSEA <= 0.050", fi.get("rmsea_pvalue"))]))
    blocks.append(("Standardized Root Mean Square Residual:", [_kv("SRMR", fi.get("srmr"))]))
    return [(t, [(k, v) for k, v in rows if v != ""]) for t, rows in blocks]


def _param_rows(res: "FitResults") -> dict[str, list[dict[str, Any]]]:
    """Parameter rows by lavaan section, each with its std.lv and std.all."""
    p = res.params.drop(columns=[c for c in ("std_all", "std_lv") if c in res.params.columns])
    s = res.standardized[["lhs", "op", "rhs", "std_lv", "std_all"]]
    m = p.merge(s, on=["lhs", "op", "rhs"], how="left")
    endo = {r.lhs for r in res.model.parsed.regressions} | set(res.model.parsed.observed)
    return _sections_of(m, endo)


def _sections_of(m: pd.DataFrame, endo: set[str]) -> dict[str, list[dict[str, Any]]]:
    """Rows of ``m`` (columns lhs, op, rhs, est, se, z, pvalue, std_lv, std_all) by lavaan
    section; ``dot`` marks the (residual) variances and intercepts of endogenous variables."""
    out: dict[str, list[dict[str, Any]]] = {k: [] for k, _ in _SECTIONS}
    for r in m.to_dict(orient="records"):
        op = r["op"]
        if op == "~~":
            key = "~~var" if r["lhs"] == r["rhs"] else "~~cov"
            r["dot"] = key == "~~var" and r["lhs"] in endo
        else:
            key = op
            r["dot"] = op == "~1" and r["lhs"] in endo
        if key in out:
            out[key].append(r)
    return out


def _defined(res: "FitResults") -> pd.DataFrame:
    from ..estimate.effects import defined_parameters

    try:
        return defined_parameters(res)
    except Exception:  # noqa: BLE001 - a summary never fails on the := block
        return pd.DataFrame()


def _r2(res: "FitResults") -> pd.DataFrame:
    from ..estimate.diagnostics import r2

    try:
        return r2(res)
    except Exception:  # noqa: BLE001
        return pd.DataFrame(columns=["name", "kind", "r2"])


_COLS = ("Estimate", "Std.Err", "z-value", "P(>|z|)", "Std.lv", "Std.all")


def _values(r: dict[str, Any]) -> list[str]:
    se = r.get("se")
    free = se is not None and not (isinstance(se, float) and math.isnan(se)) and se > 0
    return [_n(r["est"]), _n(se) if free else "", _n(r.get("z"), 3) if free else "",
            _n(r.get("pvalue")) if free else "", _n(r.get("std_lv")), _n(r.get("std_all"))]


def summary_text(res: "FitResults") -> str:
    """The summary as plain text, laid out as lavaan's."""
    out = _header_lines(f"smsem {__version__}: {res.model.name!r} fitted by {res.estimator}"
                        + ("" if getattr(res, "converged", True) else " (NOT converged)"), summary_sections(res))
    out += ["Parameter Estimates:", "", f"  {'Standard errors':<{_W - 10}}{'Standard':>8}",
            f"  {'Information':<{_W - 10}}{'Expected':>8}", ""]
    d = _defined(res)
    defined = [(f"{r.name} := {r.expression}", [_n(r.est), _n(r.se), _n(r.z), _n(r.pvalue), "", _n(r.std_all)])
               for r in d.itertuples(index=False)] if len(d) else []
    rsq = _r2(res)
    out += _estimate_lines(_param_rows(res), defined, [(r.name, r.r2) for r in rsq.itertuples(index=False)])
    return "\n".join(out)


def _header_lines(title: str, blocks: list[tuple[str, list[tuple[str, str]]]]) -> list[str]:
    out = [title, ""]
    for head, rows in blocks:
        if head:
            out += [head, ""]
        out += [f"  {k:<{_W - 2 - len(v)}}{v}" if len(k) + len(v) < _W - 2 else f"  {k} {v}" for k, v in rows]
        out.append("")
    return out


def _estimate_lines(sections: dict[str, list[dict[str, Any]]], defined: list[tuple[str, list[str]]],
                    rsq: list[tuple[str, float]]) -> list[str]:
    """The lavaan-style parameter sections, defined parameters and R-square as lines."""
    out: list[str] = []
    head = f"{'':<20}" + "".join(f"{c:>9}" for c in _COLS)
    for key, title in _SECTIONS:
        rows = sections[key]
        if not rows:
            continue
        out += [f"{title}:", head]
        last = None
        for r in rows:
            grouped = key in ("=~", "~", "~~cov")
            if grouped and r["lhs"] != last:
                out.append(f"  {r['lhs']} {r['op']}")
                last = r["lhs"]
            name = r["rhs"] if grouped else r["lhs"]
            label = f"    {name}" if grouped else f"   {'.' if r['dot'] else ' '}{name}"
            out.append(f"{label:<20}" + "".join(f"{v:>9}" for v in _values(r)))
        out.append("")
    if defined:
        out += ["Defined Parameters:", head]
        for name, vals in defined:
            out.append(f"    {name:<16}"[:20].ljust(20) + "".join(f"{v:>9}" for v in vals))
        out.append("")
    if rsq:
        out += ["R-Square:", f"{'':<20}{'Estimate':>9}"]
        out += [f"    {name:<16}{_n(v):>9}" for name, v in rsq]
        out.append("")
    return out


def interaction_summary_text(res: Any) -> str:
    """A latent-interaction fit by LMS or QML (:class:`smsem.estimate.interaction.results.InteractionFit`)
    laid out as :func:`summary_text`: the estimator block, log-likelihood, AIC and BIC (no
    chi-square test: LMS and QML have no saturated model to test against, as in modsem's
    summary), then the parameter sections with the product rows ``y ~ a:b`` among the
    regressions (Std.all of a product row: Wen, Marsh & Hau's ``est sd(a) sd(b) / sd(y)``),
    the ``:=`` rows and R-square (``1 -`` the standardized residual variance, the
    products' share of the variance included)."""
    name = getattr(getattr(res, "model", None), "name", None) or "model"
    method = {"lms": "LMS (latent moderated structural equations)",
              "qml": "QML (quasi-maximum likelihood)"}.get(res.method, res.method.upper())
    title = (f"smsem {__version__}: {name!r} fitted by {method}"
             + ("" if getattr(res, "converged", True) else " (NOT converged)"))
    first = [_kv("Estimator", res.method.upper()), _kv("Number of model parameters", int(res.npar)),
             _kv("Number of observations", int(res.n))]
    if getattr(res, "n_dropped", 0):
        first.append(_kv("Incomplete cases left out", int(res.n_dropped)))
    first += [_kv("Missing data", "listwise"), _kv("Number of iterations", int(res.iterations))]
    blocks = [("", first), ("Loglikelihood and Information Criteria:", [
        _kv("Loglikelihood", res.loglik), _kv("Akaike (AIC)", res.aic), _kv("Bayesian (BIC)", res.bic)])]
    out = _header_lines(title, [(t, [(k, v) for k, v in rows if v != ""]) for t, rows in blocks])
    out += ["  No chi-square test (no saturated model for a latent interaction); the", "  moderation "
            "report compares the model with its linear model (LRT, AIC, BIC).", ""]
    out += ["Parameter Estimates:", "", f"  {'Standard errors':<{_W - 10}}{'Standard':>8}",
            f"  {'Information':<{_W - 10}}{'Observed':>8}", ""]
    p = res.params
    pt = res.table
    endo = {r.lhs for r in p.itertuples(index=False) if r.op == "~"} | set(pt.ov)
    main = p[p.op != ":="]
    defined = [(f"{r.lhs} := {r.rhs}", [_n(r.est), _n(r.se), _n(r.z), _n(r.pvalue), "", _n(r.std_all)])
               for r in p[p.op == ":="].itertuples(index=False)]
    rsq = [(r.lhs, 1.0 - float(r.std_all)) for r in main.itertuples(index=False)
           if r.op == "~~" and r.lhs == r.rhs and r.lhs in endo and math.isfinite(float(r.std_all))]
    out += _estimate_lines(_sections_of(main, endo), defined, rsq)
    return "\n".join(out)


def _esc(v: Any) -> str:
    return html.escape(str(v))


def summary_html(res: "FitResults") -> str:
    """The summary as an HTML fragment (for ``_repr_html_`` in notebooks)."""
    css = ("<style>.smsem-summary table{border-collapse:collapse;margin:0.3em 0 0.8em 0}"
           ".smsem-summary td,.smsem-summary th{padding:1px 8px;text-align:right}"
           ".smsem-summary td:first-child,.smsem-summary th:first-child{text-align:left}"
           ".smsem-summary caption{text-align:left;font-weight:bold}</style>")
    parts = [css, '<div class="smsem-summary">',
             f"<p><b>smsem {_esc(__version__)}</b>: {_esc(res.model.name)} fitted by {_esc(res.estimator)}, "
             f"n = {res.n}</p>"]
    for title, rows in summary_sections(res):
        parts.append("<table>" + (f"<caption>{_esc(title.rstrip(':'))}</caption>" if title else ""))
        parts += [f"<tr><td>{_esc(k)}</td><td>{_esc(v)}</td></tr>" for k, v in rows]
        parts.append("</table>")
    sections = _param_rows(res)
    for key, title in _SECTIONS:
        rows = sections[key]
        if not rows:
            continue
        parts.append(f"<table><caption>{_esc(title)}</caption><tr><th></th>"
                     + "".join(f"<th>{_esc(c)}</th>" for c in _COLS) + "</tr>")
        for r in rows:
            name = f"{r['lhs']} {r['op']} {r['rhs']}" if key != "~1" else f"{r['lhs']} ~1"
            parts.append(f"<tr><td>{_esc(name)}</td>" + "".join(f"<td>{_esc(v)}</td>" for v in _values(r))
                         + "</tr>")
        parts.append("</table>")
    d = _defined(res)
    if len(d):
        parts.append("<table><caption>Defined Parameters</caption><tr><th></th>"
                     + "".join(f"<th>{c}</th>" for c in ("Estimate", "Std.Err", "z-value", "P(>|z|)", "Std.all"))
                     + "</tr>")
        for r in d.itertuples(index=False):
            vals = [_n(r.est), _n(r.se), _n(r.z), _n(r.pvalue), _n(r.std_all)]
            parts.append(f"<tr><td>{_esc(r.name)} := {_esc(r.expression)}</td>"
                         + "".join(f"<td>{v}</td>" for v in vals) + "</tr>")
        parts.append("</table>")
    rsq = _r2(res)
    if len(rsq):
        parts.append("<table><caption>R-Square</caption>"
                     + "".join(f"<tr><td>{_esc(r.name)}</td><td>{_n(r.r2)}</td></tr>" for r in rsq.itertuples(index=False))
                     + "</table>")
    parts.append("</div>")
    return "\n".join(parts)
