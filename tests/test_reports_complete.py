"""Inadmissible draws, honest draw accounting, complete ``--out`` reports, the matplotlib
path diagram and the lavaan-style summary (issue 15)."""

from __future__ import annotations

import json
import struct
import sys
import xml.dom.minidom
from html.parser import HTMLParser

import numpy as np
import pandas as pd
import pytest

import smsem
import importlib
from smsem.report import report_file_names, report_files
from smsem.report.summary import summary_html, summary_text

from conftest import ROOT, run_cli

sb = importlib.import_module("smsem.bootstrap")

EXAMPLE = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"


# --- inadmissible draws ------------------------------------------------------------------

@pytest.fixture(scope="module")
def heywood_fit(tmp_path_factory):
    lav = tmp_path_factory.mktemp("hey") / "f.lav"
    lav.write_text("f =~ y1 + y2 + y3 + y4\n", encoding="utf-8")
    rng = np.random.default_rng(1)
    n, lam = 80, np.array([0.6, 0.7, 0.9, 0.6])
    x = rng.normal(size=n)[:, None] * lam + rng.normal(size=(n, 4)) * np.sqrt(1 - lam ** 2)
    return smsem.fit(smsem.load_model(str(lav)), pd.DataFrame(x, columns=["y1", "y2", "y3", "y4"]))


def test_inadmissible_draws_kept_by_default_and_counted(heywood_fit):
    kept = smsem.bootstrap(heywood_fit, n_boot=200, seed=3)
    dropped = smsem.bootstrap(heywood_fit, n_boot=200, seed=3, include_inadmissible=False)
    n_bad = int(np.isin(kept.status, (2, 3)).sum())
    assert n_bad > 5 and kept.include_inadmissible and not dropped.include_inadmissible
    assert sum(kept.inadmissible.values()) == sum(dropped.inadmissible.values()) == n_bad
    assert kept.used.sum() == (kept.status == 0).sum() + n_bad
    assert dropped.used.sum() == (dropped.status == 0).sum()
    assert "negative variance" not in kept.excluded and dropped.excluded["negative variance"] > 0
    assert f"kept as lavaan does: {n_bad} inadmissible" in kept.accounting()
    assert f"excluded (--exclude-inadmissible): {n_bad} inadmissible" in dropped.accounting()
    # the CI of the small residual variance reaches below 0 only with the kept draws
    assert kept.conf_int().loc["y3~~y3", "lower"] < 0 <= dropped.conf_int().loc["y3~~y3", "lower"]


def test_cli_exclude_inadmissible(tmp_path):
    r = run_cli("fit", str(EXAMPLE), "--boot", "30", "--exclude-inadmissible", "--quiet")
    assert r.returncode == 0, r.stderr
    assert "bootstrap draws: 30, " in r.stdout


# --- honest draw accounting ----------------------------------------------------------------

@pytest.fixture(scope="module")
def small_fit():
    model = smsem.load_model("integrative")
    return smsem.fit(model, smsem.simulate(model, n=80, seed=3))


def test_nan_statistic_leaves_only_its_own_ci(small_fit, monkeypatch):
    """An HTMT not computable in a draw (an exactly zero item correlation in the resample)
    leaves that HTMT's CI only, and is counted."""
    base = smsem.bootstrap(small_fit, n_boot=120, seed=2)
    real = sb._htmt_columns
    hit = {}

    def zero_correlation(s, blocks):
        out = real(s, blocks)
        out[::10, 0] = np.nan  # as an exactly zero item correlation would make it
        hit["rows"] = hit.get("rows", 0) + len(out[::10])
        return out

    monkeypatch.setattr(sb, "_htmt_columns", zero_correlation)
    boot = smsem.bootstrap(small_fit, n_boot=120, seed=2)
    htmt = next(nm for nm in boot.names if nm.startswith("htmt:"))
    j = boot.names.index(htmt)
    n_nan = int(np.isnan(boot.draws[boot.used, j]).sum())
    assert n_nan > 0 and boot.nan_counts[htmt] == n_nan
    assert boot.excluded["statistic not computable"] == n_nan
    assert f"statistic not computable {n_nan}" in boot.accounting()
    assert boot.n_used(htmt) == int(boot.used.sum()) - n_nan
    # every other statistic keeps every draw: same CIs as without the NaNs
    others = [nm for nm in boot.names if nm != htmt]
    pd.testing.assert_frame_equal(boot.conf_int().loc[others], base.conf_int().loc[others])
    for method in ("bc", "normal"):
        pd.testing.assert_frame_equal(boot.conf_int(method=method).loc[others],
                                      base.conf_int(method=method).loc[others])
    # and the proposition verdicts are those of the full draws
    a = smsem.proposition_table(small_fit, boot).table
    b = smsem.proposition_table(small_fit, base).table
    pd.testing.assert_frame_equal(a, b)


def test_every_left_out_draw_is_counted(small_fit):
    boot = smsem.bootstrap(small_fit, n_boot=150, seed=4)
    missing_any = np.isnan(boot.draws).any(axis=1)
    assert boot.n_excluded == int(missing_any.sum())


# --- complete reports ----------------------------------------------------------------------

class _Html(HTMLParser):
    pass


def _parses(path) -> None:
    ext = path.suffix
    data = path.read_bytes()
    assert data, path
    if ext == ".csv":
        assert len(pd.read_csv(path).columns) >= 1
    elif ext == ".json":
        json.loads(data)
    elif ext == ".svg":
        assert xml.dom.minidom.parseString(data).documentElement.tagName == "svg"
    elif ext == ".png":
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
    elif ext == ".html":
        _Html().feed(data.decode())
    elif ext == ".tex":
        text = data.decode()
        assert text.count("\\begin{table}") == text.count("\\end{table}") >= 1 or text.startswith("%")
    else:
        data.decode("utf-8")


def _png_dpi(data: bytes) -> float:
    i = data.index(b"pHYs")
    ppm_x = struct.unpack(">I", data[i + 4:i + 8])[0]
    return ppm_x * 0.0254


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("rep") / "out"
    r = run_cli("fit", str(EXAMPLE), "--boot", "40", "--level", "0.9", "--quiet", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert f"wrote {len(list(out.iterdir()))} files" in r.stderr
    return out


def test_every_promised_file_exists_and_parses(out_dir):
    names = {p.name for p in out_dir.iterdir()}
    promised = set(report_file_names()) - {"defined.csv"}  # the shipped model has no :=
    if "diagram.dot" not in names:  # only with the optional graphviz Python package
        promised.discard("diagram.dot")
    assert names == promised
    for p in out_dir.iterdir():
        _parses(p)


def test_report_contents(out_dir):
    fit = pd.read_csv(out_dir / "fit.csv").set_index("index")
    assert {"rmsea", "rmsea_ci_lower", "rmsea_ci_upper", "cfi", "srmr"} <= set(fit.index)
    assert "RMSEA" in (out_dir / "fit.tex").read_text() and "[0.000, 0.034]" in (out_dir / "fit.txt").read_text()
    report = (out_dir / "report.md").read_text()
    for section in ("## Model fit", "## R²", "## Standardized solution", "## Modification indices", "## Residuals",
                    "## Effects", "Mediation", "![Path diagram"):
        assert section in report, section
    r2 = pd.read_csv(out_dir / "r2.csv")
    assert set(r2.name) >= {"OP", "EA", "IC", "IS", "SL", "OP1"}
    mi = pd.read_csv(out_dir / "modindices.csv")
    assert {"mi", "epc", "sepc_all"} <= set(mi.columns) and len(mi) > 100
    assert "Our profitability" in (out_dir / "residuals.txt").read_text()  # the codebook's wording
    # --level applies to every CI: Wald (parameters, standardized), effects and bootstrap
    p = pd.read_csv(out_dir / "parameters.csv")
    free = p[p.se > 0]
    np.testing.assert_allclose(free.ci_upper - free.est, 1.6448536 * free.se, atol=5e-5)  # CSV keeps 6 digits
    s = pd.read_csv(out_dir / "standardized.csv")
    s = s[s.std_all_se > 0]
    np.testing.assert_allclose(s.std_all_ci_upper - s.std_all, 1.6448536 * s.std_all_se, atol=5e-5)
    e = pd.read_csv(out_dir / "effects.csv")
    np.testing.assert_allclose(e.ci_upper - e.est, 1.6448536 * e.se, atol=5e-5)
    assert e.boot_ci_lower.notna().all() and "90% CI" in (out_dir / "propositions.txt").read_text()
    assert json.loads((out_dir / "bootstrap.json").read_text())["level"] == 0.9
    med = pd.read_csv(out_dir / "mediation.csv")
    assert "IS -> IC -> EA -> OP" in set(med.path) and "P1·P3·P4" in set(med.ids)
    assert _png_dpi((out_dir / "diagram.png").read_bytes()) == pytest.approx(300, abs=1)


def test_diagram_without_graphviz(monkeypatch):
    """No graphviz package, no dot program: the report still has both images."""
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ImportError
    res = smsem.fit(smsem.load_model("integrative"), pd.read_csv(EXAMPLE))
    files = report_files(res, smsem.effects(res), smsem.reliability(res))
    assert files["diagram.png"][:8] == b"\x89PNG\r\n\x1a\n" and "diagram.dot" not in files
    svg = files["diagram.svg"].decode()
    assert "P1: " in svg or "P1:" in svg.replace("&#160;", " ")
    with pytest.warns(smsem.exceptions.SmsemWarning, match="matplotlib"):
        png = smsem.report.render_diagram(res, "png", engine="graphviz")
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


# --- summary -------------------------------------------------------------------------------

def test_summary_reads_like_lavaan():
    model = smsem.load_model(str(ROOT / "tests" / "reference" / "lavaan_boot" / "integrative_ind.lav"))
    res = smsem.fit(model, pd.read_csv(EXAMPLE))
    text = summary_text(res)
    for part in ("Model Test User Model:", "Model Test Baseline Model:", "Comparative Fit Index (CFI)",
                 "Root Mean Square Error of Approximation:", "90 Percent confidence interval - lower",
                 "Latent Variables:", "Regressions:", "Covariances:", "Variances:", "Defined Parameters:",
                 "R-Square:", "Std.lv", "Std.all"):
        assert part in text, part
    assert "   .OP1" in text and "    COM  " in text  # residual variances dotted, as lavaan
    fi = res.fit_indices
    assert f"{fi['chi2']:.3f}" in text and f"{fi['rmsea_ci_upper']:.3f}" in text
    row = res.path("OP", "EA")
    assert f"{row['est']:.3f}" in text
    h = summary_html(res)
    _Html().feed(h)
    xml.dom.minidom.parseString(h.split("</style>", 1)[1])  # well-formed
    assert "<caption>Regressions</caption>" in h


@pytest.mark.slow  # ~6 s: the n = 80, B = 1000 reproduction
def test_real_nan_htmt_at_n80_is_counted_and_kept_elsewhere():
    """The issue's case, reproduced: integrative model, n = 80, B = 1000 (about 5 s). One
    draw (405) has an exactly zero correlation between two IS items, so HTMT2 of each of
    the six pairs with IS is not computable (0/0 or x/0); the draw stays in every other CI and is
    counted once under 'statistic not computable'."""
    model = smsem.load_model("integrative")
    res = smsem.fit(model, smsem.simulate(model, n=80, seed=1))
    boot = smsem.bootstrap(res, n_boot=1000, seed=1)
    name = next(nm for nm in boot.names if nm in ("htmt2:EA~IS", "htmt2:IS~EA"))  # pair order = model order
    j = boot.names.index(name)
    bad = np.flatnonzero(np.isnan(boot.draws[:, j]) & boot.used)
    assert list(bad) == [405] and boot.nan_counts[name] == 1
    assert not np.isinf(boot.draws).any()
    not_computable = [nm for nm in boot.names if np.isnan(boot.draws[405, boot.names.index(nm)])]
    assert not_computable == [nm for nm in boot.names if nm.startswith("htmt2:") and "IS" in nm.split(":")[1].split("~")]
    assert boot.nan_counts[not_computable].eq(1).all() and boot.nan_counts.sum() == len(not_computable)
    assert boot.excluded["statistic not computable"] == 1
    assert boot.n_excluded == int(np.isnan(boot.draws).any(axis=1).sum())
    k = boot.names.index("OP~EA")
    used = boot.draws[boot.used, k]
    assert len(used) == boot.n_used("OP~EA") == int(boot.used.sum())
    assert boot.conf_int().loc["OP~EA", "lower"] == pytest.approx(np.quantile(used, 0.025), rel=1e-14)
