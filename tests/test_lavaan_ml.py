"""ML (and MLM) conformance with lavaan 0.6: estimates, SEs, standardized solution, fit.

Reference values: tests/reference/lavaan/*.csv, written by scripts/lavaan_reference.R
(``sem(model, data, estimator = "ML"|"MLM", likelihood = "normal")``; versions and
options in the *.meta.json files). No R is needed to run these tests.

Tolerances: ``lavaan_ref.TOL``, each about 100x the largest difference measured on the
reference cases (estimates ~1e-5 apart, SEs ~1e-5 relative, indices ~1e-9). A convention
error fails a named test here (each checked by planting it; scripts/mutation_check.py
replays them): N - 1 in the ML SEs (0.17% on n = 300, 0.67% on poldem's n = 75) fails
``test_estimates_and_ses`` (tolerance 0.12%); N - 1 in the RMSEA CI (bounds move up to
6e-4) fails ``test_fit_indices`` (tolerance 7e-7); SRMR standardized by the implied
instead of the sample SDs (~4e-5) fails ``test_fit_indices`` (tolerance 5e-6 on complete
data).
"""

from __future__ import annotations

import numpy as np
import pytest

from lavaan_ref import TOL, fit_measures, match, meta, params, rel_err, smsem_fit, std

CASES = ["poldem_ml", "hs_ml", "integrative_ml", "covariates_ml",
         "poldem_mlm", "hs_mlm", "integrative_mlm", "covariates_mlm"]
ML_CASES = [c for c in CASES if c.endswith("_ml")]



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
    assert np.abs(j.est - j.est_lav).max() < TOL["est"]
    free = j.se_lav > 0
    assert free.sum() == res.param_map.n_free
    assert rel_err(j.se[free], j.se_lav[free]).max() < TOL["se_rel"]
    # Fixed parameters: lavaan prints SE 0, smsem NaN.
    assert j.se[~free].isna().all()
    # Wald CI and p-values follow from est and se.
    assert np.abs(j.ci_lower[free] - j["ci.lower"][free]).max() < TOL["ci"]
    assert np.abs(j.ci_upper[free] - j["ci.upper"][free]).max() < TOL["ci"]
    assert np.abs(j.pvalue[free] - j.pvalue_lav[free]).max() < TOL["param_pvalue"]


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
    assert np.abs(j["est.std"] - j["est.std_lav"]).max() < TOL["std_est"]
    pos = j.se > 1e-6
    assert rel_err(j.se_std[pos], j.se[pos]).max() < TOL["std_se_rel"]
    # Where lavaan's SE is 0 (e.g. the variance of an exogenous latent in std.all) so is ours.
    assert (j.se_std[~pos].fillna(0) < 1e-6).all()
    assert np.abs(j.lo_std - j["ci.lower"]).max() < TOL["std_ci"]
    assert np.abs(j.hi_std - j["ci.upper"]).max() < TOL["std_ci"]


@pytest.mark.parametrize("case", ML_CASES)
def test_std_all_column_of_params_matches_lavaans_std_file(case):
    """The ``std_all`` column of ``params`` (not only ``standardized``) against lavaan's
    standardizedSolution(type = "std.all")."""
    res = smsem_fit(case)
    ref = std(case)
    ref = ref[ref.type == "std.all"].drop(columns="type")
    j = match(res.params[["lhs", "op", "rhs", "std_all"]], ref)
    assert np.abs(j.std_all - j["est.std"]).max() < TOL["std_est"]


FIT_MAP = {  # smsem name -> lavaan fitMeasures() name
    "cfi": "cfi", "tli": "tli", "rmsea": "rmsea", "rmsea_ci_lower": "rmsea.ci.lower",
    "rmsea_ci_upper": "rmsea.ci.upper", "srmr": "srmr", "rmsea_pvalue": "rmsea.pvalue",
}
FIT_TOL = {"cfi": "cfi", "tli": "tli", "rmsea": "rmsea", "rmsea_ci_lower": "rmsea_ci", "rmsea_ci_upper": "rmsea_ci",
           "srmr": "srmr_complete", "rmsea_pvalue": "rmsea_pvalue"}  # smsem name -> key of TOL


@pytest.mark.parametrize("case", CASES)
def test_fit_indices(case):
    fi = smsem_fit(case).fit_indices
    ref = fit_measures(case)
    assert fi["df"] == ref["df"] and fi["baseline_df"] == ref["baseline.df"]
    assert fi["npar"] == ref["npar"]
    assert rel_err(fi["chi2"], ref["chisq"]) < TOL["chi2_rel"]
    assert rel_err(fi["baseline_chi2"], ref["baseline.chisq"]) < TOL["baseline_chi2_rel"]
    assert abs(fi["pvalue"] - ref["pvalue"]) < TOL["pvalue"]
    for ours, lav in FIT_MAP.items():
        assert abs(fi[ours] - ref[lav]) < TOL[FIT_TOL[ours]], (ours, fi[ours], ref[lav])
    # logLik, AIC and BIC: the same definitions (they differ by N/2 log(2 pi) per variable if
    # a constant were dropped).
    for ours, lav in (("logl", "logl"), ("aic", "aic"), ("bic", "bic"), ("bic2", "bic2")):
        assert abs(fi[ours] - ref[lav]) < TOL["logl"], ours
    assert abs(fi["unrestricted_logl"] - ref["unrestricted.logl"]) < TOL["unrestricted_logl"]


@pytest.mark.parametrize("case", [c for c in CASES if c.endswith("_mlm")])
def test_mlm_scaled_indices(case):
    fi = smsem_fit(case).fit_indices
    ref = fit_measures(case)
    for ours, lav in (("chi2_scaled", "chisq.scaled"), ("scaling_factor", "chisq.scaling.factor"),
                      ("baseline_chi2_scaled", "baseline.chisq.scaled")):
        assert rel_err(fi[ours], ref[lav]) < TOL["scaled_rel"], ours
    assert abs(fi["pvalue_scaled"] - ref["pvalue.scaled"]) < TOL["pvalue_scaled"]
    for ours, lav, tol in (("cfi_scaled", "cfi.scaled", "cfi_tli_scaled"),
                           ("tli_scaled", "tli.scaled", "cfi_tli_scaled"),
                           ("rmsea_scaled", "rmsea.scaled", "rmsea_scaled"),
                           ("rmsea_ci_lower_scaled", "rmsea.ci.lower.scaled", "rmsea_scaled"),
                           ("rmsea_ci_upper_scaled", "rmsea.ci.upper.scaled", "rmsea_scaled"),
                           ("rmsea_pvalue_scaled", "rmsea.pvalue.scaled", "rmsea_pvalue_scaled"),
                           ("rmsea_robust", "rmsea.robust", "rmsea_robust"),
                           ("rmsea_ci_lower_robust", "rmsea.ci.lower.robust", "rmsea_robust"),
                           ("rmsea_ci_upper_robust", "rmsea.ci.upper.robust", "rmsea_robust")):
        assert abs(fi[ours] - ref[lav]) < TOL[tol], (ours, fi[ours], ref[lav])


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
    assert rel_err(fi["chi2"], fixed["chisq"]) < TOL["chi2_rel"]
    assert rel_err(fi["baseline_chi2"], fixed["baseline.chisq"]) < TOL["baseline_chi2_rel"]
    for ours in ("cfi", "tli", "rmsea"):
        assert abs(fi[ours] - fixed[ours]) < TOL[ours], ours
    assert fi["npar"] == ref["npar"] == fixed["npar"] + 3  # SIZE, TENURE variances and covariance
    # Every parameter lavaan estimates under fixed.x = TRUE has smsem's value and SE.
    j = match(res.params, params(case))
    k = match(res.params, params(f"{case}_fixedx"))
    free = k.se_lav > 0
    assert np.abs(k.est - k.est_lav).max() < TOL["est"]  # measured 6.6e-6
    if case == "covariates_ml":
        assert rel_err(k.se[free], k.se_lav[free]).max() < TOL["se_rel"]  # measured 7.1e-6
    # The covariates' (co)variances: sample values (fixed by lavaan, estimated by smsem).
    cov = (j.op == "~~") & j.lhs.isin(["SIZE", "TENURE"]) & j.rhs.isin(["SIZE", "TENURE"])
    assert cov.sum() == 3 and np.abs(j.est[cov] - k.est_lav[cov]).max() < TOL["est"]
