"""The SQLite store: binary estimates round-trip exactly; other layouts are refused."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from smsem.exceptions import OptionError
from smsem.montecarlo import Store
from smsem.montecarlo.rows import ESTIMATE_FIELDS, FIT_FIELDS, NO_ESTIMATES, ROW_FIELDS, Estimates

A = (("EA", "~", "IC"), ("IC", "~~", "IC"))
B = (("EA", "~", "IC"), ("EA", "~", "COM"), ("COM", "~~", "MA"))


def _row(cell, rep, est, status="ok"):
    row = {k: None for k in ROW_FIELDS}
    row.update(cell=cell, rep=rep, status=status, reason="", improper=0, improper_reason="", n_used=300,
               estimates=est)
    row.update({k: float(i) for i, k in enumerate(FIT_FIELDS)})
    return row


def test_estimates_round_trip_exactly(tmp_path):
    rng = np.random.default_rng(1)
    va = rng.standard_normal((2, 5))
    va[:, 3:] = np.nan  # Wald rows carry no bootstrap bounds
    vb = rng.standard_normal((3, 5)) * 1e-300  # subnormal-range values survive
    vb[0, 0] = np.inf
    rows = [_row(0, 1, Estimates(A, va)), _row(0, 0, Estimates(B, vb)),
            _row(1, 0, NO_ESTIMATES, status="error"), _row(1, 1, Estimates(A, va * 2))]
    path = tmp_path / "study.sqlite"
    with Store(path, "fp", "{}") as st:
        assert st.add_many(rows[:2]) == [True, True]
        assert st.add_many(rows[1:]) == [False, True, True]  # (0, 0) is stored once
    with Store(path, "fp", "{}") as st:  # names sets are read back on reopening
        st.add_many([_row(2, 0, Estimates(B, vb))])
        est = st.estimates()
        n_sets = st.conn.execute("SELECT COUNT(*) FROM parameter_sets").fetchone()[0]
    assert n_sets == 2  # every parameter list stored once, whatever the rows
    assert list(est.columns) == ["cell", "rep", *ESTIMATE_FIELDS]
    expect = [(0, 0, B, vb), (0, 1, A, va), (1, 1, A, va * 2), (2, 0, B, vb)]  # ordered by (cell, rep)
    assert len(est) == sum(len(n) for *_, n, _ in expect)
    at = 0
    for cell, rep, names, vals in expect:
        part = est.iloc[at:at + len(names)]
        at += len(names)
        assert (part.cell == cell).all() and (part.rep == rep).all()
        assert [tuple(r) for r in part[["lhs", "op", "rhs"]].to_numpy()] == list(names)
        got = part[list(ESTIMATE_FIELDS[3:])].to_numpy()
        assert np.array_equal(got, vals, equal_nan=True)  # bit for bit, NaN and inf included
        assert got.dtype == np.float64


def test_store_of_an_earlier_layout_is_refused(tmp_path):
    path = tmp_path / "study.sqlite"
    with sqlite3.connect(path) as conn:  # format 1: estimates as JSON text, no parameter_set
        conn.executescript("""
            CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
            CREATE TABLE replications (cell INTEGER NOT NULL, rep INTEGER NOT NULL, status TEXT NOT NULL,
                reason TEXT, improper INTEGER NOT NULL, improper_reason TEXT, n_used INTEGER,
                chi2 REAL, df REAL, pvalue REAL, cfi REAL, tli REAL, rmsea REAL, estimates TEXT NOT NULL,
                PRIMARY KEY (cell, rep));
            INSERT INTO meta VALUES ('fingerprint', 'fp');
        """)
    with pytest.raises(OptionError, match=r"store format 1; this one reads format 2.*--force"):
        Store(path, "fp", "{}")
    with sqlite3.connect(path) as conn:  # nothing was changed
        assert conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE name='parameter_sets'").fetchone()[0] == 0


def test_estimates_check_their_shape():
    with pytest.raises(ValueError, match="2 parameters but values of shape"):
        Estimates(A, np.zeros((3, 5)))
    assert Estimates(A, np.ones((2, 5))) == Estimates(A, np.ones((2, 5)))
    assert Estimates(A, np.ones((2, 5))) != Estimates(A, np.zeros((2, 5)))
    assert list(Estimates(A, np.arange(10.0).reshape(2, 5)))[1] == ["IC", "~~", "IC", 5.0, 6.0, 7.0, 8.0, 9.0]
