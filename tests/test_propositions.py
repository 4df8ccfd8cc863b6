"""Proposition table: verdict logic, twelve rows, determinism."""

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.propositions import verdict


@pytest.mark.parametrize(
    "lower, upper, sign, expected",
    [
        (0.10, 0.30, 1, "supported"),
        (0.10, 0.30, -1, "opposite sign"),
        (-0.30, -0.10, -1, "supported"),
        (-0.30, -0.10, 1, "opposite sign"),
        (-0.10, 0.20, 1, "not supported"),
        (-0.10, 0.20, -1, "not supported"),
        (0.0, 0.20, 1, "not supported"),  # a bound on 0 does not exclude 0
        (-0.2, 0.0, -1, "not supported"),
        (float("nan"), float("nan"), 1, "no bootstrap"),
    ],
)
def test_verdict(lower, upper, sign, expected):
    assert verdict(lower, upper, sign) == expected


def test_table_rows_and_determinism(fitted):
    a = smsem.proposition_table(fitted, n_boot=40, seed=5)
    b = smsem.proposition_table(fitted, n_boot=40, seed=5)
    c = smsem.proposition_table(fitted, n_boot=40, seed=6)
    assert list(a.table.id) == ["P1", "P2", "P3", "P4"] + [f"P5{x}" for x in "abcdefgh"]
    pd.testing.assert_frame_equal(a.table, b.table)
    assert not np.allclose(a.table.ci_lower, c.table.ci_lower)
    assert a.n == 300 and a.n_boot == 40
    t = a.table
    assert (t.ci_lower <= t.std_est).all() and (t.std_est <= t.ci_upper).all()


def test_bootstrap_draws_do_not_depend_on_order(fitted):
    """Draw b uses its own spawned stream: the first 10 of 30 equal a run of 10."""
    b10 = smsem.bootstrap(fitted, n_boot=10, seed=9)
    b30 = smsem.bootstrap(fitted, n_boot=30, seed=9)
    np.testing.assert_array_equal(b10.draws, b30.draws[:10])


def test_without_bootstrap(fitted):
    t = smsem.proposition_table(fitted, n_boot=0)
    assert (t.table.verdict == "no bootstrap").all()
    assert t.n_boot == 0


def test_table_signs_match_population_on_large_sample(model):
    """With n=3000 the thesis population supports every proposition path."""
    df = smsem.simulate(model, n=3000, seed=21)
    t = smsem.proposition_table(smsem.fit(model, df), n_boot=60, seed=1)
    assert (t.table.verdict == "supported").all(), t.table[["id", "std_est", "ci_lower", "ci_upper"]]
