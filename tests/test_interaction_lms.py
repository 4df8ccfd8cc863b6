"""LMS (latent moderated structural equations): equivalence with ML, truth recovery, interface.

Reference values: the ML fit (smsem.fit, itself equal to lavaan) for models without
products, and the exactly known truth of generated populations
(smsem.simulate.interaction). modsem (R) is not installed here.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.estimate.interaction.lms import fit_lms
from smsem.exceptions import SpecError
from smsem.simulate.interaction import interaction_population, population_values

XZ = "models/montecarlo/moderation_xz.lav"
LINEAR = """X =~ x1 + x2 + x3
Z =~ z1 + z2 + z3
Y =~ y1 + y2 + y3
Y ~ X + Z
"""


def _model(tmp_path, text, name="m.lav"):
    p = tmp_path / name
    p.write_text(text)
    return smsem.load_model(str(p))


@pytest.fixture(scope="module")
def xz():
    m = smsem.load_model(XZ)
    pt = m.table()
    vals = population_values(pt, loading=0.9, regression=0.4, item_residual=0.5, latent_covariance=0.3,
                             residual=0.6, interaction=0.25)
    return m, pt, interaction_population(m, vals)


def test_no_product_equals_ml(tmp_path):
    m = _model(tmp_path, LINEAR)
    pop = interaction_population(m, population_values(m.table()))
    d = pop.draw(400, seed=11)
    ml = smsem.fit(m, d)
    lms = fit_lms(m, m.table(), d)
    a = ml.params.set_index(["lhs", "op", "rhs"])
    b = lms.params.set_index(["lhs", "op", "rhs"])
    common = [k for k in a.index if k in b.index]
    assert len(common) == len(a)
    # both optimizers stop with a gradient far below 1e-6 per case: estimates agree to 1e-4
    np.testing.assert_allclose(b.loc[common, "est"], a.loc[common, "est"], atol=1e-4)
    # lavaan's logl (saturated means) is LMS's with free intercepts: same maximum
    assert lms.loglik == pytest.approx(ml.fit_indices["logl"], abs=1e-6)
    # the added intercepts are the item means (the ML estimate of a saturated mean)
    means = d[list(m.table().ov)].mean()
    ints = lms.params[lms.params.op == "~1"].set_index("lhs")["est"]
    np.testing.assert_allclose(ints[means.index], means, atol=1e-5)
    # SEs: observed (LMS) vs expected (ML) information; equal to first order at the MLE
    ok = np.isfinite(a.loc[common, "se"])
    np.testing.assert_allclose(b.loc[common, "se"][ok], a.loc[common, "se"][ok], rtol=0.05)


def test_quadrature_converges_to_ml_on_linear_model(tmp_path):
    """Integrating X by Gauss-Hermite (a product-free model: exact answer known) approaches
    the ML log-likelihood as nodes are added."""
    m = _model(tmp_path, LINEAR)
    pt = m.table()
    pop = interaction_population(m, population_values(pt))
    d = pop.draw(300, seed=3)
    exact = fit_lms(m, pt, d, se=False)
    err = []
    for q in (8, 64):
        r = fit_lms(m, pt, d, condition_on=("X",), quad_points=q, se=False, start=exact.theta)
        err.append(abs(r.loglik - exact.loglik))
        if q == 64:
            np.testing.assert_allclose(r.params.est, exact.params.est, atol=1e-3)
    assert err[1] < err[0]
    assert err[1] < 1e-3 * abs(exact.loglik) / 300  # below 1e-3 per case
    # two conditioning variables (a 40 x 40 product grid) at the exact estimates. The
    # error oscillates in sign as nodes are added (measured here: 1.09, .0098, -.084, -.0088,
    # .0014 for 12, 16, 20, 32, 40 nodes per dimension), so the bound is for 40 nodes only.
    from smsem.estimate.interaction.lms import LMSModel

    x = d[list(pt.ov)].to_numpy()
    two = LMSModel(pt, condition_on=("X", "Z"), quad_points=40)
    assert len(two.weights) == 1600
    assert abs(two.estep(exact.theta, x)[0] - exact.loglik) < 0.01


def test_population_moments_closed_form(xz):
    """Var(Y) of Y = g1 X + g2 Z + w XZ + e with normal X, Z (Bohrnstedt & Goldberger)."""
    m, pt, pop = xz
    v = pop.values
    g1, g2, w = v[("Y", "~", "X")], v[("Y", "~", "Z")], v[("Y", "~", "X:Z")]
    pxx, pzz, pxz, psi = v[("X", "~~", "X")], v[("Z", "~~", "Z")], v[("X", "~~", "Z")], v[("Y", "~~", "Y")]
    var_y = g1 ** 2 * pxx + g2 ** 2 * pzz + 2 * g1 * g2 * pxz + w ** 2 * (pxx * pzz + pxz ** 2) + psi
    mean, cov = pop.moments()
    assert cov.loc["Y", "Y"] == pytest.approx(var_y, rel=1e-12)
    assert mean["Y"] == pytest.approx(w * pxz, rel=1e-12)
    assert cov.loc["X", "Y"] == pytest.approx(g1 * pxx + g2 * pxz, rel=1e-12)
    # and the draws agree with them (n = 50,000: SE of the variance about 0.008)
    d = pop.draw(50_000, seed=9)
    y = d[["y1", "y2", "y3"]].to_numpy() @ np.ones(3) / 3
    lam_y = np.array([1.0, v[("Y", "=~", "y2")], v[("Y", "=~", "y3")]]).mean()
    err_var = np.mean([v[(f"y{i}", "~~", f"y{i}")] for i in (1, 2, 3)]) / 3
    assert np.var(y) == pytest.approx(lam_y ** 2 * var_y + err_var, abs=0.03)


def test_generator_is_seeded(xz):
    _, _, pop = xz
    a, b, c = pop.draw(50, seed=1), pop.draw(50, seed=1), pop.draw(50, seed=2)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a.to_numpy(), c.to_numpy())


@pytest.mark.parametrize("n", [pytest.param(20_000, marks=pytest.mark.slow), 2_000])
def test_recovery(xz, n):
    """n = 20,000 (slow; 2,000 by default): every estimate within 3.5 SE of the truth (30
    parameters: a false alarm for about 1% of seeds), the interaction within 2 SE."""
    m, pt, pop = xz
    d = pop.draw(n, seed=5)
    r = fit_lms(m, pt, d)
    assert r.converged
    truth = pop.truth().set_index(["lhs", "op", "rhs"])["true"]
    p = r.params.set_index(["lhs", "op", "rhs"])
    z = (p.loc[truth.index, "est"] - truth) / p.loc[truth.index, "se"]
    assert np.all(np.abs(z) < 3.5), z[np.abs(z) >= 3.5]
    assert abs(z[("Y", "~", "X:Z")]) < 2
    # the Wen-Marsh-Hau standardized interaction against the population's
    std = float(p.loc[("Y", "~", "X:Z"), "std_all"])
    assert std == pytest.approx(pop.std_interaction("Y", "X:Z"), abs=3 * float(p.loc[("Y", "~", "X:Z"), "se"]))


def test_interface(xz):
    m, pt, pop = xz
    d = pop.draw(300, seed=21)
    r = fit_lms(m, pt, d)
    assert r.method == "lms" and r.n == 300 and r.converged
    assert r.coef("Y", "X:Z") == float(r.params.query("op == '~' and rhs == 'X:Z'").est.iloc[0])
    cv = r.cov_coef([("Y", "X"), ("Y", "X:Z")])
    assert cv.shape == (2, 2) and np.allclose(cv, cv.T)
    assert cv[1, 1] == pytest.approx(r.params.query("rhs == 'X:Z'").se.iloc[0] ** 2, rel=1e-12)
    assert list(r.vcov.index) == list(r.vcov.columns) and "Y ~ X:Z" in r.vcov.index
    # npar: the table's free rows plus the 9 added intercepts
    assert r.npar == pt.npar + 9
    assert r.aic == pytest.approx(-2 * r.loglik + 2 * r.npar)
    assert r.bic == pytest.approx(-2 * r.loglik + np.log(300) * r.npar)
    mean, cov = r.latent_moments()
    assert mean["X"] == pytest.approx(0, abs=1e-12) and cov.loc["X", "X"] == pytest.approx(r.params.query("lhs=='X' and op=='~~' and rhs=='X'").est.iloc[0])
    # model-implied Var(Y) contains the product's share: the closed form at the estimates
    e = lambda lhs, op, rhs: float(r.params.query("lhs==@lhs and op==@op and rhs==@rhs").est.iloc[0])  # noqa: E731
    var_y = (e("Y", "~", "X") ** 2 * e("X", "~~", "X") + e("Y", "~", "Z") ** 2 * e("Z", "~~", "Z")
             + 2 * e("Y", "~", "X") * e("Y", "~", "Z") * e("X", "~~", "Z")
             + e("Y", "~", "X:Z") ** 2 * (e("X", "~~", "X") * e("Z", "~~", "Z") + e("X", "~~", "Z") ** 2)
             + e("Y", "~~", "Y"))
    assert cov.loc["Y", "Y"] == pytest.approx(var_y, rel=1e-10)


def test_refuses_product_of_endogenous(tmp_path):
    m = _model(tmp_path, LINEAR.replace("Y ~ X + Z", "Z ~ X\nW =~ w1 + w2 + w3\nW ~ Z\nY ~ X + Z + W + Z:W"))
    with pytest.raises(SpecError, match="exogenous latent variable"):
        fit_lms(m, m.table(), pd.DataFrame(np.zeros((20, 12)), columns=list(m.table().ov)))


def test_bootstrap_warm_start_equals_refit(xz):
    """bootstrap_lms: draw k depends on stream k only, and its warm-started estimate is the
    maximum of that resample's likelihood (a cold fit of the same rows) to 1% of an SE
    (its stopping rule is steps below 0.1% of an SE)."""
    from smsem.estimate.interaction.lms import bootstrap_lms

    m, pt, pop = xz
    d = pop.draw(300, seed=4)
    res = fit_lms(m, pt, d)
    b3 = bootstrap_lms(res, 3, seed=8)
    b2 = bootstrap_lms(res, 2, seed=8)
    np.testing.assert_array_equal(b3[:2], b2)
    assert np.all(np.isfinite(b3))
    idx = np.random.default_rng(np.random.SeedSequence(8).spawn(3)[2]).integers(0, 300, 300)
    cold = fit_lms(m, pt, d.iloc[idx].reset_index(drop=True), se=False)
    se = np.sqrt(np.diag(res._vcov_all))
    assert np.max(np.abs(b3[2] - cold.theta) / se) < 0.01
    # the moderation reports' protocol: bootstrap_thetas + accessors_at
    np.testing.assert_array_equal(res.bootstrap_thetas(3, 8), b3)
    view = res.accessors_at(b3[2])
    assert view.coef("Y", "X:Z") == pytest.approx(cold.coef("Y", "X:Z"), abs=0.01 * se[res.engine.names().index(("Y", "~", "X:Z"))])
    mean_v, cov_v = view.latent_moments()
    mean_c, cov_c = cold.latent_moments()
    np.testing.assert_allclose(cov_v.to_numpy(), cov_c.to_numpy(), atol=1e-3)


def test_latent_by_observed_moderator(tmp_path):
    """X:w with w observed: the product is linear in w given X (X is integrated); the
    coefficients are recovered from data generated here with known values (3 SE)."""
    m = _model(tmp_path, "X =~ x1 + x2 + x3\nY =~ y1 + y2 + y3\nY ~ X + w + X:w\n")
    assert m.table().lv_interactions == [("X:w", "X", "w")]
    rng = np.random.default_rng(np.random.SeedSequence(31))
    n = 1000
    x, w = rng.standard_normal(n), rng.standard_normal(n)
    y = 0.3 * x + 0.3 * w + 0.25 * x * w + 0.7 * rng.standard_normal(n)
    d = pd.DataFrame({**{f"x{i}": x + 0.6 * rng.standard_normal(n) for i in (1, 2, 3)},
                      **{f"y{i}": y + 0.6 * rng.standard_normal(n) for i in (1, 2, 3)}, "w": w})
    r = fit_lms(m, m.table(), d)
    for rhs, true in (("X", 0.3), ("w", 0.3), ("X:w", 0.25)):
        row = r.params.query("op == '~' and rhs == @rhs").iloc[0]
        assert abs(row.est - true) < 3 * row.se, (rhs, row.est, row.se)


def test_defined_parameters(tmp_path, xz):
    """``:=`` rows over a product's label: value and delta-method SE from the estimates."""
    _, _, pop = xz
    m = _model(tmp_path, "X =~ x1 + x2 + x3\nZ =~ z1 + z2 + z3\nY =~ y1 + y2 + y3\n"
                         "Y ~ a*X + Z + b*X:Z\nhigh := a + b\n")
    r = fit_lms(m, m.table(), pop.draw(300, seed=6))
    row = r.params.query("op == ':='").iloc[0]
    assert row.lhs == "high" and row.est == pytest.approx(r.coef("Y", "X") + r.coef("Y", "X:Z"), rel=1e-12)
    v = r.cov_coef([("Y", "X"), ("Y", "X:Z")])
    assert row.se == pytest.approx(np.sqrt(v.sum()), rel=1e-10)


def test_refuses_constraints(tmp_path):
    m = _model(tmp_path, "X =~ x1 + x2 + x3\nZ =~ z1 + z2 + z3\nY =~ y1 + y2 + y3\n"
                         "Y ~ X + Z + b*X:Z\nb > 0\n")
    with pytest.raises(SpecError, match="line 5: b > 0: constraints are not supported"):
        fit_lms(m, m.table(), pd.DataFrame(np.zeros((20, 9)), columns=list(m.table().ov)))


def test_nonconvergence_warning_names_a_parameter(xz):
    from smsem.exceptions import ConvergenceWarning

    m, pt, pop = xz
    with pytest.warns(ConvergenceWarning, match=r"did not converge \(largest gradient at \S+ (=~|~~|~|~1)"):
        fit_lms(m, pt, pop.draw(200, seed=1), max_iter=2, se=False)


def test_linear_comparison_drops_every_product_wherever_written(tmp_path, xz):
    """The LRT of the interaction against the linear model: the product written first and
    labelled, and a := row naming its label, still give the linear model of the same items
    (df = number of products) whose loglik is the ML fit's."""
    from smsem.estimate.interaction.moderation import linear_comparison

    _, _, pop = xz
    d = pop.draw(400, seed=8)
    text = "X =~ x1 + x2 + x3\nZ =~ z1 + z2 + z3\nY =~ y1 + y2 + y3\nY ~ g*X:Z + X + Z\ngg := 2*g\n"
    res = smsem.fit(_model(tmp_path, text), d, interaction_method="lms")
    c = linear_comparison(res)
    assert c["lrt"]["df"] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ml = smsem.fit(_model(tmp_path, LINEAR, "lin.lav"), d, meanstructure=True)
    assert c["table"].loc[0, "logl"] == pytest.approx(ml.fit_indices["logl"], abs=1e-6)
    assert c["lrt"]["chi2"] > 0
