"""Synthetic survey data with exactly known truth."""

from .groups import DEPARTMENT_COLUMN, Department, latent_mean_vector, mixture_moments
from .missing import MissingSpec, apply_missing, missing_mask
from .nonnormal import ValeMaurelli, fleishman_coefficients, intermediate_correlation
from .population import PopulationModel, population_model
from .responses import (
    DEFAULT_SEED,
    STREAMS,
    category_probabilities,
    cut_likert,
    draw_continuous,
    simulate,
    simulate_items,
    skewed_thresholds,
    symmetric_thresholds,
    wide_thresholds,
    thresholds_from_proportions,
)
from .scenarios import Scenario, list_scenarios, load_scenario

__all__ = [
    "DEFAULT_SEED",
    "DEPARTMENT_COLUMN",
    "Department",
    "MissingSpec",
    "PopulationModel",
    "STREAMS",
    "Scenario",
    "ValeMaurelli",
    "apply_missing",
    "missing_mask",
    "category_probabilities",
    "cut_likert",
    "draw_continuous",
    "fleishman_coefficients",
    "intermediate_correlation",
    "latent_mean_vector",
    "list_scenarios",
    "load_scenario",
    "mixture_moments",
    "population_model",
    "simulate",
    "simulate_items",
    "skewed_thresholds",
    "symmetric_thresholds",
    "wide_thresholds",
    "thresholds_from_proportions",
]
