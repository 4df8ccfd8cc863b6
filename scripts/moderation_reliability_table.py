"""Markdown tables of the reliability study of the latent interaction (docs/moderation.md,
"Power across reliability") from the outputs of
`smsem power scripts/moderation_reliability_*.yaml --out DIR` (parameters.csv).

Studies of the same design with different seeds (e.g. moderation_reliability_10.yaml and
_10b.yaml) are pooled cell by cell (same standardized interaction, reliability and n):
rejections and coverages are summed, the mean estimate and mean SE weighted by replications,
the SD of the estimates pooled from the studies' means and SDs.

Per cell of Y ~ X:Z: reliability, n, replications, true g, mean estimate, relative bias, SD of
the estimates, mean SE, SE/SD, 95% CI coverage and rejection rate (power, or type-I error when
the interaction is 0) with their 95% Wilson Monte Carlo intervals; then, per reliability, the
n for 80% power (smsem.montecarlo.summary.interpolate_n: the first grid n reaching it and the
linear interpolation before it) and the range of that interpolation when the two bracketing
powers move to the ends of their Wilson intervals; and the power of the main effects
Y ~ X, Y ~ Z at the smallest n.

Run: python scripts/moderation_reliability_table.py DIR [DIR ...]
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd

from smsem.montecarlo.summary import interpolate_n, wilson

KEY = ["std_interaction", "reliability", "n", "lhs", "op", "rhs"]


def pooled(frames: list[pd.DataFrame]) -> pd.DataFrame:
    p = pd.concat(frames, ignore_index=True)
    p = p[(p.lhs == "Y") & (p.op == "~") & p.rhs.isin(["X:Z", "X", "Z"])]
    rows = []
    for key, g in p.groupby(KEY, sort=True):
        r = g.reps.to_numpy(float)
        m = float(np.sum(r * g.mean_est) / r.sum())
        ss = np.sum((r - 1) * g.sd_est.to_numpy() ** 2) + np.sum(r * (g.mean_est.to_numpy() - m) ** 2)
        rej = int(round(float(np.sum(r * g.power))))
        cov = int(round(float(np.sum(r * g.coverage))))
        pl, pu = wilson(rej, r.sum())
        cl, cu = wilson(cov, r.sum())
        rows.append(dict(zip(KEY, key), studies=len(g), reps=int(r.sum()), pop=float(g["pop"].iloc[0]),
                         mean_est=m, sd_est=float(np.sqrt(ss / (r.sum() - 1))),
                         mean_se=float(np.sum(r * g.mean_se) / r.sum()),
                         power=rej / r.sum(), power_lower=float(pl), power_upper=float(pu),
                         coverage=cov / r.sum(), coverage_lower=float(cl), coverage_upper=float(cu)))
    return pd.DataFrame(rows)


def main() -> None:
    t = pooled([pd.read_csv(f"{d}/parameters.csv") for d in sys.argv[1:]])
    inter = t[t.rhs == "X:Z"]
    for std, g in inter.groupby("std_interaction"):
        print(f"\nY ~ X:Z, standardized interaction {std:.2f} ({', '.join(sys.argv[1:])}, pooled by cell)\n")
        print("| reliability | n | studies | replications | true g | mean est. | rel. bias | SD est. | mean SE | SE/SD "
              "| coverage [95% MC] | rejection rate [95% MC] |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for r in g.itertuples():
            rb = "n/a" if r.pop == 0 else f"{(r.mean_est - r.pop) / r.pop:+.3f}"
            print(f"| {r.reliability:.2f} | {r.n} | {r.studies} | {r.reps} | {r.pop:.4f} | {r.mean_est:.4f} | {rb} | "
                  f"{r.sd_est:.4f} | {r.mean_se:.4f} | {r.mean_se / r.sd_est:.2f} | "
                  f"{r.coverage:.3f} [{r.coverage_lower:.3f}, {r.coverage_upper:.3f}] | "
                  f"{r.power:.3f} [{r.power_lower:.3f}, {r.power_upper:.3f}] |")
        main_eff = t[(t.rhs != "X:Z") & (t.std_interaction == std) & (t.n == g.n.min())]
        print(f"\nmain effects at n = {g.n.min()}: " + "; ".join(
            f"rel {r.reliability:.2f} Y ~ {r.rhs} {r.power:.3f} [{r.power_lower:.3f}, {r.power_upper:.3f}]"
            for r in main_eff.itertuples()))
        if std == 0:
            continue
        print("\n| reliability | first grid n with power >= .80 | n interpolated | range from the Monte Carlo "
              "intervals |\n|---|---|---|---|")
        for rel, h in g.groupby("reliability"):
            h = h.sort_values("n")
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
