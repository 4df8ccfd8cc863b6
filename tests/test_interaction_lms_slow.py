"""LMS and QML at n = 300 (slow): 95% Wald CI coverage of the interaction and the type-I error of
its z test when the interaction is 0 — 1,000 generated samples each, truth known exactly.

Bands: coverage in [.93, .97] (the issue's band; binomial SE at R = 1,000 is .0069, so the
band is +-2.9 SE around .95); rejection rate at alpha = .05 within the 99% binomial band
of R = 1,000 draws, [.033, .069].
"""

from __future__ import annotations

import numpy as np
import pytest

import smsem
from smsem.estimate.interaction.lms import fit_lms
from smsem.estimate.interaction.qml import fit_qml
from smsem.simulate.interaction import interaction_population, population_values

pytestmark = pytest.mark.slow

R = 1000
N = 300


def _study(interaction: float, seed: int, fit=fit_lms) -> tuple[np.ndarray, np.ndarray, float]:
    m = smsem.load_model("models/montecarlo/moderation_xz.lav")
    pt = m.table()
    pop = interaction_population(m, population_values(pt, loading=0.9, regression=0.4, item_residual=0.5,
                                                      latent_covariance=0.3, residual=0.6,
                                                      interaction=interaction))
    seeds = np.random.SeedSequence(seed).spawn(R)
    est, se = np.empty(R), np.empty(R)
    for i, s in enumerate(seeds):
        r = fit(m, pt, pop.draw(N, seed=s))
        row = r.params.query("rhs == 'X:Z'").iloc[0]
        est[i], se[i] = row.est, row.se
    return est, se, interaction


@pytest.mark.parametrize("fit", [fit_lms, fit_qml], ids=["lms", "qml"])
def test_coverage_of_interaction(fit):
    est, se, true = _study(0.25, 2026, fit)
    cover = np.mean(np.abs(est - true) <= 1.959964 * se)
    print(f"coverage {cover:.3f}, mean est {est.mean():.4f}, sd {est.std():.4f}, mean se {se.mean():.4f}")
    assert 0.93 <= cover <= 0.97


@pytest.mark.parametrize("fit", [fit_lms, fit_qml], ids=["lms", "qml"])
def test_type_one_error(fit):
    est, se, _ = _study(0.0, 2027, fit)
    rate = np.mean(np.abs(est / se) > 1.959964)
    print(f"rejection rate {rate:.3f}, mean est {est.mean():.4f}, sd {est.std():.4f}, mean se {se.mean():.4f}")
    assert 0.033 <= rate <= 0.069
