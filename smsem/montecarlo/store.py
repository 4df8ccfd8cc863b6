"""A durable store of finished replications: one SQLite file per study.

WAL journal, ``synchronous=FULL`` and one transaction per row (or per chunk of rows
that finished together, :meth:`Store.add_many`): a replication is on disk before the
runner counts it, so a process killed at any moment (SIGKILL included) loses
at most the replications in flight, never a stored one. The primary key ``(cell, rep)``
makes a second copy of a replication impossible.

A replication's estimates are one BLOB of little-endian float64 values (``k x 5``,
:data:`~smsem.montecarlo.rows.VALUE_FIELDS`: exact round trip, NaN included) and the id
of its list of parameter names, which is stored once per study in ``parameter_sets``
(every replication of a model shares it).
"""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import OptionError
from .rows import ESTIMATE_FIELDS, FIT_FIELDS, ROW_FIELDS, VALUE_FIELDS, Estimates

__all__ = ["Store", "STORE_NAME"]

STORE_NAME = "study.sqlite"
#: Version of the table layout; a store of another layout is refused, not misread.
STORE_FORMAT = "2"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS parameter_sets (id INTEGER PRIMARY KEY, names TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS replications (
    cell INTEGER NOT NULL, rep INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT,
    improper INTEGER NOT NULL, improper_reason TEXT, n_used INTEGER,
    chi2 REAL, df REAL, pvalue REAL, cfi REAL, tli REAL, rmsea REAL,
    parameter_set INTEGER REFERENCES parameter_sets (id), estimates BLOB NOT NULL,
    PRIMARY KEY (cell, rep)
);
"""
_VALUE_DTYPE = np.dtype("<f8")
_COLUMNS = ROW_FIELDS[:-1] + ("parameter_set", "estimates")


def _nan_to_none(v: Any) -> Any:
    return None if isinstance(v, float) and math.isnan(v) else v


class Store:
    """The SQLite store of one study (use as a context manager).

    Parameters
    ----------
    path : str or Path
        The database file.
    fingerprint : str
        The study's :attr:`StudyConfig.fingerprint`; an existing store made by a different
        configuration is refused.
    config_json : str
        The configuration, kept in the store for the record.
    """

    def __init__(self, path: str | Path, fingerprint: str, config_json: str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, one transaction per row.
        self.conn = sqlite3.connect(self.path, isolation_level=None, timeout=60)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self._check_format()
        self.conn.executescript(_SCHEMA)
        stored = self.conn.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
        if stored is None:
            self.conn.execute("BEGIN")
            self.conn.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
            self.conn.execute("INSERT INTO meta VALUES ('config', ?)", (config_json,))
            self.conn.execute("INSERT INTO meta VALUES ('format', ?)", (STORE_FORMAT,))
            self.conn.execute("COMMIT")
        elif stored[0] != fingerprint:
            old = json.loads(self.conn.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])
            new = json.loads(config_json)
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            self.conn.close()
            raise OptionError(f"{self.path} holds a study made with a different configuration "
                              f"(differs in: {', '.join(diff)}); use another --out folder or --force")

        # Parameter-name lists already stored: names tuple -> id.
        self._sets: dict[tuple[tuple[str, str, str], ...], int] = {
            tuple(tuple(k) for k in json.loads(names)): int(i)
            for i, names in self.conn.execute("SELECT id, names FROM parameter_sets")}

    def _check_format(self) -> None:
        """Refuse a store written with another table layout (an earlier smsem)."""
        columns = {r[1] for r in self.conn.execute("PRAGMA table_info(replications)")}
        fmt = None
        if self.conn.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone():
            fmt = self.conn.execute("SELECT value FROM meta WHERE key='format'").fetchone()
        found = "1" if columns and "parameter_set" not in columns else (fmt[0] if fmt else STORE_FORMAT)
        if found != STORE_FORMAT:
            self.conn.close()
            raise OptionError(f"{self.path} was written by another version of smsem (store format {found}; "
                              f"this one reads format {STORE_FORMAT}); use another --out folder or --force "
                              "to start again")

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    def done(self) -> set[tuple[int, int]]:
        """``(cell, rep)`` of every stored replication."""
        return {(c, r) for c, r in self.conn.execute("SELECT cell, rep FROM replications")}

    def count(self) -> int:
        return int(self.conn.execute("SELECT COUNT(*) FROM replications").fetchone()[0])

    def add(self, row: dict[str, Any]) -> bool:
        """Store one replication in its own committed transaction.

        Returns False (and stores nothing) if ``(cell, rep)`` is already stored.
        """
        return self.add_many([row])[0]

    def add_many(self, rows: list[dict[str, Any]]) -> list[bool]:
        """Store replications in one committed transaction (one fsync for a chunk).

        Returns, per row, False if its ``(cell, rep)`` was already stored (then nothing
        is stored for it).
        """
        sql = (f"INSERT OR IGNORE INTO replications ({', '.join(_COLUMNS)}) "
               f"VALUES ({', '.join('?' * len(_COLUMNS))})")
        new_sets: dict[tuple[tuple[str, str, str], ...], int] = {}
        out = []
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                est: Estimates = row["estimates"]
                set_id = None
                if len(est):
                    set_id = self._sets.get(est.params, new_sets.get(est.params))
                    if set_id is None:
                        cur = self.conn.execute("INSERT INTO parameter_sets (names) VALUES (?)",
                                                (json.dumps([list(k) for k in est.params]),))
                        set_id = new_sets[est.params] = int(cur.lastrowid)
                values = [_nan_to_none(row[k]) for k in ROW_FIELDS[:-1]]
                values += [set_id, np.ascontiguousarray(est.values, dtype=_VALUE_DTYPE).tobytes()]
                cur = self.conn.execute(sql, values)
                out.append(cur.rowcount == 1)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self._sets.update(new_sets)  # only once committed
        return out

    def replications(self) -> pd.DataFrame:
        """One row per stored replication, ordered by ``(cell, rep)``; no estimates."""
        cols = [k for k in ROW_FIELDS if k != "estimates"]
        df = pd.read_sql_query(f"SELECT {', '.join(cols)} FROM replications ORDER BY cell, rep", self.conn)
        for k in FIT_FIELDS:
            df[k] = df[k].astype(float)
        return df

    def estimates(self) -> pd.DataFrame:
        """One row per (replication, free parameter), ordered by ``(cell, rep)``.

        Columns ``cell, rep`` and :data:`~smsem.montecarlo.rows.ESTIMATE_FIELDS`.
        """
        stored = self.conn.execute(
            "SELECT cell, rep, parameter_set, estimates FROM replications ORDER BY cell, rep").fetchall()
        width = len(VALUE_FIELDS) * _VALUE_DTYPE.itemsize
        counts = np.array([len(b) // width for *_, b in stored], dtype=np.int64)
        values = np.frombuffer(b"".join(b for *_, b in stored), dtype=_VALUE_DTYPE).reshape(-1, len(VALUE_FIELDS))
        # Names: every parameter set once, then each row's block picked by position.
        sets = {int(i): json.loads(t) for i, t in self.conn.execute("SELECT id, names FROM parameter_sets")}
        names = [k for i in sorted(sets) for k in sets[i]]
        first = dict(zip(sorted(sets), np.cumsum([0] + [len(sets[i]) for i in sorted(sets)])[:-1].tolist()))
        for (cell, rep, set_id, _), k in zip(stored, counts):
            if k and (set_id not in sets or len(sets[set_id]) != k):
                raise OptionError(f"{self.path}: replication (cell {cell}, rep {rep}) has {k} estimates "
                                  "that do not match its parameter names; the store is damaged")
        starts = np.array([first.get(s, 0) for _, _, s, _ in stored], dtype=np.int64)
        offsets = np.cumsum(counts) - counts
        pos = np.arange(int(counts.sum())) - np.repeat(offsets - starts, counts)
        key = np.array(names, dtype=object).reshape(-1, 3) if names else np.empty((0, 3), dtype=object)
        key = key[pos]
        data: dict[str, Any] = {
            "cell": np.repeat(np.array([c for c, *_ in stored], dtype=np.int64), counts),
            "rep": np.repeat(np.array([r for _, r, *_ in stored], dtype=np.int64), counts),
        }
        for j, name in enumerate(ESTIMATE_FIELDS[:3]):
            data[name] = key[:, j]
        for j, name in enumerate(VALUE_FIELDS):
            data[name] = values[:, j].copy()
        return pd.DataFrame(data, columns=["cell", "rep", *ESTIMATE_FIELDS])
