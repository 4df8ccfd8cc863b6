"""Reading survey files and writing outputs atomically.

Every output goes to a temporary file in the target folder and is renamed into place,
so an interrupted run never leaves a truncated file; an existing file is replaced only
with ``force=True``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from .exceptions import DataError, OptionError
from .model.spec import SEMModel

__all__ = ["read_survey", "validate_survey", "write_text", "write_bytes", "write_survey", "check_writable"]


def check_writable(path: str | Path, force: bool = False) -> Path:
    """Refuse to overwrite an existing file unless ``force``."""
    path = Path(path)
    if path.exists() and not force:
        raise OptionError(f"{path} already exists; use --force (force=True) to overwrite it")
    if path.exists() and path.is_dir():
        raise OptionError(f"{path} is a folder, not a file")
    return path


def write_text(path: str | Path, text: str, *, force: bool = False) -> Path:
    """Write ``text`` to ``path`` atomically (temporary file, fsync, rename)."""
    path = check_writable(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Interrupted (Ctrl-C included): remove the partial temporary file.
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path


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


def read_survey(path: str | Path, model: SEMModel) -> pd.DataFrame:
    """Read a survey CSV and validate it against the model's items and scale.

    Raises
    ------
    DataError
        With the column, row and value of the first problem.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable CSV file ({str(exc).splitlines()[0]})") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: the file is empty") from None
    return validate_survey(df, model, source=str(path))


def validate_survey(df: pd.DataFrame, model: SEMModel, *, source: str = "data") -> pd.DataFrame:
    """Check item columns, numeric codes within ``1..scale_points`` and enough rows.

    Empty cells are missing values. Row numbers in messages count data rows from 1
    (row 1 is the first line after the header).
    """
    missing = [c for c in model.items if c not in df.columns]
    if missing:
        raise DataError(f"{source}: missing item column(s) {', '.join(missing)} "
                        f"(model {model.name!r} needs {', '.join(model.items)})")
    out = pd.DataFrame(index=df.index)
    k = model.scale_points
    for col in model.items:
        raw = df[col]
        if raw.dtype == object or pd.api.types.is_string_dtype(raw):
            text = raw.astype(str).str.strip()
            empty = text.isin(["", "NA", "nan", "NaN"])
            values = pd.to_numeric(text.where(~empty), errors="coerce")
            bad = values.isna() & ~empty
        else:
            values = pd.to_numeric(raw, errors="coerce")
            bad = values.isna() & raw.notna()
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise DataError(f"{source}: column {col}, row {i + 1}: value {str(raw.iloc[i])!r} is not a number")
        ok = values.isna() | ((values >= 1) & (values <= k) & (values == np.round(values)))
        if not ok.all():
            i = int(np.flatnonzero(~ok.to_numpy())[0])
            raise DataError(f"{source}: column {col}, row {i + 1}: value {values.iloc[i]:g} is outside "
                            f"the {k}-point scale (integer codes 1..{k})")
        out[col] = values.astype(float)
    complete = int(out.notna().all(axis=1).sum())
    need = max(len(model.items) + 1, model.n_free)
    if complete < need:
        raise DataError(f"{source}: only {complete} complete row(s); model {model.name!r} with "
                        f"{len(model.items)} items and {model.n_free} free parameters needs at least {need}")
    return out.reset_index(drop=True)


def write_bytes(path: str | Path, data: bytes, *, force: bool = False) -> Path:
    """Write binary ``data`` (e.g. a PNG) to ``path`` atomically, as :func:`write_text`."""
    path = check_writable(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    return path
