"""Agreement of the covariate (conditional.x) fits with lavaan 0.6.14 and their speed (docs/ordinal.md table):

    PYTHONPATH=. python scripts/lavaan_wlsmv_covariates_agreement.py [--r-repeat 3]

For every reference case of scripts/lavaan_wlsmv_covariates_reference.R: the largest differences
(estimates and thresholds absolute, SEs relative, std.all absolute, chi2 statistics relative, other
indices absolute, wls.obs absolute, gamma relative to its largest entry) and the fit times: smsem
best of 3 warm fits in this process; lavaan best of ``--r-repeat`` ``sem()`` calls in one Rscript
(when Rscript is present; otherwise the one call recorded in <case>.meta.json). hs_mixed_cov is
left out: lavaan stops two of its polyserial correlations at its bound (tests/test_ordinal_covariates.py).
The load average is printed: on the shared machine every figure slows down.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import smsem  # noqa: E402
from smsem.estimate.categorical.fit import fit_ordinal  # noqa: E402
from test_ordinal_covariates import FIT, MODELS, REF, STATS  # noqa: E402

R_TIME = r"""
suppressMessages(library(lavaan))
a <- commandArgs(TRUE)
d <- read.csv(a[1]); model <- readLines(a[2]); ord <- strsplit(a[3], ",")[[1]]
est <- a[4]; param <- a[5]; k <- as.integer(a[6]); stdlv <- a[7] == "true"
ts <- sapply(seq_len(k), function(i) system.time(sem(model, data = d, ordered = ord, estimator = est,
                                                    parameterization = param, std.lv = stdlv))[["elapsed"]])
cat(min(ts), "\n")
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--r-repeat", type=int, default=3)
    args = ap.parse_args()
    rscript = shutil.which("Rscript")
    tmp = Path(tempfile.mkdtemp())
    (tmp / "t.R").write_text(R_TIME)
    print(f"load average {os.getloadavg()[0]:.1f}")
    print("| case | n | est (abs) | SE (rel) | std.all (abs) | chi2 stats (rel) | indices (abs) | wls.obs (abs) "
          "| gamma (rel) | smsem | lavaan |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, text in MODELS.items():
        if name == "hs_mixed_cov":
            continue
        meta = json.loads((REF / f"{name}.meta.json").read_text())
        (tmp / "m.lav").write_text(text)
        model = smsem.load_model(str(tmp / "m.lav"))
        csv = REF / ("bfi_cov.csv" if name.startswith("bfi") else "hs_cov.csv")
        data = pd.read_csv(csv)
        ordered = [v for v in meta["ordered"] if v in text]
        kw = dict(ordered=ordered, estimator=meta["estimator"], parameterization=meta["parameterization"],
                  std_lv=meta.get("std_lv", False))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fit_ordinal(model, data, **kw)
            ts = []
            for _ in range(3):
                t0 = time.perf_counter()
                fit_ordinal(model, data, **kw)
                ts.append(time.perf_counter() - t0)
        pt = pd.read_csv(REF / f"{name}_partable.csv")
        pt["rhs"] = pt["rhs"].fillna("")
        fm = pd.read_csv(REF / f"{name}_fit.csv")
        fm = dict(zip(fm.measure, pd.to_numeric(fm.value, errors="coerce")))
        m = pt.merge(res.params.assign(rhs=res.params.rhs.fillna("")), on=["lhs", "op", "rhs"], suffixes=("_l", ""))
        free = m.se_l > 0
        de = np.max(np.abs(m.est - m.est_l))
        dse = np.max(np.abs(m.se[free] / m.se_l[free] - 1))
        dstd = np.nanmax(np.abs(m.std_all - m["std.all"]))
        fi = res.fit_indices
        dchi = max(abs(fi[k] / fm[FIT[k]] - 1) for k in STATS if k in fi and np.isfinite(fm[FIT[k]]))
        didx = max(abs(fi[k] - fm[v]) for k, v in FIT.items()
                   if k not in STATS and k in fi and np.isfinite(fm.get(v, np.nan)))
        w = pd.read_csv(REF / f"{name}_wls_obs.csv")["value"].to_numpy()
        g = pd.read_csv(REF / f"{name}_gamma.csv").to_numpy()
        dw = np.max(np.abs(res.sample_stats.wls_obs.to_numpy() - w))
        dg = np.max(np.abs(res.sample_stats.nacov.to_numpy() - g)) / np.max(np.abs(g))
        lav = meta["seconds"]
        if rscript:
            (tmp / "model.lav").write_text(text)
            out = subprocess.run([rscript, str(tmp / "t.R"), str(csv), str(tmp / "model.lav"), ",".join(ordered),
                                  meta["estimator"], meta["parameterization"], str(args.r_repeat),
                                  "true" if meta.get("std_lv") else "false"],
                                 capture_output=True, text=True, check=True)
            lav = float(out.stdout.split()[0])
        label = f"{name} ({meta['estimator']}, {meta['parameterization']})"
        print(f"| {label} | {int(meta['nobs'])} | {de:.1e} | {dse:.1e} | {dstd:.1e} | {dchi:.1e} | {didx:.1e} | "
              f"{dw:.1e} | {dg:.1e} | {min(ts):.3f} s | {lav:.3f} s ({lav / min(ts):.1f}x) |")


if __name__ == "__main__":
    main()
