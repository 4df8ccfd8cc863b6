"""A durable store of finished replications: one SQLite file per study.

WAL journal, ``synchronous=FULL`` and one transaction per row (or per chunk of rows
that finished together, :meth:`Store.add_many`): a replication is on disk before the
runner counts it, so a process killed at any moment (SIGKILL included) loses
at most the replications in flight, never a stored one. The primary key ``(cell, rep)``
makes a second copy of a replication impossible.
"""

from __future__ import annotations

import itertools
import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import OptionError
from .replication import ESTIMATE_FIELDS, FIT_FIELDS, ROW_FIELDS

__all__ = ["Store", "STORE_NAME"]

STORE_NAME = "study.sqlite"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS replications (
    cell INTEGER NOT NULL, rep INTEGER NOT NULL, status TEXT NOT NULL, reason TEXT,
    improper INTEGER NOT NULL, improper_reason TEXT, n_used INTEGER,
    chi2 REAL, df REAL, pvalue REAL, cfi REAL, tli REAL, rmsea REAL,
    estimates TEXT NOT NULL,
    PRIMARY KEY (cell, rep)
);
"""


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
        self.conn.executescript(_SCHEMA)
        stored = self.conn.execute("SELECT value FROM meta WHERE key='fingerprint'").fetchone()
        if stored is None:
            self.conn.execute("BEGIN")
            self.conn.execute("INSERT INTO meta VALUES ('fingerprint', ?)", (fingerprint,))
            self.conn.execute("INSERT INTO meta VALUES ('config', ?)", (config_json,))
            self.conn.execute("COMMIT")
        elif stored[0] != fingerprint:
            old = json.loads(self.conn.execute("SELECT value FROM meta WHERE key='config'").fetchone()[0])
            new = json.loads(config_json)
            diff = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            self.conn.close()
            raise OptionError(f"{self.path} holds a study made with a different configuration "
                              f"(differs in: {', '.join(diff)}); use another --out folder or --force")

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
        sql = (f"INSERT OR IGNORE INTO replications ({', '.join(ROW_FIELDS)}) "
               f"VALUES ({', '.join('?' * len(ROW_FIELDS))})")
        out = []
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            for row in rows:
                values = [row[k] for k in ROW_FIELDS]
                values[-1] = json.dumps(row["estimates"])  # floats as repr: exact round trip
                cur = self.conn.execute(sql, [_nan_to_none(v) for v in values])
                out.append(cur.rowcount == 1)
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return out

    def replications(self) -> pd.DataFrame:
        """One row per stored replication, ordered by ``(cell, rep)``; no estimates."""
        cols = [k for k in ROW_FIELDS if k != "estimates"]
        df = pd.read_sql_query(f"SELECT {', '.join(cols)} FROM replications ORDER BY cell, rep", self.conn)
        for k in FIT_FIELDS:
            df[k] = df[k].astype(float)
        return df

    def estimates(self) -> pd.DataFrame:
        """One row per (replication, free parameter), ordered by ``(cell, rep)``."""
        stored = self.conn.execute("SELECT cell, rep, estimates FROM replications ORDER BY cell, rep").fetchall()
        # One JSON parse for all rows (each row's text is a JSON list), then flatten.
        parsed = json.loads("[" + ",".join(t for _, _, t in stored) + "]") if stored else []
        counts = [len(x) for x in parsed]
        df = pd.DataFrame(list(itertools.chain.from_iterable(parsed)), columns=list(ESTIMATE_FIELDS))
        df.insert(0, "rep", np.repeat(np.array([r for _, r, _ in stored], dtype=np.int64), counts))
        df.insert(0, "cell", np.repeat(np.array([c for c, _, _ in stored], dtype=np.int64), counts))
        for k in ESTIMATE_FIELDS[3:]:
            df[k] = df[k].astype(float)
        return df
