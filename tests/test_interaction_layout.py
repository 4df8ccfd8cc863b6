"""An LMS fit on the CLI (issue 17): lavaan's summary layout, the product row among the
regressions, the LMS fit block (log-likelihood, AIC, BIC, parameters; no chi-square), the
numbers those of the fit. The frozen text is tests/reference/snapshots/fit_interaction_lms.txt."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from conftest import ROOT

from smsem.cli import main

HS = ROOT / "tests" / "reference" / "lavaan" / "HolzingerSwineford1939.csv"
MODEL = ROOT / "tests" / "models" / "hs_interaction.lav"


@pytest.fixture(scope="module")
def lms():
    from smsem import fit
    from smsem.model import load_model

    return fit(load_model(str(MODEL)), pd.read_csv(HS), interaction_method="lms")


def test_lms_summary_sections_and_numbers(lms):
    text = lms.summary()
    heads = [h for h in ("Latent Variables:", "Regressions:", "Covariances:", "Intercepts:", "Variances:",
                         "R-Square:") if h in text]
    assert heads == ["Latent Variables:", "Regressions:", "Covariances:", "Intercepts:", "Variances:", "R-Square:"]
    assert [text.index(h) for h in heads] == sorted(text.index(h) for h in heads)
    assert "Estimate  Std.Err  z-value  P(>|z|)   Std.lv  Std.all" in text
    assert "Test statistic" not in text and "chi2" not in text.lower().replace("chi-square", "")
    assert re.search(rf"Loglikelihood\s+{lms.loglik:.3f}\n", text)
    assert re.search(rf"Akaike \(AIC\)\s+{lms.aic:.3f}\n", text) and re.search(rf"Bayesian \(BIC\)\s+{lms.bic:.3f}", text)
    assert re.search(rf"Number of model parameters\s+{lms.npar}\n", text)
    # the product row sits in the Regressions block of speed, with the fit's numbers
    reg = text[text.index("Regressions:"):text.index("Covariances:")]
    r = lms.params.query("lhs == 'speed' and rhs == 'visual:textual'").iloc[0]
    want = (f"{'    visual:textual':<20}" + "".join(f"{v:>9.3f}" for v in (r.est, r.se, r.z, r.pvalue, r.std_lv,
                                                                            r.std_all)))
    assert "\n  speed ~\n" in reg and want + "\n" in reg
    # R-square of speed is 1 - its standardized residual variance (the product's share included)
    res_var = lms.params.query("lhs == 'speed' and op == '~~' and rhs == 'speed'").std_all.iloc[0]
    assert re.search(rf"\n    speed\s+{1 - res_var:.3f}\n", text[text.index("R-Square:"):])


def test_cli_prints_the_summary_layout(lms, capsys):
    assert main(["fit", str(HS), "--model", str(MODEL), "--likert", "0", "--interaction-method", "lms"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(lms.summary().rstrip("\n") + "\n\n")  # the same fit, rendered once
    assert "Latent interactions (moderation)" in out and "Estimates (lms)" not in out


def test_ordinary_summary_fills_std_lv(tmp_path):
    # summary_text merged standardized() into params that already had std_lv: the column came
    # out as std_lv_x/std_lv_y and Std.lv printed blank for every row (fixed with this layout)
    from smsem import fit
    from smsem.model import load_model

    path = tmp_path / "hs_linear.lav"
    path.write_text(MODEL.read_text().replace(" + visual:textual", ""))
    lin = fit(load_model(str(path)), pd.read_csv(HS))
    s = lin.standardized.query("lhs == 'speed' and op == '~' and rhs == 'visual'").iloc[0]
    reg = lin.summary()[lin.summary().index("Regressions:"):]
    assert re.search(rf"\n    visual\s+\S+\s+\S+\s+\S+\s+\S+\s+{s.std_lv:.3f}\s+{s.std_all:.3f}\n", reg)
