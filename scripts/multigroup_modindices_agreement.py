"""smsem's multiple-group modification indices against lavaan's modindices(), every case.

    PYTHONPATH=. python scripts/multigroup_modindices_agreement.py

References: scripts/lavaan_groups_modindices_reference.R (tests/reference/lavaan_groups/*.modindices.csv,
ML and MLR on HolzingerSwineford1939 by school; tests/reference/lavaan_groups_robust/fiml_*.modindices.csv,
FIML on hs_missing.csv). For each case, at lavaan's estimates (``evaluate_at``: the formula
alone) and at smsem's own optimum: whether the rows are lavaan's (same order), and the largest
relative difference of mi, epc, sepc.all (relative to max(|lavaan|, 1e-3)).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GROUPS = ROOT / "tests" / "reference" / "lavaan_groups"
ROBUST = ROOT / "tests" / "reference" / "lavaan_groups_robust"


def _at(path: Path) -> pd.DataFrame:
    at = pd.read_csv(path, keep_default_na=False, na_values=[""])
    at = at[at.op.isin(["=~", "~", "~~", "~1"])].copy()
    at["rhs"] = at["rhs"].fillna("")
    return at


def _list(v):
    return [v] if isinstance(v, str) and v else (v or [])


def main() -> int:
    from smsem.estimate.diagnostics import modindices
    from smsem.estimate.multigroup import fit_multigroup

    warnings.simplefilter("ignore")
    hs = pd.read_csv(ROOT / "tests" / "reference" / "lavaan_models" / "HolzingerSwineford1939.csv")
    cases = []
    for f in sorted(GROUPS.glob("*.modindices.csv")):
        name = f.name[:-len(".modindices.csv")]
        base = name.removesuffix("_mlr")
        meta = json.loads((GROUPS / f"{base}.meta.json").read_text())
        cases.append((name, (GROUPS / f"{base}.lav").read_text(), hs,
                      dict(group_equal=_list(meta["group_equal"]), group_partial=_list(meta["group_partial"]),
                           std_lv=meta["std_lv"], estimator="MLR" if name.endswith("_mlr") else "ML"),
                      GROUPS / f"{base}.partable.csv", f))
    hm = pd.read_csv(ROBUST / "hs_missing.csv")
    for name, ge in (("fiml_configural", []), ("fiml_metric", ["loadings"]), ("fiml_scalar", ["loadings", "intercepts"])):
        cases.append((name, (ROBUST / "hs3.lav").read_text(), hm, dict(group_equal=ge, missing="fiml"),
                      ROBUST / f"{name}.mi_partable.csv", ROBUST / f"{name}.modindices.csv"))
    print(f"{'case':18s} {'at':8s} rows  {'same':5s} {'mi':>8s} {'epc':>8s} {'sepc.all':>8s}")
    for name, model, data, opts, at_file, ref_file in cases:
        ref = pd.read_csv(ref_file, keep_default_na=False, na_values=[""])
        ref["rhs"] = ref["rhs"].fillna("")
        for where in ("lavaan", "smsem"):
            res = fit_multigroup(model, data, "school", evaluate_at=_at(at_file) if where == "lavaan" else None,
                                 **opts)
            mi = modindices(res, sort=False)
            same = list(zip(mi.lhs, mi.op, mi.rhs, mi.group)) == list(zip(ref.lhs, ref.op, ref.rhs, ref.group))
            diffs = []
            for a, b in (("mi", "mi"), ("epc", "epc"), ("sepc_all", "sepc.all")):
                diffs.append(float(np.max(np.abs(mi[a].to_numpy() - ref[b].to_numpy())
                                          / np.maximum(np.abs(ref[b].to_numpy()), 1e-3))) if same else float("nan"))
            print(f"{name:18s} {where:8s} {len(mi):4d}  {str(same):5s} " + " ".join(f"{d:8.1e}" for d in diffs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
