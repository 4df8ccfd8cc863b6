"""Bootstrap of a product-indicator (dmc) moderation fit: all draws in one batch
(ProductIndicatorFit.bootstrap_thetas, products rebuilt per draw, smsem.estimate.batched)
against refitting one draw at a time (ProductIndicatorFit.refit_theta, smsem's ML fit).

    python scripts/bench_moderation_bootstrap.py [--draws 100] [--refits 10]

Data: lavaan's HolzingerSwineford1939 (n = 301) with tests/models/hs_interaction.lav.
Prints seconds per draw of both and the ratio; the estimates of the first draws agree.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

import smsem

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--refits", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    model = smsem.load_model(str(ROOT / "tests/models/hs_interaction.lav"))
    data = pd.read_csv(ROOT / "tests/reference/lavaan/HolzingerSwineford1939.csv")
    res = smsem.fit(model, data, interaction_method="dmc")
    t = time.perf_counter()
    thetas = res.bootstrap_thetas(a.draws, a.seed)
    batched = (time.perf_counter() - t) / a.draws
    # the same resamples (same stream), refitted one at a time
    rng = np.random.default_rng(np.random.SeedSequence(a.seed))
    t = time.perf_counter()
    one = []
    for _ in range(a.refits):
        idx = rng.integers(0, len(data), len(data))
        one.append(res.refit_theta(data.iloc[idx].reset_index(drop=True)))
    single = (time.perf_counter() - t) / a.refits
    ok = np.all(np.isfinite(thetas[:a.refits]), axis=1)
    diff = np.nanmax(np.abs(np.array(one)[ok] - thetas[:a.refits][ok])) if ok.any() else float("nan")
    print(f"batched: {batched * 1e3:.1f} ms/draw ({a.draws} draws, {int(np.isfinite(thetas[:, 0]).sum())} ok); "
          f"one at a time: {single * 1e3:.1f} ms/draw ({a.refits} refits); ratio {single / batched:.1f}x; "
          f"max |theta difference| on the common draws {diff:.2e}")


if __name__ == "__main__":
    main()
