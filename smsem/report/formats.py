"""Text, Markdown, LaTeX, CSV and JSON renderings of parameters, effects and quality.

Formats only: every number comes from a results object; nothing is computed here except
its rounding. The column names of the CSV and JSON outputs are those of the results'
DataFrames (``PARAM_COLUMNS``, ``EFFECT_COLUMNS``, ``DEFINED_COLUMNS``,
``LOADING_COLUMNS``, ``CONSTRUCT_COLUMNS``, ``DISCRIMINANT_COLUMNS``) and are stable;
missing values are empty cells in CSV and ``null`` in JSON. The LaTeX output is a
``table`` environment with a ``booktabs`` ``tabular`` (``\\usepackage{booktabs}``).

Significance stars: ``***`` p < .001, ``**`` p < .01, ``*`` p < .05.
"""

from __future__ import annotations

import io
import json
import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import pandas as pd

from ._numbers import fmt
from ._numbers import fmt_p as _p

if TYPE_CHECKING:  # pragma: no cover
    from ..estimate.effects import Effects
    from ..estimate.quality import MeasurementQuality
    from ..estimate.results import FitResults

__all__ = [
    "TABLE_FORMATS", "render_params", "render_effects", "render_quality", "stars",
    "QUALITY_PARTS", "EFFECT_PARTS",
]

TABLE_FORMATS = ("text", "markdown", "latex", "csv", "json")
#: ``part`` values of :func:`render_quality` for CSV (one table per file).
QUALITY_PARTS = ("constructs", "loadings", "discriminant", "fornell_larcker", "htmt", "htmt2")
#: ``part`` values of :func:`render_effects` for CSV.
EFFECT_PARTS = ("effects", "defined")

_DAGGER = "\u2020"   # below a threshold
_DDAGGER = "\u2021"  # HTMT at or above the liberal cut-off


def stars(p: float) -> str:
    """``***`` p < .001, ``**`` p < .01, ``*`` p < .05, else empty."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def _f(v: Any, digits: int = 3) -> str:
    # Integers print with decimals too in these tables (e.g. a fixed loading of 1).
    if isinstance(v, int) and not isinstance(v, bool):
        v = float(v)
    return fmt(v, digits)


def _ci(lo: float, hi: float) -> str:
    if math.isnan(lo) or math.isnan(hi):
        return ""
    return f"[{lo:.3f}, {hi:.3f}]"


@dataclass
class _Block:
    """One displayed table: title, header, rows of strings, alignment, notes."""

    title: str
    header: list[str]
    rows: list[list[str]]
    align: str  # one of l, r, c per column
    notes: list[str] = field(default_factory=list)
    label: str = ""


# --- generic renderers -------------------------------------------------------------

def _text(blocks: Sequence[_Block]) -> str:
    out: list[str] = []
    for b in blocks:
        widths = [max([len(h)] + [len(r[i]) for r in b.rows]) for i, h in enumerate(b.header)]

        def line(cells: list[str]) -> str:
            return "  ".join(c.rjust(w) if a == "r" else c.center(w) if a == "c" else c.ljust(w)
                             for c, w, a in zip(cells, widths, b.align)).rstrip()

        out += [b.title, "=" * len(b.title), line(b.header), line(["-" * w for w in widths])]
        out += [line(r) for r in b.rows]
        out += b.notes
        out.append("")
    return "\n".join(out)


def _md_cell(c: str) -> str:
    return c.replace("|", "\\|").replace("->", "\u2192")


def _markdown(blocks: Sequence[_Block]) -> str:
    out: list[str] = []
    amap = {"l": "---", "r": "--:", "c": ":-:"}
    for b in blocks:
        out += [f"### {b.title}", ""]
        out.append("| " + " | ".join(_md_cell(h) for h in b.header) + " |")
        out.append("| " + " | ".join(amap[a] for a in b.align) + " |")
        out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in b.rows]
        if b.notes:
            out.append("")
            out += [f"{n}  " for n in b.notes]
        out.append("")
    return "\n".join(out)


_LATEX_ESCAPE = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                 "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}"}


_RELATIONS = {"->": r"$\rightarrow$", ">=": r"$\geq$", "<=": r"$\leq$", "<": "$<$", ">": "$>$"}
_RELATIONS_RE = re.compile("|".join(re.escape(k) for k in _RELATIONS))


def _tex(s: str) -> str:
    s = "".join(_LATEX_ESCAPE.get(ch, ch) for ch in s)
    # Relations in math mode: in LaTeX's default text font "<" and ">" print as other glyphs.
    s = _RELATIONS_RE.sub(lambda m: _RELATIONS[m.group(0)], s)
    s = s.replace(_DAGGER, r"$^{\dagger}$").replace(_DDAGGER, r"$^{\ddagger}$")
    s = s.replace("\u2013", "--").replace("\u221a", r"$\surd$")
    if s == "-" or (s[:1] == "-" and s[1:2].isdigit()):
        s = "$-$" + s[1:]  # a minus sign, not a hyphen
    s = s.replace("[-", "[$-$").replace(", -", ", $-$")
    return s


def _latex(blocks: Sequence[_Block]) -> str:
    out: list[str] = ["% smsem tables: requires \\usepackage{booktabs}"]
    for b in blocks:
        out += [r"\begin{table}[htbp]", r"\centering", rf"\caption{{{_tex(b.title)}}}"]
        if b.label:
            out.append(rf"\label{{tab:smsem-{b.label}}}")
        out += [rf"\begin{{tabular}}{{{''.join(b.align)}}}", r"\toprule",
                " & ".join(_tex(h) for h in b.header) + r" \\", r"\midrule"]
        out += [" & ".join(_tex(c) for c in r) + r" \\" for r in b.rows]
        out += [r"\bottomrule", r"\end{tabular}"]
        if b.notes:
            out.append(r"\par\smallskip{\footnotesize " + r" \\ ".join(_tex(n) for n in b.notes) + "}")
        out += [r"\end{table}", ""]
    return "\n".join(out)


def _render(blocks: Sequence[_Block], fmt: str) -> str:
    return {"text": _text, "markdown": _markdown, "latex": _latex}[fmt](blocks)


def _csv(df: pd.DataFrame, index: bool = False) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=index, float_format="%.6g", lineterminator="\n")
    return buf.getvalue()


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):  # numpy scalars
        return _clean(v.item())
    return v


def _records(df: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def _square(df: pd.DataFrame) -> dict[str, dict[str, Any]]:
    return {str(r): {str(c): _clean(df.loc[r, c]) for c in df.columns} for r in df.index}


def _json(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False, allow_nan=False) + "\n"


def _check(fmt: str, allowed: Sequence[str] = TABLE_FORMATS) -> None:
    from .._validation import check_option

    check_option("format", fmt, allowed)


# --- parameters --------------------------------------------------------------------

_OP_TITLES = {"=~": "Latent variables (=~)", "~": "Regressions (~)", "~~": "Variances and covariances (~~)",
              "~1": "Intercepts and means (~1)", ":=": "Defined parameters (:=)"}


def with_level(table: pd.DataFrame, level: float, pairs=(("est", "se", "ci_lower", "ci_upper"),)) -> pd.DataFrame:
    """``table`` with its Wald CIs recomputed at ``level`` (``est -/+ z se``)."""
    if level == 0.95:
        return table
    from scipy import stats

    z = stats.norm.ppf(0.5 + level / 2)
    out = table.copy()
    for est, se, lo, hi in pairs:
        if lo in out.columns:
            out[lo] = out[est] - z * out[se]
            out[hi] = out[est] + z * out[se]
    return out


def render_params(res: "FitResults", fmt: str = "text", *, level: float = 0.95) -> str:
    """Render the parameter table of a fit (``res.params``) in ``fmt``.

    CSV and JSON carry every column of ``res.params`` (``PARAM_COLUMNS`` and any column a
    later version adds); the display formats show estimate, SE, z, p with stars, the Wald
    CI and std.all.
    """
    _check(fmt)
    p = with_level(res.params, level)
    if fmt == "csv":
        return _csv(p)
    if fmt == "json":
        return _json({"n": res.n, "parameters": _records(p)})
    pct = f"{level * 100:g}%"
    header = ["lhs", "op", "rhs", "Est.", "SE", "z", "p", "", f"{pct} CI", "Std.all"]
    align = "lllrrrrlcr"
    order = [op for op in ("=~", "~", "~~", "~1", ":=") if (p.op == op).any()]
    blocks = []
    for op in order:
        sub = p[p.op == op]
        rows = [[str(r["lhs"]), op, str(r["rhs"]), _f(r["est"]), _f(r["se"]), _f(r["z"], 2), _p(r["pvalue"]),
                 stars(r["pvalue"]), _ci(r["ci_lower"], r["ci_upper"]), _f(r["std_all"])] for _, r in sub.iterrows()]
        blocks.append(_Block(_OP_TITLES[op], header, rows, align, label=f"params-{op}"))
    blocks[-1].notes = [f"n = {res.n}; SE from the expected information; Wald {pct} CI; "
                        "*** p < .001, ** p < .01, * p < .05."]
    return _render(blocks, fmt)


# --- effects -----------------------------------------------------------------------

_KINDS = {"indirect": "indirect", "total_indirect": "total indirect", "direct": "direct", "total": "total"}


def render_effects(eff: "Effects", fmt: str = "text", *, part: str = "effects") -> str:
    """Render direct, indirect and total effects (and ``:=`` parameters) in ``fmt``.

    ``part`` selects the table written as CSV: ``"effects"`` (``EFFECT_COLUMNS``) or
    ``"defined"`` (``DEFINED_COLUMNS``); JSON holds both.
    """
    _check(fmt)
    from .._validation import check_option

    check_option("part", part, EFFECT_PARTS)
    if fmt == "csv":
        return _csv(eff.table if part == "effects" else eff.defined)
    if fmt == "json":
        return _json({"n": eff.n, "level": eff.level, "effects": _records(eff.table),
                      "defined": _records(eff.defined)})
    pct = f"{eff.level * 100:g}%"
    boot = "boot_ci_lower" in eff.table.columns
    header = ["Source", "Effect", "Path", "Est.", "SE", "p", "", f"{pct} CI", "Std.", "Std. SE", f"{pct} CI (std)"]
    align = "lllrrrlcrrc"
    if boot:
        header += [f"Boot {pct} CI", f"Boot {pct} CI (std)"]
        align += "cc"
    blocks = []
    for y in eff.outcomes:
        sub = eff.table[eff.table.outcome == y]
        rows = []
        for r in sub.itertuples(index=False):
            rows.append([r.source, _KINDS.get(r.kind, r.kind), r.path, _f(r.est), _f(r.se), _p(r.pvalue),
                         stars(r.pvalue), _ci(r.ci_lower, r.ci_upper), _f(r.std_all), _f(r.std_se),
                         _ci(r.std_ci_lower, r.std_ci_upper)])
            if boot:
                rows[-1] += [_ci(r.boot_ci_lower, r.boot_ci_upper), _ci(r.std_boot_ci_lower, r.std_boot_ci_upper)]
        blocks.append(_Block(f"Effects on {y}", header, rows, align, label=f"effects-{y}"))
    if len(eff.defined):
        dh = ["Name", "Expression", "Est.", "SE", "p", "", f"{pct} CI", "Std.", "Std. SE"]
        rows = []
        for r in eff.defined.itertuples(index=False):
            rows.append([r.name, r.expression, _f(r.est), _f(r.se), _p(r.pvalue), stars(r.pvalue),
                         _ci(r.ci_lower, r.ci_upper), _f(r.std_all), _f(r.std_se)])
            if boot:
                rows[-1] += [_ci(r.boot_ci_lower, r.boot_ci_upper), _ci(r.std_boot_ci_lower, r.std_boot_ci_upper)]
        if boot:
            dh += [f"Boot {pct} CI", f"Boot {pct} CI (std)"]
        blocks.append(_Block("Defined parameters (:=)", dh, rows, "llrrrlcrr" + ("cc" if boot else ""),
                             label="defined"))
    if not blocks:
        blocks.append(_Block("Effects", ["Note"], [["the model has no structural paths"]], "l"))
    blocks[-1].notes = [f"n = {eff.n}; delta-method SEs, Wald {pct} CIs; Std. = std.all "
                        "(effect x sd(source) / sd(outcome)); *** p < .001, ** p < .01, * p < .05."
                        + (" Boot: bootstrap CIs (see the proposition report for the method and draws)."
                           if boot else "")]
    return _render(blocks, fmt)


# --- measurement quality -------------------------------------------------------------

def _flag(v: float, ok: bool) -> str:
    s = _f(v)
    return s if ok or not s else s + _DAGGER


def _moments_note(q: "MeasurementQuality") -> str:
    """Which data the quality statistics read, and how many respondents."""
    if getattr(q, "moments", "complete cases") == "EM":
        return (f"From the EM estimates of the item covariances (FIML): all n = {q.n} respondents, "
                "as semTools on the lavaan missing = \"ml\" fit.")
    return f"From the complete cases: n = {q.n}."


def render_quality(q: "MeasurementQuality", fmt: str = "text", *, part: str = "constructs") -> str:
    """Render reliability and validity in ``fmt``.

    Display formats mark a value that fails its threshold with a dagger (an HTMT at or
    above the liberal cut-off with a double dagger). ``part`` selects the table written as
    CSV (one of ``QUALITY_PARTS``); JSON holds them all.
    """
    _check(fmt)
    from .._validation import check_option

    check_option("part", part, QUALITY_PARTS)
    t = q.thresholds
    if fmt == "csv":
        df = getattr(q, part)
        square = part in ("fornell_larcker", "htmt", "htmt2")
        return _csv(df.rename_axis("construct").reset_index() if square else df)
    if fmt == "json":
        return _json({
            "n": q.n, "moments": q.moments,
            "thresholds": {k: getattr(t, k) for k in ("loading", "alpha", "cr", "ave", "htmt_strict", "htmt_liberal")},
            "constructs": _records(q.constructs), "loadings": _records(q.loadings),
            "discriminant": _records(q.discriminant), "fornell_larcker": _square(q.fornell_larcker),
            "htmt": _square(q.htmt), "htmt2": _square(q.htmt2),
        })
    rel_rows = [[r.construct, str(r.n_items), _flag(r.alpha, r.alpha_ok), _flag(r.cr, r.cr_ok),
                 _flag(r.ave, r.ave_ok), _f(r.sqrt_ave)] for r in q.constructs.itertuples(index=False)]
    blocks = [_Block("Reliability and convergent validity", ["Construct", "Items", "Alpha", "CR", "AVE", "sqrt(AVE)"],
                     rel_rows, "lrrrrr",
                     [f"{_DAGGER} below the threshold: alpha >= {t.alpha:.2f}, CR >= {t.cr:.2f}, AVE >= {t.ave:.2f}. "
                      "Alpha and CR (omega) as semTools::compRelSEM, AVE as semTools::AVE. " + _moments_note(q)],
                     label="reliability")]
    ld_rows = [[r.construct, r.item, _f(r.est), _flag(r.std_all, r.loading_ok)]
               for r in q.loadings.itertuples(index=False)]
    blocks.append(_Block("Indicator loadings", ["Construct", "Item", "Est.", "Std."], ld_rows, "llrr",
                         [f"{_DAGGER} standardized loading below {t.loading:.3f}."], label="loadings"))
    cons = list(q.fornell_larcker.columns)
    fl_ok = dict(zip(q.constructs.construct, q.constructs.fornell_larcker_ok))
    fl_rows = []
    for i, a in enumerate(cons):
        row = [a]
        for j, b in enumerate(cons):
            v = q.fornell_larcker.loc[a, b]
            row.append(_flag(v, fl_ok[a]) if i == j else _f(v) if j < i else "")
        fl_rows.append(row)
    blocks.append(_Block("Fornell-Larcker criterion", ["", *cons], fl_rows, "l" + "r" * len(cons),
                         ["Diagonal: sqrt(AVE); below it: latent correlations. "
                          f"{_DAGGER} sqrt(AVE) not above every correlation of the construct."],
                         label="fornell-larcker"))
    h_rows = []
    for i, a in enumerate(cons):
        row = [a]
        for j, b in enumerate(cons):
            if i == j:
                row.append("")
                continue
            v = float((q.htmt if j < i else q.htmt2).loc[a, b])
            mark = _DDAGGER if v >= t.htmt_liberal else _DAGGER if v >= t.htmt_strict else ""
            row.append(_f(v) + mark)
        h_rows.append(row)
    blocks.append(_Block("Discriminant validity: HTMT (below the diagonal) and HTMT2 (above)", ["", *cons], h_rows,
                         "l" + "r" * len(cons),
                         [f"{_DAGGER} >= {t.htmt_strict:.2f}, {_DDAGGER} >= {t.htmt_liberal:.2f}; HTMT as "
                          "semTools::htmt(htmt2 = FALSE), HTMT2 (geometric means) as htmt(htmt2 = TRUE)"
                          + (", missing = \"ml\". " if q.moments == "EM" else ". ") + _moments_note(q)],
                         label="htmt"))
    return _render(blocks, fmt)
