"""Bootstrap of moderation quantities on a product-indicator fit (batched refits, products
rebuilt in every resample)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.estimate.interaction.moderation import moderation_bootstrap, moderation_report, simple_slopes

ROOT = Path(__file__).resolve().parents[1]


@lru_cache(maxsize=None)
def _res():
    model = smsem.load_model(str(ROOT / "tests/models/hs_interaction.lav"))
    data = pd.read_csv(ROOT / "tests/reference/lavaan/HolzingerSwineford1939.csv")
    return smsem.fit(model, data, interaction_method="dmc")


def _q(s):
    return {"b": s.coef("speed", "visual:textual"),
            "slope_hi": float(simple_slopes(s, "speed", "visual", "textual", values=[1.0])["slope"].iloc[0])}


@pytest.mark.slow  # four batched bootstraps: 3-4 s on the shared machine
def test_same_seed_same_draws_and_point_estimates():
    res = _res()
    a = moderation_bootstrap(res, _q, n_boot=8, seed=5)
    b = moderation_bootstrap(res, _q, n_boot=8, seed=5)
    c = moderation_bootstrap(res, _q, n_boot=8, seed=6)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["boot_lower"].astype(float), c["boot_lower"].astype(float))
    assert a.loc["b", "estimate"] == res.coef("speed", "visual:textual")
    # the slope at w = 1 of each draw is b_visual + 1 * b_int of that draw
    th = res.bootstrap_thetas(8, 5)
    ok = np.isfinite(th).all(axis=1)
    assert a.loc["b", "n_ok"] == ok.sum() >= 6
    i_f, i_i = res._index("speed", "visual"), res._index("speed", "visual:textual")
    lo = np.quantile((th[ok, i_f] + th[ok, i_i]), 0.025)
    assert a.loc["slope_hi", "boot_lower"] == pytest.approx(lo, rel=1e-12)


@pytest.mark.slow  # three single refits of 1-4 s each
def test_batched_draws_equal_refitting_each_resample():
    res = _res()
    th = res.bootstrap_thetas(3, 9)
    rng = np.random.default_rng(np.random.SeedSequence(9))
    for b in range(3):
        idx = rng.integers(0, len(res.data), len(res.data))
        one = res.refit_theta(res.data.iloc[idx].reset_index(drop=True))
        if np.isfinite(th[b]).all():
            # both optimizers stop within ~1e-6 of the optimum (gradient tolerances)
            assert np.max(np.abs(one - th[b])) < 1e-4


def test_report_with_bootstrap_has_a_row_per_quantity():
    rep = moderation_report(_res(), n_boot=4, seed=1)
    names = list(rep["bootstrap"].index)
    assert "speed~visual:textual" in names and "std speed~visual:textual" in names
    assert sum(n.startswith("slope visual->speed") for n in names) == 3
    b = rep["bootstrap"]
    assert (b["boot_lower"].astype(float) <= b["boot_upper"].astype(float)).all()


def test_results_without_a_batch_hook_are_refitted_draw_by_draw():
    """The fallback for LMS/QML results: each resample refitted with fit_interaction; here
    checked on a product-indicator fit seen through a wrapper without the batch hook."""

    class NoHook:
        def __init__(self, r):
            self.r, self.model, self.data, self.method = r, r.model, r.data, r.method

        def coef(self, lhs, rhs):
            return self.r.coef(lhs, rhs)

        def cov_coef(self, pairs):
            return self.r.cov_coef(pairs)

        def latent_moments(self):
            return self.r.latent_moments()

    res = _res()
    a = moderation_bootstrap(NoHook(res), lambda s: {"b": s.coef("speed", "visual:textual")}, n_boot=2, seed=4)
    # the same resamples as the batched bootstrap (same stream): the same estimates
    th = res.bootstrap_thetas(2, 4)[:, res._index("speed", "visual:textual")]
    ok = np.isfinite(th)
    assert a.loc["b", "n_ok"] == ok.sum()
    assert a.loc["b", "boot_lower"] == pytest.approx(np.quantile(th[ok], 0.025), abs=1e-5)
