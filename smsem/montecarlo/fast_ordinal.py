"""The fast estimation path of a WLSMV Monte Carlo cell: a chunk of replications at once.

A WLSMV replication (``fit_ordinal(model, data, ordered=True, estimator="WLSMV")``, delta
parameterization, complete data) needs its sample statistics ``s`` (thresholds and
polychorics), their NACOV ``Gamma`` and the model. For a chunk of replications of one cell:

1. the items of every replication are stacked into one array of codes; thresholds,
   polychorics (vectorized over replications and item pairs) and the full NACOV of each
   replication come from :func:`smsem.estimate.categorical.replicates.replicate_stats`
   (equal to ``sample_stats`` of the replication's data);
2. the DWLS weights ``1 / diag(Gamma)`` per replication; the refit is Gauss-Newton on the
   correlations (delta and diagonal weights: the thresholds are the sample ones), the
   bootstrap's :func:`~smsem.estimate.categorical.bootstrap._refit`, from the population
   solution (built once per cell) to a step below 1e-11;
3. robust SEs ``(D'WD)^-1 D'W Gamma W D (D'WD)^-1 / (N - 1)``, the scaled-shifted test and
   the scaled CFI, TLI and RMSEA by the formulas (and the functions) of
   :mod:`smsem.estimate.categorical.fit`; std.all by its ``_row_values``.

The row equals the reference path's (:func:`smsem.montecarlo.replication.reference_replication`)
to the optimizer's tolerance (tests: 1e-7; measured about 1e-11). A replication the fast path cannot settle — a
category no case uses, a pair whose polychoric did not converge or is +-1, a refit that does not
converge (gradient above 1e-6, the reference's criterion), a negative (residual) variance —
is left to the reference path (``None``), so its status, reason and improper flag are the
reference's.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .config import StudyConfig
from .rows import VALUE_FIELDS, Estimates
from .scenarios import cell_population, models

__all__ = ["OrdinalPlan", "ordinal_plan", "ordinal_fast_applicable", "fit_ordinal_chunk"]

#: replications whose scores and NACOV are formed together (memory: about
#: ``chunk * n * m + chunk * m * m`` doubles, m = thresholds + correlations)
STATS_CHUNK = 16
#: the refit's step tolerance (Gauss-Newton converges linearly here; 1e-11 keeps every
#: estimate within 1e-9 of the optimum)
REFIT_TOL = 1e-11
#: the reference's convergence criterion: the largest gradient of the fit function
GRAD_TOL = 1e-6


def _key(lhs: str, op: str, rhs: str) -> tuple[str, str, str]:
    if op == "~~":
        lhs, rhs = sorted((lhs, rhs))
    return lhs, op, rhs


@dataclass(frozen=True)
class OrdinalPlan:
    """What the fast path needs to fit every WLSMV replication of a cell.

    ``eng`` (the ordinal fit's engine), ``table`` (lavaan's parTable of the ordinal model),
    ``ordinal`` (the items, all ordinal), ``columns`` (position of each item among the
    population model's items), ``nlev`` (categories per item), ``start`` (the population
    solution in lavaan's free order; thresholds replaced per replication), ``rows`` (the
    reported rows: every free row in table order, lavaan naming), ``free`` (their positions
    in the free vector), ``reported`` (their positions among the table's rows),
    ``columns_of_table`` (the table's columns as lists: what ``fit._row_values`` reads, without
    pandas' per-row cost).
    """

    eng: Any
    table: pd.DataFrame
    ordinal: frozenset
    columns: np.ndarray
    nlev: np.ndarray
    start: np.ndarray
    rows: tuple[tuple[str, str, str], ...]
    free: np.ndarray
    reported: np.ndarray
    columns_of_table: dict


def ordinal_fast_applicable(config: StudyConfig, cell) -> bool:
    """True when the cell's replications may take the WLSMV fast path."""
    return (config.engine == "fast" and config.inference == "wald" and cell.estimator == "WLSMV"
            and not config.interaction and cell.likert >= 2)


@lru_cache(maxsize=32)
def ordinal_plan(config: StudyConfig, effect_multiplier: float, likert: int) -> OrdinalPlan:
    """The :class:`OrdinalPlan` of the WLSMV cells with ``effect_multiplier`` and ``likert``
    categories (cached per process). Raises (any error) when the model is not one the fast
    path fits; the caller then runs every replication by the reference path."""
    from ..estimate.categorical.bootstrap import _refit
    from ..estimate.categorical.fit import _Engine, _marker_starts, check_supported, ordinal_table
    from ..estimate.matrices import start_values
    from ..simulate import population_model
    from ..estimate.categorical.polychoric import pair_index

    pop_model, ana_model = models(config)
    pt = ana_model.partable
    ov = list(pt.ov)
    check_supported(pt, ov, estimator="WLSMV", missing="listwise")
    if (pt.df["op"] == ":=").any():
        raise ValueError("defined parameters: the reference path reports them")
    k = int(likert)
    nth = {v: k - 1 for v in ov}
    rows, cols = pair_index(len(ov))
    obs_names = [f"{v}|t{t + 1}" for v in ov for t in range(k - 1)] + [f"{ov[j]}~~{ov[i]}" for i, j in zip(rows, cols)]
    table = ordinal_table(pt, nth, ov)
    eng = _Engine(pt, table, obs_names)
    if eng.ov != ov:
        raise ValueError("the engine's items are not in the table's order")
    pop = population_model(pop_model, cell_population(config, effect_multiplier))
    cov = pop.implied_cov.loc[ov, ov].to_numpy(dtype=float)
    sd = np.sqrt(np.diag(cov))
    R = cov / np.outer(sd, sd)
    ts0 = _marker_starts(eng, start_values(eng.ept, eng.pm, np.zeros(len(ov)), R), R)
    theta0 = np.zeros(eng.npar)
    theta0[eng.struct_idx] = ts0[eng.struct_pos]
    s_pop = np.concatenate([np.zeros(eng.nth), R[eng.r, eng.c]])
    start, conv = _refit(eng, theta0, s_pop, np.ones(len(s_pop)), tol=1e-10, maxit=500)
    if not conv or not np.all(np.isfinite(start)):
        raise ValueError("the population fit did not converge")
    pop_items = list(pop_model.items)
    free_rows = table[(table["free"] > 0) & (table["op"] != ":=")]
    keys = tuple(_key(a, o, b) for a, o, b in zip(free_rows["lhs"], free_rows["op"], free_rows["rhs"]))
    return OrdinalPlan(eng=eng, table=table, ordinal=frozenset(ov),
                       columns=np.array([pop_items.index(v) for v in ov], dtype=np.intp),
                       nlev=np.full(len(ov), k, dtype=np.int64), start=start, rows=keys,
                       free=free_rows["free"].to_numpy(dtype=np.intp) - 1,
                       reported=np.flatnonzero((table["free"].to_numpy() > 0) & (table["op"].to_numpy() != ":=")),
                       columns_of_table={c: table[c].tolist() for c in ("lhs", "op", "rhs", "free", "ustart")})


def fit_ordinal_chunk(plan: OrdinalPlan, xs: list[np.ndarray]) -> list[dict[str, Any] | None]:
    """Fit a chunk of replications from their items (complete rows, codes 1..K as floats).

    Returns, per replication, the row fields ``status, reason, improper, improper_reason,
    n_used, chi2, df, pvalue, cfi, tli, rmsea, estimates`` (the scaled test and indices, as
    the reference path stores for WLSMV) of a converged admissible solution, or None where
    the reference path must decide.
    """
    from ..estimate.categorical.replicates import replicate_stats

    out: list[dict[str, Any] | None] = [None] * len(xs)
    if not xs:
        return out
    nmax = max(len(x) for x in xs)
    p = len(plan.columns)
    codes = np.zeros((len(xs), nmax, p), dtype=np.int64)
    usable = np.ones(len(xs), bool)
    for b, x in enumerate(xs):
        c = np.asarray(x, float)
        if c.size and (np.any(c != np.round(c)) or c.min() < 1 or c.max() > plan.nlev.max()):
            usable[b] = False  # not codes 1..K: the reference path codes it
            continue
        codes[b, :len(c)] = c.astype(np.int64)
    for s0 in range(0, len(xs), STATS_CHUNK):
        idx = [b for b in range(s0, min(len(xs), s0 + STATS_CHUNK)) if usable[b]]
        if not idx:
            continue
        with np.errstate(all="ignore"):
            rs = replicate_stats(codes[idx], plan.nlev, chunk=STATS_CHUNK)
        for t, b in enumerate(idx):
            if rs.ok[t]:
                with np.errstate(all="ignore"):
                    try:
                        out[b] = _fit_one(plan, rs.wls_obs[t], rs.nacov[t], float(rs.nobs[t]))
                    except (np.linalg.LinAlgError, ValueError, FloatingPointError, ZeroDivisionError):
                        out[b] = None
    return out


def _fit_one(plan: OrdinalPlan, s: np.ndarray, gamma: np.ndarray, n: float) -> dict[str, Any] | None:
    """One replication's row fields from its statistics (None: the reference path decides)."""
    from ..estimate.categorical.bootstrap import _refit
    from ..estimate.categorical.fit import _Weight, _adjusted, _cfi, _rmsea, _row_values, _tli

    eng = plan.eng
    w = _Weight("DWLS", gamma)
    theta, conv = _refit(eng, plan.start, s, w.diag, tol=REFIT_TOL, maxit=500)
    if not conv or not np.all(np.isfinite(theta)):
        return None
    e = s - eng.sigma(theta)
    d = eng.jacobian(theta)
    wd = w.mul(d)
    if np.max(np.abs(d.T @ w.mul(e))) >= GRAD_TOL:
        return None
    mx = eng.matrices(theta, plan.ordinal)
    if np.any(np.diag(mx.theta) < 0):
        return None
    lat = set(mx.latent_names)
    if any(t < 0 for v, t in zip(mx.inner, np.diag(mx.psi)) if v in lat):
        return None
    fmin = float(e @ w.mul(e))
    chi2 = (n - 1.0) * fmin
    nstat = len(s)
    df = float(nstat - eng.npar)
    if df <= 0:
        return None
    a_inv = np.linalg.inv(d.T @ wd)
    wdg = wd.T @ gamma
    vcov = a_inv @ (wdg @ wd) @ a_inv / (n - 1.0)
    # baseline: thresholds free, correlations 0 (with diagonal weights the thresholds are the sample's)
    db = np.zeros((nstat, eng.nth))
    db[np.arange(eng.nth), np.arange(eng.nth)] = 1.0
    tb = np.linalg.solve(db.T @ w.mul(db), db.T @ w.mul(s))
    eb = s - db @ tb
    chi2_b = (n - 1.0) * float(eb @ w.mul(eb))
    df_b = float(nstat - eng.nth)
    # fit._traces: U Gamma = W Gamma - W D (D'WD)^-1 D'W Gamma (D'W Gamma shared with the SEs)
    ug = w.diag[:, None] * gamma - wd @ (a_inv @ wdg)
    tr1, tr2 = float(np.trace(ug)), float(np.sum(ug * ug.T))
    t_s, df_s, _, _ = _adjusted(chi2, df, tr1, tr2, "scaled.shifted")
    # the baseline's U Gamma is W Gamma with the threshold rows 0 (fit._traces with D = [I; 0],
    # in closed form): tr = sum of w_k Gamma_kk over the correlations, tr2 = ||W_c Gamma_cc||^2
    wc = w.diag[eng.nth:]
    ugc = wc[:, None] * gamma[eng.nth:, eng.nth:]
    tr1b, tr2b = float(np.trace(ugc)), float(np.sum(ugc * ugc.T))
    tb_s, dfb_s, _, _ = _adjusted(chi2_b, df_b, tr1b, tr2b, "scaled.shifted")
    est_v, sa_v, _ = _row_values(eng, theta, plan.columns_of_table, plan.ordinal)
    se_all = np.sqrt(np.clip(np.diag(vcov), 0.0, None))
    # est and std.all of the reported rows: _row_values lists every non-":=" row of the table
    sel = plan.reported
    values = np.full((len(plan.rows), len(VALUE_FIELDS)), np.nan)
    values[:, 0] = est_v[sel]
    values[:, 1] = se_all[plan.free]
    values[:, 2] = sa_v[sel]
    nb = int(round(n))
    return {
        "status": "ok", "reason": "", "improper": 0, "improper_reason": "", "n_used": nb,
        "chi2": float(t_s), "df": float(df_s), "pvalue": float(stats.chi2.sf(t_s, df_s)),
        "cfi": float(_cfi(t_s, df_s, tb_s, dfb_s)), "tli": float(_tli(t_s, df_s, tb_s, dfb_s)),
        "rmsea": float(_rmsea(t_s, df_s, n - 1.0)),
        "estimates": Estimates(plan.rows, values),
    }
