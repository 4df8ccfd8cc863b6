"""Largest differences between smsem's modindices() of multiple-group ordinal fits and lavaan
0.6.14's (tests/reference/lavaan_wlsmv_groups/<case>.modindices.csv,
``Rscript scripts/lavaan_wlsmv_groups_modindices_reference.R``), at smsem's optimum and, for
thresholds + loadings, at lavaan's own estimates; with the times (smsem best of 3 warm calls,
lavaan one ``modindices(fit)`` call as recorded in ``<case>.modindices.meta.json``).

Run from the repository root: ``python scripts/ordinal_group_modindices_agreement.py``.
"""
import dataclasses
import json
import sys
import time

import numpy as np
import pandas as pd

sys.path.insert(0, "tests")
import test_ordinal_group_modindices as T  # noqa: E402
from smsem.estimate.diagnostics import modindices  # noqa: E402


def diffs(got, ref):
    assert T._keys(got) == T._keys(ref)
    rel = np.max(np.abs(got.mi - ref.mi) / (T.MI_ATOL + T.MI_RTOL * np.abs(ref.mi)))
    sepc = max(np.max(np.abs(got[a] - ref[b])) for a, b in T.COLS[1:])
    return np.max(np.abs(got.mi - ref.mi)), rel, np.max(np.abs(got.epc - ref.epc)), sepc


print("| case | rows | MI (abs) | MI / (1e-4 + 1e-3 abs(ref)) | EPC (abs) | sEPC (abs) | smsem modindices() | "
      "lavaan modindices() |")
print("|---|---|---|---|---|---|---|---|")
for case in T.CASES:
    res, ref = T._fit(case), T._ref(case)
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        got = modindices(res, sort=False)
        best = min(best, time.perf_counter() - t0)
    lav = json.load(open(T.REF / f"{case}.modindices.meta.json"))["modindices_seconds"]
    m, r, e, s = diffs(got, ref)
    print(f"| {case} | {len(ref)} | {m:.1e} | {r:.2f} | {e:.1e} | {s:.1e} | {best:.3f} s | {lav:.3f} s |")
for case in ("hs_thr_load", "hs_theta_thr_load"):
    res = T._fit(case)
    info = dict(res._internal)
    pt = pd.read_csv(T.REF / f"{case}_partable.csv")
    x = res.x.copy()
    for rid, free, est in zip(pt.id, pt.free, pt.est):
        if free > 0:
            x[info["gidx"][int(rid)]] = est
    fg = np.asarray(info["ns"], float) / sum(info["ns"])
    ds = [e.jacobian(x, len(x)) for e in info["engines"]]
    info.update(ds=ds, Einv=np.linalg.inv(sum(f * (d.T @ (w[:, None] * d)) for f, d, w in zip(fg, ds, info["w"]))))
    m, r, e, s = diffs(modindices(dataclasses.replace(res, x=x, _internal=info), sort=False), T._ref(case))
    print(f"| {case} at lavaan's estimates (max abs(x - x_lavaan) {np.abs(x - res.x).max():.1e}) | | {m:.1e} | {r:.3f} | "
          f"{e:.1e} | {s:.1e} | | |")
