"""Every renderer and format of parameters, effects and measurement quality; the path
diagram; ``smsem fit --out``."""

from __future__ import annotations

import io
import json
import re

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.estimate.effects import DEFINED_COLUMNS, EFFECT_COLUMNS
from smsem.estimate.quality import CONSTRUCT_COLUMNS, DISCRIMINANT_COLUMNS, LOADING_COLUMNS
from smsem.estimate.results import PARAM_COLUMNS
from smsem.report import (
    TABLE_FORMATS, diagram_source, render_diagram, render_effects, render_params, render_propositions,
    render_quality,
    report_file_names, report_files, stars, write_report_files,
)

from conftest import ROOT, run_cli

EXAMPLE = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"
LABELLED = ROOT / "tests" / "reference" / "semtools" / "integrative_labelled.lav"


@pytest.fixture(scope="module")
def res():
    return smsem.fit(smsem.load_model(str(LABELLED)), pd.read_csv(EXAMPLE))


@pytest.fixture(scope="module")
def eff(res):
    return smsem.effects(res)


@pytest.fixture(scope="module")
def qual(res):
    return smsem.reliability(res)


def _renderers(res, eff, qual):
    return {"params": lambda f: render_params(res, f), "effects": lambda f: render_effects(eff, f),
            "quality": lambda f: render_quality(qual, f)}


@pytest.mark.parametrize("what", ["params", "effects", "quality"])
@pytest.mark.parametrize("fmt", TABLE_FORMATS)
def test_every_format_renders(res, eff, qual, what, fmt):
    text = _renderers(res, eff, qual)[what](fmt)
    assert text.endswith("\n") and len(text) > 100


def test_csv_columns_are_stable_and_round_trip(res, eff, qual):
    p = pd.read_csv(io.StringIO(render_params(res, "csv")))
    assert list(p.columns)[: len(PARAM_COLUMNS)] == PARAM_COLUMNS
    e = pd.read_csv(io.StringIO(render_effects(eff, "csv")))
    assert list(e.columns) == EFFECT_COLUMNS
    # %.6g keeps 6 significant digits
    np.testing.assert_allclose(e["est"], eff.table["est"], rtol=1e-5)
    np.testing.assert_allclose(e["std_se"], eff.table["std_se"], rtol=1e-5)
    d = pd.read_csv(io.StringIO(render_effects(eff, "csv", part="defined")))
    assert list(d.columns) == DEFINED_COLUMNS and len(d) == len(eff.defined) == 10
    for part, cols in (("constructs", CONSTRUCT_COLUMNS), ("loadings", LOADING_COLUMNS),
                       ("discriminant", DISCRIMINANT_COLUMNS)):
        q = pd.read_csv(io.StringIO(render_quality(qual, "csv", part=part)))
        assert list(q.columns) == cols
    h = pd.read_csv(io.StringIO(render_quality(qual, "csv", part="htmt2")), index_col="construct")
    np.testing.assert_allclose(h.to_numpy(), qual.htmt2.to_numpy(), rtol=1e-5)
    with pytest.raises(smsem.OptionError, match="part must be one of"):
        render_quality(qual, "csv", part="nope")


def test_json_is_strict_and_complete(res, eff, qual):
    doc = json.loads(render_params(res, "json"))
    # fixed marker loadings have no SE: null, never NaN (json.loads accepts NaN; check the text)
    assert "NaN" not in render_params(res, "json")
    marker = next(r for r in doc["parameters"] if r["op"] == "=~" and r["rhs"] == "COM1")
    assert marker["se"] is None and marker["est"] == 1.0
    e = json.loads(render_effects(eff, "json"))
    assert len(e["effects"]) == len(eff.table) and len(e["defined"]) == 10
    assert set(e["effects"][0]) == set(EFFECT_COLUMNS)
    q = json.loads(render_quality(qual, "json"))
    assert set(q) >= {"constructs", "loadings", "discriminant", "fornell_larcker", "htmt", "htmt2", "thresholds"}
    assert q["htmt"]["IS"]["SL"] == pytest.approx(float(qual.htmt.loc["IS", "SL"]))
    assert q["thresholds"]["loading"] == 0.708


def test_latex_is_booktabs_and_escaped(res, eff, qual):
    plain = smsem.fit(smsem.load_model("integrative"), pd.read_csv(EXAMPLE))
    renderers = _renderers(res, eff, qual)
    renderers["propositions"] = lambda f: render_propositions(smsem.proposition_table(plain, n_boot=0), f)
    assert "P5h & MA $\\rightarrow$ EA & + &" in renderers["propositions"]("latex")
    assert "P1 & IS $\\rightarrow$ IC & $-$ &" in renderers["propositions"]("latex")
    for what, render in renderers.items():
        tex = render("latex")
        n = tex.count(r"\begin{table}")
        assert n >= 1 and n == tex.count(r"\end{table}") == tex.count(r"\begin{tabular}")
        assert n == tex.count(r"\toprule") == tex.count(r"\midrule") == tex.count(r"\bottomrule")
        # every row has as many cells as the column spec
        for spec, body in re.findall(r"\\begin\{tabular\}\{(\w+)\}(.*?)\\end\{tabular\}", tex, re.S):
            rows = [r for r in body.split("\\\\\n") if "&" in r]
            assert rows and all(r.count("&") == len(spec) - 1 for r in rows), what
        text_mode = re.sub(r"\$[^$]*\$", "", tex)  # outside math mode
        assert not re.search(r"(?<!\\)[_%#<>]", text_mode.replace("%  smsem", "").split("\n", 1)[1]), what
    assert r"$\rightarrow$" in render_effects(eff, "latex")
    assert r"$^{\dagger}$" in render_quality(qual, "latex")  # IS fails AVE in this sample


def test_markdown_rows_are_aligned(eff, qual):
    for md in (render_effects(eff, "markdown"), render_quality(qual, "markdown")):
        for table in re.findall(r"((?:^\|.*\|\n)+)", md, re.M):
            counts = {line.count(" | ") for line in table.splitlines()}
            assert len(counts) == 1


def test_text_flags_failing_values(qual):
    text = render_quality(qual, "text")
    is_row = next(line for line in text.splitlines() if line.startswith("IS ") and "3" in line)
    assert is_row.count("\u2020") == 3  # alpha .695, CR .694 and AVE .432 all below their cut-offs
    assert "Fornell-Larcker" in text and "HTMT2" in text


@pytest.mark.parametrize("p, s", [(0.0009, "***"), (0.001, "**"), (0.0099, "**"), (0.01, "*"),
                                  (0.049, "*"), (0.05, ""), (float("nan"), "")])
def test_stars(p, s):
    assert stars(p) == s


def test_diagram_source_carries_estimates(res):
    src = diagram_source(res)
    row = res.path("OP", "EA")
    assert f'EA -> OP [label="{row["std_all"]:.2f}{stars(row["pvalue"])}"' in src
    assert src.count(" -> ") == len(res.model.parsed.regressions) + 1  # + the COM ~~ MA covariance
    assert "COM -> MA" in src and "dir=both" in src
    assert "COM1" not in src and "COM1" in diagram_source(res, measurement=True)


def test_diagram_png_and_svg(res):  # matplotlib: no system program needed
    png = render_diagram(res, "png")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = render_diagram(res, "svg").decode()
    assert "<svg" in svg and "OP" in svg
    assert "clip-path" in svg or "clipPath" in svg
    assert render_diagram(res, "svg").decode() == svg  # same bytes twice (fixed svg.hashsalt)


def test_missing_dot_warns_and_falls_back(res, monkeypatch):
    import graphviz

    def boom(*a, **k):
        raise graphviz.ExecutableNotFound(["dot"])

    monkeypatch.setattr(graphviz.Digraph, "pipe", boom)
    with pytest.warns(smsem.exceptions.SmsemWarning, match="'dot' program was not found"):
        png = render_diagram(res, "png", engine="graphviz")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"  # drawn by the matplotlib fallback
    files = report_files(res, smsem.effects(res), smsem.reliability(res))  # matplotlib by default
    assert "diagram.dot" in files and "diagram.png" in files and "diagram.svg" in files


def test_write_report_files_refuses_before_writing(res, eff, qual, tmp_path):
    files = report_files(res, eff, qual, diagram=False)
    assert set(files) <= set(report_file_names())
    (tmp_path / "quality.md").write_text("mine")
    with pytest.raises(smsem.OptionError, match="quality.md already exists"):
        write_report_files(tmp_path, files)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["quality.md"]  # nothing else written
    write_report_files(tmp_path, files, force=True)
    assert (tmp_path / "quality.md").read_text() == files["quality.md"]
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.slow  # ~4 s: `fit --out` again; test_reports_complete.py checks every promised file in the default suite
def test_cli_fit_out(tmp_path):
    out = tmp_path / "rep"
    r = run_cli("fit", str(EXAMPLE), "--boot", "0", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "Effects on OP" in r.stdout and "Reliability and convergent validity" in r.stdout
    expected = set(report_file_names()) - {"defined.csv"} - {f"bootstrap.{e}" for e in
                                                                            ("txt", "md", "tex", "csv", "json")}
    assert {p.name for p in out.iterdir()} == expected
    eff = pd.read_csv(out / "effects.csv")
    assert "COM -> IS -> IC -> EA -> OP" in set(eff.path)
    assert "## Measurement quality" in (out / "report.md").read_text()
    again = run_cli("fit", str(EXAMPLE), "--boot", "0", "--out", str(out))
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "already exists" in again.stderr


def test_cli_bad_defined_parameter(tmp_path):
    lav = tmp_path / "bad.lav"
    lav.write_text("f =~ COM1 + COM2 + COM3\ng =~ MA1 + MA2 + MA3\ng ~ a*f\nz := a*q\n")
    r = run_cli("fit", str(EXAMPLE), "--model", str(lav), "--boot", "0")
    assert r.returncode == 2
    assert r.stderr.strip() == (f"smsem: error: {lav}: line 4: 'q' in 'z := a*q' is not a label of the model; "
                                "label the parameter (e.g. q*x) or use a defined parameter")


def test_cfa_without_structural_paths_renders(tmp_path):
    """A pure CFA (Holzinger-Swineford) has no effects: every format still renders."""
    ref = ROOT / "tests" / "reference" / "semtools"
    cfa = smsem.fit(smsem.load_model(str(ref / "hs.lav")), pd.read_csv(ref / "HolzingerSwineford1939.csv"))
    eff = smsem.effects(cfa)
    assert eff.table.empty and eff.defined.empty
    for fmt in TABLE_FORMATS:
        assert render_effects(eff, fmt)
    assert list(pd.read_csv(io.StringIO(render_effects(eff, "csv"))).columns) == EFFECT_COLUMNS
    files = report_files(cfa, eff, smsem.reliability(cfa), diagram=False)
    write_report_files(tmp_path, files)
    assert "visual" in (tmp_path / "quality.txt").read_text()
