"""The report folder of an ordinal fit (``smsem fit FILE --ordered ... --out DIR``).

Files (every one written atomically by :func:`smsem.report.bundle.write_report_files`, all
targets checked before the first is written):

- ``fit.txt``, ``fit.md``, ``fit.json``: the fit indices (standard, scaled, robust) and the
  parameter table with std.all (and the bootstrap percentile CIs with ``--boot``), as printed;
- ``parameters.csv``: the parameter table; ``standardized.csv``: lavaan's
  ``standardizedSolution()`` (std.all and std.lv with delta-method SEs);
- ``quality.txt``, ``quality.md``, ``quality.json`` and ``quality_<part>.csv``: ordinal alpha,
  categorical omega, AVE, HTMT on the polychorics (:mod:`.quality`);
- ``effects.txt``, ``.md``, ``.json``, ``.csv`` (and ``defined.csv`` with ``:=`` rows): direct,
  specific indirect, total indirect and total effects (:mod:`.effects`);
- ``modindices.txt``, ``.md``, ``.json``, ``.csv`` with ``--modindices MIN`` (lavaan's
  ``modindices()`` of the fit, :mod:`.modindices`);
- ``propositions.txt``, ``.md``, ``.json``, ``.csv`` when the model has propositions;
- ``report.md``: the propositions, fit and quality sections in one Markdown file.

Not produced for ordinal fits (ML-only outputs): R² tables,
residuals, the path diagram, the HTML summary.
"""

from __future__ import annotations

__all__ = ["ordinal_report_files", "ordinal_report_file_names"]

_NO_QUALITY = ("Not computed: ordinal reliability (ordinal alpha, categorical omega, HTMT) of a model with "
               "observed covariates is not available (semTools' compRelSEM fails on lavaan's conditional.x fits).")
_FIT_EXT = {"text": "txt", "markdown": "md", "json": "json"}


def ordinal_report_file_names(*, propositions: bool = True, modindices: bool = False) -> list[str]:
    from ...report.formats import QUALITY_PARTS

    names = [f"fit.{e}" for e in _FIT_EXT.values()] + ["parameters.csv", "standardized.csv"]
    names += [f"quality.{e}" for e in _FIT_EXT.values()] + [f"quality_{p}.csv" for p in QUALITY_PARTS]
    names += [f"effects.{e}" for e in ("txt", "md", "json", "csv")] + ["defined.csv"]
    if modindices:
        names += [f"modindices.{e}" for e in ("txt", "md", "json", "csv")]
    if propositions:
        names += [f"propositions.{e}" for e in ("txt", "md", "json", "csv")]
    return names + ["report.md"]


def ordinal_report_files(res, quality, table=None, *, boot=None, effects=None,
                         modindices_min: float | None = None) -> dict[str, str]:
    """The files' contents by name (see the module); ``boot`` as for :func:`.fit.render_ordinal`;
    ``effects``: :func:`smsem.effects` of ``res`` (computed without bootstrap columns if omitted);
    ``modindices_min``: write the modification indices of at least that value (None: not written)."""
    from ...report.formats import QUALITY_PARTS, render_effects, render_quality
    from ...report.tables import render_propositions
    from .fit import render_ordinal

    out: dict[str, str] = {}
    for fmt, ext in _FIT_EXT.items():
        out[f"fit.{ext}"] = render_ordinal(res, fmt, boot=boot)
        if quality is not None:
            out[f"quality.{ext}"] = render_quality(quality, fmt)
    out["parameters.csv"] = render_ordinal(res, "csv", boot=boot)
    out["standardized.csv"] = res.standardized.to_csv(index=False, float_format="%.6g", lineterminator="\n")
    for part in QUALITY_PARTS if quality is not None else ():
        out[f"quality_{part}.csv"] = render_quality(quality, "csv", part=part)
    if effects is None:
        from ..effects import effects as _effects

        effects = _effects(res)
    for fmt, ext in (("text", "txt"), ("markdown", "md"), ("json", "json"), ("csv", "csv")):
        out[f"effects.{ext}"] = render_effects(effects, fmt)
    if len(effects.defined):
        out["defined.csv"] = render_effects(effects, "csv", part="defined")
    if modindices_min is not None:
        from ...report.after import render_modindices

        for fmt, ext in (("text", "txt"), ("markdown", "md"), ("json", "json"), ("csv", "csv")):
            out[f"modindices.{ext}"] = render_modindices(res, fmt, minimum=modindices_min)
    sections = [f"# smsem {res.estimator} fit (ordinal items)\n"]
    if table is not None:
        for fmt, ext in (("text", "txt"), ("markdown", "md"), ("json", "json"), ("csv", "csv")):
            out[f"propositions.{ext}"] = render_propositions(table, fmt)
        sections.append("## Propositions\n\n" + render_propositions(table, "markdown"))
    sections.append("## Model fit and parameters\n\n" + out["fit.md"])
    sections.append("## Effects\n\n" + out["effects.md"])
    if quality is None:  # a model with observed covariates (semTools gives none either)
        sections.append("## Reliability and validity\n\n" + _NO_QUALITY + "\n")
    else:
        sections.append("## Reliability and validity\n\nAlpha = ordinal alpha (alpha of the polychorics), CR = "
                        "categorical omega (semTools' compRelSEM(fit), ord.scale = TRUE), HTMT on the "
                        "polychorics.\n\n" + out["quality.md"])
    out["report.md"] = "\n".join(sections)
    return out
