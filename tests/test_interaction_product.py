"""dmc and rca product-indicator fits against lavaan (scripts/lavaan_interaction_reference.R:
semTools::indProd builds the products in R, lavaan sem() fits the same model)."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.estimate.interaction.product import product_data, product_syntax
from smsem.exceptions import OptionError

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "interaction"
# the essay's moderation model (6 products, matched indicators, n = 1000): 10-15 s per fit with
# smsem's ML engine, hence slow
CASES = ["hs_dmc", "hs_rca", "hs_latent_observed_dmc",
         pytest.param("moderation_dmc_match", marks=pytest.mark.slow),
         pytest.param("moderation_rca_match", marks=pytest.mark.slow)]


def _meta(case):
    return json.loads((REF / f"{case}.meta.json").read_text())


@lru_cache(maxsize=None)
def _fit(case):
    m = _meta(case)
    model = smsem.load_model(str(ROOT / m["model"]))
    data = pd.read_csv(ROOT / m["data"])
    return smsem.fit(model, data, interaction_method=m["method"], match=m.get("match") == "true")


def _key(l, o, r):
    return (min(l, r), o, max(l, r)) if o == "~~" else (l, o, r)


@pytest.mark.parametrize("case", CASES)
def test_product_indicator_fit_equals_lavaan(case):
    res = _fit(case)
    ref = pd.read_csv(REF / f"{case}.params.csv")
    ours = {_key(l, o, r): (e, s) for l, o, r, e, s in res.params[["lhs", "op", "rhs", "est", "se"]].itertuples(index=False)}
    assert len(ours) == len(ref)  # no extra and no missing parameter
    for l, o, r, e, s in ref.itertuples(index=False):
        est, se = ours[_key(l, o, r)]
        # estimates 1e-3 (the tolerance; both optimizers stop far closer)
        assert est == pytest.approx(e, abs=1e-3), (l, o, r)
        if s > 0:
            # SEs within 1% (expected information in both)
            assert se == pytest.approx(s, rel=0.01), (l, o, r)
        else:
            assert np.isnan(se) or se == 0
    fm = pd.read_csv(REF / f"{case}.fit.csv").set_index("name")["value"]
    assert res.fit_indices["df"] == fm["df"]
    assert res.fit_indices["npar"] == fm["npar"]
    # chi2 relative 1e-5: same likelihood at optima equal to ~1e-6
    assert res.fit_indices["chi2"] == pytest.approx(fm["chisq"], rel=1e-5)


def test_accessors_read_the_fit():
    res = _fit("hs_dmc")
    b = res.coef("speed", "visual:textual")
    assert b == res.coef("speed", "visual.textual")
    row = res.params[(res.params.lhs == "speed") & (res.params.rhs == "visual.textual")].iloc[0]
    assert b == row["est"]
    v = res.cov_coef([("speed", "visual"), ("speed", "visual:textual")])
    assert v[1, 1] == pytest.approx(row["se"] ** 2, rel=1e-12)
    assert v[0, 1] == v[1, 0]
    means, cov = res.latent_moments()
    assert list(cov.index) == ["visual", "textual", "speed"]
    assert np.all(means == 0)
    assert np.all(np.linalg.eigvalsh(cov.to_numpy()) > 0)


def test_dmc_products_are_centered_and_rca_products_orthogonal():
    model = smsem.load_model(str(ROOT / "tests/models/hs_interaction.lav"))
    data = pd.read_csv(ROOT / "tests/reference/lavaan/HolzingerSwineford1939.csv")
    d = product_data(model, data, "dmc")
    assert abs(d["x2.x5"].mean()) < 1e-12
    xc = data - data.mean()
    assert np.allclose(d["x2.x5"], xc["x2"] * xc["x5"] - (xc["x2"] * xc["x5"]).mean())
    r = product_data(model, data, "rca")
    first = data[["x1", "x2", "x3", "x4", "x5", "x6"]]
    # residuals are uncorrelated with every first-order indicator
    assert np.abs(first.apply(lambda c: np.corrcoef(c, r["x3.x4"])[0, 1])).max() < 1e-10
    syntax = product_syntax(model)
    assert "speed ~ visual + textual + visual.textual" in syntax
    assert syntax.count("~~") == 18  # 9 products, each shares an item with 4 others
    assert product_syntax(model, match=True).count("~~") == 0


def test_unknown_method_and_method_without_interaction_refused():
    model = smsem.load_model(str(ROOT / "tests/models/hs_interaction.lav"))
    data = pd.read_csv(ROOT / "tests/reference/lavaan/HolzingerSwineford1939.csv")
    with pytest.raises(OptionError, match="unknown interaction method 'xyz'"):
        smsem.fit(model, data, interaction_method="xyz")
    linear = smsem.load_model("integrative")
    with pytest.raises(OptionError, match="needs a latent interaction"):
        smsem.fit(linear, data, interaction_method="dmc")


def test_linear_comparison_equals_lavaan_fixed_zero_fit():
    from smsem.estimate.interaction.moderation import linear_comparison

    res = _fit("hs_dmc")
    c = linear_comparison(res)
    lin = pd.read_csv(REF / "hs_dmc_fixed0.fit.csv").set_index("name")["value"]
    full = pd.read_csv(REF / "hs_dmc.fit.csv").set_index("name")["value"]
    t = c["table"].set_index("model")
    # log-likelihoods to 1e-4 absolute (both at optima; ~1e-7 relative)
    assert t.loc["linear", "logl"] == pytest.approx(lin["logl"], abs=1e-4)
    assert t.loc["moderation", "logl"] == pytest.approx(full["logl"], abs=1e-4)
    assert t.loc["linear", "npar"] == lin["npar"] and c["lrt"]["df"] == 1
    assert c["lrt"]["chi2"] == pytest.approx(2 * (full["logl"] - lin["logl"]), abs=2e-4)
    assert t.loc["linear", "aic"] == pytest.approx(-2 * lin["logl"] + 2 * lin["npar"], abs=2e-4)


def test_observed_moderator_moments_are_centered_sample_moments():
    from smsem.estimate.interaction.moderation import moderator_values

    res = _fit("hs_latent_observed_dmc")
    x4 = pd.read_csv(ROOT / "tests/reference/lavaan/HolzingerSwineford1939.csv")["x4"]
    sd = x4.std(ddof=0)  # ML moments (N-divided); dmc centered x4 before the product
    assert np.allclose(moderator_values(res, "x4").to_numpy(), [-sd, 0.0, sd], rtol=1e-12)


def test_lms_and_qml_absent_or_dispatched():
    import importlib.util

    model = smsem.load_model(str(ROOT / "tests/models/hs_interaction.lav"))
    data = pd.read_csv(ROOT / "tests/reference/lavaan/HolzingerSwineford1939.csv")
    for method in ("lms", "qml"):
        if importlib.util.find_spec(f"smsem.estimate.interaction.{method}") is None:
            with pytest.raises(OptionError, match=f"interaction method '{method}' is not available"):
                smsem.fit(model, data, interaction_method=method)
        with pytest.raises(OptionError, match="estimator='ML' and missing='listwise'"):
            smsem.fit(model, data, interaction_method=method, estimator="MLR")


def test_p5_block_rows_and_comparison():
    from smsem.model.spec import PropositionPath
    from smsem.propositions import p5_moderation_block

    res = _fit("hs_dmc")
    props = [PropositionPath("H1", "visual raises speed", "visual", "speed", 1),
             PropositionPath("H2", "textual raises speed", "textual", "speed", 1)]
    block = p5_moderation_block(res, props)
    t = block["table"]
    # both factors are unexplained, so each proposition is probed with the other as moderator
    assert list(zip(t["id"], t["moderator"])) == [("H1", "textual"), ("H2", "visual")]
    assert t["est"].iloc[0] == res.coef("speed", "visual:textual")
    assert block["comparison"]["lrt"]["df"] == 1
    lin = pd.read_csv(REF / "hs_dmc_fixed0.fit.csv").set_index("name")["value"]
    assert block["comparison"]["table"]["logl"].iloc[0] == pytest.approx(lin["logl"], abs=1e-4)


def test_default_method_is_documented_default():
    from smsem.estimate.interaction import DEFAULT_METHOD

    model = smsem.load_model(str(ROOT / "tests/models/hs_latent_observed.lav"))
    data = pd.read_csv(ROOT / "tests/reference/lavaan/HolzingerSwineford1939.csv")
    res = smsem.fit(model, data)
    # chosen by the method comparison of docs/moderation-power.md (smsem power scripts/moderation_methods.yaml)
    assert DEFAULT_METHOD == "lms"
    assert res.method == DEFAULT_METHOD
    assert f"Default: `{DEFAULT_METHOD}`" in (ROOT / "docs" / "moderation.md").read_text()


def test_the_essays_moderation_model_has_the_six_products():
    model = smsem.load_model(str(ROOT / "models/integrative_moderation.lav"))
    linear = smsem.load_model("integrative")
    assert [t for t, _, _ in model.parsed.latent_interactions] == ["COM:IS", "COM:SL", "MA:IS", "MA:SL",
                                                                  "COM:IC", "MA:IC"]
    # same items, same linear paths as the first reading: only the products are added
    assert model.items == linear.items
    lin = {(p.lhs, p.rhs) for p in linear.parsed.regressions}
    mod = {(p.lhs, p.rhs) for p in model.parsed.regressions}
    assert lin <= mod and {r for _, r in mod - lin} == {t for t, _, _ in model.parsed.latent_interactions}
    assert model.table().npar == linear.table().npar + 6


def test_summary_names_method_and_products():
    text = _fit("hs_rca").summary()
    assert text.startswith("latent interactions by product indicators: rca (all pairs); products "
                           "visual:textual -> visual.textual")


def test_labelled_interaction_is_fixed_too(tmp_path):
    from smsem.estimate.interaction.moderation import linear_comparison

    p = tmp_path / "lab.lav"
    p.write_text((ROOT / "tests/models/hs_interaction.lav").read_text().replace("+ visual:textual", "+ g*visual:textual"))
    res = smsem.fit(smsem.load_model(str(p)), pd.read_csv(ROOT / "tests/reference/lavaan/HolzingerSwineford1939.csv"),
                    interaction_method="dmc")  # compared with lavaan's dmc fits
    c = linear_comparison(res)
    full = pd.read_csv(REF / "hs_dmc.fit.csv").set_index("name")["value"]
    lin = pd.read_csv(REF / "hs_dmc_fixed0.fit.csv").set_index("name")["value"]
    assert c["lrt"]["df"] == 1
    assert c["lrt"]["chi2"] == pytest.approx(2 * (full["logl"] - lin["logl"]), abs=2e-4)
