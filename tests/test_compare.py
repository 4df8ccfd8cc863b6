"""Model comparison against lavaan 0.6.14's lavTestLRT() and a hand-written nonnest2::vuongtest()
(tests/reference/lavaan_after/, made by scripts/lavaan_after_reference.R), plus ``smsem compare``."""

import functools
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import smsem
from conftest import ROOT, run_cli
from smsem.estimate import compare as cp

REF = ROOT / "tests" / "reference" / "lavaan_after"
DATA = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"
FULL = ROOT / "models" / "integrative.lav"
RESTRICTED = ROOT / "models" / "integrative_no_direct.lav"
# measured max |smsem - lavaan|: chi2 difference 2e-9 (ML), scaled differences 1.8e-4
# (MLM 2001; the scaling factors carry lavaan's ~1e-6 optimizer gap), AIC/BIC 1e-8;
# Vuong omega2 3e-7, z 5e-6, p-values 1e-7.
TOL_STAT = 1e-3
TOL_P = 1e-5


@functools.lru_cache(maxsize=None)
def _fit(path, estimator="ML"):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smsem.fit(smsem.load_model(str(path)), pd.read_csv(DATA), estimator=estimator)


@pytest.fixture(scope="module")
def ref():
    return pd.read_csv(REF / "compare.csv")


@pytest.mark.parametrize("estimator,method", [("ML", "default"), ("MLM", "satorra.bentler.2001"),
                                              ("MLM", "satorra.bentler.2010"), ("MLR", "satorra.bentler.2001")])
def test_lrt_equals_lavtestlrt(ref, estimator, method):
    a, b = _fit(FULL, estimator), _fit(RESTRICTED, estimator)
    r = ref[(ref.estimator == estimator) & (ref.method == method)].reset_index(drop=True)
    m = "default" if method == "satorra.bentler.2001" and estimator == "MLR" else method
    if estimator == "ML":
        m = "default"
    t = cp.lrt(b, a, method=m)  # given in either order, sorted by df as lavaan
    assert list(t.df) == list(r.df)
    np.testing.assert_allclose(t.chi2, r.chisq, atol=1e-6)
    np.testing.assert_allclose(t.aic, r.aic, atol=1e-6)
    np.testing.assert_allclose(t.bic, r.bic, atol=1e-6)
    np.testing.assert_allclose(t.bic2, r.bic2, atol=1e-6)
    assert t.df_diff[1] == r.df_diff[1] == 4
    assert t.chi2_diff[1] == pytest.approx(r.chisq_diff[1], abs=TOL_STAT)
    assert t.pvalue[1] == pytest.approx(r.p[1], abs=TOL_P)
    assert bool(t.nested[1])


def test_lrt_refuses_bad_options():
    a, b = _fit(FULL), _fit(RESTRICTED)
    with pytest.raises(ValueError, match="method must be one of"):
        cp.lrt(a, b, method="wald")
    with pytest.raises(ValueError, match="ML fits"):
        cp.lrt(a, b, method="satorra.bentler.2001")
    with pytest.raises(ValueError, match="at least two"):
        cp.lrt(a)


def test_information_criteria(ref):
    a = _fit(FULL)
    ic = cp.information_criteria(a).iloc[0]
    r = ref[(ref.estimator == "ML") & (ref.model == "a")].iloc[0]
    assert ic.aic == pytest.approx(r.aic, abs=1e-6) and ic.bic == pytest.approx(r.bic, abs=1e-6)
    assert ic.bic2 == pytest.approx(r.bic2, abs=1e-6) and ic.logl == pytest.approx(r.logl, abs=1e-6)


def test_casewise_loglik_equals_lavaan():
    a = _fit(FULL)
    ll = cp.casewise_loglik(a)
    ref = pd.read_csv(REF / "vuong_casewise.csv")
    np.testing.assert_allclose(ll, ref.a, atol=1e-4)  # measured 1.9e-5 (lavaan's optimizer gap)
    assert ll.sum() == pytest.approx(a.fit_indices["logl"], abs=1e-8)
    assert np.abs(cp.casewise_scores(a).sum(axis=0)).max() < 1e-6  # scores sum to 0 at the ML estimate


def test_imhof_against_chi_square():
    for q, k in [(3.0, 1), (7.3, 4), (15.0, 10)]:
        assert cp.imhof_upper(q, np.ones(k)) == pytest.approx(stats.chi2.sf(q, k), abs=1e-8)
    # 2 chi2_1 = chi2 scaled by 2; a negative weight (nested Vuong tests)
    assert cp.imhof_upper(5.0, [2.0]) == pytest.approx(stats.chi2.sf(2.5, 1), abs=1e-8)
    assert cp.imhof_upper(-2.0, [-1.0]) == pytest.approx(stats.chi2.cdf(2.0, 1), abs=1e-8)


@pytest.mark.parametrize("row,nested,swap", [(0, False, False), (1, True, False), (2, False, True)])
def test_vuong_equals_nonnest2(row, nested, swap):
    a, b = _fit(FULL), _fit(RESTRICTED)
    r = pd.read_csv(REF / "vuong.csv").iloc[row]
    v = cp.vuong(b, a, nested) if swap else cp.vuong(a, b, nested)
    assert v["omega2"] == pytest.approx(r.omega2, abs=1e-5)
    assert v["p_omega"] == pytest.approx(r.p_omega, abs=TOL_P)
    assert v["lr"] == pytest.approx(r.lr, abs=1e-3)
    assert v["z"] == pytest.approx(r.z, abs=1e-4)
    assert v["p_a"] == pytest.approx(r.p_A, abs=TOL_P) and v["p_b"] == pytest.approx(r.p_B, abs=TOL_P)
    if nested:
        assert v["lr2"] == pytest.approx(r.lr2, abs=1e-3)
        assert v["p_nested"] == pytest.approx(r.p_nested, abs=TOL_P)


def test_vuong_nonnested_pair_and_compare_verdict():
    a = _fit(REF / "integrative_direct_ic.lav")
    b = _fit(REF / "integrative_direct_ea.lav")
    r = pd.read_csv(REF / "vuong_nonnested.csv").iloc[0]
    v = cp.vuong(a, b)
    assert v["omega2"] == pytest.approx(r.omega2, abs=1e-5)
    assert v["p_omega"] == pytest.approx(r.p_omega, abs=TOL_P)
    assert v["z"] == pytest.approx(r.z, abs=1e-4)
    c = cp.compare(a, b, names=["direct_ic", "direct_ea"])
    assert ("direct_ic", "direct_ea") in c.vuong and not bool(c.table.nested[1])
    assert np.isnan(c.table.chi2_diff[1])  # no chi-square difference between non-nested models
    assert "Vuong" in c.verdict and "Verdict:" in str(c)


def test_compare_nested_verdict():
    c = cp.compare(_fit(FULL), _fit(RESTRICTED))
    assert "integrative_no_direct fits significantly worse than integrative" in c.verdict
    text = str(c)
    assert "integrative_no_direct" in text and "21.664" in text


def test_cli_compare():
    r = run_cli("compare", str(DATA), str(FULL), str(RESTRICTED))
    assert r.returncode == 0, r.stderr
    assert "Model comparison (ML" in r.stdout and "21.664" in r.stdout
    assert r.stdout.strip().splitlines()[-1].startswith("Verdict: ")


def test_cli_compare_mlm():
    r = run_cli("compare", str(DATA), str(FULL), str(RESTRICTED), "--estimator", "MLM")
    assert r.returncode == 0, r.stderr
    assert "Satorra-Bentler 2001" in r.stdout and "23.585" in r.stdout


def test_cli_compare_bad_model_path(tmp_path):
    r = run_cli("compare", str(DATA), str(FULL), str(tmp_path / "nope.lav"))
    assert r.returncode == 2
    assert len(r.stderr.strip().splitlines()) == 1 and r.stderr.startswith("smsem: error:")


def test_cli_compare_bad_method_is_one_line():
    r = run_cli("compare", str(DATA), str(FULL), str(RESTRICTED), "--method", "satorra.bentler.2010")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "needs estimator MLM" in r.stderr
