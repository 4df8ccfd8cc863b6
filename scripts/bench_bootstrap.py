"""Bootstrap speed: a naive semopy loop against smsem's batched engine, one process, one run.

    PYTHONPATH=. python scripts/bench_bootstrap.py [--naive 200] [--boot 2000] [--jobs 2]

Both sides resample the same survey (data/synthetic/integrative_n300_seed1.csv, n = 300,
all 22 items) with the same per-draw streams. The naive loop builds and fits a NEW semopy
``Model`` per draw (what a user without smsem writes; fit only); smsem refits all draws
with the batched estimator (``smsem.bootstrap``) and computes all its statistics (115
here: parameters, std paths and loadings, R2, indirect effects, fit indices). Prints the
per-draw time of each and the ratio, then the ``jobs`` figure. The machine's load
average is printed: on a shared machine both sides slow down.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import semopy  # noqa: E402

import smsem  # noqa: E402
from smsem.estimate.backend import semopy_syntax  # noqa: E402


def naive(res: smsem.FitResults, n_boot: int, seed: int) -> tuple[float, int]:
    desc = semopy_syntax(res.model.parsed)
    x = res.data.to_numpy()
    cols = list(res.data.columns)
    n = len(x)
    failed = 0
    t0 = time.perf_counter()
    for ss in np.random.SeedSequence(seed).spawn(n_boot):
        idx = np.random.default_rng(ss).integers(0, n, n)
        sample = pd.DataFrame(x[idx], columns=cols)
        model = semopy.Model(desc)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = model.fit(sample, obj="MLW", solver="SLSQP")
        failed += not r.success
        # Fit only: reading the standardized paths (model.inspect) would add more time
        # to the naive side; leaving it out keeps the ratio conservative.
    return (time.perf_counter() - t0) / n_boot, failed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--naive", type=int, default=200, help="naive draws (default 200)")
    ap.add_argument("--boot", type=int, default=2000, help="smsem draws (default 2000)")
    ap.add_argument("--jobs", type=int, default=2, help="processes for the parallel figure (default 2)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    model = smsem.load_model("integrative")
    data = pd.read_csv(ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv")
    res = smsem.fit(model, data)
    print(f"integrative model: n = {res.n}, {len(model.items)} items, {res.param_map.n_free} free parameters; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', '(unset)')}, "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    t_naive, fail_naive = naive(res, args.naive, args.seed)
    print(f"naive semopy loop : {args.naive:5d} draws, {t_naive * 1e3:8.2f} ms/draw ({fail_naive} not converged)")

    t0 = time.perf_counter()
    b1 = smsem.bootstrap(res, n_boot=args.boot, seed=args.seed, jobs=1, progress=False)
    t_one = (time.perf_counter() - t0) / args.boot
    print(f"smsem, 1 process  : {args.boot:5d} draws, {t_one * 1e3:8.3f} ms/draw ({b1.n_failed} failed: {b1.failures})")
    print(f"ratio (naive / smsem, single process): {t_naive / t_one:.1f}x")

    t0 = time.perf_counter()
    bj = smsem.bootstrap(res, n_boot=args.boot, seed=args.seed, jobs=args.jobs, progress=False)
    t_jobs = (time.perf_counter() - t0) / args.boot
    same = np.array_equal(b1.draws, bj.draws, equal_nan=True)
    print(f"smsem, {args.jobs} processes: {args.boot:5d} draws, {t_jobs * 1e3:8.3f} ms/draw "
          f"(ratio {t_naive / t_jobs:.1f}x; identical draws to 1 process: {same})")


if __name__ == "__main__":
    main()
