"""The tables after the fit, in every format: fit indices with cut-offs, standardized
solution, R², modification indices, residuals and the bootstrap of every statistic.
Formats only: the numbers come from ``res``, :mod:`smsem.estimate.diagnostics` and
:class:`smsem.BootstrapResults`.

Each ``render_*`` takes ``fmt`` in ``TABLE_FORMATS`` (text, markdown, latex, csv, json);
CSV is always one flat table (the ``*_COLUMNS`` of the frame it comes from).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from ._numbers import fmt as _f
from ._numbers import fmt_p as _p
from .formats import TABLE_FORMATS, _Block, _check, _csv, _json, _records, _render, with_level

if TYPE_CHECKING:  # pragma: no cover
    from ..bootstrap import BootstrapResults
    from ..estimate.results import FitResults

__all__ = [
    "render_fit_table", "render_standardized", "render_r2", "render_modindices", "render_residuals",
    "render_bootstrap", "item_wording", "AFTER_TABLES",
]

#: Base names of the files these renderers give in ``smsem fit --out`` (one per format).
AFTER_TABLES = ("fit", "standardized", "r2", "modindices", "residuals")

_FIT_LABELS = {
    "chi2": "Chi-square", "df": "Degrees of freedom", "pvalue": "p (chi-square)",
    "baseline_chi2": "Baseline chi-square", "baseline_df": "Baseline df", "cfi": "CFI", "tli": "TLI",
    "rmsea": "RMSEA", "rmsea_ci_lower": "RMSEA 90% CI lower", "rmsea_ci_upper": "RMSEA 90% CI upper",
    "rmsea_pvalue": "p (RMSEA <= .05)", "srmr": "SRMR", "logl": "Log-likelihood", "aic": "AIC", "bic": "BIC",
    "chi2_scaled": "Chi-square (scaled)", "pvalue_scaled": "p (scaled chi-square)",
    "scaling_factor": "Scaling factor", "cfi_scaled": "CFI (scaled)", "tli_scaled": "TLI (scaled)",
    "rmsea_scaled": "RMSEA (scaled)", "rmsea_ci_lower_scaled": "RMSEA (scaled) 90% CI lower",
    "rmsea_ci_upper_scaled": "RMSEA (scaled) 90% CI upper",
}


def _frame(df: pd.DataFrame, fmt: str, title: str, header: list[str], rows: list[list[str]], align: str,
           notes: Sequence[str] = (), label: str = "", doc: dict | None = None) -> str:
    _check(fmt)
    if fmt == "csv":
        return _csv(df)
    if fmt == "json":
        return _json(doc if doc is not None else {"rows": _records(df)})
    if not rows:
        rows = [["(none)"] + [""] * (len(header) - 1)]
    return _render([_Block(title, header, rows, align, list(notes), label=label)], fmt)


def _num(v: Any, name: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if name in ("df", "baseline_df"):
        return f"{v:.0f}"
    if "pvalue" in name:
        return _p(float(v))
    return f"{float(v):.3f}"


# --- fit indices ---------------------------------------------------------------------------

def fit_frame(res: "FitResults") -> pd.DataFrame:
    """``res.fit_table`` with a readable ``label`` (columns ``index, label, value, cutoff, ok``)."""
    t = res.fit_table.copy()
    t.insert(1, "label", [_FIT_LABELS.get(i, i) for i in t["index"]])
    return t


def render_fit_table(res: "FitResults", fmt: str = "text") -> str:
    """Fit indices beside their cut-offs (CFI, TLI >= .95; RMSEA <= .06; SRMR <= .08), the
    RMSEA with its 90% CI on one line (as lavaan's ``summary(fit.measures = TRUE)``)."""
    t = fit_frame(res)
    values = dict(zip(t["index"], t["value"]))
    rows = []
    for r in t.itertuples(index=False):
        if r.index in ("rmsea_ci_lower", "rmsea_ci_upper", "rmsea_ci_lower_scaled", "rmsea_ci_upper_scaled"):
            continue
        value = _num(r.value, r.index)
        if r.index in ("rmsea", "rmsea_scaled"):
            suffix = "_scaled" if r.index.endswith("_scaled") else ""
            lo, hi = values.get(f"rmsea_ci_lower{suffix}"), values.get(f"rmsea_ci_upper{suffix}")
            if lo is not None and hi is not None and np.isfinite(lo) and np.isfinite(hi):
                value += f" [{lo:.3f}, {hi:.3f}]"
        ok = "" if r.ok is None or (isinstance(r.ok, float) and math.isnan(r.ok)) else ("yes" if r.ok else "NO")
        rows.append([r.label, value, r.cutoff or "", ok])
    title = f"Model fit (estimator {res.estimator}; n = {res.n})"
    notes = ["RMSEA with its 90% CI; cut-offs of Hu & Bentler (1999)."]
    doc = {"n": res.n, "estimator": res.estimator, "fit": _records(t)}
    return _frame(t, fmt, title, ["Index", "Value", "Cut-off", "Meets"], rows, "lrll", notes, "fit", doc)


# --- standardized solution -------------------------------------------------------------------

def render_standardized(res: "FitResults", fmt: str = "text", *, level: float = 0.95) -> str:
    """lavaan's ``standardizedSolution()`` (std.all with delta-method SE, z, p and CI at
    ``level``) with std.lv, one row per parameter."""
    s = with_level(res.standardized, level, (("std_all", "std_all_se", "std_all_ci_lower", "std_all_ci_upper"),
                                             ("std_lv", "std_lv_se", "std_lv_ci_lower", "std_lv_ci_upper")))
    pct = f"{level * 100:g}%"
    rows = [[f"{r.lhs} {r.op} {r.rhs}", _f(r.std_all), _f(r.std_all_se), _f(r.std_all_z, 2), _p(r.std_all_pvalue),
             _ci(r.std_all_ci_lower, r.std_all_ci_upper), _f(r.std_lv)] for r in s.itertuples(index=False)]
    return _frame(s, fmt, "Standardized solution (lavaan's standardizedSolution(), type std.all)",
                  ["Parameter", "Std.all", "SE", "z", "p", f"{pct} CI", "Std.lv"], rows, "lrrrrcr",
                  [f"Delta-method SEs; Wald {pct} CIs."], "standardized",
                  {"n": res.n, "level": level, "standardized": _records(s)})


def _ci(lo: float, hi: float) -> str:
    if lo is None or hi is None or not (np.isfinite(lo) and np.isfinite(hi)):
        return ""
    return f"[{lo:.3f}, {hi:.3f}]"


# --- R² ------------------------------------------------------------------------------------

def render_r2(res: "FitResults", fmt: str = "text") -> str:
    """R² of every endogenous variable, observed and latent (lavaan's ``lavInspect(fit, "r2")``)."""
    from ..estimate.diagnostics import r2

    t = r2(res)
    rows = [[r.name, r.kind, _f(r.r2)] for r in t.itertuples(index=False)]
    return _frame(t, fmt, "R-square (lavInspect(fit, \"r2\"))", ["Variable", "Kind", "R²"], rows, "llr",
                  label="r2", doc={"n": res.n, "r2": _records(t)})


# --- modification indices ------------------------------------------------------------------

def render_modindices(res: "FitResults", fmt: str = "text", *, minimum: float = 0.0, top: int | None = None) -> str:
    """lavaan's ``modindices(fit, sort. = TRUE)`` (every fixed parameter it considers);
    ``minimum`` drops smaller MIs, ``top`` keeps the first rows of the display formats."""
    from ..estimate.diagnostics import modindices

    t = modindices(res, minimum=minimum)
    shown = t if top is None or fmt in ("csv", "json") else t.head(top)
    groups = list(getattr(res, "group_labels", None) or [])  # a multiple-group fit: lavaan's group column
    rows = [[str(r.lhs), str(r.op), str(r.rhs)] + ([f"{int(r.group)} [{groups[int(r.group) - 1]}]"] if groups else [])
            + [_f(r.mi), _f(r.epc), _f(r.sepc_lv), _f(r.sepc_all), _f(r.sepc_nox)]
            for r in shown.itertuples(index=False)]
    notes = [f"{len(t)} modification indices >= {minimum:g}" + (f"; the {len(shown)} largest shown" if len(shown) < len(t)
                                                                 else "") + "; 3.84 is the 5% chi-square(1) value."]
    doc = {"n": res.n, "minimum": minimum, "modindices": _records(t)}
    if groups:
        notes.append("Equality constraints are kept; releasing them is the score test (smsem invariance).")
        doc["groups"] = {"column": res.group, "labels": groups}
    return _frame(t, fmt, "Modification indices (lavaan's modindices(), largest first)",
                  ["lhs", "op", "rhs"] + ([f"Group [{res.group}]"] if groups else [])
                  + ["MI", "EPC", "sEPC.lv", "sEPC.all", "sEPC.nox"], rows, "lll" + ("l" if groups else "") + "rrrrr",
                  notes, "modindices", doc)


# --- residuals -----------------------------------------------------------------------------

def item_wording(model: Any, item: str) -> str:
    """An item's wording from the model's codebook (English if present), else ``""``."""
    for c in getattr(model, "constructs", {}).values():
        for it in c.items:
            if it.id == item:
                text = it.text
                return str(text.get("en") or next(iter(text.values()), "")) if text else ""
    return ""


def residual_frame(res: "FitResults", type: str = "cor.bollen") -> pd.DataFrame:
    """Every residual (``lhs, rhs, residual, se, z``) of ``lavResiduals(fit, type)``."""
    from ..estimate.diagnostics import mean_residuals, residuals

    t = residuals(res, type)
    if getattr(res, "missing", "listwise") == "fiml":  # lavaan's $mean of a missing = "ml" fit as well
        t.insert(0, "block", "cov")
        m = mean_residuals(res, type).assign(rhs="", block="mean")
        t = pd.concat([t, m[t.columns]], ignore_index=True)
    t.insert(0, "type", type)
    return t


def render_residuals(res: "FitResults", fmt: str = "text", *, type: str = "cor.bollen", n: int = 10) -> str:
    """Residuals as lavaan's ``lavResiduals()``: the summary (CRMR/SRMR with their SEs,
    exact- and close-fit tests) and the ``n`` largest residuals with their z and, when the
    model has a codebook, the items' wording. CSV: every residual (long form)."""
    from ..estimate.diagnostics import largest_residuals, residual_summary

    _check(fmt)
    summary = residual_summary(res, type)
    big = largest_residuals(res, type, n=n)
    if fmt == "csv":
        return _csv(residual_frame(res, type))
    big = big.assign(lhs_text=[item_wording(res.model, v) for v in big.lhs],
                     rhs_text=[item_wording(res.model, v) for v in big.rhs])
    if fmt == "json":
        return _json({"n": res.n, "type": type, "summary": _records(summary), "largest": _records(big),
                      "residuals": _records(residual_frame(res, type))})
    if "total" in summary.columns:  # FIML: lavaan's summary has the covariances, the means and both
        sblock = _Block(f"Residual summary (lavResiduals(fit, type = \"{type}\")$summary; observed moments: "
                        "the EM estimates)", ["Statistic", "Covariances", "Means", "Total"],
                        [[str(r.stat)] + [_num(v, r.stat.replace(".", "_")) for v in (r.value, r.mean, r.total)]
                         for r in summary.itertuples(index=False)], "lrrr", label="residual-summary")
    else:
        sblock = _Block(f"Residual summary (lavResiduals(fit, type = \"{type}\")$summary)", ["Statistic", "Value"],
                        [[str(r.stat), _num(r.value, r.stat.replace(".", "_"))]
                         for r in summary.itertuples(index=False)], "lr", label="residual-summary")
    worded = bool((big.lhs_text != "").any() or (big.rhs_text != "").any())
    header = ["Item", "Item", "Residual", "SE", "z"] + (["Wording (first item)", "Wording (second item)"] if worded else [])
    rows = []
    for r in big.itertuples(index=False):
        row = [str(r.lhs), str(r.rhs), _f(r.residual), _f(r.se), _f(r.z, 2)]
        if worded:
            row += [_short(r.lhs_text), _short(r.rhs_text)]
        rows.append(row)
    lblock = _Block(f"The {len(big)} largest residuals ({type}; |z| > 1.96 is unusual at 5%)", header, rows,
                    "llrrr" + ("ll" if worded else ""), label="residual-largest")
    return _render([sblock, lblock], fmt)


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1].rstrip() + "…"


# --- the bootstrap of every statistic ------------------------------------------------------

def render_bootstrap(boot: "BootstrapResults", fmt: str = "text", *, level: float = 0.95,
                     method: str = "percentile") -> str:
    """Every bootstrapped statistic (parameters, std.all values, R², effects, := parameters,
    fit indices, HTMT) with its bootstrap SE and CI, named by lavaan's lhs/op/rhs
    (:meth:`smsem.BootstrapResults.table`), and the draw accounting."""
    t = boot.table(level, method)
    pct = f"{level * 100:g}%"
    rows = [[str(r.lhs), str(r.op), str(r.rhs), "std.all" if r.std else "", _f(r.est), _f(r.boot_se),
             _ci(r.boot_lower, r.boot_upper), str(r.n_used)] for r in t.itertuples(index=False)]
    doc = {"n_boot": boot.n_boot, "kind": boot.kind, "seed": boot.seed, "level": level, "method": method,
           "include_inadmissible": boot.include_inadmissible, "failures": boot.failures,
           "excluded": boot.excluded, "accounting": boot.accounting(), "statistics": _records(t)}
    return _frame(t, fmt, f"Bootstrap ({boot.kind}, {method} {pct} CIs)",
                  ["lhs", "op", "rhs", "Scale", "Est.", "Boot SE", f"{pct} CI", "Draws"], rows, "llllrrcr",
                  [boot.accounting()], "bootstrap", doc)


assert set(TABLE_FORMATS) >= {"text", "markdown", "latex", "csv", "json"}
