"""Coverage of the 95% percentile bootstrap CI of a structural path (known population)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import smsem

PATH = ("EA", "IC")  # P3: interdepartmental conflict -> employee attitude


def _coverage(model, reps: int, n: int, n_boot: int, seed0: int) -> tuple[float, float]:
    """Share of intervals covering the truth, and the mean ratio of each interval's width to
    the width of the delta-method interval of the same fit (2 z se(std.all))."""
    truth_tab = smsem.population_model(model).true_parameters(model, metric="std")
    row = truth_tab[(truth_tab.lhs == PATH[0]) & (truth_tab.op == "~") & (truth_tab.rhs == PATH[1])]
    truth = float(row.value.iloc[0])
    key = f"{PATH[0]}~{PATH[1]}:std"
    hits, ratios = 0, []
    for r in range(reps):
        # Continuous responses: ML is consistent for them (Likert coarsening would bias
        # std paths toward 0 and make any CI miss the continuous truth).
        data = smsem.simulate(model, n=n, seed=seed0 + r, likert=0)
        res = smsem.fit(model, data)
        ci = smsem.bootstrap(res, n_boot=n_boot, seed=seed0 + r).conf_int(0.95).loc[key]
        hits += bool(ci.lower <= truth <= ci.upper)
        se = res.standardized.set_index(["lhs", "op", "rhs"]).loc[(PATH[0], "~", PATH[1]), "std_all_se"]
        ratios.append((ci.upper - ci.lower) / (2 * 1.959964 * se))
    return hits / reps, float(np.mean(ratios))


@pytest.mark.slow  # ~6 s: a coverage study
def test_coverage_small(model):
    reps = 30
    cov, width = _coverage(model, reps=reps, n=300, n_boot=200, seed0=1000)
    # Band from the binomial SD at the nominal 0.95: sqrt(0.95 * 0.05 / 30) = 0.040;
    # 3 SD below gives 0.83, so at least 25 of 30 intervals must cover. Above, 30/30 is
    # only 1.3 SD over nominal, so coverage cannot bound a too-wide interval: the width does.
    sd = math.sqrt(0.95 * 0.05 / reps)
    assert cov >= 0.95 - 3 * sd
    # Width relative to the delta-method interval: measured mean 1.036 with a per-replication
    # SD of 0.10 (Monte Carlo error of 200 draws' tails), so the mean's SD is 0.018; the band
    # 0.90-1.15 is ~6 SD wide either side, and an interval 20% too wide or narrow fails.
    assert 0.90 <= width <= 1.15


@pytest.mark.slow
def test_coverage_200_replications(model):
    cov, width = _coverage(model, reps=200, n=300, n_boot=1000, seed0=5000)
    print(f"coverage of the 95% percentile CI of {PATH[0]}~{PATH[1]} (std): {cov:.3f}")
    # The band: binomial SD at 0.95 with 200 reps is 0.0154, so 91-98% is
    # about -2.6 / +2 SD around nominal.
    assert 0.91 <= cov <= 0.98
    assert 0.95 <= width <= 1.10  # mean of 200 ratios (SD ~0.05 each with 1000 draws)
