"""Model specification: lavaan syntax, codebook, propositions, population values."""

from .spec import (
    Construct,
    Item,
    PopulationSpec,
    PropositionPath,
    SEMModel,
    load_model,
    models_dir,
)
from .syntax import DefinedSpec, ParameterSpec, ParsedModel, parse_lavaan

__all__ = [
    "Construct",
    "DefinedSpec",
    "Item",
    "ParameterSpec",
    "ParsedModel",
    "PopulationSpec",
    "PropositionPath",
    "SEMModel",
    "load_model",
    "models_dir",
    "parse_lavaan",
]
