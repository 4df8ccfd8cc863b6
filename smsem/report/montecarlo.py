"""Reporting of Monte Carlo studies: CSV tables, a Markdown summary, power-curve PNGs.

Formats :class:`smsem.montecarlo.StudyResults`; computes nothing. Every file is written
atomically (temporary file, then rename).
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..io import write_bytes, write_text
from ._numbers import fmt as _f

if TYPE_CHECKING:  # pragma: no cover
    from ..montecarlo.summary import StudyResults

__all__ = ["render_markdown", "render_planning_text", "power_curve_figure", "power_curve_png", "power_curve_svg",
           "write_outputs", "output_names", "CSV_OUTPUTS"]

CSV_OUTPUTS = ("replications.csv", "estimates.csv", "parameters.csv", "fit.csv", "planning.csv",
               "planning_paths.csv", "power_curves.csv")


def _rate(v: float, lo: float, hi: float) -> str:
    if isinstance(v, float) and math.isnan(v):
        return ""
    return f"{v:.3f} [{lo:.3f}, {hi:.3f}]"


def _n(v: float, first: float | None = None) -> str:
    """A sample size; ``<= n`` when the first grid point ``first`` already reaches the target."""
    if math.isnan(v):
        return "not reached"
    return f"<= {v:.0f}" if first is not None and v == first else f"{v:.0f}"


def _table(header: list[str], rows: list[list[str]], align: list[str] | None = None) -> str:
    align = align or ["---"] * len(header)
    out = ["| " + " | ".join(header) + " |", "| " + " | ".join(align) + " |"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out) + "\n"


def _varying(res: "StudyResults") -> list[str]:
    """Grid factors with more than one level (the others are stated once)."""
    return [k for k, levels in res.config.grid if len(levels) > 1]


def _cell_label(row: Any, keys: list[str]) -> str:
    return ", ".join(f"{k} = {getattr(row, k):g}" if isinstance(getattr(row, k), float) else f"{k} = {getattr(row, k)}"
                     for k in keys)


def render_markdown(res: "StudyResults") -> str:
    """The study's Markdown summary: design, sample-size plan, convergence/fit, paths."""
    cfg = res.config
    vary = _varying(res)
    fixed = {k: v[0] for k, v in cfg.grid if len(v) == 1}
    out = [f"# Monte Carlo study: {cfg.name}\n"]
    if cfg.description:
        out.append(cfg.description.strip() + "\n")
    stored, total = len(res.replications), cfg.n_tasks
    if cfg.population_source == "yaml":
        values = "standardized values of the configuration"
    elif cfg.population_source:
        values = f"std.all estimates of a pilot fit to `{Path(cfg.population_source).name}`"
    else:
        values = f"scenario `{cfg.scenario}`"
    if cfg.proportions is not None:
        values += f"; category proportions {list(cfg.proportions)}"
    elif cfg.thresholds is not None:
        values += f"; thresholds {cfg.thresholds if isinstance(cfg.thresholds, str) else list(cfg.thresholds)}"
    hyp = f" (hypotheses `{Path(cfg.hypotheses).name}`)" if cfg.hypotheses else ""
    out.append(
        f"Population: model `{Path(cfg.population_model).name}`, {values}. "
        f"Analysis model: `{Path(cfg.analysis_model).name}`{hyp}. "
        f"Grid: {', '.join(f'{k} = {list(v)}' for k, v in cfg.grid)}. "
        f"{cfg.replications} replications per cell ({len(cfg.cells)} cells), seed {cfg.seed}. "
        f"Tests at alpha = {cfg.alpha:g} ({cfg.inference} inference); coverage of the {cfg.level:.0%} CI. "
        f"Rates are followed by their 95% Wilson interval (Monte Carlo uncertainty).\n")
    if stored < total:
        out.append(f"**Incomplete: {stored} of {total} replications stored; rerun with `--resume`.**\n")

    out.append(f"## Sample-size planning\n\nSmallest n on the grid at which every path of the proposition "
               f"reaches power {cfg.target_power:g} ({cfg.planning_test} Wald test at alpha = {cfg.alpha:g}), "
               f"and n interpolated linearly between grid points; *joint*: all paths significant in the "
               f"same replication.\n")
    others = [k for k in vary if k != "n"]
    header = ["Proposition", "Paths", *others, "n (grid)", "n (interpolated)", "joint n (grid)",
              "joint n (interp.)", "weakest-path power at max n"]
    n0 = float(min(cfg.levels("n")))
    rows = [[r.proposition, r.paths, *[_f(getattr(r, k), 2) for k in others], _n(r.n_grid, n0),
             _n(r.n_interpolated, n0), _n(r.n_grid_joint, n0), _n(r.n_interpolated_joint, n0),
             f"{r.power_at_max_n:.3f} (n = {r.max_n})"]
            for r in res.planning.itertuples(index=False)]
    if rows:
        out.append(_table(header, rows))
    elif stored and int(res.fit.converged.sum()) == 0:
        out.append("No replication converged, so no power can be estimated; the failures are listed "
                   "under *Convergence and fit* below.\n")
    else:
        out.append("The analysis model has no propositions.\n")
    pp = res.planning_paths
    multi = pp.groupby("proposition").path_id.transform("nunique") > 1 if len(pp) else pp
    if len(pp) and multi.any():
        out.append("\nPaths of the propositions with several paths, one by one:\n")
        header = ["Path", "", *others, "n (grid)", "n (interpolated)", "power at max n"]
        rows = [[r.path_id, r.path.replace("->", "→"), *[_f(getattr(r, k), 2) for k in others], _n(r.n_grid, n0),
                 _n(r.n_interpolated, n0), f"{r.power_at_max_n:.3f} (n = {r.max_n})"]
                for r in pp[multi].itertuples(index=False)]
        out.append(_table(header, rows))
    props = sorted(res.planning.proposition.unique()) if len(res.planning) else []
    if props:
        out.append("\n" + "\n".join(f"![Power curve of {p}](power_{p}.png)" for p in props) + "\n")

    out.append("## Convergence and fit\n")
    header = ["Cell", *vary, "reps", "converged", "improper", "errors", f"chi2 p < {cfg.alpha:g}",
              "mean CFI", "CFI >= .95", "mean RMSEA", "RMSEA <= .06"]
    rows = []
    for r in res.fit.itertuples(index=False):
        rows.append([str(r.cell), *[_f(getattr(r, k), 2) for k in vary], str(r.reps),
                     _rate(r.convergence, r.convergence_lower, r.convergence_upper), str(r.improper),
                     str(r.errors), _f(r.chi2_reject), _f(r.cfi_mean), _rate(r.cfi_ok, r.cfi_ok_lower, r.cfi_ok_upper),
                     _f(r.rmsea_mean), _rate(r.rmsea_ok, r.rmsea_ok_lower, r.rmsea_ok_upper)])
    out.append(_table(header, rows))
    fails = res.fit[res.fit.failure_reasons != ""]
    for r in fails.itertuples(index=False):
        out.append(f"\nCell {r.cell} failures: {r.failure_reasons}.")
    if len(fails):
        out.append("\n")
    if fixed:
        out.append("\nFixed factors: " + ", ".join(f"{k} = {v}" for k, v in fixed.items()) + ".\n")

    out.append("## Structural paths\n\nPopulation values in the estimated (marker) metric. rel. bias = "
               "(mean est. - pop.) / pop.; rel. SE bias = (mean SE - SD) / SD. Every free parameter is in "
               "`parameters.csv`.\n")
    p = res.parameters[res.parameters.op == "~"]
    header = ["Path", "Id", "pop.", "mean est.", "SD", "mean SE", "rel. bias", "rel. SE bias", "RMSE",
              f"coverage {cfg.level:.0%}", "CI width", "power (2-sided)", "power (1-sided)"]
    for c in res.fit.itertuples(index=False):
        sub = p[p.cell == c.cell]
        title = _cell_label(c, vary) if vary else "the single cell"
        out.append(f"\n### Cell {c.cell}: {title} ({c.used} replications used)\n")
        rows = [[f"{r.rhs} → {r.lhs}", r.path_id if isinstance(r.path_id, str) else "", _f(r.pop), _f(r.mean_est),
                 _f(r.sd_est), _f(r.mean_se), _f(r.rel_bias), _f(r.rel_se_bias), _f(r.rmse),
                 _rate(r.coverage, r.coverage_lower, r.coverage_upper), _f(r.ci_width),
                 _rate(r.power, r.power_lower, r.power_upper),
                 _rate(r.power_one, r.power_one_lower, r.power_one_upper)]
                for r in sub.itertuples(index=False)]
        out.append(_table(header, rows) if rows else "No converged replication.\n")
    return "\n".join(out)


def render_planning_text(res: "StudyResults") -> str:
    """Plain-text sample-size plan and convergence line (what ``smsem power`` prints)."""
    cfg = res.config
    others = [k for k in _varying(res) if k != "n"]
    header = ["Proposition", *others, "n (grid)", "n (interp.)", "joint n", "power at max n"]
    n0 = float(min(cfg.levels("n")))
    rows = [[r.proposition, *[_f(getattr(r, k), 2) for k in others], _n(r.n_grid, n0), _n(r.n_interpolated, n0),
             _n(r.n_grid_joint, n0), f"{r.power_at_max_n:.3f}"] for r in res.planning.itertuples(index=False)]
    lines = [f"{cfg.name}: sample size for power {cfg.target_power:g} on every path "
             f"({cfg.planning_test} Wald test, alpha = {cfg.alpha:g}; n grid {list(cfg.levels('n'))})"]
    if rows:
        widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
        lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    fit = res.fit
    lines.append(f"converged {int(fit.converged.sum())} of {int(fit.reps.sum())} replications; "
                 f"improper solutions {int(fit.improper.sum())}; errors {int(fit.errors.sum())}")
    return "\n".join(lines) + "\n"


def _is_null(res: "StudyResults", proposition: str) -> bool:
    """Every path of ``proposition`` is 0 in the population: its "power" is the type-I error."""
    p = res.parameters
    pop = p.loc[(p.proposition == proposition) & p.path_id.notna(), "pop"] if "proposition" in p else p.iloc[:0]
    return len(pop) > 0 and bool((pop.abs() < 1e-12).all())


def power_curve_figure(res: "StudyResults", proposition: str) -> Any:
    """The power curves of ``proposition`` as a matplotlib Figure (small multiples).

    One panel per path (and, for several paths, one for the weakest path and the joint
    power), sharing both axes; within a panel one line per level of the other varying grid
    factors (e.g. Likert scale points), each with its 95% Wilson band (Monte Carlo
    uncertainty of the rate). Against the target power, the n interpolated for each line is
    marked; under a population where every path of the proposition is 0, the rate is the
    type-I error, drawn against alpha and its 95% binomial band for the replication count.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = res.config
    curves = res.power_curves[res.power_curves.proposition == proposition]
    others = [k for k in _varying(res) if k != "n"]
    null = _is_null(res, proposition)
    paths = sorted(set(curves.path_id) - {"min", "joint"})
    panels = paths + (["min", "joint"] if len(paths) > 1 and not null else [])
    ncol = min(4, len(panels))
    nrow = math.ceil(len(panels) / ncol)
    levels = sorted(set(curves[others].itertuples(index=False, name=None))) if others else [()]
    n_handles = (len(levels) if others else 0) + (2 if null else 3)
    ncol_leg = min(n_handles, 3 if ncol >= 3 else 2)
    legend_rows = math.ceil(n_handles / ncol_leg)
    height = 2.4 * nrow + 0.75 + 0.2 * legend_rows  # panels, title, legend
    fig, axes = plt.subplots(nrow, ncol, figsize=(max(6.4, 2.7 * ncol + 0.6), height), squeeze=False,
                             sharex=True, sharey=True)
    colors = plt.get_cmap("tab10").colors
    plan = res.planning_paths if not null else None
    for ax, pid in zip(axes.flat, panels):
        g = curves[curves.path_id == pid]
        for i, key in enumerate(levels):
            key = key if isinstance(key, tuple) else (key,)
            line = g
            for k, v in zip(others, key):
                line = line[line[k] == v]
            line = line.sort_values("n")
            if not len(line):
                continue
            c = colors[i % len(colors)]
            ax.fill_between(line.n, line["lower"], line["upper"], color=c, alpha=0.18, lw=0)
            ax.plot(line.n, line.power, color=c, marker="o", ms=2.5, lw=1.2)
            if plan is not None and pid not in ("min", "joint"):
                row = plan[plan.path_id == pid]
                for k, v in zip(others, key):
                    row = row[row[k] == v]
                n_int = float(row.n_interpolated.iloc[0]) if len(row) else float("nan")
                if math.isfinite(n_int):
                    ax.plot([n_int, n_int], [0, cfg.target_power], color=c, ls=":", lw=0.9)
                    ax.plot([n_int], [cfg.target_power], color=c, marker="v", ms=4)
        if null:
            half = 1.96 * math.sqrt(cfg.alpha * (1 - cfg.alpha) / cfg.replications)
            ax.axhspan(max(0.0, cfg.alpha - half), cfg.alpha + half, color="grey", alpha=0.25, lw=0)
            ax.axhline(cfg.alpha, color="black", lw=0.8)
        else:
            ax.axhline(cfg.target_power, color="red", lw=0.8, ls="--")
        title = {"min": "weakest path", "joint": "all paths together"}.get(pid)
        if title is None:
            title = f"{pid}: {g.path.iloc[0].replace(' -> ', ' → ')}" if len(g) else pid
        ax.set_title(title, fontsize=8.5)
        ax.grid(alpha=0.3, lw=0.5)
        ax.tick_params(labelsize=7.5)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
        above = axes[nrow - 2, list(axes[-1]).index(ax)] if nrow > 1 else None
        if above is not None:  # the panel above ends its column: it shows the n axis
            above.xaxis.set_tick_params(labelbottom=True)
            above.set_xlabel("n (respondents)", fontsize=8)
    top = max(0.2, 2 * cfg.alpha + 0.05, float(curves.upper.max()) + 0.02) if null else 1.02
    axes[0, 0].set_ylim(0, top)
    for ax in axes[:, 0]:
        ax.set_ylabel("rejection rate" if null else f"power ({cfg.planning_test})", fontsize=8)
    for ax in axes[-1, : len(panels) - (nrow - 1) * ncol]:
        ax.set_xlabel("n (respondents)", fontsize=8)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Line2D([], [], color=colors[i % len(colors)], marker="o", ms=3,
                      label=", ".join(f"{k} = {v:g}" if isinstance(v, float) else f"{k} = {v}"
                                      for k, v in zip(others, key if isinstance(key, tuple) else (key,))))
               for i, key in enumerate(levels)] if others else []
    handles.append(Patch(color="grey", alpha=0.3, label="95% Wilson band (Monte Carlo uncertainty)"))
    if null:
        handles.append(Patch(color="grey", alpha=0.5, label=f"alpha = {cfg.alpha:g} and its 95% binomial band "
                                                             f"({cfg.replications} replications)"))
    else:
        handles.append(Line2D([], [], color="red", ls="--", lw=0.8, label=f"target power {cfg.target_power:g}"))
        handles.append(Line2D([], [], color="black", ls=":", marker="v", ms=4, lw=0.9,
                              label="n interpolated at the target"))
    what = "type-I error (every path 0 in the population)" if null else "power"
    fig.suptitle(f"{cfg.name}: {what} of {proposition}\n({cfg.planning_test} Wald test, alpha = {cfg.alpha:g})",
                 fontsize=9.5)
    bottom = (0.1 + 0.2 * legend_rows) / fig.get_figheight()
    fig.tight_layout(rect=(0, bottom, 1, 1 - 0.45 / fig.get_figheight()))
    fig.legend(handles=handles, loc="lower center", ncol=ncol_leg, fontsize=7.5, frameon=False)
    return fig


def power_curve_png(res: "StudyResults", proposition: str, *, dpi: int = 300) -> bytes:
    """PNG (300 dpi by default) of :func:`power_curve_figure`."""
    return _figure_bytes(power_curve_figure(res, proposition), "png", dpi=dpi)


def power_curve_svg(res: "StudyResults", proposition: str) -> bytes:
    """SVG (vector) of :func:`power_curve_figure`."""
    return _figure_bytes(power_curve_figure(res, proposition), "svg")


def _figure_bytes(fig: Any, fmt: str, dpi: int = 300, *, close: bool = True) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    meta = {"Software": None} if fmt == "png" else {"Date": None}
    import matplotlib

    with matplotlib.rc_context({"svg.hashsalt": "smsem"}):  # SVG element ids reproducible
        fig.savefig(buf, format=fmt, dpi=dpi, metadata=meta)
    if close:
        plt.close(fig)
    return buf.getvalue()


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n", float_format="%.10g")


def output_names(res: "StudyResults") -> list[str]:
    """Names of the files :func:`write_outputs` writes."""
    props = sorted(res.planning.proposition.unique()) if len(res.planning) else []
    return [*CSV_OUTPUTS, "report.md", *(f"power_{p}.{ext}" for p in props for ext in ("png", "svg"))]


def write_outputs(res: "StudyResults", out: str | Path, *, plots: bool = True) -> list[Path]:
    """Write the study's tables, Markdown summary and power curves into ``out``.

    They are derived from the store and rewritten on every run (``--resume`` included).
    """
    out = Path(out)
    tables = {
        "replications.csv": res.raw, "estimates.csv": res.estimates, "parameters.csv": res.parameters,
        "fit.csv": res.fit, "planning.csv": res.planning, "planning_paths.csv": res.planning_paths,
        "power_curves.csv": res.power_curves,
    }
    written = [write_text(out / name, _csv(df), force=True) for name, df in tables.items()]
    written.append(write_text(out / "report.md", render_markdown(res), force=True))
    if plots:
        for p in (sorted(res.planning.proposition.unique()) if len(res.planning) else []):
            fig = power_curve_figure(res, p)
            written.append(write_bytes(out / f"power_{p}.svg", _figure_bytes(fig, "svg", close=False), force=True))
            written.append(write_bytes(out / f"power_{p}.png", _figure_bytes(fig, "png"), force=True))
    return written
