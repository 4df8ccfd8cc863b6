"""Population models: standardized values -> residual variances -> implied covariance.

The population is stated in the standardized metric (every latent variable and every
continuous item response has variance 1). smsem derives the residual variances, checks
admissibility before any draw, and gives the true value of every free parameter both
standardized and in the metric semopy and lavaan estimate (first loading fixed to 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from ..exceptions import SpecError
from ..model.spec import PopulationSpec, SEMModel

__all__ = ["PopulationModel", "population_model"]


@dataclass(frozen=True)
class PopulationModel:
    """Matrices of a population in LISREL all-y notation, standardized metric.

    Attributes
    ----------
    latents, items : list of str
        Order of the rows and columns below.
    beta : ndarray (m, m)
        ``beta[i, j]``: standardized effect of latent ``j`` on latent ``i``.
    psi : ndarray (m, m)
        Covariance of the structural disturbances (exogenous latents: their covariance;
        endogenous: residual variances derived so that every latent variance is 1).
    lambda_ : ndarray (p, m)
        Standardized loadings.
    theta : ndarray (p,)
        Unique variances ``1 - loading**2``.
    """

    latents: list[str]
    items: list[str]
    beta: np.ndarray
    psi: np.ndarray
    lambda_: np.ndarray
    theta: np.ndarray
    endogenous: tuple[str, ...] = ()

    @cached_property
    def latent_cov(self) -> np.ndarray:
        inv = np.linalg.inv(np.eye(len(self.latents)) - self.beta)
        return inv @ self.psi @ inv.T

    @cached_property
    def implied_cov(self) -> pd.DataFrame:
        """Implied covariance (= correlation) matrix of the continuous item responses.

        The same in both metrics of :meth:`true_parameters`: the marker metric rescales
        only the latent variables (``Lambda D^-1``, ``D Psi D``), never the items.
        """
        sigma = self.lambda_ @ self.latent_cov @ self.lambda_.T + np.diag(self.theta)
        return pd.DataFrame(sigma, index=self.items, columns=self.items)

    @cached_property
    def r_squared(self) -> pd.Series:
        """R² of each endogenous latent variable."""
        idx = {v: i for i, v in enumerate(self.latents)}
        return pd.Series({v: 1.0 - self.psi[idx[v], idx[v]] for v in self.endogenous}, dtype=float)

    def true_parameters(self, model: SEMModel, metric: str = "marker") -> pd.DataFrame:
        """True value of every free parameter of ``model``.

        Parameters
        ----------
        model : SEMModel
            The analysis model; its parameters are looked up in this population.
        metric : {"marker", "std"}
            ``"marker"``: the scale the analysis model's parameter table fixes (lavaan's
            first loading at 1, or a fixed latent variance); ``"std"``: lavaan's std.all.

        Returns
        -------
        DataFrame
            Columns ``lhs, op, rhs, value``; one row per free parameter of the model's
            parameter table (its order), intercepts left out.
        """
        if metric not in ("marker", "std"):
            raise ValueError(f"metric must be 'marker' or 'std', got {metric!r}")
        lat = {v: i for i, v in enumerate(self.latents)}
        itm = {v: i for i, v in enumerate(self.items)}
        table = model.partable.parameters
        free = table[table["free"] > 0]
        if metric == "std":  # std.all also standardizes the loadings the model fixes
            free = table[(table["free"] > 0) | ((table["op"] == "=~") & (table["ustart"].fillna(0) != 0))]
        scale = np.ones(len(self.latents))
        if metric == "marker":
            # the analysis model's scale: the loading its table fixes (lavaan's
            # auto.fix.first: the first, at 1) -- or, for a factor scaled by a fixed
            # variance, that variance
            for v in self.latents:
                fixed = table[(table.op == "=~") & (table.lhs == v) & (table.free == 0)
                              & (table.ustart.fillna(0) != 0)]
                var = table[(table.op == "~~") & (table.lhs == v) & (table.rhs == v) & (table.free == 0)]
                i = lat[v]
                if len(fixed):
                    r = fixed.iloc[0]
                    scale[i] = self.lambda_[itm[r.rhs], i] / float(r.ustart)
                elif len(var) and float(var.iloc[0].ustart) > 0:
                    scale[i] = 1.0 / np.sqrt(float(var.iloc[0].ustart) / self.psi[i, i])
        rows = []
        for r in free.itertuples(index=False):
            if r.op == "=~" and r.lhs in lat and r.rhs in itm:
                value = self.lambda_[itm[r.rhs], lat[r.lhs]] / scale[lat[r.lhs]]
            elif r.op == "~" and r.lhs in lat and r.rhs in lat:
                i, j = lat[r.lhs], lat[r.rhs]
                value = self.beta[i, j] * scale[i] / scale[j]
            elif r.op == "~~" and r.lhs in lat and r.rhs in lat:
                i, j = lat[r.lhs], lat[r.rhs]
                value = self.psi[i, j] * scale[i] * scale[j]
            elif r.op == "~~" and r.lhs == r.rhs and r.lhs in itm:
                value = self.theta[itm[r.lhs]]
            elif r.op == "~~":
                value = 0.0  # a residual covariance the population does not have
            else:
                continue  # intercepts: Likert codes have no population mean structure here
            rows.append((r.lhs, r.op, r.rhs, float(value)))
        return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "value"])


def _topological(latents: list[str], paths: dict[str, dict[str, float]]) -> list[str]:
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(v: str, stack: list[str]) -> None:
        if state.get(v) == 2:
            return
        if state.get(v) == 1:
            raise SpecError(f"population paths form a cycle through {' -> '.join(stack + [v])}; "
                            "only recursive models can be simulated")
        state[v] = 1
        for u in paths.get(v, {}):
            visit(u, stack + [v])
        state[v] = 2
        order.append(v)

    for v in latents:
        visit(v, [])
    return order


def population_model(model: SEMModel, population: PopulationSpec | None = None) -> PopulationModel:
    """Derive the full population (residual variances, implied covariance) and check it.

    Parameters
    ----------
    model : SEMModel
        Gives the constructs, their indicators and the item order.
    population : PopulationSpec, optional
        Standardized values; default ``model.population``.

    Raises
    ------
    SpecError
        If a value is missing, a loading is not in (-1, 1), an endogenous construct's R²
        reaches 1, or the implied covariance is not positive definite.
    """
    pop = population if population is not None else model.population
    if pop is None:
        raise SpecError(f"model {model.name!r} has no population values; give a population or scenario")
    latents, items = model.latents, model.items
    m, p = len(latents), len(items)
    lat = {v: i for i, v in enumerate(latents)}
    itm = {v: i for i, v in enumerate(items)}
    lambda_ = np.zeros((p, m))
    for v in latents:
        ind = model.parsed.indicators(v)
        vals = pop.loadings.get(v)
        if vals is None or len(vals) != len(ind):
            raise SpecError(f"population loadings of {v} must list {len(ind)} values (one per item {ind}), "
                            f"got {None if vals is None else list(vals)}")
        for item, val in zip(ind, vals):
            if not -1.0 < val < 1.0 or val == 0.0:
                raise SpecError(f"standardized loading of item {item} on {v} is {val}; it must be in (-1, 1) "
                                "and not 0 (a loading of 1 or more leaves the item a negative unique variance)")
            lambda_[itm[item], lat[v]] = val
    beta = np.zeros((m, m))
    for dst, preds in pop.paths.items():
        if dst not in lat:
            raise SpecError(f"population path outcome {dst!r} is not a latent variable of the model")
        for src, b in preds.items():
            if src not in lat:
                raise SpecError(f"population path predictor {src!r} (of {dst}) is not a latent variable")
            beta[lat[dst], lat[src]] = b
    order = _topological(latents, {k: dict(v) for k, v in pop.paths.items()})
    # Endogenous: every outcome of a regression in the model or the population (a null
    # scenario keeps its outcomes endogenous with all paths 0).
    endogenous = {lat[r.lhs] for r in model.parsed.regressions if r.lhs in lat} | {lat[v] for v in pop.paths}
    psi = np.zeros((m, m))
    cov = np.full((m, m), np.nan)
    exo = [lat[v] for v in latents if lat[v] not in endogenous]
    for i in exo:
        psi[i, i] = 1.0
    for (a, b), r in pop.correlations.items():
        if a not in lat or b not in lat:
            raise SpecError(f"population correlation {a} ~~ {b}: {a if a not in lat else b!r} is not a latent variable")
        i, j = lat[a], lat[b]
        if i in endogenous or j in endogenous:
            raise SpecError(f"population correlation {a} ~~ {b}: only exogenous constructs may correlate "
                            "(residual covariances of endogenous constructs are not supported)")
        if not -1.0 < r < 1.0:
            raise SpecError(f"population correlation {a} ~~ {b} is {r}; it must be in (-1, 1)")
        psi[i, j] = psi[j, i] = r
    for i in exo:
        for j in exo:
            cov[i, j] = psi[i, j]
    # Walk in causal order: each construct's variance is fixed at 1, so its residual
    # variance is 1 minus the variance its predictors explain.
    done = list(exo)
    for v in order:
        i = lat[v]
        if i not in endogenous:
            continue
        preds = [j for j in range(m) if beta[i, j] != 0]
        b = beta[i, preds]
        explained = float(b @ cov[np.ix_(preds, preds)] @ b) if preds else 0.0
        if explained >= 1.0 - 1e-9:
            raise SpecError(f"construct {v}: its predictors explain R² = {explained:.4f} >= 1; "
                            "reduce its path coefficients or the correlations among its predictors")
        psi[i, i] = 1.0 - explained
        for j in done:
            cov[i, j] = cov[j, i] = float(b @ cov[preds, j]) if preds else 0.0
        cov[i, i] = 1.0
        done.append(i)
    theta = 1.0 - (lambda_ ** 2).sum(axis=1)
    out = PopulationModel(latents, items, beta, psi, lambda_, theta,
                          tuple(latents[i] for i in sorted(endogenous)))
    eig = np.linalg.eigvalsh(out.implied_cov.values)
    if eig.min() <= 1e-10:
        raise SpecError(f"the implied covariance of the items is not positive definite "
                        f"(smallest eigenvalue {eig.min():.3g}); check the correlations")
    return out
