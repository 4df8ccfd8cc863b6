"""Print how far smsem's effects and measurement quality are from lavaan/semTools.

    PYTHONPATH=. python scripts/compare_semtools.py

Reads the committed references in tests/reference/semtools/ (made by
scripts/semtools_reference.R) and prints the largest absolute (and relative) differences;
tests/test_effects.py and tests/test_quality.py assert the same comparisons.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import smsem

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "semtools"
SURVEY = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"


def main() -> None:
    df = pd.read_csv(SURVEY)
    res = smsem.fit(smsem.load_model(str(REF / "integrative_labelled.lav")), df)
    got = smsem.effects(res).defined.set_index("name")
    ref = pd.read_csv(REF / "integrative_labelled.defined.csv")
    ref = ref[ref.op == ":="].set_index("name")
    print(":= parameters (integrative_labelled.lav) vs lavaan")
    for mine, theirs in (("est", "est"), ("se", "se"), ("std_all", "est_std"), ("std_se", "se_std")):
        d = (got[mine] - ref[theirs]).abs()
        print(f"  {mine:8s} max abs diff {d.max():.2e}   max rel diff {(d / ref[theirs].abs()).max():.2e}")
    cases = {"integrative": ("integrative", SURVEY), "hs": (str(REF / "hs.lav"), REF / "HolzingerSwineford1939.csv")}
    for case, (model, data) in cases.items():
        q = smsem.reliability(smsem.fit(smsem.load_model(model), pd.read_csv(data)))
        r = pd.read_csv(REF / f"{case}.quality.csv").set_index("construct")
        c = q.constructs.set_index("construct").loc[r.index]
        print(f"measurement quality ({case}) vs semTools: max abs diff")
        for mine, theirs in (("alpha", "alpha"), ("cr", "omega"), ("ave", "ave")):
            print(f"  {mine:8s} {(c[mine] - r[theirs]).abs().max():.2e}")
        for stat in ("htmt", "htmt2"):
            m = pd.read_csv(REF / f"{case}.{stat}.csv").set_index("construct")
            print(f"  {stat:8s} {np.abs(getattr(q, stat).loc[m.index, m.columns].to_numpy() - m.to_numpy()).max():.2e}")
        ld = pd.read_csv(REF / f"{case}.loadings.csv")
        mm = q.loadings.merge(ld, left_on=["construct", "item"], right_on=["lhs", "rhs"])
        print(f"  {'loadings':8s} {(mm.std_all - mm['est.std']).abs().max():.2e}  (std.all, {len(mm)} items)")


if __name__ == "__main__":
    main()
