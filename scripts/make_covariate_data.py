"""Write the lavaan reference data with observed covariates (tests/reference/lavaan/).

    python scripts/make_covariate_data.py

The committed example survey (and its copy with missing answers) plus two continuous
covariates drawn with a fixed seed: SIZE (log company size, related to employee
attitude) and TENURE (years in the job, standardized). ``scripts/lavaan_reference.R``
fits ``integrative_covariates.lav`` to these files; ``tests/test_lavaan_covariates.py``
compares smsem with it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "reference" / "lavaan"
SEED = 20261127


def covariates(survey: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(SEED)
    ea = survey[["EA1", "EA2", "EA3"]].mean(axis=1).to_numpy(dtype=float)
    z = (ea - np.nanmean(ea)) / np.nanstd(ea)
    size = 0.4 * np.nan_to_num(z) + rng.normal(size=len(survey))
    tenure = rng.normal(size=len(survey))
    return pd.DataFrame({"SIZE": np.round(size, 4), "TENURE": np.round(tenure, 4)})


def main() -> None:
    complete = pd.read_csv(ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv")
    cov = covariates(complete)
    pd.concat([complete, cov], axis=1).to_csv(OUT / "integrative_covariates.csv", index=False)
    missing = pd.read_csv(ROOT / "data" / "synthetic" / "integrative_n300_seed1_missing.csv")
    cov_m = cov.copy()
    cov_m.loc[np.random.default_rng(SEED + 1).random(len(cov_m)) < 0.05, "SIZE"] = np.nan  # 5% MCAR
    pd.concat([missing, cov_m], axis=1).to_csv(OUT / "integrative_covariates_missing.csv", index=False)
    print("wrote", OUT / "integrative_covariates.csv", "and", OUT / "integrative_covariates_missing.csv")


if __name__ == "__main__":
    main()
