"""Agreement of the mixed continuous/ordinal fits with lavaan (docs/ordinal.md table):

    python scripts/lavaan_wlsmv_mixed_agreement.py

Largest differences per case and fit times (smsem best of 3 warm fits; lavaan one sem() call,
recorded by scripts/lavaan_wlsmv_mixed_reference.R)."""
from pathlib import Path
import sys
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import json, time, numpy as np, pandas as pd, smsem, tempfile
from smsem.estimate.categorical.fit import fit_ordinal
from test_ordinal_mixed import MODELS, REF
from test_wlsmv import FIT, STATS
d = tempfile.mkdtemp()
data = pd.read_csv(REF / "hs_mixed_data.csv")
for name, text in MODELS.items():
    meta = json.loads((REF / f"{name}.meta.json").read_text())
    open(d + "/m.lav", "w").write(text)
    m = smsem.load_model(d + "/m.lav")
    kw = dict(ordered=meta["ordered"].split(","), estimator=meta["estimator"], missing=meta["missing"])
    data = pd.read_csv(REF / ("hs_mixed_na_data.csv" if meta["missing"] == "pairwise" else "hs_mixed_data.csv"))
    res = fit_ordinal(m, data, **kw)
    ts = []
    for _ in range(3):
        t0 = time.perf_counter(); fit_ordinal(m, data, **kw); ts.append(time.perf_counter() - t0)
    pt = pd.read_csv(REF / f"{name}_partable.csv")
    fm = pd.read_csv(REF / f"{name}_fit.csv"); fm = dict(zip(fm.measure, pd.to_numeric(fm.value, errors="coerce")))
    free = pt.free.to_numpy() > 0
    p = res.params
    de = np.max(np.abs(p.est.to_numpy() - pt.est.to_numpy()))
    dse = np.max(np.abs(p.se.to_numpy()[free] / pt.se.to_numpy()[free] - 1))
    dstd = np.nanmax(np.abs(p.std_all.to_numpy() - pt["std.all"].to_numpy()))
    dchi = max(abs(res.fit_indices[k] / fm[FIT[k]] - 1) for k in STATS if k in res.fit_indices)
    didx = max(abs(res.fit_indices[k] - fm[v]) for k, v in FIT.items() if k not in STATS and k in res.fit_indices and np.isfinite(fm.get(v, np.nan)))
    print(f"| {name} ({meta['estimator']}) | {de:.1e} | {dse:.1e} | {dstd:.1e} | {dchi:.1e} | {didx:.1e} | {min(ts):.3f} s | {meta['seconds']:.2f} s |")
