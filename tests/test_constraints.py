"""smsem.estimate.constraints: lavaan's ==, <, > and := on toy problems and against lavaan.

The toy problems have closed-form solutions; the vcov checks compare the bordered inverse
with an independently reparametrised unconstrained problem; the HolzingerSwineford1939
cases compare with lavaan 0.6.14 (scripts/lavaan_constraints_reference.R ->
tests/reference/lavaan_constraints/), using a small self-contained CFA ML objective so the
check does not depend on smsem's engine.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smsem.estimate.constraints import (
    ParameterMap,
    augmented_vcov,
    constraint_jacobian,
    constraints_from_table,
    defined_draws,
    defined_values,
    fit_constrained,
)
from smsem.exceptions import SpecError
from smsem.model.expressions import parse_expression as P

REF = Path(__file__).resolve().parent / "reference" / "lavaan_constraints"
DATA = Path(__file__).resolve().parent / "reference" / "lavaan" / "HolzingerSwineford1939.csv"


def quadratic(a: np.ndarray, b: np.ndarray):
    """f = x'Ax/2 - b'x with its gradient and Hessian."""
    return (lambda x: 0.5 * x @ a @ x - b @ x), (lambda x: a @ x - b), (lambda x: a)


PM3 = ParameterMap({"a": 0, "b": 1, "c": 2}, npar=3)


def spd(seed: int, p: int = 3) -> np.ndarray:
    m = np.random.default_rng(seed).normal(size=(p, p))
    return m @ m.T + p * np.eye(p)


# ---------------------------------------------------------------- toy problems
@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_linear_equality_matches_the_lagrange_closed_form(seed):
    a = spd(seed)
    b = np.random.default_rng(seed + 1).normal(size=3)
    f, g, h = quadratic(a, b)
    # a == b  ->  R x = 0 with R = [1, -1, 0]; closed form from the KKT linear system
    r = np.array([[1.0, -1.0, 0.0]])
    kkt = np.block([[a, r.T], [r, np.zeros((1, 1))]])
    x_star = np.linalg.solve(kkt, np.concatenate([b, [0.0]]))[:3]
    res = fit_constrained(f, g, h, np.zeros(3), [P("a - b")], [], PM3)
    assert res.converged, res.message
    np.testing.assert_allclose(res.x, x_star, atol=1e-10)
    assert res.df_correction == 1
    assert res.active == ()


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_linear_equality_vcov_equals_the_collapsed_parameter(seed):
    """a == b: the vcov of (a, b, c) is that of (t, c) with a = b = t, mapped back."""
    a = spd(seed)
    f, g, h = quadratic(a, np.ones(3))
    res = fit_constrained(f, g, h, np.zeros(3), [P("a - b")], [], PM3, nobs=50.0)
    k = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])  # x = K z, z = (t, c)
    v_collapsed = k @ np.linalg.inv(k.T @ a @ k) @ k.T / 50.0
    np.testing.assert_allclose(res.vcov, v_collapsed, rtol=1e-10, atol=1e-14)
    se = np.sqrt(np.diag(res.vcov))
    assert se[0] == pytest.approx(se[1], rel=1e-12)


def test_nonlinear_equality_vcov_equals_the_reparametrised_problem():
    """b == a^2 + 0.3: V equals K (K'IK)^-1 K' with K = dx/dz, z = (a, c), b = a^2 + 0.3."""
    info = spd(3)
    target = np.array([0.9, 0.2, -0.4])
    f = lambda x: 0.5 * (x - target) @ info @ (x - target)  # noqa: E731
    g = lambda x: info @ (x - target)  # noqa: E731
    res = fit_constrained(f, g, lambda x: info, np.zeros(3), [P("b - (a^2 + 0.3)")], [], PM3)
    assert res.converged, res.message
    a_hat = res.x[0]
    assert res.x[1] == pytest.approx(a_hat**2 + 0.3, abs=1e-12)
    # the constrained optimum: d/da f(a, a^2 + .3, c) = 0 and d/dc = 0 (independent check)
    k = np.array([[1.0, 0.0], [2 * a_hat, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(k.T @ g(res.x), 0.0, atol=1e-10)
    v_repar = k @ np.linalg.inv(k.T @ info @ k) @ k.T
    np.testing.assert_allclose(res.vcov, v_repar, rtol=1e-9, atol=1e-13)


def test_point_on_a_circle_with_its_multiplier():
    # min (a-2)^2 + (b-2)^2 s.t. a^2 + b^2 == 2  ->  a = b = 1, lambda = -1 (f - lambda h)
    f = lambda x: (x[0] - 2) ** 2 + (x[1] - 2) ** 2  # noqa: E731
    g = lambda x: np.array([2 * (x[0] - 2), 2 * (x[1] - 2)])  # noqa: E731
    pm = ParameterMap({"a": 0, "b": 1}, npar=2)
    res = fit_constrained(f, g, lambda x: 2 * np.eye(2), np.array([0.5, 0.2]),
                          [P("a^2 + b^2 - 2")], [], pm)
    assert res.converged
    np.testing.assert_allclose(res.x, [1.0, 1.0], atol=1e-12)
    np.testing.assert_allclose(res.multipliers, [-1.0], atol=1e-10)


def test_inequality_inactive_leaves_the_unconstrained_solution():
    a = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.5]])
    b = np.array([1.0, 2.0, -1.0])
    f, g, h = quadratic(a, b)
    free = np.linalg.solve(a, b)
    res = fit_constrained(f, g, h, np.zeros(3), [], [P("5 - b"), P("a + 3")], PM3)
    assert res.converged
    np.testing.assert_allclose(res.x, free, atol=1e-11)
    assert res.active == ()
    np.testing.assert_allclose(res.vcov, np.linalg.inv(a), rtol=1e-12)
    assert res.df_correction == 0


def test_inequality_active_fixes_the_parameter_at_its_bound():
    # b < 1.5 (lavaan: 1.5 - b >= 0) is active: b = 1.5, the others solve the reduced system
    a = np.array([[2.0, 0.5, 0.0], [0.5, 1.0, 0.2], [0.0, 0.2, 1.5]])
    b = np.array([1.0, 2.0, -1.0])
    f, g, h = quadratic(a, b)
    res = fit_constrained(f, g, h, np.zeros(3), [], [P("1.5 - b")], PM3)
    assert res.converged
    rest = np.linalg.solve(a[np.ix_([0, 2], [0, 2])], b[[0, 2]] - a[[0, 2], 1] * 1.5)
    np.testing.assert_allclose(res.x, [rest[0], 1.5, rest[1]], atol=1e-12)
    assert res.active == (0,)
    assert res.multipliers[0] > 0  # the bound holds the solution back
    # vcov: b has variance 0, (a, c) the inverse of their sub-information
    v = np.zeros((3, 3))
    v[np.ix_([0, 2], [0, 2])] = np.linalg.inv(a[np.ix_([0, 2], [0, 2])])
    np.testing.assert_allclose(res.vcov, v, atol=1e-12)
    assert res.df_correction == 0  # lavaan: an active inequality does not change the df


def test_infinite_objective_outside_the_admissible_region():
    # f = +inf for a <= 0 (like a non-positive-definite Sigma); full steps from a = 0.05
    # overshoot into it, the line searches back off
    f = lambda x: np.inf if x[0] <= 0 else x[0] - np.log(x[0]) + (x[1] - x[0]) ** 2  # noqa: E731
    g = lambda x: np.array([1 - 1 / x[0] - 2 * (x[1] - x[0]), 2 * (x[1] - x[0])])  # noqa: E731
    hess = lambda x: np.array([[1 / x[0] ** 2 + 2, -2.0], [-2.0, 2.0]])  # noqa: E731
    pm = ParameterMap({"a": 0, "b": 1}, npar=2)
    res = fit_constrained(f, g, hess, np.array([0.05, 3.0]), [], [P("b - 2")], pm)
    assert res.converged, res.message
    # b > 2 active (the free minimum is a = b = 1); 1 - 1/a - 2(2 - a) = 0  ->  2a^2 - 3a - 1 = 0
    np.testing.assert_allclose(res.x, [(3 + np.sqrt(17)) / 4, 2.0], atol=1e-10)


# ---------------------------------------------------------------- the table
def table() -> pd.DataFrame:
    rows = [
        # lhs, op, rhs, free, ustart, label, plabel, line
        ("f", "=~", "x1", 0, 1.0, "", ".p1.", 1),
        ("f", "=~", "x2", 1, np.nan, "a", ".p2.", 1),
        ("f", "=~", "x3", 2, np.nan, "b", ".p3.", 1),
        ("f", "=~", "x4", 3, np.nan, "a", ".p4.", 1),
        ("x1", "~~", "x1", 4, np.nan, "", ".p5.", 0),
        ("ab", ":=", "a*b", 0, np.nan, "ab", "", 2),
        ("tot", ":=", "ab + .p5.", 0, np.nan, "tot", "", 3),
        ("b", "==", "a^2 + 0.3", 0, np.nan, "", "", 4),
        ("b", "<", "ab", 0, np.nan, "", "", 5),
        (".p5.", ">", "0.01", 0, np.nan, "", "", 6),
        (".p1.", "==", "1", 0, np.nan, "", "", 7),
    ]
    return pd.DataFrame(rows, columns=["lhs", "op", "rhs", "free", "ustart", "label", "plabel", "line"])


def test_table_rows_follow_lavaans_sign_conventions():
    pm = ParameterMap.from_table(table())
    assert pm.index == {"a": 0, ".p2.": 0, "b": 1, ".p3.": 1, ".p4.": 2, ".p5.": 3}
    assert pm.fixed == {".p1.": 1.0}
    eq, ineq, defs = constraints_from_table(table(), pm)
    assert [c.kind for c in eq] == ["eq", "eq"] and [c.kind for c in ineq] == ["ineq", "ineq"]
    vals = {"a": 0.5, "b": 0.8, ".p5.": 0.2, ".p1.": 1.0}
    assert eq[0].expr.evaluate(vals) == pytest.approx(0.8 - (0.25 + 0.3))  # lhs - (rhs)
    assert ineq[0].expr.evaluate(vals) == pytest.approx(0.5 * 0.8 - 0.8)  # '<': rhs - lhs, ab substituted
    assert ineq[0].expr.names == {"a", "b"}
    assert ineq[1].expr.evaluate(vals) == pytest.approx(0.2 - 0.01)  # '>': lhs - rhs
    assert eq[1].expr.evaluate(vals) == 0.0  # a fixed plabel is its ustart
    x = np.array([0.5, 0.8, 0.6, 0.2])
    jac = constraint_jacobian(eq + ineq, pm, x)
    np.testing.assert_allclose(jac, [[-1.0, 1, 0, 0], [0, 0, 0, 0], [0.8 / 1, 0.5 - 1, 0, 0], [0, 0, 0, 1]])
    assert list(defs) == ["ab", "tot"]


def test_unknown_label_is_refused_with_its_line():
    t = table()
    t.loc[len(t)] = ["q", "==", "a", 0, np.nan, "", "", 9]
    with pytest.raises(SpecError, match=r"^line 9: unknown label 'q' in 'q == a'$"):
        constraints_from_table(t)


def test_bad_expression_in_the_table_is_one_line():
    t = table()
    t.loc[len(t)] = ["b", "==", "dnorm(a)", 0, np.nan, "", "", 12]
    with pytest.raises(SpecError, match=r"^line 12: unknown function 'dnorm' .* in 'b == dnorm\(a\)'$"):
        constraints_from_table(t)


def test_defined_values_delta_method_and_draws():
    pm = ParameterMap.from_table(table())
    _, _, defs = constraints_from_table(table(), pm)
    x = np.array([0.5, 0.8, 0.6, 0.2])
    v = spd(7, 4) / 100
    res = defined_values(defs, x, pm, v)
    np.testing.assert_allclose(res.est, [0.4, 0.6])
    jac = np.array([[0.8, 0.5, 0, 0], [0.8, 0.5, 0, 1]])
    np.testing.assert_allclose(res.jacobian, jac)
    np.testing.assert_allclose(res.se, np.sqrt(np.diag(jac @ v @ jac.T)), rtol=1e-14)
    draws = np.random.default_rng(0).normal(size=(1000, 4))
    out = defined_draws(defs, draws, pm)
    np.testing.assert_allclose(out[:, 0], draws[:, 0] * draws[:, 1])
    np.testing.assert_allclose(out[:, 1], draws[:, 0] * draws[:, 1] + draws[:, 3])


def test_augmented_vcov_without_constraints_is_the_inverse():
    a = spd(11, 4)
    np.testing.assert_allclose(augmented_vcov(a, None, nobs=10), np.linalg.inv(a) / 10, rtol=1e-13)


def test_augmented_vcov_ignores_the_scale_of_a_constraint_row():
    a = spd(12, 4)
    j = np.array([[1.0, -1.0, 0.0, 0.0]])
    np.testing.assert_allclose(augmented_vcov(a, 3 * j), augmented_vcov(a, j), rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------- lavaan: HolzingerSwineford1939
class CFA:
    """Three-factor CFA of x1..x9 (lavaan's cfa defaults), the 21 free parameters in lavaan's
    order: loadings x2 x3 x5 x6 x8 x9, residual variances x1..x9, factor variances, the three
    factor covariances. fmin = lavaan's F_ML / 2 form (0.5 (log|Sigma| + tr(S Sigma^-1) -
    log|S| - p)); information = the unit expected information, its Hessian at Sigma = S."""

    def __init__(self, s: np.ndarray):
        self.s = s
        self.p = 9
        self.logdet_s = np.linalg.slogdet(s)[1]
        self.dsig = [self._unit(k) for k in range(21)]

    def matrices(self, x):
        lam = np.zeros((9, 3))
        lam[[0, 3, 6], [0, 1, 2]] = 1.0
        lam[[1, 2, 4, 5, 7, 8], [0, 0, 1, 1, 2, 2]] = x[:6]
        theta = np.diag(x[6:15])
        phi = np.diag(x[15:18])
        phi[0, 1] = phi[1, 0] = x[18]
        phi[0, 2] = phi[2, 0] = x[19]
        phi[1, 2] = phi[2, 1] = x[20]
        return lam, phi, theta

    def sigma(self, x):
        lam, phi, theta = self.matrices(x)
        return lam @ phi @ lam.T + theta

    def _unit(self, k):
        def d(x):
            lam, phi, _ = self.matrices(x)
            e = np.zeros((9, 9))
            if k < 6:
                el = np.zeros((9, 3))
                el[[1, 2, 4, 5, 7, 8][k], [0, 0, 1, 1, 2, 2][k]] = 1.0
                return el @ phi @ lam.T + lam @ phi @ el.T
            if k < 15:
                e[k - 6, k - 6] = 1.0
                return e
            ep = np.zeros((3, 3))
            i, j = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)][k - 15]
            ep[i, j] = ep[j, i] = 1.0
            return lam @ ep @ lam.T
        return d

    def f(self, x):
        sig = self.sigma(x)
        try:
            chol = np.linalg.cholesky(sig)
        except np.linalg.LinAlgError:
            return np.inf  # not positive definite
        logdet = 2 * np.sum(np.log(np.diag(chol)))
        return 0.5 * (logdet + np.trace(np.linalg.solve(sig, self.s)) - self.logdet_s - self.p)

    def g(self, x):
        sig = self.sigma(x)
        si = np.linalg.inv(sig)
        m = si @ (sig - self.s) @ si
        return np.array([0.5 * np.sum(m * d(x)) for d in self.dsig])

    def info(self, x):
        si = np.linalg.inv(self.sigma(x))
        ds = [si @ d(x) for d in self.dsig]
        return np.array([[0.5 * np.sum(a * b.T) for b in ds] for a in ds])

    def start(self):
        return np.concatenate([np.full(6, 0.8), np.diag(self.s) / 2, np.full(3, 0.5), np.zeros(3)])


LAVAAN_NAMES = ["a", "b", "textual=~x5", "textual=~x6", "speed=~x8", "speed=~x9"] + [
    f"x{i}~~x{i}" for i in range(1, 10)
] + ["visual~~visual", "textual~~textual", "speed~~speed", "visual~~textual", "visual~~speed", "textual~~speed"]


@pytest.fixture(scope="module")
def hs():
    x = pd.read_csv(DATA).to_numpy()
    d = x - x.mean(axis=0)
    return CFA(d.T @ d / len(x)), len(x)


def lavaan_case(case):
    partable = pd.read_csv(REF / f"{case}.partable.csv", keep_default_na=False,
                           na_values=[""]).fillna({"label": "", "plabel": ""})
    params = pd.read_csv(REF / f"{case}.params.csv", keep_default_na=False, na_values=[""])
    params["label"] = params["label"].fillna("")
    vcov = pd.read_csv(REF / f"{case}.vcov.csv", index_col=0)
    meta = json.loads((REF / f"{case}.meta.json").read_text())
    return partable, params, vcov, meta


@pytest.mark.parametrize("case", ["hs_nonlinear_eq", "hs_linear_eq", "hs_inequality", "hs_defined_eq"])
def test_holzinger_swineford_against_lavaan(hs, case):
    model, n = hs
    partable, params, vcov_ref, meta = lavaan_case(case)
    pm = ParameterMap.from_table(partable)
    assert pm.npar == 21
    eq, ineq, defs = constraints_from_table(partable, pm)
    res = fit_constrained(model.f, model.g, model.info, model.start(), eq, ineq, pm, nobs=n)
    assert res.converged, res.message

    # estimates: lavaan's free rows in free order. lavaan's nlminb.constr stops with the
    # constraints violated by ~5e-8 and F_ML ~4e-9 above the constrained minimum (checked:
    # smsem's solution is feasible to 1e-12 and its F_ML is not larger at equal feasibility);
    # in the flat speed block that moves estimates by up to 6e-5, hence 1e-4.
    est_ref = partable.sort_values("free").query("free > 0")["est"].to_numpy()
    np.testing.assert_allclose(res.x, est_ref, atol=1e-4)
    # chi2 and df
    chisq = 2 * n * model.f(res.x)
    assert chisq == pytest.approx(meta["chisq"], rel=1e-6)
    df = 45 - 21 + res.df_correction
    assert df == meta["df"]
    # the vcov (lavaan's vcov() order = free order); SEs to 0.1 %
    v_ref = vcov_ref.to_numpy()
    se_ref = np.sqrt(np.clip(np.diag(v_ref), 0, None))
    se = np.sqrt(np.clip(np.diag(res.vcov), 0, None))
    np.testing.assert_allclose(se, se_ref, rtol=1e-3, atol=1e-6)
    np.testing.assert_allclose(res.vcov, v_ref, atol=5e-6)  # at points 6e-5 apart (see above)
    # := parameters
    d = defined_values(defs, res.x, pm, res.vcov)
    rows = params[params.op == ":="].set_index("lhs")
    for name, est, s in zip(d.names, d.est, d.se):
        assert est == pytest.approx(rows.loc[name, "est"], abs=2e-5)
        if np.isfinite(rows.loc[name, "se"]) and rows.loc[name, "se"] > 1e-8:
            assert s == pytest.approx(rows.loc[name, "se"], rel=1e-3)


@pytest.mark.parametrize("case", ["hs_nonlinear_eq", "hs_linear_eq", "hs_inequality", "hs_defined_eq"])
def test_augmented_vcov_is_lavaans_at_lavaans_estimates(hs, case):
    """The formula alone: at lavaan's own estimates, with lavaan's active set, V matches to 1e-9."""
    model, n = hs
    partable, params, vcov_ref, _ = lavaan_case(case)
    pm = ParameterMap.from_table(partable)
    eq, ineq, defs = constraints_from_table(partable, pm)
    x = partable.sort_values("free").query("free > 0")["est"].to_numpy()
    info_ref = pd.read_csv(REF / f"{case}.info.csv", index_col=0).to_numpy()
    np.testing.assert_allclose(model.info(x), info_ref, rtol=1e-9, atol=1e-12)  # the test CFA is lavaan's
    conjac = pd.read_csv(REF / f"{case}.conjac.csv")
    active = [c for c, inactive in zip(eq + ineq, conjac["inactive"]) if not inactive]
    jac = constraint_jacobian(active, pm, x)
    np.testing.assert_allclose(jac, conjac.loc[~conjac["inactive"]].iloc[:, 2:].to_numpy(), atol=1e-9)
    v = augmented_vcov(info_ref, jac, nobs=n)
    v_ref = vcov_ref.to_numpy()
    np.testing.assert_allclose(v, v_ref, rtol=1e-8, atol=1e-13)
    d = defined_values(defs, x, pm, v)
    rows = params[params.op == ":="].set_index("lhs")
    for name, est, s in zip(d.names, d.est, d.se):
        assert est == pytest.approx(rows.loc[name, "est"], rel=1e-12, abs=1e-14)
        if np.isfinite(rows.loc[name, "se"]):
            assert s == pytest.approx(rows.loc[name, "se"], rel=1e-7, abs=1e-7)  # d := a - b: 0 vs 3e-9


@pytest.mark.parametrize("case", ["hs_nonlinear_eq", "hs_linear_eq", "hs_inequality", "hs_defined_eq"])
def test_smsem_table_gives_lavaans_constraint_functions(case):
    """smsem's lavaanify() table yields the same names, constraints and := as lavaan's parTable()."""
    from smsem.model.partable import lavaanify

    pt = lavaanify((REF / f"{case}.lav").read_text(), model_type="cfa")
    ours = ParameterMap.from_table(pt.df)
    partable, *_ = lavaan_case(case)
    theirs = ParameterMap.from_table(partable)
    assert ours == theirs
    eq1, in1, d1 = constraints_from_table(pt.df, ours)
    eq2, in2, d2 = constraints_from_table(partable, theirs)
    x = np.random.default_rng(5).uniform(0.3, 1.2, size=21)
    for a, b in zip(eq1 + in1, eq2 + in2):
        assert a.kind == b.kind
        assert a.expr.evaluate(ours.values(x)) == pytest.approx(b.expr.evaluate(theirs.values(x)), rel=1e-14)
    assert list(d1) == list(d2)


def test_table_with_a_malformed_expression_is_refused_here():
    # a table may carry text that no parser checked (lavaanify now refuses it first);
    # reading its constraints refuses it in one line
    from smsem.model.partable import lavaanify

    df = lavaanify("f =~ x1 + a*x2 + x3\na == 1\n").df
    df.loc[df.op == "==", "rhs"] = "1+"
    with pytest.raises(SpecError, match=r"^line 2: incomplete expression in 'a == 1\+'$"):
        constraints_from_table(df)


def test_inequality_within_lavaans_slack_counts_as_active_for_the_vcov():
    # free minimum b = 2; 'b < 2.000005' does not bind, but c(x) = 5e-6 <= 1e-5: lavaan's
    # nlminb.constr marks it active, so it enters J and b gets variance 0
    a = np.diag([2.0, 1.0, 1.5])
    f, g, h = quadratic(a, np.array([1.0, 2.0, -1.5]))
    res = fit_constrained(f, g, h, np.zeros(3), [], [P("2.000005 - b")], PM3)
    np.testing.assert_allclose(res.x, [0.5, 2.0, -1.0], atol=1e-12)
    assert res.active == (0,)
    assert abs(res.vcov[1, 1]) < 1e-14
    assert res.df_correction == 0
