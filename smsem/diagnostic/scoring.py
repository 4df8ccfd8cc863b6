"""Reading and scoring diagnostic answers: validation, the missing-answer rule, totals.

Missing-answer rule (from the instrument's ``missing.max_missing``, 2 for the shipped
diagnostic): a respondent with at most ``max_missing`` unanswered items gets the
prorated total ``mean(answered items) * n_items``; one with more is excluded (total
NaN, no level) and counted. Complete respondents get the plain sum.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..exceptions import DataError
from .instrument import Instrument

__all__ = ["read_answers", "validate_answers", "score_answers", "STATUS"]

STATUS = ("complete", "prorated", "excluded")
_EMPTY = ("", "NA", "nan", "NaN")


def read_answers(path: str | Path, instrument: Instrument, *, group: str | None = None,
                 org: str | None = None) -> pd.DataFrame:
    """Read a diagnostic table and validate it (see :func:`validate_answers`).

    The file is read by :func:`smsem.io.read_table`, as surveys are: comma, semicolon, tab
    or ``|`` delimited text in UTF-8 (with or without BOM), UTF-16 or Latin-1, or Parquet.

    Raises
    ------
    DataError
        Unreadable file, missing column, or a bad answer (naming column, row and value).
    """
    from ..io import read_table

    path = Path(path)
    df = read_table(path)
    return validate_answers(df, instrument, group=group, org=org, source=str(path))


def validate_answers(df: pd.DataFrame, instrument: Instrument, *, group: str | None = None,
                     org: str | None = None, source: str = "data") -> pd.DataFrame:
    """Check the item columns and every answer; return items as float plus group/org.

    Empty cells (and ``NA``/``nan``) are unanswered items. Any other answer must be an
    integer code ``1..scale_points``. Row numbers count data rows from 1 (row 1 is the
    first line after the header). Group and organization labels must be non-empty.

    Returns
    -------
    DataFrame
        The item columns (float, NaN = unanswered) then ``group`` and ``org`` columns
        when requested, with a fresh 0..n-1 index.
    """
    if len(df) == 0:
        raise DataError(f"{source}: no data rows")
    df = df.copy(deep=False)
    df.attrs = {}  # pandas copies attrs on every operation; a generator's sidecar can be large
    missing = [c for c in instrument.items if c not in df.columns]
    for col in (group, org):
        if col is not None and col not in df.columns:
            missing.append(col)
    if missing:
        raise DataError(f"{source}: missing column(s) {', '.join(missing)}")
    k = instrument.scale_points
    out = pd.DataFrame(index=range(len(df)))
    for col in instrument.items:
        raw = df[col].reset_index(drop=True)
        if raw.dtype == object or pd.api.types.is_string_dtype(raw):
            text = raw.astype(str).str.strip()
            empty = raw.isna().to_numpy() | text.isin(_EMPTY).to_numpy()  # None/NaN in an object column too
            empty = pd.Series(empty, index=raw.index)
            values = pd.to_numeric(text.where(~empty), errors="coerce")
            bad = values.isna() & ~empty
        else:
            values = pd.to_numeric(raw, errors="coerce").astype(float)
            bad = values.isna() & raw.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{source}: column {col}, row {i + 1}: answer {str(raw.iloc[i])!r} is not a number "
                            f"(expected an integer code 1..{k} or an empty cell)")
        v = values.to_numpy(dtype=float)
        ok = np.isnan(v) | ((v >= 1) & (v <= k) & (v == np.round(v)))
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise DataError(f"{source}: column {col}, row {i + 1}: answer {v[i]:g} is outside the scale "
                            f"(integer codes 1..{k})")
        out[col] = v
    for name, col in (("group", group), ("org", org)):
        if col is None:
            continue
        labels = df[col].reset_index(drop=True).astype(str).str.strip()
        empty = labels.isin(_EMPTY)
        if empty.any():
            i = int(np.flatnonzero(empty.to_numpy())[0])
            raise DataError(f"{source}: column {col}, row {i + 1}: empty {name} label")
        out[name] = labels.to_numpy()
    return out


def score_answers(items: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Total, level and status of each respondent under the missing-answer rule.

    Parameters
    ----------
    items : DataFrame
        Validated answers (item columns float, NaN = unanswered); other columns are kept.

    Returns
    -------
    DataFrame
        ``row`` (1-based data row), the kept non-item columns, ``n_missing``, ``total``
        (NaN when excluded), ``level`` (``""`` when excluded) and ``status`` (one of
        ``STATUS``).
    """
    x = items[list(instrument.items)].to_numpy(dtype=float)
    n_missing = np.isnan(x).sum(axis=1)
    answered = instrument.n_items - n_missing
    with np.errstate(invalid="ignore", divide="ignore"):
        total = np.nansum(x, axis=1) * instrument.n_items / answered  # = sum when complete
    excluded = n_missing > instrument.max_missing
    total = np.where(excluded, np.nan, total)
    status = np.where(excluded, "excluded", np.where(n_missing > 0, "prorated", "complete"))
    out = pd.DataFrame({"row": np.arange(1, len(x) + 1)})
    for col in items.columns:
        if col not in instrument.items:
            out[col] = items[col].to_numpy()
    out["n_missing"] = n_missing.astype(int)
    out["total"] = total
    out["level"] = [instrument.level_of(t) for t in total]
    out["status"] = status
    return out
