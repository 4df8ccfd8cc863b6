"""Link to the integrative model: multi-group fit, stratified bootstrap, KRK total as a variable.

Reference values: lavaan 0.6-14 (scripts/ref_diagnostic_lavaan.R, options in
tests/reference/diagnostic_lavaan.meta.json) on tests/reference/diagnostic_two_groups.csv.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.diagnostic import model_with_observed, multigroup_fit
from smsem.exceptions import DataError, SpecError
from smsem.report.diagnostic import render_multigroup

from conftest import ROOT

REF_DIR = ROOT / "tests" / "reference"
# lavaan and semopy minimize the same ML function; SLSQP's stopping rule leaves estimates
# a few 1e-4 from lavaan's (measured on these data: max 5.3e-4 for an unstandardized
# estimate, 3.1e-4 for a std.all one), so 1e-3 allows the optimizer tolerance and still catches
# any real difference (a wrong group, a missing covariance moves paths by > .01).
TOL = 1e-3


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "diagnostic_two_groups.csv")


@pytest.fixture(scope="module")
def lavaan() -> pd.DataFrame:
    return pd.read_csv(REF_DIR / "diagnostic_lavaan.csv")


@pytest.fixture(scope="module")
def meta() -> dict:
    return json.loads((REF_DIR / "diagnostic_lavaan.meta.json").read_text())


@pytest.fixture(scope="module")
def mg(model, data):
    return multigroup_fit(model, data, group="department", n_boot=60, seed=5)


def test_reference_data_are_reproduced_by_their_script(data):
    spec = importlib.util.spec_from_file_location("mkref", ROOT / "scripts" / "make_diagnostic_reference.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    again = mod.make_data()
    assert list(again.columns) == list(data.columns)
    assert (again.drop(columns="KRK_total").astype(str).to_numpy() ==
            data.drop(columns="KRK_total").astype(str).to_numpy()).all()
    np.testing.assert_allclose(again.KRK_total.to_numpy(), data.KRK_total.to_numpy(), rtol=0, atol=1e-9)


def test_multigroup_paths_match_lavaan(mg, lavaan, meta):
    assert mg.groups == ("sales", "marketing")
    ref = lavaan[lavaan.case == "multigroup"]
    for g in mg.groups:
        assert mg.fits[g].n == meta["multigroup"]["n"][g]
        params = mg.fits[g].params
        std = mg.fits[g].standardized_paths
        for r in ref[ref.group == g].itertuples():
            est = params[(params.lhs == r.lhs) & (params.op == "~") & (params.rhs == r.rhs)].est.iloc[0]
            assert est == pytest.approx(r.est, abs=TOL), (g, r.lhs, r.rhs)
            assert std[f"{r.lhs}~{r.rhs}"] == pytest.approx(r.std_all, abs=TOL), (g, r.lhs, r.rhs)
    # lavaan's multi-group chi-square is the sum of the per-group ones (ML, N-divided).
    chi2 = sum(mg.fits[g].fit_indices["chi2"] for g in mg.groups)
    assert chi2 == pytest.approx(meta["multigroup"]["chisq"], rel=1e-3)


def test_multigroup_table_and_bootstrap_difference(mg):
    t = mg.table
    assert list(t.id) == [p.id for p in smsem.load_model().propositions]
    np.testing.assert_allclose(t["diff"], t.std_b - t.std_a)
    assert mg.n_boot == 60 and mg.n_failed == 0 and mg.draws.shape == (60, 12)
    assert (t.ci_lower <= t.ci_upper).all()
    # The marketing population has EA -> OP 0.70 instead of 0.45 (true std difference 0.25)
    # and MA -> SL 0.55 instead of 0.40: the P4 interval excludes 0 and covers the truth.
    p4 = t.set_index("id").loc["P4"]
    assert p4.ci_lower > 0 and p4.ci_lower < 0.25 < p4.ci_upper
    text = render_multigroup(mg)
    assert "marketing - sales" in text and "stratified bootstrap: 60 draws" in text


@pytest.mark.slow  # ~3 s: a bootstrap of the multi-group link run twice
def test_stratified_bootstrap_is_reproducible_and_keeps_group_sizes(model, data):
    small = pd.concat([data[data.department == "sales"].head(120),
                       data[data.department == "marketing"].head(90)], ignore_index=True)
    a = multigroup_fit(model, small, n_boot=8, seed=11)
    b = multigroup_fit(model, small, n_boot=8, seed=11)
    np.testing.assert_array_equal(a.draws, b.draws)
    assert (a.fits["sales"].n, a.fits["marketing"].n) == (120, 90)
    c = multigroup_fit(model, small, n_boot=8, seed=12)
    assert not np.array_equal(a.draws, c.draws)
    # Draw k depends only on (seed, k): the first 4 of 8 draws equal a 4-draw run.
    d = multigroup_fit(model, small, n_boot=4, seed=11)
    np.testing.assert_array_equal(a.draws[:4], d.draws)


def test_krk_total_variant_fits_and_matches_lavaan(model, data, lavaan, meta):
    m2 = model_with_observed(model, "KRK_total", "OP")
    assert "OP ~ KRK_total" in m2.syntax and "KRK_total ~~ COM" in m2.syntax and "KRK_total ~~ MA" in m2.syntax
    res = smsem.fit(m2, data)
    assert res.converged
    ref = lavaan[lavaan.case == "krk_total"]
    p = res.params
    for r in ref.itertuples():
        sel = p[(p.lhs == r.lhs) & (p.op == r.op) & (p.rhs == r.rhs)]
        if sel.empty:  # covariances: either order
            sel = p[(p.lhs == r.rhs) & (p.op == r.op) & (p.rhs == r.lhs)]
        assert sel.est.iloc[0] == pytest.approx(r.est, abs=TOL), (r.lhs, r.op, r.rhs)
        assert sel.std_all.iloc[0] == pytest.approx(r.std_all, abs=TOL), (r.lhs, r.op, r.rhs)
    assert res.fit_indices["chi2"] == pytest.approx(meta["krk_total"]["chisq"], rel=1e-3)
    assert res.fit_indices["df"] == meta["krk_total"]["df"] and len(res.start) == m2.n_free
    # It fits: the diagnostic tracks the facilitators and the model lets it covary with them.
    assert res.fit_indices["cfi"] > 0.95 and res.fit_indices["rmsea"] < 0.05


def test_krk_total_without_covariances_misfits(model, data):
    """Declaring the total uncorrelated with COM and MA contradicts these data: the chi-square
    jumps (measured: 1313.5 without the covariances, 285.8 with them; lavaan with its
    fixed.x default gives the same 1313.5)."""
    free = smsem.fit(model_with_observed(model), data).fit_indices["chi2"]
    fixed = smsem.fit(model_with_observed(model, covary=None), data).fit_indices["chi2"]
    assert fixed > free + 500


def test_bad_link_options(model, data):
    with pytest.raises(SpecError, match="not the outcome"):
        model_with_observed(model, outcome="COM")
    with pytest.raises(SpecError, match="already a variable"):
        model_with_observed(model, variable="EA1")
    with pytest.raises(DataError, match="no group column"):
        multigroup_fit(model, data, group="dept", n_boot=0)
