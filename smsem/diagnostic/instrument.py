"""The integration diagnostic instrument (essay, Annexe 1): items, scoring key, levels.

The instrument is data (``models/krk_diagnostic.yaml``); this module reads it into an
immutable :class:`Instrument` and places totals in the scoring key's level bands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from ..exceptions import SpecError
from ..model.spec import models_dir, read_yaml

__all__ = ["Level", "Instrument", "load_instrument", "DEFAULT_INSTRUMENT"]

DEFAULT_INSTRUMENT = "krk_diagnostic"


@dataclass(frozen=True)
class Level:
    """One band of the scoring key: totals from ``low`` to ``high`` (inclusive, as printed)."""

    id: str
    low: float
    high: float
    name: Mapping[str, str]


@dataclass(frozen=True)
class Instrument:
    """A summated rating instrument: items, scale, level bands and the missing-answer rule.

    Attributes
    ----------
    name : str
    items : tuple of str
        Item ids (the data columns), e.g. ``KRK1..KRK20``.
    text : dict
        ``item -> {language: statement}``.
    scale_points : int
        Answers are integer codes ``1..scale_points``.
    levels : tuple of Level
        In increasing order; contiguous (each ``low`` is the previous ``high`` + 1).
    max_missing : int
        At most this many unanswered items are prorated; more excludes the respondent.
    """

    name: str
    items: tuple[str, ...]
    text: Mapping[str, Mapping[str, str]]
    scale_points: int
    levels: tuple[Level, ...]
    max_missing: int
    title: Mapping[str, str]
    source: str = ""

    @property
    def n_items(self) -> int:
        return len(self.items)

    @property
    def min_total(self) -> int:
        return self.n_items

    @property
    def max_total(self) -> int:
        return self.n_items * self.scale_points

    @property
    def level_ids(self) -> tuple[str, ...]:
        return tuple(lv.id for lv in self.levels)

    def level(self, id_: str) -> Level:
        """The level band with id ``id_``."""
        for lv in self.levels:
            if lv.id == id_:
                return lv
        raise KeyError(f"unknown level {id_!r}; levels: {', '.join(self.level_ids)}")

    def level_of(self, total: float) -> str:
        """The level id of a total (NaN -> ``""``).

        A band runs from its ``low`` up to, not including, the next band's ``low``, so
        fractional (prorated) totals such as 59.5 fall in the lower band.
        """
        if total != total:  # NaN: an excluded respondent has no level
            return ""
        if total < self.min_total or total > self.max_total:
            raise ValueError(f"total {total} is outside {self.min_total}..{self.max_total}")
        lows = np.array([lv.low for lv in self.levels])
        return self.levels[int(np.searchsorted(lows, total, side="right")) - 1].id

    def band_center(self, id_: str) -> float:
        """Middle of a band on the continuous scale: halfway from ``low`` to the next ``low``."""
        i = self.level_ids.index(self.level(id_).id)
        top = self.levels[i + 1].low if i + 1 < len(self.levels) else self.levels[i].high
        return (self.levels[i].low + top) / 2.0


def load_instrument(name: str | Path = DEFAULT_INSTRUMENT) -> Instrument:
    """Load a diagnostic instrument by shipped name or from a YAML file.

    Parameters
    ----------
    name : str or Path, default="krk_diagnostic"
        A shipped instrument (``models/<name>.yaml``) or the path of a YAML file.

    Returns
    -------
    Instrument

    Raises
    ------
    SpecError
        Missing file, malformed content, or level bands that do not tile the score range.
    """
    path = Path(name)
    if not (path.suffix in (".yaml", ".yml") or path.is_file()):
        path = models_dir() / f"{name}.yaml"
    doc = read_yaml(path) or {}
    try:
        items_doc = doc["items"]
        items = tuple(str(k) for k in items_doc)
        text = {str(k): dict(v or {}) for k, v in items_doc.items()}
        points = int(doc["scale"]["points"])
        levels = tuple(Level(str(lv["id"]), float(lv["low"]), float(lv["high"]), dict(lv.get("name") or {}))
                       for lv in doc["levels"])
        max_missing = int((doc.get("missing") or {}).get("max_missing", 0))
    except (KeyError, TypeError, ValueError) as exc:
        raise SpecError(f"{path}: malformed instrument ({exc!r})") from None
    inst = Instrument(str(doc.get("instrument", path.stem)), items, text, points, levels, max_missing,
                      dict(doc.get("title") or {}), str(doc.get("source", "")).strip())
    _check(inst, path)
    return inst


def _check(inst: Instrument, path: Path) -> None:
    if not inst.items:
        raise SpecError(f"{path}: the instrument has no items")
    if not 0 <= inst.max_missing < inst.n_items:
        raise SpecError(f"{path}: missing.max_missing must be in 0..{inst.n_items - 1}, got {inst.max_missing}")
    lv = inst.levels
    if not lv or lv[0].low != inst.min_total or lv[-1].high != inst.max_total:
        raise SpecError(f"{path}: level bands must run from {inst.min_total} to {inst.max_total}")
    for a, b in zip(lv, lv[1:]):
        if b.low != a.high + 1:
            raise SpecError(f"{path}: level {b.id!r} starts at {b.low:g}, expected {a.high + 1:g} "
                            f"(right after level {a.id!r})")
