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

__all__ = ["render_markdown", "render_planning_text", "power_curve_png", "write_outputs", "output_names", "CSV_OUTPUTS"]

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
    out.append(_table(header, rows) if rows else "The analysis model has no propositions.\n")
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


def power_curve_png(res: "StudyResults", proposition: str) -> bytes:
    """PNG of the power of each path of ``proposition`` over n (one panel per level of
    the other factors), with 95% Wilson bands and the target power."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = res.config
    curves = res.power_curves[res.power_curves.proposition == proposition]
    others = [k for k in _varying(res) if k != "n"]
    groups = list(curves.groupby(others, sort=True)) if others else [((), curves)]
    ncol = min(3, len(groups))
    nrow = math.ceil(len(groups) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.6 * ncol + 2.6, 3.8 * nrow), squeeze=False, sharey=True)
    for ax, (keys, g) in zip(axes.flat, groups):
        single = g.path_id.nunique() <= 3  # one path: its min and joint curves are the same line
        for pid, line in g.groupby("path_id", sort=True):
            if single and pid in ("min", "joint"):
                continue
            line = line.sort_values("n")
            style = {"min": dict(color="black", ls="--", lw=1.2), "joint": dict(color="grey", ls=":", lw=1.2)}
            label = f"{pid}: {line.path.iloc[0]}" if pid not in ("min", "joint") else line.path.iloc[0]
            ax.plot(line.n, line.power, marker="o", ms=3, label=label, **style.get(pid, {}))
            if pid not in ("min", "joint"):
                ax.fill_between(line.n, line["lower"], line["upper"], alpha=0.15)
        ax.axhline(cfg.target_power, color="red", lw=0.8, label=f"target power {cfg.target_power:g}")
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("n")
        keys = keys if isinstance(keys, tuple) else (keys,)
        ax.set_title(", ".join(f"{k} = {v}" for k, v in zip(others, keys)) or proposition, fontsize=9)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(groups):]:
        ax.set_visible(False)
    axes[0, 0].set_ylabel(f"power ({cfg.planning_test}, alpha = {cfg.alpha:g})")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.suptitle(f"{cfg.name}: power of {proposition}", fontsize=10)
    fig.tight_layout(rect=(0, 0, 1 - 2.5 / fig.get_figwidth(), 1))
    fig.legend(handles, labels, fontsize=7, loc="center right", frameon=False)  # outside the curves
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def _csv(df: pd.DataFrame) -> str:
    return df.to_csv(index=False, lineterminator="\n", float_format="%.10g")


def output_names(res: "StudyResults") -> list[str]:
    """Names of the files :func:`write_outputs` writes."""
    props = sorted(res.planning.proposition.unique()) if len(res.planning) else []
    return [*CSV_OUTPUTS, "report.md", *(f"power_{p}.png" for p in props)]


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
            written.append(write_bytes(out / f"power_{p}.png", power_curve_png(res, p), force=True))
    return written
