"""The command line: every command runs; bad input ends in one line and status 2."""

import json

import pandas as pd
import pytest

from conftest import ROOT, run_cli

EXAMPLE = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"


def test_help_lists_commands():
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in ("reproduce", "generate", "fit"):
        assert cmd in r.stdout


def test_generate_writes_csv_and_sidecar(tmp_path):
    out = tmp_path / "survey.csv"
    r = run_cli("generate", "--n", "50", "--seed", "1", "--out", str(out))
    assert r.returncode == 0, r.stderr
    df = pd.read_csv(out)
    assert df.shape == (50, 22)
    assert df.isin([1, 2, 3, 4, 5]).all().all()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["seed"] == 1 and meta["n"] == 50 and meta["likert"] == 5
    # refuses to overwrite without --force
    r2 = run_cli("generate", "--n", "50", "--seed", "2", "--out", str(out))
    assert r2.returncode == 2 and "already exists" in r2.stderr
    pd.testing.assert_frame_equal(pd.read_csv(out), df)


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "csv"])
def test_fit_formats(fmt):
    r = run_cli("fit", str(EXAMPLE), "--boot", "20", "--format", fmt)
    assert r.returncode == 0, r.stderr
    assert "P5h" in r.stdout
    if fmt == "json":
        doc = json.loads(r.stdout)
        assert len(doc["paths"]) == 12 and doc["n_boot"] == 20


def test_reproduce_writes_outputs(tmp_path):
    out = tmp_path / "o"
    r = run_cli("reproduce", "--n", "200", "--seed", "3", "--boot", "20", "--out", str(out))
    assert r.returncode == 0, r.stderr
    for name in ("survey.csv", "survey.json", "estimates.csv", "propositions.csv", "report.md"):
        assert (out / name).is_file()
    assert r.stdout.split("Mediation:")[0].count(" -> ") == 12  # then the mediation block
    assert "IS -> IC -> EA -> OP" in r.stdout.split("Mediation:")[1]
    props = pd.read_csv(out / "propositions.csv")
    assert len(props) == 12
    assert not list(out.glob(".*.tmp"))


def _bad(tmp_path, mutate):
    df = pd.read_csv(EXAMPLE, dtype=str)
    df = mutate(df)
    p = tmp_path / "bad.csv"
    df.to_csv(p, index=False)
    return p


@pytest.mark.parametrize(
    "mutate, fragment",
    [
        (lambda d: d.drop(columns=["IC2"]), "missing item column(s) IC2"),
        (lambda d: d.assign(EA1=d.EA1.where(d.index != 4, "agree")), "column EA1, row 5: value 'agree' is not a number"),
        (lambda d: d.assign(OP3=d.OP3.where(d.index != 9, "7")), "column OP3, row 10: value 7 is outside"),
        (lambda d: d.assign(COM1=d.COM1.where(d.index != 0, "0")), "column COM1, row 1: value 0 is outside"),
        (lambda d: d.head(30), "only 30 complete row(s)"),
    ],
)
def test_fit_bad_input_one_line_exit_2(tmp_path, mutate, fragment):
    r = run_cli("fit", str(_bad(tmp_path, mutate)), "--boot", "0")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert fragment in r.stderr, r.stderr


def test_fit_missing_file_and_bad_option(tmp_path):
    r = run_cli("fit", str(tmp_path / "nope.csv"))
    assert r.returncode == 2 and "file not found" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("fit", str(EXAMPLE), "--boot", "-3")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
