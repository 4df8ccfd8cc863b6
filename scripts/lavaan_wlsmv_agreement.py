"""Measured agreement of smsem's ordinal fits with lavaan 0.6.14 (tests/reference/lavaan_wlsmv/).

Run from the repository root:  python scripts/lavaan_wlsmv_agreement.py
Prints, per case, the largest differences: estimates and thresholds (absolute), SEs
(relative), std.all (absolute), chi2 statistics (relative), fit indices (absolute), and the
fit time of smsem (best of 3, warm) beside lavaan's (recorded in <case>.meta.json).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import smsem  # noqa: E402
from smsem.estimate.categorical.fit import fit_ordinal  # noqa: E402
from test_wlsmv import BFI, CASES, FIT, HS, HS_DEFINED, ORD, REF, STATS  # noqa: E402


ROBUST = ("cfi_robust", "tli_robust", "rmsea_robust", "rmsea_ci_lower_robust", "rmsea_ci_upper_robust",
          "rmsea_pvalue_robust")


def main() -> int:
    tmp = Path(tempfile.mkdtemp())
    (tmp / "hs.lav").write_text(HS)
    (tmp / "bfi.lav").write_text(BFI)
    for name in CASES:
        meta = json.loads((REF / f"{name}.meta.json").read_text())
        if name == "hs_stdlv_rescov":
            (tmp / "hs2.lav").write_text(HS + "x1 ~~ x4\n")
            model, data = smsem.load_model(str(tmp / "hs2.lav")), pd.read_csv(ORD / "hs_cut4.csv")
        elif name == "hs_defined":
            (tmp / "hs3.lav").write_text(HS + HS_DEFINED)
            model, data = smsem.load_model(str(tmp / "hs3.lav")), pd.read_csv(ORD / "hs_cut4.csv")
        elif name.startswith("hs"):
            model, data = smsem.load_model(str(tmp / "hs.lav")), pd.read_csv(ORD / "hs_cut4.csv")
        elif name.startswith("bfi"):
            model, data = smsem.load_model(str(tmp / "bfi.lav")), pd.read_csv(ORD / "bfi25.csv")
        else:
            model = smsem.load_model("integrative")
            data = pd.read_csv(ROOT / "data/synthetic/integrative_n300_seed1.csv")
        kw = dict(ordered=True, estimator=meta["estimator"], missing=meta["missing"],
                  parameterization=meta["parameterization"], std_lv=meta["std_lv"])
        res = fit_ordinal(model, data, **kw)
        ts = []
        for _ in range(3):
            t0 = time.perf_counter()
            fit_ordinal(model, data, **kw)
            ts.append(time.perf_counter() - t0)
        pt = pd.read_csv(REF / f"{name}_partable.csv")
        fm = pd.read_csv(REF / f"{name}_fit.csv")
        fm = dict(zip(fm.measure, pd.to_numeric(fm.value, errors="coerce")))
        free = pt.free.to_numpy() > 0
        p = res.params
        d_est = np.max(np.abs(p.est.to_numpy() - pt.est.to_numpy()))
        d_se = np.max(np.abs(p.se.to_numpy()[free] / pt.se.to_numpy()[free] - 1))
        d_std = np.max(np.abs(p.std_all.to_numpy() - pt["std.all"].to_numpy()))
        d_chi = max(abs(res.fit_indices[k] / fm[FIT[k]] - 1) for k in STATS if k in res.fit_indices)
        d_idx = max(abs(res.fit_indices[k] - fm[v]) for k, v in FIT.items()
                    if k not in STATS and k in res.fit_indices and np.isfinite(fm.get(v, np.nan)))
        rob = [abs(res.fit_indices[k] - fm[k.replace("_", ".")]) for k in ROBUST
               if k in res.fit_indices and np.isfinite(fm.get(k.replace("_", "."), np.nan))]
        d_rob = f"{max(rob):.1e}" if rob else "  -    "
        print(f"{name:18s} {meta['estimator']:5s} n={meta['nobs']:5d}  est {d_est:.1e}  se(rel) {d_se:.1e}  "
              f"std.all {d_std:.1e}  chi2(rel) {d_chi:.1e}  indices {d_idx:.1e}  robust {d_rob}  "
              f"time smsem {min(ts):.3f} s / lavaan {meta['seconds']:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
