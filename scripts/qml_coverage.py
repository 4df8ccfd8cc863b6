"""Reduced QML check (issue 17): 95% CI coverage of the interaction (g = .25) and type-I
error (g = 0) at n = 300 on models/montecarlo/moderation_xz.lav, the population of
tests/test_interaction_lms_slow.py, R replications each (default 200).

Run: PYTHONPATH=. python scripts/qml_coverage.py [--reps 200] [--only 0.25|0]
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main() -> None:
    import smsem
    from smsem.estimate.interaction.qml import fit_qml
    from smsem.simulate.interaction import interaction_population, population_values

    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--only", type=float, default=None, help="run one population: 0.25 or 0 (two processes)")
    a = ap.parse_args()
    m = smsem.load_model("models/montecarlo/moderation_xz.lav")
    pt = m.table()
    t0 = time.perf_counter()
    for g, seed in ((0.25, 2026), (0.0, 2027)):
        if a.only is not None and g != a.only:
            continue
        pop = interaction_population(m, population_values(pt, loading=0.9, regression=0.4, item_residual=0.5,
                                                          latent_covariance=0.3, residual=0.6, interaction=g))
        est, se = [], []
        for s in np.random.SeedSequence(seed).spawn(a.reps):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                r = fit_qml(m, pt, pop.draw(300, seed=s))
            row = r.params.query("rhs == 'X:Z'").iloc[0]
            est.append(row.est)
            se.append(row.se)
        est, se = np.array(est), np.array(se)
        ok = np.isfinite(se)
        cover = np.mean(np.abs(est[ok] - g) <= 1.959964 * se[ok])
        rej = np.mean(np.abs(est[ok] / se[ok]) > 1.959964)
        print(f"g = {g}: R = {ok.sum()}/{a.reps}, coverage {cover:.3f}, rejection rate {rej:.3f}, "
              f"mean est {est[ok].mean():.4f}, sd {est[ok].std(ddof=1):.4f}, mean se {se[ok].mean():.4f}", flush=True)
    print(f"run time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
