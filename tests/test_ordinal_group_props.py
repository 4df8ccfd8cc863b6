"""The proposition table of ordinal multiple-group fits (smsem.estimate.categorical.group_props):
the per-group block, the group-differences block against lavaan 0.6.14
(scripts/lavaan_wlsmv_group_diffs_reference.R -> tests/reference/lavaan_wlsmv_group_diffs/: each
path labelled c(x1, x2)* with d_x := x2 - x1, HS 4-category items by school) and the stratified
bootstrap.

Tolerances. Measured (the three cases): the difference within 8.2e-6 of lavaan's := estimate, its
SE within 1.8e-5 relative, z within 3.2e-5. Estimates 1e-4 absolute and SEs 1e-3 relative: the
tolerances of tests/test_ordinal_multigroup.py (lavaan stops its optimizer near 1e-5; dividing by N
instead of N - G would move the SEs by 3.3e-3); z 1e-3 absolute (|z| < 1.5 here, so 1e-3 relative
on the SE moves z by less than 1.5e-3 only if both parts err at the bound).
"""

from __future__ import annotations

import json
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smsem.cli import main
from smsem.estimate.categorical.group_props import (ordinal_group_proposition_table, stratified_bootstrap_ordinal)
from smsem.estimate.categorical.multigroup import fit_ordinal_multigroup

REF = Path(__file__).parent / "reference" / "lavaan_wlsmv_group_diffs"
DATA = Path(__file__).parent / "reference" / "lavaan_wlsmv_groups" / "hs_cut4_school.csv"
MODEL = ("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
         "textual ~ visual\nspeed ~ textual + visual\n")
PATHS = {"a": ("textual", "visual"), "b": ("speed", "textual"), "c": ("speed", "visual")}
TOL_EST, TOL_SE_REL, TOL_Z = 1e-4, 1e-3, 1e-3


@lru_cache(maxsize=None)
def _data():
    return pd.read_csv(DATA)


@lru_cache(maxsize=None)
def _fit(case: str):
    meta = json.loads((REF / f"hs_{case}.meta.json").read_text())
    return fit_ordinal_multigroup(MODEL, _data(), "school", estimator=meta["estimator"],
                                  group_equal=meta["group_equal"])


@pytest.mark.parametrize("case", ["configural", "thr_load", "thr_load_ulsmv"])
def test_differences_match_lavaan_defined_parameters(case):
    res = _fit(case)
    pt = ordinal_group_proposition_table(res)
    ref = pd.read_csv(REF / f"hs_{case}_diffs.csv")
    diffs = pt.group_differences
    assert list(diffs["contrast"].unique()) == ["Grant-White - Pasteur"]
    for k, (lhs, rhs) in PATHS.items():
        d = diffs[diffs["path"] == f"{lhs} ~ {rhs}"].iloc[0]
        r = ref[ref["lhs"] == f"d_{k}"].iloc[0]
        assert abs(d["diff"] - r["est"]) < TOL_EST
        assert abs(d["se"] / r["se"] - 1) < TOL_SE_REL
        assert abs(d["z"] - r["z"]) < TOL_Z
        assert abs(d["pvalue"] - r["pvalue"]) < 1e-3
        for g, col in ((1, "est_ref"), (2, "est_group")):
            rg = ref[(ref["label"] == f"{k}{g}")].iloc[0]
            assert abs(d[col] - rg["est"]) < TOL_EST
            # the per-group block: estimate and SE of the path in that group
            row = pt.table[(pt.table["id"] == f"{lhs}~{rhs}") & (pt.table["group"] == res.group_labels[g - 1])]
            assert abs(row["est"].iloc[0] - rg["est"]) < TOL_EST
            assert abs(row["se"].iloc[0] / rg["se"] - 1) < TOL_SE_REL
    assert pt.table["verdict"].eq("no bootstrap").all()


def test_equal_path_has_zero_difference_and_no_test():
    res = fit_ordinal_multigroup(MODEL.replace("textual ~ visual", "textual ~ c(a, a)*visual"), _data(), "school",
                                 group_equal=["thresholds", "loadings"])
    d = ordinal_group_proposition_table(res).group_differences
    row = d[d["path"] == "textual ~ visual"].iloc[0]
    assert row["diff"] == pytest.approx(0.0, abs=1e-12) and row["se"] == 0.0 and np.isnan(row["z"])


def test_stratified_bootstrap_draws_are_resampled_within_groups_and_seeded():
    res = _fit("thr_load")
    b3 = stratified_bootstrap_ordinal(res, MODEL, _data(), 3, seed=11)
    b1 = stratified_bootstrap_ordinal(res, MODEL, _data(), 1, seed=11)
    assert b3.n_failed == 0 and np.all(np.isfinite(b3.estimates))
    # draw b depends on (seed, b) only
    np.testing.assert_array_equal(b3.estimates[:1], b1.estimates)
    np.testing.assert_array_equal(b3.std_all[:1], b1.std_all)
    # draw 0 by hand: each school's rows resampled from that school's rows, sizes kept
    d = _data()
    rng = np.random.default_rng(np.random.SeedSequence(11).spawn(3)[0])
    idx = np.concatenate([np.flatnonzero(d["school"].to_numpy() == g)[rng.integers(0, n, n)]
                          for g, n in zip(res.group_labels, res.n_per_group)])
    draw = d.iloc[idx].reset_index(drop=True)
    assert draw["school"].value_counts()[res.group_labels].tolist() == list(res.n_per_group)
    with warnings.catch_warnings():  # this draw has a Heywood case in Pasteur (kept, as the bootstrap keeps it)
        warnings.simplefilter("ignore")
        f0 = fit_ordinal_multigroup(MODEL, draw, "school", group_equal=["thresholds", "loadings"])
    np.testing.assert_array_equal(f0.x, b3.estimates[0])
    assert not np.allclose(b3.estimates[0], res.x)  # a different sample
    pt = ordinal_group_proposition_table(res, b3, level=0.9)
    diffs = pt.group_differences
    assert diffs["boot_ci_lower"].notna().all() and (diffs["boot_ci_lower"] <= diffs["boot_ci_upper"]).all()
    # the difference CI bounds are quantiles of the draws' differences
    gi = res._internal["gidx"]
    t = res._internal["table"]
    ids = [int(t[(t.group == g) & (t.op == "~") & (t.lhs == "textual") & (t.rhs == "visual")]["id"].iloc[0])
           for g in (1, 2)]
    dd = b3.estimates[:, gi[ids[1]]] - b3.estimates[:, gi[ids[0]]]
    row = diffs[diffs["path"] == "textual ~ visual"].iloc[0]
    assert row["boot_ci_lower"] == pytest.approx(np.quantile(dd, 0.05), abs=1e-15)
    assert row["boot_ci_upper"] == pytest.approx(np.quantile(dd, 0.95), abs=1e-15)
    assert pt.table["ci_lower"].notna().all()


def test_bootstrap_does_not_depend_on_jobs(monkeypatch):
    import smsem.estimate.categorical.group_props as gp

    monkeypatch.setattr(gp, "_CHUNK", 1)  # two chunks of one draw: both workers busy
    res = _fit("thr_load")
    one = stratified_bootstrap_ordinal(res, MODEL, _data(), 2, seed=5, jobs=1)
    two = stratified_bootstrap_ordinal(res, MODEL, _data(), 2, seed=5, jobs=2)
    np.testing.assert_array_equal(one.estimates, two.estimates)
    np.testing.assert_array_equal(one.std_all, two.std_all)
    assert not np.array_equal(one.estimates[0], one.estimates[1])


def test_cli_hypotheses_and_out(tmp_path, capsys):
    m = tmp_path / "m.lav"
    m.write_text(MODEL)
    h = tmp_path / "h.yaml"
    h.write_text('- id: H1\n  path: "textual ~ visual"\n  sign: "+"\n')
    out = tmp_path / "out"
    rc = main(["fit", str(DATA), "--model", str(m), "--ordered", "all", "--group", "school", "--group-equal",
               "thresholds,loadings", "--hypotheses", str(h), "--format", "json", "--out", str(out)])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    gd = doc["propositions"]["group_differences"]
    assert [r["id"] for r in gd] == ["H1"]
    ref = pd.read_csv(REF / "hs_thr_load_diffs.csv")
    assert abs(gd[0]["diff"] - ref[ref["lhs"] == "d_a"]["est"].iloc[0]) < TOL_EST
    assert (out / "group_differences.csv").exists() and (out / "propositions.md").exists()
    csv = pd.read_csv(out / "group_differences.csv")
    assert csv["id"].tolist() == ["H1"]


@pytest.mark.parametrize("case, ge", [("thr_load", ["thresholds", "loadings"]), ("thr", ["thresholds"]),
                                      ("hs4_thr_load", ["thresholds", "loadings"])])
def test_score_tests_match_lavTestScore(case, ge):
    """lavaan 0.6.14's lavTestScore(fit, cumulative = TRUE) (the ordinary score test: its robust-SE
    fallback). Measured: the totals within 6e-8 relative, every X2 above 0.05 within 7.3e-5
    relative, the smaller ones within 2.8e-6 absolute (lavaan's estimates stop near 1e-5). 1e-3
    relative (the suite's SE tolerance) stays below what a wrong group weight ((n_g-1)/N against
    n_g/N: 0.7%) or a missed constraint would move."""
    from smsem.estimate.categorical.score_test import ordinal_score_tests

    if case.startswith("hs4"):  # four groups, school x sex: lavaan's order of the == rows
        res = fit_ordinal_multigroup(MODEL.split("textual ~")[0], pd.read_csv(REF / "hs_cut4_school_sex.csv"), "gs",
                                     group_equal=ge)
    else:
        res = fit_ordinal_multigroup(MODEL.split("textual ~")[0], _data(), "school", group_equal=ge)  # the CFA
    case = case if case.startswith("hs4") else f"hs_{case}"
    st = ordinal_score_tests(res)
    tot = pd.read_csv(REF / f"{case}_score_total.csv").iloc[0]
    assert st.total["df"] == tot["df"] and st.total["X2"] == pytest.approx(tot["X2"], rel=1e-3)
    for name, ours in (("uni", st.univariate), ("cumulative", st.cumulative)):
        ref = pd.read_csv(REF / f"{case}_score_{name}.csv")
        assert ours["lhs"].tolist() == ref["lhs"].tolist() and ours["rhs"].tolist() == ref["rhs"].tolist()
        # atol: near-zero X2s (0.0033) move by up to 1.1e-6 with lavaan's optimizer stop
        np.testing.assert_allclose(ours["X2"].to_numpy(float), ref["X2"].to_numpy(), rtol=1e-3, atol=1e-5)
        assert ours["df"].tolist() == ref["df"].tolist()


@pytest.mark.parametrize("step, ge", [("thresholds", ["thresholds"]), ("loadings", ["thresholds", "loadings"])])
def test_score_tests_on_wu_estabrook_steps_match_lavaan(step, ge):
    """semTools' std.lv thresholds and metric steps (the tables smsem invariance --ordered --std-lv
    fits) against lavTestScore on semTools' syntax. Measured: totals within 3.1e-6 relative, the
    univariate X2 within 4.9e-5 relative / 6.1e-6 absolute; tolerances as above."""
    from smsem.estimate.categorical.score_test import ordinal_score_tests

    res = fit_ordinal_multigroup(MODEL.split("textual ~")[0], _data(), "school", group_equal=ge, std_lv=True,
                                 wu_estabrook=True)
    st = ordinal_score_tests(res)
    tot = pd.read_csv(REF / f"hs_we_{step}_score_total.csv").iloc[0]
    assert st.total["df"] == tot["df"] and st.total["X2"] == pytest.approx(tot["X2"], rel=1e-3)
    ref = pd.read_csv(REF / f"hs_we_{step}_score_uni.csv")
    assert st.univariate["lhs"].tolist() == ref["lhs"].tolist()
    np.testing.assert_allclose(st.univariate["X2"].to_numpy(float), ref["X2"].to_numpy(), rtol=1e-3, atol=1e-5)


def test_invariance_sequence_releases_the_broken_loading():
    """x5 permuted within Grant-White (its marginals, so its thresholds, unchanged; its loading there
    gone): the thresholds step holds, the metric step fails, and the score tests release exactly
    textual=~x5, after which partial metric invariance holds."""
    from smsem.estimate.categorical.invariance import ordinal_invariance

    d = _data().copy()
    gw = (d["school"] == "Grant-White").to_numpy()
    d.loc[gw, "x5"] = np.random.default_rng(1).permutation(d.loc[gw, "x5"].to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # inadmissible-solution warnings of the broken item
        inv = ordinal_invariance(MODEL.split("textual ~")[0], d, "school", std_lv=True)
    assert inv.highest == "thresholds"
    pa = inv.partial
    assert pa["step"] == "metric" and pa["suggested_partial"] == ["textual=~x5"]
    assert pa["score"]["parameter"].iloc[0] == "textual=~x5" and pa["score"]["pvalue"].iloc[0] < 0.001
    assert pa["partial_test"]["chen"] and pa["partial_test"]["df_diff"] == 5
    # the refit is the metric step with textual=~x5 released
    assert pa["partial_fit"].group_partial == ("textual=~x5",)
    assert pa["partial_fit"].fit_indices["df"] == inv.fits["metric"].fit_indices["df"] - 1
    assert 'Partial metric invariance holds with --group-partial "textual=~x5"' in inv.verdict
    assert 'suggested: --group-partial "textual=~x5"' in str(inv)
    from smsem.estimate.categorical.invariance import render_ordinal_invariance

    doc = json.loads(render_ordinal_invariance(inv, "json"))["partial"]
    assert doc["suggested_partial"] == ["textual=~x5"] and doc["partial_test"]["chen"] is True
    assert doc["score_tests"][0]["parameter"] == "textual=~x5" and len(doc["score_tests"]) == 9  # 9 loadings (std.lv)
