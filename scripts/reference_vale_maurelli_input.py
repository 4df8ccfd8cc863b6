"""Write the input of scripts/reference_vale_maurelli.R (thesis implied correlation + targets).

    PYTHONPATH=. python scripts/reference_vale_maurelli_input.py
"""

from __future__ import annotations

from pathlib import Path

import smsem
from smsem.simulate import population_model

ROOT = Path(__file__).resolve().parents[1]
# Targets cycle through mild to strong non-normality, both signs of skew, and a
# platykurtic item, so the reference exercises every branch of the solvers.
TARGETS = [(1.0, 1.5), (2.0, 7.0), (-1.0, 2.0), (0.0, -1.0), (0.5, 0.0), (-1.5, 4.0)]


def main() -> Path:
    model = smsem.load_model("integrative")
    corr = population_model(model).implied_cov
    df = corr.copy()
    df.insert(0, "kurtosis", [TARGETS[i % len(TARGETS)][1] for i in range(len(df))])
    df.insert(0, "skewness", [TARGETS[i % len(TARGETS)][0] for i in range(len(df))])
    df.insert(0, "item", df.index)
    path = ROOT / "tests" / "reference" / "vale_maurelli_input.csv"
    path.write_text(df.to_csv(index=False, float_format="%.17g", lineterminator="\n"), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {main()}")
