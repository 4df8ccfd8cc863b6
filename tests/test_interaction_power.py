"""`smsem power` on a model with latent interactions (issue 17): configuration, population,
per-replication seeding and the interaction rows of the summary. Cheap: dmc fits of the
9-item moderation_xz model at small n (the method comparison itself is a study, see
docs/moderation-power.md)."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest

from smsem.exceptions import OptionError
from smsem.montecarlo.config import config_from_mapping, load_config
from smsem.montecarlo.replication import run_replication, run_replications
from smsem.montecarlo.runner import run_study
from smsem.montecarlo.scenarios import interaction_cell_population, true_values

ROOT = Path(__file__).resolve().parents[1]
XZ = str(ROOT / "models" / "montecarlo" / "moderation_xz.lav")
BASE = {
    "model": XZ,
    "population": {"interaction": {"loading": 0.8, "item_residual": 0.36, "latent_covariance": 0.3,
                                   "regression": 0.3, "residual": 0.5}},
    "grid": {"n": [120], "std_interaction": [0.2, 0.0], "method": ["dmc"]},
    "replications": 3,
    "seed": 7,
}


def smsem_model(cfg):
    from smsem.montecarlo.scenarios import models

    return models(cfg)[1]


def _cfg(**changes):
    d = copy.deepcopy(BASE)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(d.get(k), dict):
            d[k] = {**d[k], **v}
        else:
            d[k] = v
    return config_from_mapping(d, source="t.yaml", base=ROOT)


def test_shipped_moderation_config():
    cfg = load_config(ROOT / "models" / "montecarlo" / "moderation.yaml")  # the worktree's file
    assert cfg.interaction
    assert cfg.levels("method") == ("lms", "dmc", "rca")
    assert set(cfg.levels("std_interaction")) == {0.0, 0.1, 0.2}
    assert cfg.levels("likert") == (0,)  # continuous items: the generator's responses
    assert cfg.levels("reliability") == (0.7, 0.8, 0.9)
    assert len(cfg.cells) == 3 * 3 * 3 * 4
    # the other shipped studies keep their grid: no interaction factors in their cells
    other = load_config("sample_size", check_models=False)
    assert not other.interaction
    assert "method" not in other.cells[0].factors() and "method" not in other.grid_keys


def test_fingerprint_of_earlier_studies_unchanged():
    # sample_size's fingerprint as computed on main before the interaction factors existed
    # (commit 062d53b): a study stored then must still resume.
    assert load_config("sample_size", check_models=False).fingerprint == (
        "41dd4dab4152f7435e3bc1592313f344692c80ecd315ef2fdf53dd098c98fd17")


@pytest.mark.parametrize("target", [0.2, -0.1])
def test_solved_population_has_the_target_standardized_interaction(target):
    cfg = _cfg()
    pop, coef = interaction_cell_population(cfg, target)
    (key, g), = coef.items()
    assert key == ("Y", "~", "X:Z") and np.sign(g) == np.sign(target)
    assert pop.std_interaction("Y", "X:Z") == pytest.approx(target, abs=1e-9)
    t = true_values(cfg, cfg.cells[0]).set_index(["lhs", "op", "rhs"])  # cell 0: std_interaction .2
    assert t.loc[("Y", "~", "X:Z"), "pop_std"] == pytest.approx(0.2, abs=1e-9)
    assert interaction_cell_population(cfg, 0.0)[1][key] == 0.0


def test_rows_do_not_depend_on_chunking_and_name_the_product_as_lavaan():
    cfg = _cfg()
    cell = cfg.cells[0]
    chunk = run_replications(cell, [0, 1, 2], cfg)
    one = run_replication(cell, 1, cfg)
    assert chunk[1]["estimates"] == one["estimates"]
    assert chunk[0]["estimates"] != chunk[1]["estimates"]  # distinct streams per replication
    assert all(r["status"] == "ok" for r in chunk)
    names = one["estimates"].params
    assert ("Y", "~", "X:Z") in names and ("Y", "~", "X.Z") not in names
    # std of the product row: Wen, Marsh & Hau's g sd(X) sd(Z) / sd(Y), as the population's pop_std
    from smsem import fit
    from smsem.estimate.interaction.moderation import standardized_interaction
    from smsem.montecarlo.replication import simulate_interaction_cell

    res = fit(smsem_model(cfg), simulate_interaction_cell(cfg, cell, 1), interaction_method="dmc")
    std = one["estimates"].values[names.index(("Y", "~", "X:Z")), 2]
    assert std == standardized_interaction(res, "Y", "X", "Z")
    row = res.params.query("rhs == 'X.Z'").iloc[0]
    assert std != row.std_all  # dmc's own std.all scales by sd(X.Z), not sd(X) sd(Z)


def test_study_same_rows_whatever_jobs_and_summary_rows(tmp_path):
    cfg = _cfg(replications=1)
    a = run_study(cfg, tmp_path / "a", jobs=1, progress=False)
    b = run_study(cfg, tmp_path / "b", jobs=2, progress=False)
    ea = a.estimates.sort_values(["cell", "rep", "lhs", "op", "rhs"]).reset_index(drop=True)
    eb = b.estimates.sort_values(["cell", "rep", "lhs", "op", "rhs"]).reset_index(drop=True)
    assert ea.equals(eb)
    p = a.parameters.set_index(["std_interaction", "lhs", "op", "rhs"])
    g = interaction_cell_population(cfg, 0.2)[1][("Y", "~", "X:Z")]
    assert p.loc[(0.2, "Y", "~", "X:Z"), "pop"] == pytest.approx(g)
    assert p.loc[(0.0, "Y", "~", "X:Z"), "pop"] == 0.0
    assert {"method", "std_interaction"} <= set(a.planning.columns)


@pytest.mark.parametrize("changes, key", [
    ({"inference": {"method": "bootstrap"}}, "inference.method"),
    ({"grid": {"likert": [5]}}, "grid.likert"),
    ({"grid": {"missing": [0.1]}}, "grid.missing"),
    ({"analysis": {"interaction_method": "lms"}}, "analysis.interaction_method"),
    ({"grid": {"n": [100], "method": ["dmc"]}}, "grid.std_interaction"),
    ({"grid": {"method": ["pls"]}}, "grid.method[0]"),
    ({"population": {"loadings": {"X": [0.7, 0.7, 0.7]}}}, "population.loadings"),
])
def test_refusals_name_the_key(changes, key):
    if key == "grid.std_interaction":
        d = copy.deepcopy(BASE)
        d["grid"] = changes["grid"]
        with pytest.raises(OptionError, match=f"key {key}"):
            config_from_mapping(d, source="t.yaml", base=ROOT)
        return
    with pytest.raises(OptionError, match=f"key {key.replace('[', '.').replace(']', '.')}"):
        _cfg(**changes)


def test_interaction_keys_refused_without_interactions():
    d = {"model": "integrative", "grid": {"n": [200], "method": ["lms"]}, "replications": 2}
    with pytest.raises(OptionError, match="grid.method: applies only to a model with latent interactions"):
        config_from_mapping(d, source="t.yaml")


def test_method_from_analysis_key():
    d = copy.deepcopy(BASE)
    d["grid"] = {"n": [120], "std_interaction": [0.1]}
    d["analysis"] = {"interaction_method": "rca"}
    assert config_from_mapping(d, source="t.yaml", base=ROOT).levels("method") == ("rca",)
    d.pop("analysis")
    from smsem.estimate.interaction import DEFAULT_METHOD

    assert config_from_mapping(d, source="t.yaml", base=ROOT).levels("method") == (DEFAULT_METHOD,)


def test_index_of_moderated_mediation_rows():
    d = copy.deepcopy(BASE)
    d["model"] = str(ROOT / "models" / "montecarlo" / "moderation_mediation.lav")
    d["grid"] = {"n": [120], "std_interaction": [0.2], "method": ["dmc"]}
    cfg = config_from_mapping(d, source="t.yaml", base=ROOT)
    t = true_values(cfg, cfg.cells[0]).set_index(["lhs", "op", "rhs"])["pop"]
    # the index's truth is a3 * b of the population (a3 solved, b = regression .3)
    assert t[("imm", ":=", "a3*b")] == pytest.approx(t[("M", "~", "X:W")] * t[("Y", "~", "M")], rel=1e-12)
    assert t[("Y", "~", "M")] == 0.3
    row = run_replication(cfg.cells[0], 0, cfg)
    assert row["status"] == "ok"
    names = row["estimates"].params
    assert ("imm", ":=", "a3*b") in names and ("M", "~", "X:W") in names
    est = dict(zip(names, row["estimates"].values[:, 0]))
    assert est[("imm", ":=", "a3*b")] == pytest.approx(est[("M", "~", "X:W")] * est[("Y", "~", "M")], rel=1e-9)


@pytest.mark.slow
def test_dask_local_cluster_equals_jobs_1(tmp_path):
    distributed = pytest.importorskip("distributed")
    cfg = _cfg(replications=2)
    ref = run_study(cfg, tmp_path / "local", jobs=1, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        res = run_study(cfg, tmp_path / "dask", scheduler=cluster.scheduler_address, progress=False)
    key = ["cell", "rep", "lhs", "op", "rhs"]
    assert res.complete
    assert res.estimates.sort_values(key).reset_index(drop=True).equals(
        ref.estimates.sort_values(key).reset_index(drop=True))


def test_lms_cells_report_no_chi_square(tmp_path):
    # LMS gives a likelihood but no chi-square test: the fit table says nothing (NaN), not
    # "0% rejected"; its interaction row is there with an SE
    cfg = _cfg(replications=1, grid={"n": [120], "std_interaction": [0.2], "method": ["lms"]})
    res = run_study(cfg, tmp_path / "lms", jobs=1, progress=False)
    fit = res.fit.iloc[0]
    assert fit.converged == 1 and np.isnan(fit.chi2_reject) and np.isnan(fit.cfi_ok)
    p = res.parameters.set_index(["lhs", "op", "rhs"])
    assert np.isfinite(p.loc[("Y", "~", "X:Z"), "mean_se"])


def _rel_cfg(levels=(0.7, 0.9)):
    d = copy.deepcopy(BASE)
    d["population"]["interaction"].pop("item_residual")
    d["grid"] = {"n": [120], "std_interaction": [0.2], "method": ["dmc"], "reliability": list(levels)}
    return config_from_mapping(d, source="t.yaml", base=ROOT)


def test_reliability_grid_solves_the_item_residuals_for_the_composite_reliability():
    from smsem.montecarlo.scenarios import composite_reliability

    cfg = _rel_cfg()
    assert [c.reliability for c in cfg.cells] == [0.7, 0.9] and "reliability" in cfg.grid_keys
    thetas = {}
    for cell in cfg.cells:
        pop, coef = interaction_cell_population(cfg, 0.2, cell.reliability)
        rel = composite_reliability(pop)
        assert set(rel) == {"X", "Z", "Y"}
        assert all(v == pytest.approx(cell.reliability, abs=1e-12) for v in rel.values())
        # the standardized interaction is latent: the same product coefficient at every reliability
        assert pop.std_interaction("Y", "X:Z") == pytest.approx(0.2, abs=1e-9)
        assert coef == interaction_cell_population(cfg, 0.2)[1]
        t = true_values(cfg, cell).set_index(["lhs", "op", "rhs"])["pop"]
        thetas[cell.reliability] = t[("x2", "~~", "x2")]
        assert t[("x1", "~~", "x1")] == t[("x3", "~~", "x3")] == thetas[cell.reliability]  # equal within X
    # theta = (sum lambda)^2 Var(X) (1 - rho) / (rho k): loadings 1, .8, .8, Var(X) = 1, k = 3
    assert thetas[0.7] == pytest.approx(2.6 ** 2 * 0.3 / (0.7 * 3), rel=1e-12)
    assert thetas[0.9] == pytest.approx(2.6 ** 2 * 0.1 / (0.9 * 3), rel=1e-12)
    # the data of a cell come from its reliability's population (distinct draws, same streams)
    from smsem.montecarlo.replication import simulate_interaction_cell

    a, b = (simulate_interaction_cell(cfg, c, 0) for c in cfg.cells)
    assert a.shape == b.shape and not np.allclose(a.values, b.values)


@pytest.mark.parametrize("change, key", [
    ("item_residual", "population.interaction.item_residual"),
    ("one", "grid.reliability.0."),
    ("linear", "grid.reliability: applies only to a model with latent interactions"),
])
def test_reliability_refusals_name_the_key(change, key):
    d = copy.deepcopy(BASE)
    d["grid"] = {"n": [120], "std_interaction": [0.2], "method": ["dmc"], "reliability": [0.8]}
    if change == "one":
        d["population"]["interaction"].pop("item_residual")
        d["grid"]["reliability"] = [1.0]
    elif change == "linear":
        d = {"model": "integrative", "grid": {"n": [200], "reliability": [0.8]}, "replications": 2}
    with pytest.raises(OptionError, match=key):
        config_from_mapping(d, source="t.yaml", base=ROOT)


def test_fingerprint_without_reliability_unchanged():
    # a study of latent interactions stored before grid.reliability existed must still resume:
    # its fingerprint is the hash of the mapping as it was then (no "reliability" in the grid;
    # checked by hand against commit 2a79505: 9740d70f... for this config at /work/wt paths)
    import hashlib
    import json

    cfg = _cfg()
    d = cfg.to_mapping()
    for k in ("name", "description", "target_power", "planning_test", "exclude_improper", "alpha", "level",
              "population_source", "population_values", "hypotheses", "thresholds", "proportions"):
        d.pop(k)
    del d["grid"]["reliability"]
    assert cfg.fingerprint == hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()
    assert "reliability" not in cfg.grid_keys and "reliability" not in cfg.cells[0].factors()
