"""lavaan syntax parser: structure, modifiers, errors with line numbers, round trip."""

import pytest

from smsem import SpecError, parse_lavaan


def test_integrative_structure(model):
    p = model.parsed
    assert p.latents == ["COM", "MA", "IS", "SL", "IC", "EA", "OP"]
    assert len(model.items) == 22
    for lat in p.latents:
        assert len(p.indicators(lat)) >= 3
    regs = {(r.lhs, r.rhs) for r in p.regressions}
    assert ("IC", "IS") in regs and ("IC", "SL") in regs and ("EA", "IC") in regs and ("OP", "EA") in regs
    assert len(regs) == 12


def test_modifiers_continuation_and_multi_lhs():
    p = parse_lavaan("""
        F =~ 1*x1 + a*x2 +
             NA*x3   # comment
        y1 + y2 ~ b*F ; x1 ~~ x2
        ab := a*b
    """)
    by = {(s.lhs, s.op, s.rhs): s for s in p.parameters}
    assert by[("F", "=~", "x1")].fixed == 1.0
    assert by[("F", "=~", "x2")].label == "a"
    assert by[("F", "=~", "x3")].fixed is None and by[("F", "=~", "x3")].label is None
    assert by[("y1", "~", "F")].label == "b" and by[("y2", "~", "F")].label == "b"
    assert ("x1", "~~", "x2") in by
    assert p.defined[0].name == "ab" and p.defined[0].expression == "a*b"


def test_round_trip(model):
    again = parse_lavaan(model.parsed.to_lavaan())
    assert again.parameters == tuple(
        type(s)(s.lhs, s.op, s.rhs, s.label, s.fixed, line=i + 1) for i, s in enumerate(model.parsed.parameters)
    )


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("F =~ x1 + x2\nF x3", "line 2, column 1: no operator"),
        ("F =~ x1 + + x2", "empty term"),
        ("F =~ x1\n  =~ x2", "line 2"),
        ("F =~ 2x*x1", "modifier"),
        ("F =~ x1\nF =~ x1", "already specified on line 1"),
        ("y ~ x ~ z", "two operators"),
        ("", "no statements"),
    ],
)
def test_errors_name_the_line(text, fragment):
    with pytest.raises(SpecError, match=fragment):
        parse_lavaan(text)
