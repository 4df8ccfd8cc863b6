"""Reference values of Hedges' g and its CI from pingouin (not a dependency of smsem).

    pip install --target /tmp/pg pingouin pandas-flavor xarray seaborn tabulate scikit-learn
    PYTHONPATH=/tmp/pg:. python scripts/ref_hedges_pingouin.py [--force]

Writes tests/reference/hedges_g_pingouin.json: for each case the two samples, pingouin's
``compute_effsize(b, a, eftype="hedges")`` and ``compute_esci(g, n_b, n_a, eftype="cohen",
confidence=level, decimals=12)`` (Hedges & Olkin SE, t critical value with n_a + n_b - 2
df). tests/test_diagnostic_stats.py compares smsem.diagnostic.hedges_g with them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pingouin as pg

from smsem.io import write_text

TARGET = Path(__file__).resolve().parents[1] / "tests" / "reference" / "hedges_g_pingouin.json"
# (n_a, n_b, shift of b, sd of b, level): equal and unequal sizes and SDs, small and large effects.
CASES = [(12, 15, 0.4, 1.0, 0.95), (40, 25, 1.2, 1.5, 0.95), (8, 8, -0.7, 0.6, 0.90), (30, 60, 0.0, 1.0, 0.99)]


def main(out: Path, force: bool) -> None:
    rng = np.random.default_rng(20060701)
    cases = []
    for na, nb, shift, sd, level in CASES:
        a = np.round(rng.normal(3.0, 1.0, na) * 20, 1)  # totals-like values with ties
        b = np.round(rng.normal(3.0 + shift, sd, nb) * 20, 1)
        g = float(pg.compute_effsize(b, a, eftype="hedges"))
        lo, hi = pg.compute_esci(stat=g, nx=nb, ny=na, eftype="cohen", confidence=level, decimals=12)
        cases.append({"a": a.tolist(), "b": b.tolist(), "level": level, "hedges_g": g,
                      "cohen_d": float(pg.compute_effsize(b, a, eftype="cohen")),
                      "ci_lower": float(lo), "ci_upper": float(hi)})
    doc = {"pingouin_version": pg.__version__, "script": "scripts/ref_hedges_pingouin.py",
           "functions": "compute_effsize(b, a, eftype='hedges'); compute_esci(g, nb, na, eftype='cohen', decimals=12)",
           "cases": cases}
    write_text(out, json.dumps(doc, indent=1) + "\n", force=force)
    print(f"wrote {out}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=TARGET)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    main(args.out, args.force)
