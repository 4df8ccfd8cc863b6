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

# Submodules are imported on first use (PEP 562), so e.g. reading a study configuration
# does not import scipy, semopy or dask.
_LAZY = {
    "Cell": ".config",
    "StudyConfig": ".config",
    "config_from_mapping": ".config",
    "load_config": ".config",
    "reference_replication": ".replication",
    "run_replication": ".replication",
    "run_replications": ".replication",
    "simulate_cell": ".replication",
    "run_study": ".runner",
    "scenario_population": ".scenarios",
    "true_values": ".scenarios",
    "replication_seed": ".seeds",
    "replication_seedseq": ".seeds",
    "STORE_NAME": ".store",
    "Store": ".store",
    "StudyResults": ".summary",
    "interpolate_n": ".summary",
    "wilson": ".summary",
}


from .._lazy import lazy_attributes  # noqa: E402

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY, globals())


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
