"""``a:b`` and ``b:a`` (issue 17): one product. modsem's LMS/QML keep one interaction cell
per unordered pair of an equation (R/model_da.R: omega[row = the non-linear xi, col = the
other]) and print it under the spelling of the syntax; smsem keeps the first spelling of a
latent product everywhere, refuses the same product twice in one equation (modsem would
silently keep the last), and refuses ``x2:x1`` beside ``x1:x2`` for observed variables
(lavaan makes them two identical covariates and its fit fails: "sample covariance matrix is
not positive-definite ... Model estimation FAILED", lavaan 0.6.14)."""

from __future__ import annotations

import pytest

from smsem import SpecError
from smsem.model.partable import lavaanify
from smsem.model.syntax import parse_lavaan

MEAS = "X =~ x1 + x2 + x3\nZ =~ z1 + z2 + z3\nY =~ y1 + y2 + y3\nW =~ w1 + w2 + w3\n"


def test_reversed_latent_product_in_another_equation_is_the_same_product():
    merged = lavaanify(parse_lavaan(MEAS + "Y ~ X + Z + X:Z\nW ~ Y + Z:X"))
    same = lavaanify(parse_lavaan(MEAS + "Y ~ X + Z + X:Z\nW ~ Y + X:Z"))
    assert merged.lv_interactions == [("X:Z", "X", "Z")]
    rows = merged.df[merged.df.rhs.str.contains(":")]
    assert list(zip(rows.lhs, rows.rhs)) == [("Y", "X:Z"), ("W", "X:Z")]
    assert merged.npar == same.npar and merged.df[["lhs", "op", "rhs", "free"]].equals(
        same.df[["lhs", "op", "rhs", "free"]])
    # the first spelling wins whichever it is
    assert lavaanify(parse_lavaan(MEAS + "Y ~ X + Z + Z:X\nW ~ Y + X:Z")).lv_interactions == [("Z:X", "Z", "X")]


@pytest.mark.parametrize("text, line", [
    ("Y ~ X + Z + X:Z + Z:X", 5),         # both orders in one statement
    ("Y ~ X + Z + X:Z\nY ~ Z:X", 6),      # the equation continued on another line
    ("Y ~ X + Z + X:Z\nY ~ X:Z", 6),      # the same spelling twice
])
def test_product_twice_in_one_equation_is_refused_in_one_line(text, line):
    with pytest.raises(SpecError) as info:
        parse_lavaan(MEAS + text)
    msg = str(info.value)
    assert msg.startswith(f"line {line}, ") and "again in the equation of Y" in msg and "\n" not in msg


def test_observed_product_in_both_orders_is_refused_in_one_line():
    with pytest.raises(SpecError, match=r"^line 2, column 5: b:a is the product a:b of line 1 in the other "
                                        r"order .*write a:b$"):
        parse_lavaan("y ~ a + b + a:b\nq ~ b:a")
    # one spelling in two equations stays lavaan's model (one ov.interaction column)
    assert parse_lavaan("y ~ a + b + a:b\nq ~ a:b").observed_interactions == [("a:b", "a", "b")]


@pytest.mark.slow  # an LMS fit at n = 2,000 (a few seconds)
def test_merged_product_in_two_equations_is_recovered_by_lms(tmp_path):
    import smsem
    from smsem.model import load_model
    from smsem.simulate.interaction import interaction_population, population_values

    text = MEAS + "Y ~ X + Z + X:Z\nW ~ Y + Z:X\n"
    path = tmp_path / "two.lav"
    path.write_text(text)
    model = load_model(str(path))
    pt = model.table()
    pop = interaction_population(pt, population_values(pt, interaction=0.3, item_residual=0.36))
    res = smsem.fit(model, pop.draw(2000, seed=3), interaction_method="lms")
    p = res.params.query("op == '~' and rhs == 'X:Z'").set_index("lhs")
    assert list(p.index) == ["Y", "W"]  # one product, two coefficients
    for lhs in ("Y", "W"):
        assert abs(p.loc[lhs, "est"] - 0.3) < 3 * p.loc[lhs, "se"]
