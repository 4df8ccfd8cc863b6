"""The integration diagnostic: instrument file, scoring key, missing-answer rule, bad input, CLI, figure."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from smsem.diagnostic import (
    diagnose,
    expected_code,
    load_instrument,
    simulate_diagnostic,
    total_moments,
)
from smsem.exceptions import DataError, OptionError
from smsem.report.diagnostic import plot_diagnostic, render_diagnostic

from conftest import ROOT, run_cli

# The essay ships in the project's shared/ folder, beside the repository (not in it).
_ESSAYS = [p / "shared" / "seed" / "000_7dda6550d1b9c262.txt" for p in (ROOT.parent, ROOT.parent.parent, Path("/work"))]
ESSAY = next((p for p in _ESSAYS if p.is_file()), _ESSAYS[0])


@pytest.fixture(scope="module")
def inst():
    return load_instrument()


def answers(rows: list[list[float | None]], inst, **cols) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=list(inst.items), dtype=object)
    for k, v in cols.items():
        df.insert(0, k, v)
    return df


def row_with_total(total: int, inst) -> list[int]:
    """20 codes 1..5 summing to ``total``: fill 5s from the left."""
    codes = [1] * inst.n_items
    extra = total - inst.n_items
    for i in range(inst.n_items):
        add = min(4, extra)
        codes[i] += add
        extra -= add
    assert sum(codes) == total
    return codes


# --- the instrument file -------------------------------------------------------------------

def test_instrument_has_20_bilingual_statements_and_the_printed_key(inst):
    assert inst.items == tuple(f"KRK{i}" for i in range(1, 21))
    for item in inst.items:
        assert inst.text[item]["en"].strip() and inst.text[item]["fr"].strip()
        assert inst.text[item]["en"] != inst.text[item]["fr"]
    assert [(lv.id, lv.low, lv.high) for lv in inst.levels] == [
        ("undefined", 20, 39), ("defined", 40, 59), ("aligned", 60, 79), ("integrated", 80, 100)]
    assert inst.scale_points == 5 and inst.max_missing == 2


@pytest.mark.skipif(not ESSAY.is_file(), reason="the essay text is not available here")
def test_english_statements_are_the_essays_annexe_1(inst):
    text = ESSAY.read_text(encoding="utf-8")
    start = text.index("How Well Do Sales and Marketing Work Together?")
    annexe = text[start:text.index("Annexe 2", start)]
    for i, item in enumerate(inst.items, start=1):
        assert f"{i}. {inst.text[item]['en']}" in annexe, item


def test_instrument_is_installed_as_package_data():
    cfg = (ROOT / "setup.cfg").read_text()
    assert "smsem.models = *.lav, *.yaml" in cfg and "smsem.diagnostic" in cfg
    assert (ROOT / "models" / "krk_diagnostic.yaml").is_file()


# --- scoring key and boundaries ---------------------------------------------------------------

@pytest.mark.parametrize("total, level", [
    (20, "undefined"), (39, "undefined"), (40, "defined"), (59, "defined"),
    (60, "aligned"), (79, "aligned"), (80, "integrated"), (100, "integrated"),
])
def test_scoring_boundaries(inst, total, level):
    res = diagnose(answers([row_with_total(total, inst)], inst))
    r = res.respondents.iloc[0]
    assert r.total == total and r.level == level and r.status == "complete"
    assert res.organizations.iloc[0].level == level


def test_fractional_totals_fall_below_the_next_band(inst):
    assert inst.level_of(39.5) == "undefined" and inst.level_of(59.99) == "defined"
    assert inst.level_of(79.5) == "aligned" and inst.level_of(float("nan")) == ""
    with pytest.raises(ValueError):
        inst.level_of(19.0)


# --- missing answers -----------------------------------------------------------------------

def test_prorating_rule(inst):
    full = row_with_total(70, inst)           # 5,5,5,5,5,5,5,5,5,5,5,5,2,1,... -> 70
    one = list(full)
    one[0] = None                             # 19 answered, sum 65 -> 65 / 19 * 20
    two = list(full)
    two[0] = two[19] = None                   # 18 answered, sum 64 -> 64 / 18 * 20
    three = list(full)
    three[0] = three[1] = three[19] = None    # 3 missing > 2 -> excluded
    res = diagnose(answers([full, one, two, three], inst))
    r = res.respondents
    assert r.total.iloc[0] == 70
    assert r.total.iloc[1] == pytest.approx(65 / 19 * 20, abs=1e-12)
    assert r.total.iloc[2] == pytest.approx(64 / 18 * 20, abs=1e-12)
    assert np.isnan(r.total.iloc[3]) and r.level.iloc[3] == ""
    assert list(r.status) == ["complete", "prorated", "prorated", "excluded"]
    assert list(r.n_missing) == [0, 1, 2, 3]
    assert (res.n_prorated, res.n_excluded) == (2, 1)
    org = res.organizations.iloc[0]
    assert org.n == 3 and org.n_excluded == 1
    assert org.mean_total == pytest.approx((70 + 65 / 19 * 20 + 64 / 18 * 20) / 3)


def test_empty_cells_in_a_csv_are_missing(tmp_path, inst):
    df = simulate_diagnostic(level="defined", n=20, seed=3, missing=0.08)
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    assert ",," in path.read_text()  # unanswered items really are empty cells
    from smsem.diagnostic import diagnose_file
    res = diagnose_file(path, group="department")
    expected = df[list(inst.items)].isna().sum(axis=1).to_numpy()
    assert (res.respondents.n_missing.to_numpy() == expected).all()
    assert res.n_excluded == int((expected > 2).sum()) > 0


# --- bad answers ---------------------------------------------------------------------------

@pytest.mark.parametrize("value, what", [(6, "outside the scale"), (0, "outside the scale"),
                                         (2.5, "outside the scale"), ("x", "not a number")])
def test_bad_answers_are_refused_naming_row_and_column(inst, value, what):
    rows = [row_with_total(60, inst) for _ in range(4)]
    rows[2][6] = value
    with pytest.raises(DataError, match=rf"column KRK7, row 3: answer .* {what}"):
        diagnose(answers(rows, inst))


def test_missing_group_column_and_empty_group_label(inst):
    rows = [row_with_total(60, inst) for _ in range(3)]
    with pytest.raises(DataError, match="missing column.*department"):
        diagnose(answers(rows, inst), group="department")
    with pytest.raises(DataError, match="column department, row 2: empty group label"):
        diagnose(answers(rows, inst, department=["sales", "", "marketing"]), group="department")


def test_cli_bad_answer_one_line_exit_2(tmp_path):
    df = simulate_diagnostic(level="aligned", n=5, seed=1)
    df.loc[7, "KRK12"] = 9
    path = tmp_path / "bad.csv"
    df.to_csv(path, index=False)
    out = run_cli("diagnose", str(path), "--group", "department")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert lines[0].startswith("smsem: error: ") and "column KRK12, row 8: answer 9" in lines[0]
    assert out.stdout == ""


# --- the CLI end to end and the figure ----------------------------------------------------------

def cli(capsys, *args: str) -> tuple[int, str, str]:
    """Run the CLI in-process (a subprocess costs seconds of imports; one test above uses it)."""
    from smsem.cli import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_diagnose_writes_report_tables_and_png(tmp_path, capsys):
    df = simulate_diagnostic(level=["defined", "aligned"], n=30, gap=8, seed=5, missing=0.03)
    path = tmp_path / "diag.csv"
    df.to_csv(path, index=False)
    out_dir = tmp_path / "out"
    code, stdout, stderr = cli(capsys, "diagnose", str(path), "--group", "department", "--org", "org",
                               "--format", "json", "--out", str(out_dir))
    assert code == 0, stderr
    doc = json.loads(stdout)
    assert doc["comparison"]["a"] == "sales" and doc["comparison"]["b"] == "marketing"
    assert [o["org"] for o in doc["organizations"]] == ["org1", "org2"]
    png = out_dir / "scores_by_group.png"
    assert png.stat().st_size > 1000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    report = (out_dir / "report.md").read_text()
    assert "![Total score by group with the four level bands](scores_by_group.png)" in report
    resp = pd.read_csv(out_dir / "respondents.csv")
    assert len(resp) == len(df) and set(resp.columns) >= {"row", "org", "group", "total", "level", "status"}
    gaps = pd.read_csv(out_dir / "item_gaps.csv")
    assert list(gaps["rank"]) == list(range(1, 21))
    assert (gaps["gap"].abs().diff().dropna() <= 1e-12).all()  # ranked by |gap|, largest first
    # Outputs are never overwritten without --force.
    code, _, stderr = cli(capsys, "diagnose", str(path), "--group", "department", "--out", str(out_dir))
    assert code == 2 and "already exists" in stderr
    assert cli(capsys, "diagnose", str(path), "--group", "department", "--out", str(out_dir), "--force")[0] == 0


def test_cli_compare_option(tmp_path, capsys):
    df = simulate_diagnostic(level="aligned", n=10, seed=5, departments=("ops", "brand"))
    path = tmp_path / "d.csv"
    df.to_csv(path, index=False)
    code, stdout, _ = cli(capsys, "diagnose", str(path), "--group", "department", "--compare", "ops,brand",
                          "--format", "json")
    doc = json.loads(stdout)
    assert code == 0 and (doc["comparison"]["a"], doc["comparison"]["b"]) == ("ops", "brand")
    code, _, stderr = cli(capsys, "diagnose", str(path), "--group", "department", "--compare", "ops,sales")
    assert code == 2 and stderr.count("\n") == 1 and "'sales' not found" in stderr
    code, _, stderr = cli(capsys, "diagnose", str(path), "--compare", "ops")
    assert code == 2 and "two group names" in stderr


def test_figure_written_without_groups(tmp_path, inst):
    res = diagnose(simulate_diagnostic(level="integrated", n=15, seed=2))
    path = plot_diagnostic(res, tmp_path / "fig.png")
    assert path.stat().st_size > 1000
    with pytest.raises(OptionError, match="already exists"):
        plot_diagnostic(res, path)


def test_figure_prints_at_300_dpi(tmp_path, inst):
    import struct

    res = diagnose(simulate_diagnostic(level="integrated", n=15, seed=2))
    png = plot_diagnostic(res, tmp_path / "fig.png").read_bytes()
    i = png.index(b"pHYs")
    assert round(struct.unpack(">I", png[i + 4:i + 8])[0] * 0.0254) == 300
    assert struct.unpack(">II", png[16:24]) == (1920, 1440)  # 6.4 x 4.8 in at 300 dpi


def test_every_format_renders(inst):
    res = diagnose(simulate_diagnostic(level="aligned", n=12, gap=4, seed=9), group="department", org="org")
    text = render_diagnostic(res, "text")
    assert "Perception gap (marketing minus sales)" in text and "Hedges' g" in text
    assert str(res) == text
    md = render_diagnostic(res, "markdown")
    assert md.startswith("# Sales-marketing integration diagnostic") and "| Rank |" in md
    doc = json.loads(render_diagnostic(res, "json"))
    assert doc["comparison"]["welch_p"] == pytest.approx(res.comparison.welch_p)
    for table in ("respondents", "organizations", "groups", "item_gaps"):
        assert len(render_diagnostic(res, "csv", table=table).splitlines()) == len(getattr(res, table)) + 1


# --- the generator ----------------------------------------------------------------------------

def test_expected_code_inverts_exactly():
    from smsem.diagnostic.simulate import _solve_mu
    for target in (1.2, 2.5, 3.0, 4.7):
        assert expected_code(np.array([_solve_mu(target, 1.0, 5)]), 1.0)[0] == pytest.approx(target, abs=1e-10)


def test_generator_levels_and_gap_are_met(inst):
    """Every organization's mean total is its band's middle within 4 Monte Carlo SEs."""
    n = 400
    levels = list(inst.level_ids)
    df = simulate_diagnostic(level=levels, n=n, gap=6, seed=11)
    exp = pd.DataFrame(df.attrs["smsem"]["expected"])
    assert list(exp.expected_total) == pytest.approx([27, 33, 47, 53, 67, 73, 87, 93])
    res = diagnose(df, group="department", org="org")
    assert list(res.organizations.level) == levels
    totals = res.respondents.groupby(["org", "group"], sort=False)["total"]
    sd = np.hypot(0.6, 0.8)
    from smsem.diagnostic.simulate import _solve_mu
    for (org, dept), t in totals:
        target = exp.set_index(["org", "department"]).loc[(org, dept), "expected_total"]
        mom = total_moments(np.full(20, _solve_mu(target / 20, sd, 5)), 0.6, 0.8)
        assert mom.mean == pytest.approx(target, abs=1e-8)
        assert abs(t.mean() - target) < 4 * mom.sd / np.sqrt(n)
        # The SD of the total from quadrature agrees with the simulated one (SE of an SD ~ sd/sqrt(2n)).
        assert abs(t.std() - mom.sd) < 4 * mom.sd / np.sqrt(2 * n)


def test_generator_is_reproducible_and_streams_are_per_organization():
    a = simulate_diagnostic(level=["aligned", "defined"], n=10, gap=4, seed=3)
    b = simulate_diagnostic(level=["aligned", "defined"], n=10, gap=4, seed=3)
    c = simulate_diagnostic(level=["aligned"], n=10, gap=4, seed=3)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a.iloc[:20].reset_index(drop=True), c)
    assert not a.equals(simulate_diagnostic(level=["aligned", "defined"], n=10, gap=4, seed=4))


def test_generator_rejects_impossible_settings():
    with pytest.raises(OptionError, match="level must be one of"):
        simulate_diagnostic(level="excellent")
    with pytest.raises(OptionError, match="outside 1..5"):
        simulate_diagnostic(level="integrated", gap=30)
    with pytest.raises(OptionError, match="item_weights"):
        simulate_diagnostic(item_weights=[1.0] * 3)
    with pytest.raises(OptionError, match="person_scores"):
        simulate_diagnostic(n=5, person_scores=np.zeros(3))


# --- properties of the scoring rule ---------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=20, max_size=20),
       st.sets(st.integers(0, 19), max_size=4))
def test_scoring_rule_properties(codes, blanks):
    inst = load_instrument()
    row = [None if i in blanks else c for i, c in enumerate(codes)]
    r = diagnose(answers([row], inst)).respondents.iloc[0]
    answered = [c for i, c in enumerate(codes) if i not in blanks]
    if len(blanks) > inst.max_missing:
        assert r.status == "excluded" and np.isnan(r.total) and r.level == ""
        return
    assert r.total == pytest.approx(np.mean(answered) * 20, abs=1e-12)
    # The level from the essay's bands (models/krk_diagnostic.yaml: 20-39, 40-59, 60-79,
    # 80-100; a fractional total belongs to the band whose low it has reached).
    expected = ("undefined" if r.total < 40 else "defined" if r.total < 60 else
                "aligned" if r.total < 80 else "integrated")
    assert 20 <= r.total <= 100 and r.level == expected
    assert r.status == ("complete" if not blanks else "prorated")
    if not blanks:
        assert r.total == sum(codes)


def test_tiny_groups_render_without_statistics(inst):
    rows = [row_with_total(t, inst) for t in (45, 50, 70)]
    res = diagnose(answers(rows, inst, department=["sales", "sales", "marketing"]), group="department")
    c = res.comparison
    assert c.n_a == 2 and c.n_b == 1 and c.gap == pytest.approx(70 - 47.5)
    assert np.isnan(c.welch_p) and np.isnan(c.mwu_p) and np.isnan(c.effect.g)
    text = render_diagnostic(res, "text")
    assert "No tests: they need at least 2 scored respondents in each group (sales: 2, marketing: 1)" in text
    assert "Welch t(" not in text
    json.loads(render_diagnostic(res, "json"))  # NaN becomes null: valid JSON


def test_cli_generate_diagnostic_round_trip(tmp_path, capsys):
    path = tmp_path / "answers.csv"
    code, stdout, _ = cli(capsys, "generate-diagnostic", "--level", "defined,integrated", "--n", "25",
                          "--gap", "6", "--seed", "9", "--out", str(path))
    assert code == 0 and "2 organizations x" in stdout
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["seed"] == 9 and [e["expected_total"] for e in meta["expected"]] == [47, 53, 87, 93]
    pd.testing.assert_frame_equal(pd.read_csv(path),
                                  simulate_diagnostic(level=["defined", "integrated"], n=25, gap=6, seed=9),
                                  check_dtype=False)
    code, stdout, _ = cli(capsys, "diagnose", str(path), "--group", "department", "--org", "org", "--format", "json")
    assert code == 0 and [o["level"] for o in json.loads(stdout)["organizations"]] == ["defined", "integrated"]
    code, _, stderr = cli(capsys, "generate-diagnostic", "--level", "best", "--out", str(tmp_path / "x.csv"))
    assert code == 2 and stderr.count("\n") == 1 and "level must be one of" in stderr


# The frozen text summary: tests/reference/snapshots/diagnostic_summary.txt (tests/test_snapshots.py).


@pytest.mark.parametrize("variant", ["semicolon-bom", "tab-utf16", "latin1-pipe", "parquet"])
def test_answers_are_read_like_surveys(tmp_path, inst, variant):
    """Spreadsheet exports reach the diagnostic through the survey reader (smsem.io.read_table)."""
    from smsem.diagnostic import diagnose_file

    df = simulate_diagnostic(level="defined", n=30, seed=4, missing=0.05)
    df["department"] = df["department"].str.replace("marketing", "marketing é")  # a non-ASCII label
    plain = tmp_path / "plain.csv"
    df.to_csv(plain, index=False)
    path = tmp_path / f"{variant}.dat"
    if variant == "parquet":
        path = tmp_path / "d.parquet"
        df.to_parquet(path, index=False)
    else:
        sep, enc = {"semicolon-bom": (";", "utf-8-sig"), "tab-utf16": ("\t", "utf-16"),
                    "latin1-pipe": ("|", "latin-1")}[variant]
        path.write_bytes(df.to_csv(index=False, sep=sep).encode(enc))
    ref = diagnose_file(plain, group="department").respondents
    got = diagnose_file(path, group="department").respondents
    pd.testing.assert_frame_equal(got, ref)
