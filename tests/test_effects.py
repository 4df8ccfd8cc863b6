"""Effects and user-defined parameters (``:=``) against lavaan 0.6.14.

Reference values: tests/reference/semtools/integrative_labelled.* and integrative_equal.*,
written by ``Rscript scripts/semtools_reference.R`` (lavaan ``sem()`` defaults,
likelihood = "normal", expected information; see the *.meta.json files).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.estimate.effects import EFFECT_COLUMNS, compile_defined, delta_se, effects, jacobian
from smsem.model.syntax import parse_lavaan

from conftest import ROOT

REF = ROOT / "tests" / "reference" / "semtools"
DATA = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"
# The conformance tolerances: estimates 1e-3 absolute (semopy and lavaan stop their
# optimizers at different points: the estimates differ by ~1e-4), SEs 1% relative.
EST_TOL = 1e-3
SE_RTOL = 0.01


@pytest.fixture(scope="module")
def survey() -> pd.DataFrame:
    return pd.read_csv(DATA)


@pytest.fixture(scope="module")
def labelled(survey):
    return smsem.fit(smsem.load_model(str(REF / "integrative_labelled.lav")), survey)


@pytest.fixture(scope="module")
def plain(survey):
    return smsem.fit(smsem.load_model("integrative"), survey)


def _ref(case: str) -> pd.DataFrame:
    return pd.read_csv(REF / f"{case}.defined.csv")


def test_defined_parameters_match_lavaan(labelled):
    ref = _ref("integrative_labelled")
    ref = ref[ref.op == ":="].set_index("name")
    got = smsem.effects(labelled).defined.set_index("name")
    assert list(got.index) == list(ref.index)
    np.testing.assert_allclose(got["est"], ref["est"], atol=EST_TOL, rtol=0)
    np.testing.assert_allclose(got["se"], ref["se"], rtol=SE_RTOL)
    np.testing.assert_allclose(got["std_all"], ref["est_std"], atol=EST_TOL, rtol=0)
    np.testing.assert_allclose(got["std_se"], ref["se_std"], rtol=SE_RTOL)
    # Wald CI and z follow from est and se
    np.testing.assert_allclose(got["ci_upper"] - got["ci_lower"], 2 * 1.959963984540054 * got["se"], rtol=1e-12)
    np.testing.assert_allclose(got["z"], got["est"] / got["se"], rtol=1e-12)


def test_automatic_chains_of_the_integrative_model(plain):
    eff = smsem.effects(plain)
    assert list(eff.table.columns) == EFFECT_COLUMNS
    assert eff.outcomes == ["OP"]
    chains = set(eff.table.loc[eff.table.kind == "indirect", "path"])
    expected = {
        "IS -> IC -> EA -> OP", "SL -> IC -> EA -> OP", "IC -> EA -> OP",
        "COM -> IS -> IC -> EA -> OP", "COM -> SL -> IC -> EA -> OP", "COM -> IC -> EA -> OP", "COM -> EA -> OP",
        "MA -> IS -> IC -> EA -> OP", "MA -> SL -> IC -> EA -> OP", "MA -> IC -> EA -> OP", "MA -> EA -> OP",
    }
    assert chains == expected
    assert set(eff.table.loc[eff.table.kind == "total", "source"]) == {"COM", "MA", "IS", "SL", "IC", "EA"}
    # Sum of the specific indirect effects = total indirect ((I-B)^-1 route), both metrics
    for src in ("COM", "MA"):
        spec = eff.table[(eff.table.source == src) & (eff.table.kind == "indirect")]
        tot = eff.get(src, "total_indirect")
        assert spec["est"].sum() == pytest.approx(tot["est"], abs=1e-12)
        assert spec["std_all"].sum() == pytest.approx(tot["std_all"], abs=1e-12)
    # direct + total indirect = total where a direct path exists (EA -> OP only)
    assert eff.get("EA", "direct")["est"] == pytest.approx(plain.path("OP", "EA")["est"], abs=1e-12)
    assert eff.get("EA", "total")["est"] == pytest.approx(eff.get("EA", "direct")["est"], abs=1e-12)


def test_automatic_effects_match_lavaan_defined(plain):
    """The automatic chains equal the labelled model's := parameters fitted by lavaan."""
    ref = _ref("integrative_labelled").set_index("name")
    eff = smsem.effects(plain)
    pairs = {
        "ind_IS": eff.get("IS", "indirect"),
        "ind_SL": eff.get("SL", "indirect"),
        "ind_COM_IS": eff.get("COM", "indirect", path="COM -> IS -> IC -> EA -> OP"),
        "ind_COM_SL": eff.get("COM", "indirect", path="COM -> SL -> IC -> EA -> OP"),
        "ind_COM_IC": eff.get("COM", "indirect", path="COM -> IC -> EA -> OP"),
        "ind_COM_EA": eff.get("COM", "indirect", path="COM -> EA -> OP"),
        "total_COM": eff.get("COM", "total"),
    }
    for name, row in pairs.items():
        r = ref.loc[name]
        assert row["est"] == pytest.approx(r["est"], abs=EST_TOL), name
        assert row["se"] == pytest.approx(r["se"], rel=SE_RTOL), name
        assert row["std_all"] == pytest.approx(r["est_std"], abs=EST_TOL), name
        assert row["std_se"] == pytest.approx(r["se_std"], rel=SE_RTOL), name


def test_numerical_gradient_equals_sobel(plain):
    """Delta-method SE of a*b*d by central differences = the analytic (Sobel) gradient."""
    pm, th, v = plain.param_map, plain.start, plain.vcov
    k = [pm.index("IC", "~", "IS"), pm.index("EA", "~", "IC"), pm.index("OP", "~", "EA")]
    a, b, d = th[k]
    grad = np.zeros(len(th))
    grad[k] = [b * d, a * d, a * b]
    se_exact = np.sqrt(grad @ v @ grad)
    se_num = smsem.effects(plain).get("IS", "indirect")["se"]
    assert se_num == pytest.approx(se_exact, rel=1e-7)
    # jacobian() itself on a cubic: exact up to rounding (the cubic's third derivative term)
    f = lambda t: np.array([t[0] ** 3, t[0] * t[1]])  # noqa: E731
    jac = jacobian(f, np.array([2.0, -3.0]))
    np.testing.assert_allclose(jac, [[12.0, 0.0], [-3.0, 2.0]], rtol=1e-8)
    assert delta_se(np.array([[1.0, 1.0]]), np.array([[1.0, 0.5], [0.5, 2.0]]))[0] == pytest.approx(2.0)


def test_equality_constraint_by_shared_label(survey):
    res = smsem.fit(smsem.load_model(str(REF / "integrative_equal.lav")), survey)
    assert res.path("IC", "IS")["est"] == res.path("IC", "SL")["est"]
    ref = pd.read_csv(REF / "integrative_equal.params.csv")
    merged = res.params.merge(ref, on=["lhs", "op", "rhs"], suffixes=("", "_ref"))
    assert len(merged) == len(ref)  # every lavaan parameter found
    np.testing.assert_allclose(merged["est"], merged["est_ref"], atol=EST_TOL, rtol=0)
    d = _ref("integrative_equal").set_index("name").loc["ind"]
    row = smsem.effects(res).defined.set_index("name").loc["ind"]
    assert row["est"] == pytest.approx(d["est"], abs=EST_TOL)
    assert row["se"] == pytest.approx(d["se"], rel=SE_RTOL)
    assert row["std_all"] == pytest.approx(d["est_std"], abs=EST_TOL)
    assert row["std_se"] == pytest.approx(d["se_std"], rel=SE_RTOL)


def test_labelled_marker_stays_fixed(survey, plain):
    """lavaan keeps a labelled first loading fixed to 1; so must smsem (semopy would free it)."""
    text = (ROOT / "models" / "integrative.lav").read_text().replace("COM =~ COM1", "COM =~ l1*COM1")
    m2 = smsem.SEMModel("marker", text + "\nx := 2*l1\n", parse_lavaan(text + "\nx := 2*l1\n"), {}, (), None)
    res = smsem.fit(m2, survey)
    assert res.fit_indices["chi2"] == pytest.approx(plain.fit_indices["chi2"], rel=1e-9)
    row = smsem.effects(res).defined.iloc[0]
    assert row["est"] == 2.0 and row["se"] == 0.0


def _defs(text: str):
    base = "f =~ x1 + x2 + x3\ny ~ a*f + b*x4\n"
    return compile_defined(parse_lavaan(base + text))


@pytest.mark.parametrize("expr, env, expected", [
    ("a*b", {"a": 2, "b": 3}, 6.0),
    ("2*a^2", {"a": 3, "b": 0}, 18.0),        # R precedence: 2*(a^2), not (2*a) xor 2
    ("-a**2 + b/4", {"a": 3, "b": 2}, -8.5),
    ("(a - b) * -1", {"a": 1, "b": 4}, 3.0),
    ("a / b", {"a": 1, "b": 0}, float("nan")),
])
def test_expression_evaluator(expr, env, expected):
    (d, f), = _defs(f"z := {expr}\n")
    got = f(env)
    if np.isnan(expected):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(expected)


@pytest.mark.parametrize("expr, message", [
    ("a*c", "line 3: defined parameter 'z := a*c': unknown label 'c'"),
    ("sqrt(a)", "is not allowed"),
    ("__import__('os')", "is not allowed"),
    ("a.real", "is not allowed"),
    ("a +* b", "not a valid arithmetic expression"),
    ("True * a", "is not allowed"),
])
def test_expression_errors_name_the_line(expr, message):
    with pytest.raises(smsem.SpecError, match=message.replace("(", r"\(").replace(")", r"\)").replace("*", r"\*")):
        _defs(f"z := {expr}\n")


def test_defined_name_clash_and_forward_reference():
    with pytest.raises(smsem.SpecError, match="line 3: 'a' is already a label"):
        _defs("a := b*2\n")
    with pytest.raises(smsem.SpecError, match="unknown label 'w'"):
        _defs("z := w\nw := a\n")
    assert [d.name for d, _ in _defs("z := a\nw := z*b\n")] == ["z", "w"]


def test_feedback_loop_is_rejected():
    from smsem.estimate.effects import _check_acyclic, _graph

    g = _graph(parse_lavaan("f =~ x1 + x2\ng =~ x3 + x4\nf ~ g\ng ~ f\n"))
    with pytest.raises(smsem.SpecError, match="feedback loop"):
        _check_acyclic(g)


def test_bad_outcome_and_level(plain):
    with pytest.raises(smsem.SpecError, match="outcome 'XX'"):
        effects(plain, "XX")
    with pytest.raises(smsem.OptionError, match="level"):
        effects(plain, level=1.5)
    e = effects(plain, "IC", level=0.9)
    assert set(e.table.source) == {"COM", "MA", "IS", "SL"}
    r = e.get("COM", "direct")
    assert r["ci_upper"] - r["est"] == pytest.approx(1.6448536269514722 * r["se"], rel=1e-12)
