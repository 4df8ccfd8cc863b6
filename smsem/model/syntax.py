"""A parser for the subset of lavaan model syntax that smsem uses.

Supported, as in lavaan: ``=~`` (measurement), ``~`` (regression), ``~~`` (variance and
covariance), ``:=`` (defined parameters), ``+`` between terms, modifiers ``2*x`` (fixed
value), ``a*x`` (label) and ``NA*x`` (free), several left-hand sides (``y1 + y2 ~ x``),
statements split over lines when a line ends with an operator or ``+``, ``;`` between
statements, and comments after ``#`` or ``!``.

Errors are :class:`~smsem.exceptions.SpecError` naming the line and column.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator

from ..exceptions import SpecError

__all__ = ["ParameterSpec", "DefinedSpec", "ParsedModel", "parse_lavaan"]

_OPERATORS = ("=~", "~~", ":=", "~")
_IDENT = r"[A-Za-z_.][A-Za-z0-9_.]*"
_IDENT_RE = re.compile(rf"^{_IDENT}$")
_NAME_RULE = "; names start with a letter, '_' or '.' and contain only letters, digits, '_' and '.'"
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class ParameterSpec:
    """One model parameter as written: ``lhs op rhs`` with an optional modifier."""

    lhs: str
    op: str
    rhs: str
    label: str | None = None
    fixed: float | None = None
    line: int = 0
    column: int = field(default=0, compare=False)

    @property
    def key(self) -> tuple[str, str, str]:
        """``(lhs, op, rhs)`` with covariances in a canonical (sorted) order."""
        if self.op == "~~":
            a, b = sorted((self.lhs, self.rhs))
            return (a, "~~", b)
        return (self.lhs, self.op, self.rhs)


@dataclass(frozen=True)
class DefinedSpec:
    """A defined parameter ``name := expression`` (lavaan's ``:=``)."""

    name: str
    expression: str
    line: int = 0


@dataclass(frozen=True)
class ParsedModel:
    """The statements of a lavaan model, in the order written."""

    parameters: tuple[ParameterSpec, ...]
    defined: tuple[DefinedSpec, ...] = field(default=())

    @property
    def latents(self) -> list[str]:
        """Latent variables: left-hand sides of ``=~``, in order of appearance."""
        return list(self._latents)

    # The model is immutable, so its variable lists are derived once (a Monte Carlo study
    # asks for them thousands of times); the properties hand out fresh lists.
    @cached_property
    def _latents(self) -> tuple[str, ...]:
        out: list[str] = []
        for p in self.parameters:
            if p.op == "=~" and p.lhs not in out:
                out.append(p.lhs)
        return tuple(out)

    def indicators(self, latent: str) -> list[str]:
        """Indicators of ``latent`` in the order written."""
        return [p.rhs for p in self.parameters if p.op == "=~" and p.lhs == latent]

    @property
    def observed(self) -> list[str]:
        """Observed variables: every variable that is not latent, in order of appearance."""
        return list(self._observed)

    @cached_property
    def _observed(self) -> tuple[str, ...]:
        lat = set(self._latents)
        out: list[str] = []
        for p in self.parameters:
            for v in (p.lhs, p.rhs) if p.op != "=~" else (p.rhs,):
                if v not in lat and v not in out:
                    out.append(v)
        return tuple(out)

    @property
    def exogenous_observed(self) -> list[str]:
        """Observed variables that are only predictors: right of ``~``, never left of it,
        never an indicator. In order of appearance."""
        return list(self._exogenous_observed[0])

    @property
    def fixed_x(self) -> list[str]:
        """lavaan's ``ov.x``: the exogenous observed variables named in no ``~~`` formula.

        lavaan's ``sem()`` (``fixed.x = TRUE``) fixes their variances and covariances at
        the sample values; a covariate written into a ``~~`` formula is random instead.
        """
        return list(self._exogenous_observed[1])

    @cached_property
    def _exogenous_observed(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        lat = set(self._latents)
        lhs = {p.lhs for p in self.parameters if p.op == "~"}
        indicators = {p.rhs for p in self.parameters if p.op == "=~"}
        exo: list[str] = []
        for p in self.parameters:
            if p.op == "~" and p.rhs not in lat and p.rhs not in lhs and p.rhs not in indicators \
                    and p.rhs not in exo:
                exo.append(p.rhs)
        in_cov = {v for p in self.parameters if p.op == "~~" for v in (p.lhs, p.rhs)}
        return tuple(exo), tuple(v for v in exo if v not in in_cov)

    @property
    def regressions(self) -> list[ParameterSpec]:
        """The ``~`` statements."""
        return [p for p in self.parameters if p.op == "~"]

    @property
    def labels(self) -> dict[str, ParameterSpec]:
        """Labelled parameters by label (the first occurrence of a shared label)."""
        out: dict[str, ParameterSpec] = {}
        for p in self.parameters:
            if p.label is not None and p.label not in out:
                out[p.label] = p
        return out

    def to_lavaan(self) -> str:
        """Render the model back to lavaan syntax, one parameter per line."""
        lines = []
        for p in self.parameters:
            mod = ""
            if p.fixed is not None:
                mod = f"{_fmt_number(p.fixed)}*"
            elif p.label is not None:
                mod = f"{p.label}*"
            lines.append(f"{p.lhs} {p.op} {mod}{p.rhs}")
        for d in self.defined:
            lines.append(f"{d.name} := {d.expression}")
        return "\n".join(lines) + "\n"


def _fmt_number(x: float) -> str:
    return repr(float(x)) if not float(x).is_integer() else str(int(x))


def _strip_comment(line: str) -> str:
    for ch in ("#", "!"):
        pos = line.find(ch)
        if pos >= 0:
            line = line[:pos]
    return line


class _Statement(str):
    """A statement's text that knows the (line, column) of each of its characters.

    Continued lines are joined with one space; ``where(i)`` maps offset ``i`` of the
    joined text back to the file, so every error can name its line and column.
    """

    positions: tuple[tuple[int, int], ...]

    def __new__(cls, text: str, positions: list[tuple[int, int]]) -> "_Statement":
        obj = super().__new__(cls, text)
        obj.positions = tuple(positions)
        return obj

    def where(self, offset: int = 0) -> str:
        if not self.positions:
            return "line 1, column 1"
        line, col = self.positions[max(0, min(offset, len(self.positions) - 1))]
        return f"line {line}, column {col}"


def _statements(text: str) -> Iterator[_Statement]:
    """Yield the statements of ``text``, joining continued lines."""
    pending: list[tuple[str, list[tuple[int, int]]]] = []
    for lineno, raw in enumerate(text.splitlines(), start=1):
        body = _strip_comment(raw)
        for part_start, part in _split_semicolons(body):
            stripped = part.strip()
            if not stripped:
                continue
            col = part_start + (len(part) - len(part.lstrip())) + 1
            pos = [(lineno, col + i) for i in range(len(stripped))]
            if pending and (pending[-1][0].rstrip().endswith(("+", "~", "=~", ":=", "*")) or stripped.startswith("+")):
                pending.append((stripped, pos))
                continue
            if pending:
                yield _join(pending)
            pending = [(stripped, pos)]
    if pending:
        yield _join(pending)


def _join(pieces: list[tuple[str, list[tuple[int, int]]]]) -> _Statement:
    text_parts, positions = [], []
    for k, (piece, pos) in enumerate(pieces):
        if k:
            text_parts.append(" ")
            line, col = positions[-1]
            positions.append((line, col + 1))
        text_parts.append(piece)
        positions.extend(pos)
    return _Statement("".join(text_parts), positions)


def _split_semicolons(body: str) -> Iterator[tuple[int, str]]:
    pos = 0
    for piece in body.split(";"):
        yield pos, piece
        pos += len(piece) + 1


def _find_operator(stmt: str) -> tuple[str, int] | None:
    # ":=" and "=~" and "~~" before "~": scan left to right for the first operator.
    for i in range(len(stmt)):
        for op in _OPERATORS:
            if stmt.startswith(op, i):
                return op, i
    return None


def _split_plus(text: str, offset: int) -> Iterator[tuple[int, str]]:
    """``text.split("+")`` with the offset of each stripped piece's start."""
    pos = 0
    for piece in text.split("+"):
        lead = len(piece) - len(piece.lstrip())
        yield offset + pos + lead, piece.strip()
        pos += len(piece) + 1


def parse_lavaan(text: str) -> ParsedModel:
    """Parse lavaan model syntax.

    Parameters
    ----------
    text : str
        The model, as in a ``.lav`` file.

    Returns
    -------
    ParsedModel

    Raises
    ------
    SpecError
        With the line and column of the first problem.
    """
    if not isinstance(text, str):
        raise SpecError(f"line 1, column 1: model syntax must be text, got {type(text).__name__}")
    params: list[ParameterSpec] = []
    defined: list[DefinedSpec] = []
    for stmt in _statements(text):
        line = stmt.positions[0][0]
        found = _find_operator(stmt)
        if found is None:
            raise SpecError(f"{stmt.where(0)}: no operator (=~, ~, ~~, :=) in {str(stmt)!r}; write "
                            "'lhs =~ rhs', 'lhs ~ rhs', 'lhs ~~ rhs' or 'name := expression'")
        op, pos = found
        lhs_text, rhs_text = stmt[:pos].strip(), stmt[pos + len(op):].strip()
        rhs_start = pos + len(op) + (len(stmt[pos + len(op):]) - len(stmt[pos + len(op):].lstrip()))
        if not lhs_text:
            raise SpecError(f"{stmt.where(pos)}: nothing on the left of {op!r} in {str(stmt)!r}; "
                            "complete the statement or join it to the previous line")
        if not rhs_text:
            raise SpecError(f"{stmt.where(pos)}: nothing on the right of {op!r} in {str(stmt)!r}; "
                            "complete the statement")
        if op == ":=":
            if not _IDENT_RE.match(lhs_text):
                raise SpecError(f"{stmt.where(0)}: {lhs_text!r} is not a valid name for a defined parameter{_NAME_RULE}")
            defined.append(DefinedSpec(lhs_text, rhs_text, line))
            continue
        second = _find_operator(rhs_text)
        if second is not None:
            raise SpecError(f"{stmt.where(rhs_start + second[1])}: two operators in one statement "
                            f"{str(stmt)!r}; put each statement on its own line")
        lhs_vars = []
        for off, v in _split_plus(stmt[:pos], 0):
            if not _IDENT_RE.match(v):
                what = "an empty name" if not v else f"{v!r}"
                raise SpecError(f"{stmt.where(off)}: {what} is not a valid variable name{_NAME_RULE}")
            lhs_vars.append(v)
        for off, term in _split_plus(rhs_text, rhs_start):
            if not term:
                raise SpecError(f"{stmt.where(off)}: empty term after '+' in {str(stmt)!r}; remove the extra '+'")
            label, fixed, var = _parse_term(term, stmt.where(off))
            if op == "~" and var == "1":
                raise SpecError(f"{stmt.where(off)}: intercepts ('~ 1') are not supported by smsem's models; remove the '1' term")
            for lhs in lhs_vars:
                params.append(ParameterSpec(lhs, op, var, label, fixed, line, stmt.positions[off][1]))
    if not params:
        raise SpecError("line 1, column 1: the model has no statements; write at least one 'latent =~ items' line")
    _check_duplicates(params)
    return ParsedModel(tuple(params), tuple(defined))


def _parse_term(term: str, where: str) -> tuple[str | None, float | None, str]:
    if "*" not in term:
        if not _IDENT_RE.match(term) and term != "1":
            raise SpecError(f"{where}: {term!r} is not a valid variable name{_NAME_RULE}")
        return None, None, term
    mod, _, var = term.partition("*")
    mod, var = mod.strip(), var.strip()
    if "*" in var:
        raise SpecError(f"{where}: more than one '*' in term {term!r}; write one modifier, e.g. 2*x or a*x")
    if not var:
        raise SpecError(f"{where}: no variable after '*' in term {term!r}; write modifier*variable")
    if not _IDENT_RE.match(var):
        raise SpecError(f"{where}: {var!r} is not a valid variable name{_NAME_RULE}")
    if mod == "NA":
        return None, None, var
    if _NUMBER_RE.match(mod):
        value = float(mod)
        if not math.isfinite(value):
            raise SpecError(f"{where}: fixed value {mod!r} is not finite; use a finite number")
        return None, value, var
    if _IDENT_RE.match(mod):
        return mod, None, var
    raise SpecError(f"{where}: modifier {mod!r} in {term!r} is neither a number nor a label; write 2*x (fixed), a*x (label) or NA*x (free)")


def _check_duplicates(params: list[ParameterSpec]) -> None:
    seen: dict[tuple[str, str, str], int] = {}
    for p in params:
        if p.key in seen:
            raise SpecError(
                f"line {p.line}, column {p.column}: parameter '{p.lhs} {p.op} {p.rhs}' is already "
                f"specified on line {seen[p.key]}; remove one of the two"
            )
        seen[p.key] = p.line
