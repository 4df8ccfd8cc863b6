"""ML (and MLM) conformance with lavaan 0.6: estimates, SEs, standardized solution, fit.

Reference values: tests/reference/lavaan/*.csv, written by scripts/lavaan_reference.R
(``sem(model, data, estimator = "ML"|"MLM", likelihood = "normal")``; versions and
options in the *.meta.json files). No R is needed to run these tests.

Tolerances (the issue's): estimates and standardized estimates 1e-3 absolute, SEs 1%
relative, chi2 0.1% relative, CFI/TLI/RMSEA/SRMR and the RMSEA CI bounds 1e-3 absolute.
They are far above the numerical error of both programs (lavaan converges to ~1e-6 in
the estimates; smsem finishes with Fisher scoring to a 1e-10 step) but below any real
convention difference: N - 1 instead of N alone moves chi2 by 0.3-0.6% on these data
and a Wishart likelihood would shift chi2 and the SEs by the same factor N/(N - 1), so a wrong
convention fails them.
"""

from __future__ import annotations

import numpy as np
import pytest

from lavaan_ref import fit_measures, match, meta, params, rel_err, smsem_fit, std

CASES = ["poldem_ml", "hs_ml", "integrative_ml", "covariates_ml",
         "poldem_mlm", "hs_mlm", "integrative_mlm", "covariates_mlm"]
ML_CASES = [c for c in CASES if c.endswith("_ml")]

EST_TOL = 1e-3    # absolute, estimates and standardized estimates
SE_RTOL = 0.01    # relative, standard errors
CHI2_RTOL = 1e-3  # relative, chi2
IDX_TOL = 1e-3    # absolute, CFI, TLI, RMSEA (and CI), SRMR


@pytest.mark.parametrize("case", CASES)
def test_meta_records_conventions(case):
    m = meta(case)
    assert m["likelihood"] == "normal" and m["sample_cov_divisor"] == "N"
    assert m["information"] == "expected"
    assert m["lavaan_version"] and m["r_version"]


@pytest.mark.parametrize("case", CASES)
def test_estimates_and_ses(case):
    res = smsem_fit(case)
    j = match(res.params, params(case))
    assert np.abs(j.est - j.est_lav).max() < EST_TOL
    free = j.se_lav > 0
    assert free.sum() == res.param_map.n_free
    assert rel_err(j.se[free], j.se_lav[free]).max() < SE_RTOL
    # Fixed parameters: lavaan prints SE 0, smsem NaN.
    assert j.se[~free].isna().all()
    # Wald CI and p-values follow from est and se.
    assert np.abs(j.ci_lower[free] - j["ci.lower"][free]).max() < 2 * EST_TOL
    assert np.abs(j.pvalue[free] - j.pvalue_lav[free]).max() < 1e-3


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", ["std.all", "std.lv"])
def test_standardized_solution(case, kind):
    res = smsem_fit(case)
    ref = std(case)
    ref = ref[ref.type == kind].drop(columns="type")
    col = kind.replace(".", "_")
    ours = res.standardized.rename(columns={col: "est.std", f"{col}_se": "se_std",
                                            f"{col}_ci_lower": "lo_std", f"{col}_ci_upper": "hi_std"})
    j = match(ours[["lhs", "op", "rhs", "est.std", "se_std", "lo_std", "hi_std"]], ref)
    assert np.abs(j["est.std"] - j["est.std_lav"]).max() < EST_TOL
    pos = j.se > 1e-6
    assert rel_err(j.se_std[pos], j.se[pos]).max() < SE_RTOL
    # Where lavaan's SE is 0 (e.g. the variance of an exogenous latent in std.all) so is ours.
    assert (j.se_std[~pos].fillna(0) < 1e-6).all()
    assert np.abs(j.lo_std - j["ci.lower"]).max() < 2 * EST_TOL
    assert np.abs(j.hi_std - j["ci.upper"]).max() < 2 * EST_TOL


def test_std_all_column_of_params_is_lavaans():
    res = smsem_fit("poldem_ml")
    assert np.allclose(res.params.std_all, res.standardized.std_all)


FIT_MAP = {  # smsem name -> lavaan fitMeasures() name
    "cfi": "cfi", "tli": "tli", "rmsea": "rmsea", "rmsea_ci_lower": "rmsea.ci.lower",
    "rmsea_ci_upper": "rmsea.ci.upper", "srmr": "srmr", "rmsea_pvalue": "rmsea.pvalue",
}


@pytest.mark.parametrize("case", CASES)
def test_fit_indices(case):
    fi = smsem_fit(case).fit_indices
    ref = fit_measures(case)
    assert fi["df"] == ref["df"] and fi["baseline_df"] == ref["baseline.df"]
    assert fi["npar"] == ref["npar"]
    for ours, lav in (("chi2", "chisq"), ("baseline_chi2", "baseline.chisq")):
        assert rel_err(fi[ours], ref[lav]) < CHI2_RTOL, ours
    assert abs(fi["pvalue"] - ref["pvalue"]) < 1e-3
    for ours, lav in FIT_MAP.items():
        assert abs(fi[ours] - ref[lav]) < IDX_TOL, (ours, fi[ours], ref[lav])
    # logLik, AIC and BIC: the same definitions, so agreement to 1e-3 absolute on values in
    # the thousands (they differ by N/2 log(2 pi) per variable if a constant were dropped).
    for ours, lav in (("logl", "logl"), ("unrestricted_logl", "unrestricted.logl"),
                      ("aic", "aic"), ("bic", "bic"), ("bic2", "bic2")):
        assert abs(fi[ours] - ref[lav]) < 1e-3, ours


@pytest.mark.parametrize("case", [c for c in CASES if c.endswith("_mlm")])
def test_mlm_scaled_indices(case):
    fi = smsem_fit(case).fit_indices
    ref = fit_measures(case)
    assert rel_err(fi["chi2_scaled"], ref["chisq.scaled"]) < CHI2_RTOL
    assert rel_err(fi["scaling_factor"], ref["chisq.scaling.factor"]) < CHI2_RTOL
    assert rel_err(fi["baseline_chi2_scaled"], ref["baseline.chisq.scaled"]) < CHI2_RTOL
    assert abs(fi["pvalue_scaled"] - ref["pvalue.scaled"]) < 1e-3
    for ours, lav in (("cfi_scaled", "cfi.scaled"), ("tli_scaled", "tli.scaled"),
                      ("rmsea_scaled", "rmsea.scaled"), ("rmsea_ci_lower_scaled", "rmsea.ci.lower.scaled"),
                      ("rmsea_ci_upper_scaled", "rmsea.ci.upper.scaled"),
                      ("rmsea_pvalue_scaled", "rmsea.pvalue.scaled"), ("rmsea_robust", "rmsea.robust"),
                      ("rmsea_ci_lower_robust", "rmsea.ci.lower.robust"),
                      ("rmsea_ci_upper_robust", "rmsea.ci.upper.robust")):
        assert abs(fi[ours] - ref[lav]) < IDX_TOL, (ours, fi[ours], ref[lav])


@pytest.mark.parametrize("case", ["poldem", "hs", "integrative", "covariates"])
def test_mlm_keeps_ml_estimates_and_changes_ses(case):
    a, b = smsem_fit(f"{case}_ml"), smsem_fit(f"{case}_mlm")
    assert np.allclose(a.params.est, b.params.est, atol=1e-9)
    free = a.params.se.notna()
    assert not np.allclose(a.params.se[free], b.params.se[free], rtol=1e-3)


@pytest.mark.parametrize("case", ["covariates_ml", "covariates_mlm"])
def test_observed_covariates_match_lavaans_default_fixed_x(case):
    """smsem frees the covariates' (co)variances (lavaan's fixed.x = FALSE, the reference
    above); lavaan's default fixed.x = TRUE fixes them at the sample values. Estimates,
    chi2, df, the baseline model and the unscaled indices are the same under both, and so
    are the ML SEs; npar, logl, AIC and BIC count the covariates' moments only under
    fixed.x = FALSE. MLM's robust SEs and scaled statistics are fixed.x = FALSE's: lavaan's
    default conditions its Gamma on the covariates (SEs up to 1.1% apart on these data)."""
    res = smsem_fit(case)
    ref, fixed = fit_measures(case), fit_measures(f"{case}_fixedx")
    fi = res.fit_indices
    assert fi["df"] == fixed["df"] == 237 and fi["baseline_df"] == fixed["baseline.df"] == 275
    for ours, lav in (("chi2", "chisq"), ("baseline_chi2", "baseline.chisq")):
        assert rel_err(fi[ours], fixed[lav]) < CHI2_RTOL, ours
    for ours in ("cfi", "tli", "rmsea"):
        assert abs(fi[ours] - fixed[ours]) < IDX_TOL, ours
    assert fi["npar"] == ref["npar"] == fixed["npar"] + 3  # SIZE, TENURE variances and covariance
    # Every parameter lavaan estimates under fixed.x = TRUE has smsem's value and SE.
    j = match(res.params, params(case))
    k = match(res.params, params(f"{case}_fixedx"))
    free = k.se_lav > 0
    assert np.abs(k.est - k.est_lav).max() < EST_TOL
    if case == "covariates_ml":
        assert rel_err(k.se[free], k.se_lav[free]).max() < SE_RTOL
    # The covariates' (co)variances: sample values (fixed by lavaan, estimated by smsem).
    cov = (j.op == "~~") & j.lhs.isin(["SIZE", "TENURE"]) & j.rhs.isin(["SIZE", "TENURE"])
    assert cov.sum() == 3 and np.abs(j.est[cov] - k.est_lav[cov]).max() < EST_TOL
