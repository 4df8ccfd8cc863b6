"""Estimation: the semopy backend and the results objects."""

from .backend import Matrices, ParamMap, standardized_matrices
from .options import fit
from .results import PARAM_COLUMNS, FitResults, structural_std

__all__ = ["FitResults", "Matrices", "ParamMap", "PARAM_COLUMNS", "fit", "standardized_matrices", "structural_std"]
