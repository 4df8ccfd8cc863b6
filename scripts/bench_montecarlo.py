"""Throughput of Monte Carlo replications on the integrative model at n = 300 (Wald inference).

Baseline: a plain loop that simulates each replication's data and fits it with a fresh
semopy Model (as a semopy user would write it), once with the fit only and once also
asking semopy for the standard errors (``inspect()``), which Wald tests need. smsem: the
study runner (``smsem.montecarlo.run_study``) on the same data sets (same seeds), with
1 process and with ``--jobs`` processes; it also stores every row durably in SQLite.
All rates come from this one run; the ratio is smsem / baseline.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/bench_montecarlo.py [--reps 60] [--jobs 2]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings

import semopy

import smsem
from smsem.estimate.backend import semopy_syntax
from smsem.montecarlo import config_from_mapping, replication_seed, run_study


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=60)
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    logging.getLogger("semopy").setLevel(logging.ERROR)
    cfg = config_from_mapping({"population": {"model": "integrative"}, "grid": {"n": [args.n], "likert": [5]},
                               "replications": args.reps, "seed": args.seed}, source="bench")
    model = smsem.load_model("integrative")
    desc = semopy_syntax(model.parsed)
    datasets = [smsem.simulate(model, n=args.n, seed=replication_seed(args.seed, 0, r), likert=5)
                for r in range(args.reps)]

    def naive(with_se: bool) -> float:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for df in datasets:
                m = semopy.Model(desc)
                m.fit(df, obj="MLW", solver="SLSQP")
                if with_se:
                    m.inspect()
        return args.reps / (time.perf_counter() - t0)

    def runner(jobs: int) -> float:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run_study(cfg, tmp, jobs=jobs, progress=False)
            return args.reps / (time.perf_counter() - t0)

    naive(False)  # warm-up: imports and caches on both sides
    rates = {
        "naive semopy loop, fit only": naive(False),
        "naive semopy loop, fit + inspect (SEs)": naive(True),
        "smsem runner, 1 process": runner(1),
        f"smsem runner, {args.jobs} processes": runner(args.jobs),
    }
    print(f"integrative model, n = {args.n}, {args.reps} replications, 5-point Likert, ML + Wald")
    for k, v in rates.items():
        print(f"  {k:45s} {v:7.2f} replications/s")
    base = rates["naive semopy loop, fit + inspect (SEs)"]
    for k in list(rates)[2:]:
        print(f"  ratio {k} / naive fit + SEs: {rates[k] / base:.2f}x "
              f"(vs fit only: {rates[k] / rates['naive semopy loop, fit only']:.2f}x)")


if __name__ == "__main__":
    main()
