"""Time smsem.read_survey (sniffing, decoding, validation, warnings) against a plain pandas
read that is told the format (C engine, known separator and decimal), in the same process.

    PYTHONPATH=. OMP_NUM_THREADS=1 python scripts/bench_read_survey.py [N]
"""

from __future__ import annotations

import sys
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

import smsem


def best(fn, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(n: int = 50_000) -> None:
    warnings.simplefilter("ignore")
    model = smsem.load_model()
    df = smsem.simulate(model, n=n, seed=1)
    d = Path(tempfile.mkdtemp())
    files = {
        "comma.csv": (lambda p: df.to_csv(p, index=False), lambda p: pd.read_csv(p)),
        "semicolon_decimal_comma.csv": (lambda p: df.astype(float).to_csv(p, index=False, sep=";", decimal=","),
                                        lambda p: pd.read_csv(p, sep=";", decimal=",")),
        "survey.parquet": (lambda p: df.to_parquet(p), lambda p: pd.read_parquet(p)),
    }
    print(f"n = {n} respondents x {len(model.items)} items (best of 3)")
    for name, (write, baseline) in files.items():
        p = d / name
        write(p)
        got = smsem.read_survey(p, model)
        assert (got.to_numpy() == df[model.items].to_numpy()).all()
        t_smsem = best(lambda: smsem.read_survey(p, model))
        t_pandas = best(lambda: baseline(p))
        print(f"{name:30s} smsem.read_survey {t_smsem:6.3f} s   pandas {t_pandas:6.3f} s   ratio {t_smsem / t_pandas:5.1f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
