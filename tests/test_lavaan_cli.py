"""`smsem fit` with the estimation options: the fit section (cut-offs), MLM, FIML, errors."""

from __future__ import annotations

import json

import pytest

from conftest import ROOT
from lavaan_ref import TOL, fit_measures
from smsem.cli import main


class _Run:
    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def run_cli(capsys):
    """``smsem ARGS`` in this process (a subprocess per call would cost ~5 s of imports)."""
    def run(*args: str) -> _Run:
        try:
            rc = main(list(args))
        except SystemExit as exc:  # argparse errors
            rc = exc.code
        cap = capsys.readouterr()
        return _Run(rc, cap.out, cap.err)
    return run

EXAMPLE = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"
MISSING = ROOT / "data" / "synthetic" / "integrative_n300_seed1_missing.csv"


def test_text_output_has_fit_section_with_cutoffs_and_lavaan_values(run_cli):
    r = run_cli("fit", str(EXAMPLE), "--boot", "0")
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert out.index("P5h") < out.index("Model fit") < out.index("Parameters")
    ref = fit_measures("integrative_ml")
    lines = {ln.split("  ")[0].strip(): ln for ln in out.splitlines()}
    assert f"{ref['cfi']:.3f}" in lines["CFI"] and ">= 0.95" in lines["CFI"] and "yes" in lines["CFI"]
    assert f"{ref['rmsea']:.3f}" in lines["RMSEA"] and "<= 0.06" in lines["RMSEA"]
    assert f"{ref['srmr']:.3f}" in lines["SRMR"] and "<= 0.08" in lines["SRMR"]
    assert f"{ref['chisq']:.3f}" in lines["chi2"]
    assert "COM =~ COM2" in out


def test_mlm_json_has_scaled_indices(run_cli):
    r = run_cli("fit", str(EXAMPLE), "--boot", "0", "--estimator", "MLM", "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    ref = fit_measures("integrative_mlm")
    assert doc["estimator"] == "MLM"
    # TOL["scaled_rel"] (measured 1.6e-7 on this case); the JSON keeps at least 4 decimals.
    assert abs(doc["fit"]["chi2_scaled"] - ref["chisq.scaled"]) < TOL["scaled_rel"] * ref["chisq.scaled"]
    cut = {row["index"]: row for row in doc["fit_cutoffs"]}
    assert cut["cfi_scaled"]["ok"] is True and cut["cfi_scaled"]["cutoff"] == ">= 0.95"
    assert {"std_all_se", "std_lv", "ci_lower"} <= set(doc["parameters"][0])
    assert len(doc["paths"]) == 12


def test_fiml_markdown(run_cli):
    r = run_cli("fit", str(MISSING), "--boot", "0", "--missing", "fiml", "--format", "markdown")
    assert r.returncode == 0, r.stderr
    ref = fit_measures("integrative_fiml")
    assert "FIML" in r.stdout and f"| chi2 | {ref['chisq']:.3f} |" in r.stdout
    assert "| COM1 ~1 |" in r.stdout


@pytest.mark.slow  # ~6 s: robust FIML through the CLI; the numbers are checked in test_lavaan_mlr.py
def test_mlr_with_fiml_text(run_cli):
    r = run_cli("fit", str(MISSING), "--boot", "0", "--missing", "fiml", "--estimator", "MLR")
    assert r.returncode == 0, r.stderr
    ref = fit_measures("integrative_fiml_mlr")
    assert "MLR (Huber-White SEs, Yuan-Bentler scaled chi2)" in r.stdout and "FIML" in r.stdout
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("chi2 scaled (Yuan-Bentler)"))
    assert f"{ref['chisq.scaled']:.3f}" in line


@pytest.mark.parametrize("args, msg", [
    (["--missing", "fiml", "--boot", "0", "--estimator", "MLM"], "ML or MLR"),
    (["--estimator", "GLS"], "invalid choice"),
    (["--estimator", "WLS"], "needs --ordered"),  # WLS is for ordinal items (--ordered)
])
def test_option_errors_are_one_line(run_cli, args, msg):
    r = run_cli("fit", str(MISSING), *args)
    assert r.returncode == 2
    assert msg in r.stderr and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_listwise_on_missing_data_names_the_problem(run_cli):
    r = run_cli("fit", str(MISSING), "--boot", "0")
    assert r.returncode == 2 and "only 30 complete row(s)" in r.stderr


# The frozen fit sections: tests/test_snapshots.py.


def test_fit_is_idempotent_and_leaves_inputs_alone(model):
    import pandas as pd

    import smsem

    df = pd.read_csv(EXAMPLE)
    before = df.copy()
    a, b = smsem.fit(model, df, estimator="MLM"), smsem.fit(model, df, estimator="MLM")
    pd.testing.assert_frame_equal(df, before)
    pd.testing.assert_frame_equal(a.params, b.params)
    pd.testing.assert_frame_equal(a.standardized, b.standardized)
    assert a.fit_indices == b.fit_indices
