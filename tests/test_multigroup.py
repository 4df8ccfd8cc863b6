"""Multiple-group ML against lavaan 0.6.14 (tests/reference/lavaan_groups/, made by
scripts/lavaan_groups_reference.R): HolzingerSwineford1939 by school, 9 cases of
``cfa(model, data, group = "school", group.equal = ..., group.partial = ..., std.lv = ...)``.

lavaan's conventions: normal likelihood (S_g divided by n_g), chi2 = sum_g n_g F_g,
expected information; groups in order of first appearance (school 2 = Pasteur first).
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smsem.estimate.multigroup import fit_multigroup, group_labels
from smsem.exceptions import DataError, OptionError

REF = Path(__file__).parent / "reference" / "lavaan_groups"
DATA = Path(__file__).parent / "reference" / "lavaan_models" / "HolzingerSwineford1939.csv"
CASES = sorted(p.name[:-len(".meta.json")] for p in REF.glob("*.meta.json"))
FIT_NAMES = {"chisq": "chi2", "df": "df", "pvalue": "pvalue", "baseline.chisq": "baseline_chi2",
             "baseline.df": "baseline_df", "cfi": "cfi", "tli": "tli", "rmsea": "rmsea",
             "rmsea.ci.lower": "rmsea_ci_lower", "rmsea.ci.upper": "rmsea_ci_upper", "rmsea.pvalue": "rmsea_pvalue",
             "srmr": "srmr", "logl": "logl", "unrestricted.logl": "unrestricted_logl", "aic": "aic", "bic": "bic",
             "bic2": "bic2", "npar": "npar", "fmin": "fmin", "ntotal": "ntotal"}


def _as_list(v):
    return [v] if isinstance(v, str) and v else (v or [])


@pytest.fixture(scope="module")
def data():
    return pd.read_csv(DATA)


@pytest.fixture(scope="module", params=CASES)
def case(request, data):
    name = request.param
    meta = json.loads((REF / f"{name}.meta.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no convergence or Heywood warning on lavaan's cases
        res = fit_multigroup((REF / f"{name}.lav").read_text(), data, meta["group"],
                             group_equal=_as_list(meta["group_equal"]),
                             group_partial=_as_list(meta["group_partial"]), std_lv=meta["std_lv"])
    ref = pd.read_csv(REF / f"{name}.partable.csv", keep_default_na=False, na_values=[""],
                      dtype={c: str for c in ("lhs", "op", "rhs", "label", "plabel")})
    for c in ("lhs", "op", "rhs", "label"):
        ref[c] = ref[c].fillna("")
    ref = ref[ref["op"].isin(["=~", "~", "~~", "~1"])].reset_index(drop=True)
    fm = pd.read_csv(REF / f"{name}.fit.csv")
    return name, res, ref, dict(zip(fm["name"], fm["value"]))


def test_nine_cases():
    assert len(CASES) == 9


def test_rows_are_lavaans(case):
    name, res, ref, _ = case
    p = res.params
    assert list(p.columns[:4]) == ["lhs", "op", "rhs", "group"]
    for col in ("lhs", "op", "rhs", "label"):
        assert p[col].tolist() == ref[col].tolist(), f"{name}: {col}"
    assert p["group"].tolist() == ref["group"].astype(int).tolist()


def test_estimates(case):
    name, res, ref, _ = case
    # measured max |diff| 1.6e-5 (mg_configural, lavaan's nlminb stopping point; the others
    # <= 7e-6); our gradient is below 1e-8.
    np.testing.assert_allclose(res.params["est"], ref["est"], rtol=0, atol=1e-4, err_msg=name)


def test_standard_errors(case):
    name, res, ref, _ = case
    free = ref["se"].to_numpy(float) > 0
    # measured max relative difference 1.5e-5 (mg_configural); fixed rows: lavaan 0, smsem NaN
    np.testing.assert_allclose(res.params["se"].to_numpy()[free], ref["se"].to_numpy(float)[free], rtol=1e-4,
                               err_msg=name)
    assert res.params["se"][~free].isna().all()


def test_chi2_df_npar(case):
    name, res, _, fm = case
    # measured max relative difference 2e-10
    assert res.fit_indices["chi2"] == pytest.approx(fm["chisq"], rel=1e-6)
    assert res.fit_indices["df"] == fm["df"] and res.fit_indices["npar"] == fm["npar"]
    assert res.fit_indices["ntotal"] == fm["ntotal"] == res.n


@pytest.mark.parametrize("ref_name", sorted(FIT_NAMES))
def test_fit_indices(case, ref_name):
    name, res, _, fm = case
    # measured max |diff| 2e-7 (srmr, mg_configural's estimates 1.6e-5 off), the rest <= 1e-7
    # (relative for logl/AIC/BIC, which are in the thousands)
    got, want = res.fit_indices[FIT_NAMES[ref_name]], fm[ref_name]
    assert got == pytest.approx(want, rel=1e-6, abs=2e-6), f"{name}: {ref_name}"


def test_group_order_is_first_appearance(case, data):
    # lavaan: lavInspect(fit, "group.label") == c("2", "1") on this file (row 1 has school 2)
    _, res, _, _ = case
    assert res.group_labels == ["2", "1"]
    assert res.n_per_group == [int((data["school"] == 2).sum()), int((data["school"] == 1).sum())]


def test_group_labels_helper():
    assert group_labels(pd.Series([2.0, 1.0, np.nan, 2.0, 3.0])) == ["2", "1", "3"]
    assert group_labels(pd.Series(["sales", "marketing", "sales"])) == ["sales", "marketing"]


def test_summary_renders(case):
    _, res, _, _ = case
    text = str(res)
    assert "Group 1 [2]:" in text and "Group 2 [1]:" in text and "CFI" in text


def test_smsem_fit_dispatches(data):
    import smsem

    m = smsem.parse_lavaan if False else None  # noqa: F841
    res = smsem.fit("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9", data,
                    group="school", group_equal="loadings,intercepts")
    fm = pd.read_csv(REF / "mg_scalar.fit.csv")
    assert res.fit_indices["chi2"] == pytest.approx(float(fm.loc[fm["name"] == "chisq", "value"].iloc[0]), rel=1e-6)


HS3 = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9"


def test_bad_group_column(data):
    with pytest.raises(DataError, match="the group column 'dept' is not in the data"):
        fit_multigroup(HS3, data, "dept")
    one = data.assign(one=1)
    with pytest.raises(DataError, match="has 1 level"):
        fit_multigroup(HS3, one, "one")


def test_small_group(data):
    d = data.copy()
    d.loc[:5, "school"] = 3
    with pytest.raises(DataError, match=r"group '3' of 'school' has 6 complete row\(s\) for 9 observed variables"):
        fit_multigroup(HS3, d, "school")


def test_constant_item_in_one_group(data):
    d = data.copy()
    d.loc[d["school"] == 1, "x4"] = 3.0
    with pytest.raises(DataError, match="item x4 is constant in group '1'"):
        fit_multigroup(HS3, d, "school")


def test_unknown_estimator_refused(data):
    # MLM, MLR and FIML with groups: tests/test_multigroup_robust.py (against lavaan)
    with pytest.raises(OptionError, match="--group with --estimator GLS is not supported"):
        fit_multigroup(HS3, data, "school", estimator="GLS")


def test_fixed_covariates_per_group(data):
    # lavaan 0.6.14: sem("visual =~ x1 + x2 + x3\nvisual ~ ageyr + grade", data = hs, group = "school",
    #   group.equal = "loadings"); fixed.x moments per group, 1 row with grade NA dropped.
    # fitMeasures(chisq, df, srmr, logl, bic, rmsea.ci.upper) and the ~ rows' est, se (sprintf %.12g)
    with pytest.warns(UserWarning, match="1 row"):
        res = fit_multigroup("visual =~ x1 + x2 + x3\nvisual ~ ageyr + grade", data, "school",
                             group_equal=["loadings"])
    fi = res.fit_indices
    want = {"chi2": 5.38614599464, "df": 10, "srmr": 0.0196509812275, "logl": -1327.20986207,
            "bic": 2768.49537364, "rmsea_ci_upper": 0.0470436042856}
    for k, v in want.items():  # measured <= 1e-9 relative; the RMSEA CI bound 9e-8 (lavaan's root tolerance)
        assert fi[k] == pytest.approx(v, rel=1e-6, abs=1e-6), k
    reg = res.params[res.params["op"] == "~"]
    np.testing.assert_allclose(reg["est"], [-0.1498003715, 0.5153046284, -0.1993054065, 0.5628799096], atol=1e-5)
    np.testing.assert_allclose(reg["se"], [0.07770024668, 0.1684735665, 0.09684512219, 0.1926672036], rtol=1e-4)


def test_heywood_case_is_warned_per_group(data):
    from smsem.exceptions import HeywoodWarning

    # group '1' (lavaan's group 2) rebuilt so that x2 ~~ x2 is estimated negative (-0.96):
    # it must not pass silently
    d = data.copy()
    rng = np.random.default_rng(1)
    g1 = (d["school"] == 1).to_numpy()
    n = int(g1.sum())
    z, u = rng.standard_normal(n), rng.standard_normal(n)
    d.loc[g1, "x1"] = z + 0.3 * rng.standard_normal(n)
    d.loc[g1, "x2"] = z + 0.3 * rng.standard_normal(n) + 0.8 * u
    d.loc[g1, "x3"] = 0.3 * z + 0.8 * u + 0.5 * rng.standard_normal(n)
    with pytest.warns(HeywoodWarning, match=r"group '1': negative variance estimate for x2 ~~ x2"):
        fit_multigroup("f =~ x1 + x2 + x3", d, "school")


def test_single_group_analyses_refuse_a_multigroup_fit_in_one_line():
    import pandas as pd

    import smsem
    from smsem.exceptions import OptionError

    ref = __import__("pathlib").Path(__file__).parent / "reference"
    data = pd.read_csv(ref / "lavaan_models" / "HolzingerSwineford1939.csv")
    m = smsem.load_model(str(ref / "lavaan_groups" / "mg_configural.lav"))
    res = smsem.fit(m, data, group="school")
    for call in (smsem.effects, smsem.reliability, smsem.bootstrap, smsem.proposition_table):
        with pytest.raises(OptionError, match="of a multiple-group fit is not supported yet") as info:
            call(res)
        assert "\n" not in str(info.value)
