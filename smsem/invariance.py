"""Measurement invariance: the configural -> metric -> scalar -> strict sequence over the
multiple-group table (ML, MLM or MLR, complete data; :mod:`smsem.estimate.multigroup`).
Under MLM/MLR the nested tests are Satorra-Bentler scaled differences (2001, lavaan 0.6.14's
``lavTestLRT`` default, or the strictly positive 2010 version) and Chen's cut-offs read the
robust CFI and RMSEA; :func:`invariance_power` gives rejection rates on generated data.

Each step is lavaan's ``cfa(model, data, group = ..., group.equal = ...)`` with
``group.equal`` = none; ``loadings``; ``loadings, intercepts``; ``loadings, intercepts,
residuals``. Between consecutive steps:

- the likelihood-ratio test (lavaan's ``lavTestLRT``: ``chi2`` and ``df`` differences, and its
  RMSEA of the difference ``sqrt(max(0, (dchi2 - ddf) / (N ddf))) * sqrt(G)``);
- the changes dCFI, dRMSEA, dSRMR (later minus earlier) against Chen (2007): a step holds when
  dCFI >= -.010 with dRMSEA <= .015 and dSRMR <= .030 (metric) or <= .010 (scalar, strict).

The verdict is the highest level reached without a failed step (the steps are nested: a
failed step ends the sequence). Score tests for releasing each equality constraint of a
fitted step are lavaan's ``lavTestScore`` (:func:`score_tests`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["InvarianceResults", "invariance", "score_tests", "invariance_power", "invariance_replication", "STEPS",
           "CHEN_CUTOFFS"]

STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("configural", ()),
    ("metric", ("loadings",)),
    ("scalar", ("loadings", "intercepts")),
    ("strict", ("loadings", "intercepts", "residuals")),
)

#: Chen (2007): (minimum dCFI, maximum dRMSEA, maximum dSRMR) for a step to hold.
CHEN_CUTOFFS = {"metric": (-0.010, 0.015, 0.030), "scalar": (-0.010, 0.015, 0.010), "strict": (-0.010, 0.015, 0.010)}

TABLE_COLUMNS = ["step", "chi2", "df", "pvalue", "cfi", "tli", "rmsea", "rmsea_ci_lower", "rmsea_ci_upper", "srmr",
                 "aic", "bic", "npar"]
#: Extra step columns under MLM and MLR (lavaan's ``.scaled`` and ``.robust`` fit measures).
ROBUST_COLUMNS = ["chi2_scaled", "pvalue_scaled", "scaling_factor", "cfi_scaled", "tli_scaled", "rmsea_scaled",
                  "cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust", "rmsea_ci_upper_robust"]
TEST_COLUMNS = ["comparison", "step", "chi2_diff", "df_diff", "pvalue", "rmsea_diff", "d_cfi", "d_rmsea", "d_srmr",
                "chen"]
#: Extra test columns under MLM and MLR: the unscaled difference and the difference's
#: scaling factor ``cd`` (``chi2_diff`` is then the scaled difference, as lavTestLRT's).
ROBUST_TEST_COLUMNS = ["chi2_diff_unscaled", "scaling_diff", "method"]
METHODS = ("satorra.bentler.2001", "satorra.bentler.2010")


@dataclass(frozen=True)
class InvarianceResults:
    """The invariance sequence (:func:`invariance`).

    Attributes
    ----------
    table : DataFrame
        One row per step, ``TABLE_COLUMNS`` (lavaan's ``fitMeasures``; RMSEA CI 90%).
    tests : DataFrame
        One row per step after configural, ``TEST_COLUMNS``: the LRT against the previous
        step (``lavTestLRT``), the changes in CFI, RMSEA, SRMR and whether Chen's cut-offs hold.
    highest : str
        The highest level held by Chen's cut-offs (``"configural"`` when metric fails).
    verdict : str
        One line that says so, with the LRT beside it.
    fits : dict
        ``step -> MultiGroupFit``.
    """

    table: pd.DataFrame
    tests: pd.DataFrame
    highest: str
    verdict: str
    fits: dict = field(repr=False)
    group: str = ""
    group_labels: list[str] = field(default_factory=list)
    n_per_group: list[int] = field(default_factory=list)
    score: dict | None = field(default=None, repr=False)
    released: pd.DataFrame | None = None
    suggested_partial: list[str] = field(default_factory=list)
    partial_test: pd.Series | None = None
    partial_fit: Any = field(default=None, repr=False)
    latent_means: pd.DataFrame | None = None
    latent_means_from: str = ""
    estimator: str = "ML"
    method: str = ""

    @property
    def ngroups(self) -> int:
        return len(self.group_labels)

    def __str__(self) -> str:
        from .report.multigroup import render_invariance

        return render_invariance(self)


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [s.strip() for s in v.split(",") if s.strip()]
    return [str(s) for s in v]


def invariance(model: Any, data: pd.DataFrame, group: str, *, group_partial: Sequence[str] | str = (),
               partial: bool = True, alpha: float = 0.05, estimator: str = "ML", method: str = "default",
               **table_options: Any) -> InvarianceResults:
    """Fit the configural, metric, scalar and strict models and compare them.

    Parameters
    ----------
    model : SEMModel or str
    data : DataFrame
        The model's columns and ``group``.
    group : str
        The group column (groups in order of first appearance, as lavaan).
    group_partial : sequence of str or comma-separated str
        lavaan's ``group.partial``, applied at every step (partial invariance).
    partial : bool, default=True
        When a step fails (and no ``group_partial`` was given): score tests of its equality
        constraints, and the release one at a time of the most significant one of the
        step's own kind (at ``alpha``), refitting until the step holds (a suggested
        ``--group-partial``).
    alpha : float, default=0.05
    estimator : {"ML", "MLM", "MLR"}, default="ML"
        Under MLM and MLR (complete data) every step is the robust fit; the nested tests are
        Satorra-Bentler scaled differences and Chen's cut-offs are read on the robust CFI and
        RMSEA (lavaan's ``cfi.robust``, ``rmsea.robust``) with SRMR.
    method : {"default", "satorra.bentler.2001", "satorra.bentler.2010"}
        The scaled difference (lavaan's ``lavTestLRT(method = )``); ``"default"`` is
        lavaan 0.6.14's default, ``satorra.bentler.2001``. ``satorra.bentler.2010`` is the
        strictly positive version (the less restricted model's scaling factor evaluated at
        the more restricted model's estimates). Ignored under ML.
    **table_options
        lavaan's model options (``std_lv``, ...).
    """
    from ._threads import single_thread

    with single_thread():  # small matrices: one BLAS thread (see fit_multigroup)
        return _invariance(model, data, group, group_partial=group_partial, partial=partial, alpha=alpha,
                           estimator=estimator, method=method, **table_options)


def _invariance(model, data, group, *, group_partial, partial, alpha, estimator, method, **table_options):
    from .estimate.multigroup import fit_multigroup
    from .exceptions import OptionError

    est = str(estimator).upper()
    if est not in ("ML", "MLM", "MLR"):
        raise OptionError(f"invariance with --estimator {estimator} is not supported (ML, MLM, MLR)")
    meth = "satorra.bentler.2001" if method in (None, "default") else str(method)
    if meth not in METHODS:
        raise OptionError(f"unknown scaled difference method {method!r} (default, {', '.join(METHODS)})")
    robust_ = est != "ML"
    table_options = dict(table_options, estimator=est)
    gp = _as_list(group_partial)
    fits = {name: fit_multigroup(model, data, group, group_equal=ge, group_partial=gp, **table_options)
            for name, ge in STEPS}
    cols = TABLE_COLUMNS + (ROBUST_COLUMNS if robust_ else [])
    rows = []
    for name, res in fits.items():
        fi = res.fit_indices
        rows.append([name] + [fi.get(c, float("nan")) for c in cols[1:]])
    table = pd.DataFrame(rows, columns=cols)
    first = fits["configural"]
    n, g = first.n, first.ngroups
    tests = []
    names = [s for s, _ in STEPS]
    tcols = TEST_COLUMNS + (ROBUST_TEST_COLUMNS if robust_ else [])
    ge_of = dict(STEPS)
    for prev, cur in zip(names[:-1], names[1:]):
        c10 = None
        if robust_ and meth == "satorra.bentler.2010":
            c10 = _c10(model, data, group, ge_of[prev], gp, fits[cur], table_options)
        t = _compare(fits[prev].fit_indices, fits[cur].fit_indices, cur, n, g, robust=robust_, method=meth, c10=c10)
        tests.append([f"{cur} vs {prev}"] + [t[c] for c in tcols[1:]])
    tests_df = pd.DataFrame(tests, columns=tcols)
    highest, verdict = _verdict(tests_df, bool(gp))
    if not all(f.converged for f in fits.values()):
        bad = [k for k, f in fits.items() if not f.converged]
        verdict = f"NOT RELIABLE: the {', '.join(bad)} fit(s) did not converge. " + verdict
    out = dict(fits=fits, group=group, group_labels=list(first.group_labels), n_per_group=list(first.n_per_group))
    failed = tests_df[~tests_df["chen"]]
    if len(failed) and not gp and partial:
        step = str(failed["step"].iloc[0])
        out.update(_partial_search(model, data, group, fits, names, step, alpha, table_options, meth))
    t = out.get("partial_test")
    if t is not None:
        spec = ",".join(out["suggested_partial"])
        if t["chen"]:
            if t["step"] == "scalar":
                verdict = verdict.replace(": latent means are not comparable across groups", "")
            verdict += (f". Partial {t['step']} invariance holds with --group-partial \"{spec}\" "
                        f"(released by score tests; dCFI = {t['d_cfi']:.3f}, dRMSEA = {t['d_rmsea']:.3f}, "
                        f"dSRMR = {t['d_srmr']:.3f})")
        else:
            verdict += (f". Releasing {spec} (score tests) does not restore {t['step']} invariance by Chen's "
                        "cut-offs")
    lm_fit, lm_from = None, ""
    if highest in ("scalar", "strict"):
        lm_fit, lm_from = fits["scalar"], ("partial " if gp else "") + "scalar model"
    elif out.get("partial_test") is not None and out["partial_test"]["step"] == "scalar" and out["partial_test"]["chen"]:
        lm_fit, lm_from = out["partial_fit"], "partial scalar model (group.partial = " + \
            ", ".join(out["suggested_partial"]) + ")"
    if lm_fit is not None:
        out["latent_means"] = latent_mean_differences(lm_fit)
        out["latent_means_from"] = lm_from
    return InvarianceResults(table, tests_df, highest, verdict, estimator=est,
                             method=meth if robust_ else "", **out)


def _c10(model, data, group, ge_prev, gp, fit_cur, table_options) -> float:
    """lavaan's ``c10`` of the Satorra-Bentler 2010 test: the scaling factor of the less
    restricted step (``ge_prev``) evaluated at the more restricted step's estimates
    (``lav_test_diff_m10``: the model with ``optim.method = "none"`` started there)."""
    import warnings

    from .estimate.multigroup import fit_multigroup

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # not an estimate: admissibility warnings do not apply
        m10 = fit_multigroup(model, data, group, group_equal=ge_prev, group_partial=gp,
                             evaluate_at=fit_cur.params, **table_options)
    return float(m10.fit_indices.get("scaling_factor", float("nan")))


_RELEASE_OP = {"metric": "=~", "scalar": "~1", "strict": "~~"}


def _partial_search(model, data, group, fits, names, step, alpha, table_options,
                    method: str = "satorra.bentler.2001") -> dict:
    """Release, one at a time, the equality of the failed ``step``'s own kind (loadings,
    intercepts, residual variances) with the largest univariate score statistic
    (lavaan's ``lavTestScore``) while it is significant at ``alpha``, refitting each time,
    until the step holds by Chen's cut-offs against the previous (full) step."""
    from .estimate.multigroup import fit_multigroup

    ge = dict(STEPS)[step]
    prev = fits[names[names.index(step) - 1]].fit_indices
    cur = fits[step]
    first_score = score_tests(cur)
    released, partial_list = [], []
    test = None
    for _ in range(64):
        sc = first_score if not released else score_tests(cur)
        uni = sc["uni"]
        cand = uni[uni["param"].str.contains(" " + _RELEASE_OP[step] + " ", regex=False)
                   | (uni["param"].str.endswith(" ~1") & (_RELEASE_OP[step] == "~1"))]
        if not len(cand):
            break
        best = cand.loc[cand["X2"].idxmax()]
        if not best["pvalue"] < alpha:
            break
        spec = best["param"].replace(" ", "")
        released.append([spec, best["X2"], best["pvalue"]])
        partial_list.append(spec)
        cur = fit_multigroup(model, data, group, group_equal=ge, group_partial=partial_list, **table_options)
        robust_ = table_options.get("estimator", "ML") != "ML"
        c10 = None
        if robust_ and method == "satorra.bentler.2010":
            c10 = _c10(model, data, group, dict(STEPS)[names[names.index(step) - 1]], [], cur, table_options)
        test = _compare(prev, cur.fit_indices, step, cur.n, cur.ngroups, robust=robust_, method=method, c10=c10)
        if test["chen"]:
            break
    return {"score": first_score, "released": pd.DataFrame(released, columns=["param", "X2", "pvalue"]),
            "suggested_partial": partial_list, "partial_test": test, "partial_fit": cur if released else None}


def _compare(a: dict, b: dict, step: str, n: int, g: int, robust: bool = False,
             method: str = "satorra.bentler.2001", c10: float | None = None) -> pd.Series:
    """``a`` the less restricted step's fit indices, ``b`` the more restricted one's.

    ML: ``lavTestLRT``'s chi2 difference. MLM/MLR: the Satorra-Bentler scaled difference
    ``(T0 - T1) / cd`` of the unscaled statistics with ``cd = (df0 c0 - df1 c1) / (df0 - df1)``
    (2001), or ``c1`` replaced by ``c10`` (2010, :func:`_c10`), and Chen's deltas on the
    robust CFI and RMSEA."""
    d = b["chi2"] - a["chi2"]
    ddf = b["df"] - a["df"]
    extra = {}
    if robust:
        c1 = c10 if method == "satorra.bentler.2010" else a["scaling_factor"]
        cd = (b["df"] * b["scaling_factor"] - a["df"] * c1) / ddf if ddf > 0 else float("nan")
        extra = {"chi2_diff_unscaled": d, "scaling_diff": cd, "method": method}
        d = d / cd
    p = float(stats.chi2.sf(d, ddf)) if ddf > 0 else float("nan")
    r = math.sqrt(max(0.0, (d - ddf) / (n * ddf))) * math.sqrt(g) if ddf > 0 and not robust else float("nan")
    kc, kr = ("cfi_robust", "rmsea_robust") if robust else ("cfi", "rmsea")
    dcfi, drmsea, dsrmr = b[kc] - a[kc], b[kr] - a[kr], b["srmr"] - a["srmr"]
    c_cfi, c_rmsea, c_srmr = CHEN_CUTOFFS[step]
    chen = bool(dcfi >= c_cfi and drmsea <= c_rmsea and dsrmr <= c_srmr)
    return pd.Series({"step": step, "chi2_diff": d, "df_diff": ddf, "pvalue": p, "rmsea_diff": r, "d_cfi": dcfi,
                      "d_rmsea": drmsea, "d_srmr": dsrmr, "chen": chen, "cfi": b[kc], "rmsea": b[kr],
                      "srmr": b["srmr"], "chi2": b["chi2"], "df": b["df"], **extra})


def latent_mean_differences(res: Any) -> pd.DataFrame:
    """Latent means of groups 2..G relative to group 1 (whose means are fixed at 0 under
    lavaan's scalar identification): lavaan's ``parameterEstimates`` rows ``f ~1`` of the
    other groups, with Wald SEs and 95% CIs. ``kind`` is ``"intercept"`` for a factor
    regressed on others (the difference given its predictors), ``"mean"`` otherwise."""
    p = res.params
    lv = set(res.partable.lv)
    rows = p[(p["op"] == "~1") & p["lhs"].isin(lv) & (p["group"] > 1)].copy()
    rows.insert(0, "contrast", [f"{res.group_labels[g - 1]} - {res.group_labels[0]}" for g in rows["group"]])
    # A factor predicted by others (``f ~ ...``) has an intercept, not a mean: its difference
    # is conditional on the predictors.
    endo = {r for r in p.loc[p["op"] == "~", "lhs"]}
    rows["kind"] = ["intercept" if v in endo else "mean" for v in rows["lhs"]]
    return rows[["contrast", "lhs", "kind", "group", "est", "se", "z", "pvalue", "ci_lower",
                 "ci_upper"]].reset_index(drop=True)


def _fmt_p(p: float) -> str:
    return "p < .001" if p < 0.001 else f"p = {p:.3f}".replace("0.", ".", 1)


def highest_held(tests: pd.DataFrame) -> tuple[str, Any]:
    """The last step of the sequence that holds by Chen's cut-offs (``chen`` column, steps in
    order) and the first failing test row (None if every step holds)."""
    highest = "configural"
    for row in tests.itertuples():
        if not row.chen:
            return highest, row
        highest = row.step
    return highest, None


def _verdict(tests: pd.DataFrame, partial: bool) -> tuple[str, str]:
    highest, failed = highest_held(tests)
    word = "partial " if partial and highest != "configural" else ""
    held = tests[tests["step"] == highest]
    lrt = (f" (LRT against the previous step: {_fmt_p(float(held['pvalue'].iloc[0]))})" if len(held) else "")
    if highest == "strict":
        return highest, f"{word}strict invariance holds by Chen's (2007) cut-offs{lrt}"
    text = f"{word}{highest} invariance holds by Chen's (2007) cut-offs{lrt}" if highest != "configural" else \
        "only configural invariance: the metric step fails Chen's (2007) cut-offs"
    why = []
    c_cfi, c_rmsea, c_srmr = CHEN_CUTOFFS[failed.step]
    if failed.d_cfi < c_cfi:
        why.append(f"dCFI = {failed.d_cfi:.3f} < {c_cfi:.3f}")
    if failed.d_rmsea > c_rmsea:
        why.append(f"dRMSEA = {failed.d_rmsea:.3f} > {c_rmsea:.3f}")
    if failed.d_srmr > c_srmr:
        why.append(f"dSRMR = {failed.d_srmr:.3f} > {c_srmr:.3f}")
    text += f"; {failed.step} does not ({', '.join(why)}; LRT {_fmt_p(failed.pvalue)})"
    if highest != "scalar":
        text += ": latent means are not comparable across groups"
    return highest, text


# --------------------------------------------------------------------------- score tests


def _expanded(res: Any):
    """lavaan's unconstrained parameterization of a fitted multiple-group table: every
    free row its own parameter (block diagonal over groups), the constraint Jacobian ``R``
    of the ``==`` rows, the score (gradient of logl / N) and the unit expected information
    at the constrained estimate."""
    from .estimate import ml
    from .estimate.matrices import param_map_from_table, simple_equalities, table_rows
    from .estimate.multigroup import _GroupTable
    from .exceptions import SpecError

    pt = res.partable
    if list(getattr(pt, "ov_x", []) or []):
        raise SpecError("score tests with fixed covariates (fixed.x) are not supported yet")
    G = res.ngroups
    views = [_GroupTable(pt, g + 1) for g in range(G)]
    pms = [param_map_from_table(v, collapse=False) for v in views]
    offsets = np.cumsum([0] + [pm.n_free for pm in pms])
    est = res.params
    x = np.zeros(offsets[-1])
    where: dict[str, int] = {}
    for r in table_rows(pt):
        if r["op"] not in ("=~", "~", "~~", "~1") or r["free"] <= 0:
            continue
        g = r["group"] - 1
        k = pms[g].aliases[(r["lhs"], r["op"], r["rhs"])]
        where[r["plabel"]] = offsets[g] + k
        if r["label"]:
            where.setdefault(r["label"], offsets[g] + k)
    for g, pm in enumerate(pms):
        blk = est[est["group"] == g + 1]
        for lhs, op, rhs, e in zip(blk["lhs"], blk["op"], blk["rhs"], blk["est"]):
            k = pm.aliases.get((lhs, op, rhs))
            if k is not None:
                x[offsets[g] + k] = e
    cons = simple_equalities(pt)
    R = np.zeros((len(cons), len(x)))
    for i, c in enumerate(cons):
        R[i, where[c["lhs"].strip()]] = 1.0
        R[i, where[c["rhs"].strip()]] = -1.0
    w = np.asarray(res.n_per_group, float) / res.n
    score = np.zeros(len(x))
    info = np.zeros((len(x), len(x)))
    xs = [res.data[res.data[res.group] == lab][list(pt.ov)].to_numpy(float) for lab in res.group_labels]
    for g, pm in enumerate(pms):
        sl = slice(offsets[g], offsets[g + 1])
        th = x[sl]
        xbar, s = ml.sample_moments(xs[g])
        mx = pm.matrices_at(th)
        sigma = mx.implied_cov
        mu = mx.implied_mean if pm.meanstructure else None
        jac = ml.sigma_jacobian(pm, th)
        mjac = ml.mean_jacobian(pm, th) if pm.meanstructure else None
        grad = ml.ml_gradient_means(jac, mjac, s, xbar if mu is not None else None, sigma, mu)
        score[sl] = -0.5 * w[g] * grad
        ig = ml.expected_information_means(jac, mjac, sigma) if pm.meanstructure else ml.expected_information(jac, sigma)
        info[sl, sl] = w[g] * ig
    return cons, R, score, info


def _stat(info: np.ndarray, R: np.ndarray, score: np.ndarray, n: int) -> float:
    k = R.shape[0]
    z = np.block([[info, R.T], [R, np.zeros((k, k))]])
    rhs = np.concatenate([score, np.zeros(k)])
    # lavaan: N score' [Z^+]_11 score with Z the information bordered by the constraints.
    # Z is nonsingular when the remaining constraints identify the model: a solve then
    # equals the pseudo-inverse (and is ~100x faster); otherwise the pseudo-inverse.
    try:
        u = np.linalg.solve(z, rhs)
        if np.all(np.isfinite(u)) and np.max(np.abs(z @ u - rhs)) < 1e-10 * max(1.0, np.max(np.abs(rhs))) \
                and np.max(np.abs(u)) < 1e8:
            return float(n * score @ u[: info.shape[0]])
    except np.linalg.LinAlgError:
        pass
    from scipy.linalg import pinvh

    zp = pinvh(z)
    j = zp[: info.shape[0], : info.shape[0]]
    return float(n * score @ j @ score)


def score_tests(res: Any) -> dict[str, pd.DataFrame]:
    """lavaan's ``lavTestScore(fit, cumulative = TRUE)`` for the ``==`` rows of a
    multiple-group fit: ``total`` (all constraints released), ``uni`` (each released alone,
    df 1) and ``cumulative`` (released in decreasing order of the univariate statistic).
    Each row names the constraint (``lhs == rhs`` plabels, lavaan's) and the parameter it
    ties (``param``, e.g. ``x3 ~1``), usable as ``--group-partial``."""
    from .estimate.matrices import table_rows

    cons, R, score, info = _expanded(res)
    by_plabel = {r["plabel"]: r for r in table_rows(res.partable)}
    params = []
    for c in cons:
        r = by_plabel.get(c["lhs"].strip())
        params.append(f"{r['lhs']} {r['op']} {r['rhs']}".strip() if r else "")
    return score_test_tables(cons, params, R, score, info, res.n)


def score_test_tables(cons: Sequence[Any], params: Sequence[str], R: np.ndarray, score: np.ndarray,
                      info: np.ndarray, n: int, cumulative: bool = True) -> dict[str, pd.DataFrame]:
    """lavaan's ``lavTestScore`` tables from the constraint rows ``cons`` (``lhs``/``rhs``
    strings), the parameter each ties (``params``), the constraint matrix ``R`` (one row per
    constraint), the score and the information per case: ``total``, ``uni`` and, with
    ``cumulative``, ``cumulative`` (released in decreasing order of the univariate
    statistic, ties in the constraints' order)."""
    total = _stat(info, np.zeros((0, R.shape[1])), score, n)
    uni = []
    for i, (c, param) in enumerate(zip(cons, params)):
        ts = _stat(info, np.delete(R, i, axis=0), score, n)
        uni.append([c["lhs"].strip(), "==", c["rhs"].strip(), param, ts, 1, float(stats.chi2.sf(ts, 1))])
    cols = ["lhs", "op", "rhs", "param", "X2", "df", "pvalue"]
    uni_df = pd.DataFrame(uni, columns=cols)
    out = {"total": pd.DataFrame([["score", total, R.shape[0], float(stats.chi2.sf(total, R.shape[0]))]],
                                 columns=["test", "X2", "df", "pvalue"]), "uni": uni_df}
    if cumulative:
        order = np.argsort(-uni_df["X2"].to_numpy(), kind="stable")
        cum = []
        for j in range(1, len(order) + 1):
            ts = _stat(info, np.delete(R, order[:j], axis=0), score, n)
            row = uni_df.iloc[order[j - 1]]
            cum.append([row["lhs"], "==", row["rhs"], row["param"], ts, j, float(stats.chi2.sf(ts, j))])
        out["cumulative"] = pd.DataFrame(cum, columns=cols)
    return out


# --------------------------------------------------------------------------- power


def invariance_replication(model: Any, departments: Sequence[Any], n: int, seed: int, r: int, *,
                           estimator: str = "ML", alpha: float = 0.05, group: str = "department",
                           **simulate_options: Any) -> dict[str, tuple[bool, bool]] | None:
    """One replication of :func:`invariance_power`: the data of replication ``r`` (seed
    ``SeedSequence(seed).spawn(r + 1)[r]``, first word of its state: the same whatever
    the number of replications or processes), the invariance sequence, and per step after
    configural ``(LRT rejects at alpha, Chen's cut-offs fail)``; None when a fit fails or
    does not converge."""
    import warnings

    from .simulate.responses import simulate

    child = np.random.SeedSequence(seed, spawn_key=(int(r),))
    s = int(child.generate_state(1)[0])
    data = simulate(model, n, seed=s, departments=list(departments), **simulate_options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            inv = invariance(model, data, group, partial=False, estimator=estimator, alpha=alpha)
        except Exception:  # noqa: BLE001 - a replication that cannot be fitted is counted, not fatal
            return None
    if not all(f.converged for f in inv.fits.values()):
        return None
    t = inv.tests.set_index("step")
    return {st: (bool(t.loc[st, "pvalue"] < alpha), not bool(t.loc[st, "chen"])) for st in t.index}


def invariance_power(model: Any, departments: Sequence[Any], n: int, *, reps: int = 200, seed: int = 20190102,
                     estimator: str = "ML", alpha: float = 0.05, group: str = "department",
                     **simulate_options: Any) -> pd.DataFrame:
    """Monte Carlo rates of the invariance sequence on generated organizations with a known
    truth (:class:`smsem.simulate.groups.Department` with ``item_intercepts`` / ``loadings``
    for non-invariance): for each step after configural, the share of replications whose
    nested test rejects at ``alpha`` (power when the step's invariance is violated in the
    population, false-alarm rate when it holds) and the share failing Chen's cut-offs.
    Replication ``r`` is :func:`invariance_replication` (its own seed stream), so the rates
    do not depend on how the work is split. ``smsem power`` runs such studies from a
    configuration with an ``invariance:`` key (:mod:`smsem.montecarlo.invariance_study`).

    Returns one row per step: ``step, reps, failed_fits, reject_rate, reject_mc_se,
    chen_fail_rate`` (``reject_mc_se`` the Monte Carlo SE of the rate)."""
    names = [s for s, _ in STEPS][1:]
    rej = {s: 0 for s in names}
    chen_fail = {s: 0 for s in names}
    failed = 0
    done = 0
    for r in range(int(reps)):
        out = invariance_replication(model, departments, n, seed, r, estimator=estimator, alpha=alpha, group=group,
                                     **simulate_options)
        if out is None:
            failed += 1
            continue
        done += 1
        for st in names:
            rej[st] += out[st][0]
            chen_fail[st] += out[st][1]
    rows = []
    for st in names:
        r = rej[st] / done if done else float("nan")
        rows.append([st, done, failed, r, math.sqrt(r * (1 - r) / done) if done else float("nan"),
                     chen_fail[st] / done if done else float("nan")])
    return pd.DataFrame(rows, columns=["step", "reps", "failed_fits", "reject_rate", "reject_mc_se",
                                       "chen_fail_rate"])
