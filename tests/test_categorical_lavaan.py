"""Thresholds, polychoric/polyserial correlations and NACOV against lavaan 0.6.14.

References: ``Rscript scripts/lavaan_ordinal_reference.R`` -> tests/reference/lavaan_ordinal/
(``lavCor(data, ordered = ..., missing = ..., estimator = "WLSMV", se = "robust.sem",
output = "fit")``; ``lavInspect(fit, "sampstat"/"wls.obs"/"gamma"/"wls.v")``; the options and
the number of cases are in ``<case>.meta.json``).
Tolerances (issue 13): thresholds and correlations 1e-6 absolute, NACOV 1e-4 relative to its
largest element and elementwise relative to each element (floored at 1e-3 of the largest
diagonal element), DWLS weights 1e-4 relative.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smsem.estimate.categorical import polychoric_matrix, prepare, thresholds, two_step
from smsem.estimate.categorical.nacov import sample_stats
from smsem.exceptions import DataWarning

REF = Path(__file__).resolve().parent / "reference" / "lavaan_ordinal"
HS9 = [f"x{i}" for i in range(1, 10)]

CASES = {
    # case: (data file, columns, ordered, missing)
    "hs_cut4": ("hs_cut4.csv", HS9, HS9, "listwise"),
    "bfi25": ("bfi25.csv", None, True, "pairwise"),
    "hs_polyserial": ("hs_cut4.csv", ["x1", "x2", "x3", "x4", "age"], ["x1", "x2", "x3", "x4"], "listwise"),
    # a 2x2 table with one empty cell (zero.add 0.5, margins kept) and 4x4 tables with empty cells
    "zero_cells": ("zero_cells.csv", None, True, "listwise"),
    # polyserial with missing answers, pairwise: bfi's age and ten items
    "bfi_age": ("bfi_age.csv", [f"A{i}" for i in range(1, 6)] + [f"N{i}" for i in range(1, 6)] + ["age"],
                [f"A{i}" for i in range(1, 6)] + [f"N{i}" for i in range(1, 6)], "pairwise"),
    # two continuous variables: without missing values (Pearson) and with them (two-step ML)
    "hs_two_numeric": ("hs_two_numeric.csv", None, ["x1", "x2", "x3"], "listwise"),
    "bfi_numeric": ("bfi_age.csv", [f"A{i}" for i in range(1, 6)] + ["education", "age"],
                    [f"A{i}" for i in range(1, 6)], "pairwise"),
}


def _data(case):
    f, cols, ordered, missing = CASES[case]
    d = pd.read_csv(REF / f)
    if cols is not None:
        d = d[cols]
    return d, ordered, missing


@pytest.fixture(scope="module", params=list(CASES))
def case(request):
    d, ordered, missing = _data(request.param)
    if request.param == "zero_cells":  # lavaan also warns: b1 x b2 runs to the bound 0.999
        with pytest.warns(DataWarning, match=r"b2 and b1 is \(nearly\) 1.0"):
            ss = sample_stats(d, ordered, missing=missing)
    else:
        ss = sample_stats(d, ordered, missing=missing)
    return request.param, d, ordered, missing, ss


def test_meta_recorded(case):
    name, *_ , ss = case
    meta = json.loads((REF / f"{name}.meta.json").read_text())
    assert meta["lavaan"] == "0.6.14"
    assert meta["nobs"] == ss.nobs


def test_thresholds(case):
    name, d, ordered, missing, ss = case
    ref = pd.read_csv(REF / f"{name}_th.csv")
    ours = ss.wls_obs[[k for k in ss.wls_obs.index if "|t" in k]]
    assert list(ours.index) == list(ref["name"])
    np.testing.assert_allclose(ours.to_numpy(), ref["value"].to_numpy(), atol=1e-6, rtol=0)
    if missing == "pairwise":  # the public helper, item by item
        np.testing.assert_allclose(thresholds(d, ordered).to_numpy(), ref["value"].to_numpy(), atol=1e-6)


def test_correlations(case):
    name, d, ordered, missing, ss = case
    ref = pd.read_csv(REF / f"{name}_cor.csv", index_col=0)
    if name == "zero_cells":
        assert ("b1", "b2") in ss.two_step.zero_cell_tables and ("x3", "x4") in ss.two_step.zero_cell_tables
    np.testing.assert_allclose(ss.two_step.R, ref.to_numpy(), atol=1e-6, rtol=0)
    assert list(ref.index) == ss.two_step.names


def test_wls_obs_order_and_values(case):
    name, *_, ss = case
    ref = pd.read_csv(REF / f"{name}_wls_obs.csv")
    assert list(ss.wls_obs.index) == list(ref["name"])
    np.testing.assert_allclose(ss.wls_obs.to_numpy(), ref["value"].to_numpy(), atol=1e-6, rtol=0)


def test_nacov(case):
    name, *_, ss = case
    G = pd.read_csv(REF / f"{name}_gamma.csv", index_col=0)
    ours = ss.nacov.to_numpy()
    ref = G.to_numpy()
    assert list(ss.nacov.index) == list(G.index)
    big = np.abs(ref).max()
    assert np.abs(ours - ref).max() / big < 1e-4
    floor = 1e-3 * np.abs(np.diag(ref)).max()
    assert np.max(np.abs(ours - ref) / np.maximum(np.abs(ref), floor)) < 1e-4


def test_dwls_weights(case):
    name, *_, ss = case
    ref = pd.read_csv(REF / f"{name}_wls_vd.csv")
    np.testing.assert_allclose(ss.wls_v.to_numpy(), ref["value"].to_numpy(), rtol=1e-4)


def test_polychoric_matrix_from_codes():
    d, ordered, _ = _data("hs_cut4")
    od = prepare(d, ordered)
    ref = pd.read_csv(REF / "hs_cut4_cor.csv", index_col=0).to_numpy()
    np.testing.assert_allclose(polychoric_matrix(od.codes), ref, atol=1e-6)


def test_frequency_weights_equal_repeated_cases():
    """Counts as weights give the statistics of the data set with the cases repeated."""
    d, ordered, _ = _data("hs_cut4")
    d = d.iloc[:120]
    w = np.random.default_rng(5).integers(0, 4, size=len(d))
    a = sample_stats(d, ordered, weights=w, missing="listwise")
    b = sample_stats(d.loc[d.index.repeat(w)].reset_index(drop=True), ordered, missing="listwise")
    np.testing.assert_allclose(a.wls_obs.to_numpy(), b.wls_obs.to_numpy(), atol=1e-10)
    np.testing.assert_allclose(a.nacov.to_numpy(), b.nacov.to_numpy(), rtol=1e-8, atol=1e-10)


def test_frequency_weights_with_continuous_variables():
    d, ordered, _ = _data("hs_two_numeric")
    d = d.iloc[:150].copy()
    d.loc[d.index[::9], "x9"] = np.nan  # two-step ML for the continuous pair, pairwise
    w = np.random.default_rng(6).integers(0, 4, size=len(d))
    a = sample_stats(d, ordered, weights=w)
    b = sample_stats(d.loc[d.index.repeat(w)].reset_index(drop=True), ordered)
    np.testing.assert_allclose(a.wls_obs.to_numpy(), b.wls_obs.to_numpy(), atol=1e-9)
    np.testing.assert_allclose(a.nacov.to_numpy(), b.nacov.to_numpy(), rtol=1e-7, atol=1e-9)
