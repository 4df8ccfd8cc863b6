"""The set of report files of a fit (``smsem fit --out DIR``), written atomically.

File names (stable; documented in the README). Every table comes in the five formats
``txt, md, tex, csv, json``:

- ``fit.*``: fit indices beside their cut-offs, the RMSEA with its 90% CI;
- ``parameters.*``: every parameter (``PARAM_COLUMNS``), Wald CIs at ``level``;
- ``standardized.*``: the standardized solution (std.all, std.lv) with CIs at ``level``;
- ``r2.*``: R² of every endogenous variable, observed and latent;
- ``effects.*``: direct, specific indirect, total indirect and total effects (with
  bootstrap CIs when there are draws); ``defined.csv``: the ``:=`` parameters, when any;
- ``modindices.*``, ``residuals.*``: lavaan's ``modindices()`` and ``lavResiduals()``
  (with the items' wording; under FIML against the EM moments, as lavaan); a note naming
  what is missing where smsem does not compute them (e.g. FIML residuals with fixed covariates);
- ``quality.{txt,md,tex,json}`` and ``quality_<part>.csv`` (constructs, loadings,
  discriminant, fornell_larcker, htmt, htmt2): measurement quality;
- ``propositions.*`` and ``mediation.csv``: the proposition table and its mediation
  block, when one is given;
- ``bootstrap.*``: every bootstrapped statistic with its CI and the draw accounting,
  when there are draws;
- ``summary.txt``, ``summary.html``: the lavaan-style summary;
- ``report.md``: every section in one document, with the diagram embedded;
- ``diagram.svg``, ``diagram.png`` (300 dpi, drawn with matplotlib); ``diagram.dot``
  when the optional ``graphviz`` Python package is installed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping

from ..io import check_writable, write_bytes, write_text
from .after import (
    render_bootstrap,
    render_fit_table,
    render_modindices,
    render_r2,
    render_residuals,
    render_standardized,
)
from .diagram import diagram_source, has_graphviz_package, render_diagram
from .formats import QUALITY_PARTS, render_effects, render_params, render_quality
from .summary import summary_html, summary_text
from .tables import render_propositions

if TYPE_CHECKING:  # pragma: no cover
    from ..bootstrap import BootstrapResults
    from ..estimate.effects import Effects
    from ..estimate.quality import MeasurementQuality
    from ..estimate.results import FitResults
    from ..propositions import PropositionTable

__all__ = ["report_file_names", "report_files", "write_report_files"]

_EXT = {"text": "txt", "markdown": "md", "latex": "tex", "csv": "csv", "json": "json"}
_TABLES = ("fit", "parameters", "standardized", "r2", "effects", "modindices", "residuals")


def report_file_names(*, propositions: bool = True, bootstrap: bool = True) -> list[str]:
    """Every file name :func:`report_files` may produce (to check before any work)."""
    names = [f"{t}.{e}" for t in _TABLES for e in _EXT.values()]
    names += ["defined.csv"] + [f"quality.{_EXT[f]}" for f in ("text", "markdown", "latex", "json")]
    names += [f"quality_{p}.csv" for p in QUALITY_PARTS]
    if propositions:
        names += [f"propositions.{e}" for e in _EXT.values()] + ["mediation.csv"]
    if bootstrap:
        names += [f"bootstrap.{e}" for e in _EXT.values()]
    return names + ["summary.txt", "summary.html", "report.md", "diagram.dot", "diagram.svg", "diagram.png"]


def _unavailable(fmt: str, what: str, reason: str) -> str:
    import json

    if fmt == "json":
        return json.dumps({"available": False, "note": f"{what}: {reason}"}, indent=2) + "\n"
    if fmt == "csv":
        return "note\n\"" + f"{what}: {reason}".replace('"', "'") + "\"\n"
    if fmt == "latex":
        return f"% {what}: {reason}\n"
    return f"{what}: {reason}\n"


def _guarded(render: Callable[[str], str], fmt: str, what: str) -> str:
    try:
        return render(fmt)
    except NotImplementedError as exc:  # e.g. FIML residuals of a model with fixed covariates
        return _unavailable(fmt, what, str(exc))


def report_files(res: "FitResults", eff: "Effects", quality: "MeasurementQuality",
                 table: "PropositionTable | None" = None, *, diagram: bool = True, level: float = 0.95,
                 boot: "BootstrapResults | None" = None, ci: str = "percentile",
                 modindices_min: float = 0.0) -> dict[str, str | bytes]:
    """The report files' contents by file name (text as ``str``, images as ``bytes``).

    ``level`` applies to every CI (Wald, standardized and bootstrap); ``boot`` adds the
    bootstrap tables (``ci`` their method); ``modindices_min`` filters the modification
    indices.
    """
    out: dict[str, str | bytes] = {}
    for fmt, ext in _EXT.items():
        out[f"fit.{ext}"] = render_fit_table(res, fmt)
        out[f"parameters.{ext}"] = render_params(res, fmt, level=level)
        out[f"standardized.{ext}"] = render_standardized(res, fmt, level=level)
        out[f"r2.{ext}"] = render_r2(res, fmt)
        out[f"effects.{ext}"] = render_effects(eff, fmt)
        out[f"modindices.{ext}"] = _guarded(lambda f: render_modindices(res, f, minimum=modindices_min, top=30),
                                            fmt, "modification indices")
        out[f"residuals.{ext}"] = _guarded(lambda f: render_residuals(res, f), fmt, "residuals")
        if fmt != "csv":
            out[f"quality.{ext}"] = render_quality(quality, fmt)
        if boot is not None:
            out[f"bootstrap.{ext}"] = render_bootstrap(boot, fmt, level=level, method=ci)
    if len(eff.defined):
        out["defined.csv"] = render_effects(eff, "csv", part="defined")
    for part in QUALITY_PARTS:
        out[f"quality_{part}.csv"] = render_quality(quality, "csv", part=part)
    sections = []
    if table is not None:
        for fmt, ext in _EXT.items():
            out[f"propositions.{ext}"] = render_propositions(table, fmt)
        if len(table.mediation):
            out["mediation.csv"] = table.mediation.to_csv(index=False, float_format="%.6g", lineterminator="\n")
        sections.append("## Propositions\n\n" + render_propositions(table, "markdown"))
    out["summary.txt"] = summary_text(res)
    out["summary.html"] = summary_html(res)
    if diagram:
        sections.append("## Path diagram\n\n![Path diagram: standardized estimates, proposition ids, R² in "
                        "the constructs](diagram.png)\n\n(Also as [SVG](diagram.svg).)\n")
    sections.append("## Model fit\n\n" + render_fit_table(res, "markdown"))
    sections.append("## R²\n\n" + render_r2(res, "markdown"))
    sections.append("## Effects\n\n" + render_effects(eff, "markdown"))
    sections.append("## Measurement quality\n\n" + render_quality(quality, "markdown"))
    sections.append("## Parameters\n\n" + render_params(res, "markdown", level=level))
    sections.append("## Standardized solution\n\n" + render_standardized(res, "markdown", level=level))
    sections.append("## Modification indices\n\n"
                    + _guarded(lambda f: render_modindices(res, f, minimum=max(modindices_min, 3.84), top=20),
                               "markdown", "modification indices"))
    sections.append("## Residuals\n\n" + _guarded(lambda f: render_residuals(res, f), "markdown", "residuals"))
    if boot is not None:
        sections.append(f"## Bootstrap\n\n{boot.accounting()}. Every statistic with its CI: "
                        "[bootstrap.csv](bootstrap.csv).\n")
    out["report.md"] = f"# smsem fit of {res.model.name!r} (n = {res.n})\n\n" + "\n".join(sections)
    if diagram:
        if has_graphviz_package():
            out["diagram.dot"] = diagram_source(res)
        for fmt in ("svg", "png"):
            out[f"diagram.{fmt}"] = render_diagram(res, fmt)
    return out


def write_report_files(folder: str | Path, files: Mapping[str, str | bytes], *, force: bool = False) -> list[Path]:
    """Write ``files`` into ``folder`` atomically; refuse existing files unless ``force``.

    Every target is checked before the first is written, so a refusal leaves nothing
    half-written.
    """
    folder = Path(folder)
    for name in files:
        check_writable(folder / name, force)
    written = []
    for name, content in files.items():
        if isinstance(content, bytes):
            written.append(write_bytes(folder / name, content, force=force))
        else:
            written.append(write_text(folder / name, content, force=force))
    return written
