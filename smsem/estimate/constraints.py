"""Constrained estimation as lavaan does it: ``==``, ``<``, ``>`` rows and ``:=`` parameters.

Conventions (lavaan 0.6.14: ``lav_partable_constraints_ceq/ciq/def``, ``nlminb.constr``,
``lav_model_information_augment_invert``, ``lav_model_vcov``, ``lav_model_test``)
----------------------------------------------------------------------------------
* The free-parameter vector ``x`` is lavaan's: entry ``i`` is the row with ``free == i+1``.
  A label or plabel names the first table row that carries it (R's ``match``); a name of a
  fixed row stands for its ``ustart``. :class:`ParameterMap` holds that mapping.
* An equality row ``lhs == rhs`` is the function ``h(x) = lhs - (rhs)``, to be 0.
  An inequality row is a function ``c(x) >= 0``: ``lhs > rhs`` gives ``lhs - (rhs)`` and
  ``lhs < rhs`` gives ``rhs - (lhs)``. A name defined by ``:=`` inside a constraint is
  replaced by its definition (lavaan pastes the ``:=`` code in front of the constraint).
* The solution minimises ``objective(x)`` subject to ``h(x) = 0`` and ``c(x) >= 0``: a first
  pass with SciPy's SLSQP, then a polish by Newton steps on the KKT system of the active set
  (equalities plus the inequalities at their bound), ``W = information(x) - sum_i lambda_i
  Hess c_i(x)``, until the step is below ``tol`` (1e-10). The multipliers ``lambda`` are
  those of the Lagrangian ``f(x) - lambda' c(x)`` (lavaan's sign), >= 0 on inequalities.
* An inequality counts as *active* for the standard errors when ``c(x) <= 1e-5`` at the
  solution (lavaan's ``slack`` in ``nlminb.constr``), or when the polish kept it as active.
* The covariance matrix is lavaan's augmented inverse: with ``J`` the Jacobian of the
  equalities and the active inequalities (rows) and ``I`` the information,
  ``V = ginv([[I + J'J, 0, J'], [0, 2 diag(lambda), 0], [J, 0, 0]])[:p, :p] / nobs``
  (``MASS::ginv`` tolerance ``eps^(3/4)`` relative to the largest singular value). Adding
  ``J'J`` and the decoupled multiplier block leave the result equal to
  ``Z (Z' I Z)^{-1} Z' / nobs`` with ``Z`` a basis of the null space of ``J``. Without
  constraints, ``V = I^{-1} / nobs`` (``solve``).
* Degrees of freedom: lavaan adds the rank of the *equality* Jacobian to
  ``moments - npar``; an active inequality leaves the df unchanged
  (``ConstrainedResult.df_correction``; checked on HolzingerSwineford1939: ``c < 1`` active
  gives df 24 as the unconstrained model, ``b == a^2 + 0.3`` gives 25).
* A ``:=`` parameter gets its value and the delta-method SE ``sqrt(diag(G V G'))`` with ``G``
  its exact gradient (lavaan uses a complex-step Jacobian: the same to machine precision).

The single entry point the engine calls is :func:`fit_constrained`; tables are read with
:func:`constraints_from_table` and ``:=`` parameters evaluated with :func:`defined_values`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from smsem.exceptions import ConvergenceWarning, SpecError
from smsem.model.expressions import Expr, parse_expression

__all__ = [
    "Constraint",
    "ParameterMap",
    "ConstrainedResult",
    "DefinedResult",
    "constraints_from_table",
    "constraint_jacobian",
    "augmented_vcov",
    "fit_constrained",
    "defined_values",
    "defined_draws",
    "INACTIVE_SLACK",
]

#: lavaan's threshold: an inequality with c(x) > INACTIVE_SLACK is inactive (nlminb.constr).
INACTIVE_SLACK = 1e-5
_GINV_TOL = np.finfo(float).eps ** 0.75
_CONSTRAINT_OPS = ("==", "<", ">")


# --------------------------------------------------------------------------- the map x -> names
@dataclass(frozen=True)
class ParameterMap:
    """Which free parameter (0-based index into ``x``) or fixed value each name stands for."""

    index: Mapping[str, int]
    fixed: Mapping[str, float] = field(default_factory=dict)
    npar: int = 0

    @classmethod
    def from_table(cls, df) -> "ParameterMap":
        """Labels and plabels of a lavaan parameter table (``ParTable.df``).

        A label shared by several rows names the first of them (R's ``match``), as in
        lavaan's constraint functions.
        """
        index: dict[str, int] = {}
        fixed: dict[str, float] = {}
        npar = 0
        for row in df.itertuples(index=False):
            if row.op in _CONSTRAINT_OPS or row.op == ":=":
                continue
            free = int(row.free)
            npar = max(npar, free)
            for name in (getattr(row, "label", ""), getattr(row, "plabel", "")):
                if not isinstance(name, str) or not name or name in index or name in fixed:
                    continue
                if free > 0:
                    index[name] = free - 1
                else:
                    fixed[name] = float(row.ustart)
        return cls(index=index, fixed=fixed, npar=npar)

    def __contains__(self, name: str) -> bool:
        return name in self.index or name in self.fixed

    def values(self, x: np.ndarray, names=None) -> dict[str, object]:
        """``{name: value}`` for ``x`` of shape ``(npar,)`` or ``(B, npar)`` (draws)."""
        x = np.asarray(x, dtype=float)
        names = self.index.keys() | self.fixed.keys() if names is None else names
        out: dict[str, object] = {}
        for n in names:
            if n in self.index:
                out[n] = x[..., self.index[n]]
            else:
                out[n] = self.fixed[n]
        return out


# --------------------------------------------------------------------------- reading the table
@dataclass(frozen=True)
class Constraint:
    """One ``==``/``<``/``>`` row as a function of the parameters.

    ``kind == "eq"``: ``expr == 0``; ``kind == "ineq"``: ``expr >= 0``. ``expr`` has every
    ``:=`` name substituted; ``text`` is the row as written.
    """

    kind: str
    expr: Expr
    text: str
    line: int | None = None


def _where(line) -> int | str | None:
    try:
        line = int(line)
    except (TypeError, ValueError):
        return None
    return line if line > 0 else None


def _parse_defined(df) -> dict[str, Expr]:
    defs: dict[str, Expr] = {}
    for row in df.itertuples(index=False):
        if row.op != ":=":
            continue
        where = _where(getattr(row, "line", None))
        defs[row.lhs] = parse_expression(
            row.rhs, where, statement=f"{row.lhs} := {row.rhs}"
        )
    return defs


def constraints_from_table(df, params: ParameterMap | None = None):
    """The constraint rows and ``:=`` definitions of a parameter table.

    Returns
    -------
    eq, ineq : list of Constraint
        In table order.
    defined : dict of str to Expr
        ``:=`` definitions in table order (each may use earlier ones).

    Raises
    ------
    SpecError
        A malformed expression, or a name that is neither a label, a plabel nor a ``:=``
        parameter (``line 9: unknown label 'q' in 'q == 1'``).
    """
    params = ParameterMap.from_table(df) if params is None else params
    defined = _parse_defined(df)
    for name, expr in defined.items():
        _check_names(expr.substitute(defined), params, f"{name} := {expr.text}", None)
    eq: list[Constraint] = []
    ineq: list[Constraint] = []
    for row in df.itertuples(index=False):
        if row.op not in _CONSTRAINT_OPS:
            continue
        line = _where(getattr(row, "line", None))
        text = f"{row.lhs} {row.op} {row.rhs}"
        lhs = parse_expression(str(row.lhs), line, statement=text)
        rhs = parse_expression(str(row.rhs), line, statement=text)
        if row.op == "<":
            body = f"({rhs.text}) - ({lhs.text})"
        else:
            body = f"({lhs.text}) - ({rhs.text})"
        expr = parse_expression(body, line, statement=text).substitute(defined)
        _check_names(expr, params, text, line)
        target = eq if row.op == "==" else ineq
        target.append(Constraint("eq" if row.op == "==" else "ineq", expr, text, line))
    return eq, ineq, defined


def _check_names(expr: Expr, params: ParameterMap, text: str, line) -> None:
    unknown = sorted(n for n in expr.names if n not in params)
    if unknown:
        prefix = f"line {line}: " if line else ""
        which = ", ".join(f"'{n}'" for n in unknown)
        raise SpecError(f"{prefix}unknown label {which} in '{text}'")


# --------------------------------------------------------------------------- function values
def _as_exprs(items) -> list[Expr]:
    return [c.expr if isinstance(c, Constraint) else c for c in items]


def _con_values(exprs: Sequence[Expr], params: ParameterMap, x) -> np.ndarray:
    vals = params.values(x)
    return np.array([float(e.evaluate(vals)) for e in exprs], dtype=float)


def constraint_jacobian(exprs, params: ParameterMap, x) -> np.ndarray:
    """The exact Jacobian (rows: expressions, columns: free parameters) at ``x``."""
    exprs = _as_exprs(exprs)
    x = np.asarray(x, dtype=float)
    jac = np.zeros((len(exprs), x.shape[-1]))
    vals = params.values(x)
    for i, e in enumerate(exprs):
        names = sorted(n for n in e.names if n in params.index)
        if not names:
            continue
        g = e.gradient(vals, names)
        for j, n in enumerate(names):
            jac[i, params.index[n]] += g[j]
    return jac


def _constraint_hessians(exprs, params, x, h=1e-5) -> list[np.ndarray]:
    """Hessians of the constraints by central differences of the exact gradients."""
    out = []
    p = x.shape[0]
    for e in exprs:
        cols = sorted({params.index[n] for n in e.names if n in params.index})
        hess = np.zeros((p, p))
        for j in cols:
            step = h * max(1.0, abs(x[j]))
            xp, xm = x.copy(), x.copy()
            xp[j] += step
            xm[j] -= step
            hess[:, j] = (constraint_jacobian([e], params, xp)[0] - constraint_jacobian([e], params, xm)[0]) / (2 * step)
        out.append(0.5 * (hess + hess.T))
    return out


# --------------------------------------------------------------------------- the vcov
def augmented_vcov(
    information: np.ndarray,
    jac: np.ndarray | None = None,
    *,
    nobs: float = 1.0,
    multipliers: np.ndarray | None = None,
) -> np.ndarray:
    """lavaan's constrained covariance matrix (``lav_model_information_augment_invert``).

    Parameters
    ----------
    information : (p, p) ndarray
        The information matrix (lavaan: the unit, per-observation one, with ``nobs = N``).
    jac : (m, p) ndarray, optional
        Jacobian of the equalities and the *active* inequalities.
    nobs : float, default=1.0
        The result is divided by it (lavaan's ``VarCov <- 1/N * NVarCov``).
    multipliers : (m,) ndarray, optional
        lavaan's ``con.lambda``: only the shape of the bordered matrix depends on them.
    """
    info = np.asarray(information, dtype=float)
    p = info.shape[0]
    if jac is None or np.size(jac) == 0:
        return np.linalg.inv(info) / nobs
    h = np.atleast_2d(np.asarray(jac, dtype=float))
    m = h.shape[0]
    lam = np.zeros(m) if multipliers is None else np.asarray(multipliers, dtype=float)
    big = np.zeros((p + 2 * m, p + 2 * m))
    big[:p, :p] = info + h.T @ h
    big[p:p + m, p:p + m] = 2.0 * np.diag(lam)
    big[:p, p + m:] = h.T
    big[p + m:, :p] = h
    inv = np.linalg.pinv(big, rcond=_GINV_TOL, hermitian=True)
    v = inv[:p, :p] / nobs
    return 0.5 * (v + v.T)


# --------------------------------------------------------------------------- the solver
@dataclass(frozen=True)
class ConstrainedResult:
    """The constrained minimum and its covariance matrix.

    Attributes
    ----------
    x : ndarray
        The solution (free parameters, lavaan's order).
    fun : float
        ``objective(x)``.
    vcov : ndarray or None
        :func:`augmented_vcov` at ``x`` (None when it cannot be computed).
    active : tuple of int
        Indices (into ``ineq``) of the inequalities active at ``x``.
    multipliers : ndarray
        Lagrange multipliers of the equalities then the active inequalities.
    jacobian : ndarray
        Rows: the equalities then the active inequalities (the ``J`` of the vcov).
    df_correction : int
        Rank of the equality Jacobian: lavaan's df is ``moments - npar + df_correction``.
    converged : bool
    message : str
    """

    x: np.ndarray
    fun: float
    vcov: np.ndarray | None
    active: tuple[int, ...]
    multipliers: np.ndarray
    jacobian: np.ndarray
    df_correction: int
    converged: bool
    message: str
    iterations: int = 0


def _safe(objective):
    def f(x):
        try:
            v = float(objective(x))
        except (ValueError, FloatingPointError, np.linalg.LinAlgError):
            return math.inf
        return v if math.isfinite(v) else math.inf
    return f


def _kkt_step(info, grad, jac, cval, hessians, lam):
    p = grad.shape[0]
    m = jac.shape[0]
    w = np.array(info, dtype=float, copy=True)
    for li, hc in zip(lam, hessians):
        w -= li * hc
    k = np.zeros((p + m, p + m))
    k[:p, :p] = w
    k[:p, p:] = jac.T
    k[p:, :p] = jac
    rhs = np.concatenate([-grad, -cval])
    try:
        sol = np.linalg.solve(k, rhs)
    except np.linalg.LinAlgError:
        sol = np.linalg.lstsq(k, rhs, rcond=None)[0]
    return sol[:p], -sol[p:]


def _multipliers(grad, jac):
    """Least-squares multipliers of g = J' lambda."""
    if jac.shape[0] == 0:
        return np.zeros(0)
    return np.linalg.lstsq(jac.T, grad, rcond=None)[0]


def _polish(f, gradient, information, x, eq, ineq, active, params, tol, maxiter):
    """Newton/Fisher steps on the KKT system of eq + ineq[active]; returns x, lam, ok, it."""
    cons = list(eq) + [ineq[i] for i in active]
    lam = _multipliers(np.asarray(gradient(x), float), constraint_jacobian(cons, params, x))
    fx = f(x)
    for it in range(1, maxiter + 1):
        g = np.asarray(gradient(x), dtype=float)
        jac = constraint_jacobian(cons, params, x)
        cval = _con_values(cons, params, x)
        hess = _constraint_hessians(cons, params, x) if cons else []
        dx, lam_new = _kkt_step(np.asarray(information(x), float), g, jac, cval, hess, lam)
        # backtracking on the merit f + mu * |c|_1 (mu above the multipliers)
        mu = 10.0 * (np.max(np.abs(lam_new)) if lam_new.size else 0.0) + 1.0
        merit0 = fx + mu * np.sum(np.abs(cval))
        t = 1.0
        while True:
            xt = x + t * dx
            ft = f(xt)
            merit = ft + mu * np.sum(np.abs(_con_values(cons, params, xt)))
            if np.isfinite(merit) and merit <= merit0 + 1e-12 * max(1.0, abs(merit0)):
                break
            if t < 1e-8:
                break
            t *= 0.5
        if not np.isfinite(ft):
            return x, lam, False, it
        step = np.max(np.abs(t * dx)) if dx.size else 0.0
        x, fx, lam = xt, ft, lam_new
        if step < tol:
            feas = np.max(np.abs(_con_values(cons, params, x))) if cons else 0.0
            return x, lam, feas < 1e-8, it
    return x, lam, False, maxiter


def fit_constrained(
    objective: Callable[[np.ndarray], float],
    gradient: Callable[[np.ndarray], np.ndarray],
    information: Callable[[np.ndarray], np.ndarray],
    x0: np.ndarray,
    eq: Sequence[Expr | Constraint],
    ineq: Sequence[Expr | Constraint],
    params: ParameterMap,
    *,
    nobs: float = 1.0,
    tol: float = 1e-10,
    maxiter: int = 500,
    warn: bool = True,
) -> ConstrainedResult:
    """Minimise ``objective`` subject to ``eq == 0`` and ``ineq >= 0``; lavaan's vcov.

    Parameters
    ----------
    objective, gradient : callable
        ``f(x)`` and its gradient; ``f`` may return ``inf``/``nan`` outside the admissible
        region (the line searches back off).
    information : callable
        ``I(x)``, the (expected) Hessian of ``objective`` on the same scale. The vcov is
        :func:`augmented_vcov` of ``I`` divided by ``nobs`` (lavaan: the unit information of
        ``fmin`` with ``nobs = N``).
    x0 : ndarray
        Start values (need not be feasible).
    eq, ineq : sequence of Expr or Constraint
        ``h(x) == 0`` and ``c(x) >= 0``, over the names of ``params`` (see
        :func:`constraints_from_table`).
    params : ParameterMap
        Names -> indices into ``x`` (or fixed values).
    nobs : float, default=1.0
    tol : float, default=1e-10
        The polish stops when the largest Newton step is below ``tol``.
    """
    eq_e = _as_exprs(eq)
    in_e = _as_exprs(ineq)
    f = _safe(objective)
    x0 = np.asarray(x0, dtype=float)
    n_in = len(in_e)

    cons = []
    if eq_e:
        cons.append({
            "type": "eq",
            "fun": lambda x: _con_values(eq_e, params, x),
            "jac": lambda x: constraint_jacobian(eq_e, params, x),
        })
    if in_e:
        cons.append({
            "type": "ineq",
            "fun": lambda x: _con_values(in_e, params, x),
            "jac": lambda x: constraint_jacobian(in_e, params, x),
        })
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        first = minimize(
            f, x0, jac=lambda x: np.asarray(gradient(x), float), method="SLSQP",
            constraints=cons, options={"maxiter": maxiter, "ftol": 1e-14},
        )
    x = first.x if np.isfinite(f(first.x)) else x0

    # the active set: inequalities at their bound; refined by the multipliers' signs
    active = [i for i in range(n_in) if _con_values([in_e[i]], params, x)[0] <= 1e-6]
    ok = False
    iterations = int(getattr(first, "nit", 0))
    lam = np.zeros(len(eq_e) + len(active))
    for _ in range(2 * n_in + 2):
        xp, lam, ok, it = _polish(f, gradient, information, x, eq_e, in_e, active, params, tol, maxiter)
        iterations += it
        lam_in = lam[len(eq_e):]
        cin = _con_values(in_e, params, xp) if n_in else np.zeros(0)
        drop = [a for a, l in zip(active, lam_in) if l < -1e-8]
        add = [i for i in range(n_in) if i not in active and cin[i] < -1e-10]
        if not drop and not add:
            x = xp
            break
        if add:
            active = sorted(set(active) | {add[int(np.argmin(cin[add]))]})
        else:
            worst = drop[int(np.argmin([lam_in[active.index(a)] for a in drop]))]
            active = [a for a in active if a != worst]
            x = xp if np.all(np.isfinite(xp)) else x
    else:
        ok = False

    # lavaan's rule for the vcov: every inequality with c(x) <= 1e-5 is active
    cin = _con_values(in_e, params, x) if n_in else np.zeros(0)
    vc_active = sorted(set(active) | {i for i in range(n_in) if cin[i] <= INACTIVE_SLACK})
    rows = eq_e + [in_e[i] for i in vc_active]
    jac = constraint_jacobian(rows, params, x) if rows else np.zeros((0, x.size))
    g = np.asarray(gradient(x), dtype=float)
    lam = _multipliers(g, jac)
    rank = int(np.linalg.matrix_rank(jac[: len(eq_e)])) if eq_e else 0
    try:
        vcov = augmented_vcov(np.asarray(information(x), float), jac, nobs=nobs, multipliers=lam)
    except np.linalg.LinAlgError:
        vcov = None

    stationarity = np.max(np.abs(g - jac.T @ lam)) if g.size else 0.0
    feas = max(
        np.max(np.abs(_con_values(eq_e, params, x))) if eq_e else 0.0,
        -np.min(cin) if n_in else 0.0,
    )
    scale = max(1.0, float(np.max(np.abs(g)))) if g.size else 1.0
    converged = bool(ok and feas < 1e-8 and stationarity < 1e-6 * scale)
    message = (
        "converged" if converged else
        f"not converged: SLSQP '{first.message}', stationarity {stationarity:.2e}, "
        f"constraint violation {feas:.2e}"
    )
    if warn and not converged:
        warnings.warn(f"constrained estimation {message}", ConvergenceWarning, stacklevel=2)
    return ConstrainedResult(
        x=x, fun=f(x), vcov=vcov, active=tuple(vc_active), multipliers=lam, jacobian=jac,
        df_correction=rank, converged=converged, message=message, iterations=iterations,
    )


# --------------------------------------------------------------------------- := parameters
@dataclass(frozen=True)
class DefinedResult:
    """Values and delta-method covariance of the ``:=`` parameters (in definition order)."""

    names: tuple[str, ...]
    est: np.ndarray
    se: np.ndarray
    cov: np.ndarray | None
    jacobian: np.ndarray


def _expand(defs: Mapping[str, Expr]) -> dict[str, Expr]:
    return {k: e.substitute(defs) for k, e in defs.items()}


def defined_values(
    defs: Mapping[str, Expr], x: np.ndarray, params: ParameterMap, vcov: np.ndarray | None = None
) -> DefinedResult:
    """Values of the ``:=`` parameters at ``x`` and their delta-method SEs.

    ``cov = G V G'`` with ``G`` the exact Jacobian of the definitions with respect to
    ``x``; a negative variance gives ``se = nan`` (lavaan: ``NA``).
    """
    full = _expand(defs)
    names = tuple(full)
    vals = params.values(x)
    est = np.array([float(full[n].evaluate(vals)) for n in names])
    jac = constraint_jacobian([full[n] for n in names], params, x)
    if vcov is None:
        return DefinedResult(names, est, np.full(len(names), np.nan), None, jac)
    cov = jac @ np.asarray(vcov, float) @ jac.T
    d = np.diag(cov).copy()
    se = np.where(d < 0, np.nan, np.sqrt(np.clip(d, 0, None)))
    return DefinedResult(names, est, se, cov, jac)


def defined_draws(defs: Mapping[str, Expr], draws: np.ndarray, params: ParameterMap) -> np.ndarray:
    """The ``:=`` parameters for every row of ``draws`` (shape ``(B, npar)``) at once.

    Returns an array of shape ``(B, len(defs))``.
    """
    full = _expand(defs)
    draws = np.atleast_2d(np.asarray(draws, dtype=float))
    vals = params.values(draws)
    out = np.empty((draws.shape[0], len(full)))
    for j, e in enumerate(full.values()):
        out[:, j] = np.broadcast_to(e.evaluate(vals), (draws.shape[0],))
    return out
