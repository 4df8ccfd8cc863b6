"""A model fitted to large continuous data recovers every true parameter."""

import pytest

import smsem
from smsem.simulate import population_model

N = 200_000


@pytest.fixture(scope="module")
def large_fit(model):
    df = smsem.simulate(model, n=N, seed=31, likert=0)
    return smsem.fit(model, df)


def test_every_marker_metric_parameter_within_002(model, large_fit):
    """Issue 3: every free parameter (first loading fixed to 1) within 0.02 of its truth.

    At n = 200000 the largest ML standard error among the 57 free parameters is 0.0035
    (asserted below, from the fit itself), so 0.02 is more than 5.7 SEs: a miss means a
    wrong truth or a wrong generator, not bad luck.
    """
    truth = population_model(model).true_parameters(model, metric="marker")
    merged = truth.merge(large_fit.params, on=["lhs", "op", "rhs"], how="left")
    assert len(merged) == model.n_free and merged.est.notna().all()
    assert 4 * merged.se.max() < 0.02, merged.se.max()
    worst = (merged.est - merged.value).abs()
    assert worst.max() < 0.02, merged.loc[worst.idxmax()].to_dict()


def test_every_standardized_parameter_within_002(model, large_fit):
    """Same in lavaan's std.all metric (standardized SEs are no larger here, as every
    variance is 1 and the standardization divides by SDs estimated to ~0.002)."""
    truth = population_model(model).true_parameters(model, metric="std")
    merged = truth.merge(large_fit.params, on=["lhs", "op", "rhs"], how="inner")
    # Marker loadings are fixed in the fit but have a standardized estimate too.
    assert len(merged) == model.n_free + len(model.latents)
    worst = (merged.std_all - merged.value).abs()
    assert worst.max() < 0.02, merged.loc[worst.idxmax()].to_dict()
