"""Moderation reports against closed forms: simple slopes and Johnson-Neyman bounds on an
observed-variable regression (statsmodels OLS with a product term), the index of moderated
mediation against the product formula on the estimates."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.estimate.interaction.moderation import (conditional_indirect, johnson_neyman, moderation_source,
                                                   plot_simple_slopes, simple_slopes,
                                                   standardized_interaction)

ROOT = Path(__file__).resolve().parents[1]


def _regression_data(n=400, seed=7):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    x = rng.normal(1.0, 1.0, n)
    z = rng.normal(-0.5, 1.5, n)
    y = 0.5 + 0.3 * x - 0.2 * z + 0.25 * x * z + rng.normal(0, 1.0, n)
    return pd.DataFrame({"y": y, "x": x, "z": z})


@pytest.fixture(scope="module")
def reg(tmp_path_factory):
    import statsmodels.formula.api as smf

    d = _regression_data()
    p = tmp_path_factory.mktemp("m") / "reg.lav"
    p.write_text("y ~ x + z + x:z\n")
    res = smsem.fit(smsem.load_model(str(p)), d)
    ols = smf.ols("y ~ x + z + x:z", data=d).fit()
    return res, ols, d


def _ols_combo(ols, n, w):
    """slope and ML-scaled SE of b_x + w b_xz from statsmodels (OLS cov * (n-4)/n: ML's
    residual variance divides by n, OLS's by n - 4; the slope block is otherwise equal)."""
    c = np.zeros(4)
    c[1], c[3] = 1.0, w
    t = ols.t_test(c)
    return float(t.effect[0]), float(t.sd[0, 0]) * math.sqrt((n - 4) / n)


def test_simple_slopes_equal_ols_closed_form(reg):
    res, ols, d = reg
    n = len(d)
    ss = simple_slopes(res, "y", "x", "z")
    # default probe values: sample mean -1/0/+1 SD (N-divided, the ML moments of a fixed covariate)
    m, sd = d["z"].mean(), d["z"].std(ddof=0)
    assert np.allclose(ss["moderator"], [m - sd, m, m + sd], rtol=1e-12)
    for w, slope, se in ss[["moderator", "slope", "se"]].itertuples(index=False):
        e, s = _ols_combo(ols, n, w)
        assert slope == pytest.approx(e, abs=1e-6)   # ML and OLS slopes agree to the optimizer's precision
        assert se == pytest.approx(s, rel=1e-4)      # expected information at the optimum vs. closed form


def test_johnson_neyman_bounds_are_where_z_is_critical(reg):
    res, ols, d = reg
    jn = johnson_neyman(res, "y", "x", "z")
    assert len(jn.bounds) == 2
    for w in jn.bounds:
        e, s = _ols_combo(ols, len(d), w)
        assert abs(e / s) == pytest.approx(1.959963984540054, rel=1e-4)
    # significance region is where the OLS-derived z exceeds the critical value
    lo, hi = jn.bounds
    mid = (lo + hi) / 2
    e, s = _ols_combo(ols, len(d), mid)
    assert (abs(e / s) > 1.96) == jn.significant_inside
    e, s = _ols_combo(ols, len(d), hi + 1.0)
    assert (abs(e / s) > 1.96) != jn.significant_inside


def test_standardized_interaction_formula(reg):
    res, ols, d = reg
    g = ols.params["x:z"]
    # Wen, Marsh & Hau (2010): gamma sd(x) sd(z) / sd(y); model-implied var(y) = sample var under the saturated regression
    want = g * d["x"].std(ddof=0) * d["z"].std(ddof=0) / d["y"].std(ddof=0)
    assert standardized_interaction(res, "y", "x", "z") == pytest.approx(want, rel=1e-5)


def _chain_data(n=500, seed=3):
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    x = rng.normal(size=n)
    w = rng.normal(size=n)
    m = 0.5 * x + 0.2 * w + 0.3 * x * w + rng.normal(size=n)
    y = 0.4 * m + rng.normal(size=n)
    o = 0.6 * y + rng.normal(size=n)
    return pd.DataFrame({"x": x, "w": w, "m": m, "y": y, "o": o})


def test_index_of_moderated_mediation_is_the_product_formula(tmp_path):
    p = tmp_path / "chain.lav"
    p.write_text("m ~ x + w + x:w\ny ~ m\no ~ y\n")
    res = smsem.fit(smsem.load_model(str(p)), _chain_data())
    src = moderation_source(res)
    tab, idx = conditional_indirect(res, ["x", "m", "y", "o"], "w")
    a3, b, c = src.coef("m", "x:w"), src.coef("y", "m"), src.coef("o", "y")
    assert idx["index"] == pytest.approx(a3 * b * c, rel=1e-12)
    assert idx["moderated_links"] == ["x -> m"]
    a1 = src.coef("m", "x")
    for w, eff in tab[["moderator", "effect"]].itertuples(index=False):
        assert eff == pytest.approx((a1 + a3 * w) * b * c, rel=1e-12)
    # the index is the slope of the conditional indirect effect in w
    e = tab["effect"].to_numpy()
    wv = tab["moderator"].to_numpy()
    assert (e[2] - e[0]) / (wv[2] - wv[0]) == pytest.approx(idx["index"], rel=1e-10)
    # delta-method SE of a3*b*c from the coefficient covariance
    g = np.array([b * c, a3 * c, a3 * b])
    v = src.cov_coef([("m", "x:w"), ("y", "m"), ("o", "y")])
    assert idx["se"] == pytest.approx(math.sqrt(g @ v @ g), rel=1e-10)


def test_two_moderated_links_give_no_index(tmp_path):
    p = tmp_path / "chain2.lav"
    p.write_text("m ~ x + w + x:w\ny ~ m + w + m:w\n")
    d = _chain_data()
    res = smsem.fit(smsem.load_model(str(p)), d)
    tab, idx = conditional_indirect(res, ["x", "m", "y"], "w")
    assert math.isnan(idx["index"]) and len(idx["moderated_links"]) == 2
    src = moderation_source(res)
    w = tab["moderator"].iloc[0]
    want = (src.coef("m", "x") + w * src.coef("m", "x:w")) * (src.coef("y", "m") + w * src.coef("y", "m:w"))
    assert tab["effect"].iloc[0] == pytest.approx(want, rel=1e-12)


@pytest.mark.slow  # 2-3 s, mostly importing matplotlib
def test_simple_slopes_figure_written(reg, tmp_path):
    res, _, _ = reg
    files = plot_simple_slopes(res, "y", "x", "z", tmp_path / "slopes")
    assert [f.suffix for f in files] == [".png", ".svg"]
    png = files[0].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert b"<svg" in files[1].read_bytes()[:2000]


def test_report_probes_each_chain_and_moderator(tmp_path):
    from smsem.estimate.interaction.moderation import moderation_report, render_moderation

    p = tmp_path / "chain3.lav"
    p.write_text("m ~ x + w + x:w\ny ~ m\no ~ y\n")
    res = smsem.fit(smsem.load_model(str(p)), _chain_data())
    rep = moderation_report(res, chain=[["x", "m", "y", "o"], ["x", "m", "y"]])
    assert set(rep["chain"]) == {"x->m->y->o | w", "x->m->y | w"}
    _, idx = rep["chain"]["x->m->y | w"]
    src = moderation_source(res)
    assert idx["index"] == pytest.approx(src.coef("m", "x:w") * src.coef("y", "m"), rel=1e-12)
    text = render_moderation(rep, "text")
    assert "Index of moderated mediation (Hayes 2015)" in text and "x->m->y->o | w" in text
