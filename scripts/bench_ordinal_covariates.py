"""Speed of the covariate (conditional.x) model: one WLSMV fit and the bootstrap per draw, smsem
against lavaan 0.6.14 (through Rscript when present).

    PYTHONPATH=. python scripts/bench_ordinal_covariates.py [--boot 100] [--r-boot 20]

Model: HolzingerSwineford1939 cut into 4 categories, three factors, ``visual ~ sex + ageyr;
textual ~ ageyr`` (tests/reference/lavaan_condx/hs_cov.csv, n = 301). smsem: best of 3 warm fits,
then ``bootstrap_ordinal(res, B)`` (every draw's conditional statistics and refit); lavaan:
``sem(..., ordered = x1..x9)`` best of 3, and ``sem(..., estimator = "DWLS", se = "bootstrap",
bootstrap = R)`` divided by R (the issue's measure of lavaan's WLSMV bootstrap). The load average
is printed: on the shared machine every figure slows down.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import smsem  # noqa: E402
from smsem.estimate.categorical.bootstrap import bootstrap_ordinal  # noqa: E402
from smsem.estimate.categorical.fit import fit_ordinal  # noqa: E402

MODEL = ("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
         "visual ~ sex + ageyr\ntextual ~ ageyr\n")
DATA = ROOT / "tests" / "reference" / "lavaan_condx" / "hs_cov.csv"
R = r"""
suppressMessages(library(lavaan))
a <- commandArgs(TRUE); d <- read.csv(a[1]); m <- readLines(a[2]); nb <- as.integer(a[3])
ord <- paste0("x", 1:9)
tf <- min(sapply(1:3, function(i) system.time(sem(m, data = d, ordered = ord))[["elapsed"]]))
set.seed(1)
tb <- system.time(sem(m, data = d, ordered = ord, estimator = "DWLS", se = "bootstrap", bootstrap = nb))[["elapsed"]]
cat(tf, tb / nb, "\n")
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--boot", type=int, default=100)
    ap.add_argument("--r-boot", type=int, default=20)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}")
    tmp = Path(tempfile.mkdtemp())
    (tmp / "m.lav").write_text(MODEL)
    model = smsem.load_model(str(tmp / "m.lav"))
    data = pd.read_csv(DATA)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_ordinal(model, data, ordered=True)
        fits = []
        for _ in range(3):
            t0 = time.perf_counter()
            fit_ordinal(model, data, ordered=True)
            fits.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        bs = bootstrap_ordinal(res, args.boot, seed=1)
        per_draw = (time.perf_counter() - t0) / args.boot
    print(f"smsem: fit {min(fits):.3f} s; bootstrap {per_draw * 1000:.1f} ms per draw ({bs.n_ok} of {args.boot} usable)")
    rscript = shutil.which("Rscript")
    if rscript:
        (tmp / "t.R").write_text(R)
        out = subprocess.run([rscript, str(tmp / "t.R"), str(DATA), str(tmp / "m.lav"), str(args.r_boot)],
                             capture_output=True, text=True, check=True).stdout.split()
        tf, tb = float(out[0]), float(out[1])
        print(f"lavaan: fit {tf:.3f} s; bootstrap {tb * 1000:.1f} ms per draw ({args.r_boot} draws)")
        print(f"ratio: fit {tf / min(fits):.1f}x, bootstrap per draw {tb / per_draw:.1f}x")


if __name__ == "__main__":
    main()
