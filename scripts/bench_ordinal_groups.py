"""Multiple-group WLSMV speed, side by side with lavaan: psych::bfi by gender (25 six-point items,
complete cases, n = 2436: 805 male, 1631 female), the five-factor model.

    PYTHONPATH=. python scripts/bench_ordinal_groups.py [--no-r] [--repeat 2]

Measures, on one process (after import):
1. the configural WLSMV fit (``smsem.fit(..., ordered=True, group="gender")`` vs lavaan's
   ``cfa(model, data, ordered = TRUE, group = "gender", estimator = "WLSMV")``);
2. the Wu & Estabrook invariance sequence: four fits and three difference tests
   (``smsem.estimate.categorical.invariance.ordinal_invariance`` vs semTools'
   ``measEq.syntax(ID.cat = "Wu.Estabrook.2016")`` fitted by lavaan + ``lavTestLRT``);
and prints the ratios. The load average is printed: on a shared machine every figure slows down.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "reference" / "lavaan_wlsmv_groups" / "bfi25_gender.csv"
MODEL = "\n".join(f"{k}f =~ " + " + ".join(f"{k}{i}" for i in range(1, 6)) for k in "ACENO") + "\n"

R_SCRIPT = r"""
suppressMessages({library(lavaan); library(semTools)})
args <- commandArgs(TRUE)
d <- read.csv(args[1]); m <- paste(readLines(args[2]), collapse = "\n")
ord <- setdiff(names(d), "gender")
t_conf <- system.time(cfa(m, d, ordered = TRUE, group = "gender", estimator = "WLSMV"))[["elapsed"]]
steps <- list("configural", "thresholds", c("thresholds", "loadings"), c("thresholds", "loadings", "intercepts"))
t_seq <- system.time({
  fits <- lapply(steps, function(ge) {
    s <- measEq.syntax(m, data = d, ordered = ord, parameterization = "delta", ID.fac = "std.lv",
                       ID.cat = "Wu.Estabrook.2016", group = "gender", group.equal = ge)
    cfa(as.character(s), data = d, ordered = ord, group = "gender", estimator = "WLSMV")
  })
  for (k in 2:4) lavTestLRT(fits[[k - 1]], fits[[k]])
})[["elapsed"]]
cat(t_conf, t_seq, "\n")
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--no-r", action="store_true", help="skip lavaan")
    ap.add_argument("--repeat", type=int, default=2, help="best of N for smsem (default 2)")
    a = ap.parse_args()
    import smsem
    from smsem.estimate.categorical.invariance import ordinal_invariance

    d = pd.read_csv(DATA)
    with tempfile.TemporaryDirectory() as tmp:
        lav = Path(tmp) / "bfi5.lav"
        lav.write_text(MODEL)
        model = smsem.load_model(str(lav))
        print(f"load average {os.getloadavg()[0]:.2f}; bfi by gender: n = {len(d)}", flush=True)
        best_conf = best_seq = float("inf")
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            smsem.fit(model, d, ordered=True, group="gender")
            best_conf = min(best_conf, time.perf_counter() - t0)
            t0 = time.perf_counter()
            inv = ordinal_invariance(model, d, "gender")
            best_seq = min(best_seq, time.perf_counter() - t0)
        print(f"smsem  configural WLSMV fit {best_conf:7.2f} s; Wu-Estabrook sequence (4 fits + 3 LRT) "
              f"{best_seq:7.2f} s; verdict: {inv.highest}", flush=True)
        if a.no_r or shutil.which("Rscript") is None:
            return
        rs = Path(tmp) / "bench.R"
        rs.write_text(R_SCRIPT)
        out = subprocess.run(["Rscript", str(rs), str(DATA), str(lav)], capture_output=True, text=True, check=True)
        t_conf, t_seq = map(float, out.stdout.split())
        print(f"lavaan configural WLSMV fit {t_conf:7.2f} s; measEq sequence (4 fits + 3 lavTestLRT) {t_seq:7.2f} s")
        print(f"ratio lavaan / smsem: configural {t_conf / best_conf:.1f}x, sequence {t_seq / best_seq:.1f}x; "
              f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
