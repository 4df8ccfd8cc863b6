"""A stand-in for ``smsem.model.partable.ParTable`` read from lavaan's own ``parTable()``
(tests/reference/lavaan_engine/*.partable.csv, made by scripts/lavaan_engine_reference.R),
so the table-driven engine is tested against lavaan's tables independently of smsem's
``lavaanify``. Test code only: the package never reads these files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

REF = Path(__file__).resolve().parent / "reference" / "lavaan_engine"


@dataclass
class StubTable:
    df: pd.DataFrame
    ov: list[str]
    lv: list[str]
    ov_x: list[str]
    meanstructure: bool

    @property
    def npar(self) -> int:
        return int(self.df["free"].max())

    @property
    def constraints(self) -> pd.DataFrame:
        return self.df[self.df.op.isin(["==", "<", ">"])]

    @property
    def defined(self) -> pd.DataFrame:
        return self.df[self.df.op == ":="]


def load_table(case: str, keep_start: bool = False) -> StubTable:
    """lavaan's table of ``case``; its ``start`` column (lavaan's own start values) is
    blanked unless ``keep_start`` (the interface's ``start`` holds user start() only)."""
    df = pd.read_csv(REF / f"{case}.partable.csv", keep_default_na=False, na_values=[""])
    for c in ("lhs", "rhs", "label", "plabel"):
        df[c] = df[c].astype(object).fillna("").astype(str)
    if not keep_start:
        df["start"] = np.nan
    df["line"] = 0
    names = {}
    for line in (REF / f"{case}.names.txt").read_text().splitlines():
        key, *vals = line.split(",")
        names[key] = [v for v in vals if v]
    return StubTable(df, names["ov"], names["lv"], names["ov.x"], names["meanstructure"] == ["1"])


def reference_params(case: str) -> pd.DataFrame:
    df = pd.read_csv(REF / f"{case}.params.csv", keep_default_na=False, na_values=[""])
    if "label" not in df.columns:
        df["label"] = ""
    for c in ("lhs", "rhs", "label"):
        df[c] = df[c].astype(object).fillna("").astype(str)
    return df


def reference_fit(case: str) -> pd.Series:
    return pd.read_csv(REF / f"{case}.fit.csv").set_index("name")["value"]


def data(case: str) -> pd.DataFrame:
    if case.startswith("hs") and "fiml" in case:
        return pd.read_csv(REF / "HS_missing.csv")
    if case.startswith("path") and "fiml" in case:
        return pd.read_csv(REF / "PD_missing.csv")
    if case.startswith("hs"):
        return pd.read_csv(REF / "HS.csv")
    if case.startswith("growth"):
        return pd.read_csv(REF.parent / "lavaan_models" / "Demo.growth.csv")
    return pd.read_csv(REF.parent / "lavaan" / "PoliticalDemocracy.csv")
