"""The proposition table and --hypotheses under WLSMV (smsem.estimate.categorical.propositions).

Point values are checked against lavaan 0.6.14 (tests/reference/lavaan_wlsmv/hs_defined_partable.csv
from scripts/lavaan_wlsmv_reference.R: HS cut into 4 categories, ``textual ~ a*visual``,
``speed ~ b*textual + visual``, ``ind := a*b``): a path's estimate/SE/std.all are lavaan's rows,
an indirect chain's estimate and delta-method SE equal lavaan's ``ind := a*b`` row. Tolerances:
estimates and std.all 5e-5 absolute, SEs 1e-4 relative (lavaan's convergence tolerance, as in
tests/test_wlsmv.py). The bootstrap CIs behind the verdicts are checked against refits of the
resampled data sets (each case repeated counts[i] times): std.all of each refit, quantiles as
numpy's, to 1e-6 (the batched draws equal refits to 1e-6).
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.estimate.categorical.fit import fit_ordinal
from smsem.estimate.categorical.propositions import ordinal_proposition_table
from smsem.exceptions import HeywoodWarning, OptionError
from smsem.model.spec import PropositionPath

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan_wlsmv"
ORD = ROOT / "tests" / "reference" / "lavaan_ordinal"
HS = ("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
      "textual ~ a*visual\nspeed ~ b*textual + visual\nind := a*b\n")
PROPS = (PropositionPath("H1", "H1", "visual", "textual", 1),
         PropositionPath("H2", "H2", "visual", "speed", 1, via=("textual",)),
         PropositionPath("H3", "H3", "", "", 0, defined="ind"),
         PropositionPath("H4", "H4", "visual", "speed", -1))


@pytest.fixture(scope="module")
def hs(tmp_path_factory):
    p = tmp_path_factory.mktemp("m") / "hs.lav"
    p.write_text(HS)
    model = smsem.load_model(str(p))
    data = pd.read_csv(ORD / "hs_cut4.csv")[[f"x{i}" for i in range(1, 10)]]
    return model, data, fit_ordinal(model, data, ordered=True), str(p)


def test_points_equal_lavaan(hs):
    _, _, res, _ = hs
    ref = pd.read_csv(REF / "hs_defined_partable.csv")
    row = {(a, o, b): r for a, o, b, r in zip(ref.lhs, ref.op, ref.rhs, ref.itertuples())}
    t = ordinal_proposition_table(res, n_boot=0, hypotheses=PROPS).table.set_index("id")
    for hid, key in (("H1", ("textual", "~", "visual")), ("H2", ("ind", ":=", "a*b")),
                     ("H3", ("ind", ":=", "a*b")), ("H4", ("speed", "~", "visual"))):
        r = row[key]
        assert t.loc[hid, "est"] == pytest.approx(r.est, abs=5e-5), hid
        assert t.loc[hid, "se"] == pytest.approx(r.se, rel=1e-4), hid
        assert t.loc[hid, "std_est"] == pytest.approx(ref["std.all"][r.Index],
                                                      abs=5e-5), hid
    assert (t.verdict == "no bootstrap").all()


def test_verdict_cis_equal_refits(hs):
    from smsem.estimate.categorical.bootstrap import bootstrap_ordinal

    model, data, res, _ = hs
    bs = bootstrap_ordinal(res, 8, seed=5)
    ok = np.flatnonzero(bs.ok)
    assert len(ok) >= 6
    pt = ordinal_proposition_table(res, bs, hypotheses=PROPS, level=0.9)
    refs = []
    for b in ok:
        rep = data.loc[np.repeat(np.arange(len(data)), bs.counts[b].astype(int))].reset_index(drop=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HeywoodWarning)
            one = fit_ordinal(model, rep, ordered=True)
        p = one.params.set_index(["lhs", "op", "rhs"])["std_all"]
        a, bb, c = p[("textual", "~", "visual")], p[("speed", "~", "textual")], p[("speed", "~", "visual")]
        refs.append([a, a * bb, p[("ind", ":=", "a*b")], c])
    refs = np.array(refs)
    lo, hi = np.quantile(refs, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(pt.table.ci_lower, lo, atol=1e-6)
    np.testing.assert_allclose(pt.table.ci_upper, hi, atol=1e-6)
    # the verdicts read those CIs with the expected signs
    for r, p in zip(pt.table.itertuples(), PROPS):
        if r.ci_lower > 0 or r.ci_upper < 0:
            side = 1 if r.ci_lower > 0 else -1
            assert r.verdict == ("CI excludes 0" if p.sign == 0 else
                                 "supported" if side == p.sign else "opposite sign")
        else:
            assert r.verdict in ("not supported", "CI includes 0")
    assert pt.n_boot == 8 and pt.n_failed == 8 - len(ok)
    # bc and normal intervals from the same draws; bca needs at least n usable draws (as for ML)
    for ci in ("bc", "normal"):
        t = ordinal_proposition_table(res, bs, hypotheses=PROPS, ci=ci).table
        assert np.all(t.ci_lower < t.ci_upper)
    with pytest.raises(OptionError, match="BCa intervals need"):
        ordinal_proposition_table(res, bs, hypotheses=PROPS, ci="bca")


def test_cli_hypotheses_with_ordered(hs, tmp_path, capsys):
    from smsem.cli import main

    _, _, _, model_path = hs
    h = tmp_path / "h.yaml"
    h.write_text('- id: H1\n  path: "textual ~ visual"\n  sign: "+"\n'
                 '- id: H2\n  indirect: "visual -> textual -> speed"\n  sign: "+"\n')
    f = str(ORD / "hs_cut4.csv")
    args = ["fit", f, "--model", model_path, "--ordered", "all", "--hypotheses", str(h)]
    assert main(args + ["--boot", "30", "--seed", "2", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    paths = doc["propositions"]["paths"]
    assert [p["id"] for p in paths] == ["H1", "H2"]
    assert doc["propositions"]["n_boot"] == 30 and paths[0]["verdict"] in ("supported", "not supported")
    assert main(args + ["--boot", "0"]) == 0
    out = capsys.readouterr().out
    assert "H2" in out and "no bootstrap" in out and "WLSMV fit" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text('- id: H1\n  path: "x1 ~ speed"\n  sign: "+"\n')
    assert main(["fit", f, "--model", model_path, "--ordered", "all", "--hypotheses", str(bad)]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


def test_public_proposition_table_dispatches(hs):
    """smsem.proposition_table on an ordinal fit uses the ordinal bootstrap (same draws for a seed)."""
    _, _, res, _ = hs
    a = smsem.proposition_table(res, hypotheses=PROPS, n_boot=6, seed=9).table
    b = ordinal_proposition_table(res, hypotheses=PROPS, n_boot=6, seed=9).table
    pd.testing.assert_frame_equal(a, b)
    assert a.ci_lower.notna().all()
