"""The proposition table: each hypothesized path with its estimate, CI and verdict."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from ._validation import check_option
from .bootstrap import CI_METHODS, DEFAULT_BOOT_SEED, BootstrapResults, bootstrap
from .estimate.results import FitResults

__all__ = ["PropositionTable", "proposition_table", "verdict", "VERDICTS", "TABLE_COLUMNS"]

VERDICTS = ("supported", "opposite sign", "not supported", "no bootstrap")
TABLE_COLUMNS = [
    "id", "proposition", "path", "expected", "est", "std_est", "se", "pvalue",
    "ci_lower", "ci_upper", "verdict",
]


def verdict(lower: float, upper: float, sign: int) -> str:
    """Verdict of a path from the CI of its standardized estimate.

    ``"supported"`` when the interval lies entirely on the hypothesized side of 0,
    ``"opposite sign"`` when it lies entirely on the other side, ``"not supported"``
    otherwise (it contains 0), ``"no bootstrap"`` when there is no interval.
    """
    if pd.isna(lower) or pd.isna(upper):
        return "no bootstrap"
    if lower > 0:
        side = 1
    elif upper < 0:
        side = -1
    else:
        return "not supported"
    return "supported" if side == sign else "opposite sign"


@dataclass(frozen=True)
class PropositionTable:
    """One row per proposition path, with the facts printed under it.

    Attributes
    ----------
    table : DataFrame
        Columns ``TABLE_COLUMNS``. ``ci_lower``/``ci_upper`` bound the bootstrap
        CI (method ``ci_method``) of the standardized estimate.
    n : int
        Respondents used.
    n_boot, n_failed : int
        Bootstrap draws requested and failed (0 and 0 without bootstrap).
    level : float
    ci_method : str
    fit_indices : dict
    """

    table: pd.DataFrame
    n: int
    n_boot: int
    n_failed: int
    failures: dict
    level: float
    ci_method: str
    fit_indices: dict

    def __str__(self) -> str:
        from .report import render_propositions

        return render_propositions(self, "text")


def proposition_table(
    res: FitResults,
    boot: BootstrapResults | None = None,
    *,
    n_boot: int = 1000,
    seed: int = DEFAULT_BOOT_SEED,
    level: float = 0.95,
    ci: str = "percentile",
    jobs: int = 1,
    progress: bool | None = None,
) -> PropositionTable:
    """Test the model's propositions.

    Parameters
    ----------
    res : FitResults
    boot : BootstrapResults, optional
        Draws to use; if omitted, ``n_boot`` draws are made with ``seed`` (``n_boot=0``
        gives the table without CIs).
    n_boot : int, default=1000
    seed : int, default=20190102
    level : float, default=0.95
    ci : {"percentile", "bc", "bca", "normal"}, default="percentile"
        CI method of the standardized paths behind the verdicts (see
        :meth:`BootstrapResults.conf_int`).
    jobs : int, default=1
        Worker processes for the draws (results do not depend on it).
    progress : bool, optional
        Progress bar on stderr; default: only when stderr is a terminal.

    Returns
    -------
    PropositionTable
    """
    check_option("ci", ci, CI_METHODS)
    ci_method = ci
    if boot is None and n_boot > 0:
        boot = bootstrap(res, n_boot=n_boot, seed=seed, jobs=jobs, progress=progress)
    ci = boot.conf_int(level, ci_method) if boot is not None else None
    rows = []
    std = res.standardized_paths
    for p in res.model.propositions:
        prm = res.path(p.target, p.source)
        key = f"{p.target}~{p.source}"
        lo = float(ci.loc[f"{key}:std", "lower"]) if ci is not None else float("nan")
        hi = float(ci.loc[f"{key}:std", "upper"]) if ci is not None else float("nan")
        rows.append({
            "id": p.id,
            "proposition": p.proposition,
            "path": p.label,
            "expected": "+" if p.sign > 0 else "-",
            "est": float(prm["est"]),
            "std_est": float(std[key]),
            "se": float(prm["se"]),
            "pvalue": float(prm["pvalue"]),
            "ci_lower": lo,
            "ci_upper": hi,
            "verdict": verdict(lo, hi, p.sign),
        })
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    return PropositionTable(
        table,
        res.n,
        boot.n_boot if boot is not None else 0,
        boot.n_failed if boot is not None else 0,
        dict(boot.failures) if boot is not None else {},
        level,
        ci_method,
        dict(res.fit_indices),
    )
