"""Time per fit of each --interaction-method on the method-comparison population
(docs/moderation-power.md): moderation_xz.lav, standardized interaction .2, n = 200 and 500;
R draws per n (seeds 0..R-1), each fitted by lms, qml, dmc and rca (smsem.fit, one thread).
Prints the median and mean wall time per fit and the ratio to dmc.

Run: PYTHONPATH=. python scripts/bench_interaction_methods.py [--reps 10]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main() -> None:
    import smsem
    from smsem._threads import single_thread
    from smsem.montecarlo.config import load_config
    from smsem.montecarlo.scenarios import interaction_cell_population

    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=10)
    a = ap.parse_args()
    cfg = load_config("scripts/moderation_methods.yaml")
    pop, _ = interaction_cell_population(cfg, 0.2)
    m = smsem.load_model("models/montecarlo/moderation_xz.lav")
    print("| n | method | median s/fit | mean s/fit | x dmc (median) |")
    print("|---|---|---|---|---|")
    for n in (200, 500):
        data = [pop.draw(n, seed=s) for s in range(a.reps)]
        med = {}
        for method in ("dmc", "rca", "lms", "qml"):
            ts = []
            for d in data:
                with single_thread(), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    t0 = time.perf_counter()
                    smsem.fit(m, d, interaction_method=method)
                    ts.append(time.perf_counter() - t0)
            med[method] = float(np.median(ts))
            print(f"| {n} | {method} | {med[method]:.3f} | {np.mean(ts):.3f} | {med[method] / med['dmc']:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
