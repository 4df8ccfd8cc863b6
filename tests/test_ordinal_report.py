"""``smsem fit FILE --ordered ... --out DIR``: the ordinal report folder (smsem.estimate.categorical.report).

The files hold what the fit computed (checked against the result objects, whose numbers are
checked against lavaan/semTools elsewhere); an existing file is refused (exit 2, one line,
nothing written; --force overwrites, as for ML: write_report_files).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

import smsem
from smsem.cli import main
from smsem.estimate.categorical.fit import fit_ordinal
from smsem.estimate.categorical.report import ordinal_report_file_names

ROOT = Path(__file__).resolve().parents[1]
ORD = ROOT / "tests" / "reference" / "lavaan_ordinal"
REF = ROOT / "tests" / "reference" / "lavaan_wlsmv"
HS = ("visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"
      "textual ~ a*visual\nspeed ~ b*textual + visual\nind := a*b\n")


def test_out_writes_the_ordinal_report(tmp_path, capsys):
    m = tmp_path / "hs.lav"
    m.write_text(HS)
    h = tmp_path / "h.yaml"
    h.write_text('- id: H1\n  path: "textual ~ visual"\n  sign: "+"\n')
    out = tmp_path / "rep"
    args = ["fit", str(ORD / "hs_cut4.csv"), "--model", str(m), "--ordered", "all", "--hypotheses", str(h),
            "--out", str(out)]
    assert main(args) == 0
    capsys.readouterr()
    assert sorted(p.name for p in out.iterdir()) == sorted(ordinal_report_file_names())
    ref = pd.read_csv(REF / "hs_defined_partable.csv")
    par = pd.read_csv(out / "parameters.csv")
    np.testing.assert_allclose(par.est.to_numpy(), ref.est.to_numpy(), atol=5e-5)  # lavaan's numbers
    fit = json.loads((out / "fit.json").read_text())
    assert fit["fit"]["cfi_robust"] == smsem.fit(smsem.load_model(str(m)), pd.read_csv(ORD / "hs_cut4.csv"),
                                                 ordered=True).fit_indices["cfi_robust"]
    q = pd.read_csv(out / "quality_constructs.csv")
    assert list(q.construct) == ["visual", "textual", "speed"]
    props = pd.read_csv(out / "propositions.csv")
    assert list(props.id) == ["H1"] and props.verdict[0] == "no bootstrap"
    assert "## Propositions" in (out / "report.md").read_text()
    # effects: the chain visual -> textual -> speed is lavaan's ind := a*b (est, robust delta-method SE)
    lav = ref[ref.op == ":="].iloc[0]
    eff = pd.read_csv(out / "effects.csv")
    chain = eff[(eff.kind == "indirect") & (eff.path == "visual -> textual -> speed")].iloc[0]
    assert abs(chain.est - lav.est) < 5e-5 and abs(chain.se / lav.se - 1) < 1e-4
    dfn = pd.read_csv(out / "defined.csv")
    assert list(dfn.name) == ["ind"] and abs(dfn.se[0] / lav.se - 1) < 1e-4
    assert "## Effects" in (out / "report.md").read_text()
    std = pd.read_csv(out / "standardized.csv")
    assert {"std_all", "std_all_se"} <= set(std.columns)
    # an existing report is refused before any work, in one line
    before = (out / "report.md").stat().st_mtime_ns
    assert main(args) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and ("--force" in err or "exists" in err), err
    assert (out / "report.md").stat().st_mtime_ns == before
