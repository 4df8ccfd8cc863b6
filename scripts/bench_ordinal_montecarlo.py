"""Per-replication time of a WLSMV Monte Carlo cell: the reference path against the fast path.

The integrative model (the essay's), 5-point items, n = 300 (``--likert``, ``--n``). Baseline:
the reference path (``engine: reference``: one ``fit_ordinal(..., ordered=True,
estimator="WLSMV")`` per replication, as every WLSMV replication ran before the fast path).
smsem: the fast path (``engine: fast``, the default: a chunk's thresholds, polychorics and NACOVs
at once, then each refit), charged for everything a replication does (simulating, statistics,
refit, robust SEs, scaled-shifted test, std.all). Both run the same replications (same seeds)
in one process, one BLAS thread; the script also prints the largest difference between the two
paths' rows (estimates, SEs, std.all, scaled chi2 and p) and the peak memory of the fast path's
chunk (tracemalloc).

Usage::

    OMP_NUM_THREADS=1 PYTHONPATH=. python scripts/bench_ordinal_montecarlo.py [--reps 64] [--ref-reps 16]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from smsem.montecarlo import config_from_mapping
from smsem.montecarlo.replication import run_replications


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=64, help="replications of the fast path (one chunk)")
    ap.add_argument("--ref-reps", type=int, default=16, help="replications of the reference path")
    ap.add_argument("--n", type=int, default=300)
    ap.add_argument("--likert", type=int, default=5)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()

    def cfg(engine: str):
        return config_from_mapping({"population": {"model": "integrative", "scenario": "thesis"},
                                    "grid": {"n": [args.n], "likert": [args.likert], "estimator": ["WLSMV"]},
                                    "replications": max(args.reps, args.ref_reps), "seed": args.seed,
                                    "engine": engine}, source="bench")

    fast_cfg, ref_cfg = cfg("fast"), cfg("reference")
    run_replications(fast_cfg.cells[0], [0], fast_cfg)  # warm: the cell's plan (population fit), imports
    run_replications(ref_cfg.cells[0], [0], ref_cfg)
    t0 = time.perf_counter()
    ref = run_replications(ref_cfg.cells[0], range(args.ref_reps), ref_cfg)
    t_ref = (time.perf_counter() - t0) / args.ref_reps
    t0 = time.perf_counter()
    fast = run_replications(fast_cfg.cells[0], range(args.reps), fast_cfg)
    t_fast = (time.perf_counter() - t0) / args.reps
    tracemalloc.start()
    run_replications(fast_cfg.cells[0], range(args.reps), fast_cfg)
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()

    worst = {"est": 0.0, "se": 0.0, "std": 0.0, "chi2": 0.0, "pvalue": 0.0}
    same_status = 0
    for a, b in zip(fast, ref):
        same_status += a["status"] == b["status"] and a["improper"] == b["improper"]
        if a["status"] != "ok" or b["status"] != "ok":
            continue
        d = np.abs(a["estimates"].values[:, :3] - b["estimates"].values[:, :3])
        for j, k in enumerate(("est", "se", "std")):
            worst[k] = max(worst[k], float(np.nanmax(d[:, j])))
        for k in ("chi2", "pvalue"):
            worst[k] = max(worst[k], abs(a[k] - b[k]))
    fallback = sum(r["status"] != "ok" or r["improper"] for r in fast)
    print(f"WLSMV Monte Carlo replication, integrative model, {args.likert}-point items, n = {args.n}")
    print(f"{'path':<34}{'ms per replication':>20}")
    print(f"{'reference (fit_ordinal each)':<34}{1000 * t_ref:>20.1f}")
    print(f"{'fast (batched, chunk of ' + str(args.reps) + ')':<34}{1000 * t_fast:>20.1f}")
    print(f"ratio reference / fast: {t_ref / t_fast:.1f}x")
    print(f"peak memory of the fast chunk (tracemalloc): {peak:.0f} MiB")
    print(f"rows compared: {min(len(fast), len(ref))} (same status and improper flag: {same_status}); "
          f"fast-path rows not ok or improper (reference path's verdict): {fallback}")
    print("largest |fast - reference|: " + ", ".join(f"{k} {v:.1e}" for k, v in worst.items()))


if __name__ == "__main__":
    main()
