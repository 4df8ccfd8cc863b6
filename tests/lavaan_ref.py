"""Readers of the lavaan reference files in tests/reference/lavaan/ (made by
scripts/lavaan_reference.R) and the matching smsem fits, shared by tests/test_lavaan_*.py."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

import smsem

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan"


def meta(case: str) -> dict:
    return json.loads((REF / f"{case}.meta.json").read_text(encoding="utf-8"))


def params(case: str) -> pd.DataFrame:
    df = pd.read_csv(REF / f"{case}.params.csv", keep_default_na=False, na_values=[""])
    df["rhs"] = df["rhs"].fillna("")
    return df


def std(case: str) -> pd.DataFrame:
    df = pd.read_csv(REF / f"{case}.std.csv", keep_default_na=False, na_values=[""])
    df["rhs"] = df["rhs"].fillna("")
    return df


def fit_measures(case: str) -> pd.Series:
    return pd.read_csv(REF / f"{case}.fit.csv").set_index("name")["value"]


@lru_cache(maxsize=None)
def smsem_fit(case: str) -> smsem.FitResults:
    """smsem's fit of a reference case, with the data and model the R script used."""
    m = meta(case)
    model = smsem.load_model(str(ROOT / m["model"]))
    data = pd.read_csv(ROOT / m["data"])
    estimator = m["estimator"]
    missing = "fiml" if m["missing"] == "ml" else "listwise"
    return smsem.fit(model, data, estimator=estimator, missing=missing, fixed_x=m.get("fixed_x", True))


def match(ours: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    """Join our rows to lavaan's by ``lhs op rhs`` (covariances in either order).

    Every lavaan row must be found: a missing or extra parameter is a failure.
    """
    def key(l, o, r):
        return (min(l, r), o, max(l, r)) if o == "~~" else (l, o, r)

    ours = ours.assign(_key=[key(*t) for t in zip(ours.lhs, ours.op, ours.rhs)])
    ref = ref.assign(_key=[key(*t) for t in zip(ref.lhs, ref.op, ref.rhs)])
    j = ref.merge(ours.drop(columns=["lhs", "op", "rhs"]), on="_key", how="left", suffixes=("_lav", ""),
                  indicator=True)
    missing = j[j["_merge"] != "both"]
    assert missing.empty, f"parameters not in smsem's table: {missing._key.tolist()}"
    assert len(ours) == len(ref), f"smsem has {len(ours)} rows, lavaan {len(ref)}"
    return j


def rel_err(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(np.asarray(a, float) / np.asarray(b, float) - 1.0)
