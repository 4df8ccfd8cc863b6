"""Measured agreement of smsem's diagnostics with lavaan 0.6.14 (tests/reference/lavaan_after/).

    PYTHONPATH=. python scripts/lavaan_after_agreement.py

Prints, per case, the largest |smsem - lavaan| of R², residuals (raw, cor.bollen, cor.bentler)
and their z, the residual summaries and the modification-index columns, and whether the
modification-index rows are the same.
"""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import smsem
from smsem.estimate import diagnostics as dg

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan_after"
LAV = ROOT / "tests" / "reference" / "lavaan"
CASES = {
    "integrative": (ROOT / "models" / "integrative.lav", ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"),
    "poldem": (LAV / "poldem.lav", LAV / "PoliticalDemocracy.csv"),
    "covariates": (LAV / "integrative_covariates.lav", LAV / "integrative_covariates.csv"),
    "hs_constraints": (REF / "hs_constraints.lav", LAV / "HolzingerSwineford1939.csv"),
}


def main() -> None:
    for case, (model, data) in CASES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = smsem.fit(smsem.load_model(str(model)), pd.read_csv(data))
        ref = pd.read_csv(REF / f"{case}.r2.csv")
        print(f"{case}: R2 {np.abs(dg.r2(res).r2.to_numpy() - ref.r2.to_numpy()).max():.1e}")
        for typ in ("raw", "cor.bollen", "cor.bentler"):
            t = dg.residuals(res, typ)
            mine = {tuple(sorted(k)): (v, z) for k, v, z in zip(zip(t.lhs, t.rhs), t.residual, t.z)}
            stem = "resid_raw" if typ == "raw" else f"resid_{typ}"
            zstem = "resid_z" if typ == "raw" else f"resid_{typ}_z"
            r = pd.read_csv(REF / f"{case}.{stem}.csv")
            rz = pd.read_csv(REF / f"{case}.{zstem}.csv")
            d = max(abs(mine[tuple(sorted(k))][0] - v) for k, v in zip(zip(r.lhs, r.rhs), r.value))
            dz_off = max(abs(mine[tuple(sorted((a, b)))][1] - v) for a, b, v in zip(rz.lhs, rz.rhs, rz.value) if a != b)
            dz_diag = max(abs(mine[(a, a)][1] - v) for a, b, v in zip(rz.lhs, rz.rhs, rz.value) if a == b)
            print(f"  {typ:11s} residual {d:.1e}  z off-diagonal {dz_off:.1e}  z diagonal {dz_diag:.1e}")
        for typ, stem in (("raw", "resid_summary_raw"), ("cor.bollen", "resid_summary"),
                          ("cor.bentler", "resid_summary_bentler")):
            s = dg.residual_summary(res, typ).value.to_numpy()
            print(f"  summary {typ:11s} {np.abs(s - pd.read_csv(REF / f'{case}.{stem}.csv').value.to_numpy()).max():.1e}")
        mi = dg.modindices(res)
        ref = pd.read_csv(REF / f"{case}.mi.csv")
        same = set(zip(mi.lhs, mi.op, mi.rhs)) == set(zip(ref.lhs, ref.op, ref.rhs))
        m = ref.merge(mi, on=["lhs", "op", "rhs"], suffixes=("", "_s"))
        ill = m.epc.abs() > 5
        parts = []
        for a, b in (("mi", "mi_s"), ("epc", "epc_s"), ("sepc.lv", "sepc_lv"), ("sepc.all", "sepc_all"),
                     ("sepc.nox", "sepc_nox")):
            d = (m[a] - m[b]).abs()
            rel = (d / m[a].abs())[ill]
            parts.append(f"{a} {d[~ill].max():.1e}" + (f" (|epc|>5 rows: {rel.max():.1%})" if ill.any() else ""))
        print(f"  modindices rows {len(mi)} (lavaan {len(ref)}, same set: {same}); " + ", ".join(parts))


if __name__ == "__main__":
    main()
