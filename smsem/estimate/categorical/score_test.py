"""Score tests for releasing the equality constraints of an ordinal multiple-group fit, as
lavaan 0.6.14's ``lavTestScore(fit, cumulative = TRUE)`` computes them for WLSMV/ULSMV/DWLS/ULS.

The parameters are lavaan's unconstrained ("unco") ones: every free row of the group-stacked
table is its own parameter (``free`` numbering) and the ``==`` rows (group.equal, shared labels)
are the constraints ``R theta = 0`` (one +1/-1 row each). At the constrained estimate, with
``e_g = s_g - sigma_g`` and ``Delta_g`` the group's Jacobian in that space:

* score (lavaan's ``lavTech(fit, "gradient.logl")``): ``-sum_g (n_g - 1)/N Delta_g' W_g e_g``
  (the fit function weights each group by ``n_g - 1``, as its chi-square);
* information (``lavTech(fit, "information.expected")``): ``sum_g n_g/N Delta_g' W_g Delta_g``;
* total test ``N s' I^+ s`` (df = number of constraints); the univariate test of constraint
  ``r``: ``N s' J_r s`` with ``J_r`` the parameter block of the Moore-Penrose inverse of the
  information bordered by the other constraints (``MASS::ginv``: singular values below
  ``sqrt(eps)`` times the largest are dropped); cumulative: the constraints released in the
  order of decreasing univariate statistics, df 1, 2, ...

lavaan 0.6.14 computes this ordinary score test also when the standard errors are robust (it
warns "se is not `standard'; ... falling back to ordinary score test"); so does smsem, with no
robust (Satorra 2000) version.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["ordinal_score_tests", "OrdinalScoreTests"]


@dataclass(frozen=True)
class OrdinalScoreTests:
    """``total``: dict X2, df, pvalue; ``univariate`` and ``cumulative``: DataFrames with lhs, op,
    rhs (lavaan's plabels), ``parameter`` (the constrained row of the later group, e.g.
    ``visual=~x2``), ``groups`` and X2, df, pvalue; ``cumulative`` in release order."""

    total: dict
    univariate: pd.DataFrame
    cumulative: pd.DataFrame


def _ginv(a: np.ndarray) -> np.ndarray:
    return np.linalg.pinv(a, rcond=np.sqrt(np.finfo(float).eps), hermitian=True)


def _bordered_block(info: np.ndarray, r1: np.ndarray) -> np.ndarray:
    if not len(r1):
        return _ginv(info)
    k = len(r1)
    z = np.block([[info, r1.T], [r1, np.zeros((k, k))]])
    return _ginv(z)[:len(info), :len(info)]


def _released(info: np.ndarray, R: np.ndarray, score: np.ndarray, N: float):
    """``S -> N s' J_S s`` with ``J_S`` the parameter block of ``ginv([[I, R1'], [R1, 0]])``, ``R1``
    the rows of ``R`` not in ``S``. When that bordered matrix is nonsingular (the model with the
    kept constraints identified) the block is ``Z (Z'IZ)^-1 Z'`` with ``Z`` spanning null(R1) =
    span(Z0, V_S), ``Z0`` a basis of null(R) and ``V = R'(RR')^-1`` (``R1 V_S = 0``, ``R V_S = I_S``):
    a Schur complement on the constrained information ``Z0'IZ0``, inverted once. A singular
    complement (releasing makes the model unidentified) falls back to the bordered Moore-Penrose
    inverse, lavaan's formula."""
    from scipy.linalg import null_space

    z0 = null_space(R)
    a_mat = z0.T @ info @ z0
    try:
        a_inv = np.linalg.inv(a_mat)
    except np.linalg.LinAlgError:
        a_inv = None
    V = R.T @ np.linalg.inv(R @ R.T)
    a = z0.T @ score
    base = float(a @ a_inv @ a) if a_inv is not None else float("nan")
    C = z0.T @ info @ V
    D = V.T @ info @ V
    b = V.T @ score
    ca = C.T @ (a_inv @ a) if a_inv is not None else None

    def stat(S):
        S = list(S)
        if a_inv is not None:
            sig = D[np.ix_(S, S)] - C[:, S].T @ a_inv @ C[:, S]
            w = np.linalg.eigvalsh((sig + sig.T) / 2)
            if w.min() > 1e-10 * max(1.0, np.abs(D[np.ix_(S, S)]).max()):
                u = b[S] - ca[S]
                return float(N * (base + u @ np.linalg.solve(sig, u)))
        return float(N * score @ _bordered_block(info, np.delete(R, S, axis=0)) @ score)

    return stat


def ordinal_score_tests(res, cumulative: bool = True) -> OrdinalScoreTests:
    """lavaan's ``lavTestScore(fit, cumulative = cumulative)`` of an ordinal multiple-group fit
    (see the module docstring)."""
    from scipy import stats

    from ...exceptions import OptionError

    info_ = res._internal
    t, gidx, engs, x = info_["table"], info_["gidx"], info_["engines"], res.x
    free_rows = t[t["free"] > 0].sort_values("free")
    nun = len(free_rows)
    eq = t[t["op"] == "=="]
    if not len(eq):
        raise OptionError("score tests: the fit has no equality constraints to release")
    ns = np.asarray(info_["ns"], float)
    N = float(ns.sum())
    score = np.zeros(nun)
    info = np.zeros((nun, nun))
    for g, e in enumerate(engs):
        dg = e.jacobian(x, len(x))
        du = np.zeros((dg.shape[0], nun))
        used = set()
        for k, row in enumerate(free_rows.itertuples()):
            if row.group == g + 1:
                j = gidx[int(row.id)]
                if j in used:  # two rows of one group tied: their columns cannot be told apart
                    raise OptionError("score tests: equality constraints within one group (a label shared by two "
                                      "parameters of a group) are not supported")
                used.add(j)
                du[:, k] = dg[:, j]
        eg = info_["s"][g] - e.sigma(x)
        w = info_["w"][g]
        score -= (ns[g] - 1.0) / N * (du.T @ (w * eg))
        info += ns[g] / N * (du.T @ (w[:, None] * du))
    pl2k = {pl: k for k, pl in enumerate(free_rows["plabel"])}
    R = np.zeros((len(eq), nun))
    for i, (a, b) in enumerate(zip(eq["lhs"], eq["rhs"])):
        if a not in pl2k or b not in pl2k:
            raise OptionError(f"score tests: the constraint {a} == {b} is not between two free parameters")
        R[i, pl2k[a]], R[i, pl2k[b]] = 1.0, -1.0
    by_pl = {r.plabel: r for r in free_rows.itertuples()}

    def describe(a, b):
        ra, rb = by_pl[a], by_pl[b]
        rhs = rb.rhs if isinstance(rb.rhs, str) else ""
        return f"{rb.lhs}{rb.op}{rhs}", f"{ra.group},{rb.group}"

    stat = float(N * score @ _ginv(info) @ score)
    total = {"X2": stat, "df": len(eq), "pvalue": float(stats.chi2.sf(stat, len(eq)))}
    released_stat = _released(info, R, score, N)
    uni = np.array([released_stat([r]) for r in range(len(R))])
    desc = [describe(a, b) for a, b in zip(eq["lhs"], eq["rhs"])]
    base = pd.DataFrame({"lhs": list(eq["lhs"]), "op": "==", "rhs": list(eq["rhs"]),
                         "parameter": [d[0] for d in desc], "groups": [d[1] for d in desc]})
    univariate = base.assign(X2=uni, df=1, pvalue=stats.chi2.sf(uni, 1))
    cum = pd.DataFrame(columns=list(univariate.columns))
    if cumulative:
        order = np.argsort(-uni, kind="stable")  # R's sort.int(decreasing = TRUE)
        xs = [released_stat(list(order[:k + 1])) for k in range(len(R))]
        cum = base.iloc[order].reset_index(drop=True).assign(X2=xs, df=np.arange(1, len(R) + 1))
        cum["pvalue"] = stats.chi2.sf(cum["X2"], cum["df"])
    return OrdinalScoreTests(total, univariate, cum)
