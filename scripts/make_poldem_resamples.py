"""Write the Political Democracy resample indices used by the lavaan reference.

    PYTHONPATH=. python scripts/make_poldem_resamples.py && Rscript scripts/lavaan_poldem_resamples.R

Resample r (r = 1..6) is draw r of smsem's nonparametric bootstrap with seed 20190102
(``SeedSequence(20190102).spawn(...)[r]``); resample 0 is the full sample. Rows are
1-based for R.
"""

from pathlib import Path

import numpy as np
import pandas as pd
from semopy.examples import political_democracy

ROOT = Path(__file__).resolve().parents[1]
SEED, DRAWS = 20190102, (1, 2, 3, 4, 5, 6)

data = political_democracy.get_data()
n = len(data)
rows = [pd.DataFrame({"resample": 0, "row": np.arange(1, n + 1)})]
for b in DRAWS:
    idx = np.random.default_rng(np.random.SeedSequence(SEED, spawn_key=(b,))).integers(0, n, n)
    rows.append(pd.DataFrame({"resample": b, "row": idx + 1}))
out = ROOT / "tests" / "reference"
out.mkdir(parents=True, exist_ok=True)
pd.concat(rows).to_csv(out / "poldem_resamples.csv", index=False)
data.to_csv(out / "poldem_data.csv", index=False, float_format="%.17g")
print(f"wrote {out / 'poldem_resamples.csv'} and {out / 'poldem_data.csv'}")
