"""Largest differences between smsem.effects() of the integrative WLSMV fit and lavaan's := rows
(tests/reference/lavaan_wlsmv/integrative_effects_partable.csv, written by
``Rscript scripts/lavaan_wlsmv_reference.R integrative_effects``).

Run from the repository root: ``python scripts/ordinal_effects_agreement.py``.
"""
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, "tests")
import smsem  # noqa: E402
import test_ordinal_effects as T  # noqa: E402


class _Tmp:
    def mktemp(self, name):
        return Path(tempfile.mkdtemp())


res = T.fit_ordinal(T._labelled_model(_Tmp()), pd.read_csv("data/synthetic/integrative_n300_seed1.csv"), ordered=True)
ref = pd.read_csv(T.REF / "integrative_effects_partable.csv")
ref = ref[ref.op == ":="].set_index("lhs")
eff = smsem.effects(res, ["OP", "EA", "IC"])
m = {"est": 0.0, "se": 0.0, "std": 0.0, "stdse": 0.0}
for name, (y, x, k, p) in T.ROWS.items():
    r = eff.get(x, k, outcome=y, path=p or None)
    lav = ref.loc[name]
    m["est"] = max(m["est"], abs(r.est - lav.est))
    m["se"] = max(m["se"], abs(r.se / lav.se - 1))
    m["std"] = max(m["std"], abs(r.std_all - lav["std.all"]))
    m["stdse"] = max(m["stdse"], abs(r.std_se / lav["std.all.se"] - 1))
print("effects vs lavaan := rows (%d rows): est abs %.1e, se rel %.1e, std.all abs %.1e, std.all se rel %.1e"
      % ((len(T.ROWS),) + tuple(m.values())))
