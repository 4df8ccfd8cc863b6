"""Reading and validating survey files; writing outputs atomically.

Survey files are read as spreadsheets export them: CSV or TSV with a comma, semicolon,
tab or bar separator, decimal commas, UTF-8 with or without a byte-order mark (UTF-16
with a BOM too), else Windows-1252 (what Excel writes on Windows), else Latin-1; or
Parquet. Item columns are matched to the model's items ignoring case and surrounding
spaces, or through a column map (user column -> item id). Every problem is a :class:`~smsem.exceptions.DataError` that says
what is wrong, where (column, row, value) and what to do; questionable but usable data
raise :class:`~smsem.exceptions.DataWarning` subclasses.

Every output goes to a temporary file in the target folder and is renamed into place,
so an interrupted run never leaves a truncated file; an existing file is replaced only
with ``force=True``.
"""

from __future__ import annotations

import codecs
import csv
import glob
import io
import json
import logging
import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import yaml

from . import __version__
from ._testhooks import pause_point
from ._validation import check_input_file, check_option
from .exceptions import (
    DataError,
    MissingDataWarning,
    OptionError,
    OutlierWarning,
    ReverseCodedWarning,
    SpecError,
)
from .model.identification import check_variables
from .model.spec import SEMModel

__all__ = [
    "read_survey", "read_table", "load_column_map", "validate_survey", "write_text", "write_bytes", "write_survey",
    "check_writable", "declared_scales", "MISSING_WARN_THRESHOLD", "OUTLIER_QUANTILE", "MISSING_TOKENS",
]

#: An item (or the listwise-deleted share of rows) missing more than this warns.
MISSING_WARN_THRESHOLD = 0.20
#: Mahalanobis D^2 above this chi-square quantile (df = number of items) flags an outlier.
OUTLIER_QUANTILE = 0.999
#: Cell contents read as a missing answer (compared after stripping, ignoring case).
_log = logging.getLogger(__name__)

MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "."})
_DELIMITERS = (",", ";", "\t", "|")
_SHOW_ROWS = 5  # rows listed in a message before "..."


def check_writable(path: str | Path, force: bool = False) -> Path:
    """Refuse to overwrite an existing file unless ``force``."""
    path = Path(path)
    if path.exists() and not force:
        raise OptionError(f"{path} already exists; use --force to overwrite it")
    if path.exists() and path.is_dir():
        raise OptionError(f"{path} is a folder, not a file")
    return path


def _file_mode() -> int:
    """Permissions of a newly created file under the current umask (as ``open`` gives)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _write_atomic(path: str | Path, data: bytes, force: bool) -> Path:
    """Write ``data`` to a temporary file beside ``path``, fsync, rename into place."""
    path = check_writable(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    if force:  # temporary files of this output left by a killed writer
        for stray in path.parent.glob(f".{glob.escape(path.name)}.*.tmp"):
            stray.unlink(missing_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        # mkstemp creates the file 0600; give the output the permissions a plain write would.
        os.fchmod(fd, _file_mode())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        pause_point("write-file")  # tests interrupt a write here (smsem._testhooks)
        os.replace(tmp, path)
    except BaseException:
        # Interrupted (Ctrl-C included): remove the partial temporary file.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


def write_text(path: str | Path, text: str, *, force: bool = False) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (temporary file, fsync, rename)."""
    return _write_atomic(path, text.encode("utf-8"), force)


def write_bytes(path: str | Path, data: bytes, *, force: bool = False) -> Path:
    """Write binary ``data`` (e.g. a PNG) to ``path`` atomically, as :func:`write_text`."""
    return _write_atomic(path, bytes(data), force)


def write_survey(df: pd.DataFrame, path: str | Path, *, force: bool = False) -> tuple[Path, Path]:
    """Write a survey CSV and its JSON sidecar (``df.attrs["smsem"]`` plus the version)."""
    path = Path(path)
    meta_path = path.with_suffix(".json")
    check_writable(path, force)
    check_writable(meta_path, force)
    meta: dict[str, Any] = {"smsem_version": __version__, **df.attrs.get("smsem", {})}
    meta["columns"] = list(df.columns)
    write_text(path, df.to_csv(index=False, lineterminator="\n"), force=force)
    write_text(meta_path, json.dumps(meta, indent=2, ensure_ascii=False) + "\n", force=force)
    return path, meta_path


def _decode(raw: bytes, path: Path) -> str:
    """Text of a survey file: BOM-marked UTF-8/UTF-16, else UTF-8, else cp1252, else Latin-1.

    The encoding used is logged (logger ``smsem.io``, level INFO; ``smsem fit --verbose``).
    """
    text, encoding = _decode_as(raw, path)
    _log.info("%s: read as %s", path, encoding)
    return text


def _decode_as(raw: bytes, path: Path) -> tuple[str, str]:
    bom = ""
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
        bom = " with a byte-order mark"
    elif raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16"), "UTF-16"
        except UnicodeDecodeError:
            raise DataError(f"{path}: the file starts with a UTF-16 mark but is not valid UTF-16; "
                            "export it again as CSV UTF-8") from None
    if raw.startswith(b"PK\x03\x04"):
        raise DataError(f"{path}: this is a zip or Excel workbook, not a CSV file; "
                        "export the sheet as CSV (or Parquet)")
    if b"\x00" in raw[:4096]:
        raise DataError(f"{path}: binary content (NUL bytes) where a text CSV was expected; "
                        "export the data as CSV UTF-8 (or Parquet)")
    for encoding, name in (("utf-8", "UTF-8" + bom), ("cp1252", "Windows-1252 (cp1252; not valid UTF-8)")):
        # Not UTF-8: Excel on Windows writes "CSV" in cp1252 (en dash, curly quotes, oe, euro
        # sign in 0x80-0x9F, where Latin-1 has control characters). cp1252 leaves five bytes
        # undefined; a file holding one of them is read as Latin-1, where every byte decodes.
        try:
            return raw.decode(encoding), name
        except UnicodeDecodeError:
            pass
    return raw.decode("latin-1"), "Latin-1 (neither UTF-8 nor cp1252)"


def _count_outside_quotes(line: str, ch: str) -> int:
    n, quoted = 0, False
    for c in line:
        if c == '"':
            quoted = not quoted
        elif c == ch and not quoted:
            n += 1
    return n


def _sniff_delimiter(text: str, suffix: str) -> str:
    """The separator: tab for .tsv/.tab, else the most frequent candidate in the header."""
    if suffix in (".tsv", ".tab"):
        return "\t"
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    counts = {d: _count_outside_quotes(first, d) for d in _DELIMITERS}
    best = max(_DELIMITERS, key=lambda d: counts[d])  # ties keep the order of _DELIMITERS
    return best if counts[best] > 0 else ","


def _parse_text(text: str, path: Path) -> pd.DataFrame:
    delim = _sniff_delimiter(text, path.suffix.lower())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delim)
    try:
        records = list(reader)
    except csv.Error as exc:
        raise DataError(f"{path}: line {reader.line_num}: not a readable CSV line ({exc}); "
                        "check the quotes on that line") from None
    while records and all(not c.strip() for c in records[-1]):
        records.pop()  # trailing empty lines (";;;;" from spreadsheets) are not respondents
    if not records:
        raise DataError(f"{path}: the file is empty; it needs a header line with the item names")
    header = [h.strip() for h in records[0]]
    while len(header) > 1 and header[-1] == "":
        header.pop()  # a trailing separator on the header line
    width = len(header)
    rows = []
    for r, rec in enumerate(records[1:], start=1):
        if len(rec) > width and all(not c.strip() for c in rec[width:]):
            rec = rec[:width]
        if len(rec) == 0:
            rec = [""] * width
        if len(rec) != width:
            sep = {"\t": "tab", ",": "comma", ";": "semicolon", "|": "bar"}[delim]
            raise DataError(f"{path}: row {r} has {len(rec)} fields but the header has {width} "
                            f"({sep}-separated); quote values that contain a {sep} or fix the row")
        rows.append(rec)
    df = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(columns=header, dtype=object)
    df.attrs["smsem_delimiter"] = delim
    return df


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a survey table (CSV, TSV or Parquet) without interpreting the values.

    Text files give string cells (empty string = missing); header names are stripped
    of surrounding spaces; duplicated header names are kept (the check reports them).

    Raises
    ------
    DataError
        The file is missing, unreadable, empty or ragged.
    """
    path = check_input_file(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read the file ({exc.strerror}); check its permissions") from None
    if path.suffix.lower() in (".parquet", ".pq") or raw[:4] == b"PAR1":
        try:
            import pyarrow.parquet as pq

            table = pq.read_table(io.BytesIO(raw))
            df = table.to_pandas()
        except Exception as exc:  # pyarrow raises several unrelated classes
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise DataError(f"{path}: not a readable Parquet file ({first}); export it again "
                            "(Parquet or CSV)") from None
        df.columns = [str(c).strip() for c in table.column_names]
        return df
    return _parse_text(_decode(raw, path), path)


def load_column_map(path: str | Path) -> dict[str, str]:
    """Read a column map (YAML ``user column: item id``; optionally under ``columns:``).

    Raises
    ------
    OptionError
        The file is missing or is not a mapping of names to names (the bad key is named).
    """
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise OptionError(f"{path}: column map file not found; check the --columns path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise OptionError(f"{path}: cannot read the column map ({exc}); save it as UTF-8 YAML") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        raise OptionError(f"{path}: {where}invalid YAML ({getattr(exc, 'problem', exc)}); write one "
                          "'your column: item id' per line") from None
    if isinstance(doc, dict) and set(doc) == {"columns"} and isinstance(doc["columns"], dict):
        doc = doc["columns"]
    if not isinstance(doc, dict) or not doc:
        raise OptionError(f"{path}: a column map must be a YAML mapping; write one "
                          "'your column: item id' per line, e.g. 'Q1: COM1'")
    out: dict[str, str] = {}
    for key, value in doc.items():
        if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() == "":
            raise OptionError(f"{path}: key {key!r} maps to {value!r}; write 'your column: item id'")
        out[str(key).strip()] = str(value).strip()
    return out


def read_survey(path: str | Path, model: SEMModel, *, columns: Mapping[str, str] | str | Path | None = None,
                keep: Sequence[str] = (), **options: Any) -> pd.DataFrame:
    """Read a survey file and validate it against the model's items and scale.

    Parameters
    ----------
    path : str or Path
        CSV/TSV (any common separator, decimal comma, UTF-8/BOM/cp1252/Latin-1) or Parquet.
    model : SEMModel
    columns : mapping or path, optional
        Column map ``{user column: item id}`` or a YAML file holding one.
    keep : sequence of str
        Other columns to keep as they are (e.g. the group column of a multiple-group fit),
        appended after the items.
    **options
        Passed to :func:`validate_survey` (``missing``, ``likert``, ``missing_threshold``,
        ``outlier_quantile``).

    Returns
    -------
    DataFrame
        One float column per item (model order), NaN for missing answers.

    Raises
    ------
    DataError
        With the column, row and value of the first problem.
    """
    if columns is not None and not isinstance(columns, Mapping):
        columns = load_column_map(columns)
    raw = read_table(path)
    labels = {str(c).strip(): c for c in raw.columns}
    absent = [k for k in keep if k not in labels]
    if absent:
        raise DataError(f"{path}: the group column {absent[0]!r} is not in the data "
                        f"(columns: {', '.join(map(str, labels))})")
    out = validate_survey(raw, model, source=str(path), columns=columns, **options)
    for k in keep:
        if k not in out.columns:
            out[k] = raw[labels[k]].reset_index(drop=True).to_numpy()
    return out


def _label(col: str, item: str) -> str:
    return col if col == item else f"{col} (item {item})"


def _rows(positions: np.ndarray) -> str:
    shown = ", ".join(str(int(i) + 1) for i in positions[:_SHOW_ROWS])
    return shown + (", ..." if len(positions) > _SHOW_ROWS else "")


def _resolve_columns(df: pd.DataFrame, model: SEMModel, source: str,
                     columns: Mapping[str, str] | None) -> dict[str, int]:
    """Map each item id to the position of its data column."""
    labels = [str(c).strip() for c in df.columns]
    by_fold = {it.casefold(): it for it in model.items}
    target: list[str | None] = [by_fold.get(lab.casefold()) for lab in labels]
    how = ["matched by name"] * len(labels)
    if columns:
        seen_items: dict[str, str] = {}
        for key, item in columns.items():
            key_s, item_s = str(key).strip(), str(item).strip()
            canonical = by_fold.get(item_s.casefold())
            if canonical is None:
                raise DataError(f"column map: key {key_s!r} maps to {item_s!r}, which is not an item of model "
                                f"{model.name!r} (items: {', '.join(model.items)}); fix the map")
            if canonical in seen_items:
                raise DataError(f"column map: keys {seen_items[canonical]!r} and {key_s!r} both map to item "
                                f"{canonical}; map each item once")
            seen_items[canonical] = key_s
            hits = [j for j, lab in enumerate(labels) if lab == key_s]
            if not hits:
                hits = [j for j, lab in enumerate(labels) if lab.casefold() == key_s.casefold()]
            if not hits:
                raise DataError(f"column map: key {key_s!r} is not a column of {source} "
                                f"(columns: {', '.join(labels[:30])}{', ...' if len(labels) > 30 else ''}); "
                                "fix the map")
            for j in hits:
                target[j], how[j] = canonical, f"mapped from {key_s!r}"
    found: dict[str, int] = {}
    for j, item in enumerate(target):
        if item is None:
            continue
        if item in found:
            i = found[item]
            raise DataError(f"{source}: columns {i + 1} ({labels[i]!r}, {how[i]}) and {j + 1} ({labels[j]!r}, "
                            f"{how[j]}) both give item {item} (duplicated column; names are matched ignoring "
                            "case and surrounding spaces); delete or rename one of them")
        found[item] = j
    indicators = {p.rhs for p in model.parsed.parameters if p.op == "=~"}
    missing = [c for c in model.items if c not in found and c in indicators]
    if missing:
        raise DataError(f"{source}: missing item column(s) {', '.join(missing)} (model {model.name!r} needs "
                        f"{', '.join(model.items)}); rename the columns or map them with --columns map.yaml")
    try:
        check_variables(model, found)
    except SpecError as exc:
        raise SpecError(f"{model.source or model.name}: {exc}") from None
    return found


def _numeric(raw: pd.Series, label: str, k: int, source: str, decimal_comma: bool,
             scale: bool = True) -> pd.Series:
    """Float codes of one column (NaN = missing), or a DataError at the first bad cell.

    ``scale=False`` (an observed variable that is not a questionnaire item, e.g. a
    covariate): any finite number; true/false become 1/0.
    """
    if pd.api.types.is_bool_dtype(raw):
        if not scale:
            return raw.astype(float)
        raise DataError(f"{source}: column {label} holds true/false values, not {k}-point scale codes; "
                        f"recode it to 1..{k}")
    codes = _plain_codes(raw) if raw.dtype == object else None
    if codes is not None:  # every cell a plain integer or empty: the general path's numbers, fast
        values = pd.Series(codes, index=raw.index)
        bad = pd.Series(False, index=raw.index)
    elif pd.api.types.is_numeric_dtype(raw):
        values = pd.to_numeric(raw, errors="coerce").astype(float)
        bad = pd.Series(False, index=raw.index)
    else:
        # None and NaN cells become "" (pandas' str dtype keeps them missing); all else is text.
        text = raw.astype(str).fillna("").str.strip()
        empty = text.str.lower().isin(MISSING_TOKENS) | raw.isna().to_numpy()
        if decimal_comma:
            # "3,0" -> "3.0"; anything else with a comma stays non-numeric and is reported as written.
            has = text.str.contains(",", regex=False) & ~text.str.contains(".", regex=False)
            if has.any():
                text = text.where(~has, text.str.replace(",", ".", n=1, regex=False))
        values = pd.to_numeric(text.where(~empty, None), errors="coerce").astype(float)
        bad = values.isna() & ~empty
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        hint = f"use the codes 1..{k} and leave missing answers empty" if scale else "leave missing values empty"
        raise DataError(f"{source}: column {label}, row {i + 1}: value {str(raw.iloc[i])!r} is not a number; {hint}")
    v = values.to_numpy()
    finite = np.isfinite(v) | np.isnan(v)
    if not scale:
        if not finite.all():
            i = int(np.flatnonzero(~finite)[0])
            raise DataError(f"{source}: column {label}, row {i + 1}: value {v[i]:g} is not a finite number")
        return values
    ok = np.isnan(v) | (finite & (v >= 1) & (v <= k) & (v == np.round(v)))
    if not ok.all():
        i = int(np.flatnonzero(~ok)[0])
        kind = "outside" if not (1 <= v[i] <= k) else "not an integer code of"
        raise DataError(f"{source}: column {label}, row {i + 1}: value {v[i]:g} is {kind} the {k}-point scale "
                        f"(integer codes 1..{k}); recode it, or leave the cell empty if it marks a missing answer")
    return values


def _plain_codes(raw: pd.Series) -> np.ndarray | None:
    """Float codes of a text column whose every cell is ``""`` (missing) or a plain run of
    at most 15 ASCII digits (what a CSV of Likert codes holds), else None.

    The general path of :func:`_numeric` (strip, missing tokens, ``pd.to_numeric``) gives
    the same numbers for such cells (integers below 2^53 are exact), at a fraction of the
    cost of its per-column string operations.
    """
    cells = raw.to_numpy().tolist()
    codes: dict[str, float] = {}
    for cell in set(cells) if all(type(c) is str for c in cells) else (None,):
        if type(cell) is not str:
            return None
        if cell == "":
            codes[cell] = math.nan
        elif len(cell) <= 15 and cell.isascii() and cell.isdigit():
            codes[cell] = float(int(cell))
        else:
            return None
    return np.array([codes[c] for c in cells], dtype=float)


def _singular_message(x: np.ndarray, items: list[str]) -> str | None:
    """Describe an exact linear dependence among the columns of ``x`` (None if none)."""
    sd = x.std(axis=0, ddof=1)
    const = np.flatnonzero(sd == 0)
    if const.size:
        return f"item {items[const[0]]} is constant among the complete rows"
    z = (x - x.mean(axis=0)) / sd
    corr = z.T @ z / (len(x) - 1)
    w, v = np.linalg.eigh(corr)
    # A null direction of the correlation matrix: some items are an exact combination of others.
    if w[0] > 1e-10 * max(w[-1], 1.0):
        return None
    null = v[:, 0]
    support = np.flatnonzero(np.abs(null) > 1e-6 * np.abs(null).max())
    dep = int(support[-1])
    others = [int(j) for j in support[:-1]]
    if not others:
        return f"item {items[dep]} is constant among the complete rows"
    coef = {j: -null[j] / null[dep] * sd[dep] / sd[j] for j in others}
    if len(others) == 1:
        j = others[0]
        return (f"item {items[dep]} duplicates item {items[j]} ({items[dep]} = "
                f"{coef[j]:.3g}*{items[j]} {'+' if (c := x[:, dep].mean() - coef[j] * x[:, j].mean()) >= 0 else '-'} "
                f"{abs(c):.3g} in every complete row)")
    combo = " + ".join(f"{coef[j]:.3g}*{items[j]}" for j in others)
    return f"item {items[dep]} is an exact linear combination of other items ({items[dep]} = {combo} + constant)"


def declared_scales(model: SEMModel, likert: int | None = None) -> dict[str, int]:
    """``item -> K`` for the items whose ``1..K`` codes are checked (see :func:`validate_survey`).

    ``likert=None``: the items of the model's codebook constructs, on its ``scale.points``;
    ``K`` (2..11): every indicator of a latent variable; ``0``: none (continuous data).
    """
    if likert is None:
        return {i.id: model.scale_points for c in model.constructs.values() for i in c.items}
    if likert == 0:
        return {}
    return {p.rhs: int(likert) for p in model.parsed.parameters if p.op == "=~" and p.rhs in model.items}


def validate_survey(df: pd.DataFrame, model: SEMModel, *, source: str = "data",
                    columns: Mapping[str, str] | None = None,
                    missing: str = "listwise",
                    likert: int | None = None,
                    missing_threshold: float = MISSING_WARN_THRESHOLD,
                    outlier_quantile: float = OUTLIER_QUANTILE) -> pd.DataFrame:
    """Check a survey table against a model and return its item codes as floats.

    Errors (:class:`DataError` naming column, row and value; :class:`SpecError` for a
    model variable that is neither latent nor a column): missing or duplicated item
    columns, non-numeric or non-finite values, codes outside ``1..K`` for the items whose
    scale is declared (see ``likert``), items without any answer, rows without any
    answer, constant items, fewer complete rows than ``max(items + 1, free parameters)``,
    a singular sample covariance.

    ``likert`` declares the response scale: ``None`` (default) checks the codes ``1..K``
    of the items a codebook declares (``K`` = the codebook's ``scale.points``: the essay's
    items, 5 points) and nothing else; ``K`` (2..11) declares every indicator of a latent
    variable a ``K``-point item; ``0`` declares continuous data (no code check). Every
    other observed variable (a covariate, an item of the user's own model without a
    codebook, a scale score) need only be a finite number (or empty = missing).

    Warnings: :class:`MissingDataWarning` (an item or the listwise-deleted share of rows
    above ``missing_threshold``), :class:`ReverseCodedWarning` (negative item-rest
    correlation within a construct), :class:`OutlierWarning` (Mahalanobis D^2 above the
    chi-square ``outlier_quantile`` with df = number of items).

    ``missing="fiml"`` counts every row (each has an observed item) instead of the complete
    rows against ``free parameters``; the covariance and outlier checks then use the complete
    rows only when there are more of them than items.

    Empty cells (and NA, N/A, NaN, null, ".") are missing values. Row numbers in
    messages count data rows from 1 (row 1 is the first line after the header).
    """
    missing = check_option("missing", missing, ("listwise", "fiml"))
    if likert is not None and (isinstance(likert, bool) or not isinstance(likert, (int, np.integer))
                               or likert == 1 or not 0 <= likert <= 11):
        raise OptionError(f"likert must be 0 (continuous data) or 2..11 scale points, got {likert!r}")
    if not isinstance(df, pd.DataFrame):
        raise DataError(f"{source}: expected a pandas DataFrame, got {type(df).__name__}")
    found = _resolve_columns(df, model, source, columns)
    decimal_comma = df.attrs.get("smsem_delimiter", ";") != ","
    labels = [str(c).strip() for c in df.columns]
    items = [it for it in model.items if it in found]
    scales = declared_scales(model, likert)
    cols = {}
    for it in items:
        j = found[it]
        k = scales.get(it, 0)
        cols[it] = _numeric(df.iloc[:, j].reset_index(drop=True), _label(labels[j], it), k, source,
                            decimal_comma, scale=k > 0).to_numpy()
    out = pd.DataFrame(cols, index=pd.RangeIndex(len(df)), columns=items, dtype=float)
    miss = out.isna().to_numpy()
    for c, it in enumerate(items):
        if miss[:, c].all():
            raise DataError(f"{source}: column {_label(labels[found[it]], it)} has no answers (every row is "
                            "missing); check the export or remove the item from the model")
    empty_rows = np.flatnonzero(miss.all(axis=1)) if items else np.array([], dtype=int)
    if empty_rows.size:
        raise DataError(f"{source}: row {empty_rows[0] + 1}: every item is missing ({empty_rows.size} such "
                        f"row(s): {_rows(empty_rows)}); delete the empty rows")
    for c, it in enumerate(items):
        col = cols[it]
        vals = pd.unique(col[~miss[:, c]])
        if len(vals) == 1:
            raise DataError(f"{source}: column {_label(labels[found[it]], it)}: every answer is {vals[0]:g} "
                            "(a constant item has no variance and cannot be fitted); check the export or "
                            "remove the item from the model")
    keep = ~miss.any(axis=1)
    complete = int(keep.sum())
    if missing == "fiml":  # FIML uses every row (each has at least one observed item)
        if len(out) < model.n_free:
            raise DataError(f"{source}: only {len(out)} row(s) with data; model {model.name!r} with "
                            f"{model.n_free} free parameters needs at least {model.n_free}; collect more responses")
    else:
        need = max(len(items) + 1, model.n_free)
        if complete < need:
            raise DataError(f"{source}: only {complete} complete row(s) (no missing item); model {model.name!r} "
                            f"with {len(items)} items and {model.n_free} free parameters needs at least {need}; "
                            "collect more responses or reduce missing answers (or use --missing fiml)")
    x = out.to_numpy()[keep]
    enough = complete > len(items)
    why = _singular_message(x, items) if enough else None
    if why is not None:
        raise DataError(f"{source}: the sample covariance matrix of the {complete} complete rows is singular: "
                        f"{why}; remove one of these items from the model or fix the export")
    _warn_missing(out, miss, keep, missing_threshold, listwise=missing == "listwise")
    _warn_reverse_coded(out, model, items, scales)
    if enough:
        _warn_outliers(x, np.flatnonzero(keep), outlier_quantile)
    return out


def _warn_missing(out: pd.DataFrame, miss: np.ndarray, keep: np.ndarray, threshold: float,
                  listwise: bool = True) -> None:
    share = miss.mean(axis=0)
    high = [f"{it} {s:.0%}" for it, s in zip(out.columns, share) if s > threshold]
    dropped = 1.0 - keep.mean()
    if not listwise:
        if high:
            warnings.warn(f"high missingness (threshold {threshold:.0%}): item(s) {', '.join(high)} missing "
                          "(FIML uses every observed answer; check that answers are missing at random)",
                          MissingDataWarning, stacklevel=4)
        return
    if high or dropped > threshold:
        what = f"item(s) {', '.join(high)} missing; " if high else ""
        warnings.warn(f"high missingness (threshold {threshold:.0%}): {what}{dropped:.0%} of rows "
                      f"({int((~keep).sum())} of {len(keep)}) have a missing item and are dropped by listwise "
                      "deletion", MissingDataWarning, stacklevel=4)


def _warn_reverse_coded(out: pd.DataFrame, model: SEMModel, items: list[str],
                        scales: Mapping[str, int] | None = None) -> None:
    flagged = []
    for lat in model.latents:
        ind = [i for i in model.parsed.indicators(lat) if i in items]
        if len(ind) < 2:
            continue
        block = out[ind].to_numpy()
        block = block[~np.isnan(block).any(axis=1)]  # complete rows of the construct
        if len(block) < 3:
            continue
        for c, it in enumerate(ind):
            rest = np.delete(block, c, axis=1).sum(axis=1)
            if block[:, c].std(ddof=1) == 0 or rest.std(ddof=1) == 0:
                continue
            r = float(np.corrcoef(block[:, c], rest)[0, 1])
            if r < 0:
                flagged.append(f"{it} in {lat} (r = {r:.2f})")
    if flagged:
        ks = {k for k in (scales or {}).values() if k}
        fix = f"recode them as {ks.pop() + 1} - code" if len(ks) == 1 else "reverse their scoring"
        warnings.warn(f"item(s) that look reverse-coded (negative item-rest correlation within their construct): "
                      f"{'; '.join(flagged)}; if so, {fix} before fitting",
                      ReverseCodedWarning, stacklevel=4)


def _warn_outliers(x: np.ndarray, rows: np.ndarray, quantile: float) -> None:
    p = x.shape[1]
    d = x - x.mean(axis=0)
    s = np.cov(x, rowvar=False).reshape(p, p)
    d2 = np.einsum("ij,ij->i", d @ np.linalg.inv(s), d)
    from scipy import special  # here (not scipy.stats: 0.45 s of import for one quantile)

    cut = float(special.chdtri(p, 1.0 - quantile))  # the chi-square(p) quantile
    out = np.flatnonzero(d2 > cut)
    if out.size:
        warnings.warn(f"{out.size} multivariate outlier(s): Mahalanobis D^2 above {cut:.2f} (chi-square({p}) "
                      f"{quantile:g} quantile) in row(s) {_rows(rows[out])}; check them for careless or "
                      "mis-keyed answers", OutlierWarning, stacklevel=4)
