"""Measurement invariance with ordinal items: Wu & Estabrook's (2016) thresholds-first sequence.

The steps are semTools' ``measEq.syntax(..., ID.cat = "Wu.Estabrook.2016", parameterization =
"delta", group.equal = ...)`` fitted by lavaan's WLSMV (:func:`~.multigroup.fit_ordinal_multigroup`
with ``wu_estabrook=True``; marker identification by default, an equivalent model with the same fit;
``std_lv=True`` gives semTools' own ``ID.fac = "std.lv"`` tables, estimates included):

1. configural: every group's thresholds and loadings free; intercepts 0, scaling factors 1, latent
   means 0;
2. thresholds: thresholds equal; in groups 2..G the items' intercepts and scaling factors free;
3. metric: thresholds and loadings equal (intercepts and scaling factors still free);
4. scalar: + intercepts equal (fixed at 0 in every group), the latent means free in groups 2..G.

semTools refuses residual (strict) invariance in the delta parameterization (the residual
variances are not parameters there); so does smsem. In the theta parameterization
(``parameterization="theta"``, semTools' ``parameterization = "theta"``) the thresholds step frees
groups 2..G's intercepts and residual variances (not scaling factors), and a fifth step tests
strict invariance: 5. strict: + residual variances equal (fixed at 1 in every group). Between consecutive steps: lavaan's
``lavTestLRT`` for WLSMV fits (the scaled-shifted difference of Satorra 2000,
:func:`~.multigroup.difference_test`), and the changes in the scaled CFI and RMSEA (lavaan's
``cfi.scaled``, ``rmsea.scaled``) and in SRMR against Chen's (2007) cut-offs (the metric ones for
the thresholds and metric steps, the scalar ones for the scalar step). The verdict is the
highest level reached without a failed step.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["ORDINAL_STEPS", "ordinal_invariance", "OrdinalInvarianceResults"]

ORDINAL_STEPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("configural", ()),
    ("thresholds", ("thresholds",)),
    ("metric", ("thresholds", "loadings")),
    ("scalar", ("thresholds", "loadings", "intercepts")),
)
#: theta parameterization: residual (strict) invariance, the residual variances fixed at 1 in every group
STRICT_STEP = ("strict", ("thresholds", "loadings", "intercepts", "residuals"))
#: Chen (2007): (minimum dCFI, maximum dRMSEA, maximum dSRMR); thresholds as metric.
CUTOFFS = {"thresholds": (-0.010, 0.015, 0.030), "metric": (-0.010, 0.015, 0.030), "scalar": (-0.010, 0.015, 0.010),
           "strict": (-0.010, 0.015, 0.010)}
TABLE_COLUMNS = ["step", "chi2", "df", "chi2_scaled", "pvalue_scaled", "cfi_scaled", "tli_scaled", "rmsea_scaled",
                 "rmsea_ci_lower_scaled", "rmsea_ci_upper_scaled", "srmr", "npar"]
TEST_COLUMNS = ["comparison", "step", "chi2_diff", "df_diff", "pvalue", "d_cfi", "d_rmsea", "d_srmr", "chen"]


@dataclass(frozen=True)
class OrdinalInvarianceResults:
    """``table`` (one row per step), ``tests`` (each step against the previous one), ``highest``,
    ``verdict``, ``fits`` (step -> fit), ``latent_means`` (from the scalar fit when it holds)."""

    table: pd.DataFrame
    tests: pd.DataFrame
    highest: str
    verdict: str
    fits: dict = field(repr=False)
    group: str = ""
    group_labels: list = field(default_factory=list)
    n_per_group: list = field(default_factory=list)
    latent_means: pd.DataFrame | None = None
    estimator: str = "WLSMV"
    parameterization: str = "delta"
    group_partial: tuple = ()
    #: partial invariance when a step fails (no --group-partial given): see :func:`_partial_search`
    partial: dict | None = None

    def __str__(self) -> str:
        return render_ordinal_invariance(self)


def ordinal_invariance(model: Any, data: pd.DataFrame, group: str, *, ordered: Any = True,
                       estimator: str = "WLSMV", parameterization: str = "delta",
                       **table_options: Any) -> OrdinalInvarianceResults:
    """Wu & Estabrook's (2016) sequence (see the module): configural, thresholds, metric, scalar;
    with ``parameterization="theta"`` also strict (the residual variances equal: fixed at 1)."""
    from ..._threads import single_thread

    with single_thread():  # as every fit: one BLAS thread
        return _ordinal_invariance(model, data, group, ordered=ordered, estimator=estimator,
                                   parameterization=parameterization, **table_options)


def _ordinal_invariance(model, data, group, *, ordered, estimator, parameterization, **table_options):
    from ...exceptions import OptionError
    from .multigroup import difference_test, fit_ordinal_multigroup

    est = str(estimator).upper()
    if est != "WLSMV":
        raise OptionError(f"invariance with ordered items and --estimator {estimator}: only WLSMV (lavaan's "
                          "lavTestLRT scaled-shifted difference) is supported")
    from .multigroup import _as_list, _norm_partial

    gp = [_norm_partial(x) for x in _as_list(table_options.pop("group_partial", None))]
    other = [x for x in gp if "=~" not in x]
    if other:
        raise OptionError(f"--group-partial {other[0]!r} with ordered items in the invariance sequence: only "
                          "loadings (f=~item) can be released yet (Wu & Estabrook's identification of a released "
                          "threshold or intercept is not implemented); fit it with smsem fit --group")
    fits = {}
    steps = ORDINAL_STEPS + ((STRICT_STEP,) if parameterization == "theta" else ())
    for name, ge in steps:
        fits[name] = fit_ordinal_multigroup(model, data, group, ordered=ordered, estimator=est, group_equal=ge,
                                            group_partial=gp, wu_estabrook=True, reuse=fits.get("configural"),
                                            parameterization=parameterization, **table_options)
        if name == "configural":
            tab = fits[name]._internal["table"]
            for x in gp:
                f, item = x.split("=~")
                row = tab[(tab["lhs"] == f) & (tab["op"] == "=~") & (tab["rhs"] == item) & (tab["group"] == 1)]
                if not len(row):
                    raise OptionError(f"--group-partial {x!r}: no such loading in the model")
                if int(row["free"].iloc[0]) == 0:
                    raise OptionError(f"--group-partial {x!r}: {item} is {f}'s marker (its loading fixed at 1); "
                                      "releasing it is not supported in the sequence (put another indicator first)")
            nth = fits[name]._internal["table"]
            th = nth[(nth["op"] == "|") & (nth["group"] == 1)].groupby("lhs").size()
            binary = [v for v, k in th.items() if k < 2]
            if binary:
                raise OptionError(f"item {binary[0]} has two categories: Wu & Estabrook's thresholds step needs "
                                  "at least three per item (binary items are not supported yet)")
    rows = []
    for name, res in fits.items():
        fi = res.fit_indices
        rows.append([name] + [fi.get(c, float("nan")) for c in TABLE_COLUMNS[1:]])
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    names = [s for s, _ in steps]
    tests = []
    for prev, cur in zip(names[:-1], names[1:]):
        a, b = fits[prev].fit_indices, fits[cur].fit_indices
        dt = difference_test(fits[prev], fits[cur])
        dcfi, drm, dsr, chen = _chen(a, b, cur)
        tests.append([f"{cur} vs {prev}", cur, dt["chi2_diff"], dt["df_diff"], dt["pvalue"], dcfi, drm, dsr, chen])
    tests_df = pd.DataFrame(tests, columns=TEST_COLUMNS)
    from ...invariance import highest_held

    highest, failed = highest_held(tests_df)
    verdict = _verdict(highest, failed, tests_df)
    bad = [k for k, f in fits.items() if not f.converged]
    if bad:
        verdict = f"NOT RELIABLE: the {', '.join(bad)} fit(s) did not converge. " + verdict
    partial = None
    if failed is not None and not gp:
        partial = _partial_search(model, data, group, fits, names, failed.step, est, parameterization, ordered,
                                  table_options)
        t = partial.get("partial_test")
        if t is not None:
            spec = ",".join(partial["suggested_partial"])
            if t["chen"]:
                verdict += (f". Partial {t['step']} invariance holds with --group-partial \"{spec}\" (released by "
                            f"score tests; dCFI = {t['d_cfi']:.3f}, dRMSEA = {t['d_rmsea']:.3f}, "
                            f"dSRMR = {t['d_srmr']:.3f})")
            else:
                verdict += (f". Releasing {spec} (score tests) does not restore {t['step']} invariance by Chen's "
                            "cut-offs")
    lm = None
    if highest in ("scalar", "strict"):
        p = fits["scalar"].params
        lv = set(fits["scalar"]._internal["pt"].lv)
        labels = fits["scalar"].group_labels
        lm = p[(p["op"] == "~1") & p["lhs"].isin(lv) & (p["group"] > 1)].copy()
        lm.insert(0, "contrast", [f"{labels[g - 1]} - {labels[0]}" for g in lm["group"]])
        from scipy import stats

        z = stats.norm.ppf(0.975)
        lm["ci_lower"], lm["ci_upper"] = lm["est"] - z * lm["se"], lm["est"] + z * lm["se"]
        lm = lm[["contrast", "lhs", "group", "est", "se", "z", "pvalue", "ci_lower", "ci_upper"]].reset_index(drop=True)
    first = fits["configural"]
    return OrdinalInvarianceResults(table, tests_df, highest, verdict, fits, group, list(first.group_labels),
                                    list(first.n_per_group), lm, est, parameterization, tuple(gp), partial)


def _partial_search(model, data, group, fits, names, step, est, parameterization, ordered, table_options,
                    alpha: float = 0.05) -> dict:
    """Partial invariance for the failed ``step``, as the ML sequence: lavaan's ``lavTestScore`` of
    the step's fit (:func:`.score_test.ordinal_score_tests`; checked against lavaan on semTools'
    std.lv tables), the univariate tests of the step's own equalities. Metric step: release the
    loading equality with the largest univariate statistic while it is significant at ``alpha``,
    refitting the step with ``group_partial`` each time, until the step holds by Chen's cut-offs
    against the previous step (scaled-shifted LRT and deltas as the sequence). Thresholds step:
    the tests only (releasing a threshold under Wu & Estabrook's identification is not
    implemented). Scalar/strict steps: the intercepts (residual variances) are fixed, not ``==``
    constraints, so there is nothing to release (lavTestScore's ``add`` mode is not implemented)."""
    from .multigroup import difference_test, fit_ordinal_multigroup
    from .score_test import ordinal_score_tests

    out: dict = {"step": step, "score": None, "released": None, "suggested_partial": [], "partial_test": None,
                 "note": ""}
    if step not in ("thresholds", "metric"):
        what = "intercepts" if step == "scalar" else "residual variances"
        at = 0 if step == "scalar" else 1
        out["note"] = (f"score tests are not available for the {step} step: its {what} are fixed (at {at}) in every "
                       "group, not equality constraints (lavTestScore's add mode is not implemented for ordinal fits)")
        return out
    op = "|" if step == "thresholds" else "=~"
    sc = ordinal_score_tests(fits[step])
    uni = sc.univariate
    out["score"] = uni[uni["parameter"].str.contains(op, regex=False)].sort_values("X2", ascending=False)
    if step == "thresholds":
        out["note"] = ("refit not available: releasing a threshold under Wu & Estabrook's identification is not "
                       "implemented (release loadings with --group-partial \"f=~item\")")
        return out
    prev = fits[names[names.index(step) - 1]]
    ge = dict(ORDINAL_STEPS)[step]
    cur, released, partial_list, test = fits[step], [], [], None
    cand = out["score"]
    for _ in range(64):
        if not len(cand):
            break
        best = cand.iloc[0]
        if not best["pvalue"] < alpha:
            break
        released.append([best["parameter"], float(best["X2"]), float(best["pvalue"])])
        partial_list.append(best["parameter"])
        cur = fit_ordinal_multigroup(model, data, group, ordered=ordered, estimator=est, group_equal=ge,
                                     group_partial=partial_list, wu_estabrook=True, reuse=fits["configural"],
                                     parameterization=parameterization, **table_options)
        a, b = prev.fit_indices, cur.fit_indices
        dt = difference_test(prev, cur)
        dcfi, drm, dsr, chen = _chen(a, b, step)
        test = {"step": step, "chi2_scaled": b.get("chi2_scaled"), "df": b["df"], "cfi_scaled": b["cfi_scaled"],
                "rmsea_scaled": b["rmsea_scaled"], "srmr": b["srmr"], "chi2_diff": dt["chi2_diff"],
                "df_diff": dt["df_diff"], "pvalue": dt["pvalue"], "d_cfi": dcfi, "d_rmsea": drm, "d_srmr": dsr,
                "chen": chen}
        if test["chen"]:
            break
        u = ordinal_score_tests(cur).univariate
        cand = u[u["parameter"].str.contains(op, regex=False)].sort_values("X2", ascending=False)
    out.update(released=pd.DataFrame(released, columns=["parameter", "X2", "pvalue"]), suggested_partial=partial_list,
               partial_test=test, partial_fit=cur if released else None)
    return out


def _chen(a: dict, b: dict, step: str) -> tuple[float, float, float, bool]:
    """ΔCFI, ΔRMSEA (scaled) and ΔSRMR from fit indices ``a`` to ``b`` and whether ``step``
    holds by Chen's (2007) cut-offs."""
    dcfi = b["cfi_scaled"] - a["cfi_scaled"]
    drm = b["rmsea_scaled"] - a["rmsea_scaled"]
    dsr = b["srmr"] - a["srmr"]
    c_cfi, c_rm, c_sr = CUTOFFS[step]
    return dcfi, drm, dsr, bool(dcfi >= c_cfi and drm <= c_rm and dsr <= c_sr)


def _p(p: float) -> str:
    return "p < .001" if p < 0.001 else f"p = {p:.3f}".replace("0.", ".", 1)


def _verdict(highest: str, failed, tests: pd.DataFrame) -> str:
    if highest == "strict":
        held = tests[tests["step"] == "strict"]
        return (f"strict invariance holds by Chen's (2007) cut-offs (scaled CFI, RMSEA; LRT against scalar: "
                f"{_p(float(held['pvalue'].iloc[0]))})")
    if highest == "scalar" and failed is None:
        held = tests[tests["step"] == "scalar"]
        return (f"scalar invariance holds by Chen's (2007) cut-offs (scaled CFI, RMSEA; LRT against metric: "
                f"{_p(float(held['pvalue'].iloc[0]))}); strict invariance is not tested in the delta parameterization "
                "(--parameterization theta tests it)")
    text = (f"{highest} invariance holds by Chen's (2007) cut-offs" if highest != "configural" else
            "only configural invariance: the thresholds step fails Chen's (2007) cut-offs")
    c_cfi, c_rm, c_sr = CUTOFFS[failed.step]
    why = []
    if failed.d_cfi < c_cfi:
        why.append(f"dCFI = {failed.d_cfi:.3f} < {c_cfi:.3f}")
    if failed.d_rmsea > c_rm:
        why.append(f"dRMSEA = {failed.d_rmsea:.3f} > {c_rm:.3f}")
    if failed.d_srmr > c_sr:
        why.append(f"dSRMR = {failed.d_srmr:.3f} > {c_sr:.3f}")
    text += f"; {failed.step} does not ({', '.join(why)}; LRT {_p(failed.pvalue)})"
    return text + ("" if highest == "scalar" else ": latent means are not comparable across groups")


def render_ordinal_invariance(inv: OrdinalInvarianceResults, fmt: str = "text") -> str:
    import json

    if fmt == "json":
        def rec(df):
            return json.loads(df.to_json(orient="records"))
        return json.dumps({"group": inv.group, "groups": inv.group_labels, "n_per_group": inv.n_per_group,
                           "estimator": inv.estimator, "sequence": "Wu.Estabrook.2016", "steps": rec(inv.table),
                           "tests": rec(inv.tests), "highest": inv.highest, "verdict": inv.verdict,
                           "latent_means": rec(inv.latent_means) if inv.latent_means is not None else None,
                           "partial": None if inv.partial is None else {
                               "step": inv.partial["step"], "note": inv.partial["note"],
                               "score_tests": rec(inv.partial["score"]) if inv.partial["score"] is not None else None,
                               "released": (rec(inv.partial["released"]) if inv.partial["released"] is not None
                                            else None),
                               "suggested_partial": inv.partial["suggested_partial"],
                               "partial_test": inv.partial["partial_test"]}},
                          indent=2) + "\n"
    out = [f"Measurement invariance with ordinal items across {len(inv.group_labels)} groups of {inv.group!r} "
           f"({', '.join(f'{a}: n = {n}' for a, n in zip(inv.group_labels, inv.n_per_group))})",
           "Wu & Estabrook (2016) sequence (semTools ID.cat = \"Wu.Estabrook.2016\"), WLSMV, "
           f"{inv.parameterization} parameterization; scaled-shifted chi2 and scaled CFI, TLI, RMSEA"
           + (f"; group.partial (every step): {', '.join(inv.group_partial)}" if inv.group_partial else ""), ""]
    out.append(f"{'step':<11}{'chi2':>10}{'chi2.sc':>10}{'df':>5}{'p.sc':>8}{'CFI.sc':>8}{'TLI.sc':>8}{'RMSEA.sc':>9}"
               f"{'90% CI':>15}{'SRMR':>7}")
    for r in inv.table.itertuples():
        ci = f"[{r.rmsea_ci_lower_scaled:.3f}, {r.rmsea_ci_upper_scaled:.3f}]"
        pv = "<.001" if r.pvalue_scaled < 0.001 else f"{r.pvalue_scaled:.3f}"
        out.append(f"{r.step:<11}{r.chi2:>10.3f}{r.chi2_scaled:>10.3f}{int(r.df):>5}{pv:>8}{r.cfi_scaled:>8.3f}"
                   f"{r.tli_scaled:>8.3f}{r.rmsea_scaled:>9.3f}{ci:>15}{r.srmr:>7.3f}")
    out += ["", "Nested tests (lavTestLRT for WLSMV: Satorra 2000 scaled-shifted difference) and changes against "
            "Chen (2007): dCFI >= -.010 with dRMSEA <= .015 and dSRMR <= .030 (thresholds, metric) / .010 (scalar, "
            "strict)"]
    out.append(f"{'step':<24}{'dchi2':>9}{'ddf':>5}{'p':>8}{'dCFI':>8}{'dRMSEA':>8}{'dSRMR':>8}  Chen")
    for r in inv.tests.itertuples():
        pv = "NA" if r.pvalue != r.pvalue else "<.001" if r.pvalue < 0.001 else f"{r.pvalue:.3f}"
        out.append(f"{r.comparison:<24}{r.chi2_diff:>9.3f}{int(r.df_diff):>5}{pv:>8}{r.d_cfi:>8.3f}{r.d_rmsea:>8.3f}"
                   f"{r.d_srmr:>8.3f}  {'holds' if r.chen else 'fails'}")
    out += ["", f"Verdict: {inv.verdict}"]
    if inv.latent_means is not None:
        out += ["", "Latent mean differences (scalar model; group 1 fixed at 0; Wald 95% CI):"]
        for r in inv.latent_means.itertuples():
            pv = "<.001" if r.pvalue < 0.001 else f"{r.pvalue:.3f}"
            out.append(f"  {r.lhs:<16} {r.contrast:<24} {r.est:8.3f}  SE {r.se:.3f}  z {r.z:6.2f}  p {pv:>6}  "
                       f"[{r.ci_lower:.3f}, {r.ci_upper:.3f}]")
    else:
        out += ["", "Latent mean differences: not reported (scalar invariance does not hold)"]
    out += _render_partial(inv.partial)
    return "\n".join(out) + "\n"


def _render_partial(pa: dict | None) -> list[str]:
    if pa is None:
        return []
    out = ["", f"Partial invariance ({pa['step']} step):"]
    sc = pa.get("score")
    if sc is not None:
        out.append("  univariate score tests of the step's equalities (lavTestScore, the ordinary test as lavaan "
                   "0.6.14 computes it for WLSMV), largest first:")
        for r in sc.head(8).itertuples():
            out.append(f"    {r.parameter:<16} groups {r.groups:<6} X2 = {r.X2:8.3f}, {_p(r.pvalue)}")
        if len(sc) > 8:
            out.append(f"    ... {len(sc) - 8} more")
    rel = pa.get("released")
    if rel is not None and len(rel):
        t = pa["partial_test"]
        out.append("  released one at a time (largest significant univariate score test first), refitting each time:")
        for r in rel.itertuples():
            out.append(f"    release {r.parameter:<16} X2 = {r.X2:8.3f}, {_p(r.pvalue)}")
        out.append(f"  refit: chi2.sc = {t['chi2_scaled']:.3f}, df = {int(t['df'])}, CFI.sc = {t['cfi_scaled']:.3f}, "
                   f"RMSEA.sc = {t['rmsea_scaled']:.3f}, SRMR = {t['srmr']:.3f}; against the previous step dchi2 = "
                   f"{t['chi2_diff']:.3f} (df {int(t['df_diff'])}, {_p(t['pvalue'])}), dCFI = {t['d_cfi']:.3f}, "
                   f"dRMSEA = {t['d_rmsea']:.3f}, dSRMR = {t['d_srmr']:.3f}: Chen {'holds' if t['chen'] else 'fails'}")
        out.append(f"  suggested: --group-partial \"{','.join(pa['suggested_partial'])}\"")
    elif rel is not None:
        out.append("  no equality of the failed step has a significant score test (p < .05)")
    if pa.get("note"):
        out.append("  " + pa["note"])
    return out
