"""Reader of the lavaan references for user models in tests/reference/lavaan_models/
(made by scripts/lavaan_models_reference.R; issue 12). Needs no smsem code.

    cases()      -> the case names, sorted, one per <case>.meta.json
    load(case)   -> {"partable", "params", "std": DataFrames, "fit": {name: value},
                     "meta": dict, "data": DataFrame, "syntax": str}

The meta carries what a test needs to fit the same model: ``function`` (sem/cfa/growth),
``options`` (the non-default lavaan options of the call, lavaan's names, e.g. ``std.lv``,
``fixed.x``, ``estimator``, ``missing``, ``meanstructure``, ``orthogonal``), the options as
lavaan resolved them (``std_lv``, ``meanstructure``, ``fixed_x``, ``model_type``, ...), and
npar (parTable's max(free)), npar_fitmeasures (npar minus the
equality constraints, as fitMeasures counts), df, ntotal. Text columns (lhs, op, rhs, label, plabel) are "" where lavaan's is empty
(``~1`` rows have rhs ""); numeric cells lavaan leaves empty (z of a fixed row, ustart of a
free row) are NaN.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan_models"
TEXT = ("lhs", "op", "rhs", "label", "plabel")


def cases() -> list[str]:
    return sorted(p.name[: -len(".meta.json")] for p in REF.glob("*.meta.json"))


def _table(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, keep_default_na=False, na_values=[""], dtype={c: str for c in TEXT})
    for col in TEXT:
        if col in df:
            df[col] = df[col].fillna("").astype(str)
    return df


def meta(case: str) -> dict:
    return json.loads((REF / f"{case}.meta.json").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _load(case: str) -> dict:
    m = meta(case)
    fit = pd.read_csv(REF / f"{case}.fit.csv")
    return {
        "meta": m,
        "partable": _table(REF / f"{case}.partable.csv"),
        "params": _table(REF / f"{case}.params.csv"),
        "std": _table(REF / f"{case}.std.csv"),
        "fit": dict(zip(fit["name"], fit["value"].astype(float))),
        "data": pd.read_csv(ROOT / m["data"]),
        "syntax": (ROOT / m["model"]).read_text(encoding="utf-8"),
    }


def load(case: str) -> dict:
    """The reference of one case (fresh copies of the tables, safe to modify)."""
    d = _load(case)
    return {k: (v.copy() if hasattr(v, "copy") else v) for k, v in d.items()}
