"""Ordinal models with continuous observed variables (polyserial and Pearson covariances) against
lavaan 0.6.14: ``sem(model, data, ordered = <7 of 9 items>, estimator = "WLSMV" | "ULSMV")``, delta.

References: ``Rscript scripts/lavaan_wlsmv_mixed_reference.R`` -> tests/reference/lavaan_wlsmv/
hs_mixed*.csv (HS cut into 4 categories with x6 and x9 kept continuous; the 3-factor model, the
same with two structural paths and a residual covariance of the continuous items, ULSMV, WLS
(whose baseline lavaan fits with the variances bounded at 0) and WLSMV with pairwise missing answers).
lavaan's statistics for a continuous variable are its negative mean (in the threshold block), its
variance and its covariances; its intercept and residual variance are free. Tolerances as
tests/test_wlsmv.py (lavaan's convergence tolerance): estimates and std.all 5e-5 absolute, SEs
1e-4 relative, chi2 statistics 1e-6 relative, indices 1e-6; lavaan's robust indices are NA with
continuous variables, and so are smsem's.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.estimate.categorical.fit import fit_ordinal
from smsem.exceptions import OptionError

from test_wlsmv import FIT, STATS

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan_wlsmv"
HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
MODELS = {"hs_mixed": HS, "hs_mixed_ulsmv": HS, "hs_mixed_wls": HS, "hs_mixed_pairwise": HS,
          "hs_mixed_paths": HS + "textual ~ visual\nspeed ~ textual\nx6 ~~ x9\n"}


@pytest.fixture(scope="module", params=list(MODELS))
def case(request, tmp_path_factory):
    name = request.param
    meta = json.loads((REF / f"{name}.meta.json").read_text())
    p = tmp_path_factory.mktemp("m") / "m.lav"
    p.write_text(MODELS[name])
    data = pd.read_csv(REF / ("hs_mixed_na_data.csv" if meta["missing"] == "pairwise" else "hs_mixed_data.csv"))
    res = fit_ordinal(smsem.load_model(str(p)), data, ordered=meta["ordered"].split(","), estimator=meta["estimator"],
                      missing=meta["missing"])
    fm = pd.read_csv(REF / f"{name}_fit.csv")
    return name, res, pd.read_csv(REF / f"{name}_partable.csv"), dict(zip(fm.measure, pd.to_numeric(fm.value,
                                                                                                   errors="coerce")))


def test_table_estimates_and_ses(case):
    name, res, pt, _ = case
    t = res.ordinal_table
    assert list(zip(t.lhs, t.op, t.rhs)) == list(zip(pt.lhs, pt.op, pt.rhs.fillna("")))
    np.testing.assert_array_equal(t.free.to_numpy(), pt.free.to_numpy())
    p = res.params
    np.testing.assert_allclose(p.est.to_numpy(), pt.est.to_numpy(), atol=5e-5)
    free = pt.free.to_numpy() > 0
    np.testing.assert_allclose(p.se.to_numpy()[free], pt.se.to_numpy()[free], rtol=1e-4)
    np.testing.assert_allclose(p.std_all.to_numpy(), pt["std.all"].to_numpy(), atol=5e-5)
    # the continuous items' intercepts are their means (DWLS/ULS: the mean rows fit exactly)
    data = pd.read_csv(REF / "hs_mixed_data.csv")
    for v in (("x6", "x9") if name in ("hs_mixed", "hs_mixed_ulsmv", "hs_mixed_paths") else ()):
        assert float(p[(p.lhs == v) & (p.op == "~1")].est.iloc[0]) == pytest.approx(data[v].mean(), abs=1e-6)


def test_standardized_solution(case):
    name, res, pt, _ = case
    ss = res.standardized
    for col, ref in (("std_all_se", "std.all.se"), ("std_lv_se", "std.lv.se")):
        a, b = ss[col].to_numpy(), pt[ref].to_numpy()
        has = np.nan_to_num(b) > 1e-6
        np.testing.assert_allclose(a[has], b[has], rtol=2e-4, err_msg=col)


def test_fit_measures(case):
    name, res, _, fm = case
    fi = res.fit_indices
    for ours, theirs in FIT.items():
        if ours not in fi or theirs not in fm or not np.isfinite(fm[theirs]):
            continue
        if ours in STATS:
            assert fi[ours] == pytest.approx(fm[theirs], rel=1e-6), ours
        else:
            assert fi[ours] == pytest.approx(fm[theirs], rel=1e-6, abs=1e-6), ours
    if "cfi.robust" in fm:  # the scaled-shifted tests: lavaan NA with continuous variables
        assert math.isnan(fm["cfi.robust"]) and math.isnan(fi["cfi_robust"])
    else:  # WLS: standard test, no robust indices at all
        assert "cfi_robust" not in fi


def test_refusals(tmp_path):
    p = tmp_path / "m.lav"
    p.write_text(HS)
    data = pd.read_csv(REF / "hs_mixed_data.csv")
    ordered = [f"x{i}" for i in (1, 2, 3, 4, 5, 7, 8)]
    with pytest.raises(OptionError, match="delta parameterization only"):
        fit_ordinal(smsem.load_model(str(p)), data, ordered=ordered, parameterization="theta")
    res = fit_ordinal(smsem.load_model(str(p)), data, ordered=ordered)
    from smsem.estimate.categorical.bootstrap import bootstrap_ordinal

    with pytest.raises(OptionError, match="every observed variable ordinal"):
        bootstrap_ordinal(res, 5, seed=1)
    # a continuous exogenous covariate (lavaan's conditional.x) is fitted (tests/test_ordinal_covariates.py);
    # with a continuous endogenous variable next to it (x7 not ordered) in the theta parameterization it
    # is refused in one line
    p.write_text("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x7\nspeed =~ x8 + x2 + x1\nvisual ~ x9\n")
    with pytest.raises(OptionError, match=r"continuous endogenous variable\(s\) x7 together with observed "
                                          r"covariates are supported in the delta parameterization only"):
        fit_ordinal(smsem.load_model(str(p)), data, ordered=[v for v in ordered if v != "x7"],
                    parameterization="theta")


def test_cli_partial_ordered_list(tmp_path, capsys):
    """--ordered with some items: the others are continuous (the hs_mixed case)."""
    from smsem.cli import main

    p = tmp_path / "m.lav"
    p.write_text(HS)
    assert main(["fit", str(REF / "hs_mixed_data.csv"), "--model", str(p), "--ordered", "x1,x2,x3,x4,x5,x7,x8",
                 "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    fm = pd.read_csv(REF / "hs_mixed_fit.csv")
    ref = dict(zip(fm.measure, pd.to_numeric(fm.value, errors="coerce")))
    assert out["fit"]["chi2_scaled"] == pytest.approx(ref["chisq.scaled"], rel=1e-6)
    assert any(r["lhs"] == "x9" and r["op"] == "~1" for r in out["params"])
