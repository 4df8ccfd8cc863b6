"""A safe parser and evaluator for lavaan's constraint and ``:=`` expressions.

lavaan writes the right-hand side of ``:=`` and both sides of ``==``, ``<`` and ``>`` as R
expressions over parameter labels (``a*b``), plabels (``.p2.``) and numbers, and evaluates
them with R's ``eval``. smsem accepts the subset lavaan users write and nothing else:

========================  ===========================================================
numbers                   ``2``, ``0.3``, ``.5``, ``1e-3``
names                     labels and plabels: ``a``, ``b_1``, ``ind.xy``, ``.p2.``
binary operators          ``+ - * /`` and ``^`` (also R's ``**``) for the power
unary operators           ``-x``, ``+x``
parentheses               ``(a + b) * c``
functions                 ``exp log sqrt abs`` of one argument (``log`` is natural);
                          also ``sin cos tan pnorm qnorm`` (R's standard normal cdf and
                          quantile), the set smsem's parameter table accepts
========================  ===========================================================

Precedence and associativity are R's: ``^`` binds tightest and is right-associative
(``a^b^c == a^(b^c)``; ``-a^2 == -(a^2)``; ``2^-1 == 0.5``), then unary minus, then
``* /``, then ``+ -`` (both left-associative). Anything else (a comparison inside an
expression, an unknown function, ``a b``, ``a[1]``, strings, assignments, ...) raises
:class:`~smsem.exceptions.SpecError` with one line: ``line 7: unknown function 'dnorm'
(allowed: ...) in 'b == dnorm(a)'``. Python's ``eval`` is never used: the text is tokenised and parsed by a
small recursive-descent parser into an immutable tree.

:meth:`Expr.evaluate` works elementwise on NumPy arrays (broadcasting), so a bootstrap can
evaluate thousands of draws at once: ``expr.evaluate({"a": draws[:, 0], "b": draws[:, 1]})``.
:meth:`Expr.gradient` gives the exact (forward-mode, analytic) derivative with respect to
the names asked for, also vectorised. :meth:`Expr.substitute` replaces ``:=`` names by
their definitions, as lavaan does when a constraint refers to a defined parameter.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Union

import numpy as np
from scipy import special

from smsem.exceptions import SpecError

__all__ = ["Expr", "parse_expression", "FUNCTIONS"]

Value = Union[float, np.ndarray]

#: The functions an expression may call (one argument each).
FUNCTIONS = ("exp", "log", "sqrt", "abs", "sin", "cos", "tan", "pnorm", "qnorm")

_SQRT_2PI = np.sqrt(2.0 * np.pi)


def _dnorm(z):
    return np.exp(-0.5 * z * z) / _SQRT_2PI


_FUNC = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs, "sin": np.sin, "cos": np.cos,
    "tan": np.tan, "pnorm": special.ndtr, "qnorm": special.ndtri,
}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>(?:[A-Za-z]|\.(?![0-9]))[A-Za-z0-9._]*)
  | (?P<op>\*\*|[-+*/^(),])
    """,
    re.VERBOSE,
)


class _ParseError(Exception):
    """Internal: a message without the location, completed by parse_expression."""


# --------------------------------------------------------------------------- tree nodes
@dataclass(frozen=True)
class _Num:
    value: float


@dataclass(frozen=True)
class _Name:
    name: str


@dataclass(frozen=True)
class _Unary:
    op: str  # "-" or "+"
    arg: object


@dataclass(frozen=True)
class _Binary:
    op: str  # one of + - * / ^
    left: object
    right: object


@dataclass(frozen=True)
class _Call:
    func: str
    arg: object


_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "^": 4}  # unary minus is 3


# --------------------------------------------------------------------------- parser
class _Parser:
    def __init__(self, text: str):
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        tok = self.tokens[self.pos]
        self.pos += 1
        return tok

    def expect(self, value: str) -> None:
        tok = self.peek()
        if tok is None:
            raise _ParseError(f"expected '{value}' at the end")
        if tok[1] != value:
            raise _ParseError(f"expected '{value}', found '{tok[1]}'")
        self.pos += 1

    def parse(self):
        if not self.tokens:
            raise _ParseError("empty expression")
        node = self.sum()
        tok = self.peek()
        if tok is not None:
            raise _ParseError(f"unexpected '{tok[1]}'")
        return node

    def sum(self):
        node = self.product()
        while (tok := self.peek()) is not None and tok[1] in ("+", "-"):
            self.take()
            node = _Binary(tok[1], node, self.product())
        return node

    def product(self):
        node = self.unary()
        while (tok := self.peek()) is not None and tok[1] in ("*", "/"):
            self.take()
            node = _Binary(tok[1], node, self.unary())
        return node

    def unary(self):
        tok = self.peek()
        if tok is not None and tok[1] in ("-", "+"):
            self.take()
            return _Unary(tok[1], self.unary())
        return self.power()

    def power(self):
        base = self.atom()
        tok = self.peek()
        if tok is not None and tok[1] == "^":
            self.take()
            # R: the exponent may carry a unary sign, and ^ is right-associative
            return _Binary("^", base, self.unary())
        return base

    def atom(self):
        tok = self.peek()
        if tok is None:
            raise _ParseError("incomplete expression")
        kind, value = self.take()
        if kind == "number":
            return _Num(float(value))
        if kind == "name":
            nxt = self.peek()
            if nxt is not None and nxt[1] == "(":
                if value not in FUNCTIONS:
                    raise _ParseError(
                        f"unknown function '{value}' (allowed: {', '.join(FUNCTIONS)})"
                    )
                self.take()
                arg = self.sum()
                if (t := self.peek()) is not None and t[1] == ",":
                    raise _ParseError(f"'{value}' takes one argument")
                self.expect(")")
                return _Call(value, arg)
            if value in FUNCTIONS:
                raise _ParseError(f"'{value}' is a function: write {value}(...)")
            return _Name(value)
        if value == "(":
            node = self.sum()
            self.expect(")")
            return node
        raise _ParseError(f"unexpected '{value}'")


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise _ParseError(f"unexpected character '{text[pos]}'")
        kind = m.lastgroup
        value = m.group()
        if kind != "space":
            if kind == "op" and value == "**":
                value = "^"
            if tokens and tokens[-1][0] in ("number", "name") and kind in ("number", "name"):
                raise _ParseError(f"missing operator between '{tokens[-1][1]}' and '{value}'")
            tokens.append((kind, value))
        pos = m.end()
    return tokens


# --------------------------------------------------------------------------- evaluation
def _lookup(values: Mapping[str, Value], name: str):
    try:
        return values[name]
    except KeyError:
        raise SpecError(f"no value for '{name}' in the expression") from None


def _eval(node, values: Mapping[str, Value]):
    if isinstance(node, _Num):
        return node.value
    if isinstance(node, _Name):
        v = _lookup(values, node.name)
        return np.asarray(v, dtype=float) if not np.isscalar(v) else float(v)
    if isinstance(node, _Unary):
        a = _eval(node.arg, values)
        return -a if node.op == "-" else a
    if isinstance(node, _Binary):
        a = _eval(node.left, values)
        b = _eval(node.right, values)
        if node.op == "+":
            return a + b
        if node.op == "-":
            return a - b
        if node.op == "*":
            return a * b
        if node.op == "/":
            return np.divide(a, b)
        return np.power(a, b)
    if isinstance(node, _Call):
        return _FUNC[node.func](_eval(node.arg, values))
    raise TypeError(node)  # pragma: no cover


def _dual(node, values: Mapping[str, Value], index: Mapping[str, int], k: int):
    """Forward mode: (value, derivative) with derivative shape value.shape + (k,)."""
    if isinstance(node, _Num):
        return np.asarray(node.value), np.zeros(k)
    if isinstance(node, _Name):
        v = np.asarray(_lookup(values, node.name), dtype=float)
        d = np.zeros(v.shape + (k,))
        if node.name in index:
            d[..., index[node.name]] = 1.0
        return v, d
    if isinstance(node, _Unary):
        v, d = _dual(node.arg, values, index, k)
        return (-v, -d) if node.op == "-" else (v, d)
    if isinstance(node, _Call):
        u, du = _dual(node.arg, values, index, k)
        if node.func == "exp":
            v = np.exp(u)
            return v, v[..., None] * du
        if node.func == "log":
            return np.log(u), du / u[..., None]
        if node.func == "sqrt":
            v = np.sqrt(u)
            return v, du / (2.0 * v[..., None])
        if node.func == "abs":
            return np.abs(u), np.sign(u)[..., None] * du
        if node.func == "sin":
            return np.sin(u), np.cos(u)[..., None] * du
        if node.func == "cos":
            return np.cos(u), -np.sin(u)[..., None] * du
        if node.func == "tan":
            return np.tan(u), (1.0 / np.cos(u) ** 2)[..., None] * du
        if node.func == "pnorm":
            return special.ndtr(u), _dnorm(u)[..., None] * du
        v = special.ndtri(u)  # qnorm
        return v, du / _dnorm(v)[..., None]
    u, du = _dual(node.left, values, index, k)
    w, dw = _dual(node.right, values, index, k)
    op = node.op
    if op == "+":
        return u + w, du + dw
    if op == "-":
        return u - w, du - dw
    if op == "*":
        return u * w, w[..., None] * du + u[..., None] * dw
    if op == "/":
        v = u / w
        return v, (du - v[..., None] * dw) / w[..., None]
    # power u^w
    v = np.power(u, w)
    if isinstance(node.right, _Num):
        # constant exponent: no log(u), so negative bases with integer powers are fine
        return v, (w * np.power(u, w - 1.0))[..., None] * du
    dv = (w * np.power(u, w - 1.0))[..., None] * du
    if np.any(dw != 0):
        dv = dv + (v * np.log(u))[..., None] * dw
    return v, dv


def _names(node, out: set[str]) -> set[str]:
    if isinstance(node, _Name):
        out.add(node.name)
    elif isinstance(node, _Unary):
        _names(node.arg, out)
    elif isinstance(node, _Call):
        _names(node.arg, out)
    elif isinstance(node, _Binary):
        _names(node.left, out)
        _names(node.right, out)
    return out


def _fmt_num(x: float) -> str:
    return repr(int(x)) if x.is_integer() and abs(x) < 1e15 else repr(x)


def _text(node, parent_prec: int = 0, right: bool = False) -> str:
    if isinstance(node, _Num):
        s = _fmt_num(node.value)
        return s
    if isinstance(node, _Name):
        return node.name
    if isinstance(node, _Call):
        return f"{node.func}({_text(node.arg)})"
    if isinstance(node, _Unary):
        s = f"{node.op}{_text(node.arg, 3)}"
        return f"({s})" if parent_prec >= 3 else s
    prec = _PREC[node.op]
    if node.op == "^":
        s = f"{_text(node.left, 5)}^{_text(node.right, 3)}"
    else:
        s = f"{_text(node.left, prec)} {node.op} {_text(node.right, prec, right=True)}"
    needs = parent_prec > prec or (parent_prec == prec and right)
    return f"({s})" if needs else s


def _substitute(node, defs: Mapping[str, object], stack: tuple[str, ...]):
    if isinstance(node, _Name):
        if node.name in defs:
            if node.name in stack:
                raise _ParseError(
                    f"the definition of '{node.name}' refers to itself "
                    f"({' -> '.join(stack + (node.name,))})"
                )
            return _substitute(defs[node.name], defs, stack + (node.name,))
        return node
    if isinstance(node, _Unary):
        return _Unary(node.op, _substitute(node.arg, defs, stack))
    if isinstance(node, _Call):
        return _Call(node.func, _substitute(node.arg, defs, stack))
    if isinstance(node, _Binary):
        return _Binary(
            node.op, _substitute(node.left, defs, stack), _substitute(node.right, defs, stack)
        )
    return node


# --------------------------------------------------------------------------- public API
@dataclass(frozen=True)
class Expr:
    """A parsed expression: immutable, hashable, safe to evaluate.

    Attributes
    ----------
    text : str
        The source text as written.
    """

    text: str
    _tree: object

    @property
    def names(self) -> frozenset[str]:
        """The names (labels, plabels, ``:=`` names) the expression refers to."""
        return frozenset(_names(self._tree, set()))

    @property
    def is_constant(self) -> bool:
        return not self.names

    def evaluate(self, values: Mapping[str, Value]) -> Value:
        """The value, elementwise over arrays (NumPy broadcasting).

        Parameters
        ----------
        values : mapping
            A float or an array for every name in :attr:`names`; arrays broadcast, so a
            leading axis of ``B`` draws gives ``B`` values.

        Returns
        -------
        float or ndarray
            Domain errors (``log(-1)``, ``0/0``) give ``nan``/``inf``, never an exception.
        """
        with np.errstate(all="ignore"):
            out = _eval(self._tree, values)
        return float(out) if np.ndim(out) == 0 else out

    def gradient(self, values: Mapping[str, Value], wrt: Sequence[str]) -> np.ndarray:
        """The exact derivative with respect to the names ``wrt`` (analytic, forward mode).

        Returns an array of shape ``value.shape + (len(wrt),)``; names of ``wrt`` the
        expression does not use get a zero column.
        """
        wrt = list(wrt)
        index = {n: i for i, n in enumerate(wrt)}
        with np.errstate(all="ignore"):
            v, d = _dual(self._tree, values, index, len(wrt))
        return np.broadcast_to(d, np.shape(v) + (len(wrt),)).copy()

    def substitute(self, defs: Mapping[str, "Expr"]) -> "Expr":
        """Replace every ``:=`` name by its definition (recursively), as lavaan does.

        Raises
        ------
        SpecError
            When definitions refer to each other in a cycle.
        """
        trees = {k: e._tree for k, e in defs.items()}
        try:
            tree = _substitute(self._tree, trees, ())
        except _ParseError as exc:
            raise SpecError(f"{exc} in '{self.text}'") from None
        return Expr(_text(tree), tree)

    def __str__(self) -> str:
        """Canonical text (minimal parentheses); parses back to the same tree."""
        return _text(self._tree)

    def __repr__(self) -> str:
        return f"Expr({self.text!r})"


def parse_expression(
    text: str, where: int | str | None = None, *, statement: str | None = None
) -> Expr:
    """Parse a lavaan constraint or ``:=`` expression.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"a^2 + 0.3"``.
    where : int or str, optional
        The source line (an int gives ``"line N"``) or any location text, put in front of
        an error message.
    statement : str, optional
        The whole statement quoted in an error message (e.g. ``"b == a^2 + 0.3"``);
        defaults to ``text``.

    Raises
    ------
    SpecError
        One line: ``line 3: unknown function 'pnorm' (allowed: exp, log, sqrt, abs) in
        'b == pnorm(a)'``.

    Examples
    --------
    >>> e = parse_expression("b - (a^2 + 0.3)")
    >>> sorted(e.names)
    ['a', 'b']
    >>> round(e.evaluate({"a": 0.5, "b": 1.0}), 12)
    0.45
    """
    if not isinstance(text, str):
        raise SpecError(f"an expression must be text, not {type(text).__name__}")
    try:
        tree = _Parser(text).parse()
    except _ParseError as exc:
        prefix = "" if where is None else (f"line {where}: " if isinstance(where, int) else f"{where}: ")
        quoted = (statement if statement is not None else text).strip()
        raise SpecError(f"{prefix}{exc} in '{quoted}'") from None
    return Expr(text, tree)
