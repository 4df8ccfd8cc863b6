"""FIML conformance with lavaan ``sem(..., missing = "ml")`` on the committed survey with
~10% MCAR cells (data/synthetic/integrative_n300_seed1_missing.csv, 30 complete rows of 300).

lavaan's defaults for missing = "ml" (recorded in integrative_fiml.meta.json): item
intercepts free, latent means 0, SEs from the observed information (Hessian), H1 by EM.
Tolerances: ``lavaan_ref.TOL`` (about 100x the measured differences; FIML's
unrestricted logL and SRMR have their own, lavaan's EM stopping at ~1e-6).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import smsem
from lavaan_ref import ROOT, TOL, fit_measures, match, meta, params, rel_err, smsem_fit, std

CASE = "integrative_fiml"
# The same survey with two observed covariates (SIZE with 5% missing, TENURE), fitted by
# lavaan with fixed.x = FALSE: covariates are random, so FIML also uses the cases where
# a covariate is missing; item intercepts are conditional on the covariates' means.
# covariates_fiml (~5 s) runs with `pytest -m slow`; the integrative FIML case stays in the
# default suite, and tests/test_engine_partable.py fits FIML with covariates on the table path.
CASES = [CASE, pytest.param("covariates_fiml", marks=pytest.mark.slow)]


@pytest.fixture(scope="module", params=CASES)
def case(request):
    return request.param


@pytest.fixture(scope="module")
def res(case):
    return smsem_fit(case)


def test_meta(res, case):
    m = meta(case)
    assert m["missing"] == "ml" and m["information"] == "observed" and m["nobs_used"] == res.n == 300


def test_estimates_and_ses(res, case):
    j = match(res.params, params(case))
    assert np.abs(j.est - j.est_lav).max() < TOL["est"]
    free = j.se_lav > 0
    # One free intercept (mean) per observed variable; latent means 0.
    assert ((j.op == "~1") & free).sum() == len(res.param_map.base.observed)
    assert rel_err(j.se[free], j.se_lav[free]).max() < TOL["se_rel"]


@pytest.mark.parametrize("kind", ["std.all", "std.lv"])
def test_standardized(res, case, kind):
    ref = std(case)
    ref = ref[ref.type == kind].drop(columns="type")
    col = kind.replace(".", "_")
    ours = res.standardized.rename(columns={col: "est.std", f"{col}_se": "se_std"})
    j = match(ours[["lhs", "op", "rhs", "est.std", "se_std"]], ref)
    assert np.abs(j["est.std"] - j["est.std_lav"]).max() < TOL["std_est"]
    pos = j.se > 1e-6
    assert rel_err(j.se_std[pos], j.se[pos]).max() < TOL["std_se_rel"]


def test_fit_indices(res, case):
    fi, ref = res.fit_indices, fit_measures(case)
    assert fi["df"] == ref["df"] and fi["npar"] == ref["npar"]
    assert rel_err(fi["chi2"], ref["chisq"]) < TOL["chi2_rel"]
    assert rel_err(fi["baseline_chi2"], ref["baseline.chisq"]) < TOL["baseline_chi2_rel"]
    for ours, lav, tol in (("cfi", "cfi", "cfi"), ("tli", "tli", "tli"), ("rmsea", "rmsea", "rmsea"),
                           ("rmsea_ci_lower", "rmsea.ci.lower", "rmsea_ci"),
                           ("rmsea_ci_upper", "rmsea.ci.upper", "rmsea_ci"),
                           ("srmr", "srmr", "srmr")):
        assert abs(fi[ours] - ref[lav]) < TOL[tol], ours
    for ours, lav in (("logl", "logl"), ("aic", "aic"), ("bic", "bic")):
        assert abs(fi[ours] - ref[lav]) < TOL["logl"], ours
    assert abs(fi["unrestricted_logl"] - ref["unrestricted.logl"]) < TOL["unrestricted_logl"]


def test_fiml_on_complete_data_equals_ml(model):
    """With no missing cell FIML is ML with saturated means: same estimates and chi2."""
    df = pd.read_csv(ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv")
    a = smsem.fit(model, df)
    b = smsem.fit(model, df, missing="fiml")
    j = a.params.merge(b.params, on=["lhs", "op", "rhs"], suffixes=("", "_f"))
    assert len(j) == len(a.params)
    assert np.abs(j.est - j.est_f).max() < 1e-6
    assert abs(a.fit_indices["chi2"] - b.fit_indices["chi2"]) < 1e-5


def test_options_are_checked(model, survey):
    with pytest.raises(smsem.OptionError, match="estimator"):
        smsem.fit(model, survey, estimator="WLS")
    with pytest.raises(smsem.OptionError, match="missing"):
        smsem.fit(model, survey, missing="pairwise")
    with pytest.raises(smsem.OptionError, match="fiml"):
        smsem.fit(model, survey, estimator="MLM", missing="fiml")


def test_bollen_stine_bootstrap_of_a_fiml_fit_is_refused_clearly(res):
    # The nonparametric FIML bootstrap is tested in tests/test_fiml_boot.py.
    with pytest.raises(smsem.OptionError, match="missing='fiml'"):
        smsem.bootstrap(res, n_boot=2, seed=1, kind="bollen-stine")
