"""Generated organizations with a known truth about measurement invariance (issue 14):
``Department(item_intercepts=...)`` shifts items' intercepts in one department (non-invariant
intercepts), ``Department(loadings=...)`` changes its loadings.

Default: one organization with two items' intercepts shifted by 0.5 SD in marketing is
flagged at the scalar step (and the partial search releases a shifted item), and the
same draw without the shift passes every step. Slow: rejection rates over replications.
"""

import warnings

import numpy as np
import pytest

from smsem.exceptions import SpecError
from smsem.invariance import invariance
from smsem.model import load_model
from smsem.simulate.groups import Department
from smsem.simulate.responses import simulate

SHIFTED = {"COM2": 0.5, "IS3": 0.5}


def _org(seed, intercepts=None, loadings=None, n=600):
    m = load_model("integrative")
    deps = [Department("sales", 0.5, {}),
            Department("marketing", 0.5, {"COM": 0.3}, item_intercepts=intercepts or {}, loadings=loadings or {})]
    return m, simulate(m, n, seed=seed, departments=deps)


def _inv(m, d, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return invariance(m, d, "department", **kw)


def test_noninvariant_intercepts_flagged_at_scalar():
    m, d = _org(5, SHIFTED)
    inv = _inv(m, d)
    t = inv.tests.set_index("step")
    assert t.loc["metric", "chen"] and t.loc["metric", "pvalue"] > 0.05
    assert not t.loc["scalar", "chen"] and t.loc["scalar", "pvalue"] < 0.001
    assert inv.highest == "metric"
    assert set(inv.suggested_partial) <= {"COM2~1", "IS3~1"} and inv.suggested_partial


@pytest.mark.slow  # the default suite has the same check in test_invariance.py (integrative, two departments)
def test_same_organization_invariant_passes():
    m, d = _org(5)
    inv = _inv(m, d, partial=False)
    assert inv.highest == "strict"
    assert (inv.tests["pvalue"] > 0.05).all()


def test_generator_records_and_checks_the_truth():
    m = load_model("integrative")
    with pytest.raises(SpecError, match="item intercept of unknown item 'XX1'"):
        simulate(m, 100, seed=1, departments=[Department("a", 0.5), Department("b", 0.5, item_intercepts={"XX1": 1})])
    d0 = simulate(m, 2000, seed=3, departments=[Department("a", 0.5), Department("b", 0.5)], likert=0)
    d1 = simulate(m, 2000, seed=3, departments=[Department("a", 0.5), Department("b", 0.5, item_intercepts={"COM2": 0.5})],
                  likert=0)
    b = d1["department"] == "b"
    # same streams: only the shifted item of the shifted department moves, by exactly 0.5
    np.testing.assert_allclose((d1.loc[b, "COM2"] - d0.loc[b, "COM2"]).to_numpy(float), 0.5)
    other = [c for c in d0.columns if c not in ("COM2", "department")]
    np.testing.assert_array_equal(d1[other].to_numpy(float), d0[other].to_numpy(float))


@pytest.mark.slow  # ~3 s idle (2 replications of the integrative sequence)
def test_invariance_power_smoke():
    """The rates function on 2 replications: counts add up; same seed, same rates."""
    from smsem.invariance import invariance_power

    m = load_model("integrative")
    deps = [Department("sales", 0.5), Department("marketing", 0.5, item_intercepts={"COM2": 1.0, "IS3": 1.0})]
    a = invariance_power(m, deps, 400, reps=2, seed=4)
    assert list(a["step"]) == ["metric", "scalar", "strict"]
    assert (a["reps"] + a["failed_fits"] == 2).all()
    assert a.set_index("step").loc["scalar", "reject_rate"] == 1.0  # a 1 SD shift on two items


@pytest.mark.slow
@pytest.mark.parametrize("shift, lo, hi", [(None, 0.0, 0.15), ({"COM2": 0.3}, 0.7, 1.0)])
def test_scalar_rejection_rates(shift, lo, hi):
    """Full invariance: the scalar LRT rejects at about the nominal .05 (Likert items fitted
    by ML: the bound .15 allows 40 replications' Monte Carlo error, ~.035, and the mild
    non-normality); one item shifted 0.3 SD: power >= .7 at n = 300 per department."""
    from smsem.invariance import invariance_power

    m = load_model("integrative")
    deps = [Department("sales", 0.5, {}), Department("marketing", 0.5, {"COM": 0.3}, item_intercepts=shift or {})]
    rates = invariance_power(m, deps, 600, reps=40, seed=1000).set_index("step")
    assert rates.loc["scalar", "failed_fits"] <= 2
    assert lo <= rates.loc["scalar", "reject_rate"] <= hi


def test_group_specific_thresholds():
    """``Department(item_thresholds=...)``: one item's cut points in one department (ordinal
    non-invariance); the same streams, so only that item's codes there change, and they are
    the continuous responses cut at the department's own thresholds."""
    from smsem.exceptions import OptionError
    from smsem.simulate.responses import symmetric_thresholds

    m = load_model("integrative")
    own = [-1.0, -0.2, 0.4, 1.5]
    deps0 = [Department("a", 0.5), Department("b", 0.5)]
    deps1 = [Department("a", 0.5), Department("b", 0.5, item_thresholds={"COM2": own})]
    x = simulate(m, 1000, seed=3, departments=deps0, likert=0)
    d0 = simulate(m, 1000, seed=3, departments=deps0, likert=5)
    d1 = simulate(m, 1000, seed=3, departments=deps1, likert=5)
    b = (d1["department"] == "b").to_numpy()
    want = 1 + (x.loc[b, "COM2"].to_numpy(float)[:, None] >= np.array(own)).sum(axis=1)
    np.testing.assert_array_equal(d1.loc[b, "COM2"].to_numpy(int), want)
    common = 1 + (x.loc[b, "COM2"].to_numpy(float)[:, None] >= symmetric_thresholds(5)).sum(axis=1)
    assert (want != common).any()  # the department's own cut points moved some answers
    other = [c for c in d0.columns if c != "department"]
    keep = d0[other].to_numpy() == d1[other].to_numpy()
    assert keep[~b].all() and keep[b][:, [c != "COM2" for c in other]].all()
    rec = {r["name"]: r for r in d1.attrs["smsem"]["departments"]}
    assert rec["b"]["item_thresholds"] == {"COM2": own} and "item_thresholds" not in rec["a"]
    with pytest.raises(SpecError, match="department b: item COM2: a 5-point scale needs 4 thresholds"):
        simulate(m, 100, seed=1, departments=[Department("a", 0.5),
                                              Department("b", 0.5, item_thresholds={"COM2": [0.0]})])
    with pytest.raises(SpecError, match="item thresholds of unknown item 'XX1'"):
        simulate(m, 100, seed=1, departments=[Department("a", 0.5),
                                              Department("b", 0.5, item_thresholds={"XX1": own})])
    with pytest.raises(OptionError, match="item_thresholds need Likert items"):
        simulate(m, 100, seed=1, departments=deps1, likert=0)
