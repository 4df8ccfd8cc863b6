"""dmc and rca recover a known latent interaction (slow: n = 20,000)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.estimate.interaction.moderation import simple_slopes, standardized_interaction

GAMMA = 0.2


def _population(n, seed):
    """y = .4 x + .3 z + .2 x z + zeta; x, z standard normal with correlation .3; three
    indicators each with the first loading 1 (so the marker metric is the population's)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    x, z = rng.multivariate_normal([0, 0], [[1, .3], [.3, 1]], size=n).T
    y = 0.4 * x + 0.3 * z + GAMMA * x * z + rng.normal(0, 0.7, n)
    cols = {}
    for name, f in (("x", x), ("z", z), ("y", y)):
        for i, lam in enumerate((1.0, 0.8, 0.7), 1):
            cols[f"{name}{i}"] = lam * f + rng.normal(0, 0.6, n)
    return pd.DataFrame(cols)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["dmc", "rca"])
def test_recovery_at_n_20000(tmp_path, method):
    p = tmp_path / "m.lav"
    p.write_text("X =~ x1 + x2 + x3\nZ =~ z1 + z2 + z3\nY =~ y1 + y2 + y3\nY ~ X + Z + X:Z\n")
    res = smsem.fit(smsem.load_model(str(p)), _population(20_000, 11), interaction_method=method, match=True)
    g = res.coef("Y", "X:Z")
    se = float(np.sqrt(res.cov_coef([("Y", "X:Z")])[0, 0]))
    assert abs(g - GAMMA) < 3 * se, (g, se)  # 3 SE: a 0.3% false-alarm rate per run
    # population standardized value (Wen, Marsh & Hau 2010): var(y) = b' Phi b + g^2 var(xz) + psi
    b = np.array([0.4, 0.3])
    phi = np.array([[1, .3], [.3, 1]])
    var_y = b @ phi @ b + GAMMA ** 2 * (1 + .3 ** 2) + 0.49
    assert abs(standardized_interaction(res, "Y", "X", "Z") - GAMMA / np.sqrt(var_y)) < 3 * se / np.sqrt(var_y)
    if method == "dmc":  # simple slope of X at Z = +1 SD: .4 + .2 * sd(Z)
        ss = simple_slopes(res, "Y", "X", "Z")
        want = 0.4 + GAMMA * ss["moderator"].iloc[2]
        assert abs(ss["slope"].iloc[2] - want) < 3 * ss["se"].iloc[2]
