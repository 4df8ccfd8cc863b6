"""One cell of the LMS power study re-run with more replications (docs/moderation-power.md):
standardized interaction .20 (g = .1752), n = 400, R replications from
SeedSequence([20261129, stream, 2]); prints the empirical SD of the estimates, the mean SE
and the 95% CI coverage.

Run: PYTHONPATH=. python scripts/moderation_power_cell.py [--reps 500] [--stream 99] [--quad 32]
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np


def main() -> None:
    import yaml

    import smsem
    from smsem.estimate.interaction.lms import fit_lms
    from smsem.simulate.interaction import interaction_population, population_values

    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--stream", type=int, default=99)
    ap.add_argument("--quad", type=int, default=32)
    a = ap.parse_args()
    spec = yaml.safe_load(open("scripts/moderation_power.yaml"))
    m = smsem.load_model(spec["model"])
    pt = m.table()
    g = 0.1752
    pop = interaction_population(m, population_values(pt, interaction=g, **spec["population"]))
    est, se = [], []
    for s in np.random.SeedSequence([int(spec["seed"]), a.stream, 2]).spawn(a.reps):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            r = fit_lms(m, pt, pop.draw(400, seed=s), quad_points=a.quad)
        row = r.params.query("rhs == 'X:Z'").iloc[0]
        est.append(row.est)
        se.append(row.se)
    est, se = np.array(est), np.array(se)
    print(f"std interaction {pop.std_interaction('Y', 'X:Z'):.4f}; sd est {est.std(ddof=1):.4f}, "
          f"mean se {se.mean():.4f}, coverage {np.mean(np.abs(est - g) <= 1.959964 * se):.3f}")


if __name__ == "__main__":
    main()
