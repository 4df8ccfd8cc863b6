"""A user's own hypotheses: the ``--hypotheses H.yaml`` file.

The file is a YAML list (optionally under a top-level ``hypotheses:`` key); each entry
names one hypothesis::

    - id: H1
      path: "IC ~ IS"              # a regression of the model, outcome ~ predictor
      sign: "-"                    # "+", "-" or "?" (quoted: a bare - is YAML syntax)
      label: Information sharing reduces conflict   # optional
      proposition: P1              # optional: groups entries (default: the id)
    - id: H2
      indirect: "IS -> IC -> EA -> OP"   # a specific indirect effect along the chain
      sign: "+"
    - id: H3
      defined: ab                  # a := parameter of the model
      sign: "?"

``path`` also reads ``"IS -> IC"``. Each entry becomes a
:class:`~smsem.model.spec.PropositionPath`, so the verdict table, the bootstrap CIs and
the power study treat them exactly as the essay's propositions from the codebook. Every
problem is a one-line :class:`~smsem.exceptions.SpecError` naming the file and the entry.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from ..exceptions import SpecError
from .spec import PropositionPath, SEMModel, read_yaml

__all__ = ["load_hypotheses", "parse_hypotheses", "with_hypotheses", "default_hypotheses", "SIGNS"]

#: Accepted spellings of the expected sign.
SIGNS: Mapping[Any, int] = {"+": 1, "-": -1, "?": 0, 1: 1, -1: -1, 0: 0, "+1": 1, "-1": -1,
                            "positive": 1, "negative": -1, "none": 0}
_KEYS = ("id", "path", "indirect", "defined", "sign", "label", "proposition")
_KINDS = ("path", "indirect", "defined")


def _sign(value: Any, where: str) -> int:
    key = value.strip().lower() if isinstance(value, str) else value
    if isinstance(key, bool) or key not in SIGNS:
        raise SpecError(f'{where}: sign {value!r} is not one of "+", "-", "?" (quote them in YAML)')
    return SIGNS[key]


def _regressions(model: SEMModel) -> set[tuple[str, str]]:
    return {(p.lhs, p.rhs) for p in model.parsed.regressions}


def _path(text: str, model: SEMModel, where: str) -> tuple[str, str]:
    if "->" in text:
        parts = [t.strip() for t in text.split("->")]
        if len(parts) != 2:
            raise SpecError(f"{where}: path {text!r} must be one arrow 'X -> Y' (use indirect: for a chain)")
        src, dst = parts
    else:
        parts = [t.strip() for t in re.split(r"(?<![=~])~(?![~=])", text)]
        if len(parts) != 2:
            raise SpecError(f"{where}: path {text!r} must read 'outcome ~ predictor' or 'predictor -> outcome'")
        dst, src = parts
    if not src or not dst:
        raise SpecError(f"{where}: path {text!r} must read 'outcome ~ predictor' or 'predictor -> outcome'")
    if (dst, src) not in _regressions(model):
        regs = ", ".join(f"{a} ~ {b}" for a, b in sorted(_regressions(model))) or "none"
        raise SpecError(f"{where}: path {dst} ~ {src} is not in the model (its regressions: {regs})")
    return src, dst


def _chain(text: str, model: SEMModel, where: str) -> tuple[str, ...]:
    chain = tuple(t.strip() for t in text.split("->"))
    if len(chain) < 3 or not all(chain):
        raise SpecError(f"{where}: indirect {text!r} must be a chain of at least three variables, "
                        "e.g. 'X -> M -> Y'")
    regs = _regressions(model)
    for a, b in zip(chain, chain[1:]):
        if (b, a) not in regs:
            raise SpecError(f"{where}: indirect {text!r}: path {b} ~ {a} is not in the model")
    if len(set(chain)) != len(chain):
        raise SpecError(f"{where}: indirect {text!r} visits a variable twice")
    return chain


def parse_hypotheses(data: Any, model: SEMModel, source: str = "hypotheses") -> tuple[PropositionPath, ...]:
    """Validate hypotheses (the parsed YAML of a hypotheses file) against ``model``.

    Raises
    ------
    SpecError
        One line naming ``source``, the entry and the problem (an unknown key, a path not
        in the model, a bad sign, a duplicated id).
    """
    if isinstance(data, Mapping) and set(data) == {"hypotheses"}:
        data = data["hypotheses"]
    if not isinstance(data, Sequence) or isinstance(data, (str, bytes)) or not data:
        raise SpecError(f"{source}: a hypotheses file is a YAML list of entries with id, path (or indirect "
                        "or defined) and sign; see docs/models.md")
    defined = {d.name for d in model.parsed.defined}
    out: list[PropositionPath] = []
    seen: set[str] = set()
    for i, entry in enumerate(data, start=1):
        if not isinstance(entry, Mapping):
            raise SpecError(f"{source}: entry {i} must be a mapping with id, path and sign, got {entry!r}")
        hid = str(entry.get("id", "")).strip()
        where = f"{source}: hypothesis {hid}" if hid else f"{source}: entry {i}"
        if not hid:
            raise SpecError(f"{where}: has no id")
        if hid in seen:
            raise SpecError(f"{where}: the id is used twice")
        seen.add(hid)
        unknown = [str(k) for k in entry if k not in _KEYS]
        if unknown:
            raise SpecError(f"{where}: unknown key {unknown[0]!r} (keys: {', '.join(_KEYS)})")
        kinds = [k for k in _KINDS if k in entry]
        if len(kinds) != 1:
            raise SpecError(f"{where}: give exactly one of path, indirect, defined"
                            + (f" (it has {', '.join(kinds)})" if kinds else ""))
        if "sign" not in entry:
            raise SpecError(f'{where}: has no sign; write sign: "+", "-" or "?"')
        sign = _sign(entry["sign"], where)
        value = entry[kinds[0]]
        if not isinstance(value, str) or not value.strip():
            raise SpecError(f"{where}: {kinds[0]} must be text, got {value!r}")
        label = entry.get("label")
        label = "" if label is None else str(label)
        prop = str(entry.get("proposition") or hid)
        if kinds[0] == "path":
            src, dst = _path(value, model, where)
            out.append(PropositionPath(hid, prop, src, dst, sign, text=label))
        elif kinds[0] == "indirect":
            chain = _chain(value, model, where)
            out.append(PropositionPath(hid, prop, chain[0], chain[-1], sign, via=chain[1:-1], text=label))
        else:
            name = value.strip()
            if name not in defined:
                raise SpecError(f"{where}: {name!r} is not a := parameter of the model (defined: "
                                f"{', '.join(sorted(defined)) or 'none'})")
            out.append(PropositionPath(hid, prop, "", "", sign, defined=name, text=label))
    return tuple(out)


def load_hypotheses(path: str | Path, model: SEMModel) -> tuple[PropositionPath, ...]:
    """Read and validate a hypotheses file (see the module notes)."""
    path = Path(path)
    if not path.is_file():
        raise SpecError(f"{path}: hypotheses file not found; check the --hypotheses path")
    return parse_hypotheses(read_yaml(path), model, str(path))


def with_hypotheses(model: SEMModel, hypotheses: str | Path | Sequence[PropositionPath]) -> SEMModel:
    """The model with its propositions replaced by ``hypotheses`` (a file or entries)."""
    if isinstance(hypotheses, (str, Path)):
        hypotheses = load_hypotheses(hypotheses, model)
    return dataclasses.replace(model, propositions=tuple(hypotheses))


def default_hypotheses(model: SEMModel) -> tuple[PropositionPath, ...]:
    """Every regression and every ``:=`` parameter with no expected sign (sign 0).

    The table a model without codebook propositions and without a hypotheses file gets:
    each row's bootstrap CI says whether it excludes 0.
    """
    out: dict[str, PropositionPath] = {}
    for p in model.parsed.regressions:
        key = f"{p.lhs}~{p.rhs}"
        out.setdefault(key, PropositionPath(key, key, p.rhs, p.lhs, 0))
    for d in model.parsed.defined:
        out.setdefault(d.name, PropositionPath(d.name, d.name, "", "", 0, defined=d.name))
    return tuple(out.values())
