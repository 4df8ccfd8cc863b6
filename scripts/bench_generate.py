"""Benchmark: 1,000,000 respondents x all items of the integrative model.

    PYTHONPATH=. OMP_NUM_THREADS=1 python scripts/bench_generate.py [--n 1000000]

Baseline: numpy's own ``Generator.multivariate_normal`` drawing the same implied
covariance (continuous responses only). smsem: :func:`smsem.simulate` for continuous
responses, 5-point Likert codes, Likert with 10% MCAR missingness, and Vale-Maurelli
non-normal continuous responses. Prints wall time, peak traced memory (tracemalloc,
which numpy reports its array buffers to) and the size of the output, and the ratio of
smsem's time to the baseline's. Target from issue 3: under 5 s for the default call.
"""

from __future__ import annotations

import argparse
import gc
import time
import tracemalloc
from typing import Any, Callable

import numpy as np

import smsem
from smsem.simulate import population_model


def measure(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return dt, peak / 2**20, out


def nbytes(out: Any) -> float:
    if hasattr(out, "memory_usage"):
        return float(out.memory_usage(index=False, deep=False).sum()) / 2**20
    return out.nbytes / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    args = ap.parse_args()
    model = smsem.load_model("integrative")
    sigma = population_model(model).implied_cov.to_numpy()
    n = args.n
    cases: list[tuple[str, Callable[[], Any]]] = [
        ("baseline numpy multivariate_normal", lambda: np.random.default_rng(1).multivariate_normal(
            np.zeros(len(sigma)), sigma, size=n)),
        ("smsem continuous (likert=0)", lambda: smsem.simulate(model, n=n, seed=1, likert=0)),
        ("smsem 5-point Likert (default)", lambda: smsem.simulate(model, n=n, seed=1)),
        ("smsem Likert + 10% MCAR", lambda: smsem.simulate(model, n=n, seed=1, missing_rate=0.1)),
        ("smsem Vale-Maurelli skew 1 kurt 2", lambda: smsem.simulate(model, n=n, seed=1, likert=0,
                                                                     skewness=1.0, kurtosis=2.0)),
        ("smsem scenario undefined (departments)", lambda: smsem.simulate(model, n=n, seed=1,
                                                                          scenario="undefined")),
    ]
    print(f"n = {n:,} respondents x {len(model.items)} items; OMP threads as set in the environment")
    base = None
    for name, fn in cases:
        dt, peak, out = measure(fn)
        base = dt if base is None else base
        print(f"{name:42s} {dt:7.3f} s  peak {peak:8.1f} MiB  output {nbytes(out):7.1f} MiB  "
              f"ratio to baseline {dt / base:5.2f}")
        del out


if __name__ == "__main__":
    main()
