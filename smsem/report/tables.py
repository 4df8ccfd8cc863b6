"""Formatting of proposition tables: text, Markdown, JSON, CSV and LaTeX. Formats only."""

from __future__ import annotations

import io
import json
import math
from typing import TYPE_CHECKING, Any

from ._numbers import fmt as _f
from ._numbers import fmt_p as _p
from ._numbers import p_clause

if TYPE_CHECKING:  # pragma: no cover
    from ..estimate.results import FitResults
    from ..propositions import PropositionTable

__all__ = ["render_propositions", "render_group_differences", "render_reproduction", "FORMATS"]

FORMATS = ("text", "markdown", "json", "csv", "latex")


def _rows(pt: "PropositionTable") -> tuple[list[str], list[list[str]]]:
    pct = f"{pt.level * 100:g}%"
    header = ["Id", "Path", "Exp.", "Est.", "Std.", "SE", "p", f"{pct} CI (std)", "Verdict"]
    rows = []
    for r in pt.table.itertuples(index=False):
        ci = f"[{_f(r.ci_lower)}, {_f(r.ci_upper)}]" if not math.isnan(r.ci_lower) else ""
        rows.append([r.id, r.path, r.expected, _f(r.est), _f(r.std_est), _f(r.se), _p(r.pvalue), ci, r.verdict])
    if "group" in pt.table:  # a multiple-group table: one row per proposition and group
        header.insert(1, "Group")
        for row, g in zip(rows, pt.table["group"]):
            row.insert(1, str(g))
    labels = list(pt.table["label"]) if "label" in pt.table else []
    if any(labels):  # a hypotheses file's own labels
        header.append("Label")
        for row, lab in zip(rows, labels):
            row.append(lab or "")
    return header, rows


def _footer(pt: "PropositionTable") -> list[str]:
    fi = pt.fit_indices
    accounting = getattr(pt, "accounting", "")
    if accounting:  # used draws, inadmissible ones kept or excluded, left-out draws per reason
        boot = f"bootstrap draws: {accounting.replace(' bootstrap draws', '', 1)}"
    else:
        boot = f"bootstrap draws: {pt.n_boot} ({pt.n_failed} failed"
        if pt.failures:
            boot += ": " + ", ".join(f"{k} {v}" for k, v in sorted(pt.failures.items()))
        boot += ")"
    boot += f"; {pt.ci_method} CI of the standardized estimate"
    return [
        f"n = {pt.n}; {boot}",
        (f"chi2({fi['df']:.0f}) = {fi['chi2']:.3f}, {p_clause(fi['pvalue'])}; CFI = {fi['cfi']:.3f}; "
         f"TLI = {fi['tli']:.3f}; RMSEA = {fi['rmsea']:.3f}"),
    ]


def _mediation_rows(pt: "PropositionTable") -> tuple[list[str], list[list[str]]]:
    pct = f"{pt.level * 100:g}%"
    header = ["Effect", "Path", "Props.", "Est.", f"{pct} CI", "Std.", f"{pct} CI (std)", "CI"]
    kinds = {"indirect": "specific indirect", "total_indirect": "total indirect", "direct": "direct",
             "total": "total"}
    rows = []
    for r in pt.mediation.itertuples(index=False):
        ci = f"[{_f(r.boot_ci_lower)}, {_f(r.boot_ci_upper)}]" if not math.isnan(r.boot_ci_lower) else ""
        sci = f"[{_f(r.std_ci_lower)}, {_f(r.std_ci_upper)}]" if not math.isnan(r.std_ci_lower) else ""
        rows.append([kinds.get(r.kind, r.kind), r.path, r.ids, _f(r.est), ci, _f(r.std_all), sci,
                     r.verdict if sci else ""])
    return header, rows


def _mediation_title(pt: "PropositionTable") -> str:
    return (f"Mediation: the propositions' chains, {pt.ci_method} bootstrap CIs "
            f"({pt.n_boot} draws; Props. = the propositions along the chain)")


def _mediation_text(pt: "PropositionTable") -> list[str]:
    if not len(getattr(pt, "mediation", ())):
        return []
    header, rows = _mediation_rows(pt)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    num = {3, 5}

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in num else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return ["", _mediation_title(pt), line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def _mediation_markdown(pt: "PropositionTable") -> list[str]:
    if not len(getattr(pt, "mediation", ())):
        return []
    header, rows = _mediation_rows(pt)
    out = ["", f"**{_mediation_title(pt)}**", "", "| " + " | ".join(header) + " |",
           "| " + " | ".join(["---", "---", "---", "--:", ":-:", "--:", ":-:", "---"]) + " |"]
    return out + ["| " + " | ".join(c.replace("->", "→") for c in r) + " |" for r in rows]


def _text(pt: "PropositionTable") -> str:
    header, rows = _rows(pt)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]  # rows may be empty
    num = {3, 4, 5, 6} if header[1] != "Group" else {4, 5, 6, 7}

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in num else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    out = [line(header), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    if not rows:
        out.append("(nothing to test: the model has no regression path and no := parameter)")
    out.append("")
    out += _footer(pt)
    out += _mediation_text(pt)
    out += _groups_text(pt)
    return "\n".join(out) + "\n"


def _markdown(pt: "PropositionTable") -> str:
    header, rows = _rows(pt)
    align = ["---", "---", ":-:", "--:", "--:", "--:", "--:", ":-:", "---", "---"]
    if header[1] == "Group":
        align.insert(1, "---")
    align = align[:len(header)]
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(c.replace("->", "→") for c in r) + " |" for r in rows]
    out.append("")
    out += [f"{line}  " for line in _footer(pt)]
    out += _mediation_markdown(pt)
    out += _groups_markdown(pt)
    return "\n".join(out) + "\n"


def _latex(pt: "PropositionTable") -> str:
    from .formats import _Block, _latex as latex_blocks

    header, rows = _rows(pt)
    title = "Propositions: standardized paths and bootstrap confidence intervals"
    grp = header[1] == "Group"
    spec = ("lllcrrrrcl" if grp else "llcrrrrcl") + "l" * (len(header) - 9 - grp)
    blocks = [_Block(title, header, rows, spec, _footer(pt), label="propositions")]
    if len(getattr(pt, "mediation", ())):
        mh, mr = _mediation_rows(pt)
        blocks.append(_Block(_mediation_title(pt), mh, mr, "lllrcrcl", [], label="mediation"))
    if len(getattr(pt, "group_differences", ())):
        gh, gr = _groups_rows(pt)
        blocks.append(_Block(_groups_title(pt), gh, gr, "lllrrrrrrcc", [], label="group-differences"))
    return latex_blocks(blocks)


def _json(pt: "PropositionTable") -> str:
    def clean(v: Any) -> Any:
        return None if isinstance(v, float) and math.isnan(v) else v

    doc = {
        "n": pt.n,
        "n_boot": pt.n_boot,
        "n_failed": pt.n_failed,
        "failures": pt.failures,
        "level": pt.level,
        "ci_method": pt.ci_method,
        "fit": {k: clean(v) for k, v in pt.fit_indices.items()},
        "paths": [{k: clean(v) for k, v in row.items()} for row in pt.table.to_dict(orient="records")],
    }
    if len(getattr(pt, "mediation", ())):
        doc["bootstrap_accounting"] = pt.accounting
        doc["mediation"] = [{k: clean(v) for k, v in row.items()} for row in pt.mediation.to_dict(orient="records")]
    if len(getattr(pt, "group_differences", ())):
        doc["bootstrap_accounting"] = pt.accounting
        doc["group_differences"] = [{k: clean(v) for k, v in row.items()}
                                    for row in pt.group_differences.to_dict(orient="records")]
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _csv(pt: "PropositionTable") -> str:
    buf = io.StringIO()
    pt.table.to_csv(buf, index=False, float_format="%.6g", lineterminator="\n")
    return buf.getvalue()


def _groups_title(pt: "PropositionTable") -> str:
    pct = f"{pt.level * 100:g}%"
    boot = (f"stratified bootstrap {pct} percentile CI, {pt.n_boot} draws resampled within groups, "
            f"{pt.n_failed} failed" if pt.n_boot
            else "no bootstrap (--boot N for CIs)")
    return (f"Proposition paths by group: unstandardized estimates, difference = group - reference, "
            f"Wald z test and {pct} CI; {boot}")


def _groups_rows(pt: "PropositionTable") -> tuple[list[str], list[list[str]]]:
    pct = f"{pt.level * 100:g}%"
    header = ["Id", "Path", "Contrast", "Ref.", "Group", "Diff.", "SE", "z", "p", f"{pct} Wald CI",
              f"{pct} boot CI"]
    rows = []
    for r in pt.group_differences.itertuples(index=False):
        wald = f"[{_f(r.ci_lower)}, {_f(r.ci_upper)}]" if not math.isnan(r.ci_lower) else "(equal by constraint)"
        boot = f"[{_f(r.boot_ci_lower)}, {_f(r.boot_ci_upper)}]" if not math.isnan(r.boot_ci_lower) else ""
        rows.append([str(r.id), r.path, r.contrast, _f(r.est_ref), _f(r.est_group), _f(r.diff), _f(r.se),
                     _f(r.z, 2) if not math.isnan(r.z) else "", _p(r.pvalue) if not math.isnan(r.pvalue) else "",
                     wald, boot])
    return header, rows


def _groups_text(pt: "PropositionTable") -> list[str]:
    if not len(getattr(pt, "group_differences", ())):
        return []
    header, rows = _groups_rows(pt)
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]
    num = {3, 4, 5, 6, 7, 8}

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in num else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return ["", _groups_title(pt), line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def _groups_markdown(pt: "PropositionTable") -> list[str]:
    if not len(getattr(pt, "group_differences", ())):
        return []
    header, rows = _groups_rows(pt)
    out = ["", f"**{_groups_title(pt)}**", "", "| " + " | ".join(header) + " |",
           "| " + " | ".join(["---"] * 3 + ["--:"] * 6 + [":-:"] * 2) + " |"]
    return out + ["| " + " | ".join(r) + " |" for r in rows]


def render_group_differences(pt: "PropositionTable", fmt: str = "text") -> str:
    """The proposition table's second block of a multiple-group fit alone, in ``fmt``."""
    from .._validation import check_option

    check_option("format", fmt, FORMATS)
    if fmt == "csv":
        buf = io.StringIO()
        pt.group_differences.to_csv(buf, index=False, float_format="%.6g", lineterminator="\n")
        return buf.getvalue()
    if fmt == "json":
        doc = {"level": pt.level, "n_boot": pt.n_boot, "n_failed": pt.n_failed, "bootstrap_accounting": pt.accounting,
               "group_differences": [{k: (None if isinstance(v, float) and math.isnan(v) else v)
                                      for k, v in row.items()}
                                     for row in pt.group_differences.to_dict(orient="records")]}
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    if fmt == "latex":
        from .formats import _Block, _latex as latex_blocks

        gh, gr = _groups_rows(pt)
        return latex_blocks([_Block(_groups_title(pt), gh, gr, "lllrrrrrrcc", [], label="group-differences")])
    lines = _groups_text(pt) if fmt == "text" else _groups_markdown(pt)
    return "\n".join(lines[1:]) + "\n"


def group_table_files(pt: "PropositionTable", modindices: dict[str, str] | None = None) -> dict[str, str]:
    """The ``--out`` files of a multiple-group fit's proposition table: ``propositions`` and
    ``group_differences`` in every format (txt, md, tex, csv, json), and the modification
    indices rendered per format in ``modindices`` (``{"text": ..., "markdown": ...}``; no LaTeX)."""
    files = {}
    for fmt, ext in (("text", "txt"), ("markdown", "md"), ("latex", "tex"), ("csv", "csv"), ("json", "json")):
        files[f"propositions.{ext}"] = render_propositions(pt, fmt)
        files[f"group_differences.{ext}"] = render_group_differences(pt, fmt)
        if modindices and fmt != "latex":
            files[f"modindices.{ext}"] = modindices[fmt]
    return files


def render_propositions(pt: "PropositionTable", fmt: str = "text") -> str:
    """Render a proposition table in ``fmt`` (one of ``FORMATS``)."""
    from .._validation import check_option

    check_option("format", fmt, FORMATS)
    return {"text": _text, "markdown": _markdown, "json": _json, "csv": _csv, "latex": _latex}[fmt](pt)


def render_reproduction(res: "FitResults", pt: "PropositionTable", meta: dict, *, boot_seed: int) -> str:
    """The Markdown report of ``smsem reproduce``: data, fit, admissibility, propositions.

    ``meta`` is the survey's sidecar (n, seed, likert as written by ``write_survey``).
    """
    admissible = "yes" if res.admissible else f"NO ({'; '.join(res.problems)})"
    return (
        f"# smsem reproduction of the integrative model\n\n"
        f"Synthetic survey: n = {meta['n']}, seed = {meta['seed']}, {meta['likert']}-point Likert items; "
        f"ML fit with semopy; {pt.n_boot} bootstrap draws (seed {boot_seed}).\n\n"
        f"Admissible solution: {admissible}.\n\n"
        f"## Propositions\n\n{render_propositions(pt, 'markdown')}\n"
        f"Verdict: *supported* when the {pt.level:.0%} {pt.ci_method} bootstrap CI of the standardized "
        f"path lies on the hypothesized side of 0, *opposite sign* when it lies on the other side, "
        f"*not supported* otherwise.\n"
    )
