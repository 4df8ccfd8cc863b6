"""Residuals of a FIML fit equal lavaan's ``lavResiduals()`` on a ``missing = "ml"`` fit: the
EM (h1) moments against the model-implied ones, covariances and means, with lavaan's
standardized z (the observed h1 information under missing data) and the summary (RMR, SRMR,
CRMR of the covariances, the means and both).

Reference: scripts/lavaan_fiml_residuals_reference.R -> tests/reference/lavaan_fiml_after/
(lavaan 0.6.14 with em.h1.tol = 1e-10, so that its EM moments are converged).

Tolerances (measured on the three cases: residuals 1.9e-6, z 1.4e-4, summary 7e-6 relative):
lavaan's estimates stop at its optimizer's tolerance (1e-10 relative change of the objective),
which moves the implied moments by ~1e-6; a residual is compared to 1e-5, its z (a residual
divided by an SE as small as 0.003) to 5e-4, the summary statistics to 1e-4 relative.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import smsem
from conftest import ROOT
from smsem.estimate import diagnostics as dg

REF = ROOT / "tests" / "reference" / "lavaan_fiml_after"
HS = ROOT / "tests" / "reference" / "lavaan_models" / "HolzingerSwineford1939_mcar.csv"


def check_against_lavaan(res, case: str) -> None:
    ref = pd.read_csv(REF / f"{case}.resid.csv", keep_default_na=False)
    summ = pd.read_csv(REF / f"{case}.resid_summary.csv")
    for type in dg.RESIDUAL_TYPES:
        cov = dg.residuals(res, type)
        r = ref[(ref.type == type) & (ref.block == "cov")]
        both = cov.merge(r, on=["lhs", "rhs"])
        assert len(both) == len(r) == len(cov)
        np.testing.assert_allclose(both.residual, both.value, rtol=0, atol=1e-5)
        np.testing.assert_allclose(both.z_x, both.z_y.astype(float), rtol=0, atol=5e-4)
        mean = dg.mean_residuals(res, type)
        rm = ref[(ref.type == type) & (ref.block == "mean")].merge(mean, on="lhs")
        assert len(rm) == len(mean) == cov.lhs.nunique()
        np.testing.assert_allclose(rm.residual, rm.value, rtol=0, atol=1e-5)
        np.testing.assert_allclose(rm.z_x, rm.z_y.astype(float), rtol=0, atol=5e-4)
        s = dg.residual_summary(res, type)
        rs = summ[summ.type == type].reset_index(drop=True)
        assert len(s) == len(rs)
        pv = s.stat.str.contains("pvalue").to_numpy()
        for ours, theirs in (("value", "cov"), ("mean", "mean"), ("total", "total")):
            a, b = s[ours].to_numpy(float), rs[theirs].to_numpy(float)
            np.testing.assert_allclose(a[~pv], b[~pv], rtol=1e-4, atol=1e-8)
            np.testing.assert_allclose(a[pv], b[pv], rtol=0, atol=1e-5)  # a p-value: to 1e-5 (measured 1.1e-6)


@pytest.fixture(scope="module")
def hs_res():
    model = smsem.load_model(str(REF / "hs_constraints.lav"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smsem.fit(model, pd.read_csv(HS), missing="fiml")


def test_hs_with_an_equality_constraint_equals_lavaan(hs_res):
    check_against_lavaan(hs_res, "hs_constraints")


def test_raw_residuals_are_em_moments_minus_implied(hs_res):
    """Independently of lavaan: the raw residuals are the EM moments of the observed items
    minus the model-implied ones (and not the complete-case moments)."""
    from smsem.estimate import fiml

    order = list(dict.fromkeys(dg.residuals(hs_res, "raw").rhs))
    x = hs_res.data[order].to_numpy(float)
    mu_em, s_em, _, ok = fiml.em_saturated(x, fiml.Patterns.from_data(x))
    assert ok
    perm = [list(hs_res.matrices.observed).index(v) for v in order]
    sigma = hs_res.matrices.implied_cov[np.ix_(perm, perm)]
    mu = np.asarray(hs_res.matrices.implied_mean)[perm]
    m = dg.residual_matrix(hs_res, "raw").loc[order, order].to_numpy()
    np.testing.assert_allclose(m, s_em - sigma, atol=1e-12)
    np.testing.assert_allclose(dg.mean_residuals(hs_res, "raw").residual, mu_em - mu, atol=1e-12)
    cc = pd.DataFrame(x).dropna().cov(ddof=0).to_numpy()
    assert np.abs(m - (cc - sigma)).max() > 1e-3   # the complete cases would give other residuals


def test_report_writes_mean_residuals_and_the_three_column_summary(hs_res):
    from smsem.report.after import render_residuals, residual_frame

    frame = residual_frame(hs_res)
    assert set(frame.block) == {"cov", "mean"} and (frame.block == "mean").sum() == 9
    text = render_residuals(hs_res, "text")
    assert "Means" in text and "Total" in text and "EM" in text


def test_mlr_equals_lavaan():
    """MLR (lavaan's robust FIML): the h1 ACOV is the sandwich with the first-order
    information of the casewise scores at the EM moments (same tolerances)."""
    model = smsem.load_model(str(REF / "hs_constraints.lav"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smsem.fit(model, pd.read_csv(HS), missing="fiml", estimator="MLR")
    check_against_lavaan(res, "hs_constraints_mlr")


def test_fixed_x_refused_in_one_line_and_reports_write_a_note(tmp_path):
    (tmp_path / "cov.lav").write_text("visual =~ x1 + x2 + x3\nvisual ~ ageyr\n")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smsem.fit(smsem.load_model(str(tmp_path / "cov.lav")), pd.read_csv(HS), missing="fiml")
    with pytest.raises(NotImplementedError) as exc:
        dg.residuals(res)
    assert "fixed.x" in str(exc.value) and "\n" not in str(exc.value)
    from smsem.report.after import render_residuals
    from smsem.report.bundle import _guarded

    assert "fixed.x" in _guarded(lambda f: render_residuals(res, f), "csv", "residuals")
