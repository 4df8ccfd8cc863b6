"""Markdown tables of the interaction method comparison (docs/moderation-power.md) from the
outputs of `smsem power scripts/moderation_methods.yaml --out DIR` (parameters.csv, fit.csv);
also of the method x reliability cross (`scripts/moderation_method_reliability.yaml`,
docs/moderation.md "Methods across reliability"): with a grid.reliability factor the table
gets a reliability column and is ordered by it.

For Y ~ X:Z per cell: true g, mean estimate, relative bias, SD of the estimates, mean SE,
SE/SD, 95% CI coverage, rejection rate (power, or type-I error when g = 0) with Wilson
intervals, and non-converged replications; then the same for the main effect Y ~ X.

Run: python scripts/moderation_methods_table.py DIR [ROW ...]   (ROW as "Y ~ X:Z", "imm := a3*b";
default "Y ~ X:Z" "Y ~ X")
"""

from __future__ import annotations

import sys

import pandas as pd


def main() -> None:
    out = sys.argv[1]
    rows = [tuple(r.split()) for r in sys.argv[2:]] or [("Y", "~", "X:Z"), ("Y", "~", "X")]
    p = pd.read_csv(f"{out}/parameters.csv")
    f = pd.read_csv(f"{out}/fit.csv")
    order = {"lms": 0, "qml": 1, "dmc": 2, "rca": 3}
    for lhs, op, rhs in rows:
        t = p[(p.lhs == lhs) & (p.op == op) & (p.rhs == rhs)].merge(
            f[["cell", "reps", "nonconverged", "errors"]].rename(columns={"reps": "stored"}), on="cell")
        rel = "reliability" in t.columns and bool(t.reliability.notna().any())
        t = t.assign(o=t.method.map(order)).sort_values(
            ["std_interaction", *(["reliability"] if rel else []), "n", "o"])
        print(f"\n{lhs} {op} {rhs}\n")
        print("| std. int. | " + ("reliability | " if rel else "") + "n | method | used/stored | true | mean est. "
              "| rel. bias | SD est. | mean SE | SE/SD | coverage [95% MC] | rejection rate [95% MC] |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if rel else ""))
        for r in t.itertuples():
            rb = "n/a" if pd.isna(r.rel_bias) else f"{r.rel_bias:+.3f}"
            print(f"| {r.std_interaction:.1f} | " + (f"{r.reliability:.2f} | " if rel else "") + f"{r.n} | {r.method} | {r.reps}/{r.stored} | {r.pop:.4f} | "
                  f"{r.mean_est:.4f} | {rb} | {r.sd_est:.4f} | {r.mean_se:.4f} | {r.mean_se / r.sd_est:.2f} | "
                  f"{r.coverage:.3f} [{r.coverage_lower:.3f}, {r.coverage_upper:.3f}] | "
                  f"{r.power:.3f} [{r.power_lower:.3f}, {r.power_upper:.3f}] |")


if __name__ == "__main__":
    main()
