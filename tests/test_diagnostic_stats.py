"""The perception gap: Hedges' g against pingouin, the tests' orientation, power and size."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats
from statsmodels.stats.power import TTestIndPower

from smsem.diagnostic import compare_groups, diagnose, hedges_g, simulate_diagnostic, total_moments
from smsem.diagnostic.simulate import _solve_mu

from conftest import ROOT

REF = json.loads((ROOT / "tests" / "reference" / "hedges_g_pingouin.json").read_text())


@pytest.mark.parametrize("case", REF["cases"], ids=lambda c: f"na{len(c['a'])}-nb{len(c['b'])}")
def test_hedges_g_matches_pingouin(case):
    """pingouin 0.7.0 values (scripts/ref_hedges_pingouin.py) rounded by it to 12 decimals:
    1e-10 leaves room for that rounding and nothing else."""
    e = hedges_g(np.array(case["a"]), np.array(case["b"]), case["level"])
    assert e.d == pytest.approx(case["cohen_d"], abs=1e-10)
    assert e.g == pytest.approx(case["hedges_g"], abs=1e-10)
    assert e.ci_lower == pytest.approx(case["ci_lower"], abs=1e-10)
    assert e.ci_upper == pytest.approx(case["ci_upper"], abs=1e-10)


def test_hedges_g_textbook_example():
    """Borenstein et al. (2009), Introduction to Meta-Analysis, section 4.3: means 103 vs 100,
    SDs 5.5 and 4.5, n = 50 each: d = 0.5970, J = 0.9923, g = 0.5924 (printed to 4 decimals).
    Samples with exactly these moments are built by standardizing."""
    def sample(mean: float, sd: float, n: int) -> np.ndarray:
        z = np.random.default_rng(1).standard_normal(n)
        return mean + sd * (z - z.mean()) / z.std(ddof=1)

    e = hedges_g(sample(100, 4.5, 50), sample(103, 5.5, 50))
    assert (round(e.d, 4), round(e.j, 4), round(e.g, 4)) == (0.5970, 0.9923, 0.5924)
    # Hedges & Olkin's SE with g plugged in: sqrt(100/2500 + g^2/200).
    assert e.se == pytest.approx(np.sqrt(0.04 + e.g**2 / 200), rel=1e-12)


def test_comparison_orientation_is_b_minus_a():
    rng = np.random.default_rng(5)
    a, b = rng.normal(50, 10, 40), rng.normal(58, 10, 35)
    c = compare_groups(a, b, ("sales", "marketing"))
    ref = stats.ttest_ind(b, a, equal_var=False)
    assert c.gap == pytest.approx(b.mean() - a.mean()) and c.gap > 0
    assert (c.welch_t, c.welch_p, c.welch_df) == pytest.approx((ref.statistic, ref.pvalue, ref.df))
    assert c.mwu_u == stats.mannwhitneyu(b, a).statistic and c.effect.g > 0
    assert c.gap_ci_lower < c.gap < c.gap_ci_upper
    flipped = compare_groups(b, a)
    assert flipped.gap == pytest.approx(-c.gap) and flipped.effect.g == pytest.approx(-c.effect.g)


def test_degenerate_groups_give_nan_not_errors():
    c = compare_groups(np.array([50.0]), np.array([60.0, 61.0]))
    assert np.isnan(c.welch_p) and np.isnan(c.effect.g)
    e = hedges_g(np.full(5, 60.0), np.full(5, 60.0))
    assert np.isnan(e.g)


# --- power design ---------------------------------------------------------------------------
# Organization at the "aligned" level (expected total 70), known gap of 10 points
# (sales 65, marketing 75). The SD of the total under the generator's response model is
# computed by quadrature (total_moments); the larger of the two departments' SDs gives a
# conservative standardized effect d. n per department is the smallest giving power >= .99
# for the two-sided two-sample t-test at alpha .05 (statsmodels TTestIndPower; Welch's test
# with equal n and near-equal SDs has practically the same power).
GAP, LEVEL_TOTAL, ALPHA, POWER = 10.0, 70.0, 0.05, 0.99


def _design() -> tuple[int, float]:
    sd_resp = np.hypot(0.6, 0.8)
    sds = [total_moments(np.full(20, _solve_mu((LEVEL_TOTAL + s * GAP / 2) / 20, sd_resp, 5)), 0.6, 0.8).sd
           for s in (-1, 1)]
    d = GAP / max(sds)
    n = int(np.ceil(TTestIndPower().solve_power(effect_size=d, alpha=ALPHA, power=POWER)))
    return n, d


def test_design_power_is_at_least_99_percent():
    n, d = _design()
    assert TTestIndPower().power(effect_size=d, nobs1=n, alpha=ALPHA) >= POWER
    assert TTestIndPower().power(effect_size=d, nobs1=n - 1, alpha=ALPHA) < POWER


def test_known_gap_is_detected_single_organization():
    """One organization, fixed seed (documented: a single draw, with power >= .99 by design)."""
    n, _ = _design()
    res = diagnose(simulate_diagnostic(level="aligned", n=n, gap=GAP, seed=20260701), group="department")
    c = res.comparison
    assert c.significant(ALPHA)
    assert c.gap_ci_lower < GAP < c.gap_ci_upper
    assert c.effect.ci_lower > 0


def test_no_gap_is_not_detected_single_organization():
    """Same design with gap 0, fixed seed (documented: a single draw; P(reject) = .05 by design)."""
    n, _ = _design()
    res = diagnose(simulate_diagnostic(level="aligned", n=n, gap=0.0, seed=20260701), group="department")
    assert not res.comparison.significant(ALPHA)


def test_repeated_study_power_and_size():
    """200 organizations with the gap and 200 without, all at the design n.

    With the gap, rejections ~ Binomial(200, power >= .99): at least the .001 quantile of
    Binomial(200, .99). Without it, rejections ~ Binomial(200, .05): inside the central
    99.9% interval. Each bound fails with probability <= .001 when the claim holds.
    """
    n, _ = _design()
    reps = 200
    gap = diagnose(simulate_diagnostic(level=["aligned"] * reps, n=n, gap=GAP, seed=1),
                   group="department", org="org").organizations
    null = diagnose(simulate_diagnostic(level=["aligned"] * reps, n=n, gap=0.0, seed=2),
                    group="department", org="org").organizations
    hits = int((gap.welch_p < ALPHA).sum())
    false = int((null.welch_p < ALPHA).sum())
    assert hits >= stats.binom.ppf(0.001, reps, POWER), hits
    lo, hi = stats.binom.interval(0.999, reps, ALPHA)
    assert lo <= false <= hi, false
    # The estimated gaps are unbiased: mean within 4 Monte Carlo SEs of 10 and of 0.
    for table, truth in ((gap, GAP), (null, 0.0)):
        assert abs(table.gap.mean() - truth) < 4 * table.gap.std() / np.sqrt(reps)


def test_item_gap_ranking_finds_the_items_that_carry_the_gap():
    """The gap is put on KRK5, KRK6 and KRK10 only (weights); they rank first."""
    w = np.zeros(20)
    w[[4, 5, 9]] = 1.0
    res = diagnose(simulate_diagnostic(level="defined", n=150, gap=6.0, item_weights=w, seed=8),
                   group="department")
    top = set(res.item_gaps.item.iloc[:3])
    assert top == {"KRK5", "KRK6", "KRK10"}
    assert (res.item_gaps.p_holm.iloc[:3] < 0.05).all()
    assert (res.item_gaps.p_holm >= res.item_gaps.welch_p).all()


@pytest.mark.slow
def test_hedges_g_interval_coverage():
    """Coverage of the 95% Hedges & Olkin interval for the generator's totals, 2000 replications:
    within 3 binomial SEs of .95 (the normal approximation is good at n = 60 per group)."""
    reps, n = 2000, 60
    sd_resp = np.hypot(0.6, 0.8)
    moms = [total_moments(np.full(20, _solve_mu(t / 20, sd_resp, 5)), 0.6, 0.8) for t in (65, 75)]
    pooled = np.sqrt((moms[0].sd ** 2 + moms[1].sd ** 2) / 2)
    true_d = GAP / pooled
    orgs = diagnose(simulate_diagnostic(level=["aligned"] * reps, n=n, gap=GAP, seed=3),
                    group="department", org="org").respondents
    cover = 0
    for _, sub in orgs.groupby("org"):
        e = hedges_g(sub.loc[sub.group == "sales", "total"].to_numpy(),
                     sub.loc[sub.group == "marketing", "total"].to_numpy())
        cover += e.ci_lower <= true_d <= e.ci_upper
    se = np.sqrt(0.95 * 0.05 / reps)
    assert abs(cover / reps - 0.95) < 3 * se
