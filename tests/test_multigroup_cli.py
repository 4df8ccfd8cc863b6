"""``smsem fit FILE --group COLUMN`` and ``smsem invariance``: output and one-line refusals."""

import csv
from pathlib import Path

import pandas as pd
import pytest

from smsem.cli import main

DATA = Path(__file__).parent / "reference" / "lavaan_models" / "HolzingerSwineford1939.csv"
REF = Path(__file__).parent / "reference" / "lavaan_groups"
HS3 = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"


@pytest.fixture(scope="module")
def lav(tmp_path_factory):
    p = tmp_path_factory.mktemp("mg") / "hs3.lav"
    p.write_text(HS3)
    return str(p)


def _run(capsys, *argv):
    rc = main(list(argv))
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_fit_group_scalar(capsys, lav):
    rc, out, err = _run(capsys, "fit", str(DATA), "--model", lav, "--group", "school",
                        "--group-equal", "loadings,intercepts")
    assert rc == 0, err
    fm = pd.read_csv(REF / "mg_scalar.fit.csv").set_index("name")["value"]
    assert f"chi2 = {fm['chisq']:.3f}, df = {int(fm['df'])}" in out
    assert f"CFI = {fm['cfi']:.3f}, TLI = {fm['tli']:.3f}, RMSEA = {fm['rmsea']:.3f}" in out
    assert "group 1 [2]: n = 156, group 2 [1]: n = 145" in out
    assert "Group 1 [2]:" in out and "Group 2 [1]:" in out
    assert "visual =~ x2 (.p2.)" in out


def test_fit_group_mlr(capsys, lav):
    rc, out, err = _run(capsys, "fit", str(DATA), "--model", lav, "--group", "school", "--estimator", "MLR",
                        "--group-equal", "loadings,intercepts")
    assert rc == 0, err
    fm = pd.read_csv(Path(__file__).parent / "reference" / "lavaan_groups_robust" / "mlr_scalar.fit.csv")
    fm = fm.set_index("name")["value"]
    assert out.startswith("Multiple-group MLR fit: 2 groups of 'school'")
    assert (f"Yuan-Bentler scaled: chi2 = {fm['chisq.scaled']:.3f}, df = {int(fm['df'])}, p < .001, "
            f"scaling factor = {fm['chisq.scaling.factor']:.3f}") in out


def test_fit_group_partial_string(capsys, lav):
    rc, out, err = _run(capsys, "fit", str(DATA), "--model", lav, "--group", "school",
                        "--group-equal", "loadings,intercepts", "--group-partial", "visual =~ x3, x1 ~ 1")
    assert rc == 0, err
    assert "group.partial: visual =~ x3, x1 ~ 1" in out and "df = 58" in out


@pytest.mark.parametrize("extra, message", [
    (["--group", "dept"], "the group column 'dept' is not in the data"),
    (["--group", "school", "--estimator", "MLM", "--missing", "fiml"], "--missing fiml works with --estimator ML"),
    (["--group-equal", "loadings"], "--group-equal and --group-partial need --group COLUMN"),
    (["--group", "school", "--group-equal", "loading"], "group.equal value 'loading' is not one of"),
])
def test_fit_group_refusals(capsys, lav, extra, message):
    rc, out, err = _run(capsys, "fit", str(DATA), "--model", lav, *extra)
    assert rc == 2 and out == ""
    lines = [ln for ln in err.splitlines() if "outlier" not in ln]
    assert len(lines) == 1 and message in lines[0]


def _edited(tmp_path, name, edit):
    rows = list(csv.reader(open(DATA, newline="")))
    edit(rows)
    p = tmp_path / name
    with open(p, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return str(p)


def test_small_group_and_one_level(capsys, lav, tmp_path):
    def small(rows):
        for r in rows[1:4]:
            r[4] = "3"

    def one(rows):
        for r in rows[1:]:
            r[4] = "1"

    rc, _, err = _run(capsys, "fit", _edited(tmp_path, "s.csv", small), "--model", lav, "--group", "school")
    assert rc == 2 and "group '3' of 'school' has 3 complete row(s) for 9 observed variables" in err
    rc, _, err = _run(capsys, "fit", _edited(tmp_path, "o.csv", one), "--model", lav, "--group", "school")
    assert rc == 2 and "the group column 'school' has 1 level(s) (1)" in err


def test_fit_group_modindices(capsys, lav, tmp_path):
    """``--modindices`` with ``--group``: lavaan's modindices(fit) rows (group column), in the
    text output and in the JSON document (tests/test_multigroup_modindices.py checks the numbers)."""
    import json

    ref = pd.read_csv(REF / "mg_scalar.modindices.csv")
    ref = ref[ref.mi > 10].sort_values("mi", ascending=False)
    rc, out, err = _run(capsys, "fit", str(DATA), "--model", lav, "--group", "school",
                        "--group-equal", "loadings,intercepts", "--modindices", "10", "--format", "json",
                        "--out", str(tmp_path / "o"))
    assert rc == 0
    doc = json.loads(out)
    got = [(r["lhs"], r["op"], r["rhs"], r["group"]) for r in doc["modindices"]]
    assert got == list(zip(ref.lhs, ref.op, ref.rhs, ref.group))
    text = (tmp_path / "o" / "modindices.txt").read_text()
    assert "Group [school]" in text and "visual   =~  x9   2 [1]" in text
    assert len(pd.read_csv(tmp_path / "o" / "modindices.csv")) == len(ref)
