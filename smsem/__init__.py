"""smsem: structural equation modeling of the sales-marketing relationship.

The curated public API::

    m = smsem.load_model("integrative")
    df = smsem.simulate(m, n=300, seed=1)
    res = smsem.fit(m, df)
    table = smsem.proposition_table(res, n_boot=1000, seed=1)
    print(table)
"""

__version__ = "0.1.0"

import sys  # noqa: E402
import types  # noqa: E402

# The API is imported on first use (PEP 562 module ``__getattr__``): ``import smsem`` and
# ``smsem --help`` stay instant, and semopy, scipy.stats, matplotlib, dask and pyarrow are
# imported only by the functions that need them. ``from smsem import fit`` works as usual.
_LAZY = {
    "BootstrapResults": ".bootstrap", "bootstrap": ".bootstrap",
    "FitResults": ".estimate", "fit": ".estimate",
    "Effects": ".estimate.effects", "effects": ".estimate.effects",
    "MeasurementQuality": ".estimate.quality", "QualityThresholds": ".estimate.quality",
    "reliability": ".estimate.quality",
    "ConvergenceWarning": ".exceptions", "DataError": ".exceptions", "EstimationError": ".exceptions",
    "HeywoodWarning": ".exceptions", "OptionError": ".exceptions", "SmsemError": ".exceptions",
    "SpecError": ".exceptions",
    "read_survey": ".io", "write_survey": ".io",
    "SEMModel": ".model", "load_model": ".model", "parse_lavaan": ".model",
    "PropositionTable": ".propositions", "proposition_table": ".propositions", "verdict": ".propositions",
    "population_model": ".simulate", "simulate": ".simulate",
}


from ._lazy import lazy_attributes  # noqa: E402

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


class _Package(types.ModuleType):
    """``smsem.bootstrap`` and ``smsem.simulate`` name functions, like their submodules.

    Importing a submodule sets the package attribute of the same name to the module; the
    eager ``from .bootstrap import bootstrap`` of old rebound it to the function, and this
    keeps it so once the imports are lazy.
    """

    def __setattr__(self, name: str, value) -> None:
        if name in ("bootstrap", "simulate") and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


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
