"""Formatting of diagnostic results (text, Markdown, JSON, CSV) and the score figure (PNG).

Formats only: every number comes from :class:`smsem.diagnostic.DiagnosticResults`.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._validation import check_option
from ..io import check_writable, write_bytes
from ._numbers import fmt
from ._numbers import fmt_p as _p
from ._numbers import p_clause

if TYPE_CHECKING:  # pragma: no cover
    from ..diagnostic import DiagnosticResults, MultiGroupResults

__all__ = ["render_diagnostic", "render_multigroup", "plot_diagnostic", "DIAGNOSTIC_FORMATS"]

DIAGNOSTIC_FORMATS = ("text", "markdown", "json", "csv")
# Band colours, lightest for "undefined" to darkest for "integrated".
_BAND_COLORS = ("#f4cccc", "#fce5cd", "#d9ead3", "#b6d7a8")


def _f(v: Any, digits: int = 1) -> str:
    return fmt(v, digits)


def _table(header: list[str], rows: list[list[str]], markdown: bool, right: set[int]) -> list[str]:
    if markdown:
        align = ["--:" if i in right else "---" for i in range(len(header))]
        return ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"] + [
            "| " + " | ".join(r) + " |" for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    return [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]


def _sections(res: "DiagnosticResults", markdown: bool, figure: str | None, top_items: int) -> list[str]:
    inst = res.instrument
    h = (lambda s: f"## {s}") if markdown else (lambda s: f"{s}\n{'=' * len(s)}")
    out = []
    if markdown:
        out += ["# Sales-marketing integration diagnostic", ""]
    out += [f"Instrument: {inst.title.get('en', inst.name)} (Kotler, Rackham & Krishnaswamy, 2006), "
            f"{inst.n_items} statements rated 1..{inst.scale_points}, total {inst.min_total}..{inst.max_total}.",
            "Levels: " + ", ".join(f"{lv.id} {lv.low:g}-{lv.high:g}" for lv in inst.levels) + ".",
            f"Respondents: {res.n} read, {res.n - res.n_excluded} scored ({res.n_prorated} prorated), "
            f"{res.n_excluded} excluded (more than {inst.max_missing} unanswered statements).", ""]
    out += [h("Organizations"), ""]
    rows = [[str(r.org), str(r.n), str(r.n_excluded), _f(r.mean_total), _f(r.sd_total), r.level or "",
             _f(r.gap), _p(r.welch_p)] for r in res.organizations.itertuples(index=False)]
    out += _table(["Org", "n", "Excl.", "Mean total", "SD", "Level", "Gap", "Welch p"], rows, markdown,
                  {1, 2, 3, 4, 6, 7})
    out.append("")
    if res.groups is not None and res.comparison is not None:
        c = res.comparison
        out += [h("Groups"), ""]
        rows = [[str(r.group), str(r.n), str(r.n_excluded), _f(r.mean_total), _f(r.sd_total), r.level or ""]
                for r in res.groups.itertuples(index=False)]
        out += _table(["Group", "n", "Excl.", "Mean total", "SD", "Level"], rows, markdown, {1, 2, 3, 4})
        out.append("")
        e = c.effect
        pct = f"{c.level * 100:g}%"
        lines = [f"Perception gap ({c.b} minus {c.a}): {_f(c.gap, 2)} points"]
        if math.isnan(c.welch_p):
            lines.append(f"No tests: they need at least 2 scored respondents in each group "
                         f"({c.a}: {c.n_a}, {c.b}: {c.n_b}) and some variation.")
        else:
            lines[0] += f", {pct} CI [{_f(c.gap_ci_lower, 2)}, {_f(c.gap_ci_upper, 2)}]"
            lines += [
                f"Welch t({_f(c.welch_df, 1)}) = {_f(c.welch_t, 3)}, {p_clause(c.welch_p)}; "
                f"Mann-Whitney U = {_f(c.mwu_u, 1)}, {p_clause(c.mwu_p)}",
                f"Hedges' g = {_f(e.g, 3)}, {pct} CI [{_f(e.ci_lower, 3)}, {_f(e.ci_upper, 3)}] "
                f"(SE {_f(e.se, 3)}, Hedges & Olkin normal approximation)",
            ]
        out += [f"{ln}  " if markdown else ln for ln in lines]
        out.append("")
        if figure:
            out += [f"![Total score by group with the four level bands]({figure})", ""] if markdown else [
                f"Figure: {figure}", ""]
        if res.item_gaps is not None:
            out += [h(f"Item gaps ({c.b} minus {c.a}), largest first"), ""]
            gaps = res.item_gaps.head(top_items)
            rows = []
            for r in gaps.itertuples(index=False):
                stmt = inst.text.get(r.item, {}).get("en", "")
                stmt = stmt if len(stmt) <= 60 else stmt[:57] + "..."
                rows.append([str(r.rank), r.item, _f(r.mean_a, 2), _f(r.mean_b, 2), _f(r.gap, 2), _p(r.welch_p),
                             _p(r.p_holm), stmt])
            out += _table(["Rank", "Item", f"Mean {c.a}", f"Mean {c.b}", "Gap", "p", "p (Holm)", "Statement"],
                          rows, markdown, {0, 2, 3, 4, 5, 6})
            if len(res.item_gaps) > top_items:
                out += ["", f"({len(res.item_gaps) - top_items} more items in item_gaps.csv / JSON)"]
            out.append("")
    out += ["Missing answers: up to "
            f"{inst.max_missing} unanswered statements, the total is prorated (mean of the answered "
            f"statements x {inst.n_items}); with more, the respondent is excluded and counted."]
    return out


def _clean(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if hasattr(v, "item"):
        return _clean(v.item())
    return v


def _records(df) -> list[dict]:
    return [{k: _clean(v) for k, v in row.items()} for row in df.to_dict(orient="records")]


def _json(res: "DiagnosticResults") -> str:
    inst = res.instrument
    doc = {
        "instrument": inst.name,
        "source": res.source,
        "levels": [{"id": lv.id, "low": lv.low, "high": lv.high} for lv in inst.levels],
        "max_missing": inst.max_missing,
        "n": res.n,
        "n_excluded": res.n_excluded,
        "n_prorated": res.n_prorated,
        "organizations": _records(res.organizations),
        "groups": _records(res.groups) if res.groups is not None else None,
        "comparison": ({k: _clean(v) for k, v in res.comparison.to_dict().items()}
                       if res.comparison is not None else None),
        "item_gaps": _records(res.item_gaps) if res.item_gaps is not None else None,
        "respondents": _records(res.respondents),
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _csv(df) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, float_format="%.6g", lineterminator="\n")
    return buf.getvalue()


def render_diagnostic(res: "DiagnosticResults", fmt: str = "text", *, figure: str | None = None,
                      top_items: int = 10, table: str = "respondents") -> str:
    """Render diagnostic results.

    Parameters
    ----------
    res : DiagnosticResults
    fmt : {"text", "markdown", "json", "csv"}
        ``csv`` renders one table (``table``); ``json`` everything.
    figure : str, optional
        Path of the score figure to reference (Markdown image / text note).
    top_items : int, default=10
        Item gaps shown in text and Markdown.
    table : {"respondents", "organizations", "groups", "item_gaps"}
        The table rendered by ``csv``.
    """
    check_option("format", fmt, DIAGNOSTIC_FORMATS)
    if fmt == "json":
        return _json(res)
    if fmt == "csv":
        check_option("table", table, ("respondents", "organizations", "groups", "item_gaps"))
        df = getattr(res, table)
        return _csv(df) if df is not None else ""
    return "\n".join(_sections(res, fmt == "markdown", figure, top_items)) + "\n"


def render_multigroup(mg: "MultiGroupResults", fmt: str = "text") -> str:
    """Render a multi-group comparison of proposition paths (text, Markdown or CSV)."""
    check_option("format", fmt, ("text", "markdown", "csv"))
    if fmt == "csv":
        return _csv(mg.table)
    a, b = mg.groups
    pct = f"{mg.level * 100:g}%"
    rows = [[r.id, r.path, r.expected, _f(r.std_a, 3), _f(r.std_b, 3), _f(r.diff, 3),
             f"[{_f(r.ci_lower, 3)}, {_f(r.ci_upper, 3)}]" if not math.isnan(r.ci_lower) else ""]
            for r in mg.table.itertuples(index=False)]
    out = _table(["Id", "Path", "Exp.", f"Std {a}", f"Std {b}", f"{b} - {a}", f"{pct} CI"], rows,
                 fmt == "markdown", {3, 4, 5})
    na, nb = (mg.fits[g].n for g in mg.groups)
    out += ["", f"n = {na} ({a}), {nb} ({b}); stratified bootstrap: {mg.n_boot} draws "
                f"({mg.n_failed} failed), percentile CI of the std.all difference"]
    return "\n".join(out) + "\n"


def plot_diagnostic(res: "DiagnosticResults", path: str | Path, *, force: bool = False, dpi: int = 300) -> Path:
    """Write the PNG figure (300 dpi): total scores by group (or overall) over the four level bands.

    Each group is a box plot (median and quartiles) with the respondents' totals as
    jittered points (fixed jitter seed, so the file is reproducible) and its mean with a
    95% t interval, the statistic the text and the tests report; the bands of the scoring
    key are shaded and labelled, and the axis runs a little beyond the possible totals so
    that 20 and 100 are not clipped. Written atomically; refuses to overwrite without ``force``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    path = check_writable(path, force)
    inst = res.instrument
    resp = res.respondents[res.respondents.status != "excluded"]
    if res.groups is not None and res.comparison is not None:
        labels = [res.comparison.a, res.comparison.b]
        labels += [g for g in res.groups.group if g not in labels]
        data = [resp.loc[resp.group == g, "total"].to_numpy() for g in labels]
    else:
        labels = ["all respondents"]
        data = [resp["total"].to_numpy()]
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    for i, lv in enumerate(inst.levels):
        top = inst.levels[i + 1].low if i + 1 < len(inst.levels) else lv.high
        ax.axhspan(lv.low, top, color=_BAND_COLORS[i % len(_BAND_COLORS)], alpha=0.6, zorder=0)
        ax.text(len(labels) + 1.0, (lv.low + top) / 2, lv.name.get("en", lv.id), va="center", ha="right",
                fontsize=9, color="#444444")
    ax.boxplot([d if len(d) else [np.nan] for d in data], positions=range(1, len(labels) + 1), widths=0.45,
               showfliers=False, zorder=2)
    rng = np.random.default_rng(0)  # jitter only; fixed so the figure is reproducible
    for i, d in enumerate(data, start=1):
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(d)), d, s=10, alpha=0.5, color="#1f4e79", zorder=3)
    from scipy import stats

    for i, d in enumerate(data, start=1):  # the mean and its 95% t interval, beside the box
        if len(d) == 0:
            continue
        m = float(np.mean(d))
        half = (float(stats.t.ppf(0.975, len(d) - 1) * np.std(d, ddof=1) / np.sqrt(len(d)))
                if len(d) > 1 else 0.0)
        ax.errorbar([i + 0.3], [m], yerr=[[half], [half]], fmt="D", ms=5, color="#b22222", capsize=3,
                    zorder=4, label="mean (95% CI)" if i == 1 else None)
    ax.set_xticks(range(1, len(labels) + 1), [f"{g}\n(n = {len(d)})" for g, d in zip(labels, data)])
    ax.set_xlim(0.4, len(labels) + 1.05)  # room for the means and the level names on the right
    pad = 0.03 * (inst.max_total - inst.min_total)  # points at 20 or 100 stay whole
    ax.set_ylim(inst.min_total - pad, inst.max_total + pad)
    ax.set_ylabel(f"Total score ({inst.min_total}-{inst.max_total})")
    ax.legend(loc="lower left", fontsize=8, frameon=False)
    ax.set_title("Sales-marketing integration diagnostic: total score by group")
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    # The caller has already refused existing outputs unless --force.
    write_bytes(path, buf.getvalue(), force=True)
    return path


