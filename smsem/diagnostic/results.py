"""The diagnostic of a set of answers: respondents, organizations, groups and the gap."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import DataError
from .compare import GroupComparison, compare_groups, item_gaps
from .instrument import Instrument, load_instrument
from .scoring import read_answers, score_answers, validate_answers

__all__ = ["DiagnosticResults", "diagnose", "diagnose_file", "pick_groups"]

# The essay's two departments, in the order of the gap (marketing minus sales).
DEFAULT_GROUPS = ("sales", "marketing")


@dataclass(frozen=True)
class DiagnosticResults:
    """Scores of every respondent and their summaries. Build with :func:`diagnose`.

    Attributes
    ----------
    instrument : Instrument
    respondents : DataFrame
        ``row``, ``group``/``org`` (when given), ``n_missing``, ``total``, ``level``, ``status``.
    organizations : DataFrame
        One row per organization (a single ``"all"`` when no org column): ``org``, ``n``
        (scored respondents), ``n_excluded``, ``mean_total``, ``sd_total``, ``level``
        (level of the mean), and ``gap``, ``welch_p`` of the two groups within it (NaN
        without groups or with fewer than 2 respondents in a group).
    groups : DataFrame or None
        One row per group: ``group``, ``n``, ``n_excluded``, ``mean_total``, ``sd_total``, ``level``.
    comparison : GroupComparison or None
        The perception gap over all organizations (``b`` minus ``a``).
    item_gaps : DataFrame or None
        Item-level gaps ranked by size (see :func:`smsem.diagnostic.compare.item_gaps`).
    """

    instrument: Instrument
    respondents: pd.DataFrame
    organizations: pd.DataFrame
    groups: pd.DataFrame | None
    comparison: GroupComparison | None
    item_gaps: pd.DataFrame | None
    group_column: str | None = None
    org_column: str | None = None
    source: str = "data"

    @property
    def n(self) -> int:
        """Respondents read (scored or excluded)."""
        return len(self.respondents)

    @property
    def n_excluded(self) -> int:
        return int((self.respondents["status"] == "excluded").sum())

    @property
    def n_prorated(self) -> int:
        return int((self.respondents["status"] == "prorated").sum())

    def __str__(self) -> str:
        from ..report.diagnostic import render_diagnostic

        return render_diagnostic(self, "text")


def pick_groups(labels: pd.Series, groups: tuple[str, str] | None = None) -> tuple[str, str]:
    """The two groups to compare, ``(a, b)`` with gap ``b - a``.

    With ``groups`` given, both must occur. Otherwise: ``sales`` and ``marketing``
    (case-insensitive) when both occur, else the two labels in sorted order when there
    are exactly two.
    """
    present = sorted(set(labels))
    if groups is not None:
        absent = [g for g in groups if g not in present]
        if absent:
            raise DataError(f"group(s) {', '.join(map(repr, absent))} not found; groups in the data: "
                            f"{', '.join(map(repr, present))}")
        return str(groups[0]), str(groups[1])
    lower = {p.lower(): p for p in present}
    if all(g in lower for g in DEFAULT_GROUPS):
        return lower[DEFAULT_GROUPS[0]], lower[DEFAULT_GROUPS[1]]
    if len(present) == 2:
        return present[0], present[1]
    raise DataError(f"cannot choose two groups to compare among {', '.join(map(repr, present))}: "
                    "name them sales and marketing, or keep exactly two groups")


def _summary(totals: pd.Series, inst: Instrument) -> dict:
    ok = totals.dropna()
    mean = float(ok.mean()) if len(ok) else float("nan")
    return {"n": int(len(ok)), "n_excluded": int(totals.isna().sum()), "mean_total": mean,
            "sd_total": float(ok.std(ddof=1)) if len(ok) >= 2 else float("nan"),
            "level": inst.level_of(mean)}


def diagnose(data: pd.DataFrame, *, group: str | None = None, org: str | None = None,
             groups: tuple[str, str] | None = None, instrument: Instrument | str | None = None,
             level: float = 0.95, source: str = "data") -> DiagnosticResults:
    """Score diagnostic answers and compare the groups' perceptions.

    Parameters
    ----------
    data : DataFrame
        One row per respondent with the instrument's item columns (``KRK1..KRK20``),
        integer codes 1..5 or empty.
    group : str, optional
        Column with each respondent's department; enables the group comparison.
    org : str, optional
        Column with each respondent's organization; default: one organization ``"all"``.
    groups : (str, str), optional
        The two groups to compare, gap = second minus first; default
        ``("sales", "marketing")`` when present (see :func:`pick_groups`).
    instrument : Instrument or str, optional
        Default the shipped ``krk_diagnostic``.
    level : float, default=0.95
        Confidence level of the gap and effect-size intervals.

    Returns
    -------
    DiagnosticResults

    Raises
    ------
    DataError
        A missing column, or an answer that is not an integer 1..5 (naming row and column).
    """
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument or "krk_diagnostic")
    items = validate_answers(data, inst, group=group, org=org, source=source)
    return _diagnose(items, inst, group, org, groups, level, source)


def diagnose_file(path: str | Path, *, group: str | None = None, org: str | None = None,
                  groups: tuple[str, str] | None = None, instrument: Instrument | str | None = None,
                  level: float = 0.95) -> DiagnosticResults:
    """:func:`diagnose` on a CSV file (validated by :func:`read_answers`)."""
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument or "krk_diagnostic")
    items = read_answers(path, inst, group=group, org=org)
    return _diagnose(items, inst, group, org, groups, level, str(path))


def _diagnose(items: pd.DataFrame, inst: Instrument, group: str | None, org: str | None,
              groups: tuple[str, str] | None, level: float, source: str) -> DiagnosticResults:
    resp = score_answers(items, inst)
    if org is None:
        resp.insert(1, "org", "all")
    cols = list(inst.items)
    pair = pick_groups(resp["group"], groups) if group is not None else None
    org_rows = []
    for name, sub in resp.groupby("org", sort=True):
        row = {"org": name, **_summary(sub["total"], inst), "gap": np.nan, "welch_p": np.nan}
        if pair is not None:
            c = compare_groups(sub.loc[sub.group == pair[0], "total"].to_numpy(),
                               sub.loc[sub.group == pair[1], "total"].to_numpy(), pair, level)
            row["gap"], row["welch_p"] = c.gap, c.welch_p
        org_rows.append(row)
    orgs = pd.DataFrame(org_rows)
    grp = comp = gaps = None
    if pair is not None:
        # The compared pair first (a, b), then any other groups in sorted order.
        order = list(pair) + sorted(set(resp["group"]) - set(pair))
        grp = pd.DataFrame([{"group": g, **_summary(resp.loc[resp.group == g, "total"], inst)} for g in order])
        in_a = (resp.group == pair[0]).to_numpy()
        in_b = (resp.group == pair[1]).to_numpy()
        comp = compare_groups(resp.loc[in_a, "total"].to_numpy(), resp.loc[in_b, "total"].to_numpy(), pair, level)
        scored = (resp.status != "excluded").to_numpy()
        gaps = item_gaps(items.loc[in_a & scored, cols], items.loc[in_b & scored, cols])
    return DiagnosticResults(inst, resp, orgs, grp, comp, gaps, group, org, source)
