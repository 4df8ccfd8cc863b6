"""Regenerate the committed example survey in data/synthetic/.

    python scripts/make_example_survey.py [--force]

tests/test_example_data.py regenerates it in a temporary folder and checks that it is
identical to the committed files.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import smsem

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = {"n": 300, "seed": 1}
TARGET = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"


def make(path: Path, force: bool = False) -> tuple[Path, Path]:
    model = smsem.load_model("integrative")
    df = smsem.simulate(model, **EXAMPLE)
    return smsem.write_survey(df, path, force=force)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=TARGET)
    ap.add_argument("--force", action="store_true")
    args = ap.parse_args()
    for p in make(args.out, args.force):
        print(f"wrote {p}")
