"""The fit and parameter sections of ``smsem fit`` (text, Markdown, JSON). Formats only:
every number comes from :class:`~smsem.estimate.results.FitResults`."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ..estimate.results import FitResults
    from ..propositions import PropositionTable

__all__ = ["render_fit", "render_parameters", "render_fit_report"]

_LABELS = {
    "chi2": "chi2", "df": "df", "pvalue": "p (chi2)", "baseline_chi2": "baseline chi2",
    "baseline_df": "baseline df", "cfi": "CFI", "tli": "TLI", "rmsea": "RMSEA",
    "rmsea_ci_lower": "RMSEA 90% CI lower", "rmsea_ci_upper": "RMSEA 90% CI upper",
    "rmsea_pvalue": "p (RMSEA <= .05)", "srmr": "SRMR", "logl": "log-likelihood", "aic": "AIC",
    "bic": "BIC", "chi2_scaled": "chi2 scaled (Satorra-Bentler)", "pvalue_scaled": "p (scaled chi2)",
    "scaling_factor": "scaling factor", "cfi_scaled": "CFI scaled", "tli_scaled": "TLI scaled",
    "rmsea_scaled": "RMSEA scaled", "rmsea_ci_lower_scaled": "RMSEA scaled 90% CI lower",
    "rmsea_ci_upper_scaled": "RMSEA scaled 90% CI upper",
}


def _num(v: float, name: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if name in ("df", "baseline_df"):
        return f"{v:.0f}"
    if name in ("pvalue", "pvalue_scaled", "rmsea_pvalue"):
        return "<.001" if v < 0.001 else f"{v:.3f}"
    return f"{v:.3f}"


def _ok(v: Any) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else ("yes" if v else "NO")


def _title(res: "FitResults") -> str:
    miss = "FIML (lavaan missing = \"ml\")" if res.missing == "fiml" else "listwise deletion"
    how = {"ML": "ML", "MLM": "MLM (robust SEs, Satorra-Bentler scaled chi2)",
           "MLR": "MLR (Huber-White SEs, Yuan-Bentler scaled chi2)"}[res.estimator]
    return f"Model fit: estimator {how}; missing data: {miss}; n = {res.n}"


def _label(name: str, estimator: str) -> str:
    if name == "chi2_scaled":
        return "chi2 scaled (Yuan-Bentler)" if estimator == "MLR" else "chi2 scaled (Satorra-Bentler)"
    return _LABELS.get(name, name)


def _fit_rows(res: "FitResults") -> list[list[str]]:
    return [[_label(r.index, res.estimator), _num(r.value, r.index), r.cutoff, _ok(r.ok)]
            for r in res.fit_table.itertuples(index=False)]


def _param_rows(res: "FitResults") -> tuple[list[str], list[list[str]]]:
    p = res.params
    s = res.standardized
    header = ["Parameter", "Est.", "SE", "z", "p", "95% CI", "Std.all", "SE (std)", "Std.lv"]
    rows = []
    for r, t in zip(p.itertuples(index=False), s.itertuples(index=False)):
        ci = f"[{r.ci_lower:.3f}, {r.ci_upper:.3f}]" if math.isfinite(r.ci_lower) else ""
        rows.append([f"{r.lhs} {r.op} {r.rhs}".strip(), f"{r.est:.3f}", _num(r.se), _num(r.z),
                     _num(r.pvalue, "pvalue"), ci, f"{t.std_all:.3f}", _num(t.std_all_se), f"{t.std_lv:.3f}"])
    return header, rows


def _text_table(header: list[str], rows: list[list[str]], left: set[int]) -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return out + ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]


def render_fit(res: "FitResults", fmt: str = "text") -> str:
    """The fit indices beside the marketing cut-offs (CFI, TLI >= .95; RMSEA <= .06; SRMR <= .08)."""
    header = ["Index", "Value", "Cut-off", "Meets"]
    rows = _fit_rows(res)
    if fmt == "markdown":
        return "\n".join([f"**{_title(res)}**", ""] + _md_table(header, rows)) + "\n"
    return "\n".join([_title(res)] + _text_table(header, rows, {0, 2, 3})) + "\n"


def render_parameters(res: "FitResults", fmt: str = "text") -> str:
    """Every parameter: estimate, SE, z, p, Wald 95% CI, std.all with its delta-method SE, std.lv."""
    header, rows = _param_rows(res)
    title = "Parameters (fixed ones without SE; standardized as lavaan's standardizedSolution())"
    if fmt == "markdown":
        return "\n".join([f"**{title}**", ""] + _md_table(header, rows)) + "\n"
    return "\n".join([title] + _text_table(header, rows, {0})) + "\n"


def _clean(v: Any) -> Any:
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def render_fit_report(res: "FitResults", table: "PropositionTable", fmt: str = "text") -> str:
    """``smsem fit`` output: the proposition table (unchanged), then fit and parameters.

    CSV stays the proposition table alone (one table per CSV file).
    """
    from .tables import render_propositions

    props = render_propositions(table, fmt)
    if fmt not in ("text", "markdown", "json"):  # csv: one table per file; latex: not yet
        return props
    if fmt == "json":
        doc = json.loads(props)
        doc["estimator"] = res.estimator
        doc["missing"] = res.missing
        doc["fit_cutoffs"] = [{k: _clean(v) for k, v in r.items()} for r in res.fit_table.to_dict(orient="records")]
        merged = res.params.drop(columns=["std_all", "std_lv"], errors="ignore").merge(res.standardized, on=["lhs", "op", "rhs"], how="left")
        doc["parameters"] = [{k: _clean(v) for k, v in r.items()} for r in merged.to_dict(orient="records")]
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    sep = "\n"
    return props + sep + render_fit(res, fmt) + sep + render_parameters(res, fmt)
