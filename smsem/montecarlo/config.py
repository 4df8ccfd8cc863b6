"""Monte Carlo study configuration: a YAML file -> a frozen, validated :class:`StudyConfig`.

Every problem is reported as :class:`~smsem.exceptions.OptionError` naming the file and
the key (``grid.n[2]``), so ``smsem power`` can print it as one line. Relative model paths
are resolved against the folder of the configuration file.

A configuration (all keys but ``grid.n`` and ``replications`` have defaults)::

    name: integrative-sample-size
    population: {model: integrative, scenario: thesis}   # thesis, "null", aligned, ..., or a .yaml
    analysis: {model: integrative}                       # default: the population model

For one's own model (see docs/models.md, "Power for your own model")::

    model: my_model.lav          # population and analysis model (a codebook: codebook: cb.yaml)
    hypotheses: my_hypotheses.yaml   # optional; default: every regression path
    population:                  # standardized values ...
      loadings: {F1: [0.7, 0.7, 0.7], F2: [0.8, 0.7, 0.6]}
      paths: {F2: {F1: 0.3}}
      correlations: [[A, B, 0.3]]
      thresholds: skewed         # optional: symmetric, skewed or K-1 cut points
    # population: {from_fit: pilot.csv}   # ... or a pilot survey's std.all estimates
    grid:
      n: [100, 200, 300]
      likert: [5]               # 0 keeps the continuous responses
      effect_multiplier: [1.0]  # scales every structural path of the population
      missing: [0.0]            # share of item responses removed (listwise deletion)
      estimator: [ML]           # ML, MLR (robust SEs), WLSMV (ordinal items; likert >= 2)
    replications: 500
    seed: 20190101
    alpha: 0.05
    level: 0.95                 # coverage level of the Wald CI
    inference: {method: wald}   # or {method: bootstrap, n_boot: 200}
    target_power: 0.80
    planning_test: two-sided    # or one-sided (in the hypothesized direction)
    exclude_improper: false
    missing_mechanism: mcar     # or mar (see smsem.simulate)
    engine: fast                # or reference (smsem.fit / fit_ordinal per replication)

A model with latent interactions (``y ~ a:b``; docs/moderation-power.md)::

    model: moderation_xz.lav
    population:
      interaction: {loading: 0.8, item_residual: 0.36, latent_covariance: 0.3,
                    regression: 0.3, residual: 0.5}   # population_values of smsem.simulate.interaction
    grid:
      n: [200, 500]
      std_interaction: [0.0, 0.2]   # required: the product coefficients are solved for it
      method: [lms, dmc]            # or analysis: {interaction_method: lms}
      reliability: [0.7, 0.9]       # optional: composite reliability of every latent variable

``grid.reliability`` (optional; excludes ``population.interaction.item_residual``): the
residual variances of each latent variable's items are set equal and solved so that its
composite reliability ``(sum lambda)^2 Var(f) / ((sum lambda)^2 Var(f) + sum theta)`` (model-
implied Var(f), the product's share included for an outcome) equals the level.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..exceptions import OptionError, SmsemError

__all__ = [
    "Cell",
    "StudyConfig",
    "load_config",
    "config_from_mapping",
    "pilot_population",
    "shipped_configs",
    "GRID_KEYS",
    "ESTIMATORS",
    "MISSING_MECHANISMS",
    "INFERENCE_METHODS",
    "ENGINES",
]

# Grid factors in the order that numbers the cells (n varies fastest). Seeds depend on
# the cell index, so this order is part of the reproducibility contract: do not reorder.
GRID_KEYS = ("std_interaction", "method", "reliability", "effect_multiplier", "likert", "missing", "estimator", "n")
#: Grid factors of studies of latent interactions only (level None elsewhere: one level,
#: so the cell numbering and the fingerprint of other studies are unchanged).
INTERACTION_KEYS = ("std_interaction", "method", "reliability")
#: Keys of ``population.interaction``: the values of
#: :func:`smsem.simulate.interaction.population_values` (the table's metric).
INTERACTION_VALUE_KEYS = ("loading", "regression", "item_residual", "latent_variance", "latent_covariance",
                          "residual")
#: ML and MLR treat the item codes as continuous; WLSMV treats them as ordinal (lavaan's
#: ordered = TRUE, delta parameterization, per replication: the reference path).
ESTIMATORS = ("ML", "MLR", "WLSMV")
MISSING_MECHANISMS = ("mcar", "mar")
INFERENCE_METHODS = ("wald", "bootstrap")
#: Estimation engines: "fast" (batched ML on each replication's covariance matrix where
#: it applies, see :mod:`smsem.montecarlo.fast`; batched WLSMV statistics and refits, see
#: :mod:`smsem.montecarlo.fast_ordinal`) or "reference" (``smsem.fit`` per replication).
ENGINES = ("fast", "reference")
PLANNING_TESTS = ("two-sided", "one-sided")
_TOP_KEYS = ("name", "description", "model", "codebook", "hypotheses", "population", "analysis", "grid",
             "replications", "seed", "alpha", "level", "inference", "target_power", "planning_test",
             "exclude_improper", "missing_mechanism", "engine")
_VALUE_KEYS = ("loadings", "paths", "correlations")
_RESPONSE_KEYS = ("thresholds", "proportions")
_MODEL_KEYS = {"population": ("model", "codebook", "scenario", *_VALUE_KEYS, "from_fit", *_RESPONSE_KEYS,
                              "interaction"),
               "analysis": ("model", "codebook", "interaction_method")}
#: Fields added after the first stored studies: left out of the fingerprint at their
#: defaults, so that studies stored before them resume.
_NEW_FIELDS = ("population_values", "population_source", "hypotheses", "thresholds", "proportions", "interaction")
_GRID_DEFAULTS: dict[str, tuple[Any, ...]] = {
    "std_interaction": (None,), "method": (None,), "reliability": (None,),
    "effect_multiplier": (1.0,), "likert": (5,), "missing": (0.0,), "estimator": ("ML",),
}


@dataclass(frozen=True)
class Cell:
    """One cell of the design grid: a combination of factor levels and its index."""

    index: int
    n: int
    likert: int
    effect_multiplier: float
    missing: float
    estimator: str
    std_interaction: float | None = None
    method: str | None = None
    reliability: float | None = None

    def factors(self) -> dict[str, Any]:
        """The factor levels as a plain dict (``cell`` index first); the interaction
        factors only in a study of latent interactions."""
        return {"cell": self.index, **{k: getattr(self, k) for k in GRID_KEYS
                                       if not (k in INTERACTION_KEYS and getattr(self, k) is None)}}


@dataclass(frozen=True)
class StudyConfig:
    """A validated Monte Carlo study design (immutable, hashable, picklable).

    Attributes
    ----------
    name : str
    population_model, population_codebook : str or None
        Model generating the data (shipped name or absolute ``.lav`` path) and codebook.
    scenario : str
        Population: ``"thesis"`` (the model's codebook population), ``"null"`` (every
        structural path 0), another shipped scenario of ``models/scenarios/`` or the
        absolute path of a scenario YAML file.
    analysis_model, analysis_codebook : str or None
        Model fitted to each replication (may differ from the population model).
    grid : tuple of (key, tuple of levels)
        Factor levels in :data:`GRID_KEYS` order.
    replications, seed : int
    alpha, level, target_power : float
    inference : str
        ``"wald"`` or ``"bootstrap"``; ``n_boot`` draws for the latter.
    planning_test : str
    exclude_improper : bool
        Drop converged but improper solutions (negative variances) from the summaries.
    engine : str
        ``"fast"`` (default): batched ML on each replication's covariance matrix for ML,
        Wald-inference cells, batched polychorics, NACOVs and DWLS refits for WLSMV
        Wald-inference cells (others use the reference path); ``"reference"``:
        :func:`smsem.fit` for every replication. Part of the fingerprint (the engines
        agree to ~1e-6, not bit for bit).
    population_values : str
        The population's standardized values (canonical JSON of a
        :class:`~smsem.model.spec.PopulationSpec` mapping) when the configuration states
        them or takes them from a pilot fit; empty: the scenario's.
    population_source : str
        ``"yaml"`` or the pilot survey the values were estimated from (not in the fingerprint).
    hypotheses : str or None
        Hypotheses file of the analysis model (absolute path), replacing its codebook
        propositions.
    interaction : str
        A study of latent interactions (``y ~ a:b``): canonical JSON of the values of
        ``population.interaction`` (:func:`smsem.simulate.interaction.population_values`);
        the product coefficients are solved per cell from ``grid.std_interaction`` and the
        data drawn by :mod:`smsem.simulate.interaction`; empty otherwise.
    thresholds, proportions
        Likert cut points (``"symmetric"``, ``"skewed"`` or ``K - 1`` values) or category
        proportions of the population's responses (default: symmetric thresholds).
    """

    name: str
    population_model: str
    population_codebook: str | None
    scenario: str
    analysis_model: str
    analysis_codebook: str | None
    grid: tuple[tuple[str, tuple[Any, ...]], ...]
    replications: int
    seed: int
    alpha: float = 0.05
    level: float = 0.95
    inference: str = "wald"
    n_boot: int = 0
    target_power: float = 0.80
    planning_test: str = "two-sided"
    exclude_improper: bool = False
    description: str = ""
    missing_mechanism: str = "mcar"
    engine: str = "fast"
    population_values: str = ""
    population_source: str = ""
    hypotheses: str | None = None
    thresholds: str | tuple[float, ...] | None = None
    proportions: tuple[float, ...] | None = None
    interaction: str = ""

    @property
    def grid_keys(self) -> tuple[str, ...]:
        """The grid factors of this study (:data:`GRID_KEYS` without the interaction
        factors outside a study of latent interactions)."""
        return tuple(k for k in GRID_KEYS if not (k in INTERACTION_KEYS and self.levels(k) == (None,)))

    def levels(self, key: str) -> tuple[Any, ...]:
        """The levels of grid factor ``key``."""
        return dict(self.grid)[key]

    @property
    def cells(self) -> tuple[Cell, ...]:
        """Every cell of the grid, numbered in :data:`GRID_KEYS` order (n fastest)."""
        combos = itertools.product(*(self.levels(k) for k in GRID_KEYS))
        return tuple(Cell(i, **dict(zip(GRID_KEYS, c))) for i, c in enumerate(combos))

    @property
    def n_tasks(self) -> int:
        return len(self.cells) * self.replications

    def to_mapping(self) -> dict[str, Any]:
        """Plain JSON-able mapping (the study's identity in the store)."""
        d = asdict(self)
        d["grid"] = {k: list(v) for k, v in self.grid}
        return d

    @property
    def fingerprint(self) -> str:
        """SHA-256 of everything that determines the replications' results.

        ``name``, ``description``, the summary options (``target_power``,
        ``planning_test``, ``exclude_improper``) and the alpha/level used only for
        summaries do not change the stored rows and are left out, so they may be edited
        before ``--resume``.
        """
        d = self.to_mapping()
        for k in ("name", "description", "target_power", "planning_test", "exclude_improper", "alpha", "level",
                  "population_source"):
            d.pop(k)
        defaults = {f.name: f.default for f in fields(self)}
        for k in _NEW_FIELDS:
            if k in d and d[k] == defaults[k]:
                d.pop(k)
        for k in INTERACTION_KEYS:
            if d["grid"].get(k) == [None]:
                d["grid"].pop(k)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


class _Checker:
    """Validation helpers that prefix every message with the file and key."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, message: str) -> OptionError:
        return OptionError(f"{self.source}: key {key}: {message}")

    def keys(self, key: str, value: Any, allowed: tuple[str, ...], required: tuple[str, ...] = ()) -> dict:
        if not isinstance(value, Mapping):
            raise self.fail(key, f"must be a mapping with keys {', '.join(allowed)}; got {value!r}")
        for k in value:
            if k not in allowed:
                where = f"{key}.{k}" if key else str(k)
                raise self.fail(where, f"unknown key; allowed keys{' of ' + key if key else ''}: {', '.join(allowed)}")
        for k in required:
            if k not in value:
                raise self.fail(f"{key}.{k}" if key else k, "is required")
        return dict(value)

    def integer(self, key: str, value: Any, low: int, high: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number, got {value!r}")
        if value < low or (high is not None and value > high):
            bound = f"between {low} and {high}" if high is not None else f"at least {low}"
            raise self.fail(key, f"must be {bound}, got {value}")
        return value

    def real(self, key: str, value: Any, low: float, high: float, *, low_open: bool = False,
             high_open: bool = False) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
            raise self.fail(key, f"must be a number, got {value!r}")
        value = float(value)
        if value < low or value > high or (low_open and value == low) or (high_open and value == high):
            lo = "(" if low_open else "["
            hi = ")" if high_open else "]"
            raise self.fail(key, f"must be in {lo}{low:g}, {high:g}{hi}, got {value:g}")
        return value

    def choice(self, key: str, value: Any, allowed: tuple[str, ...]) -> str:
        if value not in allowed:
            raise self.fail(key, f"must be one of {', '.join(allowed)}; got {value!r}")
        return value

    def levels(self, key: str, value: Any, check: Any) -> tuple[Any, ...]:
        seq = value if isinstance(value, list) else [value]
        if not seq:
            raise self.fail(key, "must list at least one level")
        out = tuple(check(f"{key}[{i}]", v) for i, v in enumerate(seq))
        if len(set(out)) != len(out):
            dup = next(v for v in out if out.count(v) > 1)
            raise self.fail(key, f"lists the level {dup!r} twice")
        return out


def _model_ref(value: Any, base: Path, key: str, ck: _Checker) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ck.fail(key, f"must be a shipped model name or a .lav file path, got {value!r}")
    if value.endswith(".lav") or "/" in value:
        path = Path(value)
        path = path if path.is_absolute() else (base / path)
        if not path.is_file():
            raise ck.fail(key, f"model file {path} not found")
        return str(path.resolve())
    return value


def _codebook_ref(value: Any, base: Path, key: str, ck: _Checker, what: str = "codebook") -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ck.fail(key, f"must be a file path, got {value!r}")
    path = Path(value)
    path = path if path.is_absolute() else (base / path)
    if not path.is_file():
        raise ck.fail(key, f"{what} file {path} not found")
    return str(path.resolve())


def _likert(ck: _Checker, key: str, value: Any) -> int:
    value = ck.integer(key, value, 0, 11)
    if value == 1:
        raise ck.fail(key, "must be 0 (continuous) or 2..11 scale points, got 1")
    return value


def config_from_mapping(data: Any, *, source: str = "config", base: str | Path = ".") -> StudyConfig:
    """Validate a configuration mapping (as read from YAML) into a :class:`StudyConfig`.

    Parameters
    ----------
    data : mapping
    source : str
        Named in error messages (the file path).
    base : path
        Folder against which relative model and codebook paths are resolved.

    Raises
    ------
    OptionError
        Naming ``source`` and the offending key.
    """
    ck = _Checker(source)
    base = Path(base)
    if isinstance(data, Mapping):
        for k in _RESPONSE_KEYS:
            if k in data:
                raise ck.fail(k, "belongs under population: (the Likert cut points of the population's responses)")
    d = ck.keys("", data, _TOP_KEYS, required=("grid", "replications"))
    pop = ck.keys("population", d.get("population") or {}, _MODEL_KEYS["population"])
    ana = ck.keys("analysis", d.get("analysis") or {}, _MODEL_KEYS["analysis"])
    for k in ("model", "codebook"):
        if k in d and k in pop:
            raise ck.fail(k, f"is given twice (also as population.{k}); keep one")
    pop_model = _model_ref(d.get("model", pop.get("model", "integrative")), base,
                           "model" if "model" in d else "population.model", ck)
    pop_cb = _codebook_ref(d.get("codebook", pop.get("codebook")), base,
                           "codebook" if "codebook" in d else "population.codebook", ck)
    if "scenario" in pop and pop["scenario"] is None:
        raise ck.fail("population.scenario", 'is empty; write scenario: "null" in quotes for the null '
                      "scenario (bare null means no value in YAML)")
    scenario = pop.get("scenario", "thesis")
    if not isinstance(scenario, str) or not scenario.strip():
        raise ck.fail("population.scenario", f"must be a scenario name or a .yaml file, got {scenario!r}")
    if scenario.endswith((".yaml", ".yml")):
        path = Path(scenario) if Path(scenario).is_absolute() else base / scenario
        if not path.is_file():
            raise ck.fail("population.scenario", f"scenario file {path} not found")
        scenario = str(path.resolve())
    values, value_source = _population_values(pop, pop_model, pop_cb, base, ck)
    if values and "scenario" in pop:
        raise ck.fail("population.scenario", "and population values (loadings/paths/correlations or from_fit) "
                      "exclude each other; keep one")
    if values:
        scenario = "custom"
    thresholds, proportions = _responses(pop, ck)
    hyp = None
    if d.get("hypotheses") is not None:
        hyp = _codebook_ref(d["hypotheses"], base, "hypotheses", ck, "hypotheses")
    mechanism = ck.choice("missing_mechanism", d.get("missing_mechanism", "mcar"), MISSING_MECHANISMS)
    if "model" in ana:
        ana_model = _model_ref(ana["model"], base, "analysis.model", ck)
        ana_cb = _codebook_ref(ana.get("codebook"), base, "analysis.codebook", ck)
    else:
        ana_model = pop_model
        ana_cb = _codebook_ref(ana["codebook"], base, "analysis.codebook", ck) if "codebook" in ana else pop_cb

    g = ck.keys("grid", d["grid"], GRID_KEYS, required=("n",))
    interaction, inter_levels = _interaction_design(d, pop, ana, g, pop_model, pop_cb, ana_model, ana_cb, ck)
    if interaction:
        scenario = "interaction"  # population.interaction (smsem.simulate.interaction), not a scenario
    checks = {
        "std_interaction": lambda k, v: ck.real(k, v, -0.95, 0.95),
        "method": lambda k, v: ck.choice(k, v, _interaction_methods()),
        "reliability": lambda k, v: ck.real(k, v, 0.0, 1.0, low_open=True, high_open=True),
        "n": lambda k, v: ck.integer(k, v, 2),
        "likert": lambda k, v: _likert(ck, k, v),
        "effect_multiplier": lambda k, v: ck.real(k, v, 0.0, 100.0),
        "missing": lambda k, v: ck.real(k, v, 0.0, 1.0, high_open=True),
        "estimator": lambda k, v: ck.choice(k, v, ESTIMATORS),
    }
    grid = []
    for key in GRID_KEYS:
        levels = ck.levels(f"grid.{key}", g[key], checks[key]) if key in g else _GRID_DEFAULTS[key]
        if key in inter_levels and key not in g:
            levels = inter_levels[key]
        if key == "n":
            levels = tuple(sorted(levels))  # power curves and planning read n in order
        grid.append((key, levels))

    inf = d.get("inference", {"method": "wald"})
    if isinstance(inf, str):
        inf = {"method": inf}
    inf = ck.keys("inference", inf, ("method", "n_boot"))
    method = ck.choice("inference.method", inf.get("method", "wald"), INFERENCE_METHODS)
    n_boot = 0
    if method == "bootstrap":
        n_boot = ck.integer("inference.n_boot", inf.get("n_boot", 200), 10)
    elif "n_boot" in inf:
        raise ck.fail("inference.n_boot", "applies only with inference.method: bootstrap")

    estimators = dict(grid)["estimator"]
    if "WLSMV" in estimators:
        if 0 in dict(grid)["likert"]:
            raise ck.fail("grid.estimator", "WLSMV needs ordinal items: remove likert 0 (continuous responses) "
                          "from grid.likert, or WLSMV from grid.estimator")
        if method == "bootstrap":
            raise ck.fail("grid.estimator", "WLSMV with inference.method: bootstrap is not supported yet (use wald)")
    if "MLR" in estimators and method == "bootstrap":
        raise ck.fail("grid.estimator", "MLR with inference.method: bootstrap is not supported (the bootstrap "
                      "refits ML); use wald")

    exclude = d.get("exclude_improper", False)
    if not isinstance(exclude, bool):
        raise ck.fail("exclude_improper", f"must be true or false, got {exclude!r}")
    name = d.get("name", Path(source).stem)
    if not isinstance(name, str):
        raise ck.fail("name", f"must be text, got {name!r}")
    return StudyConfig(
        name=name,
        population_model=pop_model,
        population_codebook=pop_cb,
        scenario=scenario,
        analysis_model=ana_model,
        analysis_codebook=ana_cb,
        grid=tuple(grid),
        replications=ck.integer("replications", d["replications"], 1),
        seed=ck.integer("seed", d.get("seed", 20190101), 0),
        alpha=ck.real("alpha", d.get("alpha", 0.05), 0.0, 0.5, low_open=True, high_open=True),
        level=ck.real("level", d.get("level", 0.95), 0.0, 1.0, low_open=True, high_open=True),
        inference=method,
        n_boot=n_boot,
        target_power=ck.real("target_power", d.get("target_power", 0.80), 0.0, 1.0, low_open=True, high_open=True),
        planning_test=ck.choice("planning_test", d.get("planning_test", "two-sided"), PLANNING_TESTS),
        exclude_improper=exclude,
        description=str(d.get("description", "")),
        missing_mechanism=mechanism,
        engine=ck.choice("engine", d.get("engine", "fast"), ENGINES),
        population_values=values,
        population_source=value_source,
        hypotheses=hyp,
        thresholds=thresholds,
        proportions=proportions,
        interaction=interaction,
    )


def _interaction_methods() -> tuple[str, ...]:
    from ..estimate.interaction import INTERACTION_METHODS

    return INTERACTION_METHODS


def _interaction_design(d: Mapping[str, Any], pop: Mapping[str, Any], ana: Mapping[str, Any], g: Mapping[str, Any],
                        pop_model: str, pop_cb: str | None, ana_model: str, ana_cb: str | None,
                        ck: _Checker) -> tuple[str, dict[str, tuple[Any, ...]]]:
    """A study of latent interactions: ``(canonical JSON of population.interaction,
    default levels of the grid factors it changes)``; ``("", {})`` for any other study.

    What the interaction runner does not do is refused here, one key at a time.
    """
    from .scenarios import _load

    try:
        has = bool(_load(pop_model, pop_cb).parsed.latent_interactions)
    except SmsemError:  # reported by check_design (load_config) as before
        has = False
    if not has:
        for where, keys in (("population", pop), ("analysis", ana), ("grid", g)):
            for k in ("interaction", "interaction_method", *INTERACTION_KEYS):
                if k in keys:
                    raise ck.fail(f"{where}.{k}", "applies only to a model with latent interactions (y ~ a:b); "
                                  "the population model has none")
        return "", {}
    if ana_model != pop_model or ana_cb != pop_cb:
        raise ck.fail("analysis.model", "a study of latent interactions fits the population model itself "
                      "(its truth is in that model's metric); remove analysis.model")
    for k in ("scenario", *_VALUE_KEYS, "from_fit", *_RESPONSE_KEYS):
        if k in pop:
            raise ck.fail(f"population.{k}", "does not apply to a model with latent interactions; give its "
                          f"values under population.interaction ({', '.join(INTERACTION_VALUE_KEYS)})")
    values = ck.keys("population.interaction", pop.get("interaction") or {}, INTERACTION_VALUE_KEYS)
    bounds = {"loading": (-10.0, 10.0), "regression": (-10.0, 10.0), "item_residual": (0.0, 100.0),
              "latent_variance": (0.0, 100.0), "latent_covariance": (-100.0, 100.0), "residual": (0.0, 100.0)}
    values = {k: ck.real(f"population.interaction.{k}", v, *bounds[k]) for k, v in sorted(values.items())}
    if "std_interaction" not in g:
        raise ck.fail("grid.std_interaction", "is required for a model with latent interactions: the "
                      "standardized interaction(s) of the population (Wen, Marsh & Hau 2010), e.g. [0.2, 0]")
    if "reliability" in g and "item_residual" in values:
        raise ck.fail("population.interaction.item_residual", "and grid.reliability exclude each other: with "
                      "grid.reliability the item residual variances are solved for the composite reliability")
    if "interaction_method" in ana and "method" in g:
        raise ck.fail("analysis.interaction_method", "and grid.method exclude each other; keep one")
    levels: dict[str, tuple[Any, ...]] = {"likert": (0,)}
    if "method" not in g:
        from ..estimate.interaction import DEFAULT_METHOD

        levels["method"] = (ck.choice("analysis.interaction_method", ana.get("interaction_method", DEFAULT_METHOD),
                                      _interaction_methods()),)
    fixed = {"likert": [0], "missing": [0.0], "estimator": ["ML"], "effect_multiplier": [1.0]}
    for k, ok in fixed.items():
        if k in g and (g[k] if isinstance(g[k], list) else [g[k]]) != ok:
            raise ck.fail(f"grid.{k}", f"must be {ok} for a model with latent interactions (continuous "
                          "complete items, ML; vary grid.std_interaction instead of effect_multiplier)")
    inf = d.get("inference", "wald")
    if (inf if isinstance(inf, str) else (inf or {}).get("method", "wald")) != "wald":
        raise ck.fail("inference.method", "must be wald for a model with latent interactions (no bootstrap "
                      "per replication of LMS, QML or product-indicator fits)")
    return json.dumps(values, sort_keys=True), levels


def _responses(pop: Mapping[str, Any], ck: _Checker) -> tuple[Any, tuple[float, ...] | None]:
    """``population.thresholds`` / ``population.proportions`` (checked against each
    scale of the grid by :func:`smsem.montecarlo.scenarios.check_design`)."""
    if "thresholds" in pop and "proportions" in pop:
        raise ck.fail("population.thresholds", "and population.proportions exclude each other; keep one")
    th = pop.get("thresholds")
    if isinstance(th, str):
        th = ck.choice("population.thresholds", th, ("symmetric", "skewed", "wide"))
    elif th is not None:
        if not isinstance(th, list) or not th:
            raise ck.fail("population.thresholds", f"must be symmetric, skewed, wide or a list of K - 1 increasing "
                          f"cut points, got {th!r}")
        th = tuple(ck.real(f"population.thresholds[{i}]", v, -math.inf, math.inf) for i, v in enumerate(th))
    pr = pop.get("proportions")
    if pr is not None:
        if not isinstance(pr, list) or len(pr) < 2:
            raise ck.fail("population.proportions", f"must list K category proportions summing to 1, got {pr!r}")
        pr = tuple(ck.real(f"population.proportions[{i}]", v, 0.0, 1.0, low_open=True) for i, v in enumerate(pr))
    return th, pr


def _population_values(pop: Mapping[str, Any], model: str, codebook: str | None, base: Path,
                       ck: _Checker) -> tuple[str, str]:
    """``(canonical JSON of the standardized values, their source)`` or ``("", "")``."""
    from ..model.spec import PopulationSpec

    given = [k for k in _VALUE_KEYS if k in pop]
    if "from_fit" in pop:
        if given:
            raise ck.fail("population.from_fit", f"and population.{given[0]} exclude each other; keep one")
        pilot = pop["from_fit"]
        if not isinstance(pilot, str) or not pilot.strip():
            raise ck.fail("population.from_fit", f"must be the path of a pilot survey file, got {pilot!r}")
        path = Path(pilot) if Path(pilot).is_absolute() else base / pilot
        if not path.is_file():
            raise ck.fail("population.from_fit", f"pilot survey {path} not found")
        try:
            spec = pilot_population(model, path, codebook=codebook)
        except SmsemError as exc:
            raise ck.fail("population.from_fit", str(exc)) from None
        return json.dumps(spec.to_mapping(), sort_keys=True), str(path.resolve())
    if not given:
        return "", ""
    if "loadings" not in pop:
        raise ck.fail("population.loadings", "is required with population values (standardized loadings "
                      "of every latent variable, one per indicator)")
    try:
        spec = PopulationSpec.from_mapping({k: pop[k] for k in given}, f"{ck.source}: population")
    except SmsemError as exc:
        raise OptionError(str(exc)) from None
    return json.dumps(spec.to_mapping(), sort_keys=True), "yaml"


def pilot_population(model: str, pilot: str | Path, *, codebook: str | None = None):
    """Standardized population values estimated from a pilot survey.

    The model is fitted by ML to ``pilot`` (read as :func:`smsem.fit` would:
    :func:`smsem.read_survey`, listwise deletion) and its std.all estimates become the
    truth: the loadings of every latent variable, the regression paths among latent
    variables and the correlations among exogenous latent variables. Residual covariances
    are not carried over (the generator sets them to 0).

    Returns
    -------
    PopulationSpec
    """
    import warnings

    from .. import fit, load_model, read_survey
    from ..model.spec import PopulationSpec

    m = load_model(model, codebook=codebook)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit(m, read_survey(pilot, m))
    par = res.params
    lat = set(m.latents)
    std = {(r.lhs, r.op, r.rhs): float(r.std_all) for r in par.itertuples(index=False)}
    loadings = {v: [std.get((v, "=~", i), math.nan) for i in m.parsed.indicators(v)] for v in m.latents}
    paths: dict[str, dict[str, float]] = {}
    for r in m.parsed.regressions:
        if r.lhs in lat and r.rhs in lat:
            paths.setdefault(r.lhs, {})[r.rhs] = float(res.standardized_paths[f"{r.lhs}~{r.rhs}"])
    endo = {r.lhs for r in m.parsed.regressions}
    exo = [v for v in m.latents if v not in endo]
    corr = []
    for i, a in enumerate(exo):
        for b in exo[i + 1:]:
            r = std.get((a, "~~", b), std.get((b, "~~", a)))
            if r is not None and math.isfinite(r):
                corr.append([a, b, r])
    bad = [f"{v}" for v, ls in loadings.items() if not all(math.isfinite(x) for x in ls)]
    if bad:
        raise OptionError(f"the pilot fit gives no standardized loadings for {', '.join(bad)}")
    return PopulationSpec.from_mapping({"loadings": loadings, "paths": paths, "correlations": corr},
                                       f"pilot {pilot}")


def shipped_configs() -> list[str]:
    """Names of the example configurations shipped in ``models/montecarlo/``."""
    from ..model.spec import models_dir

    return sorted(p.stem for p in (models_dir() / "montecarlo").glob("*.yaml"))


def _resolve_config(path: str | Path) -> Path:
    from ..model.spec import models_dir

    path = Path(path)
    if path.is_file():
        return path
    shipped = models_dir() / "montecarlo" / f"{path.name}.yaml"
    if path.suffix == "" and path.parent == Path(".") and shipped.is_file():
        return shipped
    raise OptionError(f"{path}: configuration file not found (shipped configurations: "
                      f"{', '.join(shipped_configs())})")


def load_config(path: str | Path, *, check_models: bool = True) -> StudyConfig:
    """Read and validate a study configuration YAML file.

    Parameters
    ----------
    path : str or Path
        A YAML file, or the name of a shipped configuration (``sample_size``).
    check_models : bool, default=True
        Also load the models and build the population of every cell, so that an
        inadmissible design (e.g. an effect multiplier giving R² >= 1) fails before any
        replication runs.

    Returns
    -------
    StudyConfig, or :class:`~smsem.montecarlo.invariance_study.InvarianceStudyConfig` for a
    configuration with an ``invariance:`` key (a measurement-invariance study).

    Raises
    ------
    OptionError
        A missing file, invalid YAML, or a bad key or value (the message names the key).
    """
    path = _resolve_config(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise OptionError(f"{path}: {where}invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if isinstance(data, Mapping) and "invariance" in data:  # an invariance study (its own runner)
        from .invariance_study import invariance_config

        return invariance_config(data, str(path), path.parent)  # type: ignore[return-value]
    config = config_from_mapping(data, source=str(path), base=path.parent)
    if check_models:
        from .scenarios import check_design

        try:
            check_design(config)
        except SmsemError as exc:
            raise OptionError(f"{path}: {exc}") from None
    return config
