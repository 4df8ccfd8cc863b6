"""The sales-marketing integration diagnostic (Kotler, Rackham & Krishnaswamy, 2006).

The essay's Annexe 1: 20 statements rated 1..5, total 20..100 in four levels
(undefined, defined, aligned, integrated), and the gap between the sales and marketing
departments' perceptions::

    from smsem.diagnostic import diagnose, simulate_diagnostic

    df = simulate_diagnostic(level="aligned", n=60, gap=10, seed=1)
    res = diagnose(df, group="department", org="org")
    print(res)                         # totals, levels, Welch / Mann-Whitney / Hedges' g
"""

# Submodules are imported on first use (PEP 562), so e.g. reading a study configuration
# does not import scipy, semopy or dask.
_LAZY = {
    "EffectSize": ".compare",
    "GroupComparison": ".compare",
    "compare_groups": ".compare",
    "hedges_g": ".compare",
    "item_gaps": ".compare",
    "Instrument": ".instrument",
    "Level": ".instrument",
    "load_instrument": ".instrument",
    "MultiGroupResults": ".multigroup",
    "add_krk_total": ".multigroup",
    "model_with_observed": ".multigroup",
    "multigroup_fit": ".multigroup",
    "DiagnosticResults": ".results",
    "diagnose": ".results",
    "diagnose_file": ".results",
    "pick_groups": ".results",
    "read_answers": ".scoring",
    "score_answers": ".scoring",
    "validate_answers": ".scoring",
    "TotalMoments": ".simulate",
    "expected_code": ".simulate",
    "simulate_diagnostic": ".simulate",
    "total_moments": ".simulate",
}


from .._lazy import lazy_attributes  # noqa: E402

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


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
