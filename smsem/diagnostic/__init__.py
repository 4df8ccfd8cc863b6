"""The sales-marketing integration diagnostic (Kotler, Rackham & Krishnaswamy, 2006).

The essay's Annexe 1: 20 statements rated 1..5, total 20..100 in four levels
(undefined, defined, aligned, integrated), and the gap between the sales and marketing
departments' perceptions::

    from smsem.diagnostic import diagnose, simulate_diagnostic

    df = simulate_diagnostic(level="aligned", n=60, gap=10, seed=1)
    res = diagnose(df, group="department", org="org")
    print(res)                         # totals, levels, Welch / Mann-Whitney / Hedges' g
"""

from .compare import EffectSize, GroupComparison, compare_groups, hedges_g, item_gaps
from .instrument import Instrument, Level, load_instrument
from .multigroup import MultiGroupResults, add_krk_total, model_with_observed, multigroup_fit
from .results import DiagnosticResults, diagnose, diagnose_file, pick_groups
from .scoring import read_answers, score_answers, validate_answers
from .simulate import TotalMoments, expected_code, simulate_diagnostic, total_moments

__all__ = [
    "DiagnosticResults",
    "EffectSize",
    "GroupComparison",
    "Instrument",
    "Level",
    "MultiGroupResults",
    "TotalMoments",
    "add_krk_total",
    "compare_groups",
    "diagnose",
    "diagnose_file",
    "expected_code",
    "hedges_g",
    "item_gaps",
    "load_instrument",
    "model_with_observed",
    "multigroup_fit",
    "pick_groups",
    "read_answers",
    "score_answers",
    "simulate_diagnostic",
    "total_moments",
    "validate_answers",
]
