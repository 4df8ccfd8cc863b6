"""Vale-Maurelli non-normal responses: lavaan's solutions, moments and correlations."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import smsem
from smsem.exceptions import SpecError
from smsem.simulate import ValeMaurelli, fleishman_coefficients, intermediate_correlation, population_model
from smsem.simulate.nonnormal import fleishman_moments

REF = Path(__file__).resolve().parent / "reference"


@pytest.fixture(scope="module")
def lavaan_ref():
    inp = pd.read_csv(REF / "vale_maurelli_input.csv")
    items = list(inp["item"])
    coef = pd.read_csv(REF / "vale_maurelli_coefficients.csv")
    icor = pd.read_csv(REF / "vale_maurelli_intermediate.csv")
    vm = ValeMaurelli.prepare(inp[items].to_numpy(), items, inp["skewness"].to_numpy(), inp["kurtosis"].to_numpy())
    return vm, coef, icor[items].to_numpy()


def test_fleishman_coefficients_equal_lavaan(lavaan_ref):
    """lavaan 0.6-14's nlminb solutions satisfy Fleishman's equations to ~4e-9 (their
    residuals, measured); scipy's to ~1e-12; so the coefficients agree to ~1e-9, and
    1e-8 is the tolerance. Both start at b, c, d = 1, 0, 0, so they find the same root."""
    vm, coef, _ = lavaan_ref
    np.testing.assert_allclose(vm.coefficients, coef[["a", "b", "c", "d"]].to_numpy(), atol=1e-8, rtol=0)
    for b, c, d in vm.coefficients[:, 1:]:
        var, _, _ = fleishman_moments(b, c, d)
        assert var == pytest.approx(1.0, abs=1e-12)


def test_intermediate_correlations_equal_lavaan(lavaan_ref):
    """Same cubic, same root (nearest the target); lavaan's nlminb stops at ~1e-9."""
    vm, _, icor = lavaan_ref
    np.testing.assert_allclose(vm.intermediate, icor, atol=1e-8, rtol=0)


def test_intermediate_correlation_by_quadrature():
    """Independent check of the cubic: E[f1(Z1) f2(Z2)] by Gauss-Hermite quadrature
    (60 nodes per axis: exact for these polynomials of degree 6) equals the target."""
    c1, c2 = fleishman_coefficients(2.0, 7.0), fleishman_coefficients(-1.0, 2.0)
    r = 0.45
    rho = intermediate_correlation(r, c1, c2)
    x, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    z1, z2 = np.meshgrid(x, x, indexing="ij")
    u, v = z1, rho * z1 + np.sqrt(1 - rho ** 2) * z2

    def f(c, z):
        return c[0] + c[1] * z + c[2] * z ** 2 + c[3] * z ** 3

    assert float((np.outer(w, w) * f(c1, u) * f(c2, v)).sum()) == pytest.approx(r, abs=1e-12)


def test_unreachable_targets_are_refused(model):
    with pytest.raises(SpecError, match=r"item COM1: skewness 3 with excess kurtosis 0 cannot be reached"):
        smsem.simulate(model, n=10, likert=0, skewness=3.0, kurtosis=0.0)
    with pytest.raises(SpecError, match=r"skewness needs one value or one per item \(22\), got 2"):
        smsem.simulate(model, n=10, likert=0, skewness=[1.0, 2.0], kurtosis=2.0)
    with pytest.raises(SpecError, match="XX1 not an item"):
        smsem.simulate(model, n=10, likert=0, skewness={"XX1": 1.0})


def test_moments_and_correlations_at_large_n(model):
    """n = 200000: marginal skewness/kurtosis near the targets, correlations preserved.

    Tolerances are Monte Carlo standard errors measured from 20 batches of 10000 (the
    sampling SD of the kurtosis of a skewed variable depends on its 8th moment, so no
    normal-theory formula applies): full-sample statistic within 4.5 batch SEs of the
    target (44 comparisons, Bonferroni at ~1% with t(19) tails). The SEs themselves are
    asserted small, so the check has power: measured at n = 200000, skewness SEs are at
    most 0.015 and kurtosis SEs at most 0.10 (the skew -1 / kurtosis 2 items), so a
    kurtosis off by 0.5 or a skewness off by 0.07 fails. The slow variant (n = 2e6)
    shrinks both by sqrt(10).
    """
    _moments_check(model, 200_000, se_caps=(0.02, 0.15))


@pytest.mark.slow
def test_moments_and_correlations_at_very_large_n(model):
    _moments_check(model, 2_000_000, se_caps=(0.02 / 3, 0.15 / 3))


def _moments_check(model, n, se_caps):
    batches = 20
    targets = {"skewness": [1.0, -1.0, 0.5, 0.0], "kurtosis": [1.5, 2.0, 0.0, -1.0]}
    items = model.items
    sk = {it: targets["skewness"][i % 4] for i, it in enumerate(items)}
    ku = {it: targets["kurtosis"][i % 4] for i, it in enumerate(items)}
    df = smsem.simulate(model, n=n, seed=77, likert=0, skewness=sk, kurtosis=ku)
    x = df.to_numpy()
    s_full = stats.skew(x, axis=0)
    k_full = stats.kurtosis(x, axis=0)
    xb = x.reshape(batches, n // batches, -1)
    se_s = stats.skew(xb, axis=1).std(axis=0, ddof=1) / np.sqrt(batches)
    se_k = stats.kurtosis(xb, axis=1).std(axis=0, ddof=1) / np.sqrt(batches)
    assert se_s.max() < se_caps[0] and se_k.max() < se_caps[1]
    assert np.abs((s_full - np.array(list(sk.values()))) / se_s).max() < 4.5
    assert np.abs((k_full - np.array(list(ku.values()))) / se_k).max() < 4.5
    # Correlations: the target is the normal population's implied correlation.
    target = population_model(model).implied_cov.to_numpy()
    r_full = np.corrcoef(x, rowvar=False)
    r_b = np.stack([np.corrcoef(b, rowvar=False) for b in xb])
    se_r = r_b.std(axis=0, ddof=1) / np.sqrt(batches)
    iu = np.triu_indices(len(items), 1)
    assert se_r[iu].max() < 0.01
    assert np.abs((r_full - target)[iu] / se_r[iu]).max() < 4.5
    assert np.abs(r_full - target)[iu].max() < 0.015
    meta = df.attrs["smsem"]["nonnormal"]
    assert meta["skewness"]["COM1"] == 1.0 and meta["kurtosis"]["COM2"] == 2.0


def test_nonnormal_draws_are_reproducible_and_do_not_touch_the_default(model):
    a = smsem.simulate(model, n=300, seed=4, likert=0, skewness=1.0, kurtosis=2.0)
    b = smsem.simulate(model, n=300, seed=4, likert=0, skewness=1.0, kurtosis=2.0)
    pd.testing.assert_frame_equal(a, b)
    normal = smsem.simulate(model, n=300, seed=4, likert=0)
    assert not np.allclose(a.to_numpy(), normal.to_numpy())
