"""simulate_items: the numbers of simulate() without a DataFrame, option for option."""

from __future__ import annotations

import numpy as np
import pytest

import smsem
from smsem.simulate import Department, MissingSpec, simulate, simulate_items

CASES = {
    "default": {},
    "continuous": {"likert": 0},
    "skewed 7-point": {"likert": 7, "thresholds": "skewed"},
    "mcar": {"missing_rate": 0.1},
    "mar": {"missing": MissingSpec(0.15, "mar")},
    "scenario": {"scenario": "aligned"},
    "latent means": {"latent_means": {"COM": 0.5}},
    "nonnormal + mcar": {"skewness": 1.0, "kurtosis": 2.0, "missing_rate": 0.05},
    "departments + mcar": {"departments": [Department("sales", 0.5, {"COM": 0.3}), Department("marketing", 0.5)],
                           "missing_rate": 0.2},
}


@pytest.fixture(scope="module")
def model():
    return smsem.load_model("integrative")


@pytest.mark.parametrize("name", list(CASES))
def test_simulate_items_equals_simulate(model, name):
    kw = CASES[name]
    df = simulate(model, 257, 11, **kw)
    x = simulate_items(model, 257, 11, **kw)
    assert x.dtype == np.float64 and x.shape == (257, len(model.items))
    expect = df[model.items].to_numpy(dtype=float, na_value=np.nan)
    assert np.array_equal(x, expect, equal_nan=True)  # same draws, same missing cells
    if "missing" in kw or "missing_rate" in kw:
        assert np.isnan(x).any()


def test_simulate_items_refuses_what_simulate_refuses(model):
    with pytest.raises(smsem.exceptions.SpecError, match="likert must be 0"):
        simulate_items(model, 10, 1, likert=1)
    with pytest.raises(smsem.exceptions.OptionError, match="not both"):
        simulate_items(model, 10, 1, missing=MissingSpec(0.1), missing_rate=0.1)


def test_variable_lists_are_fresh_copies(model):
    """ParsedModel derives its variable lists once; callers still get lists they may change."""
    items = model.items
    items.append("X")
    latents = model.latents
    latents.clear()
    assert "X" not in model.items and model.latents and model.items is not model.items
