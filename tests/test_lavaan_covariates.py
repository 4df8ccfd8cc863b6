"""Observed covariates (exogenous observed predictors) as lavaan's ``sem()`` treats them.

semopy fixes the variances and covariances of observed exogenous variables without taking
them out of the degrees of freedom; smsem frees them (``smsem.estimate.backend.
exogenous_covariances``), which reproduces lavaan: the estimates, SEs, chi2, df and the
baseline model of lavaan's default ``fixed.x = TRUE`` (and everything of ``fixed.x =
FALSE``). References: ``Rscript scripts/lavaan_reference.R`` on
``tests/reference/lavaan/integrative_covariates*.{lav,csv}`` (data by
``python scripts/make_covariate_data.py``). The ML, MLM and FIML cases run in
``test_lavaan_ml.py`` and ``test_lavaan_fiml.py``; the tolerances are theirs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import smsem
from lavaan_ref import REF, TOL, fit_measures, match, params, rel_err, smsem_fit
from smsem.estimate.backend import exogenous_covariances



def _parsed(name: str):
    return smsem.parse_lavaan((REF / name).read_text(encoding="utf-8"))


def test_covariates_are_found_as_lavaan_names_them():
    plain = _parsed("integrative_covariates.lav")
    assert plain.exogenous_observed == plain.fixed_x == ["TENURE", "SIZE"]  # lavNames(fit, "ov.x")
    assert exogenous_covariances(plain) == ["TENURE ~~ TENURE", "TENURE ~~ SIZE", "SIZE ~~ SIZE"]
    random = _parsed("integrative_covariates_random.lav")
    assert random.exogenous_observed == ["TENURE", "SIZE"] and random.fixed_x == ["TENURE"]
    # SIZE is random (named in SIZE ~~ COM): its variance is free and, as in lavaan, it is
    # uncorrelated with the fixed covariate.
    assert exogenous_covariances(random) == ["TENURE ~~ TENURE", "SIZE ~~ SIZE", "SIZE ~~ 0*TENURE"]
    assert exogenous_covariances(smsem.load_model("integrative").parsed) == []  # latent predictors only


def test_random_covariate_matches_lavaan():
    res = smsem_fit("covariates_random_ml")
    ref, fm, fi = params("covariates_random_ml"), fit_measures("covariates_random_ml"), res.fit_indices
    j = match(res.params, ref)
    assert np.abs(j.est - j.est_lav).max() < TOL["est"]
    free = j.se_lav > 0
    assert rel_err(j.se[free], j.se_lav[free]).max() < TOL["se_rel"]
    # lavaan fixes the fixed covariate's variance at its sample value (SE 0); so does smsem (SE NaN).
    assert not (~free & j.se.notna()).any()
    assert fi["df"] == fm["df"] and fi["baseline_df"] == fm["baseline.df"] and fi["npar"] == fm["npar"]
    assert rel_err(fi["chi2"], fm["chisq"]) < TOL["chi2_rel"]
    assert rel_err(fi["baseline_chi2"], fm["baseline.chisq"]) < TOL["baseline_chi2_rel"]
    for name, tol in (("cfi", "cfi"), ("tli", "tli"), ("rmsea", "rmsea"), ("srmr", "srmr_complete")):
        assert abs(fi[name] - fm[name]) < TOL[tol], name


@pytest.mark.parametrize("case", ["covariates_ml", "covariates_random_ml"])
def test_bootstrap_fit_indices_use_lavaans_baseline(case):
    """The bootstrap's closed-form fit indices (baseline with the fixed covariates'
    covariances free) equal the fit's at the sample estimate."""
    res = smsem_fit(case)
    boot = smsem.bootstrap(res, n_boot=20, seed=1)
    est = dict(zip(boot.names, boot.estimate))
    fi = res.fit_indices
    # The same optimum and formulas: measured <= 7e-15 (chi2 relative) and 1.4e-15, so 1e-10.
    assert est["fit:chi2"] == pytest.approx(fi["chi2"], rel=1e-10)
    assert est["fit:cfi"] == pytest.approx(fi["cfi"], abs=1e-10)
    assert est["fit:tli"] == pytest.approx(fi["tli"], abs=1e-10)
    assert est["fit:rmsea"] == pytest.approx(fi["rmsea"], abs=1e-10)


def test_validation_checks_covariates_as_numbers_not_scale_codes():
    """Questionnaire items must be 1..K codes; a covariate (not an indicator) any finite number."""
    from smsem.exceptions import DataError
    from smsem.io import validate_survey

    model = smsem.load_model(str(REF / "integrative_covariates.lav"))
    data = pd.read_csv(REF / "integrative_covariates.csv")
    out = validate_survey(data, model)
    assert out["SIZE"].min() < 0 and np.array_equal(out["TENURE"], data["TENURE"])  # taken as they are
    bad = data.astype({"TENURE": object})
    bad.loc[4, "TENURE"] = "n/a?"
    with pytest.raises(DataError, match=r"column TENURE, row 5: value 'n/a\?' is not a number; leave missing"):
        validate_survey(bad, model)
    bad = data.copy()
    bad.loc[2, "SIZE"] = np.inf
    with pytest.raises(DataError, match=r"column SIZE, row 3: value inf is not a finite number"):
        validate_survey(bad, model)
    bad = data.astype({"OP1": float})
    bad.loc[0, "OP1"] = 2.5  # an item of a declared scale (--likert 5) still has to be a scale code
    with pytest.raises(DataError, match=r"column OP1, row 1: value 2.5 is not an integer code"):
        validate_survey(bad, model, likert=5)
    # the model file declares no scale (no codebook): the value is taken as a number
    assert validate_survey(bad, model)["OP1"].iloc[0] == 2.5


def test_cli_fits_a_model_with_covariates():
    import json

    from conftest import run_cli

    out = run_cli("fit", str(REF / "integrative_covariates.csv"), "--model", str(REF / "integrative_covariates.lav"),
                  "--boot", "0", "--format", "json")
    assert out.returncode == 0, out.stderr
    fit = json.loads(out.stdout)["fit"]
    ref = fit_measures("covariates_ml_fixedx")  # lavaan's default
    # The JSON rounds chi2 to 4 decimals (value ~ 10^2-10^3): 1e-6 relative holds it.
    assert fit["df"] == ref["df"] and abs(fit["chi2"] - ref["chisq"]) < 1e-6 * ref["chisq"]
