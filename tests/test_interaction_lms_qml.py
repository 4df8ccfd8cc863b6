"""QML (Klein & Muthén 2007): its quasi-likelihood is the exact likelihood without products
(= the ML and LMS log-likelihoods), and it recovers a known interaction (slow)."""

from __future__ import annotations

import numpy as np
import pytest

import smsem
from smsem.estimate.interaction.lms import LMSModel, fit_lms
from smsem.estimate.interaction.qml import QMLModel, fit_qml
from smsem.exceptions import SpecError
from smsem.simulate.interaction import interaction_population, population_values

LINEAR = """X =~ x1 + x2 + x3
Z =~ z1 + z2 + z3
Y =~ y1 + y2 + y3
W =~ w1 + w2 + w3
Y ~ X + Z
W ~ Y + X
"""


def test_quasi_likelihood_is_ml_without_products(tmp_path):
    """At the ML estimates of a product-free model (a chain X, Z -> Y -> W), the QML
    factorization f(x) f(r) f(y_R | x, r) is exact: its value is lavaan's/smsem's logl."""
    p = tmp_path / "lin.lav"
    p.write_text(LINEAR)
    m = smsem.load_model(str(p))
    pt = m.table()
    d = interaction_population(m, population_values(pt)).draw(300, seed=2)
    ml = smsem.fit(m, d)
    lms = fit_lms(m, pt, d, se=False)
    qm = QMLModel(pt)
    x = d[list(pt.ov)].to_numpy()
    assert qm.loglik(lms.theta, x) == pytest.approx(ml.fit_indices["logl"], abs=1e-6)
    # away from the optimum too: QML and the exact (LMS, no quadrature) likelihood agree
    t = lms.theta + 0.01 * np.random.default_rng(0).standard_normal(len(lms.theta))
    assert qm.loglik(t, x) == pytest.approx(LMSModel(pt).estep(t, x)[0], abs=1e-8)


def test_quasi_likelihood_close_to_lms_with_product():
    """With a product, QML approximates f(y_R | x, r) by a normal density: close to, not
    equal to, the LMS likelihood (the difference is the non-normality QML ignores)."""
    m = smsem.load_model("models/montecarlo/moderation_xz.lav")
    pt = m.table()
    pop = interaction_population(m, population_values(pt, interaction=0.25))
    x = pop.draw(500, seed=3)[list(pt.ov)].to_numpy()
    q = QMLModel(pt).loglik(pop.theta, x)
    lm = LMSModel(pt, quad_points=64).estep(pop.theta, x)[0]
    assert q != pytest.approx(lm, abs=1e-3)
    assert abs(q - lm) / 500 < 0.01


def test_qml_refuses_cross_loading(tmp_path):
    p = tmp_path / "c.lav"
    p.write_text("X =~ x1 + x2 + x3\nZ =~ z1 + z2 + z3\nY =~ y1 + y2 + y3 + x3\nY ~ X + Z + X:Z\n")
    m = smsem.load_model(str(p))
    with pytest.raises(SpecError, match="load on exactly one"):
        QMLModel(m.table())


@pytest.mark.slow
def test_qml_recovery():
    """n = 5,000: every estimate within 3.5 SE of the truth, the interaction within 2 SE,
    and QML's interaction within 0.2 SE of LMS's."""
    m = smsem.load_model("models/montecarlo/moderation_xz.lav")
    pt = m.table()
    pop = interaction_population(m, population_values(pt, loading=0.9, regression=0.4, item_residual=0.5,
                                                      latent_covariance=0.3, residual=0.6, interaction=0.25))
    d = pop.draw(5000, seed=5)
    q = fit_qml(m, pt, d)
    assert q.converged and q.method == "qml"
    truth = pop.truth().set_index(["lhs", "op", "rhs"])["true"]
    p = q.params.set_index(["lhs", "op", "rhs"])
    z = (p.loc[truth.index, "est"] - truth) / p.loc[truth.index, "se"]
    assert np.all(np.abs(z) < 3.5)
    assert abs(z[("Y", "~", "X:Z")]) < 2
    r = fit_lms(m, pt, d)
    assert abs(q.coef("Y", "X:Z") - r.coef("Y", "X:Z")) < 0.2 * float(p.loc[("Y", "~", "X:Z"), "se"])
