"""Speed of the whole invariance sequence: the integrative model (models/integrative.lav),
two departments of n = 300 (tests/reference/lavaan_invariance/integrative_two_departments.csv),
configural -> metric -> scalar -> strict with the nested tests (and, when a step fails, the
score tests and partial refits), smsem against lavaan 0.6.14 in the same process run.

    PYTHONPATH=. python scripts/bench_invariance.py [--repeat 3] [--estimator ML|MLR] [--no-r] [--boot N]

``--boot N``: the stratified bootstrap of the configural fit, batched (N draws) and one draw
at a time (min(N, 50) draws), side by side, and the one-group batched bootstrap per draw.

smsem: ``smsem.invariance.invariance`` after import and one warm-up call, best of
``--repeat``. lavaan: ``Rscript`` fits the four steps with ``sem(..., group = "department",
group.equal = ...)`` and calls ``lavTestLRT``, timed inside R (``system.time``, R start-up
and ``library(lavaan)`` excluded), best of ``--repeat``. Prints both and the ratio, and the
machine's load average (a shared machine slows both sides).
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT / "tests" / "reference" / "lavaan_invariance" / "integrative_two_departments.csv"
MODEL = ROOT / "models" / "integrative.lav"

R_CODE = r"""
suppressPackageStartupMessages(library(lavaan))
d <- read.csv("{data}")
m <- paste(readLines("{model}"), collapse = "\n")
steps <- list("", "loadings", c("loadings", "intercepts"), c("loadings", "intercepts", "residuals"))
best <- Inf
for (r in 1:{repeat}) {{
  t <- system.time({{
    fits <- lapply(steps, function(ge) sem(m, data = d, group = "department", group.equal = ge,
                                           estimator = "{estimator}"))
    lrt <- lavTestLRT(fits[[1]], fits[[2]], fits[[3]], fits[[4]])
  }})[["elapsed"]]
  best <- min(best, t)
}}
cat(best, "\n")
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--estimator", default="ML", choices=["ML", "MLM", "MLR"])
    ap.add_argument("--no-r", action="store_true", help="skip lavaan")
    ap.add_argument("--boot", type=int, default=0,
                    help="also time N stratified bootstrap draws of the configural ML fit (per-draw time)")
    args = ap.parse_args()
    import pandas as pd

    t0 = time.perf_counter()
    from smsem.invariance import invariance

    t_import = time.perf_counter() - t0
    data = pd.read_csv(DATA)
    model = MODEL.read_text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        inv = invariance(model, data, "department", estimator=args.estimator)  # warm-up
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            inv = invariance(model, data, "department", estimator=args.estimator)
            times.append(time.perf_counter() - t)
    ours = min(times)
    print(f"load average: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    print(f"smsem invariance ({args.estimator}, integrative model, 2 x 300): best of {args.repeat} = {ours:.3f} s "
          f"(import {t_import:.2f} s; verdict: {inv.highest}; partial search: "
          f"{'yes' if inv.released is not None else 'no'})")
    if args.boot:
        import numpy as np

        from smsem import fit
        from smsem.bootstrap import bootstrap
        from smsem.estimate.multigroup import fit_multigroup, stratified_bootstrap

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = fit_multigroup(model, data, "department")
            stratified_bootstrap(res, 8, seed=1)  # warm-up
            boot = stratified_bootstrap(res, args.boot, seed=1)
            n_one = min(args.boot, 50)
            one = stratified_bootstrap(res, n_one, seed=1, batched=False)
            from smsem import load_model

            single = fit(load_model(str(MODEL)), data.drop(columns=["department"]))
            t = time.perf_counter()
            sb = bootstrap(single, n_boot=args.boot, seed=1, progress=False)
            t_single = (time.perf_counter() - t) / args.boot
        same = np.isfinite(one.estimates).all(axis=1)
        diff = np.abs(stratified_bootstrap(res, n_one, seed=1).estimates[same] - one.estimates[same]).max()
        print(f"stratified bootstrap (configural ML fit, resampled within departments):")
        print(f"  batched        {args.boot} draws: {1e3 * boot.seconds_per_draw:.2f} ms per draw, "
              f"{boot.n_failed} failed")
        print(f"  one at a time  {n_one} draws: {1e3 * one.seconds_per_draw:.2f} ms per draw "
              f"(ratio {one.seconds_per_draw / boot.seconds_per_draw:.1f}x); max |batched - one at a time| "
              f"on the same draws {diff:.1e}")
        print(f"one-group batched ML bootstrap (same 600 respondents pooled, smsem.bootstrap, {args.boot} draws): "
              f"{1e3 * t_single:.2f} ms per draw ({sb.n_failed} failed); stratified / one-group = "
              f"{boot.seconds_per_draw / t_single:.1f}")
    if args.no_r or shutil.which("Rscript") is None:
        return 0
    with tempfile.NamedTemporaryFile("w", suffix=".R", delete=False) as fh:
        fh.write(R_CODE.format(data=DATA, model=MODEL, repeat=args.repeat, estimator=args.estimator))
        script = fh.name
    try:
        out = subprocess.run(["Rscript", script], capture_output=True, text=True, check=True).stdout
    finally:
        os.unlink(script)
    lav = float(out.split()[-1])
    print(f"lavaan 0.6.14 (4 fits + lavTestLRT): best of {args.repeat} = {lav:.3f} s")
    print(f"ratio smsem / lavaan = {ours / lav:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
