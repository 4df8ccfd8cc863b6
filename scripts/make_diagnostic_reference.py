"""Make the two-department data set behind the diagnostic's lavaan reference values.

    PYTHONPATH=. python scripts/make_diagnostic_reference.py [--force]
    Rscript scripts/ref_diagnostic_lavaan.R

Sales: the codebook's population (n = 300). Marketing: the same except a stronger
P4 path EA -> OP (0.70 instead of 0.45) and MA -> SL (0.55 instead of 0.40) (n = 300).
Each respondent also answers the KRK diagnostic; its respondent part is the
standardized mean of that respondent's COM and MA answers, so the diagnostic tracks the
facilitators. ``KRK_total`` is the total / 20 (the mean answer, 1..5).
tests/test_diagnostic_model.py checks that this script still makes the committed file.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

import smsem
from smsem.diagnostic import add_krk_total, diagnose, simulate_diagnostic
from smsem.io import write_text
from smsem.model import PopulationSpec

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "tests" / "reference" / "diagnostic_two_groups.csv"
N = 300
SEED = 7


def marketing_population(model: smsem.SEMModel) -> PopulationSpec:
    pop = model.population
    paths = {k: dict(v) for k, v in pop.paths.items()}
    paths["OP"]["EA"] = 0.70
    paths["SL"]["MA"] = 0.55
    return PopulationSpec(pop.loadings, paths, pop.correlations)


def make_data(n: int = N, seed: int = SEED) -> pd.DataFrame:
    model = smsem.load_model("integrative")
    s_sales, s_mkt, s_diag = (int(c.generate_state(1)[0]) for c in np.random.SeedSequence(seed).spawn(3))
    sales = smsem.simulate(model, n=n, seed=s_sales)
    mkt = smsem.simulate(model, n=n, seed=s_mkt, population=marketing_population(model))
    survey = pd.concat([sales, mkt], ignore_index=True)
    survey.insert(0, "department", ["sales"] * n + ["marketing"] * n)
    fac = survey[["COM1", "COM2", "COM3", "MA1", "MA2", "MA3"]].mean(axis=1).to_numpy(dtype=float)
    z = (fac - fac.mean()) / fac.std()
    diag = simulate_diagnostic(level="aligned", n=n, gap=6.0, seed=s_diag, person_scores=z)
    res = diagnose(diag, group="department")
    return add_krk_total(survey, res, scale=20.0)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=TARGET)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    df = make_data()
    write_text(args.out, df.to_csv(index=False, lineterminator="\n", float_format="%.10g"), force=args.force)
    print(f"wrote {args.out} ({len(df)} rows)")
