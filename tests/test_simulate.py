"""Synthetic data: determinism, Likert codes, parameter recovery."""

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.simulate import population_model


def test_same_seed_identical_different_seed_differs(model):
    a = smsem.simulate(model, n=200, seed=7)
    b = smsem.simulate(model, n=200, seed=7)
    c = smsem.simulate(model, n=200, seed=8)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_likert_codes_in_range(model):
    df = smsem.simulate(model, n=2000, seed=3)
    assert list(df.columns) == model.items
    values = np.unique(df.to_numpy())
    assert values.min() >= 1 and values.max() <= 5
    assert set(values) == {1, 2, 3, 4, 5}


def test_population_latents_standardized(model):
    pop = population_model(model)
    np.testing.assert_allclose(np.diag(pop.latent_cov), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.diag(pop.implied_cov.to_numpy()), 1.0, atol=1e-12)


def test_recovery_of_standardized_paths_n20000(model):
    """Foundation acceptance: at n=20000, continuous data, every std path within 0.03."""
    df = smsem.simulate(model, n=20000, seed=11, likert=0)
    res = smsem.fit(model, df)
    truth = population_model(model).true_parameters(model, metric="std")
    true_paths = {f"{r.lhs}~{r.rhs}": r.value for r in truth[truth.op == "~"].itertuples()}
    est = res.standardized_paths
    assert set(true_paths) == set(est.index)
    diffs = {k: abs(est[k] - v) for k, v in true_paths.items()}
    assert max(diffs.values()) < 0.03, diffs


def test_recovery_of_marker_metric_parameters_n20000(model):
    """Unstandardized truth (first loading 1) equals what semopy estimates."""
    df = smsem.simulate(model, n=20000, seed=12, likert=0)
    res = smsem.fit(model, df)
    truth = population_model(model).true_parameters(model, metric="marker")
    merged = truth.merge(res.params, on=["lhs", "op", "rhs"], how="left")
    assert merged.est.notna().all(), merged[merged.est.isna()]
    assert (merged.est - merged.value).abs().max() < 0.05


def test_standardized_paths_equal_semopy(fitted):
    """smsem's own std.all from the matrices equals semopy's Est. Std column."""
    p = fitted.params[fitted.params.op == "~"]
    for r in p.itertuples():
        assert fitted.standardized_paths[f"{r.lhs}~{r.rhs}"] == pytest.approx(r.std_all, abs=1e-9)


def test_param_map_rebuilds_matrices_and_names_match(fitted):
    """ParamMap.matrices_at(theta) reproduces semopy's matrices; names match params; SEs match."""
    pm, theta = fitted.param_map, fitted.start
    mx = pm.matrices_at(theta)
    for a, b in ((mx.beta, fitted.matrices.beta), (mx.lambda_, fitted.matrices.lambda_),
                 (mx.psi, fitted.matrices.psi), (mx.theta, fitted.matrices.theta)):
        np.testing.assert_array_equal(a, b)
    se = np.sqrt(np.diag(fitted.vcov))
    free = fitted.params.dropna(subset=["se"])
    assert len(free) == pm.n_free == fitted.model.n_free
    for r in free.itertuples():
        k = pm.index(r.lhs, r.op, r.rhs)
        assert theta[k] == pytest.approx(r.est, rel=1e-12)
        assert se[k] == pytest.approx(r.se, rel=1e-6)
