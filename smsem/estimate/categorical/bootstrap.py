"""The bootstrap of an ordinal fit, batched: resampling by counts, every draw's thresholds,
polychorics and DWLS weights at once (:mod:`.batched`), then each draw's refit.

A draw is a vector of counts (how often each case was drawn). Its sample statistics are
those of the data with every case repeated ``counts[i]`` times, which is what lavaan's
``se = "bootstrap"`` refits (``lav_bootstrap_internal``: the resampled data go through
``lav_samplestats_from_data`` again, so thresholds, polychorics and the DWLS weights are
recomputed per draw). The refit is Gauss-Newton from the full-sample estimate with the
analytic Jacobian, to a step below 1e-9 (it converges linearly, at a rate near 0.25, so within
about 1e-9 of the optimum): a draw equals ``fit(data.iloc[repeat], ordered=...)`` (tests: 1e-6). A draw in which an item loses a category is dropped (lavaan drops it too), and
so is a draw whose refit does not converge; both are counted.

Supported: the fits of :mod:`.fit` with DWLS or ULS weights (WLSMV, DWLS, ULSMV, ULS), both
parameterizations, complete data (listwise). Refused: WLS (a full weight matrix per draw) and
``missing="pairwise"`` (not checked against lavaan yet). ``:=`` rows and effects are functions of
the draws' free vectors: :func:`.effects.ordinal_effects` (``smsem.effects(res, boot=bs)``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...exceptions import OptionError
from .batched import BatchedPolychoric, draw_counts, dwls_diagonal
from .thresholds import prepare

__all__ = ["OrdinalBootstrap", "bootstrap_ordinal", "jackknife_ordinal", "ordinal_conf_int", "ORDINAL_CI"]

#: CI methods of the ordinal bootstrap (as smsem.bootstrap's for ML).
ORDINAL_CI = ("percentile", "bc", "bca", "normal")


@dataclass(frozen=True)
class OrdinalBootstrap:
    """``estimates`` (B, npar) in lavaan's free order (NaN rows: dropped draws), ``ok`` (B,),
    ``counts`` (B, n), ``names`` (lhs op rhs of each free parameter)."""

    estimates: np.ndarray
    ok: np.ndarray
    counts: np.ndarray
    names: list

    @property
    def n_ok(self) -> int:
        return int(self.ok.sum())

    def percentile_ci(self, level: float = 0.95) -> pd.DataFrame:
        """Percentile CIs of every free parameter (columns ``lhs op rhs se ci_lower ci_upper``)."""
        e = self.estimates[self.ok]
        a = (1.0 - level) / 2.0
        lo, hi = np.quantile(e, [a, 1.0 - a], axis=0)
        return pd.DataFrame({"lhs": [n[0] for n in self.names], "op": [n[1] for n in self.names],
                             "rhs": [n[2] for n in self.names], "se": e.std(axis=0, ddof=1),
                             "ci_lower": lo, "ci_upper": hi})


def _refit(eng, theta0, s, wdiag, tol=1e-9, maxit=100):
    theta = theta0.copy()
    if not eng.theta_param:
        # delta with diagonal weights: the thresholds are the sample ones (their rows of D are
        # the identity and touch no other parameter); iterate on the others over the correlations
        theta[eng.th_idx] = s[:eng.nth][eng.th_pos]
        return _refit_struct(eng, theta, s, wdiag, tol, maxit)
    return gauss_newton(eng, theta, s, wdiag, tol, maxit)


def gauss_newton(eng, theta0, s, wdiag, tol=1e-9, maxit=100):
    """Gauss-Newton with step halving from ``theta0`` on the statistics ``s`` with diagonal
    weights ``wdiag`` (the ``np.real`` drops the zero imaginary part of an engine that computes
    its Jacobian by complex steps). Returns ``(theta, converged)``."""
    theta = theta0.copy()
    e = s - np.real(eng.sigma(theta))
    f_old = float(e @ (wdiag * e))
    for _ in range(maxit):
        d = eng.jacobian(theta)
        wd = wdiag[:, None] * d
        step = np.linalg.solve(d.T @ wd, wd.T @ e)
        lam = 1.0
        while True:  # step halving: the fit function must not increase
            t_new = theta + lam * step
            e_new = s - np.real(eng.sigma(t_new))
            f_new = float(e_new @ (wdiag * e_new))
            if f_new <= f_old * (1 + 1e-12) or lam < 1e-3:
                break
            lam /= 2
        theta, e, f_old = t_new, e_new, f_new
        if np.max(np.abs(lam * step)) < tol:
            return theta, True
    return theta, False


def _refit_struct(eng, theta, s, wdiag, tol, maxit):
    si = np.asarray(eng.struct_idx)
    sp_ = np.asarray(eng.struct_pos)
    pm = eng.pm
    r, c = eng.r, eng.c
    sc = s[eng.nth:]
    wc = wdiag[eng.nth:]
    x = np.empty(pm.n_free)
    x[sp_] = theta[si]

    def resid(x):
        return sc - pm.matrices_at(x).implied_cov[r, c]

    e = resid(x)
    f_old = float(e @ (wc * e))
    for _ in range(maxit):
        d = eng.cov_jacobian(pm.matrices_at(x), r, c)
        wd = wc[:, None] * d
        step = np.linalg.solve(d.T @ wd, wd.T @ e)
        lam = 1.0
        while True:
            x_new = x + lam * step
            e_new = resid(x_new)
            f_new = float(e_new @ (wc * e_new))
            if f_new <= f_old * (1 + 1e-12) or lam < 1e-3:
                break
            lam /= 2
        x, e, f_old = x_new, e_new, f_new
        if np.max(np.abs(lam * step)) < tol:
            theta = theta.copy()
            theta[si] = x[sp_]
            return theta, True
    return theta, False


def bootstrap_ordinal(res, n_boot: int = 1000, seed=None, *, counts=None) -> OrdinalBootstrap:
    """Nonparametric bootstrap of an ordinal fit (:func:`.fit.fit_ordinal`), batched.

    ``counts`` (B, n) replaces the random draws (tests, or draws shared with another run).
    """
    info = getattr(res, "_ordinal", None)
    if info is None:
        raise OptionError("bootstrap_ordinal needs a fit with ordered items (fit(..., ordered=...))")
    if info.get("covariates"):  # lavaan's conditional.x: the draws one at a time (.conditional)
        from .conditional import bootstrap_conditional

        return bootstrap_conditional(res, n_boot, seed, counts=counts)
    if info["weights"] == "WLS":
        raise OptionError("the batched bootstrap supports WLSMV, DWLS, ULSMV and ULS, not WLS (a full weight "
                          "matrix per draw)")
    if info["engine"].mixed:
        raise OptionError("the ordinal bootstrap needs every observed variable ordinal (continuous variables: "
                          "not yet); use --boot 0")
    if res.missing != "listwise" or res.data.isna().any().any():
        raise OptionError("the ordinal bootstrap needs complete data (missing='listwise')")
    from ..._threads import single_thread

    eng = info["engine"]
    od = prepare(res.data, ordered=True)
    n = od.n
    C = draw_counts(n, n_boot, seed) if counts is None else np.atleast_2d(np.asarray(counts, float))
    with single_thread():
        bp = BatchedPolychoric(od.codes, names=od.names)
        br = bp(C)
        nth_j = bp.nlev - 1
        th = np.concatenate([br.th[:, j, :k] for j, k in enumerate(nth_j)], axis=1)  # (B, nth)
        cor = br.R[:, eng.r, eng.c]
        S = np.concatenate([th, cor], axis=1)
        if info["weights"] == "DWLS":
            W = 1.0 / dwls_diagonal(bp, C, br)
        else:
            W = np.ones_like(S)
        est = np.full((len(C), eng.npar), np.nan)
        ok = br.ok.copy()
        for b in np.flatnonzero(ok):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # a diverging draw fails quietly
                theta, conv = _refit(eng, res.start, S[b], W[b])
            conv = conv and bool(np.all(np.isfinite(theta)))
            if conv:
                est[b] = theta
            else:
                ok[b] = False
    table = res.ordinal_table
    free = table[table["free"] > 0].sort_values("free")
    names = list(zip(free["lhs"], free["op"], free["rhs"]))
    return OrdinalBootstrap(estimates=est, ok=ok, counts=C, names=names)


_JACKKNIFE: dict = {}  # the last fit's leave-one-out estimates (BCa asks for them up to four times)


def jackknife_ordinal(res, chunk: int = 256) -> np.ndarray:
    """Leave-one-out estimates (n, npar) of an ordinal fit by the batched machinery (counts 1 for
    every case but one); NaN rows where leaving a case out empties a category. Row i equals the
    fit of the data without case i (as a bootstrap draw equals its refit). The result of the last
    fit is kept (deterministic: the parameter CIs, the effects and the propositions of one BCa run
    share it)."""
    import weakref

    key = (id(res), np.asarray(res.start, float).tobytes())
    hit = _JACKKNIFE.get(key)
    if hit is not None and hit[0]() is res:
        return hit[1].copy()
    n = len(res.data)
    out = []
    for a in range(0, n, chunk):
        idx = np.arange(a, min(n, a + chunk))
        C = np.ones((len(idx), n))
        C[np.arange(len(idx)), idx] = 0.0
        out.append(bootstrap_ordinal(res, counts=C).estimates)
    est = np.concatenate(out, axis=0)
    _JACKKNIFE.clear()
    try:
        _JACKKNIFE[key] = (weakref.ref(res), est)
    except TypeError:  # an object without weak references: no cache
        pass
    return est.copy()


def check_bca(n_ok: int, n: int) -> None:
    if n_ok < n:
        raise OptionError(f"BCa intervals need at least as many usable bootstrap draws as respondents "
                          f"({n_ok} < n = {n}); use more draws (--boot) or another CI method")


def ordinal_conf_int(res, bs: OrdinalBootstrap, level: float = 0.95, method: str = "percentile") -> pd.DataFrame:
    """CIs of every free parameter from the draws ``bs`` of ``res``: percentile, bc
    (bias-corrected), bca (with the batched jackknife for the acceleration) or normal, by the
    functions of :mod:`smsem.bootstrap` (as for ML). Columns ``lhs op rhs se ci_lower ci_upper``."""
    from ..._validation import check_option
    from ...bootstrap import bc_ci, bca_ci, normal_ci

    check_option("ci", method, ORDINAL_CI)
    if method == "percentile":
        return bs.percentile_ci(level)
    e = bs.estimates[bs.ok]
    est = np.asarray(res.start, float)
    if method == "normal":
        lo, hi = normal_ci(e, est, level)
    elif method == "bc":
        lo, hi = bc_ci(e, est, level)
    else:
        check_bca(bs.n_ok, len(res.data))
        lo, hi = bca_ci(e, est, jackknife_ordinal(res), level)
    out = bs.percentile_ci(level)
    return out.assign(ci_lower=lo, ci_upper=hi)
