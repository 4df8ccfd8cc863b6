"""smsem.model.expressions: lavaan constraint / := expressions, parsed safely."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsem.exceptions import SpecError
from smsem.model.expressions import Expr, parse_expression
from smsem.model.expressions import parse_expression as P_

NAMES = ["a", "b", ".p2.", "c_1", "ind.xy"]

# ---------------------------------------------------------------- random expressions
# A tree is generated together with its Python twin (text, python_text) so the evaluator is
# checked against Python's own arithmetic, not against itself.
_values = st.floats(min_value=-3, max_value=3, allow_nan=False).map(lambda v: round(v, 3))


def _leaf():
    num = st.floats(min_value=0, max_value=5, allow_nan=False).map(lambda v: round(v, 2)).map(
        lambda v: (repr(v), repr(v))
    )
    name = st.sampled_from(NAMES).map(lambda n: (n, f"env[{n!r}]"))
    return num | name


def _extend(children):
    binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(
        lambda t: (f"({t[0][0]}) {t[1]} ({t[2][0]})", f"({t[0][1]}) {t[1]} ({t[2][1]})")
    )
    power = st.tuples(children, st.sampled_from([2, 3])).map(
        lambda t: (f"({t[0][0]})^{t[1]}", f"({t[0][1]})**{t[1]}")
    )
    neg = children.map(lambda t: (f"-({t[0]})", f"-({t[1]})"))
    func = st.tuples(st.sampled_from(["exp", "abs", "sin", "cos"]), children).map(
        lambda t: (f"{t[0]}(({t[1][0]}) / 10)", f"{_PY[t[0]]}(({t[1][1]}) / 10)")
    )
    return binary | power | neg | func


_PY = {"exp": "math.exp", "abs": "abs", "sin": "math.sin", "cos": "math.cos"}
expressions = st.recursive(_leaf(), _extend, max_leaves=8)


def _python(py_text: str, env: dict) -> float:
    # the *test* uses Python arithmetic as the independent oracle; smsem never does
    try:
        return float(eval(py_text, {"math": math, "abs": abs}, {"env": env}))  # noqa: S307
    except (ZeroDivisionError, OverflowError):
        return math.nan


@settings(max_examples=300, deadline=None)
@given(expressions, st.fixed_dictionaries({n: _values for n in NAMES}))
def test_evaluate_matches_python_arithmetic(pair, env):
    text, py_text = pair
    expected = _python(py_text, env)
    got = parse_expression(text).evaluate(env)
    if not math.isfinite(expected) or abs(expected) > 1e12:
        return
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=200, deadline=None)
@given(expressions, st.fixed_dictionaries({n: _values for n in NAMES}))
def test_canonical_text_round_trips(pair, env):
    e = parse_expression(pair[0])
    again = parse_expression(str(e))
    assert again.names == e.names
    assert str(again) == str(e)
    v1, v2 = e.evaluate(env), again.evaluate(env)
    assert (math.isnan(v1) and math.isnan(v2)) or v1 == pytest.approx(v2, rel=1e-12, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(expressions, st.fixed_dictionaries({n: st.floats(0.2, 2.0) for n in NAMES}))
def test_gradient_matches_central_differences(pair, env):
    e = parse_expression(pair[0])
    wrt = sorted(e.names)
    if not wrt:
        return
    g = e.gradient(env, wrt)
    for j, n in enumerate(wrt):
        h = 1e-6
        up, down = dict(env), dict(env)
        up[n] += h
        down[n] -= h
        fd = (e.evaluate(up) - e.evaluate(down)) / (2 * h)
        if not (math.isfinite(fd) and math.isfinite(g[j])) or abs(fd) > 1e6:
            continue
        assert g[j] == pytest.approx(fd, rel=1e-4, abs=1e-5)


# ---------------------------------------------------------------- R's precedence
@pytest.mark.parametrize(
    "text, value",
    [
        ("-2^2", -4.0),  # R: -(2^2)
        ("2^-1", 0.5),
        ("2^3^2", 512.0),  # right-associative
        ("2**3", 8.0),  # R accepts ** for ^
        ("8/4/2", 1.0),
        ("1 - 2 - 3", -4.0),
        ("-(1 + 2) * 3", -9.0),
        ("sqrt(16) + log(exp(2)) + abs(-3)", 9.0),
        (".5 + 1e-1 + 2E1", 20.6),
    ],
)
def test_r_precedence(text, value):
    assert parse_expression(text).evaluate({}) == pytest.approx(value, rel=1e-15)


def test_normal_cdf_and_quantile_as_in_r():
    # R: pnorm(1.5) = 0.933192798731142, qnorm(0.975) = 1.95996398454005
    assert P_("pnorm(1.5)").evaluate({}) == pytest.approx(0.933192798731142, rel=1e-14)
    assert P_("qnorm(0.975)").evaluate({}) == pytest.approx(1.95996398454005, rel=1e-14)
    g = P_("pnorm(a) + qnorm(b) + tan(a)").gradient({"a": 0.3, "b": 0.8}, ["a", "b"])
    z = 0.8416212335729143  # qnorm(0.8)
    expected = [math.exp(-0.045) / math.sqrt(2 * math.pi) + 1 / math.cos(0.3) ** 2,
                math.sqrt(2 * math.pi) * math.exp(0.5 * z * z)]
    np.testing.assert_allclose(g, expected, rtol=1e-12)


def test_names_include_plabels_and_dotted_labels():
    e = parse_expression(".p2. * ind.xy + b_1 - exp(a)")
    assert e.names == {".p2.", "ind.xy", "b_1", "a"}
    assert isinstance(e, Expr)


def test_vectorised_over_draws():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 5000))
    e = parse_expression("a*b + a^2 - sqrt(abs(b))")
    got = e.evaluate({"a": a, "b": b})
    assert got.shape == (5000,)
    np.testing.assert_allclose(got, a * b + a**2 - np.sqrt(np.abs(b)), rtol=1e-14)
    g = e.gradient({"a": a, "b": b}, ["a", "b"])
    assert g.shape == (5000, 2)
    np.testing.assert_allclose(g[:, 0], b + 2 * a, rtol=1e-13)
    np.testing.assert_allclose(g[:, 1], a - np.sign(b) / (2 * np.sqrt(np.abs(b))), rtol=1e-13)


def test_gradient_of_power_with_a_parameter_exponent():
    e = parse_expression("a^b")
    g = e.gradient({"a": 2.0, "b": 3.0}, ["a", "b", "z"])
    np.testing.assert_allclose(g, [3 * 4.0, 8.0 * math.log(2.0), 0.0], rtol=1e-14)


def test_domain_errors_give_nan_not_exceptions():
    assert math.isnan(parse_expression("log(a)").evaluate({"a": -1.0}))
    assert math.isinf(parse_expression("1/a").evaluate({"a": 0.0}))


def test_substitute_defined_parameters_recursively():
    defs = {"ab": parse_expression("a*b"), "tot": parse_expression("ab + c")}
    e = parse_expression("tot - 1").substitute(defs)
    assert e.names == {"a", "b", "c"}
    assert e.evaluate({"a": 2.0, "b": 3.0, "c": 1.0}) == 6.0


def test_substitute_refuses_a_cycle():
    defs = {"u": parse_expression("v + 1"), "v": parse_expression("u * 2")}
    with pytest.raises(SpecError, match="refers to itself"):
        parse_expression("u").substitute(defs)


def test_missing_value_is_a_clear_error():
    with pytest.raises(SpecError, match="no value for 'b'"):
        parse_expression("a + b").evaluate({"a": 1.0})


# ---------------------------------------------------------------- refusal, in one line
@pytest.mark.parametrize(
    "bad, fragment",
    [
        ("a b", "missing operator between 'a' and 'b'"),
        ("2a", "missing operator"),
        ("dnorm(a)", "unknown function 'dnorm'"),
        ("__import__('os')", "unexpected character '_'"),
        ("os.system(x)", "unknown function 'os.system'"),
        ("a == b", "unexpected character '='"),
        ("a[1]", "unexpected character '['"),
        ("exp", "'exp' is a function"),
        ("(a + b", "expected ')'"),
        ("a + b)", "unexpected ')'"),
        ("", "empty expression"),
        ("a +", "incomplete expression"),
        ("log(a, 10)", "'log' takes one argument"),
        ("'a'", "unexpected character"),
        ("a; b", "unexpected character ';'"),
    ],
)
def test_refuses_in_one_line(bad, fragment):
    statement = f"b == {bad}"
    with pytest.raises(SpecError) as info:
        parse_expression(bad, 7, statement=statement)
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("line 7: ")
    assert fragment in msg
    assert msg.endswith(f"in '{statement.strip()}'")


def test_a_dotted_name_is_only_a_name():
    # R allows dots and underscores inside names: `a.__class__` is a label, not an attribute
    e = parse_expression("a.__class__ + 1")
    assert e.names == {"a.__class__"}
    assert e.evaluate({"a.__class__": 1.0}) == 2.0


def test_where_may_be_text():
    with pytest.raises(SpecError, match=r"^model\.lav:3: unknown function"):
        parse_expression("foo(a)", "model.lav:3")


def test_never_calls_eval(monkeypatch):
    import builtins

    def boom(*args, **kwargs):  # pragma: no cover - must not run
        raise AssertionError("eval called")

    monkeypatch.setattr(builtins, "eval", boom)
    assert parse_expression("a^2 + 0.3").evaluate({"a": 1.0}) == pytest.approx(1.3)
