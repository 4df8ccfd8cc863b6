"""The SEM specification: lavaan syntax, codebook, propositions and population values.

A model is data. ``load_model("integrative")`` reads ``models/integrative.lav`` and
``models/codebook.yaml``; ``load_model("path/to/model.lav", codebook=...)`` reads a user's
own files. Nothing about the essay's model is hard-coded here.
"""

from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping

import yaml

from ..exceptions import SpecError
from .identification import check_identification
from .syntax import ParsedModel, parse_lavaan

if TYPE_CHECKING:  # pragma: no cover
    from .partable import ParTable

__all__ = [
    "Item",
    "Construct",
    "PropositionPath",
    "PopulationSpec",
    "SEMModel",
    "load_model",
    "models_dir",
]


def models_dir() -> Path:
    """The folder holding the shipped model files.

    Installed, it is the ``smsem.models`` package data (``setup.cfg`` maps the repository's
    top-level ``models/`` onto it); in a source checkout, ``models/`` itself.
    """
    try:
        path = Path(str(importlib.resources.files("smsem.models")))
        if (path / "codebook.yaml").is_file():
            return path
    except ModuleNotFoundError:
        pass
    return Path(__file__).resolve().parents[2] / "models"


@dataclass(frozen=True)
class Item:
    """A survey item: its id (the data column) and its wording."""

    id: str
    construct: str
    text: Mapping[str, str]


@dataclass(frozen=True)
class Construct:
    """A latent construct with its definition and items."""

    id: str
    role: str
    name: Mapping[str, str]
    definition: Mapping[str, str]
    items: tuple[Item, ...]


@dataclass(frozen=True)
class PropositionPath:
    """One tested hypothesis: a structural path ``target ~ source``, an indirect effect
    along the chain ``source -> *via -> target``, or a ``:=`` parameter (``defined``).

    ``sign`` is the expected sign: 1, -1, or 0 when none is stated (the verdict then only
    says whether the CI excludes 0). Propositions come from a codebook (paths) or a
    hypotheses file (:mod:`smsem.model.hypotheses`).
    """

    id: str
    proposition: str
    source: str
    target: str
    sign: int
    via: tuple[str, ...] = ()
    defined: str = ""
    text: str = ""

    @property
    def kind(self) -> str:
        """``"path"``, ``"indirect"`` or ``"defined"``."""
        return "defined" if self.defined else ("indirect" if self.via else "path")

    @property
    def chain(self) -> tuple[str, ...]:
        """The variables from the source to the target (empty for a ``:=`` parameter)."""
        return () if self.defined else (self.source, *self.via, self.target)

    @property
    def label(self) -> str:
        if self.defined:
            return self.defined
        return " -> ".join(self.chain)


@dataclass(frozen=True)
class PopulationSpec:
    """Population values in the standardized metric.

    Attributes
    ----------
    loadings : dict
        ``construct -> [standardized loading per indicator]`` in indicator order.
    paths : dict
        ``outcome -> {predictor: standardized coefficient}``.
    correlations : dict
        ``(a, b) -> correlation`` among exogenous constructs (``a < b``).
    """

    loadings: Mapping[str, tuple[float, ...]]
    paths: Mapping[str, Mapping[str, float]]
    correlations: Mapping[tuple[str, str], float] = field(default_factory=dict)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "population") -> "PopulationSpec":
        """Build from the ``population:`` mapping of a codebook or scenario file."""
        try:
            loadings = {str(k): tuple(float(x) for x in v) for k, v in data["loadings"].items()}
            paths = {
                str(k): {str(p): float(b) for p, b in v.items()} for k, v in (data.get("paths") or {}).items()
            }
            corr: dict[tuple[str, str], float] = {}
            for entry in data.get("correlations") or []:
                a, b, r = entry
                a, b = sorted((str(a), str(b)))
                corr[(a, b)] = float(r)
        except (KeyError, TypeError, ValueError) as exc:
            raise SpecError(f"{where}: malformed population values ({exc})") from None
        return cls(loadings, paths, corr)

    def to_mapping(self) -> dict[str, Any]:
        """A plain mapping (for JSON sidecars); inverse of :meth:`from_mapping`."""
        return {
            "loadings": {k: list(v) for k, v in self.loadings.items()},
            "paths": {k: dict(v) for k, v in self.paths.items()},
            "correlations": [[a, b, r] for (a, b), r in self.correlations.items()],
        }


@dataclass(frozen=True)
class SEMModel:
    """A structural equation model with its codebook and propositions.

    Use :func:`load_model` to build one.
    """

    name: str
    syntax: str
    parsed: ParsedModel
    constructs: Mapping[str, Construct]
    propositions: tuple[PropositionPath, ...]
    population: PopulationSpec | None
    scale_points: int = 5
    source: str = ""

    @property
    def items(self) -> list[str]:
        """Observed item columns in model order."""
        return self.parsed.observed

    @property
    def latents(self) -> list[str]:
        return self.parsed.latents

    def table(self, **options: Any) -> "ParTable":
        """The parameter table under lavaan's defaults changed by ``options`` (the keyword
        arguments of :func:`smsem.model.partable.lavaanify`: ``model_type``, ``std_lv``,
        ``meanstructure``, ``fixed_x``, ``missing``, ...). Cached per option set."""
        key = tuple(sorted(options.items()))
        cache = self.__dict__.setdefault("_tables", {})
        if key not in cache:
            from .partable import lavaanify

            cache[key] = lavaanify(self.parsed, **options)
        return cache[key]

    @property
    def partable(self) -> "ParTable":
        """The parameter table with lavaan's ``sem()`` defaults."""
        return self.table()

    @property
    def n_free(self) -> int:
        """Free parameters under lavaan's ``sem()`` defaults, counted by the parameter
        table: its free rows less the equality constraints (lavaan's ``npar`` in
        ``fitMeasures``). Covariates' (co)variances fixed by ``fixed.x`` are not counted."""
        pt = self.partable
        return pt.npar - pt.n_equalities

    def proposition_path(self, path_id: str) -> PropositionPath:
        for p in self.propositions:
            if p.id == path_id:
                return p
        raise KeyError(path_id)


def read_yaml(path: Path) -> Any:
    """Parse a YAML file; errors are SpecErrors naming the file (and line/column)."""
    try:
        with open(path, encoding="utf-8") as fh:
            # libyaml's parser when PyYAML has it (the same safe constructor, ten times
            # faster: 0.1 s of every `smsem fit` in pure Python)
            return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except FileNotFoundError:
        raise SpecError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(f"{path}: cannot read the file ({exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise SpecError(f"{path}: {where}invalid YAML ({getattr(exc, 'problem', exc)})") from None


def _resolve_syntax(name: str, codebook: Mapping[str, Any] | None, base: Path) -> tuple[str, str, Path]:
    path = Path(name)
    if path.suffix == ".lav" or path.is_file():
        if not path.is_file():
            raise SpecError(f"{path}: model file not found; check the --model path")
        return path.stem, _read_text(path), path
    lav = base / f"{name}.lav"
    if not lav.is_file():
        known = sorted(p.stem for p in base.glob("*.lav"))
        raise SpecError(f"unknown model {name!r}; shipped models: {', '.join(known)} (or give a .lav path)")
    return name, _read_text(lav), lav


def _read_text(path: Path) -> str:
    """A model file's text; UTF-8 (with or without BOM), else Latin-1."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"{path}: cannot read the model file ({exc.strerror})") from None
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def load_model(name: str = "integrative", *, codebook: str | Path | None = None) -> SEMModel:
    """Load a model by name (a shipped model) or from a ``.lav`` file.

    Parameters
    ----------
    name : str, default="integrative"
        A shipped model name (``models/<name>.lav``) or the path of a ``.lav`` file.
    codebook : str or Path, optional
        A codebook YAML. Default: ``models/codebook.yaml`` for shipped models whose
        codebook names them; none for a user's own ``.lav`` file.

    Returns
    -------
    SEMModel

    Raises
    ------
    SpecError
        On a missing file, invalid syntax, or a codebook that disagrees with the syntax.
    """
    base = models_dir()
    model_name, text, lav_path = _resolve_syntax(name, None, base)
    try:
        parsed = parse_lavaan(text)
    except SpecError as exc:
        raise SpecError(f"{lav_path}: {exc}") from None
    cb_path: Path | None
    if codebook is not None:
        cb_path = Path(codebook)
    else:
        cb_path = base / "codebook.yaml"
        if lav_path.resolve().parent != base.resolve():
            cb_path = None
        elif (read_yaml(cb_path) or {}).get("model") != lav_path.name:
            cb_path = None
    if cb_path is None:
        model = SEMModel(model_name, text, parsed, {}, (), None, 5, str(lav_path))
        return _identified(model, lav_path)
    cb = read_yaml(cb_path) or {}
    constructs = _constructs(cb, parsed, cb_path)
    props = _propositions(cb, parsed, cb_path)
    pop = PopulationSpec.from_mapping(cb["population"], f"{cb_path}: population") if "population" in cb else None
    try:
        points = int((cb.get("scale") or {}).get("points", 5))
    except (TypeError, ValueError, AttributeError):
        raise SpecError(f"{cb_path}: scale.points must be a whole number") from None
    if points < 2:
        raise SpecError(f"{cb_path}: scale.points must be at least 2, got {points}")
    model = SEMModel(model_name, text, parsed, constructs, props, pop, points, str(lav_path))
    return _identified(model, lav_path)


def _identified(model: SEMModel, lav_path: Path) -> SEMModel:
    try:
        check_identification(model)
    except SpecError as exc:
        raise type(exc)(f"{lav_path}: {exc}") from None
    return model


def _constructs(cb: Mapping[str, Any], parsed: ParsedModel, where: Path) -> dict[str, Construct]:
    out: dict[str, Construct] = {}
    for cid, c in (cb.get("constructs") or {}).items():
        if cid not in parsed.latents:
            raise SpecError(f"{where}: construct {cid!r} is not a latent variable of the model")
        items = tuple(Item(str(iid), cid, dict(txt or {})) for iid, txt in (c.get("items") or {}).items())
        declared = [i.id for i in items]
        if declared != parsed.indicators(cid):
            raise SpecError(
                f"{where}: items of {cid} are {declared} in the codebook but {parsed.indicators(cid)} in the model"
            )
        out[cid] = Construct(cid, str(c.get("role", "")), dict(c.get("name") or {}), dict(c.get("definition") or {}), items)
    return out


def _propositions(cb: Mapping[str, Any], parsed: ParsedModel, where: Path) -> tuple[PropositionPath, ...]:
    regs = {(p.lhs, p.rhs) for p in parsed.regressions}
    out = []
    for prop in cb.get("propositions") or []:
        for path in prop.get("paths") or []:
            src, dst, sign = str(path["from"]), str(path["to"]), int(path["sign"])
            if (dst, src) not in regs:
                raise SpecError(f"{where}: proposition path {path['id']} ({dst} ~ {src}) is not in the model")
            if sign not in (-1, 1):
                raise SpecError(f"{where}: proposition path {path['id']} has sign {sign}; use 1 or -1")
            out.append(PropositionPath(str(path["id"]), str(prop["id"]), src, dst, sign))
    return tuple(out)
