"""smsem: structural equation modeling of the sales-marketing relationship.

The curated public API::

    m = smsem.load_model("integrative")
    df = smsem.simulate(m, n=300, seed=1)
    res = smsem.fit(m, df)
    table = smsem.proposition_table(res, n_boot=1000, seed=1)
    print(table)
"""

__version__ = "0.1.0"

from .bootstrap import BootstrapResults, bootstrap  # noqa: E402
from .estimate import FitResults, fit  # noqa: E402
from .estimate.effects import Effects, effects  # noqa: E402
from .estimate.quality import MeasurementQuality, QualityThresholds, reliability  # noqa: E402
from .exceptions import (  # noqa: E402
    ConvergenceWarning,
    DataError,
    EstimationError,
    HeywoodWarning,
    OptionError,
    SmsemError,
    SpecError,
)
from .io import read_survey, write_survey  # noqa: E402
from .model import SEMModel, load_model, parse_lavaan  # noqa: E402
from .propositions import PropositionTable, proposition_table, verdict  # noqa: E402
from .simulate import population_model, simulate  # noqa: E402

__all__ = [
    "BootstrapResults",
    "ConvergenceWarning",
    "DataError",
    "Effects",
    "EstimationError",
    "FitResults",
    "HeywoodWarning",
    "MeasurementQuality",
    "OptionError",
    "PropositionTable",
    "QualityThresholds",
    "SEMModel",
    "SmsemError",
    "SpecError",
    "__version__",
    "bootstrap",
    "effects",
    "fit",
    "load_model",
    "parse_lavaan",
    "population_model",
    "proposition_table",
    "read_survey",
    "reliability",
    "simulate",
    "verdict",
    "write_survey",
]
