"""Measurement quality against semTools 0.5.6 (compRelSEM, AVE, htmt) and lavaan 0.6.14.

Reference values: tests/reference/semtools/{integrative,hs}.*, written by
``Rscript scripts/semtools_reference.R`` (see the *.meta.json files and the module notes
of smsem.estimate.quality for semTools' defaults that smsem reproduces).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.estimate.quality import (
    CONSTRUCT_COLUMNS, DISCRIMINANT_COLUMNS, LOADING_COLUMNS, average_variance_extracted, composite_reliability,
    cronbach_alpha,
)

from conftest import ROOT

REF = ROOT / "tests" / "reference" / "semtools"
CASES = {
    "integrative": ("integrative", ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"),
    "hs": (str(REF / "hs.lav"), REF / "HolzingerSwineford1939.csv"),
}
# Model-based statistics (CR, AVE, loadings, latent correlations) inherit the ~1e-4
# difference between semopy's and lavaan's optimum: the 1e-3 absolute tolerance.
MODEL_TOL = 1e-3
# Data-only statistics (alpha, HTMT, HTMT2) are the same closed-form functions of the same
# numbers as semTools: they agree to rounding.
DATA_TOL = 1e-10


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    name = request.param
    model, data = CASES[name]
    res = smsem.fit(smsem.load_model(model), pd.read_csv(data))
    return name, smsem.reliability(res)


def _square(name: str, stat: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"{name}.{stat}.csv").set_index("construct")


def test_alpha_cr_ave_match_semtools(case):
    name, q = case
    ref = pd.read_csv(REF / f"{name}.quality.csv").set_index("construct")
    got = q.constructs.set_index("construct").loc[ref.index]
    np.testing.assert_allclose(got["alpha"], ref["alpha"], atol=DATA_TOL, rtol=0)
    np.testing.assert_allclose(got["cr"], ref["omega"], atol=MODEL_TOL, rtol=0)
    np.testing.assert_allclose(got["ave"], ref["ave"], atol=MODEL_TOL, rtol=0)
    np.testing.assert_allclose(got["sqrt_ave"], np.sqrt(ref["ave"]), atol=MODEL_TOL, rtol=0)


def test_cr_ave_formulas_exact_on_lavaan_estimates(case):
    """On lavaan's own loadings and cov.lv, smsem's CR and AVE equal semTools' to rounding:
    the 1e-3 tolerance above covers only the optimizer difference, not the formulas."""
    name, _ = case
    x = pd.read_csv(CASES[name][1])
    lam = pd.read_csv(REF / f"{name}.lambda.csv")
    cov_lv = _square(name, "covlv")
    ref = pd.read_csv(REF / f"{name}.quality.csv").set_index("construct")
    for c, rows in lam.groupby("lhs", sort=False):
        items = list(rows.rhs)
        s = np.cov(x[items].to_numpy(dtype=float), rowvar=False, bias=True)  # N divisor, as lavaan
        phi = cov_lv.loc[c, c]
        assert composite_reliability(rows.est, phi, s) == pytest.approx(ref.loc[c, "omega"], abs=DATA_TOL)
        assert average_variance_extracted(rows.est, phi, s) == pytest.approx(ref.loc[c, "ave"], abs=DATA_TOL)


@pytest.mark.parametrize("stat", ["htmt", "htmt2"])
def test_htmt_matches_semtools(case, stat):
    name, q = case
    ref = _square(name, stat)
    got = getattr(q, stat).loc[ref.index, ref.columns]
    np.testing.assert_allclose(got.to_numpy(), ref.to_numpy(), atol=DATA_TOL, rtol=0)
    pairs = q.discriminant.set_index(["construct_a", "construct_b"])
    for (a, b), row in pairs.iterrows():
        assert row[stat] == pytest.approx(ref.loc[a, b], abs=DATA_TOL)


def test_loadings_and_latent_correlations_match_lavaan(case):
    name, q = case
    ref = pd.read_csv(REF / f"{name}.loadings.csv")
    m = q.loadings.merge(ref, left_on=["construct", "item"], right_on=["lhs", "rhs"])
    assert len(m) == len(ref) == len(q.loadings)
    np.testing.assert_allclose(m["std_all"], m["est.std"], atol=MODEL_TOL, rtol=0)
    cor = _square(name, "corlv")
    fl = q.fornell_larcker.loc[cor.index, cor.columns].to_numpy()
    off = ~np.eye(len(cor), dtype=bool)
    np.testing.assert_allclose(fl[off], cor.to_numpy()[off], atol=MODEL_TOL, rtol=0)
    np.testing.assert_allclose(np.diag(fl), q.constructs.set_index("construct").loc[cor.index, "sqrt_ave"])


def test_flags_follow_thresholds(case):
    _, q = case
    t = q.thresholds
    assert list(q.loadings.columns) == LOADING_COLUMNS
    assert list(q.constructs.columns) == CONSTRUCT_COLUMNS
    assert list(q.discriminant.columns) == DISCRIMINANT_COLUMNS
    assert (q.loadings.loading_ok == (q.loadings.std_all >= t.loading)).all()
    c = q.constructs
    assert (c.alpha_ok == (c.alpha >= t.alpha)).all() and (c.cr_ok == (c.cr >= t.cr)).all()
    assert (c.ave_ok == (c.ave >= t.ave)).all()
    assert (c.fornell_larcker_ok == (c.sqrt_ave > c.max_abs_corr)).all()
    d = q.discriminant
    assert (d.htmt_lt_strict == (d.htmt < 0.85)).all() and (d.htmt2_lt_liberal == (d.htmt2 < 0.90)).all()
    k = len(c)
    assert len(d) == k * (k - 1) // 2


def test_hs_known_failures():
    """HS1939's visual factor is the textbook weak one: alpha .626, AVE .37 (semTools)."""
    model, data = CASES["hs"]
    q = smsem.reliability(smsem.fit(smsem.load_model(model), pd.read_csv(data)))
    probs = q.problems
    assert "visual: AVE 0.371 < 0.5" in probs and "visual: alpha 0.626 < 0.7" in probs
    assert not any(p.startswith("textual:") for p in probs)
    strict = smsem.reliability(smsem.fit(smsem.load_model(model), pd.read_csv(data)),
                               smsem.QualityThresholds(ave=0.3, alpha=0.6, cr=0.6, loading=0.4))
    assert not any("visual: AVE" in p or "alpha" in p for p in strict.problems)


def test_cronbach_alpha_closed_form():
    # k parallel items with unit variance and correlation r: alpha = k r / (1 + (k - 1) r)
    k, r = 4, 0.3
    cov = np.full((k, k), r) + (1 - r) * np.eye(k)
    assert cronbach_alpha(cov) == pytest.approx(k * r / (1 + (k - 1) * r), rel=1e-12)


def test_bad_threshold():
    with pytest.raises(smsem.OptionError, match="thresholds.ave"):
        smsem.QualityThresholds(ave=1.5)


def test_results_are_immutable(case):
    _, q = case
    with pytest.raises(AttributeError):
        q.n = 3  # type: ignore[misc]


def test_fiml_fit_reads_the_em_moments_as_semtools():
    """On a FIML fit, alpha, CR and AVE are semTools' on the same lavaan fit: they read the
    fit's sample statistics, under missing = "ml" the EM estimates of the unrestricted
    moments, not the complete cases (scripts/semtools_fiml_reference.R). EM converges to
    1e-10 and the FIML estimates agree with lavaan to ~1e-5, hence 1e-4."""
    import warnings

    data = pd.read_csv(ROOT / "tests" / "reference" / "lavaan_models" / "HolzingerSwineford1939_mcar.csv")
    model = smsem.load_model(str(ROOT / "tests" / "reference" / "semtools" / "hs.lav"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smsem.fit(model, data, missing="fiml")
    ours = smsem.reliability(res).constructs.set_index("construct")
    ref = pd.read_csv(REF / "hs_fiml.quality.csv").set_index("factor")
    for col, rcol in (("alpha", "alpha"), ("cr", "omega"), ("ave", "ave")):
        np.testing.assert_allclose(ours.loc[ref.index, col].to_numpy(float), ref[rcol].to_numpy(), atol=1e-4)
    # and not the complete-case value (which differs by more than the tolerance)
    listwise = smsem.reliability(smsem.fit(model, data.dropna(subset=[f"x{i}" for i in range(1, 10)])))
    assert abs(listwise.constructs.set_index("construct").loc["visual", "alpha"] - ref.loc["visual", "alpha"]) > 1e-2
