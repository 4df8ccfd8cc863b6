"""A parser for lavaan model syntax (lavaan's ``lavParseModelString``).

Supported, as in lavaan: ``=~`` (measurement), ``~`` (regression), ``~~`` (variance and
covariance), ``~ 1`` (intercepts and latent means), ``:=`` (defined parameters), ``==``,
``<`` and ``>`` (constraints), ``+`` between terms, modifiers ``2*x`` (fixed value),
``a*x`` (label), ``NA*x`` (free), ``start(0.5)*x`` or ``0.5?x`` (start value),
``equal("f=~x2")*x`` and ``label("a")*x``, per-group vectors ``c(a1, a2)*x``,
``c(1, NA)*x`` and ``start(c(0.5, 0.7))*x``, several modifiers in a chain
(``a*start(1)*x``), several left-hand sides (``y1 + y2 ~ x``), statements split over
lines when a line ends with an operator or ``+``, ``;`` between statements, and
comments after ``#`` or ``!``. Interaction terms ``y ~ x + z + x:z`` (products of two
variables, on the right of ``~``): of two observed variables, lavaan's ``ov.interaction``
(the product is an observed covariate computed from the data); with a latent variable,
a latent interaction (:attr:`ParsedModel.interactions`), fitted by the methods of
:mod:`smsem.estimate.interaction`.

Refused in one line naming the feature and the line (never a silently different model):
``<~`` (composites), ``|`` (thresholds), ``~*~`` (scaling factors), ``%``, blocks (``group:``, ``level:``, ``class:``), and the modifiers
``efa()``, ``lower()``, ``upper()``, ``prior()``, ``rv()``.

Errors are :class:`~smsem.exceptions.SpecError` naming the line and column.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator

from ..exceptions import SpecError

__all__ = ["ParameterSpec", "GroupModifier", "DefinedSpec", "ConstraintSpec", "ParsedModel", "parse_lavaan"]

_OPERATORS = ("=~", "~~", ":=", "~")
_IDENT = r"[A-Za-z_.][A-Za-z0-9_.]*"
_IDENT_RE = re.compile(rf"^{_IDENT}$")
_NAME_RULE = "; names start with a letter, '_' or '.' and contain only letters, digits, '_' and '.'"
_NUMBER_RE = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


@dataclass(frozen=True)
class GroupModifier:
    """The modifiers of one group from ``c(...)`` vectors (``c(a1, a2)*x``, ``c(1, NA)*x``,
    ``start(c(0.5, 0.7))*x``)."""

    label: str | None = None
    fixed: float | None = None
    free: bool = False
    start: float | None = None


@dataclass(frozen=True)
class ParameterSpec:
    """One model parameter as written: ``lhs op rhs`` with its modifiers.

    ``op`` is ``=~``, ``~``, ``~~`` or ``~1`` (an intercept or latent mean; ``rhs`` is
    ``""``). ``fixed`` is a fixed value, ``free`` is True for ``NA*`` (free a parameter
    the defaults would fix), ``start`` a start value, ``label`` a label (also the
    target of ``equal("...")``).
    """

    lhs: str
    op: str
    rhs: str
    label: str | None = None
    fixed: float | None = None
    line: int = 0
    column: int = field(default=0, compare=False)
    free: bool = False
    start: float | None = None
    groups: tuple["GroupModifier", ...] | None = None

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
class ConstraintSpec:
    """A constraint ``lhs == rhs``, ``lhs < rhs`` or ``lhs > rhs`` (expressions as written)."""

    lhs: str
    op: str
    rhs: str
    line: int = 0


@dataclass(frozen=True)
class ParsedModel:
    """The statements of a lavaan model, in the order written."""

    parameters: tuple[ParameterSpec, ...]
    defined: tuple[DefinedSpec, ...] = field(default=())
    constraints: tuple[ConstraintSpec, ...] = field(default=())

    @property
    def has_intercepts(self) -> bool:
        """True when the syntax has a ``~ 1`` term (lavaan then adds a mean structure)."""
        return any(p.op == "~1" for p in self.parameters)

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
        """Observed variables: every variable that is not latent, in order of appearance.

        A product of two observed variables (``x1:x2``) is observed, as in lavaan (its
        ``ov.interaction``); a product involving a latent variable is not (see
        :attr:`interactions`), but its observed factor is.
        """
        return list(self._observed)

    @cached_property
    def _observed(self) -> tuple[str, ...]:
        lat = set(self._latents)
        latent_products = {name for name, _, _ in self.latent_interactions}
        out: list[str] = []
        for p in self.parameters:
            if p.op == "~1":
                names: tuple[str, ...] = (p.lhs,)
            elif p.op == "=~":
                names = (p.rhs,)
            elif p.rhs in latent_products:
                names = (p.lhs, *p.rhs.split(":"))
            else:
                names = (p.lhs, p.rhs)
            for v in names:
                if v not in lat and v not in out:
                    out.append(v)
        return tuple(out)

    @property
    def interactions(self) -> list[tuple[str, str, str]]:
        """Every interaction term ``a:b`` on the right of ``~``, as ``(name, a, b)``, in
        order of appearance."""
        out: list[tuple[str, str, str]] = []
        for p in self.parameters:
            if p.op == "~" and ":" in p.rhs and p.rhs not in [t[0] for t in out]:
                a, b = p.rhs.split(":")
                out.append((p.rhs, a, b))
        return out

    @property
    def latent_interactions(self) -> list[tuple[str, str, str]]:
        """The interaction terms with at least one latent factor (lavaan refuses them;
        smsem fits them with :mod:`smsem.estimate.interaction`)."""
        lat = set(self._latents)
        return [t for t in self.interactions if t[1] in lat or t[2] in lat]

    @property
    def observed_interactions(self) -> list[tuple[str, str, str]]:
        """Products of two observed variables (lavaan's ``ov.interaction``): observed
        covariates whose values are computed from the data."""
        lat = set(self._latents)
        return [t for t in self.interactions if t[1] not in lat and t[2] not in lat]

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
        latent_products = {name for name, _, _ in self.latent_interactions}
        for p in self.parameters:
            if p.op == "~" and p.rhs in latent_products:
                candidates = [v for v in p.rhs.split(":") if v not in lat]
            elif p.op == "~":
                candidates = [p.rhs]
            else:
                candidates = []
            for v in candidates:
                if v not in lat and v not in lhs and v not in indicators and v not in exo:
                    exo.append(v)
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
            elif p.free:
                mod = "NA*"
            if p.label is not None:
                mod += f"{p.label}*" if _IDENT_RE.match(p.label) else f'equal("{p.label}")*'
            if p.start is not None:
                mod += f"start({_fmt_number(p.start)})*"
            if p.op == "~1":
                lines.append(f"{p.lhs} ~ {mod}1")
            else:
                lines.append(f"{p.lhs} {p.op} {mod}{p.rhs}")
        for d in self.defined:
            lines.append(f"{d.name} := {d.expression}")
        for c in self.constraints:
            lines.append(f"{c.lhs} {c.op} {c.rhs}")
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
            if pending and (pending[-1][0].rstrip().endswith(("+", "~", "=~", ":=", "*", "==", "<", ">")) or stripped.startswith("+")):
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


_SCAN_OPERATORS = ("=~", "<~", "~*~", "~~", "~", "<", ">", "|", "%")
_REFUSED_OPERATORS = {
    "<~": "composites / formative indicators ('<~')",
    "~*~": "scaling factors ('~*~')",
    "|": "thresholds ('|', ordinal indicators)",
    "%": "the '%' operator",
}
_BLOCK_RE = re.compile(r"^\s*(group|level|class|block)\s*:\s*[^=]*$", re.IGNORECASE)
_REFUSED_MODIFIERS = {
    "efa": "efa() blocks",
    "lower": "lower() bounds",
    "upper": "upper() bounds",
    "prior": "prior() (Bayesian estimation)",
    "rv": "rv() random slopes",
}
_CALL_RE = re.compile(r"^([A-Za-z_.][A-Za-z0-9_.]*)\s*\((.*)\)$", re.DOTALL)


def _unquoted(text: str) -> str:
    """``text`` with every quoted string blanked out (same length), so that operators
    inside ``equal("f=~x2")`` are not taken for the statement's operator."""
    out, quote = [], None
    for ch in text:
        if quote:
            out.append(" " if ch != quote else ch)
            if ch == quote:
                quote = None
        else:
            if ch in "\"'":
                quote = ch
            out.append(ch)
    return "".join(out)


def _find_operator(stmt: str) -> tuple[str, int] | None:
    """The statement's operator and its offset, as lavaan finds it: ``:=`` and ``==``
    anywhere first (their expressions may hold other symbols), then the first of the
    other operators from the left (the longest at a position wins)."""
    bare = _unquoted(stmt)
    for op in (":=", "=="):
        if op in bare:
            return op, bare.index(op)
    for i in range(len(bare)):
        for op in _SCAN_OPERATORS:
            if bare.startswith(op, i):
                return op, i
    return None


def _split_top(text: str, sep: str, offset: int) -> Iterator[tuple[int, str]]:
    """Split ``text`` at ``sep`` outside parentheses and quotes; yield (offset of the
    stripped piece, stripped piece)."""
    bare = _unquoted(text)
    depth, start = 0, 0
    pieces = []
    for i, ch in enumerate(bare):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == sep and depth == 0:
            pieces.append((start, text[start:i]))
            start = i + 1
    pieces.append((start, text[start:]))
    for pos, piece in pieces:
        lead = len(piece) - len(piece.lstrip())
        yield offset + pos + lead, piece.strip()


def _split_plus(text: str, offset: int) -> Iterator[tuple[int, str]]:
    """``text.split("+")`` outside parentheses, with the offset of each stripped piece."""
    return _split_top(text, "+", offset)


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
        With the line and column of the first problem, or naming a lavaan feature
        smsem does not fit.
    """
    if not isinstance(text, str):
        raise SpecError(f"line 1, column 1: model syntax must be text, got {type(text).__name__}")
    params: list[ParameterSpec] = []
    defined: list[DefinedSpec] = []
    constraints: list[ConstraintSpec] = []
    for stmt in _statements(text):
        line = stmt.positions[0][0]
        if _BLOCK_RE.match(str(stmt)):
            raise SpecError(f"{stmt.where(0)}: blocks ({str(stmt).strip()!r}: multiple groups or levels written in "
                            "the syntax) are not supported by smsem; fit one block at a time")
        found = _find_operator(stmt)
        if found is None:
            raise SpecError(f"{stmt.where(0)}: no operator (=~, ~, ~~, :=, ==, <, >) in {str(stmt)!r}; write "
                            "'lhs =~ rhs', 'lhs ~ rhs', 'lhs ~~ rhs' or 'name := expression'")
        op, pos = found
        if op in _REFUSED_OPERATORS:
            raise SpecError(f"{stmt.where(pos)}: {_REFUSED_OPERATORS[op]} in {str(stmt)!r} is not supported by "
                            "smsem; remove the statement or fit the model in lavaan")
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
        if op in ("==", "<", ">"):
            for side in (lhs_text, rhs_text):
                if any(o in _unquoted(side) for o in ("=~", "~", "<", ">", "==", ":=")):
                    raise SpecError(f"{stmt.where(pos)}: two operators in one constraint {str(stmt)!r}; "
                                    "write one constraint per line")
            constraints.append(ConstraintSpec(lhs_text, op, rhs_text, line))
            continue
        second = _find_operator(rhs_text)
        if second is not None:
            raise SpecError(f"{stmt.where(rhs_start + second[1])}: two operators in one statement "
                            f"{str(stmt)!r}; put each statement on its own line")
        lhs_vars = []
        for off, v in _split_plus(stmt[:pos], 0):
            _check_name(v, stmt.where(off))
            lhs_vars.append(v)
        terms = []
        for off, term in _split_plus(rhs_text, rhs_start):
            if not term:
                raise SpecError(f"{stmt.where(off)}: empty term after '+' in {str(stmt)!r}; remove the extra '+'")
            mods, var = _parse_term(term, stmt.where(off), op)
            terms.append((off, mods, var))
        for lhs in lhs_vars:  # lavaan's order: every term of the first lhs, then the next lhs
            for off, mods, var in terms:
                use_op, rhs = (op, var) if not (op == "~" and var == "1") else ("~1", "")
                params.append(ParameterSpec(lhs, use_op, rhs, mods.label, mods.fixed, line,
                                            stmt.positions[off][1], mods.free, mods.start,
                                            mods.groups(stmt.where(off), rhs)))
    if not params:
        raise SpecError("line 1, column 1: the model has no statements; write at least one 'latent =~ items' line")
    params = _one_spelling_per_product(params)
    _check_duplicates(params)
    return ParsedModel(tuple(params), tuple(defined), tuple(constraints))


def _one_spelling_per_product(params: list[ParameterSpec]) -> list[ParameterSpec]:
    """``a:b`` and ``b:a`` are one product. In one equation: refused (the term twice).
    In different equations: a latent product takes its first spelling (modsem's LMS/QML
    keep one term per unordered pair); a product of two observed variables is refused
    (lavaan makes ``a:b`` and ``b:a`` two identical covariates and its fit fails)."""
    from dataclasses import replace

    latents = {p.lhs for p in params if p.op == "=~"}
    first: dict[frozenset, ParameterSpec] = {}
    in_equation: dict[tuple[str, frozenset], ParameterSpec] = {}
    out = []
    for p in params:
        if p.op == "~" and ":" in p.rhs:
            a, b = p.rhs.split(":")
            seen = first.setdefault(frozenset((a, b)), p)
            twice = in_equation.setdefault((p.lhs, frozenset((a, b))), p)
            if twice is not p:
                raise SpecError(f"line {p.line}, column {p.column}: {p.rhs} is the product {twice.rhs} of line "
                                f"{twice.line} again in the equation of {p.lhs}; a product enters an equation once, "
                                "remove one")
            if seen.rhs != p.rhs:
                if a not in latents and b not in latents:
                    raise SpecError(f"line {p.line}, column {p.column}: {p.rhs} is the product {seen.rhs} of line "
                                    f"{seen.line} in the other order (lavaan would make two identical covariates); "
                                    f"write {seen.rhs}")
                p = replace(p, rhs=seen.rhs)
        out.append(p)
    return out


def _interaction_term(v: str, where: str) -> str:
    """``a:b`` on the right of ``~``: the product of two variables, returned as ``"a:b"``."""
    parts = [part.strip() for part in v.split(":")]
    for part in parts:
        _check_name(part, where)
    if len(parts) != 2:
        raise SpecError(f"{where}: {len(parts)}-way interaction terms ({v!r}) are not supported by smsem; "
                        "write products of two variables (a:b)")
    if parts[0] == parts[1]:
        raise SpecError(f"{where}: quadratic terms ({v!r}) are not supported by smsem; write products of two "
                        "different variables (a:b)")
    return ":".join(parts)


def _check_name(v: str, where: str) -> None:
    if _IDENT_RE.match(v):
        return
    if ":" in v and all(_IDENT_RE.match(part.strip()) for part in v.split(":")):
        raise SpecError(f"{where}: an interaction term ({v!r}) is only allowed on the right of '~' "
                        "(a regression: 'y ~ x + z + x:z')")
    what = "an empty name" if not v else f"{v!r}"
    raise SpecError(f"{where}: {what} is not a valid variable name{_NAME_RULE}")


@dataclass
class _Modifiers:
    label: str | None = None
    fixed: float | None = None
    free: bool = False
    start: float | None = None
    vectors: list = field(default_factory=list)  # (kind, values) from c(...)

    def groups(self, where: str, term: str) -> tuple[GroupModifier, ...] | None:
        if not self.vectors:
            return None
        sizes = {len(v) for _, v in self.vectors}
        if len(sizes) > 1:
            raise SpecError(f"{where}: the c(...) vectors in {term!r} have different lengths; give one value "
                            "per group in each")
        k = sizes.pop()
        out = []
        for g in range(k):
            gm = dict(label=self.label, fixed=self.fixed, free=self.free, start=self.start)
            for kind, values in self.vectors:
                v = values[g]
                if kind == "label":
                    gm["label"] = v
                elif kind == "start":
                    gm["start"] = v
                elif v is None:
                    gm["fixed"], gm["free"] = None, True
                else:
                    gm["fixed"], gm["free"] = v, False
            out.append(GroupModifier(**gm))
        return tuple(out)


def _number(text: str, where: str, what: str) -> float:
    if not _NUMBER_RE.match(text.strip()):
        raise SpecError(f"{where}: {what} {text!r} is not a number")
    value = float(text)
    if not math.isfinite(value):
        raise SpecError(f"{where}: {what} {text!r} is not finite; use a finite number")
    return value


def _parse_term(term: str, where: str, op: str = "=~") -> tuple[_Modifiers, str]:
    """Split ``mod*mod*var`` (or ``start?var``) into its modifiers and the variable."""
    pieces = [t for _, t in _split_top(term, "*", 0)]
    var = pieces[-1]
    mods = _Modifiers()
    if "?" in _unquoted(var):  # lavaan's start-value shorthand: 0.5?x
        start_text, _, var = var.partition("?")
        mods.start = _number(start_text, where, "start value")
        var = var.strip()
    if not var:
        raise SpecError(f"{where}: no variable after '*' in term {term!r}; write modifier*variable")
    if var == "1" and op != "~":
        raise SpecError(f"{where}: '1' is only allowed on the right of '~' (an intercept, 'y ~ 1'); "
                        f"found in {term!r}")
    if var != "1" and ":" in var and op == "~":
        var = _interaction_term(var, where)
    elif var != "1":
        _check_name(var, where)
    for mod in pieces[:-1]:
        if not mod:
            raise SpecError(f"{where}: empty modifier in term {term!r}; write modifier*variable")
        call = _CALL_RE.match(mod)
        if mod == "NA":
            mods.free, mods.fixed = True, None
        elif _NUMBER_RE.match(mod):
            mods.fixed, mods.free = _number(mod, where, "fixed value"), False
        elif call is not None:
            fn, arg = call.group(1), call.group(2).strip()
            if fn in _REFUSED_MODIFIERS:
                raise SpecError(f"{where}: {_REFUSED_MODIFIERS[fn]} in {term!r} are not supported by smsem; "
                                "remove the modifier")
            if fn == "c":
                mods.vectors.append(_c_vector(arg, where, term))
            elif fn == "start" and arg.startswith("c("):
                kind, values = _c_vector(arg[2:-1] if arg.endswith(")") else arg, where, term)
                if kind != "fixed" or any(v is None for v in values):
                    raise SpecError(f"{where}: start(c(...)) needs numbers in {term!r}")
                mods.vectors.append(("start", values))
            elif fn == "start":
                mods.start = _number(arg, where, "start value")
            elif fn in ("equal", "label"):
                inner = arg[1:-1] if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'" else None
                if not inner:
                    raise SpecError(f"{where}: {fn}() needs one quoted argument, e.g. {fn}(\"f=~x2\"), in {term!r}")
                mods.label = inner
            else:
                raise SpecError(f"{where}: unknown modifier {fn}() in {term!r}; lavaan's modifiers are a number, "
                                "NA, a label, start(), equal() and label()")
        elif _IDENT_RE.match(mod):
            mods.label = mod
        else:
            raise SpecError(f"{where}: modifier {mod!r} in {term!r} is neither a number nor a label; write 2*x "
                            "(fixed), a*x (label), NA*x (free) or start(0.5)*x")
    return mods, var


def _c_vector(arg: str, where: str, term: str) -> tuple[str, list]:
    """The values of ``c(...)``: numbers and NA (fixed values / free) or labels."""
    items = [t for _, t in _split_top(arg, ",", 0)]
    if not items or any(not t for t in items):
        raise SpecError(f"{where}: empty value in c({arg}) in {term!r}")
    if all(t == "NA" or _NUMBER_RE.match(t) for t in items):
        return "fixed", [None if t == "NA" else _number(t, where, "fixed value") for t in items]
    labels = []
    for t in items:
        t = t[1:-1] if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'" else t
        if not _IDENT_RE.match(t):
            raise SpecError(f"{where}: {t!r} in c({arg}) is neither a number, NA nor a label")
        labels.append(t)
    return "label", labels


def _check_duplicates(params: list[ParameterSpec]) -> None:
    seen: dict[tuple[str, str, str], int] = {}
    for p in params:
        if p.key in seen:
            what = f"{p.lhs} ~ 1" if p.op == "~1" else f"{p.lhs} {p.op} {p.rhs}"
            raise SpecError(
                f"line {p.line}, column {p.column}: parameter '{what}' is already "
                f"specified on line {seen[p.key]}; remove one of the two"
            )
        seen[p.key] = p.line
