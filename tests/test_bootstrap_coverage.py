"""Coverage of the 95% percentile bootstrap CI of a structural path (known population)."""

from __future__ import annotations

import math

import pytest

import smsem

PATH = ("EA", "IC")  # P3: interdepartmental conflict -> employee attitude


def _coverage(model, reps: int, n: int, n_boot: int, seed0: int) -> float:
    truth_tab = smsem.population_model(model).true_parameters(model, metric="std")
    row = truth_tab[(truth_tab.lhs == PATH[0]) & (truth_tab.op == "~") & (truth_tab.rhs == PATH[1])]
    truth = float(row.value.iloc[0])
    key = f"{PATH[0]}~{PATH[1]}:std"
    hits = 0
    for r in range(reps):
        # Continuous responses: ML is consistent for them (Likert coarsening would bias
        # std paths toward 0 and make any CI miss the continuous truth).
        data = smsem.simulate(model, n=n, seed=seed0 + r, likert=0)
        res = smsem.fit(model, data)
        ci = smsem.bootstrap(res, n_boot=n_boot, seed=seed0 + r).conf_int(0.95).loc[key]
        hits += bool(ci.lower <= truth <= ci.upper)
    return hits / reps


def test_coverage_small(model):
    reps = 30
    cov = _coverage(model, reps=reps, n=300, n_boot=200, seed0=1000)
    # Band from the binomial SD at the nominal 0.95: sqrt(0.95 * 0.05 / 30) = 0.040;
    # 3 SD below gives 0.83, so at least 25 of 30 intervals must cover (above: no bound,
    # 30/30 is 1.3 SD above nominal). A CI that covered 80% or less would fail most runs.
    sd = math.sqrt(0.95 * 0.05 / reps)
    assert cov >= 0.95 - 3 * sd


@pytest.mark.slow
def test_coverage_200_replications(model):
    cov = _coverage(model, reps=200, n=300, n_boot=1000, seed0=5000)
    print(f"coverage of the 95% percentile CI of {PATH[0]}~{PATH[1]} (std): {cov:.3f}")
    # The band: binomial SD at 0.95 with 200 reps is 0.0154, so 91-98% is
    # about -2.6 / +2 SD around nominal.
    assert 0.91 <= cov <= 0.98
