"""Property-based robustness: random malformed surveys and model strings never raise
anything but smsem's own errors (API) and never end other than with status 0 or 2 and
one line (CLI)."""

from __future__ import annotations

import contextlib
import io
import tempfile
import warnings
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import smsem
from smsem import cli
from smsem.exceptions import SmsemError, SmsemWarning
from smsem.io import read_survey, validate_survey

from conftest import ROOT, run_cli

EXAMPLE = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"
LINES = EXAMPLE.read_text().splitlines()
MODEL = smsem.load_model("integrative")
API = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# In-process CLI (smsem.cli.main, the console script's code path) for breadth; a few real
# subprocesses (2.5 s of semopy start-up each) for the process-level contract.
CLI = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PROC = settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])

TOKENS = ["1", "2", "3", "4", "5", "0", "6", "3,0", "2.0", "2.5", "", " ", "NA", "n/a", ".", "abc", "1e3", "inf",
          "-inf", "nan", "-1", '"', '"3"', "é", "\t", ";", ",", "\x00", "５", "None", "TRUE", "1 2"]
SEPS = [",", ";", "\t", "|"]
ENCODINGS = ["utf-8", "utf-8-sig", "latin-1", "utf-16", "cp1252"]


@st.composite
def malformed_csv(draw) -> bytes:
    """The example survey's first rows, with random corruptions of cells, rows and header."""
    n = draw(st.integers(0, 90))
    sep = draw(st.sampled_from(SEPS))
    rows = [ln.split(",") for ln in LINES[: n + 1]]
    for _ in range(draw(st.integers(0, 6))):
        if len(rows) == 0:
            break
        kind = draw(st.sampled_from(["cell", "cell", "header", "drop_cell", "add_cell", "dup_row", "drop_col"]))
        r = draw(st.integers(0, len(rows) - 1))
        if kind == "cell" and rows[r]:
            c = draw(st.integers(0, len(rows[r]) - 1))
            rows[r][c] = draw(st.sampled_from(TOKENS))
        elif kind == "header" and rows[0]:
            c = draw(st.integers(0, len(rows[0]) - 1))
            h = rows[0][c]
            rows[0][c] = draw(st.sampled_from([h.lower(), f" {h} ", rows[0][0], "", "x" + h, h + "é"]))
        elif kind == "drop_cell" and rows[r]:
            rows[r].pop()
        elif kind == "add_cell":
            rows[r].append(draw(st.sampled_from(TOKENS)))
        elif kind == "dup_row":
            rows.insert(r, list(rows[r]))
        elif kind == "drop_col" and rows[0]:
            c = draw(st.integers(0, len(rows[0]) - 1))
            rows = [row[:c] + row[c + 1:] for row in rows]
    text = "\n".join(sep.join(row) for row in rows)
    enc = draw(st.sampled_from(ENCODINGS))
    try:
        data = text.encode(enc)
    except UnicodeEncodeError:
        data = text.encode("utf-8")
    if draw(st.booleans()) and data:
        pos = draw(st.integers(0, len(data)))  # random bytes spliced in
        data = data[:pos] + draw(st.binary(max_size=8)) + data[pos:]
    return data


def _read(data: bytes, suffix: str = ".csv"):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / f"s{suffix}"
        p.write_bytes(data)
        return read_survey(p, MODEL)


def _only_smsem(call):
    """Run ``call``: it may return or raise SmsemError; its warnings must be smsem's."""
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        try:
            out = call()
        except SmsemError as exc:
            msg = str(exc)
            assert msg and "\n" not in msg.strip(), msg
            out = exc
    stray = [w for w in rec if not issubclass(w.category, SmsemWarning) and w.category is not UserWarning]
    assert not stray, [f"{w.category.__name__}: {w.message}" for w in stray]
    return out


@API
@given(malformed_csv())
def test_read_survey_raises_only_smsem_errors(data):
    out = _only_smsem(lambda: _read(data))
    if isinstance(out, pd.DataFrame):  # accepted: the result honours the contract
        assert list(out.columns) == MODEL.items
        v = out.to_numpy()
        assert ((v[~pd.isna(v)] >= 1) & (v[~pd.isna(v)] <= MODEL.scale_points)).all()


@API
@given(st.binary(max_size=200), st.sampled_from([".csv", ".tsv", ".parquet", ".txt"]))
def test_arbitrary_bytes(data, suffix):
    _only_smsem(lambda: _read(data, suffix))


CELLS = st.one_of(st.none(), st.booleans(), st.integers(-3, 9), st.floats(allow_nan=True, allow_infinity=True),
                  st.sampled_from(TOKENS), st.text(max_size=4))


@API
@given(st.lists(st.lists(CELLS, min_size=22, max_size=22), max_size=70), st.booleans())
def test_validate_survey_on_object_frames(rows, lower):
    cols = [c.lower() if lower else c for c in MODEL.items]
    df = pd.DataFrame(rows, columns=cols, dtype=object) if rows else pd.DataFrame(columns=cols)
    _only_smsem(lambda: validate_survey(df, MODEL))


LAV_TOKENS = ["F", "G", "x1", "x2", "x3", "y", "=~", "~", "~~", ":=", "+", "*", "2", "NA", "a", "1", "#", "!",
              ";", "\n", " ", "\t", "é", "-", "(", ")", "0.5", "1e400", "0*", ".x", "_", "=", "~~~"]


@API
@given(st.one_of(st.lists(st.sampled_from(LAV_TOKENS), max_size=30).map(" ".join),
                 st.lists(st.sampled_from(LAV_TOKENS), max_size=30).map("".join),
                 st.text(max_size=60)))
def test_model_strings_parse_or_raise_spec_error(text):
    out = _only_smsem(lambda: smsem.parse_lavaan(text))
    if not isinstance(out, Exception):  # parse -> print -> parse keeps every parameter
        again = smsem.parse_lavaan(out.to_lavaan())
        assert [(p.key, p.fixed, p.label) for p in again.parameters] == [(p.key, p.fixed, p.label) for p in out.parameters]
        assert all(p.column >= 1 for p in out.parameters)
    else:
        assert str(out).startswith("line ")  # every syntax error has a line and a column
        assert ", column " in str(out).split(":")[0]


@API
@given(st.lists(st.sampled_from(LAV_TOKENS), max_size=30).map(" ".join), st.sampled_from(["utf-8", "latin-1"]))
def test_load_model_on_random_files(text, enc):
    def load():
        with tempfile.TemporaryDirectory() as d:
            p = Path(d) / "m.lav"
            p.write_bytes(text.encode(enc, errors="replace"))
            return smsem.load_model(str(p))

    _only_smsem(load)


def _check_cli(rc: int, out: str, err: str) -> None:
    assert rc in (0, 2), err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert all(ln.startswith("smsem: ") for ln in lines), err
    if rc == 2:
        errors = [ln for ln in lines if ln.startswith("smsem: error: ")]
        assert len(errors) == 1 and lines[-1] == errors[0], err
        assert out == ""
    else:
        assert out.startswith("id,proposition,path"), out[:200]


@CLI
@given(malformed_csv())
def test_cli_main_exit_0_or_2_with_one_line(data):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "s.csv"
        p.write_bytes(data)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            rc = cli.main(["fit", str(p), "--boot", "0", "--format", "csv"])
    _check_cli(rc, out.getvalue(), err.getvalue())


@PROC
@given(malformed_csv())
def test_cli_process_exit_0_or_2_with_one_line(data):
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "s.csv"
        p.write_bytes(data)
        r = run_cli("fit", str(p), "--boot", "0", "--format", "csv")
    _check_cli(r.returncode, r.stdout, r.stderr)
