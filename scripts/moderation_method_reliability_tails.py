"""Tails of the interaction estimates in the method x reliability study (docs/moderation.md,
"Methods across reliability") from `smsem power scripts/moderation_method_reliability*.yaml
--out DIR` (estimates.csv, replications.csv, parameters.csv).

Per reliability and method, for Y ~ X:Z over the converged replications: SD of the estimates,
robust SD (interquartile range / 1.349, the SD for a normal), median Wald SE, the number of
estimates more than 4 LMS-SDs (same reliability) from the true g, and the 95% Wald CI
coverage with the improper solutions dropped (their number in brackets).

Run: python scripts/moderation_method_reliability_tails.py DIR
"""

from __future__ import annotations

import sys

import numpy as np
import pandas as pd
from scipy.stats import norm


def main() -> None:
    d = sys.argv[1]
    e = pd.read_csv(f"{d}/estimates.csv")
    r = pd.read_csv(f"{d}/replications.csv")
    p = pd.read_csv(f"{d}/parameters.csv")
    p = p[(p.lhs == "Y") & (p.op == "~") & (p.rhs == "X:Z")]
    ok = r[r.status == "ok"][["cell", "rep", "method", "reliability", "n", "improper"]]
    e = e[(e.lhs == "Y") & (e.op == "~") & (e.rhs == "X:Z")].merge(ok, on=["cell", "rep"])
    e = e.merge(p[["cell", "pop"]], on="cell")
    z = norm.ppf(0.975)
    order = {"lms": 0, "qml": 1, "dmc": 2, "rca": 3}
    sd_lms = {rel: h.est.std(ddof=1) for rel, h in e[e.method == "lms"].groupby("reliability")}
    print("| reliability | n | method | used | SD est. | robust SD | median SE | far (> 4 SD_lms) "
          "| coverage without improper (fits) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for (rel, n, _), h in e.assign(o=e.method.map(order)).groupby(["reliability", "n", "o"]):
        g = float(h["pop"].iloc[0])
        q1, q3 = np.percentile(h.est, [25, 75])
        far = int((abs(h.est - g) > 4 * sd_lms[rel]).sum()) if rel in sd_lms else "n/a"
        k = h[h.improper == 0]
        cov = float(((k.est - z * k.se <= g) & (g <= k.est + z * k.se)).mean())
        print(f"| {rel:.2f} | {n} | {h.method.iloc[0]} | {len(h)} | {h.est.std(ddof=1):.4f} | {(q3 - q1) / 1.349:.4f} "
              f"| {h.se.median():.4f} | {far} | {cov:.3f} ({len(k)}) |")


if __name__ == "__main__":
    main()
