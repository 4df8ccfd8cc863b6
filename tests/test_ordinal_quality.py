"""Reliability and validity of ordinal items against semTools 0.5.6 on lavaan 0.6.14 WLSMV fits.

References: ``Rscript scripts/semtools_ordinal_reference.R`` -> tests/reference/semtools_ordinal/
(HS cut into 4 categories, delta and theta; the integrative model on the committed 5-point
survey): ``compRelSEM(fit)`` (categorical omega), ``compRelSEM(fit, ord.scale = FALSE)``,
``compRelSEM(fit, tau.eq = TRUE, ord.scale = FALSE)`` (ordinal alpha), ``compRelSEM(fit,
tau.eq = TRUE)`` (raw alpha), ``AVE(fit)``, ``htmt(model, data, ordered = items)`` with
``htmt2 = FALSE`` and ``TRUE``. Tolerance 1e-5 absolute: the measures are smooth functions of the
estimates, which agree with lavaan's to 2e-5 (tests/test_wlsmv.py); measured differences are at
most 7e-7 (theta) and 2e-9 for alpha. HTMT depends only on the polychorics (1e-6 from lavaan's):
1e-6.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.estimate.categorical.fit import fit_ordinal
from smsem.estimate.categorical.quality import ORDINAL_RELIABILITY_COLUMNS, ordinal_reliability_table

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "semtools_ordinal"
ORD = ROOT / "tests" / "reference" / "lavaan_ordinal"
HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"


@pytest.fixture(scope="module", params=["hs", "hs_theta", "integrative", "hs_mixed"])
def case(request, tmp_path_factory):
    name = request.param
    if name == "hs_mixed":  # x6, x9 continuous: semTools gives NA omega for the mixed factors
        p = tmp_path_factory.mktemp("m") / "hs.lav"
        p.write_text(HS)
        data = pd.read_csv(ROOT / "tests/reference/lavaan_wlsmv/hs_mixed_data.csv")
        return name, fit_ordinal(smsem.load_model(str(p)), data, ordered=[f"x{i}" for i in (1, 2, 3, 4, 5, 7, 8)])
    if name.startswith("hs"):
        p = tmp_path_factory.mktemp("m") / "hs.lav"
        p.write_text(HS)
        model, data = smsem.load_model(str(p)), pd.read_csv(ORD / "hs_cut4.csv")[[f"x{i}" for i in range(1, 10)]]
    else:
        model = smsem.load_model("integrative")
        data = pd.read_csv(ROOT / "data/synthetic/integrative_n300_seed1.csv")
    res = fit_ordinal(model, data, ordered=True, parameterization="theta" if name.endswith("theta") else "delta")
    return name, res


def test_reliability_equals_semtools(case):
    name, res = case
    ref = pd.read_csv(REF / f"{name}.quality.csv").set_index("construct").apply(pd.to_numeric, errors="coerce")
    t = ordinal_reliability_table(res).set_index("construct")
    assert list(t.reset_index().columns) == ORDINAL_RELIABILITY_COLUMNS
    assert list(t.index) == list(ref.index)
    for col in ref.columns:
        np.testing.assert_allclose(t[col].to_numpy(), ref[col].to_numpy(), atol=1e-5, err_msg=f"{name} {col}")
    # categorical omega is not the latent-response omega (the property it exists for)
    both = t["omega"].notna()
    assert both.any() and np.all(np.abs(t["omega"][both] - t["omega_lat"][both]) > 1e-3)
    assert (t["omega"].isna() == ref["omega"].isna()).all()


def test_measurement_quality_of_ordinal_fit(case):
    name, res = case
    q = smsem.reliability(res)
    ref = pd.read_csv(REF / f"{name}.quality.csv").set_index("construct").apply(pd.to_numeric, errors="coerce")
    c = q.constructs.set_index("construct")
    np.testing.assert_allclose(c["alpha"], ref["alpha_ord"], atol=1e-5)
    np.testing.assert_allclose(c["cr"], ref["omega"], atol=1e-5)
    np.testing.assert_allclose(c["ave"], ref["ave"], atol=1e-5)
    for kind in ("htmt", "htmt2"):
        h = pd.read_csv(REF / f"{name}.{kind}.csv").set_index("construct")
        np.testing.assert_allclose(getattr(q, kind).loc[h.index, h.columns].to_numpy(), h.to_numpy(), atol=1e-6)
    assert q.n == res.n and len(q.loadings) == sum(c["n_items"])


def test_cli_prints_quality(tmp_path, capsys):
    from smsem.cli import main

    p = tmp_path / "hs.lav"
    p.write_text(HS)
    assert main(["fit", str(ORD / "hs_cut4.csv"), "--model", str(p), "--ordered", "all"]) == 0
    out = capsys.readouterr().out
    assert "categorical omega" in out and "Reliability and convergent validity" in out
