"""The generator's default Likert thresholds give every category realistic use (issue 13).

Rule (smsem.simulate.symmetric_thresholds): equally spaced, symmetric, 1.2 SD apart until the
outermost reach +-1.8 SD. The former default (+-1.8 for every K) stays reachable as "wide".
Proportions are checked on simulated data against the population ones within 4 SE of one item's
binomial proportion (conservative for the 22 items pooled); the former cuts differ by > 30 SE.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

import smsem
from smsem.simulate import category_probabilities, symmetric_thresholds, wide_thresholds


@pytest.fixture(scope="module")
def model():
    return smsem.load_model("integrative")


def test_rule_and_former_default():
    for k in range(2, 12):
        th = symmetric_thresholds(k)
        assert th.size == k - 1 and np.allclose(th, -th[::-1])
        gaps = np.diff(th)
        assert np.allclose(gaps, gaps[0]) if k > 2 else True
        assert np.max(np.abs(th)) <= 1.8 + 1e-12 and (k <= 2 or gaps[0] <= 1.2 + 1e-12)
        p = category_probabilities(th)
        assert p.max() <= 0.5 and p.min() > 0.03, (k, p)  # no category dominates, none is empty
        if k >= 5 or k == 2:  # unchanged there, bit for bit (earlier data sets stay identical)
            np.testing.assert_array_equal(th, wide_thresholds(k))
    np.testing.assert_allclose(category_probabilities(wide_thresholds(3)), [0.0359, 0.9281, 0.0359], atol=1e-4)
    np.testing.assert_allclose(category_probabilities(symmetric_thresholds(3)), [0.2743, 0.4515, 0.2743], atol=1e-4)


@pytest.mark.parametrize("k, name", [(3, None), (4, None), (3, "wide")])
def test_simulated_category_use(model, k, name):
    n = 3000
    df = smsem.simulate(model, n=n, seed=5, likert=k, thresholds=name)
    codes = df.select_dtypes("number").to_numpy().ravel().astype(int)
    got = np.bincount(codes, minlength=k + 1)[1:] / codes.size
    th = wide_thresholds(k) if name == "wide" else symmetric_thresholds(k)
    p = category_probabilities(th)
    # the 22 items of a respondent are correlated: the SE of one item's proportion (n answers) bounds
    # that of the pooled proportion (design effect at most 22)
    se = np.sqrt(p * (1 - p) / n)
    assert np.all(np.abs(got - p) < 4 * se), (got, p)


def test_wide_is_reachable_by_name(model, tmp_path):
    from smsem.cli import main

    out = tmp_path / "s.csv"
    assert main(["generate", "--out", str(out), "--n", "50", "--likert", "3", "--thresholds", "wide", "--seed", "1"]) == 0
    import json

    meta = json.loads(out.with_suffix(".json").read_text())
    assert np.allclose(meta["thresholds"], [-1.8, 1.8])
    assert stats.norm.cdf(-1.8) == pytest.approx(0.0359, abs=1e-4)
