"""Category use of the generator's default thresholds (docs/generator.md): for every K, the
population proportions (normal probabilities of the cuts) and the proportions measured on
``smsem.simulate(integrative, n=N, likert=K, seed=1)`` pooled over the 22 items, for the
default ("symmetric") and the former default ("wide").

    python scripts/measure_threshold_defaults.py [N]
"""

from __future__ import annotations

import sys

import numpy as np

import smsem
from smsem.simulate import category_probabilities, symmetric_thresholds, wide_thresholds


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    m = smsem.load_model("integrative")
    for name, fn in (("symmetric (default)", symmetric_thresholds), ("wide (former default)", wide_thresholds)):
        print(f"## {name}, n = {n}, seed 1, 22 items pooled")
        for k in range(2, 12):
            th = fn(k)
            pop = category_probabilities(th)
            df = smsem.simulate(m, n=n, seed=1, likert=k, thresholds=name.split()[0])
            codes = df.select_dtypes("number").to_numpy().ravel()
            meas = np.bincount(codes.astype(int), minlength=k + 1)[1:] / codes.size
            print(f"K={k:2d} cuts {np.round(th, 3).tolist()}\n     population {np.round(pop, 3).tolist()}\n"
                  f"     measured   {np.round(meas, 3).tolist()}  (largest {meas.max():.3f}, smallest {meas.min():.3f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
