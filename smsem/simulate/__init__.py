"""Synthetic survey data with exactly known truth."""

from .population import PopulationModel, population_model
from .responses import DEFAULT_SEED, cut_likert, draw_continuous, simulate, symmetric_thresholds

__all__ = [
    "DEFAULT_SEED",
    "PopulationModel",
    "cut_likert",
    "draw_continuous",
    "population_model",
    "simulate",
    "symmetric_thresholds",
]
