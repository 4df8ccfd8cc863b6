"""Named scenarios: population parameter sets kept as data in ``models/scenarios/``.

A scenario file (YAML) states, in the standardized metric::

    name: undefined
    description: ...
    population:            # optional: changes to the model's codebook population
      paths: {IC: {IS: 0.0}}        # merged predictor by predictor
      loadings: {COM: [.8, .7, .6]} # replaces a construct's loadings
      correlations: [[COM, MA, 0.2]]
    latent_means: {COM: -0.8, IC: 0.8}   # organization's latent means (SD units)
    departments:                          # optional groups (a `department` column)
      sales:     {share: 0.5, mean_shift: {IS: -0.3}, paths: {EA: {IC: -0.5}}}
      marketing: {share: 0.5, mean_shift: {IS: 0.3}}

A department's latent means are the organization's ``latent_means`` plus its
``mean_shift``. Shipped scenarios: ``thesis`` (the codebook's population), ``null`` (every
structural path 0, for type-I error studies) and the four integration levels of Kotler,
Rackham & Krishnaswamy (2006): ``undefined``, ``defined``, ``aligned``, ``integrated``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from ..exceptions import SpecError
from ..model.spec import PopulationSpec, SEMModel, models_dir
from .groups import Department

__all__ = ["Scenario", "load_scenario", "list_scenarios", "scenarios_dir"]


def scenarios_dir() -> Path:
    """Folder of the shipped scenario files (``models/scenarios``)."""
    return models_dir() / "scenarios"


def list_scenarios() -> list[str]:
    """Names of the shipped scenarios."""
    return sorted(p.stem for p in scenarios_dir().glob("*.yaml"))


@dataclass(frozen=True)
class Scenario:
    """A named population: standardized values, latent means and departments.

    Attributes
    ----------
    name, description : str
    population : PopulationSpec
        The model's codebook population with the scenario's changes applied.
    latent_means : mapping
        The organization's latent means (SD units; 0 where not given).
    departments : tuple of Department
        Empty for a single group.
    source : str
        The file it was read from.
    """

    name: str
    description: str
    population: PopulationSpec
    latent_means: Mapping[str, float] = field(default_factory=dict)
    departments: tuple[Department, ...] = ()
    source: str = ""

    def to_mapping(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "latent_means": dict(self.latent_means),
            "departments": [d.to_mapping() for d in self.departments],
        }


def _merge(base: PopulationSpec, changes: Mapping[str, Any], where: str) -> PopulationSpec:
    if not isinstance(changes, Mapping):
        raise SpecError(f"{where}: 'population' must be a mapping")
    unknown = sorted(set(changes) - {"loadings", "paths", "correlations"})
    if unknown:
        raise SpecError(f"{where}: unknown population key(s) {', '.join(unknown)} "
                        "(allowed: loadings, paths, correlations)")
    merged = base.to_mapping()
    for k, v in (changes.get("loadings") or {}).items():
        merged["loadings"][str(k)] = list(v)
    for dst, preds in (changes.get("paths") or {}).items():
        if not isinstance(preds, Mapping):
            raise SpecError(f"{where}: population paths of {dst} must map predictors to values")
        merged["paths"].setdefault(str(dst), {}).update({str(p): b for p, b in preds.items()})
    if "correlations" in changes:
        corr = {tuple(sorted((str(a), str(b)))): r for a, b, r in base.to_mapping()["correlations"]}
        for entry in changes.get("correlations") or []:
            try:
                a, b, r = entry
            except (TypeError, ValueError):
                raise SpecError(f"{where}: a correlation must be [construct, construct, value], got {entry!r}") from None
            corr[tuple(sorted((str(a), str(b))))] = r
        merged["correlations"] = [[a, b, r] for (a, b), r in corr.items()]
    return PopulationSpec.from_mapping(merged, f"{where}: population")


def _means(data: Any, where: str) -> dict[str, float]:
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise SpecError(f"{where} must map constructs to numbers")
    try:
        return {str(k): float(v) for k, v in data.items()}
    except (TypeError, ValueError):
        raise SpecError(f"{where} must map constructs to numbers, got {dict(data)}") from None


def load_scenario(name: str | Path, model: SEMModel) -> Scenario:
    """Read a shipped scenario by name, or a scenario YAML file by path.

    Parameters
    ----------
    name : str or Path
        ``thesis``, ``null``, ``undefined``, ``defined``, ``aligned``, ``integrated``, or
        the path of a ``.yaml`` file in the format above.
    model : SEMModel
        The model whose codebook population the scenario changes; constructs named in
        the scenario are checked against it.

    Raises
    ------
    SpecError
        Unknown scenario (the message lists the shipped ones), invalid YAML or values.
    """
    path = Path(name)
    if path.suffix not in (".yaml", ".yml"):
        path = scenarios_dir() / f"{name}.yaml"
        if not path.is_file():
            raise SpecError(f"unknown scenario {str(name)!r}; shipped scenarios: {', '.join(list_scenarios())} "
                            "(or give a .yaml path)")
    if not path.is_file():
        raise SpecError(f"{path}: scenario file not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise SpecError(f"{path}: {at}invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(data, Mapping):
        raise SpecError(f"{path}: a scenario file must be a mapping")
    where = str(path)
    if model.population is None and "population" not in data:
        raise SpecError(f"{where}: model {model.name!r} has no codebook population; the scenario must give one")
    base = model.population
    if base is None:
        pop = PopulationSpec.from_mapping(data["population"], f"{where}: population")
    else:
        pop = _merge(base, data.get("population") or {}, where)
    means = _means(data.get("latent_means"), f"{where}: latent_means")
    deps: list[Department] = []
    for dname, d in (data.get("departments") or {}).items():
        if not isinstance(d, Mapping) or "share" not in d:
            raise SpecError(f"{where}: department {dname} needs a share")
        shift = _means(d.get("mean_shift"), f"{where}: mean_shift of department {dname}")
        group_means = {k: means.get(k, 0.0) + shift.get(k, 0.0) for k in set(means) | set(shift)}
        paths = {str(k): {str(p): float(b) for p, b in (v or {}).items()} for k, v in (d.get("paths") or {}).items()}
        try:
            share = float(d["share"])
        except (TypeError, ValueError):
            raise SpecError(f"{where}: department {dname}: share must be a number, got {d['share']!r}") from None
        deps.append(Department(str(dname), share, group_means, paths))
    for m in [means] + [d.latent_means for d in deps]:
        bad = sorted(set(m) - set(model.latents))
        if bad:
            raise SpecError(f"{where}: latent means for {', '.join(bad)}, which are not constructs of "
                            f"model {model.name!r} ({', '.join(model.latents)})")
    return Scenario(str(data.get("name", path.stem)), str(data.get("description", "")).strip(), pop, means,
                    tuple(deps), str(path))
