"""Throughput of Monte Carlo replications on the integrative model at n = 300 (Wald inference).

Baseline: a plain loop that fits each replication's data with a fresh semopy Model (as a
semopy user would write it), once with the fit only and once also asking semopy for the
standard errors (``inspect()``), which Wald tests need. The data sets are simulated before
the clock starts, so the baseline is charged for fitting only; a second baseline times the
loop with the simulation inside, as a study must run it. smsem: the study runner
(``smsem.montecarlo.run_study``, default ``engine: fast``) with 1 process and with
``--jobs`` processes, charged for everything: simulating each replication (the same
seeds), fitting, SEs, std.all, fit indices and storing every row durably in SQLite. The
reference engine (``smsem.fit`` per replication) is timed too, for context. All rates
come from this one run; each ratio is smsem / baseline.

The runner gets more replications (``--reps``) than the baseline (``--naive-reps``) so
that its clock runs for seconds, not milliseconds; rates are per replication.

``--stages`` also times each stage of a fast-path replication on its own (simulating,
the sample covariance, the batched fit, SEs/std.all/fit indices, and the rest of the
runner: store and summary), in chunks of 128, and prints milliseconds per replication.

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/bench_montecarlo.py [--reps 2000] [--naive-reps 60] [--jobs 2] [--stages]
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
import warnings

import numpy as np
import semopy

import smsem
from smsem.estimate.backend import semopy_syntax
from smsem.montecarlo import config_from_mapping, replication_seed, run_study


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000, help="replications of the smsem runner")
    ap.add_argument("--naive-reps", type=int, default=60, help="replications of the semopy loop")
    ap.add_argument("--reference-reps", type=int, default=30, help="replications of the reference engine")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stages", action="store_true", help="also time each stage of a replication")
    args = ap.parse_args()
    logging.getLogger("semopy").setLevel(logging.ERROR)

    def study(reps: int, engine: str):
        return config_from_mapping({"population": {"model": "integrative"}, "grid": {"n": [args.n], "likert": [5]},
                                    "replications": reps, "seed": args.seed, "engine": engine}, source="bench")

    model = smsem.load_model("integrative")
    desc = semopy_syntax(model.parsed)

    def data(r: int):
        return smsem.simulate(model, n=args.n, seed=replication_seed(args.seed, 0, r), likert=5)

    datasets = [data(r) for r in range(args.naive_reps)]

    def naive(with_se: bool, with_simulate: bool = False) -> float:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for r in range(args.naive_reps):
                df = data(r) if with_simulate else datasets[r]
                m = semopy.Model(desc)
                m.fit(df, obj="MLW", solver="SLSQP")
                if with_se:
                    m.inspect()
        return args.naive_reps / (time.perf_counter() - t0)

    def runner(jobs: int, reps: int, engine: str = "fast") -> float:
        cfg = study(reps, engine)
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            res = run_study(cfg, tmp, jobs=jobs, progress=False)
            rate = reps / (time.perf_counter() - t0)
        ok = int((res.raw.status == "ok").sum())
        print(f"    ({engine} engine, {jobs} process(es): {ok}/{reps} replications converged)")
        return rate

    naive(False)  # warm-up: imports and caches on both sides
    runner(1, 20)
    base_fit, base = "naive semopy loop, fit only", "naive semopy loop, fit + inspect (SEs)"
    rates = {
        base_fit: naive(False),
        base: naive(True),
        "naive semopy loop, simulate + fit + inspect": naive(True, True),
        "smsem reference engine (smsem.fit), 1 process": runner(1, args.reference_reps, "reference"),
        "smsem fast runner, 1 process": runner(1, args.reps),
        f"smsem fast runner, {args.jobs} processes": runner(args.jobs, args.reps),
    }
    print(f"integrative model, n = {args.n}, 5-point Likert, ML + Wald; semopy loop {args.naive_reps} "
          f"replications, fast runner {args.reps}, reference engine {args.reference_reps}")
    for k, v in rates.items():
        print(f"  {k:50s} {v:8.2f} replications/s")
    for k in list(rates)[3:]:
        print(f"  ratio {k} / naive fit + SEs: {rates[k] / rates[base]:.1f}x "
              f"(vs fit only: {rates[k] / rates[base_fit]:.1f}x; "
              f"vs simulate + fit + SEs: {rates[k] / rates['naive semopy loop, simulate + fit + inspect']:.1f}x)")
    if args.stages:
        stages(study(2048, "fast"))


def stages(cfg) -> None:
    """Milliseconds per replication of each stage of the fast path (2048 replications)."""
    from smsem.estimate import ml
    from smsem.estimate.batched import fit_batch
    from smsem.montecarlo.fast import cell_plan, fit_chunk
    from smsem.montecarlo.replication import _simulate_cell_items

    cell, reps, chunk = cfg.cells[0], cfg.replications, 128
    plan = cell_plan(cfg, cell.effect_multiplier)
    t = [time.perf_counter()]
    xs = [_simulate_cell_items(cfg, cell, r, plan.columns) for r in range(reps)]
    t.append(time.perf_counter())
    s = np.stack([ml.sample_moments(x)[1] for x in xs])
    t.append(time.perf_counter())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for c in range(0, reps, chunk):
            fit_batch(plan.pmap, s[c:c + chunk], plan.start, structure=plan.structure)
        t.append(time.perf_counter())
        for c in range(0, reps, chunk):
            fit_chunk(plan, s[c:c + chunk], np.full(len(s[c:c + chunk]), cell.n))
        t.append(time.perf_counter())
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_study(cfg, tmp, progress=False)
        total = time.perf_counter() - t0
    ms = [1e3 * (b - a) / reps for a, b in zip(t, t[1:])]
    print(f"stages, ms per replication ({reps} replications, chunks of {chunk}):")
    print(f"  simulate {ms[0]:.3f}; sample covariance {ms[1]:.3f}; batched fit {ms[2]:.3f}; "
          f"SEs, std.all, fit indices {ms[3] - ms[2]:.3f}")
    print(f"  whole study (run_study, 1 process) {1e3 * total / reps:.3f}; "
          f"runner, store and summary (the rest) {1e3 * total / reps - sum(ms[:2]) - ms[3]:.3f}")


if __name__ == "__main__":
    main()
