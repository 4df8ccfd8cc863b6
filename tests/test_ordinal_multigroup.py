"""Multiple-group fits with ordinal items (WLSMV, delta) and Wu & Estabrook's invariance sequence
against lavaan 0.6.14 / semTools 0.5.6 (scripts/lavaan_wlsmv_groups_reference.R ->
tests/reference/lavaan_wlsmv_groups/).

Tolerances. Measured (PYTHONPATH=. python scripts/lavaan_wlsmv_groups_agreement.py, every case):
estimates and std.all within 2.8e-5, SEs within 2.6e-5 relative, chi2 within 5e-9 relative, the
scaled chi2 within 6.5e-7 relative, lavTestLRT's difference within 8.8e-7 relative, the robust
indices within 4.5e-8 (lavaan stops its optimizer near 1e-5 on the estimates). Estimates 1e-4
absolute (3.6x the largest measured; weighting the groups by n_g instead of lavaan's n_g - 1 moves
the HS equal-thresholds estimates by 2.0e-4), SEs 1e-3 relative (dividing by N instead of lavaan's
N - G moves them by 3.3e-3), the chi2 statistics 0.1% relative and the indices 1e-3 absolute (the
ordinal suite's).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smsem.cli import main
from smsem.estimate.categorical.multigroup import difference_test, fit_ordinal_multigroup, ordinal_group_table

REF = Path(__file__).parent / "reference" / "lavaan_wlsmv_groups"
HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
HS_PATHS = "textual ~ visual\nspeed ~ textual + visual\n"
BFI = "\n".join(f"{k}f =~ " + " + ".join(f"{k}{i}" for i in range(1, 6)) for k in "ACENO") + "\n"
TOL_EST, TOL_SE_REL, TOL_CHI2_REL, TOL_INDEX = 1e-4, 1e-3, 1e-3, 1e-3
FIT_PAIRS = [("chi2", "chisq"), ("df", "df"), ("npar", "npar"), ("pvalue", "pvalue"), ("chi2_scaled", "chisq.scaled"),
             ("pvalue_scaled", "pvalue.scaled"), ("scaling_factor", "chisq.scaling.factor"),
             ("baseline_chi2", "baseline.chisq"), ("baseline_chi2_scaled", "baseline.chisq.scaled"),
             ("cfi", "cfi"), ("tli", "tli"), ("rmsea", "rmsea"), ("rmsea_ci_lower", "rmsea.ci.lower"),
             ("rmsea_ci_upper", "rmsea.ci.upper"), ("cfi_scaled", "cfi.scaled"), ("tli_scaled", "tli.scaled"),
             ("rmsea_scaled", "rmsea.scaled"), ("rmsea_ci_lower_scaled", "rmsea.ci.lower.scaled"),
             ("rmsea_ci_upper_scaled", "rmsea.ci.upper.scaled"), ("srmr", "srmr"), ("fmin", "fmin"),
             # lavaan's catML-based robust indices; NA (NaN) once thresholds are constrained across groups
             ("cfi_robust", "cfi.robust"), ("tli_robust", "tli.robust"), ("rmsea_robust", "rmsea.robust"),
             ("rmsea_ci_lower_robust", "rmsea.ci.lower.robust"), ("rmsea_ci_upper_robust", "rmsea.ci.upper.robust"),
             ("rmsea_pvalue_robust", "rmsea.pvalue.robust")]
WE_STEPS = {"configural": (), "thresholds": ("thresholds",), "loadings": ("thresholds", "loadings"),
            "intercepts": ("thresholds", "loadings", "intercepts")}


def _data(name):
    return pd.read_csv(REF / name)


@lru_cache(maxsize=None)
def _fit(case: str, wu_estabrook: bool = False, data: str = ""):
    """smsem's fit of a lavaan reference case (meta: estimator, group.equal, group.partial, std.lv)."""
    m = json.loads((REF / f"{case}.meta.json").read_text())
    bfi = case.startswith("bfi")
    d = _data(data or ("bfi25_gender.csv" if bfi else "hs_cut4_school_na.csv" if case == "hs_pairwise"
                       else "hs_cut4_school.csv"))
    model = BFI if bfi else HS + (HS_PATHS if case == "hs_structural" else "")
    if case == "hs_labels":
        model = HS.replace("x2", "c(a, a)*x2", 1)
    if case in ("hs_configural", "hs_thresholds"):  # through the public API: smsem.fit(..., ordered=, group=)
        import tempfile

        import smsem

        f = Path(tempfile.mkdtemp()) / "hs3.lav"
        f.write_text(HS)
        return smsem.fit(smsem.load_model(str(f)), d, ordered=True, group="school",
                         group_equal=m["group_equal"])
    return fit_ordinal_multigroup(model, d, m.get("group", "gender" if bfi else "school"),
                                  estimator=m.get("estimator", "WLSMV"), group_equal=tuple(m.get("group_equal", [])),
                                  group_partial=tuple(m.get("group_partial", [])), std_lv=m.get("std_lv", False),
                                  wu_estabrook=wu_estabrook, parameterization=m.get("parameterization", "delta"),
                                  missing=m.get("missing", "listwise"))


def _we_fit(seq: str, step: str):
    if seq == "hs_we" and step == "configural":  # no equality: Wu & Estabrook's configural is lavaan's
        return _fit("hs_configural")
    d = {"hs_we": "hs_cut4_school.csv", "hs3_we": "hs_cut3_school.csv", "bfi_we": "bfi25_gender.csv"}[seq]
    return _we_cached(seq, step, d)


@lru_cache(maxsize=None)
def _we_cached(seq, step, d):
    bfi = seq.startswith("bfi")
    reuse = None if step == "configural" else _we_fit(seq, "configural")  # its sample statistics
    return fit_ordinal_multigroup(BFI if bfi else HS, _data(d), "gender" if bfi else "school",
                                  group_equal=WE_STEPS[step], wu_estabrook=True, reuse=reuse)


def _fit_measures(case):
    fm = pd.read_csv(REF / f"{case}_fit.csv").set_index("measure")["value"]
    return pd.to_numeric(fm, errors="coerce")


def _partable(case):
    pt = pd.read_csv(REF / f"{case}_partable.csv", keep_default_na=False, na_values=[""])
    pt["rhs"] = pt["rhs"].fillna("")
    pt["label"] = pt["label"].astype(object).where(pt["label"].notna(), "")
    return pt


def _check_fit(res, case):
    fm = _fit_measures(case)
    for ours, theirs in FIT_PAIRS:
        a, b = res.fit_indices[ours], fm[theirs]
        if ours in ("chi2", "chi2_scaled", "baseline_chi2", "baseline_chi2_scaled"):
            assert a == pytest.approx(b, rel=TOL_CHI2_REL, nan_ok=True), (case, ours)
        else:
            assert a == pytest.approx(b, abs=TOL_INDEX, nan_ok=True), (case, ours)
    groups = REF / f"{case}_groups.csv"
    if groups.exists():  # each group's contribution (lavInspect(fit, "test")$...$stat.group)
        gr = pd.read_csv(groups)
        for g, row in enumerate(gr.itertuples(), start=1):
            assert res.fit_indices[f"chi2_group{g}"] == pytest.approx(row.chisq, rel=TOL_CHI2_REL)
            assert res.fit_indices[f"chi2_scaled_group{g}"] == pytest.approx(row._3, rel=TOL_CHI2_REL)


def _check_table_and_params(res, case):
    """Same rows as lavaan's parTable (lhs op rhs group), the same free/fixed pattern and fixed
    values, the same equality structure (npar and df), then estimates and SEs."""
    pt = _partable(case)
    ours = res.ordinal_table
    rows = pt[pt["op"] != "=="]
    assert len(ours[ours["op"] != "=="]) == len(rows)
    key = ["lhs", "op", "rhs", "group"]
    j = rows.merge(ours[ours["op"] != "=="], on=key, suffixes=("", "_s"), how="left", validate="one_to_one")
    assert j["free_s"].notna().all()
    np.testing.assert_array_equal(j["free"] > 0, j["free_s"] > 0)
    fixed = j[j["free"] == 0]
    np.testing.assert_allclose(fixed["ustart_s"].to_numpy(float), fixed["ustart"].to_numpy(float))
    assert (pt["op"] == "==").sum() == (ours["op"] == "==").sum()
    np.testing.assert_allclose(j["est_s"], j["est"], atol=TOL_EST)
    np.testing.assert_allclose(j["std_all"], j["std.all"], atol=TOL_EST)
    fr = j[j["free"] > 0]
    np.testing.assert_allclose(fr["se_s"], fr["se"], rtol=TOL_SE_REL)


# --------------------------------------------------------------------------- default suite (HS 4-cat)


@pytest.mark.parametrize("case", ["hs_configural", "hs_thresholds", "hs_partial"])
def test_hs_by_school_equals_lavaan(case):
    res = _fit(case)
    assert res.converged
    _check_fit(res, case)
    _check_table_and_params(res, case)


def test_equal_thresholds_free_scales_and_latent_means():
    """lavaan 0.6.14 (lav_partable_flat): equal thresholds free group 2's scaling factors and latent
    means; nothing of the kind in group 1 or without the equality."""
    t = ordinal_group_table(HS, 2, {f"x{i}": 3 for i in range(1, 10)}, group_equal=("thresholds",))[1]
    c = ordinal_group_table(HS, 2, {f"x{i}": 3 for i in range(1, 10)})[1]
    for tab, g2_free in ((t, True), (c, False)):
        for op, lhs in (("~*~", {f"x{i}" for i in range(1, 10)}), ("~1", {"visual", "textual", "speed"})):
            rows = tab[(tab["op"] == op) & tab["lhs"].isin(lhs)]
            assert (rows.loc[rows["group"] == 1, "free"] == 0).all()
            assert ((rows.loc[rows["group"] == 2, "free"] > 0) == g2_free).all()
    # the thresholds of group 2 carry group 1's plabels and one == row each
    th2 = t[(t["op"] == "|") & (t["group"] == 2)]
    th1 = t[(t["op"] == "|") & (t["group"] == 1)]
    assert list(th2["label"]) == list(th1["plabel"]) and (t["op"] == "==").sum() == 27


def test_theta_tables_free_residual_variances_not_scales():
    """lavaan 0.6.14, theta: equal thresholds free group 2's residual variances (the scales stay
    fixed); equal residuals fix them at 1 again."""
    nth = {f"x{i}": 3 for i in range(1, 10)}
    items = set(nth)
    for ge, free2 in ((("thresholds",), True), (("thresholds", "loadings", "intercepts", "residuals"), False),
                      ((), False)):
        t = ordinal_group_table(HS, 2, nth, group_equal=ge, parameterization="theta")[1]
        res = t[(t["op"] == "~~") & (t["lhs"] == t["rhs"]) & t["lhs"].isin(items)]
        assert (res.loc[res["group"] == 1, "free"] == 0).all()
        assert ((res.loc[res["group"] == 2, "free"] > 0) == free2).all()
        assert (t.loc[t["op"] == "~*~", "free"] == 0).all()


def test_wu_estabrook_sequence_and_lrt_equal_semtools():
    """semTools' measEq.syntax(ID.cat = "Wu.Estabrook.2016") fitted by lavaan: every step's fit and
    lavTestLRT's scaled-shifted difference between consecutive steps."""
    steps = pd.read_csv(REF / "hs_we_steps.csv").set_index("step")
    lrt = pd.read_csv(REF / "hs_we_lrt.csv").set_index("step")
    fits = {s: _we_fit("hs_we", s) for s in WE_STEPS}
    for s, res in fits.items():
        for ours, theirs in (("chi2", "chisq"), ("chi2_scaled", "chisq.scaled")):
            assert res.fit_indices[ours] == pytest.approx(steps.loc[s, theirs], rel=TOL_CHI2_REL)
        assert res.fit_indices["df"] == steps.loc[s, "df"]
        for k in ("cfi_scaled", "tli_scaled", "rmsea_scaled", "srmr"):
            assert res.fit_indices[k] == pytest.approx(steps.loc[s, k.replace("_scaled", ".scaled")], abs=TOL_INDEX)
    names = list(WE_STEPS)
    for prev, cur in zip(names[:-1], names[1:]):
        d = difference_test(fits[prev], fits[cur])
        assert d["df_diff"] == lrt.loc[cur, "df_diff"]
        assert d["chi2_diff"] == pytest.approx(lrt.loc[cur, "chisq_diff"], rel=TOL_CHI2_REL)
        assert d["pvalue"] == pytest.approx(lrt.loc[cur, "pvalue"], abs=TOL_INDEX)
    swapped = difference_test(fits["loadings"], fits["thresholds"])  # either order, as lavTestLRT
    assert swapped["chi2_diff"] == pytest.approx(lrt.loc["loadings", "chisq_diff"], rel=TOL_CHI2_REL)
    # the scalar step is lavaan's own group.equal = thresholds, loadings, intercepts model
    _check_table_and_params(fits["intercepts"], "hs_thr_load_int")


def _run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.fixture(scope="module")
def lav(tmp_path_factory):
    p = tmp_path_factory.mktemp("og") / "hs3.lav"
    p.write_text(HS)
    return str(p)


def test_cli_fit_group_ordered(capsys, lav, tmp_path):
    rc, out, err = _run(capsys, "fit", str(REF / "hs_cut4_school.csv"), "--model", lav, "--ordered", "all",
                        "--group", "school", "--group-equal", "thresholds,loadings", "--group-partial",
                        "x3|t2,visual=~x2", "--format", "json", "--out", str(tmp_path / "o"))
    assert rc == 0, err
    doc = json.loads(out)
    fm = _fit_measures("hs_partial")
    assert doc["fit"]["chi2_scaled"] == pytest.approx(fm["chisq.scaled"], rel=TOL_CHI2_REL)
    assert doc["fit"]["df"] == fm["df"] and doc["groups"] == ["Pasteur", "Grant-White"]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == sorted(
        ["fit.json", "fit.txt", "parameters.csv"]
        + [f"{b}.{e}" for b in ("propositions", "group_differences") for e in ("txt", "md", "tex", "csv", "json")])


@pytest.mark.parametrize("extra, message", [
    (["--estimator", "WLS"], "--estimator WLS with --ordered and --group is not supported"),
    (["--group-equal", "intercepts"], "group_equal 'intercepts' without 'thresholds' with ordered items"),
    (["--missing", "fiml"], "--missing fiml with --ordered and --group: use listwise"),
])
def test_cli_fit_group_ordered_refusals(capsys, lav, extra, message):
    rc, out, err = _run(capsys, "fit", str(REF / "hs_cut4_school.csv"), "--model", lav, "--ordered", "all",
                        "--group", "school", *extra)
    assert rc == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_category_missing_in_one_group_is_refused(capsys, lav, tmp_path):
    """lavaan: "some categories of variable `x1' are empty in group 1"; smsem refuses the same way."""
    d = _data("hs_cut4_school.csv")
    d = d[~((d["school"] == "Pasteur") & (d["x1"] == 4))]
    f = tmp_path / "hs.csv"
    d.to_csv(f, index=False)
    rc, out, err = _run(capsys, "fit", str(f), "--model", lav, "--ordered", "all", "--group", "school")
    assert rc == 2 and "some categories of ordered item 'x1' are empty in group Pasteur" in err
    assert len(err.strip().splitlines()) == 1


def test_too_few_respondents_in_a_group_is_refused():
    d = _data("hs_cut4_school.csv")
    small = pd.concat([d[d["school"] == "Pasteur"], d[d["school"] == "Grant-White"].head(8)])
    from smsem.exceptions import DataError

    with pytest.raises(DataError, match="group 'Grant-White' of 'school' has 8 complete row"):
        fit_ordinal_multigroup(HS, small, "school")


def test_invariance_refusals(capsys, lav):
    rc, out, err = _run(capsys, "invariance", str(REF / "hs_cut4_school.csv"), "--model", lav, "--group", "school",
                        "--ordered", "all", "--group-partial", "x1|t1")
    assert rc == 2 and "--group-partial 'x1|t1' with ordered items in the invariance sequence: only loadings" in err
    rc, out, err = _run(capsys, "invariance", str(REF / "hs_cut4_school.csv"), "--model", lav, "--group", "school",
                        "--ordered", "all", "--group-partial", "visual=~x1")
    assert rc == 2 and "--group-partial 'visual=~x1': x1 is visual's marker" in err


# --------------------------------------------------------------------------- slow: bfi, other estimators


@pytest.mark.slow
@pytest.mark.parametrize("case", ["hs_thr_load", "hs_thr_load_int", "hs_stdlv_thr_load", "hs_ulsmv", "hs_dwls",
                                  "hs_residuals", "hs_means", "hs_lv_var", "hs_structural", "hs_labels",
                                  "hs_theta_configural", "hs_theta_thr_load", "hs_theta_strict", "hs_pairwise",
                                  "bfi_configural", "bfi_thr_load"])
def test_other_cases_equal_lavaan(case):
    res = _fit(case)
    assert res.converged
    fm = _fit_measures(case)
    if res.estimator == "DWLS":
        assert res.fit_indices["chi2"] == pytest.approx(fm["chisq"], rel=TOL_CHI2_REL)
        assert "chi2_scaled" not in res.fit_indices
    else:
        _check_fit(res, case)
    _check_table_and_params(res, case)


@pytest.mark.slow
@pytest.mark.parametrize("seq", ["hs3_we", "bfi_we"])
def test_wu_estabrook_other_sequences(seq):
    """Three-category items (the thresholds step is equivalent to configural: df difference 0, lavaan's
    NA p-value) and bfi by gender (five thresholds per item)."""
    steps = pd.read_csv(REF / f"{seq}_steps.csv").set_index("step")
    lrt = pd.read_csv(REF / f"{seq}_lrt.csv").set_index("step")
    fits = {s: _we_fit(seq, s) for s in WE_STEPS}
    for s, res in fits.items():
        assert res.fit_indices["df"] == steps.loc[s, "df"]
        assert res.fit_indices["chi2_scaled"] == pytest.approx(steps.loc[s, "chisq.scaled"], rel=TOL_CHI2_REL)
        for k in ("cfi_scaled", "rmsea_scaled", "srmr"):
            assert res.fit_indices[k] == pytest.approx(steps.loc[s, k.replace("_scaled", ".scaled")], abs=TOL_INDEX)
    names = list(WE_STEPS)
    for prev, cur in zip(names[:-1], names[1:]):
        d = difference_test(fits[prev], fits[cur])
        assert d["df_diff"] == lrt.loc[cur, "df_diff"]
        if d["df_diff"] > 0:
            assert d["chi2_diff"] == pytest.approx(lrt.loc[cur, "chisq_diff"], rel=TOL_CHI2_REL)
        else:
            assert abs(d["chi2_diff"]) < 1e-6 and np.isnan(d["pvalue"])


@pytest.mark.slow
def test_wu_estabrook_theta_with_strict_step():
    """semTools' sequence in the theta parameterization, its fifth (strict) step included, through
    ordinal_invariance: every step's fit and lavTestLRT."""
    from smsem.estimate.categorical.invariance import ordinal_invariance

    inv = ordinal_invariance(HS, _data("hs_cut4_school.csv"), "school", parameterization="theta")
    steps = pd.read_csv(REF / "hs_we_theta_steps.csv").set_index("step")
    lrt = pd.read_csv(REF / "hs_we_theta_lrt.csv").set_index("step")
    ref_name = {"configural": "configural", "thresholds": "thresholds", "metric": "loadings", "scalar": "intercepts",
                "strict": "residuals"}
    assert list(inv.table["step"]) == list(ref_name)
    for r in inv.table.itertuples():
        ref = steps.loc[ref_name[r.step]]
        assert r.df == ref["df"]
        assert r.chi2_scaled == pytest.approx(ref["chisq.scaled"], rel=TOL_CHI2_REL)
        assert r.cfi_scaled == pytest.approx(ref["cfi.scaled"], abs=TOL_INDEX)
        assert r.rmsea_scaled == pytest.approx(ref["rmsea.scaled"], abs=TOL_INDEX)
    for r in inv.tests.itertuples():
        ref = lrt.loc[ref_name[r.step]]
        assert r.df_diff == ref["df_diff"]
        assert r.chi2_diff == pytest.approx(ref["chisq_diff"], rel=TOL_CHI2_REL)
    assert inv.highest == "metric" and "scalar does not" in inv.verdict



def test_negative_residual_variance_is_warned_per_group():
    """A fixed loading of 1.2 with std.lv: the item's residual variance 1 - 1.44 < 0 in every group."""
    from smsem.exceptions import HeywoodWarning

    with pytest.warns(HeywoodWarning, match="negative \\(residual\\) variance of x1") as rec:
        fit_ordinal_multigroup("visual =~ 1.2*x1 + x2 + x3\n", _data("hs_cut4_school.csv"), "school", std_lv=True)
    assert sorted(str(w.message).split(":")[0] for w in rec) == ["group 'Grant-White'", "group 'Pasteur'"]


@pytest.mark.slow
def test_wu_estabrook_partial_loading():
    """semTools' sequence with group.partial = "visual =~ x2" (released at every step)."""
    from smsem.estimate.categorical.invariance import ordinal_invariance

    inv = ordinal_invariance(HS, _data("hs_cut4_school.csv"), "school", group_partial="visual =~ x2")
    steps = pd.read_csv(REF / "hs_we_partial_steps.csv").set_index("step")
    lrt = pd.read_csv(REF / "hs_we_partial_lrt.csv").set_index("step")
    ref_name = {"configural": "configural", "thresholds": "thresholds", "metric": "loadings", "scalar": "intercepts"}
    for r in inv.table.itertuples():
        ref = steps.loc[ref_name[r.step]]
        assert r.df == ref["df"]
        assert r.chi2_scaled == pytest.approx(ref["chisq.scaled"], rel=TOL_CHI2_REL)
    for r in inv.tests.itertuples():
        ref = lrt.loc[ref_name[r.step]]
        assert r.df_diff == ref["df_diff"]
        assert r.chi2_diff == pytest.approx(ref["chisq_diff"], rel=TOL_CHI2_REL)


@pytest.mark.slow
def test_wu_estabrook_std_lv_tables_equal_semtools():
    """With std_lv, every step's table is semTools' own (ID.fac = "std.lv"): the same free rows and the
    estimates and SEs of lavaan's fit of measEq.syntax (largest measured: 5.0e-5 and 4.6e-5 relative,
    the metric step, where lavaan's optimizer stops early on a flat direction)."""
    from smsem.estimate.categorical.invariance import ordinal_invariance

    inv = ordinal_invariance(HS, _data("hs_cut4_school.csv"), "school", std_lv=True)
    for step, ref in (("configural", "hs_we_configural"), ("thresholds", "hs_we_thresholds"),
                      ("metric", "hs_we_loadings"), ("scalar", "hs_we_intercepts")):
        res = inv.fits[step]
        pt = _partable(ref)
        pt = pt[pt["op"] != "=="]
        j = pt.merge(res.ordinal_table[res.ordinal_table["op"] != "=="], on=["lhs", "op", "rhs", "group"],
                     suffixes=("", "_s"), validate="one_to_one")
        assert len(j) == len(pt) == (res.ordinal_table["op"] != "==").sum()
        np.testing.assert_array_equal(j["free"] > 0, j["free_s"] > 0)
        np.testing.assert_allclose(j["est_s"], j["est"], atol=TOL_EST)
        fr = j[j["free"] > 0]
        np.testing.assert_allclose(fr["se_s"], fr["se"], rtol=TOL_SE_REL)

