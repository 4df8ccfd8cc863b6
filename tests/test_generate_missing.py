"""Missing data: MCAR and MAR rates, mechanisms, and untouched complete data."""

import json

import numpy as np
import pytest
import statsmodels.api as sm

import smsem
from smsem.exceptions import MissingDataWarning, OptionError
from smsem.simulate import MissingSpec


@pytest.mark.parametrize("rate", [0.05, 0.20])
def test_mcar_rate_within_one_point(model, rate):
    """n=2000 x 22 cells: the rate's SE is sqrt(r(1-r)/44000) <= 0.0019, so 1 point is >= 5 SE."""
    df = smsem.simulate(model, n=2000, seed=21, missing_rate=rate)
    realized = df.isna().to_numpy().mean()
    assert abs(realized - rate) < 0.01
    assert df.attrs["smsem"]["missing"]["realized_rate"] == pytest.approx(realized, abs=1e-15)


def test_missingness_leaves_the_complete_data_unchanged(model):
    full = smsem.simulate(model, n=3000, seed=22)
    for mech in ("mcar", "mar"):
        holes = smsem.simulate(model, n=3000, seed=22, missing_rate=0.15, missing_mechanism=mech)
        seen = holes.notna().to_numpy()
        assert (~seen).any()
        np.testing.assert_array_equal(holes.to_numpy(dtype=float)[seen], full.to_numpy(dtype=float)[seen])


def test_mcar_is_unrelated_to_values(model):
    """MCAR: a missing indicator does not depend on the item's own complete value."""
    n = 20_000
    full = smsem.simulate(model, n=n, seed=23, likert=0)
    holes = smsem.simulate(model, n=n, seed=23, likert=0, missing_rate=0.2)
    miss = holes["OP1"].isna().to_numpy().astype(float)
    fit = sm.Logit(miss, sm.add_constant(full[["OP1"]].to_numpy())).fit(disp=0)
    assert abs(fit.tvalues[1]) < 4


def test_mar_depends_on_the_driver_not_on_the_item(model):
    """MAR: given the driver, missingness is unrelated to the item's own (complete) value.

    A logistic regression of an item's missing indicator on the driver and on the item's
    complete value (known here, unobserved in practice) must give the driver's slope
    (strength = 1 log-odds per SD) and a 0 slope for the item's own value: the own value
    correlates with the driver, so it is *marginally* associated with missingness (also
    checked), but not once the driver is in the model. Tolerances: 4 standard errors.
    """
    n = 20_000
    spec = MissingSpec(0.2, "mar", driver="COM1", strength=1.0)
    full = smsem.simulate(model, n=n, seed=24, likert=0)
    holes = smsem.simulate(model, n=n, seed=24, likert=0, missing=spec)
    assert holes["COM1"].notna().all()
    assert abs(holes.isna().to_numpy().mean() - 0.2) < 0.01
    driver = (full["COM1"] - full["COM1"].mean()) / full["COM1"].std(ddof=0)
    for item in ("COM2", "IC1", "OP4"):
        miss = holes[item].isna().to_numpy().astype(float)
        own = full[item].to_numpy()
        both = sm.Logit(miss, sm.add_constant(np.column_stack([driver, own]))).fit(disp=0)
        assert abs(both.params[1] - 1.0) < 4 * both.bse[1], (item, both.params, both.bse)
        assert abs(both.params[2]) < 4 * both.bse[2], (item, both.params, both.bse)
    # Marginal association with the own value where the item correlates with COM1 (r = .60).
    marginal = sm.Logit(holes["COM2"].isna().to_numpy().astype(float), sm.add_constant(full["COM2"].to_numpy())).fit(disp=0)
    assert marginal.tvalues[1] > 10


def test_mar_on_likert_codes_and_csv_has_empty_cells(model, tmp_path):
    df = smsem.simulate(model, n=400, seed=25, missing_rate=0.1, missing_mechanism="mar")
    assert str(df["COM2"].dtype) == "Int8" and df["COM1"].dtype == np.int8
    csv, meta = smsem.write_survey(df, tmp_path / "s.csv")
    lines = csv.read_text().splitlines()
    assert any(",," in line or line.endswith(",") for line in lines[1:])
    assert "nan" not in csv.read_text().lower() and "<na>" not in csv.read_text().lower()
    # 10% MAR per item leaves few complete rows: read_survey says so (issue 8's warning).
    with pytest.warns(MissingDataWarning, match=r"74% of rows \(297 of 400\)"):
        back = smsem.read_survey(csv, model)
    np.testing.assert_array_equal(back.isna().to_numpy(), df[model.items].isna().to_numpy())
    info = json.loads(meta.read_text())["missing"]
    assert info["mechanism"] == "mar" and info["driver"] == "COM1" and info["stream_spawn_key"] == [1]


def test_bad_missing_options(model):
    with pytest.raises(OptionError, match="missing mechanism must be one of mcar, mar; got 'mnar'"):
        smsem.simulate(model, n=10, missing_rate=0.1, missing_mechanism="mnar")
    with pytest.raises(OptionError, match=r"missing rate must be < 1\.0, got 1\.0"):
        smsem.simulate(model, n=10, missing_rate=1.0)
    with pytest.raises(OptionError, match="too high for MAR on 1 of 22 items"):
        smsem.simulate(model, n=10, missing=MissingSpec(0.1, "mar", items=("OP4",)))
    with pytest.raises(OptionError, match="MAR driver 'XX' is not a column"):
        smsem.simulate(model, n=10, missing=MissingSpec(0.1, "mar", driver="XX"))
