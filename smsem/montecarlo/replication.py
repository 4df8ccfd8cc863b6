"""The work of one replication: simulate a data set, fit the analysis model, keep a row.

:func:`run_replications` (and :func:`run_replication` for one) is the only place that
calls the data generator and the estimator (ML, MLR, or WLSMV on the items as ordinal:
:func:`smsem.estimate.categorical.fit.fit_ordinal`). ML cells with Wald inference take the fast
path (:mod:`smsem.montecarlo.fast`: batched ML on the sample covariance matrices), WLSMV cells
with Wald inference theirs (:mod:`smsem.montecarlo.fast_ordinal`: a chunk's thresholds,
polychorics and NACOVs at once, then each DWLS refit), unless the configuration says
``engine: reference``; everything else, and any replication a fast path cannot settle, runs
:func:`reference_replication` (:func:`smsem.fit`). Nothing
here raises for estimation trouble: a failed replication is a row with its status and
reason. A row depends only on ``(config, cell, rep)``, not on the chunk it ran in.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

import numpy as np

from .._threads import single_thread
from ..exceptions import ConvergenceWarning, HeywoodWarning, SmsemError
from ..estimate import ml
from .config import Cell, StudyConfig
from .fast import cell_plan, fast_applicable, fit_chunk
from .fast_ordinal import fit_ordinal_chunk, ordinal_fast_applicable, ordinal_plan
from .rows import ESTIMATE_FIELDS, FIT_FIELDS, NO_ESTIMATES, ROW_FIELDS, STATUSES, VALUE_FIELDS, Estimates
from .scenarios import cell_population, interaction_cell_population, models, study_scenario
from .seeds import BOOTSTRAP, DATA, replication_seed, replication_seedseq

__all__ = ["run_replication", "run_replications", "reference_replication", "simulate_cell", "Estimates",
           "ROW_FIELDS", "FIT_FIELDS", "ESTIMATE_FIELDS", "VALUE_FIELDS", "STATUSES"]

# Failures of the data or the optimizer that end one replication, not the study.
_FAILURES = (SmsemError, np.linalg.LinAlgError, ValueError, ZeroDivisionError, FloatingPointError)


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    if op == "~~":
        lhs, rhs = sorted((lhs, rhs))
    return lhs, op, rhs


def _record_status(row: dict, res: Any, caught: list) -> None:
    """The replication's status from the fit and the warnings it raised: ``nonconvergence``
    (with the first convergence warning) or ``ok``, Heywood cases as ``improper``, and the
    number of rows used."""
    heywood = sorted({str(w.message).split(" (")[0] for w in caught if issubclass(w.category, HeywoodWarning)})
    if not res.converged or any(issubclass(w.category, ConvergenceWarning) for w in caught):
        msgs = [str(w.message) for w in caught if issubclass(w.category, ConvergenceWarning)]
        row.update(status="nonconvergence", reason=msgs[0] if msgs else "the optimizer did not converge")
    else:
        row["status"] = "ok"
    if heywood:
        row.update(improper=1, improper_reason="; ".join(heywood))
    row["n_used"] = int(res.n)


def _empty_row(cell: Cell, rep: int) -> dict[str, Any]:
    row: dict[str, Any] = {k: None for k in ROW_FIELDS}
    row.update(cell=cell.index, rep=rep, improper=0, improper_reason="", reason="", estimates=NO_ESTIMATES)
    return row


def _simulate_args(config: StudyConfig, cell: Cell, rep: int) -> tuple[Any, dict[str, Any]]:
    pop_model, _ = models(config)
    # Named scenarios also bring latent means and departments; the population (with the
    # cell's effect multiplier) overrides the scenario's own.
    return pop_model, dict(n=cell.n, seed=replication_seed(config.seed, cell.index, rep, DATA),
                           likert=cell.likert, population=cell_population(config, cell.effect_multiplier),
                           thresholds=config.thresholds if cell.likert else None,
                           proportions=config.proportions if cell.likert else None,
                           scenario=study_scenario(config), missing_rate=cell.missing,
                           missing_mechanism=config.missing_mechanism)


def simulate_cell(config: StudyConfig, cell: Cell, rep: int):
    """The data set of replication ``rep`` of ``cell`` (missingness applied)."""
    from .. import simulate

    model, kwargs = _simulate_args(config, cell, rep)
    return simulate(model, **kwargs)


def _simulate_cell_items(config: StudyConfig, cell: Cell, rep: int, columns: np.ndarray) -> np.ndarray:
    """The items of :func:`simulate_cell` as floats (NaN where missing), columns
    ``columns`` of the population model's items: the same numbers without a DataFrame."""
    from ..simulate import simulate_items

    model, kwargs = _simulate_args(config, cell, rep)
    return simulate_items(model, **kwargs)[:, columns]


def run_replications(cell: Cell, reps: Sequence[int], config: StudyConfig) -> list[dict[str, Any]]:
    """Run replications ``reps`` of ``cell`` (a chunk fitted together on the fast path).

    Returns one row per replication, in the order of ``reps``; each row equals
    :func:`run_replication` of that replication exactly, whatever the chunk.
    """
    with single_thread():  # see reference_replication
        return _run_replications(cell, reps, config)


def _run_replications(cell: Cell, reps: Sequence[int], config: StudyConfig) -> list[dict[str, Any]]:
    reps = [int(r) for r in reps]
    if config.interaction:
        return [_interaction_replication(cell, r, config) for r in reps]
    if ordinal_fast_applicable(config, cell):
        return _run_ordinal_replications(cell, reps, config)
    if not fast_applicable(config, cell):
        return [reference_replication(cell, r, config) for r in reps]
    try:
        plan = cell_plan(config, cell.effect_multiplier)
    except _FAILURES:  # the population fit failed: every replication takes the reference path
        return [reference_replication(cell, r, config) for r in reps]
    p = len(plan.items)
    s, n, todo = [], [], []
    out: dict[int, dict[str, Any]] = {}
    for r, x in _complete_samples(config, cell, reps, plan.columns, max(p + 1, plan.pmap.n_free), out):
        s.append(ml.sample_moments(x)[1])
        n.append(len(x))
        todo.append(r)
    if todo:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fits = fit_chunk(plan, np.stack(s), np.array(n))
            except _FAILURES:  # never seen; the reference path reports each replication
                fits = [None] * len(todo)
        for r, f in zip(todo, fits):
            if f is None:  # not converged or inadmissible: the reference path decides
                out[r] = reference_replication(cell, r, config)
            else:
                row = _empty_row(cell, r)
                row.update(f)
                out[r] = row
    return [out[r] for r in reps]


def _complete_samples(config: StudyConfig, cell: Cell, reps: list[int], columns: list[str], min_rows: int,
                      out: dict[int, dict[str, Any]]):
    """The simulated item matrix of each replication, incomplete rows deleted (listwise, as
    the fits do), for the fast paths; a replication whose simulation fails or that keeps fewer
    than ``min_rows`` rows goes to :func:`reference_replication` (which reports why) into ``out``."""
    for r in reps:
        try:
            x = _simulate_cell_items(config, cell, r, columns)
        except _FAILURES:
            out[r] = reference_replication(cell, r, config)  # reports the error
            continue
        incomplete = np.isnan(x).any(axis=1)
        if incomplete.any():
            x = x[~incomplete]
        if len(x) < min_rows:
            out[r] = reference_replication(cell, r, config)  # reports too few rows
            continue
        yield r, x


def _run_ordinal_replications(cell: Cell, reps: list[int], config: StudyConfig) -> list[dict[str, Any]]:
    """WLSMV replications on the fast path (:mod:`smsem.montecarlo.fast_ordinal`): the chunk's
    thresholds, polychorics and NACOVs at once, then each refit; what it cannot settle goes to
    :func:`reference_replication`."""
    try:
        plan = ordinal_plan(config, cell.effect_multiplier, cell.likert)
    except (*_FAILURES, KeyError):  # a model the fast path does not fit: the reference path for all
        return [reference_replication(cell, r, config) for r in reps]
    xs, todo = [], []
    out: dict[int, dict[str, Any]] = {}
    for r, x in _complete_samples(config, cell, reps, plan.columns, 2, out):
        xs.append(x)
        todo.append(r)
    if todo:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fits = fit_ordinal_chunk(plan, xs)
            except _FAILURES:  # never seen; the reference path reports each replication
                fits = [None] * len(todo)
        for r, f in zip(todo, fits):
            if f is None:  # a case the fast path leaves to the reference path
                out[r] = reference_replication(cell, r, config)
            else:
                row = _empty_row(cell, r)
                row.update(f)
                out[r] = row
    return [out[r] for r in reps]


def run_replication(cell: Cell, rep: int, config: StudyConfig) -> dict[str, Any]:
    """Run replication ``rep`` of ``cell``: simulate, fit, return one row.

    The fast path where it applies (see :func:`run_replications`), else
    :func:`reference_replication`.
    """
    return run_replications(cell, [rep], config)[0]


def reference_replication(cell: Cell, rep: int, config: StudyConfig) -> dict[str, Any]:
    """Run replication ``rep`` of ``cell`` with :func:`smsem.fit`: simulate, fit, return one row.

    Parameters
    ----------
    cell : Cell
    rep : int
    config : StudyConfig

    Returns
    -------
    dict
        Keys :data:`ROW_FIELDS`. ``status`` is ``"ok"``, ``"nonconvergence"`` or
        ``"error"`` with the ``reason``; ``improper`` is 1 for a converged solution with a
        negative variance (``improper_reason`` says which); ``estimates`` is an
        :class:`~smsem.montecarlo.rows.Estimates` (est, se, std, boot_lower, boot_upper of
        every free parameter).
        The row depends only on ``(config, cell, rep)``.
    """
    # BLAS/LAPACK results can differ in the last bits with the number of threads, and Dask
    # workers run single-threaded: pin one thread so every process computes the same bits.
    with single_thread():
        return _reference_replication(cell, rep, config)


def _reference_replication(cell: Cell, rep: int, config: StudyConfig) -> dict[str, Any]:
    from .. import bootstrap, fit

    _, ana_model = models(config)
    row = _empty_row(cell, rep)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            data = simulate_cell(config, cell, rep)
            if cell.estimator == "WLSMV":  # ordinal items: lavaan's sem(..., ordered = TRUE)
                from ..estimate.categorical.fit import fit_ordinal

                res = fit_ordinal(ana_model, data, ordered=True, estimator="WLSMV")
            elif cell.estimator == "ML":
                res = fit(ana_model, data)
            else:
                res = fit(ana_model, data, estimator=cell.estimator)
            boot_ci = None
            if config.inference == "bootstrap" and res.converged:
                boot = bootstrap(res, n_boot=config.n_boot,
                                 seed=replication_seed(config.seed, cell.index, rep, BOOTSTRAP))
                boot_ci = boot.conf_int(config.level)
        except _FAILURES as exc:
            row.update(status="error", reason=f"{type(exc).__name__}: {exc}".splitlines()[0])
            return row
    _record_status(row, res, caught)
    # MLR and WLSMV: the scaled test and indices (what their users read); ML: the standard ones
    scaled = cell.estimator in ("MLR", "WLSMV")
    for k in FIT_FIELDS:
        key = f"{k}_scaled" if scaled and f"{k}_scaled" in res.fit_indices else k
        row[k] = float(res.fit_indices.get(key, float("nan")))
    ordinal = getattr(res, "ordinal_table", None) is not None
    std = None if ordinal else res.standardized_paths
    names, values = [], []
    for r in res.params.itertuples(index=False):
        if not np.isfinite(r.se):  # a fixed parameter (marker loading)
            continue
        lhs, op, rhs = _key(r.lhs, r.op, r.rhs)
        s = float(std[f"{lhs}~{rhs}"]) if op == "~" and not ordinal else float(r.std_all)
        lo = hi = float("nan")
        if boot_ci is not None and op == "~":
            lo, hi = (float(x) for x in boot_ci.loc[f"{lhs}~{rhs}", ["lower", "upper"]])
        names.append((lhs, op, rhs))
        values.append([float(r.est), float(r.se), s, lo, hi])
    row["estimates"] = Estimates(tuple(names), np.array(values, dtype=float).reshape(len(names), len(VALUE_FIELDS)))
    return row


def simulate_interaction_cell(config: StudyConfig, cell: Cell, rep: int):
    """The data set of replication ``rep`` of ``cell`` in a study of latent interactions:
    :meth:`InteractionPopulation.draw` on the replication's data stream."""
    pop, _ = interaction_cell_population(config, cell.std_interaction, cell.reliability)
    return pop.draw(cell.n, seed=replication_seedseq(config.seed, cell.index, rep, DATA))


def _interaction_replication(cell: Cell, rep: int, config: StudyConfig) -> dict[str, Any]:
    """One replication of a study of latent interactions: draw from the cell's population,
    fit by the cell's interaction method (:func:`smsem.fit` with ``interaction_method``),
    keep a row. Product-indicator fits (dmc, rca) name the product latent ``a.b``; its
    ``y ~ a.b`` rows are stored as ``y ~ a:b`` (lavaan's naming of the model's own row),
    the product indicators' rows under their own names (no population value)."""
    from .. import fit

    _, ana_model = models(config)
    row = _empty_row(cell, rep)
    with single_thread(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            data = simulate_interaction_cell(config, cell, rep)
            res = fit(ana_model, data, interaction_method=cell.method)
        except _FAILURES as exc:
            row.update(status="error", reason=f"{type(exc).__name__}: {exc}".splitlines()[0])
            return row
    _record_status(row, res, caught)
    indices = res.fit_indices
    for k in FIT_FIELDS:
        row[k] = float(indices.get(k, float("nan")))
    rename = {v: k for k, v in (getattr(res, "interactions", None) or {}).items()}
    products = {name for name, _a, _b in ana_model.parsed.latent_interactions}
    names, values = [], []
    for r in res.params.itertuples(index=False):
        if not np.isfinite(r.se):  # a fixed parameter (marker loading)
            continue
        rhs = rename.get(r.rhs, r.rhs) if r.op == "~" else r.rhs
        std = float(r.std_all)
        if r.op == "~" and rhs in products:  # every method: Wen, Marsh & Hau's standardized interaction
            std = _std_interaction(res, r.lhs, rhs)
        names.append(_key(r.lhs, r.op, rhs))
        values.append([float(r.est), float(r.se), std, float("nan"), float("nan")])
    row["estimates"] = Estimates(tuple(names), np.array(values, dtype=float).reshape(len(names), len(VALUE_FIELDS)))
    return row


def _std_interaction(res: Any, lhs: str, product: str) -> float:
    """``g sd(a) sd(b) / sd(lhs)`` with the fit's model-implied SDs (the population's
    ``pop_std``); NaN where the fit gives no moments."""
    from ..estimate.interaction.moderation import standardized_interaction

    a, b = product.split(":")
    try:
        return standardized_interaction(res, lhs, a, b)
    except (*_FAILURES, KeyError):
        return float("nan")
