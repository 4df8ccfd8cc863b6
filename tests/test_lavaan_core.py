"""Properties of the numerical core behind the lavaan conformance (no reference files):
exact derivatives, the weight matrix, the delta-method step, Gamma, the RMSEA interval,
CFI's range, and the FIML likelihood and EM."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from lavaan_ref import smsem_fit
from smsem.estimate import fiml, fitindices, ml, robust
from smsem.estimate.standardized import delta_jacobian, standardized_table


@pytest.fixture(scope="module")
def poldem():
    return smsem_fit("poldem_ml")  # has residual covariances: symmetric off-diagonal cells


def test_sigma_jacobian_matches_central_differences(poldem):
    pm, th = poldem.param_map, poldem.start
    jac = ml.sigma_jacobian(pm, th)
    num = delta_jacobian(lambda t: pm.matrices_at(t).implied_cov.ravel(), th)
    # Central differences are accurate to ~1e-9 here; the analytic form is exact.
    assert np.abs(jac.reshape(len(th), -1).T - num).max() < 1e-7


def test_weight_matrix_is_half_duplication_kron(poldem):
    sigma = poldem.matrices.implied_cov
    p = sigma.shape[0]
    r, c = ml.vech_indices(p)
    dup = np.zeros((p * p, len(r)))  # duplication matrix: vec(A) = D vech(A)
    for k, (i, j) in enumerate(zip(r, c)):
        dup[i * p + j, k] = dup[j * p + i, k] = 1.0
    si = np.linalg.inv(sigma)
    assert np.allclose(ml.weight_matrix(sigma), 0.5 * dup.T @ np.kron(si, si) @ dup, atol=1e-12)
    jac = ml.sigma_jacobian(poldem.param_map, poldem.start)
    delta = ml.vech(jac).T
    assert np.allclose(delta.T @ ml.weight_matrix(sigma) @ delta, ml.expected_information(jac, sigma))


def test_ml_vcov_is_inverse_expected_information_over_n(poldem):
    jac = ml.sigma_jacobian(poldem.param_map, poldem.start)
    info = ml.expected_information(jac, poldem.matrices.implied_cov)
    assert np.allclose(poldem.vcov, np.linalg.inv(info) / poldem.n)


def test_estimate_is_a_stationary_point(poldem):
    x = poldem.data[list(poldem.param_map.base.observed)].to_numpy()
    _, s = ml.sample_moments(x)
    jac = ml.sigma_jacobian(poldem.param_map, poldem.start)
    g = ml.ml_gradient(jac, s, poldem.matrices.implied_cov)
    assert np.abs(g).max() < 1e-8


def test_delta_method_ses_do_not_depend_on_the_step(poldem):
    rows = list(zip(poldem.params.lhs, poldem.params.op, poldem.params.rhs))
    pm, th, v = poldem.param_map, poldem.start, poldem.vcov
    a = standardized_table(pm, th, v, rows)
    import smsem.estimate.standardized as stmod

    orig = stmod.delta_jacobian
    try:
        stmod.delta_jacobian = lambda f, x: orig(f, x, rel_step=1e-4)
        b = standardized_table(pm, th, v, rows)
    finally:
        stmod.delta_jacobian = orig
    pos = a.std_all_se > 1e-6
    assert np.abs(a.std_all_se[pos] / b.std_all_se[pos] - 1).max() < 1e-6


def test_gamma_matches_its_definition():
    rng = np.random.default_rng(3)
    x = rng.standard_t(5, size=(200, 4))
    d = x - x.mean(axis=0)
    r, c = ml.vech_indices(4)
    z = np.stack([np.outer(row, row)[r, c] for row in d])
    assert np.allclose(robust.gamma_adf(x), np.cov(z.T, bias=True))


def test_sb_scaling_is_one_when_gamma_is_normal_theory(poldem):
    """Under normal Gamma = 2 D+ (S kron S) D+' = W^-1 the scaling factor is exactly 1."""
    sigma = poldem.matrices.implied_cov
    w = ml.weight_matrix(sigma)
    delta = ml.vech(ml.sigma_jacobian(poldem.param_map, poldem.start)).T
    assert abs(robust.sb_scaling(delta, w, np.linalg.inv(w), poldem.fit_indices["df"]) - 1) < 1e-10


@settings(max_examples=40, deadline=None)
@given(st.floats(0.5, 400), st.integers(1, 300), st.integers(20, 2000))
def test_rmsea_ci_bounds_solve_the_noncentral_equations(chi2, df, n):
    lo, hi = fitindices.rmsea_ci(chi2, df, n)
    assert 0 <= lo <= fitindices.rmsea(chi2, df, n) + 1e-12 <= hi + 1e-12 or hi == 0
    if lo > 0:
        assert abs(stats.ncx2.cdf(chi2, df, lo ** 2 * n * df) - 0.95) < 1e-8
    if hi > 0:
        assert abs(stats.ncx2.cdf(chi2, df, hi ** 2 * n * df) - 0.05) < 1e-8


@settings(max_examples=60, deadline=None)
@given(st.floats(0, 500), st.integers(1, 100), st.floats(0, 3000), st.integers(1, 300))
def test_cfi_is_within_unit_interval(chi2, df, chi2_b, df_b):
    v = fitindices.cfi(chi2, df, chi2_b, df_b)
    assert 0.0 <= v <= 1.0
    if chi2 <= df:
        assert v == 1.0  # semopy's untruncated CFI would exceed 1 here


def test_cutoffs():
    assert fitindices.meets_cutoff("cfi", 0.95) is True
    assert fitindices.meets_cutoff("rmsea", 0.061) is False
    assert fitindices.meets_cutoff("srmr", 0.08) is True
    assert fitindices.meets_cutoff("chi2", 3.0) is None


def _toy_missing(seed=7, n=150, p=5, rate=0.15):
    rng = np.random.default_rng(seed)
    a = rng.normal(size=(p, p))
    cov = a @ a.T / p + np.eye(p)
    x = rng.multivariate_normal(np.arange(p, dtype=float), cov, size=n)
    x[rng.random(x.shape) < rate] = np.nan
    return x


def test_fiml_gradient_matches_central_differences():
    x = _toy_missing()
    pat = fiml.Patterns.from_data(x)
    rng = np.random.default_rng(1)
    mu = rng.normal(size=5)
    a = rng.normal(size=(5, 5))
    sigma = a @ a.T + np.eye(5)
    _, g_mu, g_sig = fiml.fiml_loglik(pat, mu, sigma, grad=True)
    num_mu = delta_jacobian(lambda m: np.array([fiml.fiml_loglik(pat, m, sigma)]), mu)[0]
    assert np.allclose(g_mu, num_mu, rtol=1e-6, atol=1e-6)
    e = np.zeros((5, 5))
    e[1, 3] = e[3, 1] = 1e-6
    num = (fiml.fiml_loglik(pat, mu, sigma + e) - fiml.fiml_loglik(pat, mu, sigma - e)) / 2e-6
    assert abs(num - (g_sig[1, 3] + g_sig[3, 1])) < 1e-5 * max(1, abs(num))


def test_em_on_complete_data_gives_sample_moments():
    x = _toy_missing(rate=0.0)
    pat = fiml.Patterns.from_data(x)
    mu, sigma, ll, ok = fiml.em_saturated(x, pat)
    m, s = ml.sample_moments(x)
    assert ok and np.allclose(mu, m) and np.allclose(sigma, s)
    assert abs(ll - ml.loglik_normal(s, s, len(x))) < 1e-8


def test_em_is_the_saturated_maximum():
    """No perturbation of the EM solution increases the casewise likelihood."""
    x = _toy_missing()
    pat = fiml.Patterns.from_data(x)
    mu, sigma, ll, ok = fiml.em_saturated(x, pat)
    _, g_mu, g_sig = fiml.fiml_loglik(pat, mu, sigma, grad=True)
    n = len(x)  # gradient of the mean log-likelihood per case
    assert ok and np.abs(g_mu).max() / n < 1e-8 and np.abs(g_sig).max() / n < 1e-8
