"""The WLSMV fast path of Monte Carlo cells (smsem.montecarlo.fast_ordinal, issue 13).

* :func:`replicate_stats` gives every stacked data set the thresholds, polychorics and NACOV of
  ``sample_stats`` on that data set alone (the same formulas in another order of summation:
  1e-12 absolute on the statistics, 1e-10 relative on the NACOV, i.e. rounding);
* a fast-path row equals the reference path's row (``engine: reference``, one
  ``fit_ordinal`` per replication) to 1e-7 on estimates, SEs, std.all and the scaled test and
  indices: both solve the same DWLS problem, the reference by Levenberg-Marquardt polished
  with Gauss-Newton, the fast path by Gauss-Newton to a step below 1e-11; measured agreement
  is about 1e-11 (scripts/bench_ordinal_montecarlo.py prints it), 1e-7 leaves room for the
  linear convergence of either optimizer on a harder data set;
* a data set the fast path cannot use (an empty category) is left to the reference path;
* the same seed gives identical stored rows with jobs = 1 and jobs = 2.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from smsem.estimate.categorical.nacov import sample_stats
from smsem.estimate.categorical.replicates import replicate_stats
from smsem.montecarlo.config import config_from_mapping
from smsem.montecarlo.fast_ordinal import fit_ordinal_chunk, ordinal_fast_applicable, ordinal_plan
from smsem.montecarlo.replication import _simulate_cell_items, run_replications

from montecarlo_helpers import TWO_FACTOR

POP = dict(TWO_FACTOR)
FIELDS = ("chi2", "df", "pvalue", "cfi", "tli", "rmsea")


def _cfg(engine="fast", n=(150,), likert=(3,), reps=3, estimator=("WLSMV",), pop=None, missing=(0.0,)):
    return config_from_mapping({"population": pop or POP, "grid": {"n": list(n), "likert": list(likert),
                                                                   "estimator": list(estimator),
                                                                   "missing": list(missing)},
                                "replications": reps, "seed": 11, "engine": engine}, source="cfg.yaml")


def test_replicate_stats_equal_sample_stats():
    rng = np.random.default_rng(5)
    p, B = 5, 3
    L = np.full(p, 0.7)
    z = rng.standard_normal((B, 120, 1)) * L + rng.standard_normal((B, 120, p)) * np.sqrt(1 - L ** 2)
    codes = np.digitize(z, [-0.8, 0.1, 0.9]) + 1  # 4 categories
    codes[:, :, 0] = np.minimum(codes[:, :, 0], 3)  # item 1 has 3 (padded thresholds)
    codes[1, 100:] = 0  # data set 1 has 100 cases (padding)
    codes[2, :, 3] = np.where(codes[2, :, 3] == 4, 3, codes[2, :, 3])  # item 4 of data set 2 loses category 4
    rs = replicate_stats(codes, [3] + [4] * (p - 1), chunk=2)
    assert rs.ok.tolist() == [True, True, False]
    assert rs.nobs[:2].tolist() == [120.0, 100.0]
    for b in range(2):
        x = codes[b][codes[b].any(axis=1)]
        ss = sample_stats(pd.DataFrame(x), ordered=True)
        assert np.max(np.abs(rs.wls_obs[b] - ss.wls_obs.to_numpy())) < 1e-12
        g = ss.nacov.to_numpy()
        assert np.max(np.abs(rs.nacov[b] - g)) < 1e-10 * np.max(np.abs(g))


def _compare(fast, slow, tol):
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        assert (a["status"], a["improper"], a["n_used"]) == (b["status"], b["improper"], b["n_used"])
        assert a["estimates"].params == b["estimates"].params
        np.testing.assert_allclose(a["estimates"].values, b["estimates"].values, rtol=0, atol=tol, equal_nan=True)
        for k in FIELDS:
            assert a[k] == pytest.approx(b[k], abs=tol, nan_ok=True), k


def test_fast_rows_equal_reference_rows():
    fast_cfg, ref_cfg = _cfg(), _cfg(engine="reference")
    cell = fast_cfg.cells[0]
    assert ordinal_fast_applicable(fast_cfg, cell) and not ordinal_fast_applicable(ref_cfg, ref_cfg.cells[0])
    fast = run_replications(cell, [0, 1, 2], fast_cfg)
    slow = run_replications(ref_cfg.cells[0], [0, 1, 2], ref_cfg)
    assert all(r["status"] == "ok" for r in slow)
    assert any(o == "|" for _, o, _ in fast[0]["estimates"].params)  # the thresholds are rows
    _compare(fast, slow, 1e-7)
    # a row does not depend on the chunk it ran in
    one = run_replications(cell, [1], fast_cfg)[0]
    assert one["estimates"] == fast[1]["estimates"] and all(one[k] == fast[1][k] for k in FIELDS)


def test_fast_rows_equal_reference_rows_listwise():
    # 10% missing answers: both paths delete incomplete rows (the fast path pads the chunk)
    fast_cfg, ref_cfg = _cfg(missing=(0.1,), reps=2), _cfg(engine="reference", missing=(0.1,), reps=2)
    fast = run_replications(fast_cfg.cells[0], [0, 1], fast_cfg)
    slow = run_replications(ref_cfg.cells[0], [0, 1], ref_cfg)
    assert all(r["status"] == "ok" for r in slow) and fast[0]["n_used"] != fast[1]["n_used"]
    _compare(fast, slow, 1e-7)


def test_unusable_data_set_goes_to_the_reference_path():
    cfg = _cfg()
    cell = cfg.cells[0]
    plan = ordinal_plan(cfg, cell.effect_multiplier, cell.likert)
    x = _simulate_cell_items(cfg, cell, 0, plan.columns)
    bad = np.where(x == 3, 2, x)  # every item loses its third category
    got = fit_ordinal_chunk(plan, [x, bad])
    assert got[0] is not None and got[1] is None


def test_jobs_do_not_change_rows(tmp_path):
    from smsem.montecarlo import run_study

    cfg = _cfg(n=(100,), likert=(2, 5), reps=4)
    one = run_study(cfg, tmp_path / "a", jobs=1, progress=False)
    two = run_study(cfg, tmp_path / "b", jobs=2, progress=False)
    pd.testing.assert_frame_equal(one.raw, two.raw)
    pd.testing.assert_frame_equal(one.estimates, two.estimates)


@pytest.mark.slow
@pytest.mark.parametrize("likert", [2, 3, 5, 7])
def test_fast_equals_reference_integrative(likert):
    pop = {"model": "integrative", "scenario": "thesis"}
    fast_cfg = _cfg(pop=pop, n=(150,), likert=(likert,), reps=20)
    ref_cfg = _cfg(pop=pop, engine="reference", n=(150,), likert=(likert,), reps=20)
    fast = run_replications(fast_cfg.cells[0], range(20), fast_cfg)
    slow = run_replications(ref_cfg.cells[0], range(20), ref_cfg)
    _compare(fast, slow, 1e-7)
