"""Bootstrap speed: a naive semopy loop against smsem's batched engine, one process, one run.

    PYTHONPATH=. python scripts/bench_bootstrap.py [--naive 200] [--boot 2000] [--jobs 2]
    PYTHONPATH=. python scripts/bench_bootstrap.py --fiml [--lavaan 20] [--boot 1000] [--jobs 2]

``--fiml``: the FIML bootstrap side by side with lavaan (Rscript): the integrative model on
a simulated survey with n = 350 and 12% of the cells missing at random (MAR,
``smsem.simulate(..., missing_rate=0.12, missing_mechanism="mar")``, seed 1). lavaan
runs ``sem(model, data, missing = "ml")`` and ``sem(..., missing = "ml", se = "bootstrap",
bootstrap = R)`` (timed whole), then ``bootstrapLavaan(fit, R)``, whose time / R is its
per-draw time (the draws alone; wall and CPU). smsem runs
``smsem.bootstrap`` on its FIML fit with ``jobs=1`` and ``jobs``, and the command
``smsem fit FILE --missing fiml --boot B`` (default: one process) and with ``--jobs``,
timed end to end (start-up, fit, bootstrap, reports).

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
import resource
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


LAVAAN_FIML = r"""
suppressMessages(library(lavaan))
args <- commandArgs(trailingOnly = TRUE)
model <- paste(readLines(args[1]), collapse = "\n")
data <- read.csv(args[2])
R <- as.integer(args[3])
cpu <- function(t) t[["user.self"]] + t[["sys.self"]]
t0 <- proc.time()
fit <- sem(model, data = data, missing = "ml")
t1 <- proc.time()
t_fit <- t1[["elapsed"]] - t0[["elapsed"]]; c_fit <- cpu(t1) - cpu(t0)
set.seed(1)
t0 <- proc.time()
fb <- sem(model, data = data, missing = "ml", se = "bootstrap", bootstrap = R)
t1 <- proc.time()
t_boot <- t1[["elapsed"]] - t0[["elapsed"]]; c_boot <- cpu(t1) - cpu(t0)
set.seed(1)
t0 <- proc.time()
bl <- bootstrapLavaan(fit, R = R, type = "ordinary", FUN = "coef")
t1 <- proc.time()
t_bl <- t1[["elapsed"]] - t0[["elapsed"]]; c_bl <- cpu(t1) - cpu(t0)
cat(sprintf("%.4f %.4f %d %.4f %.4f %.4f %.4f\n", t_fit, t_boot, nrow(lavInspect(fb, "boot")), c_fit, c_boot,
            t_bl, c_bl))
"""


def fiml_bench(args: argparse.Namespace) -> None:
    import subprocess
    import tempfile

    model = smsem.load_model("integrative")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = smsem.simulate(model, n=350, seed=1, missing_rate=0.12, missing_mechanism="mar")
    tmp = Path(tempfile.mkdtemp(prefix="bench_fiml_"))
    csv = tmp / "survey.csv"
    data.to_csv(csv, index=False)
    (tmp / "lavaan.R").write_text(LAVAAN_FIML)
    print(f"integrative model, n = {len(data)}, {data.isna().to_numpy().mean():.1%} of the cells missing (MAR); "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine slows both sides)")

    t0 = time.perf_counter()
    res = smsem.fit(model, data, missing="fiml")
    t_fit = time.perf_counter() - t0
    print(f"smsem FIML fit    : {t_fit:6.2f} s")
    t0, c0 = time.perf_counter(), time.process_time()
    b1 = smsem.bootstrap(res, n_boot=args.boot, seed=args.seed, jobs=1, progress=False)
    t_one = (time.perf_counter() - t0) / args.boot
    c_one = (time.process_time() - c0) / args.boot
    print(f"smsem FIML boot, 1 process  : {args.boot:5d} draws, {t_one * 1e3:8.2f} ms/draw wall, "
          f"{c_one * 1e3:8.2f} ms/draw CPU ({b1.accounting()})")
    t0 = time.perf_counter()
    bj = smsem.bootstrap(res, n_boot=args.boot, seed=args.seed, jobs=args.jobs, progress=False)
    t_jobs = (time.perf_counter() - t0) / args.boot
    same = np.array_equal(b1.draws, bj.draws, equal_nan=True)
    print(f"smsem FIML boot, {args.jobs} processes: {args.boot:5d} draws, {t_jobs * 1e3:8.2f} ms/draw "
          f"(identical draws to 1 process: {same})")
    model_file = ROOT / "models" / "integrative.lav"
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for extra in ([], ["--jobs", str(args.jobs)]):
        cmd = [sys.executable, "-m", "smsem", "fit", str(csv), "--missing", "fiml", "--boot", str(args.boot),
               "--quiet", *extra]
        t0 = time.perf_counter()
        u0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        u1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (u1.ru_utime - u0.ru_utime) + (u1.ru_stime - u0.ru_stime)
        print(f"smsem fit FILE --missing fiml --boot {args.boot} {' '.join(extra)}: {wall:6.1f} s wall, "
              f"{cpu:6.1f} s CPU over all its processes (exit {r.returncode})")
    if args.lavaan <= 0:
        return
    r = subprocess.run(["Rscript", str(tmp / "lavaan.R"), str(model_file), str(csv), str(args.lavaan)],
                       capture_output=True, text=True)
    if r.returncode != 0:
        print("lavaan failed:", r.stderr.strip().splitlines()[-1:])
        return
    l_fit, l_boot, l_draws, lc_fit, lc_boot, l_bl, lc_bl = r.stdout.split()
    l_fit, l_boot, lc_fit, lc_boot, l_bl, lc_bl = map(float, (l_fit, l_boot, lc_fit, lc_boot, l_bl, lc_bl))
    per_draw, per_draw_cpu = l_bl / args.lavaan, lc_bl / args.lavaan
    print(f"lavaan 0.6 FIML fit: {l_fit:6.2f} s wall; sem(..., se = 'bootstrap', bootstrap = {args.lavaan}): "
          f"{l_boot:6.1f} s wall, {lc_boot:6.1f} s CPU ({l_draws} draws kept)")
    print(f"lavaan per draw (bootstrapLavaan(fit, R = {args.lavaan}), the draws alone): {per_draw * 1e3:8.1f} ms wall, "
          f"{per_draw_cpu * 1e3:8.1f} ms CPU")
    print(f"ratio per draw (lavaan / smsem): wall {per_draw / t_one:.1f}x in 1 process, "
          f"{per_draw / t_jobs:.1f}x with {args.jobs}; CPU {per_draw_cpu / c_one:.1f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--naive", type=int, default=200, help="naive draws (default 200)")
    ap.add_argument("--boot", type=int, default=2000, help="smsem draws (default 2000)")
    ap.add_argument("--jobs", type=int, default=2, help="processes for the parallel figure (default 2)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fiml", action="store_true", help="the FIML bootstrap against lavaan (see above)")
    ap.add_argument("--lavaan", type=int, default=20, help="lavaan FIML bootstrap draws (default 20)")
    args = ap.parse_args()
    if args.fiml:
        if args.boot == 2000:
            args.boot = 1000
        return fiml_bench(args)

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
