"""Plant known bugs one at a time and check that the test suite catches each.

    python scripts/mutation_check.py            # every mutation (7 minutes on a loaded 2-core machine)
    python scripts/mutation_check.py srmr_implied_sd rmsea_ci_n_minus_1   # only these
    python scripts/mutation_check.py --list     # the mutations and the tests they run

The repository (package, tests, data, models, scripts) is copied once to a temporary
directory. For each mutation in ``MUTATIONS`` the script replaces one exact piece of
source text in the copy — the text must occur exactly once, otherwise the script stops
with an error, so a mutation never silently stops applying when the code changes — runs
the mutation's test files there with the copy first on ``PYTHONPATH`` (and checks that
``import smsem`` resolves to the copy), then restores the file. A mutation is *caught*
when pytest reports a failing test (exit code 1); a collection or usage error (exit code
2-5) counts as not caught, so a mutation that merely breaks imports proves nothing.

The table ``mutation | caught by`` names the first failing test; the last line reads
``caught N/M``. The exit status is 0 only when every mutation is caught.

To keep the run short each mutation lists the test files that cover its module (``-x``
stops at the first failure). Add a mutation for every convention a reviewer could get
wrong: one line in ``MUTATIONS`` with the file, the exact old and new text, the tests.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str       # path relative to the repository root
    old: str        # exact text; must occur exactly once in the file
    new: str
    tests: tuple[str, ...]
    why: str        # what a wrong implementation would look like


M = Mutation
MUTATIONS: list[Mutation] = [
    # --- the six of issue 18 -------------------------------------------------------------------
    M("bca_computes_bc", "smsem/bootstrap.py",
      "lo, hi = bca_ci(ok, self.estimate, self.jackknife, level)",
      "lo, hi = bca_ci(ok, self.estimate, None, level)",
      ("tests/test_bootstrap_ci.py",),
      "BootstrapResults.conf_int(method='bca') silently computing BC (no jackknife passed)"),
    M("jackknife_mean_over_n", "smsem/bootstrap.py",
      "mean = (colsum[None, :] - xi) / (n - 1)",
      "mean = (colsum[None, :] - xi) / n",
      ("tests/test_bootstrap_ci.py",),
      "the jackknife's leave-one-out mean divided by n instead of n - 1"),
    M("srmr_implied_sd", "smsem/estimate/fitindices.py",
      "    sd = np.sqrt(np.diag(s))\n    r = (s - sigma)",
      "    sd = np.sqrt(np.diag(sigma))\n    r = (s - sigma)",
      ("tests/test_lavaan_ml.py",),
      "SRMR standardized by the model-implied SDs instead of the sample SDs"),
    M("rmsea_ci_n_minus_1", "smsem/estimate/fitindices.py",
      "return math.sqrt(c_hat * lam_l / (n * df)), math.sqrt(c_hat * lam_u / (n * df))",
      "return math.sqrt(c_hat * lam_l / ((n - 1) * df)), math.sqrt(c_hat * lam_u / ((n - 1) * df))",
      ("tests/test_lavaan_ml.py",),
      "N - 1 instead of N in the RMSEA confidence interval"),
    M("ml_se_n_minus_1", "smsem/estimate/results.py",
      'srmr)\n    if estimator == "ML":\n        try:\n            return ind, np.linalg.inv(info) / n',
      'srmr)\n    if estimator == "ML":\n        try:\n            return ind, np.linalg.inv(info) / (n - 1)',
      ("tests/test_lavaan_ml.py",),
      "N - 1 instead of N in the ML standard errors"),
    M("mc_coverage_vs_estimate", "smsem/montecarlo/summary.py",
      'est["boot_covered"] = ((est["boot_lower"] <= est["pop"]) & (est["pop"] <= est["boot_upper"])',
      'est["boot_covered"] = ((est["boot_lower"] <= est["est"]) & (est["est"] <= est["boot_upper"])',
      ("tests/test_montecarlo.py",),
      "Monte Carlo bootstrap coverage counted around the estimate instead of the population value"),
    M("include_inadmissible_ignored", "smsem/bootstrap.py",
      "use = bf.ok | (include_inadmissible & np.isin(bf.status, (2, 3)))",
      "use = bf.ok",
      ("tests/test_bootstrap_ci.py",),
      "include_inadmissible ignored: inadmissible draws always dropped"),
    # --- fit indices ---------------------------------------------------------------------------
    M("cfi_untruncated", "smsem/estimate/fitindices.py",
      "    return 1.0 - t1 / t2", "    return 1.0 - (chi2 - df) / t2",
      ("tests/test_lavaan_core.py",),
      "CFI without lavaan's truncation at 0 of the model's excess chi2 (CFI > 1)"),
    M("tli_wrong_df", "smsem/estimate/fitindices.py",
      "t1 = chi2_b / df_b - chi2 / df", "t1 = chi2_b / df_b - chi2 / df_b",
      ("tests/test_lavaan_ml.py",), "TLI dividing the model chi2 by the baseline df"),
    M("rmsea_n_minus_1", "smsem/estimate/fitindices.py",
      "return math.sqrt(max(chi2 / (n * df) - c_hat / n, 0.0))",
      "return math.sqrt(max(chi2 / ((n - 1) * df) - c_hat / (n - 1), 0.0))",
      ("tests/test_lavaan_ml.py",), "RMSEA with N - 1 (semopy's convention) instead of lavaan's N"),
    M("srmr_without_diagonal", "smsem/estimate/fitindices.py",
      "idx = np.tril_indices(s.shape[0])", "idx = np.tril_indices(s.shape[0], -1)",
      ("tests/test_lavaan_ml.py",), "SRMR averaging the off-diagonal residuals only"),
    M("bic_log_n_minus_1", "smsem/estimate/fitindices.py",
      '"bic": -2 * logl + npar * math.log(n),', '"bic": -2 * logl + npar * math.log(n - 1),',
      ("tests/test_lavaan_ml.py",), "BIC penalty with log(N - 1)"),
    # --- robust estimators ---------------------------------------------------------------------
    M("gamma_n_minus_1", "smsem/estimate/robust.py",
      "z = d[:, r] * d[:, c]\n    z = z - z.mean(axis=0)\n    return z.T @ z / n\n",
      "z = d[:, r] * d[:, c]\n    z = z - z.mean(axis=0)\n    return z.T @ z / (n - 1)\n",
      ("tests/test_lavaan_core.py", "tests/test_lavaan_ml.py"), "ADF Gamma (MLM) with divisor N - 1"),
    M("mlr_meat_n_minus_1", "smsem/estimate/mlr.py",
      "b = scores.T @ scores / n", "b = scores.T @ scores / (n - 1)",
      ("tests/test_lavaan_mlr.py",), "Huber-White meat (MLR) with divisor N - 1"),
    M("fiml_se_n_minus_1", "smsem/estimate/fiml.py",
      "hess = hess_fn(z_n)\n            vcov = np.linalg.inv(hess) / n",
      "hess = hess_fn(z_n)\n            vcov = np.linalg.inv(hess) / (n - 1)",
      ("tests/test_lavaan_fiml.py",), "FIML SEs from the observed information over N - 1"),
    # --- standardized solution, effects, measurement quality ----------------------------------
    M("std_path_sd_ratio_inverted", "smsem/estimate/standardized.py",
      "all_[k] = v[k] * sd[b] / sd[a]", "all_[k] = v[k] * sd[a] / sd[b]",
      ("tests/test_lavaan_ml.py",), "std.all path scaled by sd(y)/sd(x) instead of sd(x)/sd(y)"),
    M("std_loading_without_item_sd", "smsem/estimate/standardized.py",
      "all_[k] = v[k] * sd[a] / sd[b]", "all_[k] = v[k] * sd[a]",
      ("tests/test_lavaan_ml.py",), "std.all loading not divided by the item's implied SD (std.lv)"),
    M("delta_se_ignores_covariances", "smsem/estimate/effects.py",
      'var = np.einsum("ij,jk,ik->i", jac, vcov, jac)', 'var = np.einsum("ij,jj,ij->i", jac, vcov, jac)',
      ("tests/test_effects.py",), "delta-method SE of an indirect effect ignoring the paths' covariances"),
    M("composite_reliability_trace", "smsem/estimate/quality.py",
      "return float(lam.sum() ** 2 * latent_var / np.asarray(cov, dtype=float).sum())",
      "return float(lam.sum() ** 2 * latent_var / np.trace(np.asarray(cov, dtype=float)))",
      ("tests/test_quality.py",), "CR (omega) over the items' total variance instead of the sum score's"),
    M("cronbach_alpha_factor", "smsem/estimate/quality.py",
      "return float(k / (k - 1) * (1 - np.trace(cov) / cov.sum()))",
      "return float((k - 1) / k * (1 - np.trace(cov) / cov.sum()))",
      ("tests/test_quality.py",), "Cronbach's alpha with (k - 1)/k"),
    M("htmt_means_swapped", "smsem/estimate/quality.py",
      "if geometric else float(np.mean(values))", "if not geometric else float(np.mean(values))",
      ("tests/test_quality.py",), "HTMT and HTMT2 (arithmetic vs geometric means) swapped"),
    # --- bootstrap CI formulas -----------------------------------------------------------------
    M("percentile_one_sided_alpha", "smsem/bootstrap.py",
      "    a = (1.0 - level) / 2\n", "    a = 1.0 - level\n",
      ("tests/test_bootstrap_ci.py",), "percentile bounds at alpha and 1 - alpha (a 90% interval for 95%)"),
    M("normal_ci_without_bias_correction", "smsem/bootstrap.py",
      "center = 2.0 * np.asarray(estimate) - np.nanmean(draws, axis=0)", "center = np.asarray(estimate)",
      ("tests/test_bootstrap_ci.py",), "normal interval centred on the estimate, bootstrap bias ignored"),
    M("bca_acceleration_power", "smsem/bootstrap.py",
      "den = 6.0 * np.nansum(d ** 2, axis=0) ** 1.5", "den = 6.0 * np.nansum(d ** 2, axis=0)",
      ("tests/test_bootstrap_ci.py",), "BCa acceleration without the 3/2 power in the denominator"),
    M("bc_z0_sign", "smsem/bootstrap.py",
      "below = (draws < estimate).sum(axis=0) + (draws <= estimate).sum(axis=0)",
      "below = (draws > estimate).sum(axis=0) + (draws >= estimate).sum(axis=0)",
      ("tests/test_bootstrap_ci.py",), "bias constant z0 from the share of draws above the estimate"),
    M("parametric_wishart_divisor", "smsem/bootstrap.py",
      "out[t] = w / job.n  # N-divided", "out[t] = w / (job.n - 1)  # N-divided",
      ("tests/test_bootstrap.py",), "parametric bootstrap covariances divided by N - 1"),
    # --- Monte Carlo summaries -----------------------------------------------------------------
    M("mc_wald_quantile_one_sided", "smsem/montecarlo/summary.py",
      "zc = stats.norm.ppf(0.5 + cfg.level / 2)", "zc = stats.norm.ppf(cfg.level)",
      ("tests/test_montecarlo.py",), "Wald coverage and width with the one-sided quantile"),
    M("mc_rel_bias_over_estimate", "smsem/montecarlo/summary.py",
      'out["rel_bias"] = out.bias / out["pop"].where(out["pop"] != 0)', 'out["rel_bias"] = out.bias / out.mean_est',
      ("tests/test_montecarlo.py",), "relative bias over the mean estimate instead of the population value"),
    M("mc_power_one_sided_alpha_halved", "smsem/montecarlo/summary.py",
      'stats.norm.isf(cfg.alpha)).astype(float)', 'stats.norm.isf(cfg.alpha / 2)).astype(float)',
      ("tests/test_montecarlo.py",), "one-sided power tested at alpha/2"),
    # --- diagnostic scoring --------------------------------------------------------------------
    M("diagnostic_no_prorating", "smsem/diagnostic/scoring.py",
      "total = np.nansum(x, axis=1) * instrument.n_items / answered", "total = np.nansum(x, axis=1)",
      ("tests/test_diagnostic.py", "tests/test_diagnostic_stats.py"),
      "a respondent with missing answers scored by the plain sum (not prorated)"),
    M("diagnostic_exclusion_off_by_one", "smsem/diagnostic/scoring.py",
      "excluded = n_missing > instrument.max_missing", "excluded = n_missing >= instrument.max_missing",
      ("tests/test_diagnostic.py", "tests/test_diagnostic_stats.py"),
      "respondents with exactly the allowed number of missing answers excluded"),
    M("diagnostic_band_boundary", "smsem/diagnostic/instrument.py",
      'np.searchsorted(lows, total, side="right")', 'np.searchsorted(lows, total, side="left")',
      ("tests/test_diagnostic.py", "tests/test_diagnostic_stats.py"),
      "a total equal to a band's lower bound put in the band below"),
    # --- the parameter table (lavaan's lavaanify defaults) ---------------------------------------
    M("partable_no_auto_cov_y", "smsem/model/partable.py",
      "if auto_cov_y and len(lvov_y) > 1:", "if False and auto_cov_y and len(lvov_y) > 1:",
      ("tests/test_partable.py",), "auto.cov.y off: dependent variables' residual covariances fixed at 0"),
    M("partable_no_auto_fix_single", "smsem/model/partable.py",
      "    if auto_var and auto_fix_single:", "    if False and auto_var and auto_fix_single:",
      ("tests/test_partable.py",), "a single indicator's residual variance left free (auto.fix.single off)"),
    M("partable_na_ignored", "smsem/model/partable.py",
      "        elif s.free:\n            r[\"ustart\"], r[\"free\"] = np.nan, 1",
      "        elif s.free:\n            pass",
      ("tests/test_partable.py",), "NA* ignored: the first loading stays fixed (the issue's df 27 vs 24)"),
    M("partable_fixed_x_free", "smsem/model/partable.py",
      'r["ustart"], r["free"], r["exo"] = np.nan, 0, 1', 'r["ustart"], r["free"], r["exo"] = np.nan, 1, 0',
      ("tests/test_partable.py",), "fixed.x covariates' (co)variances free (df and npar as fixed.x = FALSE)"),
    M("partable_growth_intercepts_free", "smsem/model/partable.py",
      "        int_ov_free = not growth", "        int_ov_free = True",
      ("tests/test_partable.py",), "growth(): observed intercepts free (lavaan fixes them at 0)"),
    M("partable_df_ignores_equalities", "smsem/model/partable.py",
      "return self.n_moments - fixed_moments - self.npar + self.n_equalities",
      "return self.n_moments - fixed_moments - self.npar",
      ("tests/test_partable.py",), "degrees of freedom not counting the equality constraints"),
    M("mi_phantom_covariance_unit", "smsem/estimate/diagnostics.py",
      "            u = lb[:, inner[a]]", "            u = np.eye(len(mx.observed))[obs[a]]",
      ("tests/test_diagnostics.py",),
      "modindices: a regressed indicator's covariance moves only its own Sigma cell (not what it predicts)"),
    M("ordinal_groups_weight_n", "smsem/estimate/categorical/multigroup.py",
      "    sq = [np.sqrt((n - 1.0) * wg) for n, wg in zip(nsa, w)]", "    sq = [np.sqrt(n * wg) for n, wg in zip(nsa, w)]",
      ("tests/test_ordinal_multigroup.py",), "multiple-group WLSMV: groups weighted by n_g instead of lavaan's n_g - 1"),
    M("ordinal_groups_vcov_n", "smsem/estimate/categorical/multigroup.py",
      "        vcov = Einv @ M @ Einv / (N - G)", "        vcov = Einv @ M @ Einv / N",
      ("tests/test_ordinal_multigroup.py",), "multiple-group WLSMV: robust vcov divided by N instead of N - G"),
    M("conditional_srmr_without_covariates", "smsem/estimate/categorical/conditional.py",
      "(p * (p - 1) / 2 + p + len(xs))", "(p * (p - 1) / 2 + p)",
      ("tests/test_ordinal_covariates.py",), "covariate (conditional.x) WLSMV: SRMR not counting the covariates as lavaan 0.6.14"),
]


def _copy_repo(dest: Path) -> None:
    ignore = shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.pyc", ".pytest_cache", ".hypothesis",
                                    "smsem-output", "*.egg-info", "build", "dist")
    for name in ("smsem", "tests", "scripts", "data", "models", "docs"):
        if (ROOT / name).exists():
            shutil.copytree(ROOT / name, dest / name, ignore=ignore)
    for name in ("pyproject.toml", "setup.cfg", "README.md"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy), str(copy / "tests")])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _check_import(copy: Path) -> None:
    out = subprocess.run([sys.executable, "-c", "import smsem, sys; sys.stdout.write(smsem.__file__)"],
                         capture_output=True, text=True, cwd=copy, env=_env(copy), check=True)
    if not Path(out.stdout).resolve().is_relative_to(copy.resolve()):
        sys.exit(f"import smsem resolved to {out.stdout}, not to the copy in {copy}")


def _apply(copy: Path, m: Mutation) -> str:
    path = copy / m.file
    text = path.read_text(encoding="utf-8")
    count = text.count(m.old)
    if count != 1:
        sys.exit(f"mutation {m.name}: the text to replace occurs {count} times in {m.file} (must be once):\n{m.old}")
    path.write_text(text.replace(m.old, m.new), encoding="utf-8")
    return text


def _run(copy: Path, m: Mutation, timeout: float) -> tuple[str, float]:
    # -n 0: in one process (setup.cfg's addopts start pytest-xdist workers, and -x under xdist
    # ends with exit code 2, "interrupted", instead of 1)
    cmd = [sys.executable, "-m", "pytest", "-n", "0", "-x", "-q", "-p", "no:cacheprovider", "-m", "not slow", "-rf",
           "--no-header", *m.tests]
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, cwd=copy, env=_env(copy), timeout=timeout)
    except subprocess.TimeoutExpired:
        return "NOT CAUGHT (timeout)", time.perf_counter() - t0
    dt = time.perf_counter() - t0
    if out.returncode == 1:
        hit = re.search(r"^FAILED (\S+)", out.stdout, re.M)
        return (hit.group(1) if hit else "a failing test"), dt
    if out.returncode == 0:
        return "NOT CAUGHT", dt
    tail = (out.stdout + out.stderr).strip().splitlines()[-1:]
    return f"NOT CAUGHT (pytest exit {out.returncode}: {' '.join(tail)[:80]})", dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help="run only these mutations")
    ap.add_argument("--list", action="store_true", help="list the mutations and exit")
    ap.add_argument("--timeout", type=float, default=600, help="seconds per mutation (default 600)")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        ap.error(f"unknown mutation(s): {', '.join(sorted(unknown))}")
    if args.list:
        for m in chosen:
            print(f"{m.name:32s} {m.file:36s} {' '.join(m.tests)}\n{'':32s} {m.why}")
        return 0
    width = max(len(m.name) for m in chosen)
    caught = 0
    with tempfile.TemporaryDirectory(prefix="smsem-mutation-") as tmp:
        copy = Path(tmp)
        _copy_repo(copy)
        _check_import(copy)
        # Every mutation must apply before any is run: fail loudly, not after ten minutes.
        for m in chosen:
            original = _apply(copy, m)
            (copy / m.file).write_text(original, encoding="utf-8")
        print(f"{'mutation':{width}s} | caught by")
        print(f"{'-' * width} | {'-' * 40}")
        for m in chosen:
            original = _apply(copy, m)
            try:
                _check_import(copy)
                result, dt = _run(copy, m, args.timeout)
            finally:
                (copy / m.file).write_text(original, encoding="utf-8")
            caught += not result.startswith("NOT CAUGHT")
            print(f"{m.name:{width}s} | {result}  ({dt:.0f} s)", flush=True)
    print(f"caught {caught}/{len(chosen)}")
    return 0 if caught == len(chosen) else 1


if __name__ == "__main__":
    sys.exit(main())
