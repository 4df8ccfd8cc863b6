"""The set of report files of a fit (``smsem fit --out DIR``), written atomically.

File names (stable; documented in the README):

- ``parameters.{txt,md,tex,csv,json}``: every parameter (``PARAM_COLUMNS``);
- ``effects.{txt,md,tex,csv,json}``: direct, indirect and total effects (``EFFECT_COLUMNS``);
- ``defined.csv``: the ``:=`` parameters (``DEFINED_COLUMNS``), when the model has any;
- ``quality.{txt,md,tex,json}``: every measurement-quality table;
- ``quality_<part>.csv``: one per part (constructs, loadings, discriminant,
  fornell_larcker, htmt, htmt2);
- ``propositions.{txt,md,tex,csv,json}``: the proposition table, when one is given;
- ``report.md``: propositions, effects, quality and parameters in one document;
- ``diagram.dot``, ``diagram.svg``, ``diagram.png``: the path diagram (SVG and PNG only
  when Graphviz's ``dot`` is installed; otherwise a one-line warning).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Mapping

from ..io import check_writable, write_bytes, write_text
from .diagram import diagram_source, render_diagram
from .formats import QUALITY_PARTS, render_effects, render_params, render_quality
from .tables import render_propositions

if TYPE_CHECKING:  # pragma: no cover
    from ..estimate.effects import Effects
    from ..estimate.quality import MeasurementQuality
    from ..estimate.results import FitResults
    from ..propositions import PropositionTable

__all__ = ["report_file_names", "report_files", "write_report_files"]

_EXT = {"text": "txt", "markdown": "md", "latex": "tex", "csv": "csv", "json": "json"}


def report_file_names(*, propositions: bool = True) -> list[str]:
    """Every file name :func:`report_files` may produce (to check before any work)."""
    names = [f"parameters.{e}" for e in _EXT.values()] + [f"effects.{e}" for e in _EXT.values()]
    names += ["defined.csv"] + [f"quality.{_EXT[f]}" for f in ("text", "markdown", "latex", "json")]
    names += [f"quality_{p}.csv" for p in QUALITY_PARTS]
    if propositions:
        names += [f"propositions.{_EXT[f]}" for f in ("text", "markdown", "latex", "csv", "json")]
    return names + ["report.md", "diagram.dot", "diagram.svg", "diagram.png"]


def report_files(res: "FitResults", eff: "Effects", quality: "MeasurementQuality",
                 table: "PropositionTable | None" = None, *, diagram: bool = True) -> dict[str, str | bytes]:
    """The report files' contents by file name (text as ``str``, images as ``bytes``)."""
    out: dict[str, str | bytes] = {}
    for fmt, ext in _EXT.items():
        out[f"parameters.{ext}"] = render_params(res, fmt)
        out[f"effects.{ext}"] = render_effects(eff, fmt)
        if fmt != "csv":
            out[f"quality.{ext}"] = render_quality(quality, fmt)
    if len(eff.defined):
        out["defined.csv"] = render_effects(eff, "csv", part="defined")
    for part in QUALITY_PARTS:
        out[f"quality_{part}.csv"] = render_quality(quality, "csv", part=part)
    sections = []
    if table is not None:
        for fmt in ("text", "markdown", "latex", "csv", "json"):
            out[f"propositions.{_EXT[fmt]}"] = render_propositions(table, fmt)
        sections.append("## Propositions\n\n" + render_propositions(table, "markdown"))
    sections.append("## Effects\n\n" + render_effects(eff, "markdown"))
    sections.append("## Measurement quality\n\n" + render_quality(quality, "markdown"))
    sections.append("## Parameters\n\n" + render_params(res, "markdown"))
    out["report.md"] = f"# smsem fit of {res.model.name!r} (n = {res.n})\n\n" + "\n".join(sections)
    if diagram:
        out["diagram.dot"] = diagram_source(res)
        for fmt in ("svg", "png"):
            img = render_diagram(res, fmt)
            if img is None:  # no `dot`: render_diagram has warned once; skip the other image too
                break
            out[f"diagram.{fmt}"] = img
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
