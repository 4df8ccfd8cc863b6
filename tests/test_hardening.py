"""Hardening: one malformed input per failure mode -> exit status 2 and a one-line message
naming what, where and what to do; accepted spreadsheet variants read identically;
data warnings; inadmissible solutions reported, never a crash.

The malformed files are generated from the shipped example survey by the builders in
``CASES`` (no binary fixtures to keep in sync). Each case runs in-process through
``smsem.cli.main`` (exactly the code path of the console script, without paying the ~2.5 s
start-up of semopy per case); a representative subset also runs as a real
``python -m smsem`` subprocess.
"""

from __future__ import annotations

import codecs
import warnings

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem import cli
from smsem.estimate.admissibility import inadmissibility
from smsem.estimate.backend import Matrices
from smsem.exceptions import (
    DataError,
    HeywoodWarning,
    IdentificationError,
    MissingDataWarning,
    OutlierWarning,
    ReverseCodedWarning,
    SpecError,
)
from smsem.io import read_survey, read_table, validate_survey

from conftest import ROOT, run_cli

EXAMPLE = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"


def _example() -> pd.DataFrame:
    return pd.read_csv(EXAMPLE, dtype=str)


def _csv(tmp_path, df, name="bad.csv", **kw):
    p = tmp_path / name
    df.to_csv(p, index=False, **kw)
    return p


def _text(tmp_path, text, name="bad.csv", encoding="utf-8"):
    p = tmp_path / name
    p.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return p


def _lav(tmp_path, text):
    p = tmp_path / "model.lav"
    p.write_text(text, encoding="utf-8")
    return p


def _set(df, col, row, value):
    df = df.copy()
    df.loc[row, col] = value
    return df


def _lin_comb(df):
    x = df.astype(int)
    combo = x.IS1 + x.IS2 - 3
    keep = combo.between(1, 5)
    x = x[keep].copy()
    x["IS3"] = combo[keep]
    return x.astype(str)


def _ragged(tmp_path):
    lines = EXAMPLE.read_text().splitlines()
    lines[3] += ",4"
    return _text(tmp_path, "\n".join(lines) + "\n")


def _all_missing_row(df):
    df = df.copy()
    df.iloc[7, :] = ""
    return df


def _map(tmp_path, text):
    p = tmp_path / "map.yaml"
    p.write_text(text)
    return p


# (id, builder(tmp_path) -> argv after "fit", message fragment). Each message must also
# carry advice (checked below: a ';' followed by what to do).
CASES = [
    ("missing column", lambda t: [_csv(t, _example().drop(columns=["IC2"]))],
     "missing item column(s) IC2"),
    ("duplicated column", lambda t: [_text(t, EXAMPLE.read_text().replace("EA1,EA2", "EA1,EA1", 1))],
     "both give item EA1"),
    ("duplicate after case folding", lambda t: [_text(t, EXAMPLE.read_text().replace("EA1,EA2", "EA1, ea1", 1))],
     "columns 16 ('EA1', matched by name) and 17 ('ea1', matched by name) both give item EA1"),
    ("non-numeric", lambda t: [_csv(t, _set(_example(), "EA1", 4, "agree"))],
     "column EA1, row 5: value 'agree' is not a number"),
    ("above the scale", lambda t: [_csv(t, _set(_example(), "OP3", 9, "7"))],
     "column OP3, row 10: value 7 is outside the 5-point scale"),
    ("below the scale", lambda t: [_csv(t, _set(_example(), "COM1", 0, "0"))],
     "column COM1, row 1: value 0 is outside"),
    ("not an integer code", lambda t: [_csv(t, _set(_example(), "SL2", 11, "2.5"))],
     "column SL2, row 12: value 2.5 is not an integer code of the 5-point scale"),
    ("constant item", lambda t: [_csv(t, _example().assign(MA2="3"))],
     "column MA2: every answer is 3"),
    ("all-missing column", lambda t: [_csv(t, _example().assign(SL1=""))],
     "column SL1 has no answers"),
    ("all-missing row", lambda t: [_csv(t, _all_missing_row(_example()))],
     "row 8: every item is missing"),
    ("too few complete rows", lambda t: [_csv(t, _example().head(30))],
     "only 30 complete row(s)"),
    ("fewer complete rows than free parameters", lambda t: [_csv(t, _example().head(40))],
     "57 free parameters needs at least 57"),
    ("duplicate item (singular covariance)", lambda t: [_csv(t, _example().assign(EA3=_example().EA1))],
     "singular: item EA3 duplicates item EA1"),
    ("linear combination (singular covariance)", lambda t: [_csv(t, _lin_comb(_example()))],
     "item IS3 is an exact linear combination of other items (IS3 = 1*IS1 + 1*IS2 + constant)"),
    ("ragged row", lambda t: [_ragged(t)], "row 3 has 23 fields but the header has 22"),
    ("empty file", lambda t: [_text(t, "")], "the file is empty"),
    ("excel workbook", lambda t: [_text(t, b"PK\x03\x04rest-of-a-zip")], "export the sheet as CSV"),
    ("binary file", lambda t: [_text(t, b"COM1\x00\x01\x02")], "binary content"),
    ("bad parquet", lambda t: [_text(t, b"not parquet", name="bad.parquet")], "not a readable Parquet file"),
    ("missing file", lambda t: [t / "nope.csv"], "nope.csv: file not found"),
    ("map: unknown column key", lambda t: [EXAMPLE, "--columns", _map(t, "Q_COM1: COM1\n")],
     "key 'Q_COM1' is not a column"),
    ("map: unknown item", lambda t: [EXAMPLE, "--columns", _map(t, "COM1: COMX\n")],
     "key 'COM1' maps to 'COMX', which is not an item"),
    ("map: item twice", lambda t: [EXAMPLE, "--columns", _map(t, "COM1: COM1\nCOM2: com1\n")],
     "keys 'COM1' and 'COM2' both map to item COM1"),
    ("map: empty value", lambda t: [EXAMPLE, "--columns", _map(t, "COM1:\n")], "key 'COM1' maps to None"),
    ("map: not a mapping", lambda t: [EXAMPLE, "--columns", _map(t, "- COM1\n")], "must be a YAML mapping"),
    ("map: invalid yaml", lambda t: [EXAMPLE, "--columns", _map(t, "a: [b\n")], "invalid YAML"),
    ("map: missing file", lambda t: [EXAMPLE, "--columns", t / "nomap.yaml"], "column map file not found"),
    ("model: syntax error", lambda t: [EXAMPLE, "--model", _lav(t, "F =~ COM1 + COM2\nG =~ MA1 + + MA2\n")],
     "model.lav: line 2, column 12: empty term after '+'"),
    ("model: unknown variable", lambda t: [EXAMPLE, "--model",
                                           _lav(t, "F =~ COM1 + COM2 + COM3\nG =~ MA1 + MA2 + MA3\nG ~ F + SLL\n")],
     "model.lav: line 3, column 9: unknown variable SLL in 'G ~ SLL'"),
    ("model: single indicator", lambda t: [EXAMPLE, "--model", _lav(t, "F =~ COM1\nCOM1 ~~ COM1\nG =~ MA1 + MA2 + MA3\nG ~ F\n")],
     "latent variable F has one indicator (COM1)"),
    ("model: t-rule", lambda t: [EXAMPLE, "--model",
                                 _lav(t, "F =~ COM1 + COM2 + COM3\nCOM1 ~~ COM2\nCOM1 ~~ COM3\nCOM2 ~~ COM3\n")],
     "9 free parameters but only 6 sample moments"),
    ("model: regressed on itself", lambda t: [EXAMPLE, "--model", _lav(t, "F =~ COM1 + COM2 + COM3\nF ~ F\n")],
     "line 2, column 5: F is regressed on itself"),
    ("model: negative fixed variance", lambda t: [EXAMPLE, "--model", _lav(t, "F =~ COM1 + COM2 + COM3\nF ~~ -1*F\n")],
     "model.lav: line 2, column 6: the variance F ~~ F is fixed to -1"),
    ("model: no scale", lambda t: [EXAMPLE, "--model", _lav(t, "F =~ NA*COM1 + COM2 + COM3\n")],
     "latent variable F has no scale: no loading is fixed"),
    ("model: missing file", lambda t: [EXAMPLE, "--model", t / "nomodel.lav"], "model file not found"),
    ("model: unknown name", lambda t: [EXAMPLE, "--model", "nonesuch"], "unknown model 'nonesuch'"),
]
SUBPROCESS = {"non-numeric", "linear combination (singular covariance)", "model: syntax error"}


def _check_one_line(rc, err, fragment):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), err
    assert lines[0].startswith("smsem: error: "), err
    assert fragment in lines[0], err
    # what to do: every message ends with advice after a ';' (or names the fix after it)
    assert ";" in lines[0], err


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_malformed_input_one_line_exit_2(case, tmp_path, capsys):
    _, build, fragment = case
    argv = ["fit", *map(str, build(tmp_path)), "--boot", "0"]
    rc = cli.main(argv)
    out, err = capsys.readouterr()
    _check_one_line(rc, err, fragment)
    assert out == ""


@pytest.mark.parametrize("case", [c for c in CASES if c[0] in SUBPROCESS], ids=sorted(SUBPROCESS, key=[c[0] for c in CASES].index))
def test_malformed_input_subprocess(case, tmp_path):
    _, build, fragment = case
    r = run_cli("fit", *map(str, build(tmp_path)), "--boot", "0")
    _check_one_line(r.returncode, r.stderr, fragment)


def test_every_case_raises_smsem_error_from_the_api(tmp_path):
    """The same files through the API raise smsem's own classes, never a bare exception."""
    model = smsem.load_model("integrative")
    for name, build, fragment in CASES:
        if name.startswith(("map", "model")):
            continue
        d = tmp_path / name.replace(" ", "_").replace(":", "")
        d.mkdir()
        path = build(d)[0]
        with pytest.raises(DataError) as info:
            read_survey(path, model)
        assert fragment in str(info.value), name


# --- accepted variants -----------------------------------------------------------------


@pytest.fixture(scope="module")
def baseline():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the clean example raises no data warning
        return read_survey(EXAMPLE, smsem.load_model("integrative"))


def _variant(tmp_path, kind):
    df = _example()
    if kind == "semicolon + decimal comma":
        text = df.to_csv(index=False, sep=";").splitlines()
        body = [ln.replace(";", "\0").replace("\0", ";") for ln in text]
        # write codes like "3,0" (decimal comma) in half the cells
        rows = [";".join(f"{v},0" if (i + j) % 2 else v for j, v in enumerate(ln.split(";")))
                for i, ln in enumerate(body[1:])]
        return _text(tmp_path, "\r\n".join([body[0]] + rows) + "\r\n", encoding="cp1252")
    if kind == "UTF-8 BOM":
        return _text(tmp_path, codecs.BOM_UTF8.decode("utf-8") + df.to_csv(index=False))
    if kind == "Latin-1 header":
        return _text(tmp_path, df.assign(**{"Répondant": "é"}).to_csv(index=False, sep=";"), encoding="latin-1")
    if kind == "UTF-16 (Excel unicode text)":
        return _text(tmp_path, df.to_csv(index=False, sep="\t"), name="bad.txt", encoding="utf-16")
    if kind == "TSV":
        return _text(tmp_path, df.to_csv(index=False, sep="\t"), name="bad.tsv")
    if kind == "Parquet":
        p = tmp_path / "s.parquet"
        df.astype(int).to_parquet(p)
        return p
    if kind == "Parquet with missing":
        p = tmp_path / "s.parquet"
        d = df.astype(float)
        d.loc[3, "OP1"] = np.nan
        d.to_parquet(p)
        return p
    if kind == "case and spaces in headers":
        return _csv(tmp_path, df.rename(columns=lambda c: f"  {c.lower()} "))
    if kind == "extra columns, trailing empty lines":
        text = df.assign(id=range(len(df))).to_csv(index=False, sep=";")
        return _text(tmp_path, text + ";" * 22 + "\n\n")
    raise AssertionError(kind)


VARIANTS = ["semicolon + decimal comma", "UTF-8 BOM", "Latin-1 header", "UTF-16 (Excel unicode text)", "TSV",
            "Parquet", "Parquet with missing", "case and spaces in headers", "extra columns, trailing empty lines"]


@pytest.mark.parametrize("kind", VARIANTS)
def test_accepted_variants_read_identically(kind, tmp_path, baseline):
    got = read_survey(_variant(tmp_path, kind), smsem.load_model("integrative"))
    want = baseline.copy()
    if kind == "Parquet with missing":
        want.loc[3, "OP1"] = np.nan
    pd.testing.assert_frame_equal(got, want)


def test_mapping_file_reads_identically(tmp_path, baseline):
    df = _example().rename(columns={"COM1": "Q1 communication", "EA2": "attitude_2"})
    path = _csv(tmp_path, df)
    m = _map(tmp_path, "columns:\n  Q1 communication: COM1\n  ATTITUDE_2: ea2\n")
    got = read_survey(path, smsem.load_model("integrative"), columns=m)
    pd.testing.assert_frame_equal(got, baseline)
    got2 = read_survey(path, smsem.load_model("integrative"), columns={"Q1 communication": "COM1", "attitude_2": "EA2"})
    pd.testing.assert_frame_equal(got2, baseline)


def test_variants_fit_through_the_cli(tmp_path):
    """A cp1252 semicolon/decimal-comma export with a mapped column, and Parquet, give the
    example's estimates exactly."""
    base = run_cli("fit", str(EXAMPLE), "--boot", "0", "--format", "csv")
    assert base.returncode == 0, base.stderr
    (tmp_path / "a").mkdir()
    semi = _variant(tmp_path / "a", "semicolon + decimal comma")
    semi.write_bytes(semi.read_bytes().replace(b"OP4", b"Performance 4", 1))
    m = _map(tmp_path, "performance 4: OP4\n")
    pq = _variant(tmp_path, "Parquet")
    for args in ([str(semi), "--columns", str(m)], [str(pq)]):
        r = run_cli("fit", *args, "--boot", "0", "--format", "csv")
        assert r.returncode == 0, r.stderr
        assert r.stdout == base.stdout
        assert r.stderr == ""


# --- warnings --------------------------------------------------------------------------


def test_reverse_coded_item_warns(baseline):
    df = baseline.copy()
    df["IC2"] = 6 - df["IC2"]
    with pytest.warns(ReverseCodedWarning, match=r"IC2 in IC \(r = -0\.\d\d\).*recode them as 6 - code"):
        validate_survey(df, smsem.load_model("integrative"))


def test_high_missingness_warns(baseline):
    df = baseline.copy()
    df.loc[df.index[:75], "EA2"] = np.nan  # 25% missing, above the 20% threshold
    with pytest.warns(MissingDataWarning, match=r"threshold 20%\): item\(s\) EA2 25% missing; 25% of rows"):
        validate_survey(df, smsem.load_model("integrative"))
    df.loc[df.index[:75], "EA2"] = baseline["EA2"][:75]
    df.loc[df.index[:45], "EA2"] = np.nan  # 15%: below the threshold, silent
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        validate_survey(df, smsem.load_model("integrative"))


def test_multivariate_outliers_warn(baseline):
    df = baseline.copy()
    # three respondents who answer the opposite of the construct structure (1/5 alternation)
    pattern = np.where(np.arange(22) % 2 == 0, 1.0, 5.0)
    for r in (10, 20, 30):
        df.iloc[r] = pattern
    with pytest.warns(OutlierWarning) as rec:
        validate_survey(df, smsem.load_model("integrative"))
    msg = str(rec[0].message)
    assert msg.startswith("3 multivariate outlier(s)") and "rows 11, 21, 31" in msg.replace("row(s)", "rows")
    assert "chi-square(22) 0.999 quantile" in msg


def test_warnings_print_one_line_each(tmp_path):
    df = _example()
    df["IC2"] = (6 - df["IC2"].astype(int)).astype(str)
    r = run_cli("fit", str(_csv(tmp_path, df)), "--boot", "0")
    assert r.returncode == 0
    lines = [ln for ln in r.stderr.splitlines() if ln]
    assert any(ln.startswith("smsem: warning: item(s) that look reverse-coded") and "IC2" in ln for ln in lines), r.stderr
    assert all(ln.startswith("smsem: warning: ") for ln in lines), r.stderr


# --- models and identification ---------------------------------------------------------


@pytest.mark.parametrize("text, fragment", [
    ("F =~ x1\nx1 ~~ x1\n", "latent variable F has one indicator"),
    ("F =~ 0*x1 + 0*x2 + 0*x3\n", "every loading of latent variable F is fixed to 0"),
    ("F =~ x1 + x2 + x3\nx1 ~~ x2\nx1 ~~ x3\nx2 ~~ x3\n", "t-rule"),
    ("F =~ x1 + x2 + x3\nG =~ G + y1 + y2\n", "G is measured by itself"),
])
def test_unidentified_models_are_rejected_at_load(tmp_path, text, fragment):
    with pytest.raises(IdentificationError, match=fragment):
        smsem.load_model(str(_lav(tmp_path, text)))


def test_single_indicator_with_fixed_error_variance_is_accepted(tmp_path, baseline):
    m = smsem.load_model(str(_lav(tmp_path, "F =~ COM1\nG =~ MA1 + MA2 + MA3\nG ~ F\nCOM1 ~~ 0*COM1\n")))
    res = smsem.fit(m, validate_survey(baseline, m))
    assert res.admissible, res.problems  # a variance fixed to 0 is no Heywood case


def test_syntax_errors_on_continued_lines_point_at_the_term():
    with pytest.raises(SpecError, match=r"^line 3, column 7: 'x-3' is not a valid variable name"):
        smsem.parse_lavaan("F =~ x1 +\n  x2 +\n\tx4 + x-3\n")


# --- estimation: inadmissible solutions --------------------------------------------------


def _heywood_data(n=400, seed=1):
    """Three items whose correlations imply a standardized loading above 1 for A1."""
    r = np.array([[1, .8, .8], [.8, 1, .5], [.8, .5, 1]])
    z = np.random.default_rng(seed).multivariate_normal(np.zeros(3), r, size=n)
    return pd.DataFrame(np.digitize(z, [-1.5, -.5, .5, 1.5]) + 1, columns=["A1", "A2", "A3"])


def test_heywood_case_warns_names_parameter_and_marks_inadmissible(tmp_path):
    m = smsem.load_model(str(_lav(tmp_path, "F =~ A1 + A2 + A3\n")))
    # lavaan does not bound variances: the estimate is negative (semopy's bound held it at 0).
    with pytest.warns(HeywoodWarning, match=r"negative variance estimate for A1 ~~ A1 \(-0\.1877\)"):
        res = smsem.fit(m, _heywood_data())
    assert not res.admissible and "A1 ~~ A1" in res.problems[0]


def test_heywood_case_cli_writes_results_and_warns(tmp_path):
    lav = _lav(tmp_path, "F =~ A1 + A2 + A3\n")
    data = _csv(tmp_path, _heywood_data(), name="h.csv")
    r = run_cli("fit", str(data), "--model", str(lav), "--boot", "0", "--format", "csv")
    assert r.returncode == 0
    assert "smsem: warning: negative variance estimate for A1 ~~ A1" in r.stderr


def test_admissibility_names_the_parameter():
    inner, obs = ("F", "G"), ("x1", "x2")
    mk = lambda psi, theta: Matrices(inner, obs, np.zeros((2, 2)), np.eye(2), np.array(psi, float), np.array(theta, float))
    assert inadmissibility(mk([[1, .5], [.5, 1]], np.eye(2))) == ()
    neg = inadmissibility(mk([[1, .5], [.5, -0.2]], np.eye(2)))
    assert neg == ("negative variance estimate for G ~~ G (-0.2) (Heywood case)",)
    npd = inadmissibility(mk([[1, 1.2], [1.2, 1]], np.eye(2)))
    assert len(npd) == 1 and "latent covariance matrix is not positive definite" in npd[0]
    assert "F ~~ G = 1.200" in npd[0]
    assert inadmissibility(mk([[1, .5], [.5, 1]], np.eye(2)), converged=False) == ("the optimizer did not converge",)
    # a zero variance is a Heywood case only when it is a free parameter
    zero = mk([[1, 0], [0, 1]], np.diag([0.0, 1.0]))
    assert "x1 ~~ x1 is at its lower bound" in inadmissibility(zero)[0]
    assert inadmissibility(zero, free_cells={(3, 1, 1)}) == ()  # x1's variance is fixed


def test_clean_fit_is_admissible(fitted):
    assert fitted.admissible and fitted.problems == ()


def test_read_table_keeps_duplicate_headers(tmp_path):
    p = _text(tmp_path, "a;A;b\n1;2;3\n")
    t = read_table(p)
    assert list(t.columns) == ["a", "A", "b"] and t.iloc[0].tolist() == ["1", "2", "3"]


def test_reproduce_marks_admissibility_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "o"
    assert cli.main(["reproduce", "--n", "200", "--seed", "3", "--boot", "0", "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "Admissible solution: yes." in report
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capsys.readouterr()
    assert cli.main(["reproduce", "--n", "200", "--seed", "4", "--boot", "0", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already exists; use --force" in err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing touched
    assert cli.main(["reproduce", "--n", "200", "--seed", "4", "--boot", "0", "--out", str(out), "--force"]) == 0
    assert (out / "survey.csv").read_bytes() != before["survey.csv"]
    assert not list(out.glob(".*.tmp"))


def test_estimation_trouble_prints_each_warning_once(tmp_path, capsys):
    """A Heywood solution refitted by the bootstrap warns once per problem, in one-line form;
    semopy's own log messages come out as ``smsem: warning: estimation: ...``."""
    lav = _lav(tmp_path, "F =~ 100*COM1 + COM2 + COM3\nCOM1 ~~ 1000*COM1\n")
    assert cli.main(["fit", str(EXAMPLE), "--model", str(lav), "--boot", "3", "--format", "csv"]) == 0
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(ln.startswith("smsem: warning: ") for ln in lines), lines
    assert len(lines) == len(set(lines))
    assert any("negative variance estimate for F ~~ F" in ln for ln in lines), lines  # as lavaan, unbounded


def test_outputs_get_ordinary_permissions(tmp_path):
    """Atomic writes go through mkstemp (0600); the final file must follow the umask like open()."""
    import os

    from smsem.io import write_bytes, write_text

    old = os.umask(0o022)
    try:
        a = write_text(tmp_path / "a.txt", "x")
        b = write_bytes(tmp_path / "b.png", b"\x89PNG")
        with open(tmp_path / "c.txt", "w") as fh:
            fh.write("x")
    finally:
        os.umask(old)
    expected = (tmp_path / "c.txt").stat().st_mode & 0o777
    assert expected == 0o644
    assert a.stat().st_mode & 0o777 == expected
    assert b.stat().st_mode & 0o777 == expected
