"""Markdown tables of the reliability study of the latent interaction (docs/moderation.md,
"Power across reliability") from the outputs of
`smsem power scripts/moderation_reliability_{10,20,00}.yaml --out DIR` (parameters.csv, fit.csv).

Per cell of Y ~ X:Z: reliability, n, replications used / stored, true g, mean estimate,
relative bias, SD of the estimates, mean SE, SE/SD, 95% CI coverage and rejection rate
(power, or type-I error when the interaction is 0) with their 95% Wilson Monte Carlo
intervals; then, per reliability, the n for 80% power (smsem.montecarlo.summary.interpolate_n:
the first grid n reaching it and the linear interpolation before it).

Run: python scripts/moderation_reliability_table.py DIR [DIR ...]
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from smsem.montecarlo.summary import interpolate_n


def main() -> None:
    for out in sys.argv[1:]:
        p = pd.read_csv(f"{out}/parameters.csv")
        f = pd.read_csv(f"{out}/fit.csv")
        t = p[(p.lhs == "Y") & (p.op == "~") & (p.rhs == "X:Z")].merge(
            f[["cell", "reps"]].rename(columns={"reps": "stored"}), on="cell")
        t = t.sort_values(["std_interaction", "reliability", "n"])
        for std, g in t.groupby("std_interaction"):
            print(f"\n{out}: Y ~ X:Z, standardized interaction {std:.2f}\n")
            print("| reliability | n | used/stored | true g | mean est. | rel. bias | SD est. | mean SE | SE/SD "
                  "| coverage [95% MC] | rejection rate [95% MC] |")
            print("|---|---|---|---|---|---|---|---|---|---|---|")
            for r in g.itertuples():
                rb = "n/a" if pd.isna(r.rel_bias) else f"{r.rel_bias:+.3f}"
                print(f"| {r.reliability:.2f} | {r.n} | {r.reps}/{r.stored} | {r.pop:.4f} | {r.mean_est:.4f} | {rb} | "
                      f"{r.sd_est:.4f} | {r.mean_se:.4f} | {r.mean_se / r.sd_est:.2f} | "
                      f"{r.coverage:.3f} [{r.coverage_lower:.3f}, {r.coverage_upper:.3f}] | "
                      f"{r.power:.3f} [{r.power_lower:.3f}, {r.power_upper:.3f}] |")
            if std == 0:
                continue
            print("\n| reliability | first grid n with power >= .80 | n interpolated |\n|---|---|---|")
            for rel, h in g.groupby("reliability"):
                n_grid, n_int = interpolate_n(h.n.to_numpy(), h.power.to_numpy(), 0.80)
                show = (lambda v: "not reached" if not np.isfinite(v) else f"{v:.0f}")
                print(f"| {rel:.2f} | {show(n_grid)} | {show(n_int)} |")


if __name__ == "__main__":
    main()
