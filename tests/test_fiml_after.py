"""Modification indices of a FIML fit equal lavaan's ``modindices()`` on ``missing = "ml"``;
residuals as lavaan's ``lavResiduals()`` (tests/test_fiml_residuals.py).

Reference: scripts/lavaan_fiml_after_reference.R -> tests/reference/lavaan_fiml_after/.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import smsem
from conftest import ROOT

REF = ROOT / "tests" / "reference" / "lavaan_fiml_after"
MISSING = ROOT / "data" / "synthetic" / "integrative_n300_seed1_missing.csv"


@pytest.fixture(scope="module")
def fiml_res(model):
    return smsem.fit(model, pd.read_csv(MISSING), missing="fiml")


def test_modindices_equal_lavaan(fiml_res):
    got = fiml_res.modindices()
    ref = pd.read_csv(REF / "integrative_fiml.mi.csv")
    assert len(got) == len(ref) == 393
    both = got.merge(ref, on=["lhs", "op", "rhs"], suffixes=("", "_lav"))
    assert len(both) == len(ref)  # the same candidate rows
    # The tolerance for mi (measured largest difference 1.3e-4: lavaan's estimates
    # stop at its optimizer's tolerance); EPCs and their standardized forms to 1e-4
    # (measured 3e-5).
    np.testing.assert_allclose(both["mi"], both["mi_lav"], rtol=0, atol=1e-3)
    for ours, theirs in (("epc", "epc_lav"), ("sepc_lv", "sepc.lv"), ("sepc_all", "sepc.all"),
                         ("sepc_nox", "sepc.nox")):
        np.testing.assert_allclose(both[ours], both[theirs], rtol=0, atol=1e-4)
    # Sorted as lavaan: the largest first, the same top row.
    assert tuple(got.iloc[0][["lhs", "op", "rhs"]]) == tuple(ref.iloc[0][["lhs", "op", "rhs"]])


def test_residuals_equal_lavaan(fiml_res):
    """lavResiduals() of the lavaan fit (tests/test_fiml_residuals.py has the tolerances)."""
    from test_fiml_residuals import check_against_lavaan

    check_against_lavaan(fiml_res, "integrative")
