"""`smsem generate`: scenario, Likert, non-normal and missing-data options."""

import json

import pandas as pd
import pytest

from conftest import ROOT, run_cli
from smsem.cli import main

EXAMPLE = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"


def test_generate_scenario_with_mar_missing_end_to_end(tmp_path):
    out = tmp_path / "s.csv"
    r = run_cli("generate", "--scenario", "undefined", "--n", "400", "--seed", "5", "--likert", "7",
                "--missing-rate", "0.1", "--missing-mechanism", "mar", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "400 respondents x 22 items" in r.stdout and "missing" in r.stdout
    df = pd.read_csv(out)
    assert df.columns[0] == "department" and set(df.department) == {"sales", "marketing"}
    items = df.columns[1:]
    assert df["COM1"].notna().all() and df[items].isna().any().any()
    values = df[items].stack().dropna()
    assert values.between(1, 7).all() and (values == values.round()).all()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["scenario"]["name"] == "undefined" and meta["likert"] == 7 and meta["seed"] == 5
    assert meta["missing"]["mechanism"] == "mar" and abs(meta["missing"]["realized_rate"] - 0.1) < 0.02
    assert "smsem_version" in meta and len(meta["thresholds"]) == 6


def test_generate_default_is_the_committed_example(tmp_path, capsys):
    out = tmp_path / "e.csv"
    assert main(["generate", "--n", "300", "--seed", "1", "--out", str(out)]) == 0
    assert out.read_bytes() == EXAMPLE.read_bytes()
    out2 = tmp_path / "t.csv"
    assert main(["generate", "--n", "300", "--seed", "1", "--scenario", "thesis", "--out", str(out2)]) == 0
    assert out2.read_bytes() == EXAMPLE.read_bytes()


def test_generate_continuous_nonnormal(tmp_path, capsys):
    out = tmp_path / "c.csv"
    assert main(["generate", "--likert", "0", "--skewness", "1", "--kurtosis", "2", "--n", "100",
                 "--missing-rate", "0.05", "--out", str(out)]) == 0
    df = pd.read_csv(out)
    assert df.shape == (100, 22) and (df.dtypes == float).all() and df.isna().any().any()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["nonnormal"]["skewness"]["OP4"] == 1.0 and meta["thresholds"] is None


@pytest.mark.parametrize("args, message", [
    (["--scenario", "nope"], "unknown scenario 'nope'; shipped scenarios: aligned, defined, integrated, null, thesis, undefined"),
    (["--likert", "12"], "likert must be at most 11, got 12"),
    (["--likert", "1"], "likert must be 0 (continuous) or 2..11 scale points, got 1"),
    (["--missing-rate", "1.5"], "missing rate must be < 1.0, got 1.5"),
    (["--missing-rate", "abc"], "argument --missing-rate: expected a number, got 'abc'"),
    (["--missing-mechanism", "mnar"], "argument --missing-mechanism: invalid choice: 'mnar'"),
    (["--proportions", "0.2,0.2,0.2,0.4,0"], "category 5 has 0.0 (a zero proportion makes two thresholds coincide)"),
    (["--likert", "4", "--proportions", "0.5,0.5"], "a 4-point scale needs 4 category proportions, got 2"),
    (["--likert", "0", "--skewness", "3", "--kurtosis", "0"], "item COM1: skewness 3 with excess kurtosis 0 cannot be reached"),
    (["--likert", "0", "--thresholds", "skewed"], "thresholds and proportions need Likert items"),
])
def test_generate_bad_options_one_line(tmp_path, capsys, args, message):
    with pytest.raises(SystemExit) if "argument" in message else _no_exit():
        code = main(["generate", *args, "--out", str(tmp_path / "x.csv")])
        assert code == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "x.csv").exists()


class _no_exit:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
