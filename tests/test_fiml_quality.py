"""Measurement quality of a FIML fit: HTMT reads the same EM moments as alpha, CR and AVE,
as semTools' ``htmt(model, data, missing = "ml")`` (scripts/semtools_fiml_reference.R), and
the reports say which moments and how many respondents every statistic uses."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import smsem
from conftest import ROOT

REF = ROOT / "tests" / "reference" / "semtools"


@pytest.fixture(scope="module")
def hs():
    data = pd.read_csv(ROOT / "tests" / "reference" / "lavaan_models" / "HolzingerSwineford1939_mcar.csv")
    model = smsem.load_model(str(REF / "hs.lav"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smsem.fit(model, data, missing="fiml")
    return res, smsem.reliability(res)


def test_htmt_equals_semtools_missing_ml(hs):
    """HTMT is a function of the EM moments only (no model estimate). smsem's EM converges to
    1e-10; semTools' lavCor stops lavaan's EM at its default em.h1.tol (a parameter change
    of 1e-5), which moves HTMT by 6.5e-7 (measured): compared to 5e-6."""
    res, q = hs
    ref = pd.read_csv(REF / "hs_fiml.htmt.csv")
    for r in ref.itertuples(index=False):
        assert q.htmt.loc[r.b, r.a] == pytest.approx(r.htmt_ml, abs=5e-6)
        assert q.htmt2.loc[r.b, r.a] == pytest.approx(r.htmt2_ml, abs=5e-6)
        # the complete-case (listwise) value differs by more than the tolerance
        assert abs(q.htmt.loc[r.b, r.a] - r.htmt_listwise) > 1e-3
    assert q.moments == "EM" and q.n == res.n == 301


def test_reports_state_the_moments_and_n(hs):
    from smsem.report.formats import render_quality

    _, q = hs
    text = render_quality(q, "text")
    assert text.count("EM estimates") == 2 and "n = 301" in text and "complete cases" not in text
    assert '"moments": "EM"' in render_quality(q, "json")


def test_complete_data_quality_says_complete_cases():
    from smsem.report.formats import render_quality

    data = pd.read_csv(ROOT / "tests" / "reference" / "lavaan_models" / "HolzingerSwineford1939_mcar.csv")
    model = smsem.load_model(str(REF / "hs.lav"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = smsem.reliability(smsem.fit(model, data))
    assert q.moments == "complete cases" and q.n == len(data[[f"x{i}" for i in range(1, 10)]].dropna())
    assert f"complete cases: n = {q.n}" in render_quality(q, "text")
