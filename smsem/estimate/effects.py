"""Direct, indirect and total effects, and user-defined parameters (lavaan's ``:=``).

Every effect is a function of the free-parameter vector ``theta``: the model matrices are
rebuilt with :meth:`ParamMap.matrices_at`, so the delta-method standard error of any
effect is ``sqrt(g' V g)`` with ``g`` its gradient and ``V`` the covariance of ``theta``
(:attr:`FitResults.vcov`). The gradient is taken by central differences (see
:func:`jacobian`), as lavaan does for ``:=`` parameters (``lav_func_jacobian_complex`` or
its simple-difference fallback); the tests check it against the analytic Sobel gradient
and against lavaan's ``parameterEstimates()``/``standardizedSolution()``.

Conventions (lavaan's):

* A *specific indirect effect* of ``x`` on ``y`` is the product of the coefficients along
  one chain ``x -> m1 -> ... -> y`` of two or more paths; the *total indirect effect* is
  ``[(I - B)^-1 - I - B][y, x]``, the sum of every specific indirect effect in a recursive
  model; the *total effect* is ``[(I - B)^-1 - I][y, x]`` (direct + total indirect).
* Standardized effects are std.all: ``effect * sd(x) / sd(y)`` with the model-implied
  standard deviations, the same as the product of the std.all coefficients along a chain.
* A defined parameter's standardized value evaluates its expression on the std.all values
  of the labelled parameters, as ``standardizedSolution()`` does. A label shared by several
  parameters (an equality constraint) takes the std.all value of its first occurrence.
"""

from __future__ import annotations

import ast
import math
import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from .. import _dist as stats

from .._validation import check_real
from ..exceptions import EstimationError, SmsemWarning, SpecError
from ..model.syntax import DefinedSpec, ParameterSpec, ParsedModel
from .backend import Matrices, ParamMap
from .results import FitResults

__all__ = [
    "Effects",
    "EFFECT_COLUMNS",
    "DEFINED_COLUMNS",
    "effects",
    "defined_parameters",
    "defined_evaluator",
    "compile_defined",
    "jacobian",
    "delta_se",
    "label_cells",
    "chains",
]

#: Columns of :attr:`Effects.table` (stable; documented in the README).
EFFECT_COLUMNS = [
    "outcome", "source", "kind", "path", "est", "se", "z", "pvalue", "ci_lower", "ci_upper",
    "std_all", "std_se", "std_ci_lower", "std_ci_upper",
]
#: Columns of :attr:`Effects.defined` (stable; documented in the README).
DEFINED_COLUMNS = [
    "name", "expression", "est", "se", "z", "pvalue", "ci_lower", "ci_upper",
    "std_all", "std_se", "std_ci_lower", "std_ci_upper",
]

# Central-difference step relative to max(|theta_i|, 1): the truncation error is O(h^2) and
# the rounding error O(eps / h); eps**(1/3) ~ 6e-6 balances them (Nocedal & Wright, 2006,
# sec. 8.1), giving about 10 correct digits for these smooth (polynomial / rational) maps.
_REL_STEP = float(np.finfo(float).eps) ** (1.0 / 3.0)


def jacobian(func: Callable[[np.ndarray], np.ndarray], theta: np.ndarray) -> np.ndarray:
    """Central-difference Jacobian of ``func`` (vector -> vector) at ``theta``.

    Step ``h_i = eps**(1/3) * max(|theta_i|, 1)``; see the module notes.
    """
    theta = np.asarray(theta, dtype=float)
    f0 = np.asarray(func(theta), dtype=float)
    jac = np.empty((f0.size, theta.size))
    for i in range(theta.size):
        h = _REL_STEP * max(abs(theta[i]), 1.0)
        up, dn = theta.copy(), theta.copy()
        up[i] += h
        dn[i] -= h
        jac[:, i] = (np.asarray(func(up), dtype=float) - np.asarray(func(dn), dtype=float)) / (2 * h)
    return jac


def delta_se(jac: np.ndarray, vcov: np.ndarray) -> np.ndarray:
    """Delta-method standard errors ``sqrt(diag(J V J'))`` (NaN where not positive)."""
    var = np.einsum("ij,jk,ik->i", jac, vcov, jac)
    with np.errstate(invalid="ignore"):
        return np.where(var >= 0, np.sqrt(np.abs(var)), np.nan)


# --- the structural graph ------------------------------------------------------------

def _graph(parsed: ParsedModel) -> dict[str, list[str]]:
    """``source -> [targets]`` from the ``~`` statements (``y ~ x`` is ``x -> y``)."""
    out: dict[str, list[str]] = {}
    for r in parsed.regressions:
        out.setdefault(r.rhs, [])
        if r.lhs not in out[r.rhs]:
            out[r.rhs].append(r.lhs)
        out.setdefault(r.lhs, [])
    return out


def _check_acyclic(graph: Mapping[str, Sequence[str]]) -> None:
    state: dict[str, int] = {}

    def visit(v: str, stack: list[str]) -> None:
        state[v] = 1
        for w in graph.get(v, ()):
            if state.get(w) == 1:
                loop = " -> ".join(stack[stack.index(w):] + [v, w]) if w in stack else f"{v} -> {w}"
                raise SpecError(f"the structural model has a feedback loop ({loop}); specific indirect "
                                "effects are defined only for recursive models")
            if w not in state:
                visit(w, stack + [v])
        state[v] = 2

    for v in graph:
        if v not in state:
            visit(v, [])


def _chains(graph: Mapping[str, Sequence[str]], source: str, target: str) -> list[tuple[str, ...]]:
    """Every directed path from ``source`` to ``target`` (depth first, in model order)."""
    out: list[tuple[str, ...]] = []

    def walk(path: tuple[str, ...]) -> None:
        for w in graph.get(path[-1], ()):
            if w == target:
                out.append(path + (w,))
            elif w not in path:
                walk(path + (w,))

    walk((source,))
    return out


def _sinks(parsed: ParsedModel, graph: Mapping[str, Sequence[str]]) -> list[str]:
    order = parsed.latents + parsed.observed
    return [v for v in order if v in graph and not graph[v] and any(v in t for t in graph.values())]


# --- user-defined parameters ---------------------------------------------------------

def _div(a, b):
    """``a / b``, NaN where ``b == 0`` (scalars or arrays: bootstrap draws are evaluated at once)."""
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        return a / b if b != 0 else math.nan
    a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b != 0, a / np.where(b != 0, b, 1.0), np.nan)


def _pow(a, b):
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        return a ** b
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        return np.power(np.asarray(a, dtype=float), b)


_BINOPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
           ast.Div: _div, ast.Pow: _pow}
_UNARY = {ast.USub: lambda a: -a, ast.UAdd: lambda a: a}


def _compile_expr(d: DefinedSpec, known: set[str]) -> Callable[[Mapping[str, float]], float]:
    where = f"line {d.line}: defined parameter '{d.name} := {d.expression}'"
    # R's power operator is ^ (Python's is **; ^ would parse as XOR with the wrong precedence).
    try:
        tree = ast.parse(d.expression.replace("^", "**"), mode="eval")
    except SyntaxError:
        raise SpecError(f"{where}: not a valid arithmetic expression") from None

    def build(node: ast.AST) -> Callable[[Mapping[str, float]], float]:
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            op, left, right = _BINOPS[type(node.op)], build(node.left), build(node.right)
            return lambda env: op(left(env), right(env))
        if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            op1, inner = _UNARY[type(node.op)], build(node.operand)
            return lambda env: op1(inner(env))
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) \
                and not isinstance(node.value, bool):
            value = float(node.value)
            return lambda env: value
        if isinstance(node, ast.Name):
            name = node.id
            if name not in known:
                raise SpecError(f"{where}: unknown label {name!r} (label a parameter as "
                                f"'{name}*x' or define {name!r} on an earlier line)")
            return lambda env: env[name]
        bad = ast.unparse(node) if hasattr(ast, "unparse") else type(node).__name__
        raise SpecError(f"{where}: {bad!r} is not allowed; use numbers, labels, + - * / ^ and parentheses")

    return build(tree.body)


def compile_defined(parsed: ParsedModel) -> list[tuple[DefinedSpec, Callable[[Mapping[str, float]], float]]]:
    """Check and compile the ``:=`` lines of a model.

    Each expression may use numbers, parameter labels, names defined on earlier ``:=``
    lines, ``+ - * /``, ``^`` or ``**`` (power), unary minus and parentheses; it is
    evaluated from its syntax tree, never with ``eval``.

    Raises
    ------
    SpecError
        Naming the line: an unknown label, a forbidden construct, a name defined twice or
        a name that is also a label.
    """
    known = set(parsed.labels)
    out = []
    for d in parsed.defined:
        if d.name in known:
            raise SpecError(f"line {d.line}: {d.name!r} is already a label or a defined parameter")
        out.append((d, _compile_expr(d, known)))
        known.add(d.name)
    return out


# --- parameter values at theta ------------------------------------------------------

def _cell(spec: ParameterSpec, mx: Matrices) -> tuple[int, int, int]:
    inner, observed = list(mx.inner), list(mx.observed)
    try:
        if spec.op == "~":
            return 0, inner.index(spec.lhs), inner.index(spec.rhs)
        if spec.op == "=~":
            return 1, observed.index(spec.rhs), inner.index(spec.lhs)
        if spec.lhs in inner and spec.rhs in inner:
            return 2, inner.index(spec.lhs), inner.index(spec.rhs)
        return 3, observed.index(spec.lhs), observed.index(spec.rhs)
    except ValueError:
        raise SpecError(f"line {spec.line}: the labelled parameter {spec.lhs} {spec.op} {spec.rhs} "
                        "is not in the fitted model") from None


def label_cells(res: FitResults) -> dict[str, tuple[int, int, int]]:
    """``label -> (matrix, row, col)`` in ``(beta, lambda, psi, theta)`` of every labelled
    parameter (the first occurrence of a shared label)."""
    return {label: _cell(spec, res.matrices) for label, spec in res.model.parsed.labels.items()}


def chains(parsed: ParsedModel, source: str, target: str) -> list[tuple[str, ...]]:
    """Every directed chain ``source -> ... -> target`` of the structural model (model order)."""
    return _chains(_graph(parsed), source, target)


def _std_scale(mx: Matrices) -> tuple[np.ndarray, np.ndarray]:
    sd_inner = np.sqrt(np.diag(mx.inner_cov))
    sd_obs = np.sqrt(np.diag(mx.implied_cov))
    return sd_inner, sd_obs


def _label_values(cells: Mapping[str, tuple[int, int, int]], mx: Matrices, std: bool) -> dict[str, float]:
    mats = (mx.beta, mx.lambda_, mx.psi, mx.theta)
    if std:
        sd_inner, sd_obs = _std_scale(mx)
    out = {}
    for label, (m, i, j) in cells.items():
        v = float(mats[m][i, j])
        if std:
            # std.all: beta * sd(x)/sd(y); loading * sd(latent)/sd(item); covariances / (sd sd)
            if m == 0:
                v *= sd_inner[j] / sd_inner[i]
            elif m == 1:
                v *= sd_inner[j] / sd_obs[i]
            elif m == 2:
                v /= sd_inner[i] * sd_inner[j]
            else:
                v /= sd_obs[i] * sd_obs[j]
        out[label] = v
    return out


# --- the results object ------------------------------------------------------------

@dataclass(frozen=True)
class Effects:
    """Effects on the outcome(s) of a fitted model, with delta-method inference.

    Build with :func:`effects`.

    Attributes
    ----------
    table : DataFrame
        Columns ``EFFECT_COLUMNS``; for each outcome and each source with a path to it:
        one row per specific indirect effect (``kind == "indirect"``, ``path`` the chain
        ``"COM -> IS -> IC -> EA -> OP"``), then ``"total_indirect"``, ``"direct"`` (when the
        model has the path) and ``"total"``. ``se`` and ``std_se`` are delta-method SEs;
        ``ci_*`` are Wald intervals at ``level``.
    defined : DataFrame
        Columns ``DEFINED_COLUMNS``: the model's ``:=`` parameters in the order written
        (empty when there are none).
    level : float
        Confidence level of the Wald intervals.
    n : int
        Respondents used by the fit.
    """

    table: pd.DataFrame
    defined: pd.DataFrame
    level: float
    n: int

    @cached_property
    def outcomes(self) -> list[str]:
        return list(dict.fromkeys(self.table["outcome"]))

    def get(self, source: str, kind: str = "total", outcome: str | None = None, path: str | None = None) -> pd.Series:
        """One row of :attr:`table` (``path`` selects among specific indirect effects)."""
        t = self.table
        sel = (t.source == source) & (t.kind == kind)
        if outcome is not None:
            sel &= t.outcome == outcome
        if path is not None:
            sel &= t.path == path
        rows = t[sel]
        if len(rows) != 1:
            raise KeyError(f"{len(rows)} effects match source={source!r}, kind={kind!r}, "
                           f"outcome={outcome!r}, path={path!r}")
        return rows.iloc[0]

    def __str__(self) -> str:
        from ..report.formats import render_effects

        return render_effects(self, "text")


def _inference(est: np.ndarray, se: np.ndarray, level: float) -> tuple[np.ndarray, ...]:
    zcrit = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, est / se, np.nan)
    p = 2 * stats.norm.sf(np.abs(z))
    return z, p, est - zcrit * se, est + zcrit * se


def _vcov(res: FitResults) -> np.ndarray:
    if getattr(res, "ordinal_table", None) is not None:
        raise EstimationError("effects() of an ordinal fit (indirect effects with delta-method SEs) is not "
                              "supported yet")
    if res.param_map is None or res.vcov is None:
        raise EstimationError("these results carry no parameter map or covariance matrix; refit with smsem.fit")
    v = np.asarray(res.vcov, dtype=float)
    if not np.all(np.isfinite(v)):
        bad = [" ".join(res.param_map.names[i]) for i in np.flatnonzero(~np.isfinite(np.diag(v)))]
        warnings.warn("the covariance matrix of the estimates is not finite"
                      + (f" (variance of {', '.join(bad)})" if bad else "") + "; effect SEs are NaN",
                      SmsemWarning, stacklevel=3)
    return v


#: Columns added to :attr:`Effects.table` and :attr:`Effects.defined` by a bootstrap.
BOOT_COLUMNS = ["boot_se", "boot_ci_lower", "boot_ci_upper", "std_boot_ci_lower", "std_boot_ci_upper"]


def boot_name(row: Mapping) -> str:
    """The bootstrap statistic (:class:`smsem.BootstrapResults` name) of an effects row."""
    if "name" in row and "expression" in row:
        return f"{row['name']}:={row['expression']}"
    x, y = row["source"], row["outcome"]
    return {"indirect": "indirect:" + str(row["path"]).replace(" -> ", "->"),
            "total_indirect": f"indirect:{x}->{y}", "direct": f"{y}~{x}",
            "total": f"total:{x}->{y}"}[row["kind"]]


def with_bootstrap(df: pd.DataFrame, boot, level: float, ci: str) -> pd.DataFrame:
    """``df`` (effects or defined rows) with the bootstrap SE and CIs (``BOOT_COLUMNS``)."""
    out = df.copy()
    if not len(df):
        for c in BOOT_COLUMNS:
            out[c] = pd.Series(dtype=float)
        return out
    cis = boot.conf_int(level, ci)
    se = boot.std_errors
    names = [boot_name(r) for r in df.to_dict(orient="records")]

    def get(frame, nm, col=None):
        if nm not in frame.index:
            return np.nan
        return float(frame.loc[nm] if col is None else frame.loc[nm, col])

    out["boot_se"] = [get(se, nm) for nm in names]
    out["boot_ci_lower"] = [get(cis, nm, "lower") for nm in names]
    out["boot_ci_upper"] = [get(cis, nm, "upper") for nm in names]
    out["std_boot_ci_lower"] = [get(cis, nm + ":std", "lower") for nm in names]
    out["std_boot_ci_upper"] = [get(cis, nm + ":std", "upper") for nm in names]
    return out


def effect_rows(parsed: Any, outcome: str | Sequence[str] | None = None) -> list[tuple[str, str, str, str, tuple]]:
    """The rows of the effects table: ``(outcome, source, kind, path, evaluator)`` for every
    specific indirect chain, total indirect, direct and total effect of each source on each
    outcome (default: the structural model's sinks), sources in the model's order."""
    graph = _graph(parsed)
    _check_acyclic(graph)
    if outcome is None:
        outcomes = _sinks(parsed, graph)
    else:
        outcomes = [outcome] if isinstance(outcome, str) else list(outcome)
        for o in outcomes:
            if o not in graph:
                raise SpecError(f"outcome {o!r} is not a variable of the structural model "
                                f"(one of {', '.join(graph)})")
    order = [v for v in parsed.latents + parsed.observed if v in graph]
    rows: list[tuple[str, str, str, str, tuple]] = []
    for y in outcomes:
        for x in order:
            if x == y:
                continue
            chains = _chains(graph, x, y)
            if not chains:
                continue
            ind = [c for c in chains if len(c) > 2]
            for c in ind:
                rows.append((y, x, "indirect", " -> ".join(c), ("chain", c)))
            if ind:
                rows.append((y, x, "total_indirect", "", ("total_indirect", y, x)))
            if any(len(c) == 2 for c in chains):
                rows.append((y, x, "direct", f"{x} -> {y}", ("chain", (x, y))))
            rows.append((y, x, "total", "", ("total", y, x)))
    return rows


def effects(res: FitResults, outcome: str | Sequence[str] | None = None, *, level: float = 0.95,
            boot=None, ci: str = "percentile") -> Effects:
    """Direct, specific indirect, total indirect and total effects, and ``:=`` parameters.

    Parameters
    ----------
    res : FitResults
        From :func:`smsem.fit`.
    outcome : str or list of str, optional
        The outcome variable(s). Default: every variable of the structural model that is
        predicted but predicts nothing (``OP`` in the integrative model).
    level : float, default=0.95
        Confidence level of the Wald and bootstrap intervals.
    boot : BootstrapResults, optional
        (For an ordinal fit: an ``OrdinalBootstrap``, see
        :func:`smsem.estimate.categorical.effects.ordinal_effects`.) Adds ``BOOT_COLUMNS`` to both tables: the bootstrap SE and the ``ci`` interval of
        every effect (each specific chain, total indirect, direct and total) and every ``:=``
        parameter, unstandardized and std.all.
    ci : {"percentile", "bc", "bca", "normal"}, default="percentile"

    Returns
    -------
    Effects

    Raises
    ------
    SpecError
        A feedback loop in the structural model, an unknown outcome, or a bad ``:=`` line.
    """
    from .._validation import check_single_group

    if getattr(res, "_ordinal", None) is not None:  # WLSMV & co: the robust vcov, lavaan's free vector
        from .categorical.effects import ordinal_effects

        return ordinal_effects(res, outcome, level=level, boot=boot, ci=ci)
    check_single_group(res, "effects()")
    level = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
    parsed = res.model.parsed
    compiled = compile_defined(parsed)
    rows = effect_rows(parsed, outcome)
    vcov = _vcov(res)
    # Without draws, the tables of one fit are computed once per (outcome, level) and kept on
    # the results (immutable); each call returns copies (the CLI and the proposition table's
    # mediation block ask for the same ones).
    kept = getattr(res, "__dict__", {}).setdefault("_smsem_effects", {}) if boot is None else {}
    key = (outcome if outcome is None or isinstance(outcome, str) else tuple(outcome), level)
    if key in kept:
        table, defined = kept[key]
        return Effects(table.copy(), defined.copy(), level, res.n)
    pmap: ParamMap = res.param_map  # type: ignore[assignment]
    inner = list(res.matrices.inner)
    pos = {v: i for i, v in enumerate(inner)}
    # Each row's cells, found once: a chain's beta cells, or the (y, x) cell of T = B^-1 - I.
    cells = []
    for y, x, _, _, spec in rows:
        chain = spec[1] if spec[0] == "chain" else ()
        cells.append((spec[0], pos[y], pos[x], [pos[v] for v in chain[1:]], [pos[v] for v in chain[:-1]]))
    ys = np.array([c[1] for c in cells], dtype=int)
    xs = np.array([c[2] for c in cells], dtype=int)

    def values(theta: np.ndarray) -> np.ndarray:
        mx = pmap.matrices_at(theta)
        b = mx.beta
        t = np.linalg.inv(np.eye(len(inner)) - b) - np.eye(len(inner))
        sd, _ = _std_scale(mx)
        m = len(rows)
        out = np.empty(2 * m)
        for k, (kind, iy, ix, heads, tails) in enumerate(cells):
            if kind == "chain":
                out[k] = float(np.prod(b[heads, tails]))
            elif kind == "total":
                out[k] = t[iy, ix]
            else:
                out[k] = t[iy, ix] - b[iy, ix]
        out[m:] = out[:m] * sd[xs] / sd[ys]
        return out

    theta = np.asarray(res.start, dtype=float)
    table = _assemble(rows, values, theta, vcov, level)
    defined = _defined_table(res, compiled, theta, vcov, level)
    if boot is not None:
        table = with_bootstrap(table, boot, level, ci)
        defined = with_bootstrap(defined, boot, level, ci)
    kept[key] = (table.copy(), defined.copy())
    return Effects(table, defined, level, res.n)


def _assemble(rows, values, theta, vcov, level) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame(columns=EFFECT_COLUMNS)
    est = values(theta)
    se = delta_se(jacobian(values, theta), vcov)
    m = len(rows)
    z, p, lo, hi = _inference(est[:m], se[:m], level)
    _, _, slo, shi = _inference(est[m:], se[m:], level)
    return pd.DataFrame({
        "outcome": [r[0] for r in rows], "source": [r[1] for r in rows], "kind": [r[2] for r in rows],
        "path": [r[3] for r in rows], "est": est[:m], "se": se[:m], "z": z, "pvalue": p,
        "ci_lower": lo, "ci_upper": hi, "std_all": est[m:], "std_se": se[m:],
        "std_ci_lower": slo, "std_ci_upper": shi,
    }, columns=EFFECT_COLUMNS)


def defined_evaluator(res: FitResults, compiled=None) -> Callable[[np.ndarray], np.ndarray]:
    """``theta -> [values, std.all values]`` (length ``2 m``) of the model's ``m`` ``:=``
    parameters, in the order written (used for the delta method and for bootstrap draws)."""
    if compiled is None:
        compiled = compile_defined(res.model.parsed)
    pmap: ParamMap = res.param_map  # type: ignore[assignment]
    cells = {label: _cell(spec, res.matrices) for label, spec in res.model.parsed.labels.items()}
    m = len(compiled)

    def values(th: np.ndarray) -> np.ndarray:
        mx = pmap.matrices_at(th)
        out = np.empty(2 * m)
        for s, std in ((0, False), (m, True)):
            env = _label_values(cells, mx, std)
            for k, (d, f) in enumerate(compiled):
                try:
                    env[d.name] = float(f(env))
                except (OverflowError, ZeroDivisionError, ValueError):
                    env[d.name] = math.nan
                out[s + k] = env[d.name]
        return out

    return values


def _defined_table(res: FitResults, compiled, theta: np.ndarray, vcov: np.ndarray, level: float) -> pd.DataFrame:
    if not compiled:
        return pd.DataFrame(columns=DEFINED_COLUMNS)
    m = len(compiled)
    values = defined_evaluator(res, compiled)
    est = values(theta)
    se = delta_se(jacobian(values, theta), vcov)
    z, p, lo, hi = _inference(est[:m], se[:m], level)
    _, _, slo, shi = _inference(est[m:], se[m:], level)
    return pd.DataFrame({
        "name": [d.name for d, _ in compiled], "expression": [d.expression for d, _ in compiled],
        "est": est[:m], "se": se[:m], "z": z, "pvalue": p, "ci_lower": lo, "ci_upper": hi,
        "std_all": est[m:], "std_se": se[m:], "std_ci_lower": slo, "std_ci_upper": shi,
    }, columns=DEFINED_COLUMNS)


def defined_parameters(res: FitResults, *, level: float = 0.95) -> pd.DataFrame:
    """The model's ``:=`` parameters with delta-method SEs (``DEFINED_COLUMNS``)."""
    level = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
    if getattr(res, "_ordinal", None) is not None:
        from .categorical.effects import ordinal_effects

        return ordinal_effects(res, [], level=level).defined
    compiled = compile_defined(res.model.parsed)
    return _defined_table(res, compiled, np.asarray(res.start, dtype=float), _vcov(res), level)
