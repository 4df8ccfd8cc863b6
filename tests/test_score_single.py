"""Single-group score tests of equality constraints equal lavaan's ``lavTestScore``.

References: scripts/lavaan_score_reference.R -> tests/reference/lavaan_score/.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import smsem
from conftest import ROOT

REF = ROOT / "tests" / "reference" / "lavaan_score"
LAV = ROOT / "tests" / "reference" / "lavaan"
CASES = {
    "hs_constraints": (ROOT / "tests" / "reference" / "lavaan_after" / "hs_constraints.lav",
                       LAV / "HolzingerSwineford1939.csv", "listwise"),
    "poldem_equal": (REF / "poldem_equal.lav", LAV / "PoliticalDemocracy.csv", "listwise"),
    "integrative_equal": (REF / "integrative_equal.lav", ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv",
                          "listwise"),
    "integrative_equal_fiml": (REF / "integrative_equal.lav",
                               ROOT / "data" / "synthetic" / "integrative_n300_seed1_missing.csv", "fiml"),
}
# X2 is a function of the estimates, which lavaan stops at its optimizer's tolerance (nlminb,
# rel. 1e-10 on F): measured largest differences 2e-5 (poldem), 5e-6 (FIML); 1e-4 keeps a
# 5x margin and still fails any wrong information matrix (the observed information under
# FIML gives differences of 2.5e-3) or a wrong constraint.
ATOL = 1e-4


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    model, data, missing = CASES[request.param]
    res = smsem.fit(smsem.load_model(str(model)), pd.read_csv(data), missing=missing)
    return request.param, res.score_tests()


@pytest.mark.parametrize("part", ["total", "uni", "cumulative"])
def test_score_tests_equal_lavTestScore(case, part):
    name, sc = case
    ref = pd.read_csv(REF / f"{name}.score_{part}.csv")
    got = sc[part]
    assert len(got) == len(ref)
    if part != "total":
        assert list(got["lhs"]) == list(ref["lhs"]) and list(got["rhs"]) == list(ref["rhs"])
    np.testing.assert_allclose(got["X2"], ref["X2"], rtol=0, atol=ATOL)
    assert list(got["df"]) == list(ref["df"])
    np.testing.assert_allclose(got["pvalue"], ref["p.value"], rtol=0, atol=ATOL)


def test_param_names_the_tied_row():
    model, data, _ = CASES["poldem_equal"]
    sc = smsem.fit(smsem.load_model(str(model)), pd.read_csv(data)).score_tests()
    params = dict(zip(sc["uni"]["lhs"], sc["uni"]["param"]))
    assert params["r1"] == "dem60 ~ ind60"
    assert params[".p5."] == "dem60 =~ y2"


def test_refusals_are_one_line(fitted, model, survey):
    with pytest.raises(smsem.OptionError, match="no equality constraint"):
        fitted.score_tests()
    res = smsem.fit(smsem.load_model(str(CASES["hs_constraints"][0])),
                    pd.read_csv(CASES["hs_constraints"][1]), estimator="MLM")
    with pytest.raises(smsem.OptionError, match="estimator ML"):
        res.score_tests()
