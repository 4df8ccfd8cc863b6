"""Summary table of a finished ``ordinal_vs_ml`` study (docs/ordinal.md).

    smsem power models/montecarlo/ordinal_vs_ml.yaml --out OUT --jobs 2
    python scripts/summarize_ordinal_vs_ml.py OUT

Per cell (categories K x estimator x n), over the proposition paths (the structural paths
P1-P5h of the integrative model): the mean relative bias of the standardized path (mean std.all
estimate against the population's std value), the mean absolute bias of the standardized loadings,
the mean relative SE bias (mean SE against the SD of the estimates), the mean coverage of the 95%
Wald CI of the path (against the population value in the marker metric) and the mean power
(two-sided, alpha .05); convergence and improper solutions from fit.csv.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


def main() -> int:
    out = Path(sys.argv[1])
    par = pd.read_csv(out / "parameters.csv")
    fit = pd.read_csv(out / "fit.csv").set_index("cell")
    paths = par[(par.op == "~") & par.path_id.notna()]
    loads = par[(par.op == "=~") & par.pop_std.notna()]
    rows = []
    for cell, g in paths.groupby("cell", sort=True):
        f = fit.loc[cell]
        ld = loads[loads.cell == cell]
        rows.append({
            "K": int(g.likert.iloc[0]), "estimator": g.estimator.iloc[0], "n": int(g.n.iloc[0]),
            "converged": f"{int(f.converged)}/{int(f.reps)}", "improper": int(f.improper),
            "std path rel. bias": ((g.mean_std - g.pop_std) / g.pop_std).mean(),
            "std loading bias": (ld.mean_std - ld.pop_std).mean(),
            "rel. SE bias": g.rel_se_bias.mean(), "coverage": g.coverage.mean(), "power": g.power.mean(),
        })
    t = pd.DataFrame(rows).sort_values(["n", "K", "estimator"])
    cols = list(t.columns)
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for r in t.itertuples(index=False):
        cells = [f"{v:+.3f}" if isinstance(v, float) and c in ("std path rel. bias", "std loading bias", "rel. SE bias")
                 else f"{v:.3f}" if isinstance(v, float) else str(v) for v, c in zip(r, cols)]
        print("| " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
