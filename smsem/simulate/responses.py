"""Draw survey responses from a population: continuous, then cut into Likert codes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import check_int, check_option, check_real, check_seed
from ..exceptions import OptionError, SpecError
from ..model.spec import PopulationSpec, SEMModel
from .groups import DEPARTMENT_COLUMN, Department, group_sizes, latent_mean_vector
from .missing import MissingSpec, apply_missing, missing_mask
from .nonnormal import ValeMaurelli
from .population import PopulationModel, population_model
from .scenarios import Scenario, load_scenario

__all__ = [
    "symmetric_thresholds",
    "wide_thresholds",
    "skewed_thresholds",
    "thresholds_from_proportions",
    "category_probabilities",
    "simulate",
    "simulate_items",
    "draw_continuous",
    "cut_likert",
    "STREAMS",
]

# Child streams of SeedSequence(seed): spawn_key -> component. Each component draws from
# its own stream, so switching one on never changes what the others draw. The default
# call (one group, normal responses) draws from the root SeedSequence(seed) itself, as
# smsem always has, so its data are unchanged.
STREAMS = {"responses": (0,), "missing": (1,), "department_order": (2,)}

SKEW_SHIFT = 0.75

from .._defaults import DEFAULT_SEED  # noqa: E402  (re-exported)


#: Largest spacing of the default thresholds and their outermost position (SD of the response).
DEFAULT_SPACING, DEFAULT_SPAN = 1.2, 1.8


def symmetric_thresholds(k: int) -> np.ndarray:
    """Default thresholds for a k-point scale on the latent-normal response.

    Equally spaced and symmetric about 0, 1.2 SD apart until the outermost reach +-1.8 SD:
    ``linspace(-h, h, k - 1)`` with ``h = min(1.8, 0.6 (k - 2))``. So k = 2 cuts at 0 (.50,
    .50), k = 3 at +-0.6 (.274, .451, .274), k = 4 at -1.2, 0, 1.2 (.115, .385, .385, .115), and
    k >= 5 over -1.8..1.8 exactly as before (k = 5: .036, .238, .451, .238, .036). Before,
    every k spanned +-1.8 (:func:`wide_thresholds`, ``thresholds="wide"``), which put 93% of
    the answers of a 3-point item in the middle category.
    """
    k = check_int("likert", k, low=2, high=11)
    if k == 2:
        return np.array([0.0])
    h = DEFAULT_SPACING / 2 * (k - 2)
    if h >= DEFAULT_SPAN - 1e-9:  # k >= 5: exactly the former cuts (0.6 * 3 is 1.7999999999999998)
        h = DEFAULT_SPAN
    return np.linspace(-h, h, k - 1)


def wide_thresholds(k: int) -> np.ndarray:
    """The former default: equally spaced from -1.8 to 1.8 for every k >= 3 (0 for k = 2).

    Identical to :func:`symmetric_thresholds` for k = 2 and k >= 5; for k = 3 it puts
    .036, .928, .036 of the answers in the categories, for k = 4 .036, .464, .464, .036.
    """
    k = check_int("likert", k, low=2, high=11)
    if k == 2:
        return np.array([0.0])
    return np.linspace(-1.8, 1.8, k - 1)


def skewed_thresholds(k: int, shift: float = SKEW_SHIFT) -> np.ndarray:
    """Agreement-heavy thresholds: the symmetric ones moved ``shift`` SD down.

    Lower cut points put more of the latent-normal response in the upper (agreement)
    categories, as in surveys where respondents favour their own organization. For k = 5
    and the default shift 0.75 the category probabilities are
    .005, .083, .352, .413, .147.
    """
    k = check_int("likert", k, low=2, high=11)
    shift = check_real("threshold shift", shift)
    return symmetric_thresholds(k) - shift


def thresholds_from_proportions(proportions: Sequence[float]) -> np.ndarray:
    """Thresholds giving target category proportions to a standard normal response.

    ``t_j = Phi^-1(p_1 + ... + p_j)`` for ``j = 1..k-1``.

    Raises
    ------
    SpecError
        If the proportions are not ``k`` (2..11) positive numbers summing to 1: a zero
        proportion would make two thresholds coincide.
    """
    p = np.asarray(proportions, dtype=float)
    if p.ndim != 1 or not 2 <= p.size <= 11:
        raise SpecError(f"category proportions: give 2 to 11 values (one per scale point), got {p.size}")
    if not np.all(np.isfinite(p)) or np.any(p <= 0):
        i = int(np.flatnonzero(~(np.isfinite(p) & (p > 0)))[0])
        raise SpecError(f"category proportions must be > 0: category {i + 1} has {p[i]} "
                        "(a zero proportion makes two thresholds coincide)")
    if abs(p.sum() - 1.0) > 1e-6:
        raise SpecError(f"category proportions must sum to 1, got {p.sum():.6g}")
    return stats.norm.ppf(np.cumsum(p / p.sum())[:-1])


def category_probabilities(thresholds: Sequence[float], mean: float = 0.0, sd: float = 1.0) -> np.ndarray:
    """Probability of each of the ``len(thresholds) + 1`` categories for a normal response."""
    th = np.asarray(thresholds, dtype=float)
    cdf = stats.norm.cdf((th - mean) / sd)
    return np.diff(np.concatenate([[0.0], cdf, [1.0]]))


def _check_thresholds(th: Sequence[float], k: int) -> np.ndarray:
    th = np.asarray(th, dtype=float)
    if th.ndim != 1 or th.size != k - 1:
        raise SpecError(f"a {k}-point scale needs {k - 1} thresholds, got {th.size}")
    if not np.all(np.isfinite(th)):
        raise SpecError(f"thresholds must be finite numbers, got {th.tolist()}")
    bad = np.flatnonzero(np.diff(th) <= 0)
    if bad.size:
        i = int(bad[0])
        raise SpecError(f"thresholds must be strictly increasing: threshold {i + 1} ({th[i]}) "
                        f"is not below threshold {i + 2} ({th[i + 1]})")
    return th


CHUNK_ROWS = 1 << 16


def _continuous_chunks(pop: PopulationModel, n: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Rows of continuous responses, ``CHUNK_ROWS`` at a time (the draws of one call).

    All disturbances are drawn first, then the unique parts row block by row block: a
    ``Generator`` fills ``(a, p)`` then ``(b, p)`` with exactly the numbers of one
    ``(a + b, p)`` draw, so chunking saves memory without changing the data.
    """
    raw = rng.standard_normal((n, len(pop.latents)))
    chol, total, sd = _draw_factors(pop)
    for start in range(0, n, CHUNK_ROWS):
        eta = (raw[start:start + CHUNK_ROWS] @ chol) @ total
        x = eta @ pop.lambda_.T
        x += rng.standard_normal(x.shape) * sd
        yield x


# (chol(Psi)', (I - B)^-T, sqrt(theta)) of recently used populations, by identity (the
# PopulationModel is kept referenced, so its id is not reused while the entry lives): a
# Monte Carlo study draws thousands of small samples from one population.
_FACTORS: dict[int, tuple[PopulationModel, tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}


def _draw_factors(pop: PopulationModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    hit = _FACTORS.get(id(pop))
    if hit is not None and hit[0] is pop:
        return hit[1]
    m = len(pop.latents)
    factors = (np.linalg.cholesky(pop.psi).T, np.linalg.inv(np.eye(m) - pop.beta).T, np.sqrt(pop.theta))
    if len(_FACTORS) >= 8:
        _FACTORS.clear()
    _FACTORS[id(pop)] = (pop, factors)
    return factors


def draw_continuous(pop: PopulationModel, n: int, rng: np.random.Generator) -> np.ndarray:
    """Draw ``n`` continuous item responses (standardized metric), shape ``(n, p)``.

    Structural disturbances are drawn, pushed through ``(I - B)^-1`` and the loadings;
    unique parts are added. The result has covariance ``pop.implied_cov``.
    """
    out = np.empty((n, len(pop.items)))
    start = 0
    for x in _continuous_chunks(pop, n, rng):
        out[start:start + len(x)] = x
        start += len(x)
    return out


def _department_thresholds(dep: Any, items: list[str], likert: int) -> list[tuple[int, np.ndarray]]:
    """``(item index, thresholds)`` of a department's own item thresholds (validated)."""
    own = getattr(dep, "item_thresholds", None) or {}
    if not own:
        return []
    if not likert:
        raise OptionError(f"department {dep.name}: item_thresholds need Likert items (likert >= 2), not likert=0")
    out = []
    for item, cuts in own.items():
        if item not in items:
            raise SpecError(f"department {dep.name}: item thresholds of unknown item {item!r}")
        try:
            out.append((items.index(item), _check_thresholds(list(cuts), likert)))
        except SpecError as exc:
            raise SpecError(f"department {dep.name}: item {item}: {exc}") from None
    return out


def cut_likert(x: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Codes ``1..k``: 1 + the number of thresholds at or below each (finite) response.

    The same codes as ``np.searchsorted(thresholds, x, side="right") + 1``; one
    comparison pass per threshold is several times faster for the few thresholds of a
    Likert scale than a binary search per response.
    """
    codes = np.ones(np.shape(x), dtype=np.int8)
    for t in np.asarray(thresholds, dtype=float):
        codes += x >= t
    return codes


def _resolve_thresholds(likert: int, thresholds: Any, proportions: Any) -> tuple[np.ndarray, str]:
    if proportions is not None:
        if thresholds is not None:
            raise OptionError("give thresholds or proportions, not both")
        th = thresholds_from_proportions(proportions)
        if th.size != likert - 1:
            raise SpecError(f"a {likert}-point scale needs {likert} category proportions, got {th.size + 1}")
        return _check_thresholds(th, likert), "proportions"
    if thresholds is None or (isinstance(thresholds, str) and thresholds == "symmetric"):
        return symmetric_thresholds(likert), "symmetric"
    if isinstance(thresholds, str):
        check_option("thresholds", thresholds, ["symmetric", "skewed", "wide"])
        if thresholds == "wide":
            return wide_thresholds(likert), "wide"
        return skewed_thresholds(likert), "skewed"
    return _check_thresholds(thresholds, likert), "given"


def _stream(seed: int, component: str, *sub: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=STREAMS[component] + sub))


# population_model() of the last few (model, population) pairs: a Monte Carlo study
# simulates thousands of data sets from the same two objects, and deriving and checking
# the population costs as much as drawing 300 responses. Entries are found by identity
# (both objects are kept referenced, so an id cannot be reused while its entry lives) and
# used only if the population's values still equal a snapshot taken when it was cached:
# PopulationSpec is frozen but holds plain dicts, which a caller could change in place.
_POPULATIONS: dict[tuple[int, int], tuple[Any, Any, Any, PopulationModel]] = {}


def _population(model: SEMModel, spec: PopulationSpec | None) -> PopulationModel:
    key = (id(model), id(spec))
    effective = spec if spec is not None else model.population
    snapshot = effective.to_mapping() if effective is not None else None
    hit = _POPULATIONS.get(key)
    if hit is not None and hit[0] is model and hit[1] is spec and hit[2] == snapshot:
        return hit[3]
    pop = population_model(model, spec)  # raises SpecError: nothing cached
    if len(_POPULATIONS) >= 8:
        _POPULATIONS.clear()
    _POPULATIONS[key] = (model, spec, snapshot, pop)
    return pop


def simulate(
    model: SEMModel,
    n: int = 300,
    seed: int = DEFAULT_SEED,
    *,
    likert: int = 5,
    thresholds: Sequence[float] | str | None = None,
    population: PopulationSpec | None = None,
    proportions: Sequence[float] | None = None,
    scenario: str | Path | Scenario | None = None,
    latent_means: Mapping[str, float] | None = None,
    departments: Sequence[Department] | None = None,
    skewness: float | Sequence[float] | Mapping[str, float] | None = None,
    kurtosis: float | Sequence[float] | Mapping[str, float] | None = None,
    missing: MissingSpec | None = None,
    missing_rate: float = 0.0,
    missing_mechanism: str = "mcar",
) -> pd.DataFrame:
    """Simulate a survey from a model's population values.

    Parameters
    ----------
    model : SEMModel
        The model; its ``population`` gives the standardized values unless
        ``population`` or ``scenario`` is passed.
    n : int, default=300
        Respondents.
    seed : int, default=20190101
        Seed of :class:`numpy.random.SeedSequence`; the same seed gives identical data.
    likert : int, default=5
        Number of scale points (2..11); 0 keeps the continuous responses.
    thresholds : sequence of float or {"symmetric", "skewed", "wide"}, optional
        ``likert - 1`` increasing cut points on the standardized response, or a named
        set: ``"symmetric"`` (default, :func:`symmetric_thresholds`), ``"skewed"``
        (agreement-heavy, :func:`skewed_thresholds`) or ``"wide"`` (the former default,
        :func:`wide_thresholds`).
    population : PopulationSpec, optional
        Population values overriding the model's (and the scenario's).
    proportions : sequence of float, optional
        Target category proportions of a respondent with latent means 0
        (:func:`thresholds_from_proportions`); instead of ``thresholds``.
    scenario : str, Path or Scenario, optional
        A named scenario (``models/scenarios/NAME.yaml``, see
        :func:`smsem.simulate.load_scenario`): population, latent means, departments.
    latent_means : mapping, optional
        ``construct -> mean`` (SD units); item intercepts are 0, so an item's mean is
        ``loading * mean``. Overrides the scenario's; not with ``departments``.
    departments : sequence of Department, optional
        Groups with their own latent means and path values; adds a ``department``
        column (first column). Overrides the scenario's.
    skewness, kurtosis : float, sequence or mapping, optional
        Target skewness and *excess* kurtosis of every item (one value), of each item
        (a sequence in item order, or a mapping item -> value; unlisted items 0).
        Continuous responses are then drawn by Vale-Maurelli
        (:class:`smsem.simulate.nonnormal.ValeMaurelli`), before any Likert cut.
    missing : MissingSpec, optional
        Full missing-data specification (MAR driver, items, strength).
    missing_rate : float, default=0
        Shortcut: share of missing item cells (with ``missing_mechanism``).
    missing_mechanism : {"mcar", "mar"}, default="mcar"

    Returns
    -------
    DataFrame
        One row per respondent, one column per item (plus ``department`` first when
        there are departments). Missing cells are NaN (``pd.NA`` in Likert columns,
        which become nullable ``Int8``). ``df.attrs["smsem"]`` holds the generating
        parameters (written to the JSON sidecar by :func:`smsem.io.write_survey`).

    Notes
    -----
    Random streams: the default call (one group, normal responses, with or without
    latent means) draws from ``SeedSequence(seed)`` exactly as earlier versions did.
    Departments and non-normal responses draw group ``g`` from the child stream
    ``spawn_key=(0, g)``, the department row order from ``(2,)``, missingness from
    ``(1,)``. Likert cutting is deterministic, so ``likert=0`` and ``likert=5`` with the
    same seed are the same respondents, and adding missingness blanks cells of the very
    data drawn without it.
    """
    d = _draw(model, n, seed, likert=likert, thresholds=thresholds, population=population,
              proportions=proportions, scenario=scenario, latent_means=latent_means,
              departments=departments, skewness=skewness, kurtosis=kurtosis, missing=missing,
              missing_rate=missing_rate, missing_mechanism=missing_mechanism, record=True)
    meta = d.meta
    df = pd.DataFrame(d.data, columns=model.items, copy=False)
    if d.dept_col is not None:
        df.insert(0, DEPARTMENT_COLUMN, d.dept_col)
    if d.missing.rate > 0:
        df, info = apply_missing(df, model.items, d.missing, _stream(d.seed, "missing"))
        info["stream_spawn_key"] = list(STREAMS["missing"])
        meta["missing"] = info
    df.attrs["smsem"] = meta
    return df


def simulate_items(model: SEMModel, n: int = 300, seed: int = DEFAULT_SEED, **options: Any) -> np.ndarray:
    """The item responses of :func:`simulate` as one float array, without a DataFrame.

    ``simulate_items(model, n, seed, **options)`` equals
    ``simulate(model, n, seed, **options)[model.items].to_numpy(dtype=float)`` (NaN where
    missing) value for value: the same draws from the same streams. No metadata are
    built; a Monte Carlo replication needs only the numbers.

    Returns
    -------
    ndarray (n, p)
        Columns in ``model.items`` order.
    """
    d = _draw(model, n, seed, record=False, **options)
    x = d.data.astype(float)
    if d.missing.rate > 0:
        items = list(model.items)
        mask, targets, _ = missing_mask(n, items, d.missing, _stream(d.seed, "missing"),
                                        lambda c: x[:, items.index(c)], items)
        cols = [items.index(c) for c in targets]
        x[:, cols] = np.where(mask, np.nan, x[:, cols])
    return x


@dataclass
class _Drawn:
    """Complete responses of one :func:`simulate` call, before missingness."""

    data: np.ndarray  # (n, p): int8 Likert codes or floats, model.items order
    dept_col: np.ndarray | None
    missing: MissingSpec
    seed: int
    meta: dict[str, Any] | None  # the sidecar record (record=True)


def _draw(
    model: SEMModel,
    n: int,
    seed: int,
    *,
    likert: int = 5,
    thresholds: Sequence[float] | str | None = None,
    population: PopulationSpec | None = None,
    proportions: Sequence[float] | None = None,
    scenario: str | Path | Scenario | None = None,
    latent_means: Mapping[str, float] | None = None,
    departments: Sequence[Department] | None = None,
    skewness: float | Sequence[float] | Mapping[str, float] | None = None,
    kurtosis: float | Sequence[float] | Mapping[str, float] | None = None,
    missing: MissingSpec | None = None,
    missing_rate: float = 0.0,
    missing_mechanism: str = "mcar",
    record: bool,
) -> _Drawn:
    """Validate the options of :func:`simulate` and draw the complete responses."""
    n = check_int("n", n, low=1)
    seed = check_seed(seed)
    likert = check_int("likert", likert, low=0, high=11)
    if likert == 1:
        raise SpecError("likert must be 0 (continuous) or 2..11 scale points, got 1")
    if missing is None:
        missing = MissingSpec(missing_rate, missing_mechanism)
    elif missing_rate:
        raise OptionError("give missing (a MissingSpec) or missing_rate, not both")
    if latent_means is not None and departments is not None:
        raise OptionError("latent_means applies to a single group; give each Department its latent_means")
    scen = load_scenario(scenario, model) if isinstance(scenario, (str, Path)) else scenario
    spec = population if population is not None else (scen.population if scen is not None else model.population)
    if latent_means is None and departments is None and scen is not None:
        latent_means = scen.latent_means
        departments = scen.departments or None
    nonnormal = skewness is not None or kurtosis is not None
    th: np.ndarray | None = None
    th_method = None
    if likert:
        th, th_method = _resolve_thresholds(likert, thresholds, proportions)
    elif thresholds is not None or proportions is not None:
        raise OptionError("thresholds and proportions need Likert items (likert >= 2), not likert=0")

    extra: dict[str, Any] = {}
    dept_col: np.ndarray | None = None
    groups = list(departments) if departments else [Department("all", 1.0, dict(latent_means or {}))]
    sizes = group_sizes(n, groups)
    p = len(model.items)
    data: np.ndarray = np.empty((n, p), dtype=np.int8 if likert else float)
    records, start = [], 0
    for g, (dep, size) in enumerate(zip(groups, sizes)):
        try:
            pop = _population(model, dep.population(spec) if spec is not None else spec)
        except SpecError as exc:
            if not departments:
                raise
            raise SpecError(f"department {dep.name}: {exc}") from None
        mu = latent_mean_vector(pop, dep.latent_means, f"latent means of {dep.name}")
        shift = pop.lambda_ @ mu if mu.any() else None
        nu = dep.intercept_vector(list(pop.items))  # non-invariant item intercepts (issue 14)
        if nu is not None:
            shift = nu if shift is None else shift + nu
        if not departments and not nonnormal:
            # The default: the root stream, exactly as smsem has always drawn it.
            rng = np.random.default_rng(np.random.SeedSequence(seed))
        else:
            rng = _stream(seed, "responses", g)
        if nonnormal:
            vm = ValeMaurelli.prepare(pop.implied_cov.to_numpy(), pop.items,
                                      0.0 if skewness is None else skewness,
                                      0.0 if kurtosis is None else kurtosis)
            chunks = vm.chunks(size, rng, CHUNK_ROWS)
            if g == 0 and record:
                extra["nonnormal"] = {
                    "method": "Vale-Maurelli (Fleishman power polynomials), as lavaan simulateData",
                    "skewness": dict(zip(pop.items, vm.skewness.tolist())),
                    "kurtosis": dict(zip(pop.items, vm.kurtosis.tolist())),
                    "fleishman_abcd": dict(zip(pop.items, vm.coefficients.tolist())),
                    "intermediate_correlation_min_eigenvalue": float(np.linalg.eigvalsh(vm.intermediate).min()),
                }
        else:
            chunks = _continuous_chunks(pop, size, rng)
        own_th = _department_thresholds(dep, list(pop.items), likert)  # non-invariant thresholds (issue 14)
        for x in chunks:
            if shift is not None:
                x += shift
            if likert:
                codes = cut_likert(x, th)
                for j, tj in own_th:
                    codes[:, j] = cut_likert(x[:, j:j + 1], tj)[:, 0]
                data[start:start + len(x)] = codes
            else:
                data[start:start + len(x)] = x
            start += len(x)
        if not record:
            continue
        rec = {"name": dep.name, "n": size, "share": dep.share, **_mean_record(pop, mu)}
        if departments or nonnormal:
            rec["stream_spawn_key"] = list(STREAMS["responses"] + (g,))
        if dep.paths:
            rec["paths"] = {k: dict(v) for k, v in dep.paths.items()}
        if dep.item_intercepts:
            rec["item_intercepts"] = {v: float(dep.item_intercepts.get(v, 0.0)) for v in pop.items}
        if dep.loadings:
            rec["loadings"] = {k: list(v) for k, v in dep.loadings.items()}
        if dep.item_thresholds:
            rec["item_thresholds"] = {pop.items[j]: tj.tolist() for j, tj in own_th}
        records.append(rec)
    if departments:
        labels = np.repeat(np.array([d.name for d in groups], dtype=object), sizes)
        order = _stream(seed, "department_order").permutation(n)
        data, dept_col = data[order], labels[order]
        extra["departments"] = records
    elif record and any(records[0]["latent_means"].values()):
        extra["mean_structure"] = {k: v for k, v in records[0].items()
                                   if k in ("item_intercepts", "latent_means", "structural_intercepts")}
    if not record:
        return _Drawn(data, dept_col, missing, seed, None)
    meta: dict[str, Any] = {
        "model": model.name,
        "n": n,
        "seed": seed,
        "likert": likert,
        "thresholds": None if th is None else th.tolist(),
        "population": spec.to_mapping() if spec is not None else None,
    }
    if scen is not None:
        meta["scenario"] = scen.to_mapping()
    if th_method not in (None, "symmetric", "given"):
        meta["threshold_method"] = th_method
    meta.update(extra)
    return _Drawn(data, dept_col, missing, seed, meta)


def _mean_record(pop: PopulationModel, mu: np.ndarray) -> dict[str, Any]:
    """Mean structure for the sidecar: item intercepts 0, latent means, alpha = (I - B) mu."""
    alpha = (np.eye(len(pop.latents)) - pop.beta) @ mu
    return {
        "item_intercepts": 0.0,
        "latent_means": dict(zip(pop.latents, mu.tolist())),
        "structural_intercepts": dict(zip(pop.latents, alpha.tolist())),
    }
