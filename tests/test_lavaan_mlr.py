"""MLR conformance with lavaan 0.6 (``estimator = "MLR"``): ML estimates, Huber-White SEs
from the observed information, the Yuan-Bentler (Mplus) scaled chi2 and the scaled
CFI, TLI and RMSEA — on complete data (no mean structure, as lavaan) and with
``missing = "ml"`` (lavaan's robust FIML), with and without observed covariates.

References: ``scripts/lavaan_reference.R`` (cases ``*_mlr``; options in the meta.json).
Tolerances: ``lavaan_ref.TOL`` (about 100x the measured differences), as in test_lavaan_ml.py.
"""

from __future__ import annotations

import numpy as np
import pytest

import smsem
from lavaan_ref import TOL, fit_measures, match, meta, params, rel_err, smsem_fit, std
from smsem.exceptions import OptionError

# covariates_fiml_mlr (robust FIML with fixed covariates) is ~13 s of central differences for
# the saturated model's information: it runs with `pytest -m slow`; integrative_fiml_mlr
# keeps robust FIML in the default suite.
CASES = ["integrative_mlr", "integrative_fiml_mlr", "covariates_mlr",
         pytest.param("covariates_fiml_mlr", marks=pytest.mark.slow)]


@pytest.mark.parametrize("case", CASES)
def test_meta_records_lavaans_mlr_options(case):
    m = meta(case)
    assert m["estimator"] == "MLR" and m["information"] == "observed"
    assert m["se"] == "robust.huber.white" and m["test"] == "yuan.bentler.mplus"


@pytest.mark.parametrize("case", CASES)
def test_estimates_and_robust_ses(case):
    res = smsem_fit(case)
    assert res.estimator == "MLR"
    j = match(res.params, params(case))
    assert np.abs(j.est - j.est_lav).max() < TOL["est"]
    free = j.se_lav > 0
    assert rel_err(j.se[free], j.se_lav[free]).max() < TOL["se_rel"]
    # Same estimates as ML, other SEs.
    ml = smsem.fit(res.model, res.data, estimator="ML", missing=res.missing, **res.table_options)
    assert np.allclose(ml.params.est, res.params.est, atol=1e-9)
    assert not np.allclose(ml.params.se.dropna(), res.params.se.dropna(), rtol=1e-3)


@pytest.mark.parametrize("case", CASES)
def test_scaled_test_and_indices(case):
    fi, ref = smsem_fit(case).fit_indices, fit_measures(case)
    assert fi["df"] == ref["df"] and fi["baseline_df"] == ref["baseline.df"] and fi["npar"] == ref["npar"]
    for ours, lav, tol in (("chi2", "chisq", "chi2_rel"), ("chi2_scaled", "chisq.scaled", "scaled_rel"),
                           ("scaling_factor", "chisq.scaling.factor", "scaled_rel"),
                           ("baseline_chi2", "baseline.chisq", "baseline_chi2_rel"),
                           ("baseline_chi2_scaled", "baseline.chisq.scaled", "scaled_rel"),
                           ("baseline_scaling_factor", "baseline.chisq.scaling.factor", "scaled_rel")):
        assert rel_err(fi[ours], ref[lav]) < TOL[tol], (ours, fi[ours], ref[lav])
    for ours, lav, tol in (("pvalue_scaled", "pvalue.scaled", "pvalue_scaled"),
                           ("cfi_scaled", "cfi.scaled", "cfi_tli_scaled"),
                           ("tli_scaled", "tli.scaled", "cfi_tli_scaled"),
                           ("rmsea_scaled", "rmsea.scaled", "rmsea_scaled"),
                           ("rmsea_ci_lower_scaled", "rmsea.ci.lower.scaled", "rmsea_scaled"),
                           ("rmsea_ci_upper_scaled", "rmsea.ci.upper.scaled", "rmsea_scaled"),
                           ("cfi", "cfi", "cfi"), ("rmsea", "rmsea", "rmsea")):
        assert abs(fi[ours] - ref[lav]) < TOL[tol], (ours, fi[ours], ref[lav])


@pytest.mark.parametrize("case", ["integrative_mlr", "covariates_mlr"])
def test_robust_rmsea_of_complete_data(case):
    """lavaan's rmsea.robust with complete data (FIML's version, Savalei's, is not computed);
    measured within 1e-8 (docs/estimation.md), tolerance TOL["rmsea_robust"]."""
    fi, ref = smsem_fit(case).fit_indices, fit_measures(case)
    for ours, lav in (("rmsea_robust", "rmsea.robust"), ("rmsea_ci_lower_robust", "rmsea.ci.lower.robust"),
                      ("rmsea_ci_upper_robust", "rmsea.ci.upper.robust")):
        assert abs(fi[ours] - ref[lav]) < TOL["rmsea_robust"], (ours, fi[ours], ref[lav])
    assert "rmsea_robust" not in smsem_fit("integrative_fiml_mlr").fit_indices


@pytest.mark.parametrize("case", CASES)
def test_standardized_ses_follow_the_robust_vcov(case):
    res, ref = smsem_fit(case), std(case)
    ref = ref[ref.type == "std.all"].drop(columns="type")
    j = match(res.standardized[["lhs", "op", "rhs", "std_all", "std_all_se"]], ref)
    assert np.abs(j.std_all - j["est.std"]).max() < TOL["std_est"]
    pos = j.se > 1e-6
    assert rel_err(j.std_all_se[pos], j.se[pos]).max() < TOL["std_se_rel"]


def test_mlm_with_fiml_is_refused_in_one_line(model, survey):
    with pytest.raises(OptionError, match="supports estimators 'ML' and 'MLR'"):
        smsem.fit(model, survey, estimator="MLM", missing="fiml")
