"""Likert responses: threshold sets, category proportions, refused thresholds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import smsem
from smsem.exceptions import OptionError, SpecError
from smsem.simulate import (
    category_probabilities,
    cut_likert,
    skewed_thresholds,
    symmetric_thresholds,
    thresholds_from_proportions,
)

N = 20_000


def _check_proportions(df, th, k):
    """Observed vs expected category shares, in standard errors.

    Every item response is N(0, 1) in the thesis population, so each category has the
    probability ``category_probabilities(th)``. Two checks:
    - pooled over the 22 items, within 3 SE, with the single-item SE sqrt(p(1-p)/n)
      (an upper bound of the pooled SE, since items correlate at most 1): the issue's
      criterion, with k comparisons only;
    - item by item, within the two-sided Bonferroni bound for 22*k comparisons at
      1% family-wise error (~4 SE), so one bad item cannot hide in the pool.
    """
    p = category_probabilities(th)
    codes = df.to_numpy()
    counts = np.stack([(codes == c).mean(axis=0) for c in range(1, k + 1)], axis=1)  # (items, k)
    se = np.sqrt(p * (1 - p) / N)
    z_pooled = (counts.mean(axis=0) - p) / se
    assert np.abs(z_pooled).max() < 3, z_pooled
    bound = stats.norm.isf(0.01 / (2 * counts.size))
    assert np.abs((counts - p) / se).max() < bound


@pytest.mark.parametrize("k", [2, 5, 7, 11])
def test_symmetric_category_proportions(model, k):
    df = smsem.simulate(model, n=N, seed=100 + k, likert=k)
    _check_proportions(df, symmetric_thresholds(k), k)


def test_skewed_category_proportions_are_agreement_heavy(model):
    df = smsem.simulate(model, n=N, seed=7, thresholds="skewed")
    th = skewed_thresholds(5)
    _check_proportions(df, th, 5)
    p = category_probabilities(th)
    assert p[3:].sum() > 0.5 > p[:2].sum() * 5  # most agree, few disagree


def test_thresholds_from_target_proportions(model):
    target = [0.05, 0.15, 0.30, 0.35, 0.15]
    th = thresholds_from_proportions(target)
    np.testing.assert_allclose(category_probabilities(th), target, atol=1e-12)
    df = smsem.simulate(model, n=N, seed=8, proportions=target)
    assert df.attrs["smsem"]["threshold_method"] == "proportions"
    _check_proportions(df, th, 5)


def test_likert_cuts_the_same_respondents_as_continuous(model):
    cont = smsem.simulate(model, n=500, seed=9, likert=0)
    lik = smsem.simulate(model, n=500, seed=9, likert=7)
    np.testing.assert_array_equal(lik.to_numpy(), cut_likert(cont.to_numpy(), symmetric_thresholds(7)))


@pytest.mark.parametrize("th, message", [
    ([-1.0, 0.0, 0.0, 1.0], r"strictly increasing: threshold 2 \(0\.0\) is not below threshold 3 \(0\.0\)"),
    ([-1.0, 0.5, 0.0, 1.0], r"threshold 2 \(0\.5\) is not below threshold 3 \(0\.0\)"),
    ([-1.0, 0.0, 1.0], r"a 5-point scale needs 4 thresholds, got 3"),
    ([-1.0, np.nan, 0.5, 1.0], r"thresholds must be finite"),
])
def test_bad_thresholds_are_refused(model, th, message):
    with pytest.raises(SpecError, match=message):
        smsem.simulate(model, n=10, thresholds=th)


@pytest.mark.parametrize("props, message", [
    ([0.2, 0.3, 0.0, 0.3, 0.2], r"category 3 has 0\.0 \(a zero proportion makes two thresholds coincide\)"),
    ([0.2, 0.3, 0.3, 0.3, 0.2], r"must sum to 1, got 1\.3"),
    ([0.5, 0.5], r"a 5-point scale needs 5 category proportions, got 2"),
])
def test_bad_proportions_are_refused(model, props, message):
    with pytest.raises(SpecError, match=message):
        smsem.simulate(model, n=10, proportions=props)


def test_bad_options_are_refused(model):
    with pytest.raises(OptionError, match="thresholds must be one of symmetric, skewed, wide; got 'left'"):
        smsem.simulate(model, n=10, thresholds="left")
    with pytest.raises(OptionError, match="not both"):
        smsem.simulate(model, n=10, thresholds="skewed", proportions=[0.2] * 5)
    with pytest.raises(OptionError, match="likert must be at most 11"):
        smsem.simulate(model, n=10, likert=12)
    with pytest.raises(SpecError, match="got 1"):
        smsem.simulate(model, n=10, likert=1)


@settings(max_examples=25, deadline=None)
@given(k=st.integers(2, 11), seed=st.integers(0, 2**32), skewed=st.booleans())
def test_codes_stay_in_1_to_k(model, k, seed, skewed):
    df = smsem.simulate(model, n=50, seed=seed, likert=k, thresholds="skewed" if skewed else None)
    codes = df.to_numpy()
    assert codes.dtype == np.int8 and codes.min() >= 1 and codes.max() <= k


@settings(max_examples=60, deadline=None)
@given(k=st.integers(2, 11), seed=st.integers(0, 2**32 - 1))
def test_cut_likert_counts_thresholds_like_a_binary_search(k, seed):
    """The comparison-pass cut gives searchsorted's codes, responses exactly on a
    threshold included (they go to the upper category)."""
    rng = np.random.default_rng(seed)
    th = np.sort(rng.normal(size=k - 1) * 1.5)
    if np.any(np.diff(th) <= 0):
        return
    x = np.concatenate([rng.normal(size=(200, 3)) * 2, np.broadcast_to(th[:, None], (k - 1, 3))])
    expect = (np.searchsorted(th, x, side="right") + 1).astype(np.int8)
    got = cut_likert(x, th)
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, expect)
