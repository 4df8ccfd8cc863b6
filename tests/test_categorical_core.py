"""The ordinal core on its own: bivariate normal CDF, bad input, zero cells, batched draws."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import multivariate_normal

from smsem.exceptions import DataError, DataWarning
from smsem.estimate.categorical import MAX_LEVELS, bvn_cdf, polychoric_matrix, prepare, thresholds, two_step
from smsem.estimate.categorical.batched import BatchedPolychoric, draw_counts
from smsem.estimate.categorical.polychoric import solve_polychoric, zero_cell_rules


def _likert(n, p, k=5, seed=0, load=0.7):
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(n, 1))
    x = z * load + rng.normal(size=(n, p)) * np.sqrt(1 - load ** 2)
    cuts = np.linspace(-1.5, 1.5, k - 1)
    return np.digitize(x, cuts) + 1


@pytest.mark.parametrize("r", [-0.999, -0.95, -0.6, -0.1, 0.0, 0.25, 0.5, 0.8, 0.93, 0.99])
def test_bvn_cdf_matches_scipy(r):
    rng = np.random.default_rng(int(abs(r) * 1000))
    h, k = rng.normal(size=(2, 6))
    ref = [multivariate_normal(mean=[0, 0], cov=[[1, r], [r, 1]]).cdf([a, b]) for a, b in zip(h, k)]
    np.testing.assert_allclose(bvn_cdf(h, k, r), ref, atol=1e-9)


def test_bvn_cdf_infinite_limits():
    assert bvn_cdf(np.inf, np.inf, 0.3) == 1.0
    assert bvn_cdf(-np.inf, 0.2, 0.3) == 0.0
    np.testing.assert_allclose(bvn_cdf(np.inf, 0.2, 0.3), 0.5792597094391030, atol=1e-12)


def test_unused_middle_value_is_not_a_category():
    """lavaan codes the observed values: 1, 2, 4 become three categories."""
    d = pd.DataFrame({"a": [1, 2, 4, 4, 2, 1, 4, 2], "b": [1, 2, 2, 1, 2, 1, 2, 1]})
    od = prepare(d, True)
    assert od.nlev.tolist() == [3, 2]
    assert list(thresholds(d).index) == ["a|t1", "a|t2", "b|t1"]


def test_one_category_is_one_line():
    d = pd.DataFrame({"a": [3, 3, 3, 3], "b": [1, 2, 2, 1]})
    with pytest.raises(DataError, match="'a' has only one observed category") as e:
        prepare(d, True)
    assert "\n" not in str(e.value)


def test_too_many_levels_suggests_continuous():
    d = pd.DataFrame({"a": np.arange(24) % (MAX_LEVELS + 1), "b": np.arange(24) % 2})
    with pytest.raises(DataError, match="treat it as continuous"):
        prepare(d, True)


def test_empty_declared_category_is_one_line():
    s = pd.Categorical(["lo", "hi", "lo"], categories=["lo", "mid", "hi"], ordered=True)
    with pytest.raises(DataError, match=r"empty; frequencies are \[2 0 1\]"):
        prepare(pd.DataFrame({"a": s, "b": [1, 2, 1]}), True)


def test_unknown_ordered_name():
    with pytest.raises(DataError, match="not in the data: zz"):
        prepare(pd.DataFrame({"a": [1, 2]}), ["zz"])


def test_cli_style_no_traceback_for_bad_item():
    code = ("import pandas as pd\nfrom smsem.estimate.categorical import two_step\n"
            "from smsem.exceptions import SmsemError\n"
            "try:\n two_step(pd.DataFrame({'a':[1,1,1],'b':[1,2,1]}))\n"
            "except SmsemError as e:\n print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.count("\n") == 1 and "Traceback" not in out.stderr


# --- zero cells, lavaan's zero.add = c(0.5, 0), zero.keep.margins = TRUE ----------------------
def test_zero_cell_2x2_keeps_margins():
    f = np.array([[10.0, 0.0], [5.0, 20.0]])
    adj, fixed, empty, two = zero_cell_rules(f[None], np.array([2]), np.array([2]), np.array([0.1]),
                                             np.array([0.2]))
    np.testing.assert_allclose(adj[0], [[9.5, 0.5], [5.5, 19.5]])
    assert np.isnan(fixed[0]) and empty[0] and not two[0]


def test_two_empty_cells_give_plus_minus_one_with_warning():
    codes = np.array([[1, 1]] * 10 + [[2, 2]] * 12)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        R = polychoric_matrix(codes)
    msgs = [str(w.message) for w in rec if issubclass(w.category, DataWarning)]
    assert any("two empty cells" in m for m in msgs) and any("(nearly) 1.0" in m for m in msgs)
    assert R[0, 1] == 1.0


def test_empty_cells_in_larger_table_are_listed_not_fatal():
    codes = _likert(80, 3, k=5, seed=3, load=0.9)
    res = two_step(pd.DataFrame(codes, columns=["a", "b", "c"]), True)
    assert res.zero_cell_tables  # pairs with empty cells are reported
    assert np.all(np.isfinite(res.R)) and res.converged.all()


def test_boundary_is_lavaans():
    """A perfect ordering within a 3x3 table runs to lavaan's bound 0.999."""
    f = np.array([[20.0, 0, 0], [0, 20.0, 0], [0, 0, 20.0]])
    th = np.array([-0.43, 0.43])
    rho, ok = solve_polychoric(f[None], th[None], th[None])
    assert ok[0] and rho[0] == pytest.approx(0.999)


# --- batched draws --------------------------------------------------------------------------
def test_batched_draws_equal_one_at_a_time():
    codes = _likert(300, 8, seed=1)
    codes[np.random.default_rng(2).random(codes.shape) < 0.03] = 0  # pairwise missing
    bp = BatchedPolychoric(codes)
    C = draw_counts(300, 12, 7)
    res = bp(C)
    assert res.ok.all() and res.converged.all()
    for b in range(len(C)):
        np.testing.assert_allclose(res.R[b], polychoric_matrix(codes, weights=C[b]), atol=1e-10, rtol=0)


def test_batched_flags_a_draw_that_loses_a_category():
    codes = _likert(60, 3, k=5, seed=4)
    rare = np.flatnonzero(codes[:, 0] == 5)
    C = np.ones((2, 60))
    C[1, rare] = 0
    C[1, 0] += len(rare) if 0 not in rare else 0
    res = BatchedPolychoric(codes)(C)
    assert res.ok.tolist() == [True, False]
    assert np.isnan(res.R[1]).all() and np.isfinite(res.R[0]).all()


def test_weights_equal_repeated_cases():
    codes = _likert(150, 5, seed=9)
    w = np.random.default_rng(1).integers(0, 3, size=150)
    np.testing.assert_allclose(polychoric_matrix(codes, weights=w), polychoric_matrix(np.repeat(codes, w, axis=0)),
                               atol=1e-12)


def test_batched_dwls_diagonal_equals_each_draws_nacov():
    """Every draw's DWLS weights from its tables equal the full NACOV of that draw."""
    from smsem.estimate.categorical.batched import dwls_diagonal
    from smsem.estimate.categorical.nacov import sample_stats

    codes = np.column_stack([_likert(200, 3, k=5, seed=11), _likert(200, 2, k=3, seed=12)])
    codes[np.random.default_rng(3).random(codes.shape) < 0.05] = 0
    names = [f"y{j}" for j in range(codes.shape[1])]
    data = pd.DataFrame(np.where(codes > 0, codes, np.nan), columns=names)
    bp = BatchedPolychoric(codes, names)
    C = draw_counts(200, 3, 5)
    res = bp(C)
    D = dwls_diagonal(bp, C, res)
    for b in range(len(C)):
        ss = sample_stats(data, True, weights=C[b], missing="pairwise")
        np.testing.assert_allclose(D[b], np.diag(ss.nacov.to_numpy()), rtol=1e-9)
        np.testing.assert_allclose(res.R[b], ss.two_step.R, atol=1e-10)


def test_group_with_an_empty_category_is_one_line():
    """Levels fixed over all groups (lavaan's multi-group rule): a group missing one is refused."""
    d = pd.DataFrame({"a": [1, 2, 3, 1, 2, 3, 1, 2], "b": [1, 2, 2, 1, 2, 1, 2, 1], "g": [1, 1, 1, 1, 2, 2, 2, 2]})
    lev = prepare(d[["a", "b"]], True).level_map()
    g2 = d.loc[d.g == 2, ["a", "b"]].copy()
    g2.loc[g2.a == 3, "a"] = 2
    with pytest.raises(DataError, match=r"'a' are empty in group 2; frequencies are \[1 3 0\]"):
        two_step(g2, True, levels=lev, group=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # four cases, a perfect ordering
        res = two_step(d.loc[d.g == 1, ["a", "b"]], True, levels=lev, group=1)
    assert res.data.nlev.tolist() == [3, 2]


def test_empty_cases_are_left_out_as_lavaan():
    """lavaan drops cases without any answer and does not count them in N (pairwise)."""
    from smsem.estimate.categorical.nacov import sample_stats

    codes = _likert(120, 3, seed=21).astype(float)
    d = pd.DataFrame(codes, columns=["a", "b", "c"])
    d_na = pd.concat([pd.DataFrame(np.nan, index=[0, 1], columns=d.columns), d], ignore_index=True)
    with pytest.warns(DataWarning, match="2 case"):
        a = sample_stats(d_na, True)
    b = sample_stats(d, True)
    assert a.nobs == b.nobs == 120
    np.testing.assert_allclose(a.nacov.to_numpy(), b.nacov.to_numpy(), rtol=1e-12)
