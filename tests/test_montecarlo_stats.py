"""Statistical checks of the Monte Carlo engine, with tolerances from Monte Carlo error.

Bands: a rate estimated from R independent replications has binomial SD
sqrt(p (1 - p) / R); we accept |rate - p| <= Z * SD with Z = 3.29 (two-sided 0.1%), so a
correct engine fails a single check about once in a thousand runs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import smsem
from montecarlo_helpers import MODELS, config
from smsem.montecarlo import run_study

Z = 3.29  # two-sided 0.1% normal quantile


def _band(p: float, reps: int) -> float:
    """Half-width of the acceptance band: Z binomial SDs of a rate from ``reps`` replications."""
    return Z * math.sqrt(p * (1 - p) / reps)


def _null_check(tmp_path, reps: int, n: int):
    cfg = config(tmp_path, population={"scenario": "null"}, grid={"n": [n], "likert": [0]},
                 replications=reps, seed=11)
    res = run_study(cfg, tmp_path / "null", jobs=2, progress=False)
    path = res.parameters.query("op == '~'").iloc[0]
    assert path["pop"] == 0.0 and path["reps"] >= 0.99 * reps  # (nearly) all converged
    used = int(path["reps"])
    # Two-sided Wald test at alpha .05 and the one-sided test in the hypothesized (+)
    # direction both reject a true null at rate .05.
    for col in ("power", "power_one"):
        assert abs(path[col] - 0.05) <= _band(0.05, used), (col, path[col], _band(0.05, used))
    return path


def test_null_rejection_rate_within_binomial_band_small(tmp_path):
    # 250 replications: SD = sqrt(.05 * .95 / 250) = .0138, band .05 +- .045.
    _null_check(tmp_path, reps=250, n=200)


@pytest.mark.slow
def test_null_rejection_rate_within_binomial_band_1000(tmp_path):
    # 1000 replications: SD = .0069, band .05 +- .0227.
    _null_check(tmp_path, reps=1000, n=300)


@pytest.mark.slow
def test_null_integrative_model_1000(tmp_path):
    """The integrative model under the null scenario: every path's rate in the band.

    12 paths checked at Z = 3.29 each: a correct engine fails with probability <= 1.2%.
    """
    cfg = smsem.montecarlo.config_from_mapping(
        {"population": {"model": "integrative", "scenario": "null"}, "grid": {"n": [300], "likert": [0]},
         "replications": 1000, "seed": 12})
    res = run_study(cfg, tmp_path / "null", jobs=2, progress=False)
    paths = res.parameters.query("op == '~'")
    assert len(paths) == 12 and (paths["pop"] == 0).all()
    for p in paths.itertuples():
        assert abs(p.power - 0.05) <= _band(0.05, p.reps), (p.lhs, p.rhs, p.power)


def _analytic_power(n: int) -> tuple[float, float, float]:
    """Asymptotic Wald power of Y ~ X in tests/models/two_factor at sample size n.

    The SE is the ML standard error at the true parameters: fit the model to a data set
    whose N-divided covariance equals the population covariance exactly (whitened
    normals), so every estimate is the true value and the SE is sqrt(inverse expected
    information / n). With delta = beta / SE the two-sided power is
    Phi(delta - z) + Phi(-delta - z), z = Phi^-1(.975) (noncentral normal).
    """
    m = smsem.load_model(str(MODELS / "two_factor.lav"), codebook=str(MODELS / "two_factor.yaml"))
    pop = smsem.population_model(m)
    sigma = pop.implied_cov.to_numpy()
    z = np.random.default_rng(0).standard_normal((n, sigma.shape[0]))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z.T, ddof=0))).T
    x = z @ np.linalg.cholesky(sigma).T
    res = smsem.fit(m, pd.DataFrame(x, columns=pop.items))
    row = res.path("Y", "X")
    # The optimizer stops within ~1e-3 of the truth (0.2); that moves the power by < .003.
    assert row.est == pytest.approx(0.2, abs=2e-3)
    delta = 0.2 / row.se
    zc = stats.norm.isf(0.025)
    two = stats.norm.cdf(delta - zc) + stats.norm.cdf(-delta - zc)
    one = stats.norm.sf(stats.norm.isf(0.05) - delta)
    return two, one, row.se


def _power_check(tmp_path, reps: int, n: int):
    two, one, se = _analytic_power(n)
    cfg = config(tmp_path, grid={"n": [n], "likert": [0]}, replications=reps, seed=13)
    res = run_study(cfg, tmp_path / "power", jobs=2, progress=False)
    p = res.parameters.query("op == '~'").iloc[0]
    used = int(p["reps"])
    assert abs(p["power"] - two) <= _band(two, used), (p["power"], two)
    assert abs(p["power_one"] - one) <= _band(one, used), (p["power_one"], one)
    assert abs(p["coverage"] - 0.95) <= _band(0.95, used)
    # The mean SE estimates the asymptotic SE; relative MC error of a mean of SEs is small
    # (their CV is ~10% at this n), so 5% is several MC SDs even for 200 replications.
    assert p["mean_se"] == pytest.approx(se, rel=0.05)


def test_power_matches_analytic_wald_power_small(tmp_path):
    # n = 250: analytic two-sided power .63; 200 replications give SD .034, band +- .112.
    _power_check(tmp_path, reps=200, n=250)


@pytest.mark.slow
def test_power_matches_analytic_wald_power_2000(tmp_path):
    # 2000 replications: SD .0108, band +- .036.
    _power_check(tmp_path, reps=2000, n=250)
