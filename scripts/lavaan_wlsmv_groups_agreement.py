"""Largest differences between smsem's multiple-group ordinal fits and lavaan's references.

    PYTHONPATH=. python scripts/lavaan_wlsmv_groups_agreement.py [CASE ...]

Reads tests/reference/lavaan_wlsmv_groups/ (scripts/lavaan_wlsmv_groups_reference.R) and prints,
per case: the largest absolute difference of the estimates (thresholds, scaling factors and
means included) and of std.all, the largest relative difference of the SEs, the relative
difference of chi2 and of the scaled chi2, the largest absolute difference of lavaan's robust
CFI/TLI/RMSEA (+ CI, p) and whether they are NA exactly where lavaan's are; per Wu-Estabrook sequence: the largest relative
difference of the scaled chi2 over the steps and of lavTestLRT's difference statistic.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
REF = ROOT / "tests" / "reference" / "lavaan_wlsmv_groups"
HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
BFI = "\n".join(f"{k}f =~ " + " + ".join(f"{k}{i}" for i in range(1, 6)) for k in "ACENO") + "\n"
CASES = ["hs_configural", "hs_thresholds", "hs_thr_load", "hs_thr_load_int", "hs_partial", "hs_stdlv_thr_load", "hs_residuals", "hs_means", "hs_lv_var", "hs_structural", "hs_labels", "hs_theta_configural", "hs_theta_thr_load", "hs_theta_strict", "hs_pairwise",
         "hs_ulsmv", "hs_dwls", "bfi_configural", "bfi_thr_load"]
SEQS = {"hs_we": "hs_cut4_school.csv", "hs3_we": "hs_cut3_school.csv", "bfi_we": "bfi25_gender.csv",
        "hs_we_theta": "hs_cut4_school.csv", "hs_we_partial": "hs_cut4_school.csv"}
STEPS = {"configural": (), "thresholds": ("thresholds",), "loadings": ("thresholds", "loadings"),
         "intercepts": ("thresholds", "loadings", "intercepts")}


def main(argv: list[str]) -> None:
    from smsem.estimate.categorical.multigroup import difference_test, fit_ordinal_multigroup

    only = set(argv)
    for case in CASES:
        if only and case not in only:
            continue
        m = json.loads((REF / f"{case}.meta.json").read_text())
        bfi = case.startswith("bfi")
        d = pd.read_csv(REF / ("bfi25_gender.csv" if bfi else "hs_cut4_school_na.csv" if case == "hs_pairwise"
                               else "hs_cut4_school.csv"))
        model = BFI if bfi else HS + ("textual ~ visual\nspeed ~ textual + visual\n" if case == "hs_structural" else "")
        if case == "hs_labels":
            model = HS.replace("x2", "c(a, a)*x2", 1)
        res = fit_ordinal_multigroup(model, d, m["group"], estimator=m["estimator"],
                                     group_equal=m["group_equal"], group_partial=m["group_partial"],
                                     std_lv=m["std_lv"], parameterization=m.get("parameterization", "delta"),
                                     missing=m.get("missing", "listwise"))
        pt = pd.read_csv(REF / f"{case}_partable.csv", keep_default_na=False, na_values=[""])
        pt = pt[pt["op"] != "=="].copy()
        pt["rhs"] = pt["rhs"].fillna("")
        j = pt.merge(res.params, on=["lhs", "op", "rhs", "group"], suffixes=("", "_s"))
        fr = j[j["free"] > 0]
        fm = pd.to_numeric(pd.read_csv(REF / f"{case}_fit.csv").set_index("measure")["value"], errors="coerce")
        fi = res.fit_indices
        sc = abs(fi["chi2_scaled"] / fm["chisq.scaled"] - 1) if "chi2_scaled" in fi else float("nan")
        rob = [abs(fi[k] - fm[k.replace("_robust", ".robust").replace("_", ".")]) for k in
               ("cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust", "rmsea_ci_upper_robust",
                "rmsea_pvalue_robust") if k in fi and np.isfinite(fi[k])]
        nan_ok = all(np.isnan(fi[k]) == np.isnan(fm[k.replace("_robust", ".robust").replace("_", ".")]) for k in
                     ("cfi_robust", "rmsea_robust") if k in fi)
        print(f"{case:<20} robust {max(rob) if rob else float('nan'):.1e} (NA as lavaan: {nan_ok})  est {np.max(np.abs(j['est_s'] - j['est'])):.1e}  std.all "
              f"{np.nanmax(np.abs(j['std_all'] - j['std.all'])):.1e}  se rel {np.max(np.abs(fr['se_s'] / fr['se'] - 1)):.1e}"
              f"  chi2 rel {abs(fi['chi2'] / fm['chisq'] - 1):.1e}  scaled rel {sc:.1e}  df {fi['df']:.0f}/{fm['df']:.0f}",
              flush=True)
    for seq, data in SEQS.items():
        if only and seq not in only:
            continue
        bfi = seq.startswith("bfi")
        d = pd.read_csv(REF / data)
        theta = seq.endswith("_theta")
        steps_ = dict(STEPS, **({"residuals": ("thresholds", "loadings", "intercepts", "residuals")} if theta else {}))
        fits = {s: fit_ordinal_multigroup(BFI if bfi else HS, d, "gender" if bfi else "school", group_equal=ge,
                                          wu_estabrook=True, parameterization="theta" if theta else "delta",
                                          group_partial=["visual=~x2"] if seq == "hs_we_partial" else [])
                for s, ge in steps_.items()}
        steps = pd.read_csv(REF / f"{seq}_steps.csv").set_index("step")
        lrt = pd.read_csv(REF / f"{seq}_lrt.csv").set_index("step")
        sc = max(abs(f.fit_indices["chi2_scaled"] / steps.loc[s, "chisq.scaled"] - 1) for s, f in fits.items())
        names = list(steps_)
        dl = []
        for a, b in zip(names[:-1], names[1:]):
            t = difference_test(fits[a], fits[b])
            if t["df_diff"] > 0:
                dl.append(abs(t["chi2_diff"] / lrt.loc[b, "chisq_diff"] - 1))
        print(f"{seq:<20} scaled chi2 rel ({len(fits)} steps) {sc:.1e}  lavTestLRT rel {max(dl):.1e}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
