"""Departments: groups of respondents with their own latent means and path values.

The essay's sales-marketing *perception gap* is simulated as two groups (``sales`` and
``marketing``) answering about the same organization: each group has its own latent
means and may have its own structural coefficients.

Mean structure
--------------
Items follow ``x = nu + Lambda eta + eps`` with item intercepts ``nu = 0``; a group's
latent means ``mu`` are in standard-deviation units of its (standardized) latent
variables, so an item's mean is ``loading * mu``. With ``nu = 0`` the Likert thresholds
keep their meaning: a group with all means 0 answers exactly like the codebook's
population (symmetric categories under the default thresholds), and a latent mean of
``+0.5`` moves the item's whole response distribution ``0.5 * loading`` standard
deviations toward agreement. The structural intercepts that produce ``mu`` are
``alpha = (I - B) mu`` (recorded in the sidecar).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from .._validation import check_real
from ..exceptions import SpecError
from ..model.spec import PopulationSpec
from .population import PopulationModel

__all__ = ["Department", "latent_mean_vector", "mixture_moments", "DEPARTMENT_COLUMN"]

DEPARTMENT_COLUMN = "department"


@dataclass(frozen=True)
class Department:
    """One group of respondents.

    Parameters
    ----------
    name : str
        Value written in the ``department`` column (e.g. ``"sales"``).
    share : float
        Share of the respondents, in (0, 1]; the shares of all departments sum to 1.
    latent_means : mapping, optional
        ``construct -> mean`` in SD units (absolute, not relative to other groups);
        constructs not listed have mean 0.
    paths : mapping, optional
        ``outcome -> {predictor: standardized coefficient}`` replacing the population's
        values for this group only.
    item_intercepts : mapping, optional
        ``item -> intercept`` in SD units of the item's continuous response (before Likert
        cutting): measurement non-invariance of intercepts (issue 14). Items not listed
        have intercept 0, as every item of a department without this option.
    loadings : mapping, optional
        ``construct -> [standardized loading per indicator]`` replacing the population's for
        this group only: non-invariant loadings (the residual variances follow, 1 - loading^2).
    item_thresholds : mapping, optional
        ``item -> [k - 1 increasing cut points]`` on the item's continuous response (SD
        units, as the study's ``thresholds``) replacing the common ones for this group only:
        non-invariant thresholds for ordinal studies (Likert items only).
    """

    name: str
    share: float
    latent_means: Mapping[str, float] = field(default_factory=dict)
    paths: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    item_intercepts: Mapping[str, float] = field(default_factory=dict)
    loadings: Mapping[str, Sequence[float]] = field(default_factory=dict)
    item_thresholds: Mapping[str, Sequence[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_real(f"share of department {self.name}", self.share, low=0.0, high=1.0, low_open=True)

    def population(self, base: PopulationSpec) -> PopulationSpec:
        """``base`` with this department's path values (and loadings) substituted."""
        if not self.paths and not self.loadings:
            return base
        paths = {k: dict(v) for k, v in base.paths.items()}
        for dst, preds in self.paths.items():
            paths.setdefault(dst, {}).update({src: float(b) for src, b in preds.items()})
        loadings = dict(base.loadings)
        for f, lam in self.loadings.items():
            if f not in loadings:
                raise SpecError(f"department {self.name}: loadings of unknown construct {f!r}")
            if len(lam) != len(loadings[f]):
                raise SpecError(f"department {self.name}: {f} has {len(loadings[f])} indicators, "
                                f"got {len(lam)} loadings")
            loadings[f] = tuple(float(v) for v in lam)
        return PopulationSpec(loadings, paths, base.correlations)

    def intercept_vector(self, items: Sequence[str]) -> np.ndarray | None:
        """Item intercepts in ``items`` order (None when all are 0)."""
        if not self.item_intercepts:
            return None
        unknown = [k for k in self.item_intercepts if k not in items]
        if unknown:
            raise SpecError(f"department {self.name}: item intercept of unknown item {unknown[0]!r}")
        return np.array([float(self.item_intercepts.get(v, 0.0)) for v in items])

    def to_mapping(self) -> dict[str, Any]:
        out = {"name": self.name, "share": self.share, "latent_means": dict(self.latent_means),
               "paths": {k: dict(v) for k, v in self.paths.items()}}
        if self.item_intercepts:
            out["item_intercepts"] = dict(self.item_intercepts)
        if self.loadings:
            out["loadings"] = {k: list(v) for k, v in self.loadings.items()}
        if self.item_thresholds:
            out["item_thresholds"] = {k: [float(t) for t in v] for k, v in self.item_thresholds.items()}
        return out


def latent_mean_vector(pop: PopulationModel, means: Mapping[str, float] | None, where: str = "latent means") -> np.ndarray:
    """Means of the latent variables in ``pop.latents`` order (0 where not given)."""
    mu = np.zeros(len(pop.latents))
    for name, value in (means or {}).items():
        if name not in pop.latents:
            raise SpecError(f"{where}: {name!r} is not a latent variable of the model "
                            f"({', '.join(pop.latents)})")
        mu[pop.latents.index(name)] = check_real(f"{where} of {name}", value)
    return mu


def group_sizes(n: int, departments: Sequence[Department]) -> list[int]:
    """Exact group sizes: ``round(share * n)``, the last group taking the remainder."""
    total = sum(d.share for d in departments)
    if abs(total - 1.0) > 1e-9:
        raise SpecError(f"department shares must sum to 1, got {total:g} "
                        f"({', '.join(f'{d.name}={d.share:g}' for d in departments)})")
    names = [d.name for d in departments]
    if len(set(names)) != len(names):
        raise SpecError(f"department names must be distinct, got {names}")
    sizes = [int(round(d.share * n)) for d in departments[:-1]]
    sizes.append(n - sum(sizes))
    if min(sizes) < 1:
        raise SpecError(f"n = {n} is too small for departments with shares "
                        f"{', '.join(f'{d.name}={d.share:g}' for d in departments)}: a group would be empty")
    return sizes


def mixture_moments(pops: Sequence[PopulationModel], means: Sequence[np.ndarray], weights: Sequence[float]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Mean vector and covariance of the items pooled over groups (a finite mixture).

    ``cov = sum_g w_g Sigma_g + sum_g w_g (m_g - m)(m_g - m)'`` with item means
    ``m_g = Lambda_g mu_g``: pooled departments are *not* the single-group model unless
    their means coincide.
    """
    w = np.asarray(weights, dtype=float)
    item_means = np.array([p.lambda_ @ mu for p, mu in zip(pops, means)])
    m = w @ item_means
    cov = sum(wg * p.implied_cov.to_numpy() for wg, p in zip(w, pops))
    dev = item_means - m
    cov = cov + (dev * w[:, None]).T @ dev
    return m, cov
