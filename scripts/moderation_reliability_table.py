"""Markdown tables of the reliability study of the latent interaction (docs/moderation.md,
"Power across reliability") from the outputs of
`smsem power scripts/moderation_reliability_{10,20,00}.yaml --out DIR` (parameters.csv, fit.csv).

Per cell of Y ~ X:Z: reliability, n, replications used / stored, true g, mean estimate,
relative bias, SD of the estimates, mean SE, SE/SD, 95% CI coverage and rejection rate
(power, or type-I error when the interaction is 0) with their 95% Wilson Monte Carlo
intervals; then, per reliability, the n for 80% power (smsem.montecarlo.summary.interpolate_n:
the first grid n reaching it and the linear interpolation before it) and the range of that
interpolation when the two bracketing powers move to the ends of their Wilson intervals; and
the power of the main effects Y ~ X, Y ~ Z at the smallest n.

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
            main = p[(p.lhs == "Y") & (p.op == "~") & p.rhs.isin(["X", "Z"]) & (p.std_interaction == std)
                     & (p.n == g.n.min())].sort_values(["reliability", "rhs"])
            print("\nmain effects at n = %d: " % g.n.min() + "; ".join(
                f"rel {r.reliability:.2f} Y ~ {r.rhs} {r.power:.3f} [{r.power_lower:.3f}, {r.power_upper:.3f}]"
                for r in main.itertuples()))
            if std == 0:
                continue
            print("\n| reliability | first grid n with power >= .80 | n interpolated | range from the Monte Carlo "
                  "intervals |\n|---|---|---|---|")
            for rel, h in g.groupby("reliability"):
                n_grid, n_int = interpolate_n(h.n.to_numpy(), h.power.to_numpy(), 0.80)
                show = (lambda v: "not reached" if not np.isfinite(v) else f"{v:.0f}")
                print(f"| {rel:.2f} | {show(n_grid)} | {show(n_int)} | {_mc_range(h, n_grid)} |")


def _mc_range(h: pd.DataFrame, n_grid: float) -> str:
    """The interpolated n with both bracketing powers at their Wilson bounds: upper bounds give
    the smallest n, lower bounds the largest (n = n0 + (.8 - p0) / (p1 - p0) (n1 - n0))."""
    if not np.isfinite(n_grid):
        return ""
    ns = h.n.to_numpy()
    i = int(np.flatnonzero(ns == n_grid)[0])
    if i == 0:
        return f"<= {ns[0]}"
    lo, hi = h.iloc[i - 1], h.iloc[i]

    def at(p0: float, p1: float) -> str:
        if p0 >= 0.80:
            return f"<= {lo.n}"
        if p1 < 0.80:
            return f"> {hi.n}"
        return f"{lo.n + (0.80 - p0) / (p1 - p0) * (hi.n - lo.n):.0f}"

    return f"{at(lo.power_upper, hi.power_upper)} to {at(lo.power_lower, hi.power_lower)}"


if __name__ == "__main__":
    main()
