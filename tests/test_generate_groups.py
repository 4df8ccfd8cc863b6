"""Departments, latent means and named scenarios."""

import json

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.exceptions import SpecError
from smsem.simulate import (
    DEPARTMENT_COLUMN,
    Department,
    list_scenarios,
    load_scenario,
    mixture_moments,
    population_model,
)

LEVELS = ["undefined", "defined", "aligned", "integrated"]


def test_shipped_scenarios(model):
    assert set(list_scenarios()) >= {"thesis", "null", *LEVELS}
    thesis = load_scenario("thesis", model)
    assert thesis.population == model.population and not thesis.departments and not thesis.latent_means
    null = population_model(model, load_scenario("null", model).population)
    assert not null.beta.any()
    truth = null.true_parameters(model, "std")
    assert (truth[truth.op == "~"].value == 0).all() and len(truth[truth.op == "~"]) == 12
    np.testing.assert_allclose(np.diag(null.latent_cov), 1.0, atol=1e-12)


def test_thesis_scenario_draws_the_default_data(model):
    a = smsem.simulate(model, n=300, seed=1)
    b = smsem.simulate(model, n=300, seed=1, scenario="thesis")
    pd.testing.assert_frame_equal(a, b)
    assert b.attrs["smsem"]["scenario"]["name"] == "thesis" and "scenario" not in a.attrs["smsem"]


def test_integration_levels_raise_antecedents_and_lower_conflict(model):
    scen = [load_scenario(s, model) for s in LEVELS]
    for c in ("COM", "MA", "IS", "SL", "EA", "OP"):
        means = [s.latent_means[c] for s in scen]
        assert means == sorted(means) and means[0] < means[-1], c
    conflict = [s.latent_means["IC"] for s in scen]
    assert conflict == sorted(conflict, reverse=True) and conflict[0] > conflict[-1]
    gaps = [s.departments[1].latent_means["IS"] - s.departments[0].latent_means["IS"] for s in scen]
    assert [d.name for d in scen[0].departments] == ["sales", "marketing"]
    assert gaps == sorted(gaps, reverse=True) and gaps[0] > 0 and gaps[-1] == 0


def test_department_latent_mean_differences_recovered(model):
    """'undefined': sales sees IS 0.6 SD lower and IC 0.6 SD higher than marketing.

    With item intercepts 0, a construct's latent mean is its marker item's mean divided
    by the marker's standardized loading, so the group difference of marker means over
    the loading estimates the latent difference; Welch SE, 4 SE tolerance (7 constructs).
    """
    n = 100_000
    df = smsem.simulate(model, n=n, seed=31, likert=0, scenario="undefined")
    assert df.columns[0] == DEPARTMENT_COLUMN and (df[DEPARTMENT_COLUMN].value_counts() == n // 2).all()
    scen = load_scenario("undefined", model)
    sales, mkt = (df[df[DEPARTMENT_COLUMN] == g] for g in ("sales", "marketing"))
    for c in model.latents:
        marker = model.parsed.indicators(c)[0]
        lam = model.population.loadings[c][0]
        diff = (sales[marker].mean() - mkt[marker].mean()) / lam
        se = np.sqrt(sales[marker].var() / len(sales) + mkt[marker].var() / len(mkt)) / lam
        true = scen.departments[0].latent_means.get(c, 0.0) - scen.departments[1].latent_means.get(c, 0.0)
        assert abs(diff - true) < 4 * se, (c, diff, true, se)
        org = df[marker].mean() / lam
        assert abs(org - scen.latent_means.get(c, 0.0)) < 4 * df[marker].std() / np.sqrt(n) / lam


def test_department_own_paths_and_pooled_moments(model):
    """Each group has its own implied covariance (sales: EA ~ IC = -0.55); the pooled
    data have the mixture covariance. 4.5 sampling SDs per element (Bonferroni)."""
    n = 200_000
    scen = load_scenario("undefined", model)
    df = smsem.simulate(model, n=n, seed=32, likert=0, scenario="undefined")
    pops = [population_model(model, d.population(scen.population)) for d in scen.departments]
    assert pops[0].beta[model.latents.index("EA"), model.latents.index("IC")] == -0.55
    assert pops[1].beta[model.latents.index("EA"), model.latents.index("IC")] == -0.40
    for d, pop in zip(scen.departments, pops):
        x = df.loc[df[DEPARTMENT_COLUMN] == d.name, model.items].to_numpy()
        sigma = pop.implied_cov.to_numpy()
        sd = np.sqrt((np.outer(np.diag(sigma), np.diag(sigma)) + sigma ** 2) / len(x))
        assert (np.abs(np.cov(x, rowvar=False) - sigma) / sd).max() < 4.5, d.name
    mus = [np.array([d.latent_means.get(c, 0.0) for c in model.latents]) for d in scen.departments]
    mean, cov = mixture_moments(pops, mus, [0.5, 0.5])
    x = df[model.items].to_numpy()
    assert (np.abs(x.mean(axis=0) - mean) / np.sqrt(np.diag(cov) / n)).max() < 4.5
    # Pooled variances are at most 1.08, so an element's SD is <= sqrt(2 * 1.08**2 / n) = .0034:
    # 0.015 is 4.4 SD.
    assert np.diag(cov).max() < 1.08
    assert np.abs(np.cov(x, rowvar=False) - cov).max() < 0.015
    # The sales-only path really differs: within-group corr(EA, IC) is stronger for sales.
    r = {g: np.corrcoef(df.loc[df[DEPARTMENT_COLUMN] == g, "EA1"], df.loc[df[DEPARTMENT_COLUMN] == g, "IC1"])[0, 1]
         for g in ("sales", "marketing")}
    assert r["sales"] < r["marketing"] - 0.05


def test_departments_reproducible_and_recorded(model, tmp_path):
    a = smsem.simulate(model, n=301, seed=33, scenario="aligned")
    b = smsem.simulate(model, n=301, seed=33, scenario="aligned")
    pd.testing.assert_frame_equal(a, b)
    assert a[DEPARTMENT_COLUMN].value_counts().to_dict() == {"sales": 150, "marketing": 151}
    _, meta = smsem.write_survey(a, tmp_path / "a.csv")
    rec = json.loads(meta.read_text())
    assert rec["scenario"]["name"] == "aligned" and rec["smsem_version"] == smsem.__version__
    assert rec["seed"] == 33 and rec["thresholds"] == [-1.8, -0.6000000000000001, 0.5999999999999999, 1.8]
    sales = rec["departments"][0]
    assert sales["name"] == "sales" and sales["item_intercepts"] == 0.0
    assert sales["latent_means"]["IS"] == pytest.approx(0.3 - 0.1) and sales["stream_spawn_key"] == [0, 0]
    # alpha = (I - B) mu: OP's intercept is its mean minus 0.45 * EA's mean.
    assert sales["structural_intercepts"]["OP"] == pytest.approx(0.15 - 0.45 * 0.3)


def test_latent_means_shift_items_by_loading_times_mean(model):
    base = smsem.simulate(model, n=1000, seed=34, likert=0)
    shifted = smsem.simulate(model, n=1000, seed=34, likert=0, latent_means={"OP": 0.5})
    lam = population_model(model).lambda_
    expected = base.to_numpy() + lam @ np.where(np.array(model.latents) == "OP", 0.5, 0.0)
    np.testing.assert_allclose(shifted.to_numpy(), expected, atol=1e-12)
    assert shifted.attrs["smsem"]["mean_structure"]["latent_means"]["OP"] == 0.5


def test_bad_groups_and_scenarios(model, tmp_path):
    with pytest.raises(SpecError, match="unknown scenario 'nope'; shipped scenarios: aligned"):
        load_scenario("nope", model)
    with pytest.raises(SpecError, match="shares must sum to 1, got 0.9"):
        smsem.simulate(model, n=10, departments=[Department("sales", 0.5), Department("marketing", 0.4)])
    with pytest.raises(SpecError, match="'XX' is not a latent variable"):
        smsem.simulate(model, n=10, latent_means={"XX": 1.0})
    with pytest.raises(SpecError, match=r"department sales: construct EA: its predictors explain R² = 1\.65"):
        smsem.simulate(model, n=10, departments=[Department("sales", 0.5, paths={"EA": {"IC": -1.1}}),
                                                  Department("marketing", 0.5)])
    bad = tmp_path / "bad.yaml"
    bad.write_text("latent_means: {COM: 1, ZZ: 2}\n")
    with pytest.raises(SpecError, match="latent means for ZZ, which are not constructs"):
        load_scenario(bad, model)
    bad.write_text("population: {pathz: {}}\n")
    with pytest.raises(SpecError, match="unknown population key"):
        load_scenario(bad, model)
    bad.write_text("latent_means: [1\n")
    with pytest.raises(SpecError, match="line 2, column 1: invalid YAML"):
        load_scenario(bad, model)
