"""Print smsem's largest deviations from the committed lavaan reference values.

    PYTHONPATH=.:tests python scripts/lavaan_compare.py

One line per reference case: max |est diff|, max relative SE diff, max |std.all diff|,
max relative std.all SE diff, relative chi2 diff, max |diff| over CFI/TLI/RMSEA(+CI)/SRMR,
and for MLM and MLR the relative diff of the scaled chi2.
(The tests in tests/test_lavaan_*.py assert the tolerances; this script reports margins.)

    PYTHONPATH=.:tests python scripts/lavaan_compare.py --margins

prints instead, for every quantity the tests compare, its largest difference over the cases,
and the case where it occurs (the tolerances, ``tests/lavaan_ref.TOL``, are about 100x these).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from lavaan_ref import TOL, fit_measures, margins, match, params, rel_err, smsem_fit, std  # noqa: E402

CASES = ["poldem_ml", "poldem_mlm", "hs_ml", "hs_mlm", "integrative_ml", "integrative_mlm", "integrative_fiml",
         "covariates_ml", "covariates_mlm", "covariates_fiml", "covariates_random_ml",
         "integrative_mlr", "integrative_fiml_mlr", "covariates_mlr", "covariates_fiml_mlr"]

if "--margins" in sys.argv[1:]:
    import pandas as pd

    # covariates_random_ml's std SEs, logl and AIC/BIC differ by design (fixed.x; not compared).
    table = pd.DataFrame({c: margins(c) for c in CASES}).T
    table.loc["covariates_random_ml", ["std_se", "std_ci", "logl", "unrestricted_logl", "aic", "bic", "bic2"]] = np.nan
    for q in table.columns:
        col = table[q].dropna()
        print(f"{q:26s} {col.max():9.2e}  {col.idxmax():22s}")  # tolerances: tests/lavaan_ref.TOL
    sys.exit(0)

print(f"{'case':20s} {'est':>9s} {'se_rel':>9s} {'std_all':>9s} {'stdse_rel':>9s} {'chi2_rel':>9s} {'indices':>9s} "
      f"{'scaled_rel':>10s}")
for case in CASES:
    res = smsem_fit(case)
    j = match(res.params, params(case))
    free = j.se_lav > 0
    ref = std(case)
    ref = ref[ref.type == "std.all"].drop(columns="type")
    s = match(res.standardized[["lhs", "op", "rhs", "std_all", "std_all_se"]], ref)
    pos = s.se > 1e-6
    fi, fm = res.fit_indices, fit_measures(case)
    idx = max(abs(fi[a] - fm[b]) for a, b in (("cfi", "cfi"), ("tli", "tli"), ("rmsea", "rmsea"),
                                                ("rmsea_ci_lower", "rmsea.ci.lower"),
                                                ("rmsea_ci_upper", "rmsea.ci.upper"), ("srmr", "srmr")))
    # Scaled chi2 (MLM, MLR): relative difference of the scaled statistic.
    scaled = f"{rel_err(fi['chi2_scaled'], fm['chisq.scaled']):10.2e}" if "chi2_scaled" in fi else f"{'':10s}"
    print(f"{case:20s} {np.abs(j.est - j.est_lav).max():9.2e} {rel_err(j.se[free], j.se_lav[free]).max():9.2e} "
          f"{np.abs(s.std_all - s['est.std']).max():9.2e} {rel_err(s.std_all_se[pos], s.se[pos]).max():9.2e} "
          f"{rel_err(fi['chi2'], fm['chisq']):9.2e} {idx:9.2e} {scaled}")
