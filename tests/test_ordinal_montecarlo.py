"""Monte Carlo cells with estimator MLR and WLSMV (smsem.montecarlo, issue 13).

A replication's row under WLSMV with ``engine: reference`` equals fitting the same simulated
data set with ``fit_ordinal(..., ordered=True, estimator="WLSMV")`` (estimates, SEs and std.all
exactly: the same code on the same data; the fast path, the default engine, equals it to the
optimizer's tolerance: tests/test_ordinal_montecarlo_fast.py), under MLR ``smsem.fit(...,
estimator="MLR")``. The configuration
refuses WLSMV on continuous responses and with bootstrap inference in one line naming the key.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import smsem
from smsem.estimate.categorical.fit import fit_ordinal
from smsem.exceptions import OptionError
from smsem.montecarlo.config import config_from_mapping, load_config
from smsem.montecarlo.replication import run_replication, simulate_cell

from montecarlo_helpers import TWO_FACTOR

ROOT = Path(__file__).resolve().parents[1]
POP = dict(TWO_FACTOR)


def _cfg(engine="fast", **grid):
    return config_from_mapping({"population": POP, "grid": {"n": [200], **grid}, "replications": 2, "seed": 3,
                                "engine": engine}, source="cfg.yaml")


def _row_values(row):
    return {(a, o, b): v for a, o, b, *v in row["estimates"]}


@pytest.mark.parametrize("estimator", ["WLSMV", "MLR"])
def test_replication_equals_direct_fit(estimator):
    cfg = _cfg(likert=[3], estimator=[estimator], engine="reference")
    cell = cfg.cells[0]
    assert cell.estimator == estimator
    row = run_replication(cell, 1, cfg)
    assert row["status"] == "ok", row["reason"]
    data = simulate_cell(cfg, cell, 1)
    model = smsem.load_model(TWO_FACTOR["model"], codebook=TWO_FACTOR["codebook"])
    res = (fit_ordinal(model, data, ordered=True, estimator="WLSMV") if estimator == "WLSMV"
           else smsem.fit(model, data, estimator="MLR"))
    got = _row_values(row)
    p = res.params[np.isfinite(res.params.se)]
    assert len(got) == len(p)
    for r in p.itertuples(index=False):
        lhs, rhs = sorted((r.lhs, r.rhs)) if r.op == "~~" else (r.lhs, r.rhs)
        key = (lhs, r.op, rhs)
        est, se, std = got[key][:3]
        assert est == r.est and se == r.se, key
        if estimator == "WLSMV":
            assert std == r.std_all, key
    if estimator == "WLSMV":  # thresholds are rows too; the structural paths have std.all
        assert any(o == "|" for _, o, _ in got)
    # the fit columns hold the scaled test for MLR and WLSMV
    assert row["chi2"] == res.fit_indices["chi2_scaled"] and row["pvalue"] == res.fit_indices["pvalue_scaled"]
    assert row["cfi"] == res.fit_indices["cfi_scaled"] and row["rmsea"] == res.fit_indices["rmsea_scaled"]


def test_fast_paths_for_ml_and_wlsmv_only():
    from smsem.montecarlo.fast import fast_applicable
    from smsem.montecarlo.fast_ordinal import ordinal_fast_applicable

    cfg = _cfg(likert=[5], estimator=["ML", "MLR", "WLSMV"])
    assert [fast_applicable(cfg, c) for c in cfg.cells] == [True, False, False]
    assert [ordinal_fast_applicable(cfg, c) for c in cfg.cells] == [False, False, True]


@pytest.mark.parametrize("grid, extra, fragment", [
    ({"likert": [0, 3], "estimator": ["ML", "WLSMV"]}, {}, "WLSMV needs ordinal items"),
    ({"likert": [3], "estimator": ["WLSMV"]}, {"inference": {"method": "bootstrap", "n_boot": 50}},
     "WLSMV with inference.method: bootstrap"),
    ({"likert": [3], "estimator": ["MLR"]}, {"inference": {"method": "bootstrap", "n_boot": 50}},
     "MLR with inference.method: bootstrap"),
])
def test_refusals(grid, extra, fragment):
    with pytest.raises(OptionError, match="cfg.yaml: key grid.estimator: " + fragment):
        config_from_mapping({"population": POP, "grid": {"n": [200], **grid}, "replications": 2, **extra},
                            source="cfg.yaml")


def test_shipped_study_loads():
    cfg = load_config(ROOT / "models" / "montecarlo" / "ordinal_vs_ml.yaml")
    levels = dict(cfg.grid)
    assert levels["likert"] == (2, 3, 5, 7) and levels["estimator"] == ("ML", "MLR", "WLSMV")
    assert len(cfg.cells) == 4 * 3 * 3
