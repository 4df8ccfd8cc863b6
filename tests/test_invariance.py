"""``smsem.invariance`` against lavaan 0.6.14 (tests/reference/lavaan_invariance/, made by
scripts/lavaan_invariance_reference.R): HolzingerSwineford1939 by school, the 3-factor model,
ML; the four steps' fitMeasures, lavTestLRT, lavTestScore(scalar, cumulative = TRUE), the
latent means of the scalar fit and the partial refit (group.partial = x3~1, x7~1)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smsem.cli import main
from smsem.invariance import CHEN_CUTOFFS, invariance, latent_mean_differences, score_tests

REF = Path(__file__).parent / "reference" / "lavaan_invariance"
DATA = Path(__file__).parent / "reference" / "lavaan_models" / "HolzingerSwineford1939.csv"
MODEL = (REF / "hs3.lav").read_text()
STEP_NAMES = {"chisq": "chi2", "df": "df", "pvalue": "pvalue", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea",
              "rmsea.ci.lower": "rmsea_ci_lower", "rmsea.ci.upper": "rmsea_ci_upper", "srmr": "srmr", "aic": "aic",
              "bic": "bic", "npar": "npar"}


@pytest.fixture(scope="module")
def inv():
    return invariance(MODEL, pd.read_csv(DATA), "school")


@pytest.fixture(scope="module")
def steps():
    return pd.read_csv(REF / "steps.csv").set_index("step")


@pytest.mark.parametrize("name", sorted(STEP_NAMES))
def test_steps_equal_lavaan(inv, steps, name):
    got = inv.table.set_index("step")[STEP_NAMES[name]]
    want = steps[name]
    assert list(got.index) == ["configural", "metric", "scalar", "strict"]
    # measured: chi2 2.4e-8 absolute, indices <= 2e-7 (srmr), RMSEA CI 1.3e-8, AIC/BIC 2.4e-8 absolute
    np.testing.assert_allclose(got.to_numpy(), want.loc[got.index].to_numpy(), rtol=1e-6, atol=2e-6)


def test_lrt_equals_lavTestLRT(inv):
    lrt = pd.read_csv(REF / "lrt.csv").set_index("step").iloc[1:]
    t = inv.tests.set_index("step")
    # measured: chi2 differences 2e-8 absolute, p-values 6e-9 and RMSEA of the difference 4e-9 relative
    np.testing.assert_allclose(t["chi2_diff"], lrt["Chisq diff"], rtol=1e-6)
    np.testing.assert_array_equal(t["df_diff"], lrt["Df diff"])
    np.testing.assert_allclose(t["pvalue"], lrt["Pr(>Chisq)"], rtol=1e-5)
    np.testing.assert_allclose(t["rmsea_diff"], lrt["RMSEA"], rtol=1e-5)


def test_chen_deltas_and_flags(inv, steps):
    t = inv.tests.set_index("step")
    for prev, cur in (("configural", "metric"), ("metric", "scalar"), ("scalar", "strict")):
        for d, col in (("d_cfi", "cfi"), ("d_rmsea", "rmsea"), ("d_srmr", "srmr")):
            assert t.loc[cur, d] == pytest.approx(steps.loc[cur, col] - steps.loc[prev, col], abs=2e-6)
        c_cfi, c_rmsea, c_srmr = CHEN_CUTOFFS[cur]
        want = (steps.loc[cur, "cfi"] - steps.loc[prev, "cfi"] >= c_cfi
                and steps.loc[cur, "rmsea"] - steps.loc[prev, "rmsea"] <= c_rmsea
                and steps.loc[cur, "srmr"] - steps.loc[prev, "srmr"] <= c_srmr)
        assert bool(t.loc[cur, "chen"]) == want
    # HS by school: metric holds (dCFI -.002), scalar fails (dCFI -.038, dSRMR .011)
    assert t["chen"].tolist() == [True, False, True]
    assert inv.highest == "metric"
    assert inv.verdict.startswith("metric invariance holds by Chen's (2007) cut-offs")
    assert "scalar does not (dCFI = -0.038 < -0.010, dSRMR = 0.011 > 0.010; LRT p < .001)" in inv.verdict


def test_score_tests_equal_lavTestScore(inv):
    sc = score_tests(inv.fits["scalar"])
    uni = pd.read_csv(REF / "score_uni.csv")
    cum = pd.read_csv(REF / "score_cumulative.csv")
    tot = pd.read_csv(REF / "score_total.csv")
    assert sc["uni"]["lhs"].tolist() == uni["lhs"].tolist() and sc["uni"]["rhs"].tolist() == uni["rhs"].tolist()
    assert sc["cumulative"]["lhs"].tolist() == cum["lhs"].tolist()
    # measured: univariate 2.5e-5 absolute (2e-5 relative; lavaan's estimates stop ~1e-6 from
    # the optimum), cumulative and total 1e-6 relative
    np.testing.assert_allclose(sc["uni"]["X2"], uni["X2"], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(sc["cumulative"]["X2"], cum["X2"], rtol=1e-5, atol=1e-4)
    np.testing.assert_array_equal(sc["cumulative"]["df"], cum["df"])
    assert sc["total"]["X2"].iloc[0] == pytest.approx(tot["X2"].iloc[0], rel=1e-5)
    assert sc["total"]["df"].iloc[0] == tot["df"].iloc[0]
    assert sc["uni"]["param"].tolist()[:3] == ["visual =~ x2", "visual =~ x3", "textual =~ x5"]


def test_partial_search_and_refit(inv):
    assert inv.suggested_partial == ["x3~1", "x7~1"]
    ref = pd.read_csv(REF / "partial.csv").set_index("name")["value"]
    fi = inv.partial_fit.fit_indices
    for name in ("chisq", "df", "cfi", "tli", "rmsea", "srmr", "aic", "bic", "npar"):
        assert fi[STEP_NAMES[name]] == pytest.approx(ref[name], rel=1e-6, abs=2e-6), name
    assert inv.partial_test["chen"]
    assert 'Partial scalar invariance holds with --group-partial "x3~1,x7~1"' in inv.verdict


def test_latent_means_of_scalar_fit(inv):
    ref = pd.read_csv(REF / "latent_means.csv")
    ref = ref[ref["group"] == 2].reset_index(drop=True)
    got = latent_mean_differences(inv.fits["scalar"])
    assert got["lhs"].tolist() == ref["lhs"].tolist()
    assert got["contrast"].tolist() == ["1 - 2"] * 3
    # measured 1.3e-6 (estimates), 1e-6 relative (SEs)
    for a, b in (("est", "est"), ("ci_lower", "ci.lower"), ("ci_upper", "ci.upper")):
        np.testing.assert_allclose(got[a], ref[b], atol=1e-4)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=1e-4)
    # the reported ones come from the partial scalar model, as scalar failed
    assert inv.latent_means_from.startswith("partial scalar model")


def test_invariance_cli(capsys, tmp_path):
    lav = tmp_path / "hs3.lav"
    lav.write_text(MODEL)
    rc = main(["invariance", str(DATA), "--group", "school", "--model", str(lav)])
    out = capsys.readouterr().out
    assert rc == 0
    steps = pd.read_csv(REF / "steps.csv").set_index("step")
    for s in steps.index:
        r = steps.loc[s]
        assert f"{r['chisq']:10.3f}{int(r['df']):>5}" in out and f"{r['cfi']:7.3f}" in out
    assert "Verdict: metric invariance holds" in out
    assert 'suggested: --group-partial "x3~1,x7~1"' in out
    assert "textual              1 - 2" in out


def test_invariance_cli_refusals(capsys, tmp_path):
    lav = tmp_path / "hs3.lav"
    lav.write_text(MODEL)
    rc = main(["invariance", str(DATA), "--group", "school", "--model", str(lav), "--method", "satorra.bentler.2010"])
    err = capsys.readouterr().err
    assert rc == 2 and "--method satorra.bentler.2010 needs --estimator MLM or MLR" in err
    rc = main(["invariance", str(DATA), "--group", "dept", "--model", str(lav)])
    err = capsys.readouterr().err
    assert rc == 2 and "the group column 'dept' is not in the data" in err


def test_integrative_model_two_departments():
    """The essay's integrative model on generated sales/marketing data (full invariance by
    construction): every step's fit and the scalar latent means equal lavaan's sem()."""
    from smsem.model import load_model

    data = pd.read_csv(REF / "integrative_two_departments.csv")
    inv = invariance(load_model("integrative"), data, "department")
    ref = pd.read_csv(REF / "integrative_steps.csv").set_index("step")
    got = inv.table.set_index("step")
    for name in ("chisq", "df", "cfi", "tli", "rmsea", "rmsea.ci.upper", "srmr", "aic", "bic", "npar"):
        # measured: chi2 1e-10 relative, indices <= 3e-8 (srmr); latent means 1.5e-6, SEs 3e-6 relative
        np.testing.assert_allclose(got[STEP_NAMES.get(name, name)], ref.loc[got.index, name], rtol=1e-6, atol=2e-6,
                                   err_msg=name)
    assert inv.highest == "strict" and inv.group_labels == ["sales", "marketing"]
    lm = pd.read_csv(REF / "integrative_latent_means.csv")
    assert inv.latent_means["lhs"].tolist() == lm["lhs"].tolist()
    np.testing.assert_allclose(inv.latent_means["est"], lm["est"], atol=1e-5)
    np.testing.assert_allclose(inv.latent_means["se"], lm["se"], rtol=1e-4)
    kinds = dict(zip(inv.latent_means["lhs"], inv.latent_means["kind"]))
    assert kinds["COM"] == "mean" and kinds["OP"] == "intercept"


def test_user_group_partial_is_applied_at_every_step():
    inv = invariance(MODEL, pd.read_csv(DATA), "school", group_partial="x3~1,x7~1")
    ref = pd.read_csv(REF / "partial.csv").set_index("name")["value"]
    scalar = inv.table.set_index("step").loc["scalar"]
    assert scalar["chi2"] == pytest.approx(ref["chisq"], rel=1e-6) and scalar["df"] == ref["df"]
    # no search when the user gave the partial set; the verdict says "partial"
    assert inv.released is None and inv.verdict.startswith("partial ")
    assert inv.latent_means is not None and inv.latent_means_from == "partial scalar model"


def test_invariance_cli_mlr(capsys, tmp_path):
    """``smsem invariance --estimator MLR``: the robust table and lavTestLRT's scaled
    differences (tests/reference/lavaan_groups_robust/, lavaan 0.6.14), partial search."""
    lav = tmp_path / "hs3.lav"
    lav.write_text(MODEL)
    rc = main(["invariance", str(DATA), "--group", "school", "--model", str(lav), "--estimator", "MLR"])
    out = capsys.readouterr().out
    assert rc == 0
    ref = Path(__file__).parent / "reference" / "lavaan_groups_robust"
    steps = pd.read_csv(ref / "inv_hs_MLR_steps.csv").set_index("step")
    lrt = pd.read_csv(ref / "inv_hs_MLR_lrt_default.csv").set_index("step")
    for s in steps.index:
        r = steps.loc[s]
        assert f"{s:<11}{r['chisq.scaled']:>10.3f}{int(r['df']):>5}" in out
        assert f"{r['cfi.robust']:>7.3f}{r['tli.robust']:>7.3f}{r['rmsea.robust']:>8.3f}" in out
    assert "scaled difference method = satorra.bentler.2001" in out
    assert f"scalar vs metric      {lrt.loc['scalar', 'Chisq diff']:>9.3f}    6" in out
    assert "Verdict: metric invariance holds" in out
