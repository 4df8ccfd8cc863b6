"""Monte Carlo studies: power, bias and coverage per proposition (simsem/Mplus style).

::

    from smsem.montecarlo import load_config, run_study
    cfg = load_config("models/montecarlo/sample_size.yaml")
    res = run_study(cfg, "out", jobs=2)        # or scheduler="tcp://host:8786"
    res.parameters, res.fit, res.planning     # DataFrames

Data flows model -> simulate -> estimate -> montecarlo; :func:`run_replications` (a chunk
of one cell) and :func:`run_replication` (one) do the replications' work: the fast batched
ML path (:mod:`smsem.montecarlo.fast`) where it applies, else :func:`reference_replication`.
"""

from .config import Cell, StudyConfig, config_from_mapping, load_config
from .replication import reference_replication, run_replication, run_replications, simulate_cell
from .runner import run_study
from .scenarios import scenario_population, true_values
from .seeds import replication_seed, replication_seedseq
from .store import STORE_NAME, Store
from .summary import StudyResults, interpolate_n, wilson

__all__ = [
    "Cell",
    "STORE_NAME",
    "Store",
    "StudyConfig",
    "StudyResults",
    "config_from_mapping",
    "interpolate_n",
    "load_config",
    "replication_seed",
    "replication_seedseq",
    "reference_replication",
    "run_replication",
    "run_replications",
    "run_study",
    "scenario_population",
    "simulate_cell",
    "true_values",
    "wilson",
]
