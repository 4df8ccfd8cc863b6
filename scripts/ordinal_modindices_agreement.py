"""Largest differences between smsem's modindices() of ordinal fits and lavaan 0.6.14's
(tests/reference/lavaan_wlsmv/<case>_modindices.csv, ``Rscript scripts/lavaan_wlsmv_modindices_reference.R``),
at smsem's optimum and, for the integrative model, at lavaan's own estimates.

Run from the repository root: ``python scripts/ordinal_modindices_agreement.py``.
"""
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, "tests")
import test_ordinal_modindices as T  # noqa: E402
from smsem.estimate.diagnostics import modindices  # noqa: E402


def diffs(got, ref):
    g = got.set_index(["lhs", "op", "rhs"]).loc[list(zip(ref.lhs, ref.op, ref.rhs))]
    sepc = max(np.nanmax(np.abs(g[a].to_numpy() - ref[b].to_numpy()))
               for a, b in (("sepc_lv", "sepc.lv"), ("sepc_all", "sepc.all"), ("sepc_nox", "sepc.nox")))
    return (np.max(np.abs(g.mi.to_numpy() - ref.mi.to_numpy())), np.max(np.abs(g.epc.to_numpy() - ref.epc.to_numpy())), sepc)


print("| case | rows | MI (abs) | EPC (abs) | sEPC (abs) | smsem modindices() | lavaan modindices() |")
print("|---|---|---|---|---|---|---|")
for name in T.CASES:
    res = T._fit(Path(tempfile.mkdtemp()), name)
    ref = pd.read_csv(T.REF / f"{name}_modindices.csv")
    times = []
    for _ in range(3):  # best of 3
        t0 = time.perf_counter()
        modindices(res)
        times.append(time.perf_counter() - t0)
    best = min(times)
    lav = json.loads((T.REF / f"{name}_modindices.meta.json").read_text())["modindices_seconds"]
    print(f"| {name} | {len(ref)} | %.1e | %.1e | %.1e | %.3f s | %.3f s |" % (*diffs(modindices(res), ref), best, lav))
    if name == "integrative_wlsmv":
        pt = pd.read_csv(T.REF / "integrative_wlsmv_partable.csv")
        fr = pt[pt.free > 0].sort_values("free")
        at = dataclasses.replace(res, start=fr.est.to_numpy(dtype=float))
        print(f"| same, at lavaan's estimates | {len(ref)} | %.1e | %.1e | %.1e | | |" % diffs(modindices(at), ref))
