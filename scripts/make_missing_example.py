"""Make the committed example survey with missing cells (MCAR, about 10% of cells).

    python scripts/make_missing_example.py [--force]

Reads data/synthetic/integrative_n300_seed1.csv and blanks each cell independently with
probability 0.10 (numpy Generator seeded with SEED), keeping at least one observed item
per row, and writes data/synthetic/integrative_n300_seed1_missing.csv. lavaan fits it
with ``missing = "ml"`` in scripts/lavaan_reference.R (the FIML reference values).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from smsem.io import write_text

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"
TARGET = ROOT / "data" / "synthetic" / "integrative_n300_seed1_missing.csv"
SEED = 20240404
RATE = 0.10


def make_missing(df: pd.DataFrame, rate: float = RATE, seed: int = SEED) -> pd.DataFrame:
    """Blank cells of ``df`` completely at random; every row keeps one observed cell."""
    rng = np.random.default_rng(seed)
    mask = rng.random(df.shape) < rate
    # A row with every cell missing carries no information; keep its first cell.
    mask[mask.all(axis=1), 0] = False
    out = df.astype("Int64").mask(mask)
    return out


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=TARGET)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    df = make_missing(pd.read_csv(SOURCE))
    write_text(args.out, df.to_csv(index=False, lineterminator="\n"), force=args.force)
    n_miss = int(df.isna().sum().sum())
    print(f"wrote {args.out}: {n_miss} of {df.size} cells missing ({n_miss / df.size:.1%}), "
          f"{int(df.notna().all(axis=1).sum())} complete rows")
