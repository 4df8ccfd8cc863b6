"""Summary table of a finished ``ordinal_vs_ml`` study (docs/ordinal.md).

    smsem power models/montecarlo/ordinal_vs_ml.yaml --out OUT --jobs 2
    python scripts/summarize_ordinal_vs_ml.py OUT                 # averages over the paths
    python scripts/summarize_ordinal_vs_ml.py OUT --per-path [N]  # every path (at n = N only)

Per cell (categories K x estimator x n), over the proposition paths (the structural paths
P1-P5h of the integrative model): the mean relative bias of the standardized path (mean std.all
estimate against the population's std value), the mean absolute bias of the standardized loadings,
the mean relative SE bias (mean SE against the SD of the estimates), the mean coverage of the 95%
Wald CI of the path (against the population value in the marker metric) and the mean power
(two-sided, alpha .05); convergence and improper solutions from fit.csv.

``--per-path``: one table per measure (bias of the standardized path: mean std.all minus the
population's standardized value, relative SE bias, coverage, power), a row per proposition path and a column per K x estimator, for every n
(or the one given).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd


MEASURES = (("std path bias (mean std.all - population std value)", lambda g: g.mean_std - g.pop_std, "+.3f"),
            ("rel. SE bias", lambda g: g.rel_se_bias, "+.3f"),
            ("coverage", lambda g: g.coverage, ".3f"),
            ("power", lambda g: g.power, ".3f"))


def per_path(par: pd.DataFrame, only_n: int | None) -> None:
    paths = par[(par.op == "~") & par.path_id.notna()].copy()
    paths["col"] = paths.likert.astype(int).astype(str) + " " + paths.estimator
    order = [f"{k} {e}" for k in sorted(paths.likert.unique()) for e in ("ML", "MLR", "WLSMV")
             if f"{k} {e}" in set(paths.col)]
    for n in sorted(paths.n.unique()):
        if only_n is not None and n != only_n:
            continue
        g = paths[paths.n == n]
        for name, fn, fmt in MEASURES:
            t = g.assign(v=fn(g)).pivot_table(index=["path_id", "lhs", "rhs", "pop_std"], columns="col",
                                              values="v")[order]
            print(f"\n**{name}, n = {int(n)}** (columns: K categories, estimator)\n")
            print("| path | std | " + " | ".join(order) + " |")
            print("|---|--:|" + "--:|" * len(order))
            for (pid, lhs, rhs, pop), r in t.iterrows():
                print(f"| {pid} {lhs}~{rhs} | {pop:.2f} | " + " | ".join(format(v, fmt) for v in r) + " |")


def main() -> int:
    out = Path(sys.argv[1])
    if "--per-path" in sys.argv[2:]:
        rest = [a for a in sys.argv[2:] if a != "--per-path"]
        per_path(pd.read_csv(out / "parameters.csv"), int(rest[0]) if rest else None)
        return 0
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
