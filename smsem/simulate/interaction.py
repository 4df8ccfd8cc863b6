"""Populations with latent interactions: draws with the exact truth recorded.

The population is the analysis model's own parameter table with a value for every free
row (``y ~ a:b`` rows included), in the table's metric (first loading 1). Latent scores
follow ``z = alpha + B z + sum_j g_j z_a z_b e_t + zeta`` (solved exactly, the structural
part being recursive), ``zeta ~ N(0, Psi)``; items ``x = nu + Lambda z + eps``,
``eps ~ N(0, Theta)``. The endogenous latent variables are non-normal (they contain
products of normal variables). Every draw comes from ``numpy.random.SeedSequence(seed)``:
stream 0 the disturbances, stream 1 the item errors.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import pandas as pd

from ..exceptions import SpecError

__all__ = ["InteractionPopulation", "interaction_population", "standardized_interaction"]


class InteractionPopulation:
    """A population of a model with latent interactions (see the module docstring)."""

    def __init__(self, pt: Any, values: Mapping[tuple[str, str, str], float], intercepts: Mapping[str, float] | None = None):
        from ..estimate.interaction.lms import LMSModel

        self.pt = pt
        self.engine = LMSModel(pt, quad_points=8)
        lm = self.engine
        theta = np.full(lm.n_theta, np.nan)
        for j, key in enumerate(lm.names()):
            if key[1] == "~1" and lm.added_means:
                theta[j] = float((intercepts or {}).get(key[0], 0.0))
                continue
            v = values.get(key)
            if v is None and key[1] == "~~":
                v = values.get((key[2], "~~", key[0]))
            if v is None:
                raise SpecError(f"the population gives no value for {' '.join(key)}")
            theta[j] = float(v)
        self.theta = theta
        self.values = dict(values)

    def truth(self) -> pd.DataFrame:
        """The true value of every free parameter: columns ``lhs, op, rhs, true``."""
        rows = [(l, o, r, float(t)) for (l, o, r), t in zip(self.engine.names(), self.theta)]
        return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "true"])

    def moments(self) -> tuple[pd.Series, pd.DataFrame]:
        """Exact means and covariances of the latent variables (products included)."""
        from ..estimate.interaction.results import implied_moments

        ez, cz, _, _ = implied_moments(self.engine, self.theta)
        names = list(self.engine.inner)
        return pd.Series(ez, index=names), pd.DataFrame(cz, index=names, columns=names)

    def std_interaction(self, lhs: str, product: str) -> float:
        """Standardized interaction ``g sd(a) sd(b) / sd(lhs)`` (Wen, Marsh & Hau, 2010)."""
        _, cov = self.moments()
        a, b = product.split(":")
        g = self.values[(lhs, "~", product)]
        return float(g * np.sqrt(cov.loc[a, a] * cov.loc[b, b] / cov.loc[lhs, lhs]))

    def draw(self, n: int, seed: int | np.random.SeedSequence = 0) -> pd.DataFrame:
        """``n`` respondents' item responses (continuous), columns ``pt.ov``."""
        lm = self.engine
        ss = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
        s_zeta, s_eps = ss.spawn(2)
        M = lm.batch_matrices(self.theta[None])
        beta, lam, psi, th, nu, alpha, g = (M[k][0] for k in ("beta", "lambda", "psi", "theta", "nu", "alpha",
                                                               "omega"))
        m = beta.shape[0]
        zeta = _mvn(np.random.default_rng(s_zeta), psi, n)
        eps = _mvn(np.random.default_rng(s_eps), th, n)
        z = alpha + zeta
        for _ in range(m + 1):  # recursive structure: exact after m passes
            new = alpha + zeta + z @ beta.T
            for j, pr in enumerate(lm.products):
                new[:, pr.target] += g[j] * z[:, pr.a] * z[:, pr.b]
            z = new
        x = nu + z @ lam.T + eps
        return pd.DataFrame(x, columns=list(lm.observed))


def _mvn(rng: np.random.Generator, cov: np.ndarray, n: int) -> np.ndarray:
    """Normal draws with covariance ``cov`` (PSD, zero rows allowed)."""
    w, v = np.linalg.eigh(cov)
    if w.min() < -1e-10 * max(1.0, w.max()):
        raise SpecError("the population covariance matrix is not positive semi-definite")
    root = v * np.sqrt(np.clip(w, 0, None))
    return rng.standard_normal((n, cov.shape[0])) @ root.T


def interaction_population(model: Any, values: Mapping[tuple[str, str, str], float],
                           intercepts: Mapping[str, float] | None = None, **table_options: Any
                           ) -> InteractionPopulation:
    """The population of ``model`` (an SEMModel or a parameter table) at ``values``."""
    pt = model.table(**table_options) if callable(getattr(model, "table", None)) else model
    return InteractionPopulation(pt, values, intercepts)


def standardized_interaction(pop: InteractionPopulation, lhs: str, product: str) -> float:
    return pop.std_interaction(lhs, product)


def population_values(pt: Any, *, loading: float = 0.8, regression: float = 0.3, item_residual: float = 0.4,
                      latent_variance: float = 1.0, latent_covariance: float = 0.3, residual: float = 0.5,
                      interaction: float | Mapping[str, float] = 0.2,
                      overrides: Mapping[tuple[str, str, str], float] | None = None
                      ) -> dict[tuple[str, str, str], float]:
    """A value for every free row of ``pt``: loadings, regressions, item residual variances,
    exogenous latent variances and covariances, endogenous residual variances, and the
    product coefficients (``interaction``: one value or ``{product: value}``); then
    ``overrides``."""
    from ..estimate.matrices import table_rows

    rows = table_rows(pt)
    prods = {p[0] for p in (getattr(pt, "lv_interactions", None) or [])}
    endo = {r["lhs"] for r in rows if r["op"] == "~"}
    ov = set(pt.ov)
    out: dict[tuple[str, str, str], float] = {}
    for r in rows:
        if r["free"] <= 0 or r["op"] not in ("=~", "~", "~~", "~1"):
            continue
        key = (r["lhs"], r["op"], r["rhs"])
        if r["op"] == "=~":
            v = loading
        elif r["op"] == "~":
            if r["rhs"] in prods:
                v = interaction.get(r["rhs"], 0.0) if isinstance(interaction, Mapping) else interaction
            else:
                v = regression
        elif r["op"] == "~1":
            v = 0.0
        elif r["lhs"] in ov:
            v = item_residual if r["lhs"] == r["rhs"] else 0.0
        elif r["lhs"] == r["rhs"]:
            v = residual if r["lhs"] in endo else latent_variance
        else:
            v = latent_covariance if r["lhs"] not in endo and r["rhs"] not in endo else 0.0
        out[key] = float(v)
    out.update(overrides or {})
    return out
