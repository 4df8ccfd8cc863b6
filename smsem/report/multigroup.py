"""Text of a multiple-group fit and of the invariance sequence (lavaan's group-stacked layout)."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["render_multigroup_fit", "render_invariance", "render_path_differences"]


def _f(v: Any, nd: int = 3) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return str(v)
    if not math.isfinite(x):
        return ""
    return f"{x:.{nd}f}"


def _peq(v: Any) -> str:
    t = _p(v)
    return f"p {t}" if t.startswith("<") else f"p = {t}"


def _p(v: Any) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return ""
    if not math.isfinite(x):
        return ""
    return "< .001" if x < 0.001 else f"{x:.3f}"


_SECTIONS = (("=~", "Latent variables"), ("~", "Regressions"), ("~~", "Covariances / variances"),
             ("~1", "Intercepts"))


def render_multigroup_fit(res: Any) -> str:
    """lavaan-like summary: the groups and their n, the overall fit, then every group's block."""
    fi = res.fit_indices
    how = getattr(res, "estimator", "ML") + (", FIML" if getattr(res, "missing", "listwise") == "fiml" else "")
    out = [f"Multiple-group {how} fit: {res.ngroups} groups of {res.group!r}, N = {res.n}"
           + (f" ({res.n_dropped} row(s) dropped"
              f"{'' if getattr(res, 'missing', 'listwise') == 'fiml' else ', listwise'})" if res.n_dropped else ""),
           "  " + ", ".join(f"group {g + 1} [{lab}]: n = {n}" for g, (lab, n)
                            in enumerate(zip(res.group_labels, res.n_per_group))),
           f"  group.equal: {', '.join(res.group_equal) or 'none'}"
           + (f"; group.partial: {', '.join(res.group_partial)}" if res.group_partial else ""),
           "" if res.converged else "  WARNING: the fit did not converge; the numbers below are unreliable",
           "Overall fit (lavaan's multiple-group formulas)",
           f"  chi2 = {fi['chi2']:.3f}, df = {int(fi['df'])}, {_peq(fi['pvalue'])}",
           f"  CFI = {fi['cfi']:.3f}, TLI = {fi['tli']:.3f}, RMSEA = {fi['rmsea']:.3f} "
           f"[{fi['rmsea_ci_lower']:.3f}, {fi['rmsea_ci_upper']:.3f}], SRMR = {fi['srmr']:.3f}",
           f"  logl = {fi['logl']:.3f}, AIC = {fi['aic']:.3f}, BIC = {fi['bic']:.3f}, npar = {int(fi['npar'])}"]
    if "chi2_scaled" in fi:
        test = "Satorra-Bentler" if res.estimator == "MLM" else "Yuan-Bentler"
        out += [f"  {test} scaled: chi2 = {fi['chi2_scaled']:.3f}, df = {int(fi['df'])}, "
                f"{_peq(fi['pvalue_scaled'])}, scaling factor = {fi['scaling_factor']:.3f}",
                f"  CFI (scaled) = {fi['cfi_scaled']:.3f}, TLI (scaled) = {fi['tli_scaled']:.3f}, "
                f"RMSEA (scaled) = {fi['rmsea_scaled']:.3f} [{fi['rmsea_ci_lower_scaled']:.3f}, "
                f"{fi['rmsea_ci_upper_scaled']:.3f}]"
                + (f", RMSEA (robust) = {fi['rmsea_robust']:.3f}" if "rmsea_robust" in fi else "")]
    out.append("")
    p = res.params
    for g, lab in enumerate(res.group_labels, start=1):
        out.append(f"Group {g} [{lab}]:")
        block = p[p["group"] == g]
        for op, title in _SECTIONS:
            rows = block[block["op"] == op]
            if not len(rows):
                continue
            out.append(f"  {title}:")
            out.append(f"    {'':<22}{'est':>9}{'se':>8}{'z':>8}{'p':>8}{'std.all':>9}")
            for r in rows.itertuples():
                name = f"{r.lhs} {r.op} {r.rhs}".strip()
                if r.label:
                    name += f" ({r.label})"
                out.append(f"    {name:<22}{_f(r.est):>9}{_f(r.se):>8}{_f(r.z, 2):>8}{_p(r.pvalue):>8}"
                           f"{_f(r.std_all):>9}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def render_invariance(inv: Any) -> str:
    """The configural -> strict table, the nested tests, the changes against Chen's
    cut-offs and the verdict."""
    out = [f"Measurement invariance across {inv.ngroups} groups of {inv.group!r} "
           f"({', '.join(f'{a}: n = {n}' for a, n in zip(inv.group_labels, inv.n_per_group))})", ""]
    hdr = f"{'step':<11}{'chi2':>10}{'df':>5}{'p':>8}{'CFI':>7}{'TLI':>7}{'RMSEA':>7}{'90% CI':>15}{'SRMR':>7}"
    out.append(hdr)
    for row in inv.table.itertuples():
        ci = f"[{row.rmsea_ci_lower:.3f}, {row.rmsea_ci_upper:.3f}]"
        out.append(f"{row.step:<11}{row.chi2:>10.3f}{int(row.df):>5}{_p(row.pvalue):>8}{row.cfi:>7.3f}"
                   f"{row.tli:>7.3f}{row.rmsea:>7.3f}{ci:>15}{row.srmr:>7.3f}")
    robust_ = getattr(inv, "estimator", "ML") != "ML"
    if robust_:
        test = "Satorra-Bentler" if inv.estimator == "MLM" else "Yuan-Bentler"
        out += ["", f"{inv.estimator}: {test} scaled chi2; robust CFI, TLI, RMSEA (Brosseau-Savalei & Savalei)"]
        out.append(f"{'step':<11}{'chi2.sc':>10}{'df':>5}{'p':>8}{'scale':>7}{'CFI.r':>7}{'TLI.r':>7}{'RMSEA.r':>8}"
                   f"{'90% CI':>15}")
        for row in inv.table.itertuples():
            ci = f"[{row.rmsea_ci_lower_robust:.3f}, {row.rmsea_ci_upper_robust:.3f}]"
            out.append(f"{row.step:<11}{row.chi2_scaled:>10.3f}{int(row.df):>5}{_p(row.pvalue_scaled):>8}"
                       f"{row.scaling_factor:>7.3f}{row.cfi_robust:>7.3f}{row.tli_robust:>7.3f}{row.rmsea_robust:>8.3f}"
                       f"{ci:>15}")
        out += ["", f"Nested tests (lavTestLRT, scaled difference method = {inv.method}) and robust changes against "
                "Chen (2007): dCFI >= -.010 with dRMSEA <= .015 and dSRMR <= .030 (metric) / .010 (scalar, strict)"]
    else:
        out += ["", "Nested tests (lavTestLRT) and changes against Chen (2007): dCFI >= -.010 with "
                "dRMSEA <= .015 and dSRMR <= .030 (metric) / .010 (scalar, strict)"]
    out.append(f"{'step':<22}{'dchi2':>9}{'ddf':>5}{'p':>8}{'dCFI':>8}{'dRMSEA':>8}{'dSRMR':>8}  Chen")
    for row in inv.tests.itertuples():
        out.append(f"{row.comparison:<22}{row.chi2_diff:>9.3f}{int(row.df_diff):>5}{_p(row.pvalue):>8}"
                   f"{row.d_cfi:>8.3f}{row.d_rmsea:>8.3f}{row.d_srmr:>8.3f}  {'holds' if row.chen else 'fails'}")
    out += ["", f"Verdict: {inv.verdict}"]
    if inv.released is not None and len(inv.released):
        t = inv.partial_test
        out += ["", f"Partial invariance ({t['step']} step): equality constraints released one at a time, the largest "
                "univariate score test first (lavTestScore, p < .05), refitting each time:"]
        for r in inv.released.itertuples():
            out.append(f"  release {r.param:<16} score X2 = {r.X2:8.3f}, {_peq(r.pvalue)}")
        out.append(f"  refit: chi2 = {t['chi2']:.3f}, df = {int(t['df'])}, CFI = {t['cfi']:.3f}, "
                   f"RMSEA = {t['rmsea']:.3f}, SRMR = {t['srmr']:.3f}; against the previous step dchi2 = "
                   f"{t['chi2_diff']:.3f} (df {int(t['df_diff'])}, {_peq(t['pvalue'])}), dCFI = {t['d_cfi']:.3f}, "
                   f"dRMSEA = {t['d_rmsea']:.3f}, dSRMR = {t['d_srmr']:.3f}: Chen {'holds' if t['chen'] else 'fails'}")
        out.append(f"  suggested: --group-partial \"{','.join(inv.suggested_partial)}\"")
    elif inv.released is not None:
        out += ["", "Partial invariance: no equality of the failed step has a significant score test (p < .05)"]
    if inv.latent_means is not None:
        out += ["", f"Latent mean differences (from the {inv.latent_means_from}; group 1 fixed at 0; Wald 95% CI;"
                " '(intercept)': a factor predicted by others, the difference given its predictors):"]
        for r in inv.latent_means.itertuples():
            kind = "" if r.kind == "mean" else " (intercept)"
            out.append(f"  {r.lhs + kind:<20} {r.contrast:<20} {r.est:8.3f}  SE {r.se:.3f}  z {r.z:6.2f}  p {_p(r.pvalue):>6}  "
                       f"[{r.ci_lower:.3f}, {r.ci_upper:.3f}]")
    else:
        out += ["", "Latent mean differences: not reported (scalar invariance, full or partial, does not hold)"]
    return "\n".join(out) + "\n"


def render_path_differences(table: Any, boot: Any = None, level: float = 0.95) -> str:
    """The proposition table's group block: each proposition path's unstandardized estimate
    per group, the difference, its Wald test and the stratified bootstrap CI."""
    pct = f"{100 * level:g}%"
    head = ("Proposition paths by group (unstandardized; difference = group - reference; Wald z test"
            + (f"; stratified bootstrap {pct} percentile CI, {boot.n_boot} draws resampled within groups, "
               f"{boot.n_failed} failed" if boot is not None else "; no bootstrap (--boot N for CIs)") + ")")
    out = [head, f"  {'id':<6}{'path':<12}{'contrast':<22}{'ref':>8}{'group':>8}{'diff':>8}{'se':>7}{'z':>7}{'p':>8}"
           + (f"{pct + ' boot CI':>20}" if boot is not None else f"{pct + ' Wald CI':>20}")]
    for r in table.itertuples():
        lo, hi = (r.boot_ci_lower, r.boot_ci_upper) if boot is not None else (r.ci_lower, r.ci_upper)
        ci = f"[{_f(lo)}, {_f(hi)}]" if math.isfinite(lo) else "(equal by constraint)"
        out.append(f"  {r.id:<6}{r.path:<12}{r.contrast:<22}{_f(r.est_ref):>8}{_f(r.est_group):>8}{_f(r.diff):>8}"
                   f"{_f(r.se):>7}{_f(r.z, 2):>7}{_p(r.pvalue):>8}{ci:>20}")
    if not len(table):
        out.append("  (no regression path in the model)")
    return "\n".join(out) + "\n"
