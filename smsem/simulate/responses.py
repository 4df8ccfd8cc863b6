"""Draw survey responses from a population: continuous, then cut into Likert codes."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from .._validation import check_int, check_seed
from ..exceptions import SpecError
from ..model.spec import PopulationSpec, SEMModel
from .population import PopulationModel, population_model

__all__ = ["symmetric_thresholds", "simulate", "draw_continuous", "cut_likert"]

DEFAULT_SEED = 20190101


def symmetric_thresholds(k: int) -> np.ndarray:
    """Default thresholds for a k-point scale on the latent-normal response.

    Equally spaced from -1.8 to 1.8 (k >= 3), or 0 for k = 2: symmetric about the
    midpoint with thin extreme categories, as agreement scales usually are. For k = 5
    the category probabilities are .036, .238, .451, .238, .036.
    """
    k = check_int("likert", k, low=2, high=11)
    if k == 2:
        return np.array([0.0])
    return np.linspace(-1.8, 1.8, k - 1)


def _check_thresholds(th: Sequence[float], k: int) -> np.ndarray:
    th = np.asarray(th, dtype=float)
    if th.ndim != 1 or th.size != k - 1:
        raise SpecError(f"a {k}-point scale needs {k - 1} thresholds, got {th.size}")
    if not np.all(np.isfinite(th)):
        raise SpecError(f"thresholds must be finite numbers, got {th.tolist()}")
    bad = np.flatnonzero(np.diff(th) <= 0)
    if bad.size:
        i = int(bad[0])
        raise SpecError(f"thresholds must be strictly increasing: threshold {i + 1} ({th[i]}) "
                        f"is not below threshold {i + 2} ({th[i + 1]})")
    return th


def draw_continuous(pop: PopulationModel, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` continuous item responses (standardized metric), shape ``(n, p)``.

    Structural disturbances are drawn, pushed through ``(I - B)^-1`` and the loadings;
    unique parts are added. The result has covariance ``pop.implied_cov``.
    """
    m = len(pop.latents)
    zeta = rng.standard_normal((n, m)) @ np.linalg.cholesky(pop.psi).T
    eta = zeta @ np.linalg.inv(np.eye(m) - pop.beta).T
    x = eta @ pop.lambda_.T
    x += rng.standard_normal(x.shape) * np.sqrt(pop.theta)
    return x


def cut_likert(x: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Codes ``1..k``: 1 + the number of thresholds below each response."""
    return (np.searchsorted(thresholds, x, side="right") + 1).astype(np.int8)


def simulate(
    model: SEMModel,
    n: int = 300,
    seed: int = DEFAULT_SEED,
    *,
    likert: int = 5,
    thresholds: Sequence[float] | None = None,
    population: PopulationSpec | None = None,
) -> pd.DataFrame:
    """Simulate a survey from a model's population values.

    Parameters
    ----------
    model : SEMModel
        The model; its ``population`` gives the standardized values unless
        ``population`` is passed.
    n : int, default=300
        Respondents.
    seed : int, default=20190101
        Seed of :class:`numpy.random.SeedSequence`; the same seed gives identical data.
    likert : int, default=5
        Number of scale points (2..11); 0 keeps the continuous responses.
    thresholds : sequence of float, optional
        ``likert - 1`` increasing cut points on the standardized response; default
        :func:`symmetric_thresholds`.
    population : PopulationSpec, optional
        Population values overriding the model's.

    Returns
    -------
    DataFrame
        One row per respondent, one column per item. ``df.attrs["smsem"]`` holds the
        generating parameters (written to the JSON sidecar by :func:`smsem.io.write_survey`).
    """
    n = check_int("n", n, low=1)
    seed = check_seed(seed)
    likert = check_int("likert", likert, low=0, high=11)
    if likert == 1:
        raise SpecError("likert must be 0 (continuous) or 2..11 scale points, got 1")
    pop = population_model(model, population)
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    x = draw_continuous(pop, n, rng)
    th: np.ndarray | None = None
    if likert:
        th = _check_thresholds(thresholds, likert) if thresholds is not None else symmetric_thresholds(likert)
        data: Any = cut_likert(x, th)
    else:
        data = x
    df = pd.DataFrame(data, columns=pop.items)
    spec = population if population is not None else model.population
    df.attrs["smsem"] = {
        "model": model.name,
        "n": n,
        "seed": seed,
        "likert": likert,
        "thresholds": None if th is None else th.tolist(),
        "population": spec.to_mapping() if spec is not None else None,
    }
    return df
