"""Population scenarios of a study: which standardized values generate each cell's data.

This is the one place that maps ``(config, cell)`` to a :class:`PopulationSpec`; named
scenarios come from the generator (``models/scenarios/``, :func:`smsem.simulate.load_scenario`).
"""

from __future__ import annotations

import json
from functools import lru_cache

import pandas as pd

from ..exceptions import SmsemError, SpecError
from ..model.spec import PopulationSpec, SEMModel, load_model
from ..simulate import Scenario, load_scenario, population_model
from .config import Cell, StudyConfig

__all__ = ["models", "interaction_cell_population",
           "base_population", "scenario_population", "study_scenario", "cell_population", "true_values", "check_design"]


@lru_cache(maxsize=8)
def _load(name: str, codebook: str | None, hypotheses: str | None = None) -> SEMModel:
    model = load_model(name, codebook=codebook)
    if hypotheses is not None:
        from ..model.hypotheses import with_hypotheses

        model = with_hypotheses(model, hypotheses)
    return model


def models(config: StudyConfig) -> tuple[SEMModel, SEMModel]:
    """``(population model, analysis model)`` of a study (cached per process); the
    analysis model carries the study's hypotheses file, if any, as its propositions."""
    return (_load(config.population_model, config.population_codebook),
            _load(config.analysis_model, config.analysis_codebook, config.hypotheses))


def base_population(config: StudyConfig) -> PopulationSpec:
    """The study's standardized values before any effect multiplier: those of the
    configuration (``population:`` values or a pilot fit), else the scenario's."""
    if config.population_values:
        return PopulationSpec.from_mapping(json.loads(config.population_values), "population")
    return scenario_population(models(config)[0], config.scenario)


def scenario_population(model: SEMModel, scenario: str) -> PopulationSpec:
    """The standardized population values of a scenario.

    ``"thesis"``: the model's codebook population; ``"null"``: the same with every
    structural path set to 0 (for any model; for the integrative model it equals
    ``models/scenarios/null.yaml``); any other name or a ``.yaml`` path: the generator's
    scenario (:func:`smsem.simulate.load_scenario`).
    """
    if scenario in ("thesis", "null"):
        if model.population is None:
            raise SpecError(f"model {model.name!r} has no population values (state them under population: "
                            "as loadings/paths/correlations, or population: {from_fit: pilot.csv})")
        base = model.population
        if scenario == "thesis":
            return base
        paths = {dst: {src: 0.0 for src in preds} for dst, preds in base.paths.items()}
        return PopulationSpec(base.loadings, paths, base.correlations)
    return load_scenario(scenario, model).population


@lru_cache(maxsize=16)
def study_scenario(config: StudyConfig) -> Scenario | None:
    """The generator's :class:`~smsem.simulate.Scenario` of the study (cached per process);
    None for ``thesis`` and ``null``, which need no more than their population."""
    if config.scenario in ("thesis", "null", "custom", "interaction"):
        return None
    return load_scenario(config.scenario, models(config)[0])


def _scaled(spec: PopulationSpec, multiplier: float) -> PopulationSpec:
    if multiplier == 1.0:
        return spec
    paths = {dst: {src: b * multiplier for src, b in preds.items()} for dst, preds in spec.paths.items()}
    return PopulationSpec(spec.loadings, paths, spec.correlations)


@lru_cache(maxsize=256)
def cell_population(config: StudyConfig, effect_multiplier: float) -> PopulationSpec:
    """The population of a cell: the scenario with every structural path scaled."""
    return _scaled(base_population(config), effect_multiplier)


@lru_cache(maxsize=256)
def _truth(config: StudyConfig, effect_multiplier: float) -> pd.DataFrame:
    pop_model, ana_model = models(config)
    pm = population_model(pop_model, cell_population(config, effect_multiplier))
    marker = pm.true_parameters(ana_model, metric="marker")
    std = pm.true_parameters(ana_model, metric="std")
    key = ["lhs", "op", "rhs"]
    out = marker.merge(std.rename(columns={"value": "value_std"}), on=key, how="left")
    return out.rename(columns={"value": "pop"})


@lru_cache(maxsize=64)
def interaction_cell_population(config: StudyConfig, std_interaction: float, reliability: float | None = None):
    """The population of a study of latent interactions at one standardized interaction.

    The values of ``population.interaction`` (:func:`smsem.simulate.interaction.population_values`)
    with every product coefficient ``g`` solved (Brent's root finder; scripts/moderation_power.py bisects)
    so that the product's standardized interaction ``g sd(a) sd(b) / sd(y)`` (Wen, Marsh &
    Hau 2010) equals ``std_interaction``; with several products, each in turn until all
    agree (coordinate-wise). With ``reliability`` (``grid.reliability``), the residual
    variances of each latent variable's items are then set equal and solved so that its
    composite reliability ``(sum lambda)^2 Var(f) / ((sum lambda)^2 Var(f) + sum theta)``
    equals ``reliability`` (model-implied ``Var(f)``, exact; the standardized interaction,
    a latent quantity, does not change).

    Returns
    -------
    (InteractionPopulation, dict)
        The population and ``{(lhs, "~", "a:b"): g}``.
    """
    from ..simulate.interaction import interaction_population, population_values

    pop_model = models(config)[0]
    pt = pop_model.table()
    base = json.loads(config.interaction)
    prods = [(r.lhs, r.rhs) for r in pop_model.parsed.regressions if r.rhs in
             {name for name, _a, _b in pop_model.parsed.latent_interactions}]
    coef = {(lhs, "~", rhs): 0.0 for lhs, rhs in prods}

    def build(c):
        return interaction_population(pop_model, population_values(pt, overrides=c, **base))

    target = float(std_interaction)
    if target != 0.0:
        from scipy.optimize import brentq

        sign = 1.0 if target > 0 else -1.0
        for _ in range(20 if len(prods) > 1 else 1):
            for key in coef:
                def gap(x, key=key):
                    return build({**coef, key: sign * x}).std_interaction(key[0], key[2]) * sign - abs(target)

                hi = 0.5
                while gap(hi) < 0:
                    hi *= 2
                    if hi > 64:
                        raise SpecError(f"grid.std_interaction {target:g}: no coefficient of {key[0]} ~ {key[2]} "
                                        "reaches it in this population")
                coef[key] = sign * brentq(gap, 0.0, hi, xtol=1e-13, rtol=1e-13)
    pop = build(coef)
    if reliability is not None:
        pop = interaction_population(pop_model, population_values(
            pt, overrides={**coef, **_residuals_for_reliability(pop, float(reliability))}, **base))
    return pop, coef


def composite_reliability(pop) -> dict[str, float]:
    """Composite reliability ``(sum lambda)^2 Var(f) / ((sum lambda)^2 Var(f) + sum theta)``
    of every latent variable of an interaction population (its own items, exact moments)."""
    lam, theta = _measurement(pop)
    _, cov = pop.moments()
    out = {}
    for f, items in lam.items():
        t = sum(lam[f].values()) ** 2 * float(cov.loc[f, f])
        out[f] = t / (t + sum(theta[i] for i in items))
    return out


def _measurement(pop) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    from ..estimate.matrices import table_rows

    vals = dict(zip(map(tuple, pop.truth()[["lhs", "op", "rhs"]].values), pop.truth()["true"]))
    lam: dict[str, dict[str, float]] = {}
    seen: dict[str, str] = {}
    for r in table_rows(pop.pt):
        if r["op"] != "=~":
            continue
        if r["rhs"] in seen:
            raise SpecError(f"grid.reliability: item {r['rhs']} loads on {seen[r['rhs']]} and {r['lhs']}; the "
                            "composite reliability needs each item on one latent variable")
        seen[r["rhs"]] = r["lhs"]
        v = vals.get((r["lhs"], "=~", r["rhs"])) if r["free"] > 0 else r["ustart"]
        lam.setdefault(r["lhs"], {})[r["rhs"]] = float(v)
    theta = {i: float(vals.get((i, "~~", i), 0.0)) for i in seen}
    return lam, theta


def _residuals_for_reliability(pop, reliability: float) -> dict[tuple[str, str, str], float]:
    """Equal residual variances of each latent variable's items giving composite reliability
    ``reliability``: ``theta = (sum lambda)^2 Var(f) (1 - rho) / (rho k)``."""
    lam, _ = _measurement(pop)
    _, cov = pop.moments()
    out = {}
    for f, items in lam.items():
        t = sum(items.values()) ** 2 * float(cov.loc[f, f]) * (1.0 - reliability) / (reliability * len(items))
        for i in items:
            out[(i, "~~", i)] = t
    return out


def _defined_truth(pop, truth: pd.DataFrame) -> pd.DataFrame:
    """The ``:=`` rows of the population's table at the true values (e.g. the index of
    moderated mediation ``a3*b``): columns ``lhs, op, rhs, pop``."""
    import numpy as np

    from ..estimate import constraints
    from ..estimate.matrices import table_rows

    rows = table_rows(pop.pt)
    defined = [r for r in rows if r["op"] == ":="]
    if not defined:
        return truth.iloc[:0]
    value = {(r.lhs, r.op, r.rhs): r.pop for r in truth.itertuples(index=False)}
    free = [r for r in rows if r["op"] in ("=~", "~", "~~", "~1") and r["free"] > 0]
    x = np.full(max(r["free"] for r in free), np.nan)
    for r in free:
        key = (r["lhs"], r["op"], r["rhs"])
        x[r["free"] - 1] = value.get(key, value.get((key[2], key[1], key[0]), np.nan))
    _, _, defs = constraints.constraints_from_table(pop.pt.df)
    res = constraints.defined_values(defs, x, constraints.ParameterMap.from_table(pop.pt.df))
    est = dict(zip(res.names, res.est))
    return pd.DataFrame([(r["lhs"], ":=", r["rhs"], float(est[r["lhs"]])) for r in defined],
                        columns=["lhs", "op", "rhs", "pop"])


def _interaction_truth(config: StudyConfig, cell: Cell) -> pd.DataFrame:
    pop, coef = interaction_cell_population(config, cell.std_interaction, cell.reliability)
    t = pop.truth().rename(columns={"true": "pop"})
    t = pd.concat([t, _defined_truth(pop, t)], ignore_index=True)
    t["pop_std"] = float("nan")
    for (lhs, op, rhs) in coef:
        t.loc[(t.lhs == lhs) & (t.op == op) & (t.rhs == rhs), "pop_std"] = pop.std_interaction(lhs, rhs)
    return t


def true_values(config: StudyConfig, cell: Cell) -> pd.DataFrame:
    """True value of every free parameter of the analysis model in ``cell``.

    Columns ``lhs, op, rhs, pop`` (marker metric: what ML estimates) and ``pop_std``
    (std.all; NaN where that metric has no counterpart, e.g. marker loadings). In a study
    of latent interactions: the population's table values (first loading 1) and, for the
    ``y ~ a:b`` rows only, the standardized interaction as ``pop_std``.
    """
    if config.interaction:
        return _interaction_truth(config, cell)
    t = _truth(config, cell.effect_multiplier).rename(columns={"value_std": "pop_std"}).copy()
    return t


def check_design(config: StudyConfig) -> None:
    """Load the models and build every cell's population; raise on the first problem.

    Raises
    ------
    SpecError
        A model without population values, an analysis model with constructs or items
        the population model lacks, or a cell whose population is inadmissible.
    """
    pop_model, ana_model = models(config)
    missing = [v for v in ana_model.latents if v not in pop_model.latents]
    missing += [v for v in ana_model.items if v not in pop_model.items]
    if missing:
        raise SpecError(f"analysis model {ana_model.name!r} uses {', '.join(missing)}, "
                        f"which population model {pop_model.name!r} does not have")
    # The fit of every replication would refuse these samples (as smsem.fit does): fewer
    # respondents than items + 1 (singular covariance) or than free parameters.
    need = max(len(ana_model.items) + 1, ana_model.n_free)
    small = [n for n in config.levels("n") if n < need]
    if small:
        raise SpecError(f"grid.n {small[0]} is too small: analysis model {ana_model.name!r} has "
                        f"{len(ana_model.items)} items and {ana_model.n_free} free parameters, so every "
                        f"replication needs at least {need} respondents; use n >= {need}")
    if config.interaction:
        for t in config.levels("std_interaction"):
            for rel in config.levels("reliability"):
                try:
                    interaction_cell_population(config, t, rel)
                except SmsemError as exc:
                    where = f"grid.std_interaction {t:g}" + ("" if rel is None else f", grid.reliability {rel:g}")
                    raise SpecError(f"population.interaction with {where}: {exc}") from None
        return
    try:
        base_population(config)
    except SpecError as exc:
        where = "population" if config.population_values else f"population.scenario {config.scenario!r}"
        raise SpecError(f"{where}: {exc}") from None
    if config.thresholds is not None or config.proportions is not None:
        from ..simulate.responses import _resolve_thresholds

        for k in config.levels("likert"):
            if k == 0:
                continue
            try:
                _resolve_thresholds(k, config.thresholds, config.proportions)
            except SmsemError as exc:
                key = "thresholds" if config.thresholds is not None else "proportions"
                raise SpecError(f"population.{key} with grid.likert {k}: {exc}") from None
    for m in config.levels("effect_multiplier"):
        try:
            population_model(pop_model, cell_population(config, m))
        except SpecError as exc:
            raise SpecError(f"grid.effect_multiplier {m:g}: {exc}") from None
