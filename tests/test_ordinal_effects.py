"""Effects (specific indirect chains, total indirect, total) and ``:=`` rows of a WLSMV fit
against lavaan 0.6.14.

Reference: ``Rscript scripts/lavaan_wlsmv_reference.R integrative_effects``: the integrative model
on the committed 5-point survey with labelled paths and ``:=`` rows that spell out the effects
(``ind_is_op := b1*d*f`` is the chain IS -> IC -> EA -> OP, ``tind_com_op`` the sum of the four
chains from COM to OP, ``tot_com_ea`` direct + indirect, ...), fitted with WLSMV: lavaan's ``:=``
est and robust delta-method SE (``parameterEstimates``), std.all and its SE
(``standardizedSolution``). Tolerances as tests/test_wlsmv.py (lavaan's convergence tolerance
leaves differences of about 1e-6 in the estimates): values 5e-5 absolute, SEs 1e-4 relative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.estimate.categorical.fit import fit_ordinal

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan_wlsmv"
EST_TOL = 5e-5   # absolute: lavaan's own convergence tolerance (1e-6 measured on the estimates)
SE_TOL = 1e-4    # relative

#: lavaan := row -> (outcome, source, kind, path) of smsem's effects table
ROWS = {
    "ind_is_op": ("OP", "IS", "indirect", "IS -> IC -> EA -> OP"),
    "ind_com_is_op": ("OP", "COM", "indirect", "COM -> IS -> IC -> EA -> OP"),
    "tind_com_op": ("OP", "COM", "total_indirect", ""),
    "tind_com_ea": ("EA", "COM", "total_indirect", ""),
    "tot_com_ea": ("EA", "COM", "total", ""),
    "tind_ma_ic": ("IC", "MA", "total_indirect", ""),
}


def _labelled_model(tmp_path_factory):
    text = (ROOT / "models" / "integrative.lav").read_text()
    for old, new in (("IS ~ COM + MA", "IS ~ a1*COM + a2*MA"), ("SL ~ COM + MA", "SL ~ a3*COM + a4*MA"),
                     ("IC ~ IS + SL + COM + MA", "IC ~ b1*IS + b2*SL + c1*COM + c2*MA"),
                     ("EA ~ IC + COM + MA", "EA ~ d*IC + e1*COM + e2*MA"), ("OP ~ EA", "OP ~ f*EA")):
        assert old in text
        text = text.replace(old, new)
    text += ("\nind_is_op := b1*d*f\nind_com_is_op := a1*b1*d*f\ntind_com_op := a1*b1*d*f + a3*b2*d*f + c1*d*f + e1*f\n"
             "tind_com_ea := a1*b1*d + a3*b2*d + c1*d\ntot_com_ea := e1 + a1*b1*d + a3*b2*d + c1*d\n"
             "tind_ma_ic := a2*b1 + a4*b2\n")
    p = tmp_path_factory.mktemp("m") / "integ_lab.lav"
    p.write_text(text)
    return smsem.load_model(str(p))


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    data = pd.read_csv(ROOT / "data/synthetic/integrative_n300_seed1.csv")
    res = fit_ordinal(_labelled_model(tmp_path_factory), data, ordered=True)
    ref = pd.read_csv(REF / "integrative_effects_partable.csv")
    ref = ref[ref.op == ":="].set_index("lhs")
    eff = smsem.effects(res, ["OP", "EA", "IC"])
    return res, ref, eff


def _close(a, b, tol, rel=False):
    a, b = float(a), float(b)
    assert abs(a - b) <= (tol * abs(b) if rel else tol), (a, b)


def test_effects_equal_lavaan_defined_rows(fitted):
    res, ref, eff = fitted
    for name, (y, x, kind, path) in ROWS.items():
        r = eff.get(x, kind, outcome=y, path=path or None)
        lav = ref.loc[name]
        _close(r.est, lav["est"], EST_TOL)
        _close(r.se, lav["se"], SE_TOL, rel=True)
        _close(r.std_all, lav["std.all"], EST_TOL)
        _close(r.std_se, lav["std.all.se"], SE_TOL, rel=True)
    # no direct COM -> OP path: the total effect is the total indirect one
    tot, tind = eff.get("COM", "total", "OP"), eff.get("COM", "total_indirect", "OP")
    assert tot.est == pytest.approx(tind.est, abs=1e-12) and tot.se == pytest.approx(tind.se, rel=1e-8)
    # the direct row is the fit's path (est and robust SE of res.params)
    p = res.params.set_index(["lhs", "op", "rhs"])
    d = eff.get("IC", "direct", "EA")
    assert d.est == pytest.approx(p.loc[("EA", "~", "IC"), "est"], abs=1e-10)
    assert d.se == pytest.approx(p.loc[("EA", "~", "IC"), "se"], rel=1e-6)


def test_defined_rows_equal_lavaan(fitted):
    res, ref, eff = fitted
    assert list(eff.defined["name"]) == list(ROWS)
    for _, r in eff.defined.iterrows():
        lav = ref.loc[r["name"]]
        _close(r.est, lav["est"], EST_TOL)
        _close(r.se, lav["se"], SE_TOL, rel=True)
        _close(r.std_all, lav["std.all"], EST_TOL)
        _close(r.std_se, lav["std.all.se"], SE_TOL, rel=True)
    dp = smsem.estimate.effects.defined_parameters(res)
    assert np.allclose(dp["se"], eff.defined["se"], rtol=1e-12)


def test_bootstrap_columns_are_the_draws(fitted):
    """The bootstrap CI of a chain is the percentile interval of the product of the draws' paths
    (each draw a refit of the resampled data, tests/test_wlsmv.py), and a := row spelling the same
    chain gets the same interval."""
    from smsem.estimate.categorical.bootstrap import bootstrap_ordinal

    res, _, _ = fitted
    bs = bootstrap_ordinal(res, 40, seed=7)
    eff = smsem.effects(res, "OP", boot=bs)
    names = [f"{a}{o}{b}" for a, o, b in bs.names]
    e = bs.estimates[bs.ok]
    prod = e[:, names.index("IC~IS")] * e[:, names.index("EA~IC")] * e[:, names.index("OP~EA")]
    r = eff.get("IS", "indirect", "OP", path="IS -> IC -> EA -> OP")
    assert r.boot_ci_lower == pytest.approx(np.quantile(prod, 0.025), abs=1e-12)
    assert r.boot_ci_upper == pytest.approx(np.quantile(prod, 0.975), abs=1e-12)
    assert r.boot_se == pytest.approx(prod.std(ddof=1), rel=1e-10)
    d = eff.defined.set_index("name").loc["ind_is_op"]
    assert d.boot_ci_lower == pytest.approx(r.boot_ci_lower, abs=1e-12)
    assert d.std_boot_ci_upper == pytest.approx(r.std_boot_ci_upper, abs=1e-10)
    assert r.boot_ci_lower < r.est < r.boot_ci_upper
    assert np.isfinite(eff.table["std_boot_ci_lower"]).all()


def test_cli_effects_and_mediation(tmp_path, capsys):
    """``smsem fit --ordered all --boot B``: the effects in text and JSON, and the proposition
    table's mediation block (chains of propositions) from the same ordinal draws."""
    import json

    from smsem.cli import main

    m = tmp_path / "hs.lav"
    m.write_text("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
                 "textual ~ a*visual\nspeed ~ b*textual + visual\nind := a*b\n")
    h = tmp_path / "h.yaml"
    h.write_text('- id: H1\n  path: "textual ~ visual"\n  sign: "+"\n- id: H2\n  path: "speed ~ textual"\n  sign: "+"\n')
    f = str(ROOT / "tests/reference/lavaan_ordinal/hs_cut4.csv")
    base = ["fit", f, "--model", str(m), "--ordered", "all", "--hypotheses", str(h), "--boot", "20", "--seed", "4"]
    assert main(base + ["--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    rows = {(r["kind"], r["path"]): r for r in doc["effects"]["effects"]}
    chain = rows[("indirect", "visual -> textual -> speed")]
    ref = pd.read_csv(REF / "hs_defined_partable.csv")
    lav = ref[ref.op == ":="].iloc[0]
    assert abs(chain["est"] - lav.est) < EST_TOL and abs(chain["se"] / lav.se - 1) < SE_TOL
    assert chain["boot_ci_lower"] < chain["est"] < chain["boot_ci_upper"]
    d = doc["effects"]["defined"][0]
    assert d["name"] == "ind" and d["boot_ci_lower"] == pytest.approx(chain["boot_ci_lower"], abs=1e-12)
    med = {r["ids"]: r for r in doc["propositions"]["mediation"]}
    assert med["H1·H2"]["boot_ci_lower"] == pytest.approx(chain["boot_ci_lower"], abs=1e-12)
    assert med["H1·H2"]["std_ci_upper"] == pytest.approx(chain["std_boot_ci_upper"], abs=1e-12)
    assert main(base) == 0
    text = capsys.readouterr().out
    assert "Effects on speed" in text and "Defined parameters (:=)" in text and "Boot 95% CI" in text


def test_theta_parameterization(tmp_path):
    """Effects of a theta-parameterization fit equal lavaan's := rows (reference case
    hs_theta_effects: ind := a*b, tot := c + a*b)."""
    m = tmp_path / "hs.lav"
    m.write_text("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
                 "textual ~ a*visual\nspeed ~ b*textual + c*visual\nind := a*b\ntot := c + a*b\n")
    res = fit_ordinal(smsem.load_model(str(m)), pd.read_csv(ROOT / "tests/reference/lavaan_ordinal/hs_cut4.csv"),
                      ordered=True, parameterization="theta")
    ref = pd.read_csv(REF / "hs_theta_effects_partable.csv")
    ref = ref[ref.op == ":="].set_index("lhs")
    eff = smsem.effects(res)
    for name, row in (("ind", eff.get("visual", "indirect", "speed")), ("tot", eff.get("visual", "total", "speed"))):
        lav = ref.loc[name]
        _close(row.est, lav["est"], EST_TOL)
        _close(row.se, lav["se"], SE_TOL, rel=True)
        _close(row.std_all, lav["std.all"], EST_TOL)
        _close(row.std_se, lav["std.all.se"], SE_TOL, rel=True)
        d = eff.defined.set_index("name").loc[name]
        assert d.est == pytest.approx(row.est, abs=1e-10) and d.se == pytest.approx(row.se, rel=1e-6)
