"""The parameter table equals lavaan's ``parTable()`` row by row (issue 12).

References: ``scripts/lavaan_models_reference.R`` -> ``tests/reference/lavaan_models/``
(lavaan 0.6.14). For every case the table must have lavaan's rows in lavaan's order, the
same ``user``, ``free`` numbering, ``exo`` flags, labels, plabels and fixed values; npar
and df are then lavaan's. The comparison is exact: the table is combinatorial, there is
no tolerance to justify.
"""

from __future__ import annotations

import numpy as np
import pytest

from lavaan_models_ref import cases, load
from smsem import SpecError
from smsem.model.partable import lavaanify
from smsem.model.syntax import parse_lavaan

CASES = cases()


def _table_for(case: str):
    ref = load(case)
    meta = ref["meta"]
    return ref, lavaanify(
        ref["syntax"], model_type=meta["model_type"] if meta["model_type"] in ("sem", "growth") else "sem",
        std_lv=bool(meta["std_lv"]), fixed_x=bool(meta["fixed_x"]), orthogonal=bool(meta.get("orthogonal", False)),
        meanstructure=True if meta["options"].get("meanstructure") else None,
        missing="fiml" if meta["missing"] in ("ml", "fiml") else "listwise")


def test_at_least_thirty_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES)
def test_partable_equals_lavaan(case):
    ref, pt = _table_for(case)
    want, got = ref["partable"], pt.df
    assert len(got) == len(want), f"{case}: {len(got)} rows, lavaan has {len(want)}"
    for col in ("lhs", "op", "rhs", "label", "plabel"):
        assert got[col].tolist() == want[col].tolist(), f"{case}: column {col}"
    for col in ("id", "user", "free", "exo", "block", "group"):
        assert got[col].astype(int).tolist() == want[col].astype(int).tolist(), f"{case}: column {col}"
    u_got, u_want = got["ustart"].to_numpy(float), want["ustart"].to_numpy(float)
    # lavaan fills ustart of start() rows, of fixed rows and nothing else (exo rows are NA)
    assert np.array_equal(np.isnan(u_got), np.isnan(u_want)), f"{case}: which ustart are set"
    assert np.allclose(np.nan_to_num(u_got), np.nan_to_num(u_want), rtol=0, atol=0), f"{case}: ustart values"


@pytest.mark.parametrize("case", CASES)
def test_npar_and_df_equal_lavaan(case):
    ref, pt = _table_for(case)
    assert pt.npar == ref["meta"]["npar"]
    assert pt.npar - pt.n_equalities == int(ref["fit"]["npar"])
    assert pt.df_model == int(ref["fit"]["df"])


def test_order_is_deterministic_across_hash_seeds(tmp_path):
    """Row order depends on nothing but the syntax: three processes with different
    PYTHONHASHSEED print identical tables and identical fitted parameter rows."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    ref = Path(__file__).parent / "reference" / "lavaan_models"
    code = ("import warnings, pandas as pd, smsem\n"
            "from smsem.model.partable import lavaanify\n"
            f"text = open({str(ref / 'pd_classic.lav')!r}).read()\n"
            "print(lavaanify(text).df.to_csv(index=False))\n"
            "warnings.simplefilter('ignore')\n"
            f"m = smsem.load_model({str(ref / 'hs_lv_on_covariates.lav')!r})\n"
            f"res = smsem.fit(m, pd.read_csv({str(ref / 'HolzingerSwineford1939.csv')!r}))\n"
            "print(res.params[['lhs', 'op', 'rhs', 'label']].to_csv(index=False))\n")
    outs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.add(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                check=True).stdout)
    assert len(outs) == 1
    assert "visual,~~,textual" in outs.pop()  # auto.cov.y row, as lavaan orients it


@pytest.mark.parametrize("text, fragment", [
    ("f =~ x1 + x2\nf <~ x3", "line 2.*composites"),
    ("f =~ x1 + x2\nx1 | t1", "line 2.*thresholds"),
    ("f =~ x1 + x2:x3", "line 1.*interaction term.*only allowed on the right of '~'"),
    ("y ~ x1 + x1:x2:x3", "line 1.*3-way interaction"),
    ("y ~ x1 + x1:x1", "line 1.*quadratic"),
    ("group: 1\nf =~ x1 + x2", "line 1.*blocks"),
    ("f =~ c(a, b)*x1 + x2", "line 1.*c\\(\\.\\.\\.\\)"),
    ("f =~ lower(0)*x1 + x2", "lower\\(\\) bounds"),
    ("f =~ efa(\"e\")*x1 + x2", "efa\\(\\)"),
    ("f =~ x1 + a*x2\nb == a^2", "line 2.*'b'.*not a label"),
    ("f =~ x1 + x1*x2", "label 'x1' is also a variable"),
])
def test_unsupported_or_wrong_syntax_is_refused_in_one_line(text, fragment):
    with pytest.raises(SpecError, match=fragment) as info:
        lavaanify(parse_lavaan(text))
    assert "\n" not in str(info.value)


def test_growth_defaults():
    pt = lavaanify("i =~ 1*t1 + 1*t2 + 1*t3\ns =~ 0*t1 + 1*t2 + 2*t3", model_type="growth")
    df = pt.df
    ints = df[df.op == "~1"].set_index("lhs")
    assert pt.meanstructure
    assert (ints.loc[["t1", "t2", "t3"], "free"] == 0).all() and (ints.loc[["t1", "t2", "t3"], "ustart"] == 0).all()
    assert (ints.loc[["i", "s"], "free"] > 0).all()


@pytest.mark.parametrize("text", ["f =~ x1 + a*x2\na == 1 +", "f =~ x1 + a*x2\na == 2 a"])
def test_malformed_constraints_are_refused(text):
    with pytest.raises(SpecError, match="line 2") as info:
        lavaanify(parse_lavaan(text))
    assert "\n" not in str(info.value)


def test_functions_in_constraints_are_not_labels():
    pt = lavaanify(parse_lavaan("f =~ x1 + a*x2 + b*x3\nb == exp(a) - 1"))
    assert pt.constraints["rhs"].tolist() == ["exp(a)-1"]


# --- multiple groups (lavaan's group=, group.equal=, group.partial=, c(...) modifiers) -------

GROUPS_REF = __import__("pathlib").Path(__file__).parent / "reference" / "lavaan_groups"
GROUP_CASES = sorted(p.name[:-len(".meta.json")] for p in GROUPS_REF.glob("*.meta.json"))


def _group_table(case):
    import json

    import pandas as pd

    meta = json.loads((GROUPS_REF / f"{case}.meta.json").read_text())
    as_list = (lambda v: [v] if isinstance(v, str) and v else (v or []))
    pt = lavaanify((GROUPS_REF / f"{case}.lav").read_text(), ngroups=meta["ngroups"],
                   group_equal=as_list(meta["group_equal"]), group_partial=as_list(meta["group_partial"]),
                   std_lv=meta["std_lv"])
    ref = pd.read_csv(GROUPS_REF / f"{case}.partable.csv", keep_default_na=False, na_values=[""],
                      dtype={c: str for c in ("lhs", "op", "rhs", "label", "plabel")})
    for c in ("lhs", "op", "rhs", "label", "plabel"):
        ref[c] = ref[c].fillna("")
    fit = pd.read_csv(GROUPS_REF / f"{case}.fit.csv")
    return pt, ref, dict(zip(fit["name"], fit["value"]))


def test_group_cases_exist():
    assert len(GROUP_CASES) >= 8


@pytest.mark.parametrize("case", GROUP_CASES)
def test_group_partable_equals_lavaan(case):
    pt, ref, fit = _group_table(case)
    got = pt.df
    assert len(got) == len(ref), f"{case}: {len(got)} rows, lavaan has {len(ref)}"
    for col in ("lhs", "op", "rhs", "label", "plabel"):
        assert got[col].tolist() == ref[col].tolist(), f"{case}: column {col}"
    for col in ("user", "block", "group", "free", "exo"):
        assert got[col].astype(int).tolist() == ref[col].astype(int).tolist(), f"{case}: column {col}"
    u_got, u_want = got["ustart"].to_numpy(float), ref["ustart"].to_numpy(float)
    assert np.array_equal(np.isnan(u_got), np.isnan(u_want)) and np.allclose(np.nan_to_num(u_got),
                                                                              np.nan_to_num(u_want), rtol=0, atol=0)
    assert pt.npar - pt.n_equalities == int(fit["npar"])
    assert pt.df_model == int(fit["df"])


def test_c_modifier_needs_one_value_per_group():
    with pytest.raises(SpecError, match=r"line 1: c\(\.\.\.\) .* has 3 value\(s\) but the model has 2 group"):
        lavaanify("f =~ x1 + c(a, b, c)*x2 + x3", ngroups=2)


def test_unknown_group_equal_is_refused():
    with pytest.raises(SpecError, match="group.equal value 'loading' is not one of"):
        lavaanify("f =~ x1 + x2 + x3", ngroups=2, group_equal=["loading"])


def test_latent_interaction_rows():
    """A product with a latent factor is one free regression row and nothing else: no
    variance, covariance or intercept rows, not an observed variable (lavaan refuses the
    model; smsem's interaction methods read this row)."""
    pt = lavaanify(parse_lavaan("f =~ x1 + x2 + x3\ng =~ y1 + y2 + y3\ny5 ~ f + g + f:g"))
    rows = pt.df[(pt.df["lhs"].str.contains(":")) | (pt.df["rhs"].str.contains(":"))]
    assert list(zip(rows.lhs, rows.op, rows.rhs)) == [("y5", "~", "f:g")]
    assert rows["free"].iloc[0] > 0
    assert "f:g" not in pt.ov and "f:g" not in pt.lv
    assert pt.lv_interactions == [("f:g", "f", "g")] and pt.ov_interactions == []
    # the same model without the product has exactly one parameter fewer
    assert pt.npar == lavaanify(parse_lavaan("f =~ x1 + x2 + x3\ng =~ y1 + y2 + y3\ny5 ~ f + g")).npar + 1


def test_observed_interaction_is_the_product_of_the_raw_columns():
    import pandas as pd

    from smsem.estimate.results import with_interaction_products
    from smsem.model.spec import SEMModel

    parsed = parse_lavaan("y ~ x1 + x2 + x1:x2")
    assert parsed.observed_interactions == [("x1:x2", "x1", "x2")] and parsed.latent_interactions == []
    data = pd.DataFrame({"y": [1.0, 2, 3], "x1": [1.0, -2, np.nan], "x2": [3.0, 4, 5]})
    out = with_interaction_products(SEMModel("m", "", parsed, {}, (), None), data)
    assert "x1:x2" not in data.columns  # the caller's frame is untouched
    assert out["x1:x2"].tolist()[:2] == [3.0, -8.0] and np.isnan(out["x1:x2"].iloc[2])
