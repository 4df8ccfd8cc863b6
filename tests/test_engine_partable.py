"""The table-driven ML engine (smsem.estimate.matrices + results.fit_table) against lavaan.

Each case is fitted from lavaan's own ``parTable()`` (tests/partable_stub.py), so these
tests check the engine independently of smsem's ``lavaanify``: same rows in the same
order, estimates, SEs, std.all / std.lv, chi2, df, npar and the fit indices of
``Rscript scripts/lavaan_engine_reference.R`` (lavaan 0.6.14; normal likelihood, sample
covariance divided by N, expected information for ML, observed for FIML and MLR).

Tolerances: smsem's estimates agree with lavaan's to ~1e-6 (Fisher scoring to a step
below 1e-10; lavaan's nlminb stops a little earlier). ``poldem_labels`` is the exception:
lavaan stops 4e-8 above smsem's minimum of chi2 (it reports no convergence with
``rel.tol = 1e-14``), which moves its estimates by ~1e-4; with constraints
(``hs_constraints``) lavaan's ``nlminb.constr`` stops ~2e-5 short as well.
"""

from __future__ import annotations

import subprocess
import sys
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from partable_stub import data, load_table, reference_fit, reference_params
from smsem.estimate.matrices import param_map_from_table
from smsem.estimate.results import fit_table

CASES = [
    "hs3", "hs3_means", "hs_stdlv_na", "hs_second_order", "hs_labels", "hs_covariates",
    "poldem", "poldem_means", "poldem_labels", "path", "path_means", "growth", "growth_cov",
    "hs3_mlm", "hs3_means_mlm", "hs3_mlr", "hs3_means_mlr", "hs_covariates_mlm", "hs_covariates_mlr",
    "path_mlr", "hs3_fiml", "hs_covariates_fiml", "hs_covariates_fiml_mlr", "path_fiml", "growth_fiml",
    "hs_constraints", "path_defined",
]
EST_TOL = {"poldem_labels": 5e-4, "hs_constraints": 1e-4}
SE_RTOL = {"poldem_labels": 1e-3, "hs_constraints": 1e-3}


def _options(case: str) -> dict:
    est = "MLM" if "mlm" in case else ("MLR" if "mlr" in case else "ML")
    return {"estimator": est, "missing": "fiml" if "fiml" in case else "listwise"}


@lru_cache(maxsize=None)
def _fit(case: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hs_covariates_fiml: lavaan's deletion of missing covariates
        return fit_table(None, load_table(case), data(case), **_options(case))


def _ref(case: str) -> pd.DataFrame:
    ref = reference_params(case)
    return ref[ref.op.isin(["=~", "~", "~~", "~1", ":="])].reset_index(drop=True)


@pytest.mark.parametrize("case", CASES)
def test_rows_are_lavaans_in_its_order(case):
    ours, ref = _fit(case).params, _ref(case)
    assert list(zip(ours.lhs, ours.op, ours.rhs)) == list(zip(ref.lhs, ref.op, ref.rhs))


@pytest.mark.parametrize("case", CASES)
def test_estimates_and_ses(case):
    ours, ref = _fit(case).params, _ref(case)
    assert np.abs(ours.est.to_numpy() - ref.est.to_numpy()).max() < EST_TOL.get(case, 2e-5)
    free = ref.se.to_numpy() > 1e-6
    # fixed rows (fixed.x too) have SE NaN (lavaan 0); so does an inequality at its bound
    assert (ours.se.fillna(0).to_numpy() > 1e-6).tolist() == free.tolist()
    rel = np.abs(ours.se.to_numpy()[free] / ref.se.to_numpy()[free] - 1)
    assert rel.max() < SE_RTOL.get(case, 1e-4)
    # no z where lavaan prints none: fixed rows and a free row at an active inequality bound
    # (hs_ineq_gt: its SE is 0 up to rounding, 2e-9, and z was 3.5e8 before the cut-off)
    assert ours.z.isna().tolist() == ref.z.isna().tolist()


@pytest.mark.parametrize("case", CASES)
def test_standardized(case):
    res = _fit(case)
    ref = _ref(case)
    std = res.standardized
    tol = EST_TOL.get(case, 1e-5)
    assert np.abs(res.params.std_all.to_numpy() - ref["std.all"].to_numpy()).max() < tol
    assert np.abs(res.params.std_lv.to_numpy() - ref["std.lv"].to_numpy()).max() < tol
    assert res.params.label.tolist() == ref.label.tolist()
    assert np.abs(std.std_all.to_numpy() - ref["std.all"].to_numpy()).max() < tol
    assert np.abs(std.std_lv.to_numpy() - ref["std.lv"].to_numpy()).max() < tol


@pytest.mark.parametrize("case", CASES)
def test_fit_measures(case):
    fi, fm = _fit(case).fit_indices, reference_fit(case)
    assert fi["df"] == fm["df"] and fi["npar"] == fm["npar"]
    assert abs(fi["chi2"] / fm["chisq"] - 1) < 1e-6
    pairs = [("baseline_chi2", "baseline.chisq"), ("cfi", "cfi"), ("tli", "tli"), ("rmsea", "rmsea"),
             ("srmr", "srmr"), ("logl", "logl"), ("unrestricted_logl", "unrestricted.logl"), ("aic", "aic"),
             ("bic", "bic")]
    if "chisq.scaled" in fm and "chi2_scaled" in fi:
        pairs += [("chi2_scaled", "chisq.scaled"), ("cfi_scaled", "cfi.scaled"), ("tli_scaled", "tli.scaled"),
                  ("rmsea_scaled", "rmsea.scaled")]
    for ours, lav in pairs:
        assert abs(fi[ours] - fm[lav]) < 1e-5 * max(1.0, abs(fm[lav])), ours


def test_shared_label_rows_carry_one_estimate_and_se():
    p = _fit("hs_labels").params
    for lab_rows in (p.rhs.isin(["x2", "x3"]) & (p.op == "=~"), p.rhs.isin(["x5", "x6"]) & (p.op == "=~")):
        sel = p[lab_rows]
        assert sel.est.nunique() == 1 and sel.se.nunique() == 1 and sel.se.notna().all()


def test_shared_labels_are_one_parameter():
    pm = param_map_from_table(load_table("hs_labels"))
    assert pm.n_free == 19 == pm.npar  # lavaan: 21 free rows, 2 equality rows
    k = pm.index("visual", "=~", "x3")
    assert k == pm.index("visual", "=~", "x2") and len(pm.locations[k]) == 2


def test_phantom_layout_of_a_path_model():
    pm = param_map_from_table(load_table("path"))
    assert pm.base.inner == ("y1", "y5", "y2", "x1", "x2") and pm.base.latent_names == ()
    assert len(pm.exo) == 3 and pm.npar == 9  # x1 ~~ x1, x1 ~~ x2, x2 ~~ x2 at their sample values
    assert (np.diag(pm.base.lambda_) == 1).all()


def test_growth_means():
    res = _fit("growth")
    mx = res.matrices
    assert res.param_map.meanstructure and mx.implied_mean is not None
    # intercepts fixed at 0: the implied means are Lambda alpha
    assert np.allclose(mx.implied_mean, mx.lambda_ @ mx.alpha)


def test_unsupported_constraint_names_its_line(monkeypatch):
    from smsem.exceptions import SpecError
    import smsem.estimate.results as results

    pt = load_table("hs_labels")
    extra = pd.DataFrame([{"id": len(pt.df) + 1, "lhs": "a", "op": "<", "rhs": "0.6", "user": 1, "block": 0,
                           "group": 0, "free": 0, "ustart": np.nan, "exo": 0, "label": "", "plabel": "",
                           "start": np.nan, "line": 7}])
    pt.df = pd.concat([pt.df, extra], ignore_index=True)
    import smsem.estimate

    # as if smsem.estimate.constraints were not there
    monkeypatch.setitem(sys.modules, "smsem.estimate.constraints", None)
    monkeypatch.delattr(smsem.estimate, "constraints", raising=False)
    with pytest.raises(SpecError, match="line 7: constraint a < 0.6 is not supported yet"):
        results.fit_table(None, pt, data("hs_labels"))


@pytest.mark.slow  # ~4 s: three processes; test_partable.py checks the same order across hash seeds
def test_row_order_is_the_same_in_separate_processes():
    code = ("import sys; sys.path.insert(0, 'tests'); from partable_stub import *; "
            "from smsem.estimate.results import fit_table; "
            "r = fit_table(None, load_table('hs_covariates'), data('hs_covariates')); "
            "print('|'.join(r.params.lhs + r.params.op + r.params.rhs))")
    outs = set()
    for seed in ("0", "1"):
        env = {**__import__("os").environ, "PYTHONHASHSEED": seed}
        outs.add(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                check=True).stdout)
    assert len(outs) == 1


# The same cases through the public path: smsem.load_model -> SEMModel.table (smsem's own
# lavaanify) -> smsem.fit.
PUBLIC = {"hs3": {}, "hs_second_order": {}, "hs_labels": {}, "hs_covariates": {}, "poldem_means": {"meanstructure": True},
          "path": {}, "path_defined": {}, "growth_cov": {"model_type": "growth"}, "hs_constraints": {},
          "hs_stdlv_na": {}, "hs3_fiml": {}, "hs_covariates_mlm": {}}


@pytest.mark.parametrize("case", sorted(PUBLIC))
def test_public_fit_of_the_model_file(case):
    import smsem
    from partable_stub import REF

    model = smsem.load_model(str(REF / f"{case}.lav"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smsem.fit(model, data(case), **_options(case), **PUBLIC[case])
    ours, ref = res.params, _ref(case)
    assert list(zip(ours.lhs, ours.op, ours.rhs)) == list(zip(ref.lhs, ref.op, ref.rhs))
    assert np.abs(ours.est.to_numpy() - ref.est.to_numpy()).max() < EST_TOL.get(case, 2e-5)
    free = ref.se.to_numpy() > 1e-6
    assert np.abs(ours.se.to_numpy()[free] / ref.se.to_numpy()[free] - 1).max() < SE_RTOL.get(case, 1e-4)
    fi, fm = res.fit_indices, reference_fit(case)
    assert fi["df"] == fm["df"] and fi["npar"] == fm["npar"] and abs(fi["chi2"] / fm["chisq"] - 1) < 1e-6


# Every model of tests/reference/lavaan_models (the parameter-table references, 48 lavaan
# 0.6.14 fits: path models, growth, covariates, std.lv, second order, shared labels, ==, <,
# >, :=, FIML, MLM, MLR) through smsem.fit. lavaan's optimizer stops up to ~1e-4 short on
# a few (its chi2 is then above smsem's), hence 2e-4 on the estimates.
MODELS = Path(__file__).resolve().parent / "reference" / "lavaan_models"
_OPTION_KEYS = ("std_lv", "meanstructure", "fixed_x", "orthogonal", "int_ov_free", "int_lv_free", "auto_fix_first",
                "auto_fix_single", "auto_var", "auto_cov_lv_x", "auto_cov_y", "model_type")


@pytest.mark.parametrize("case", sorted(p.name[:-len(".meta.json")] for p in MODELS.glob("*.meta.json")))
def test_lavaan_models(case):
    import json

    import smsem

    root = MODELS.parents[2]
    m = json.loads((MODELS / f"{case}.meta.json").read_text(encoding="utf-8"))
    model = smsem.load_model(str(root / m["model"]))
    options = {k: m[k] for k in _OPTION_KEYS if k in m}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = smsem.fit(model, pd.read_csv(root / m["data"]), estimator=m["estimator_requested"],
                        missing="fiml" if m["missing"] in ("ml", "fiml") else "listwise", **options)
    ref = pd.read_csv(MODELS / f"{case}.params.csv", keep_default_na=False, na_values=[""])
    ref["rhs"] = ref["rhs"].fillna("").astype(str)
    ref = ref[ref.op.isin(["=~", "~", "~~", "~1", ":="])].reset_index(drop=True)
    ours = res.params
    assert list(zip(ours.lhs, ours.op, ours.rhs)) == list(zip(ref.lhs, ref.op, ref.rhs))
    assert np.abs(ours.est.to_numpy() - ref.est.to_numpy()).max() < 2e-4
    free = ref.se.to_numpy() > 1e-6
    assert (ours.se.fillna(0).to_numpy() > 1e-6).tolist() == free.tolist()
    assert np.abs(ours.se.to_numpy()[free] / ref.se.to_numpy()[free] - 1).max(initial=0) < 1e-4
    assert np.nanmax(np.abs(ours.std_all.to_numpy() - ref["std.all"].to_numpy())) < 1e-4
    assert np.nanmax(np.abs(ours.std_lv.to_numpy() - ref["std.lv"].to_numpy())) < 2e-4  # in raw units
    assert ours.label.tolist() == ref.label.astype(object).fillna("").astype(str).tolist()
    fi, fm = res.fit_indices, pd.read_csv(MODELS / f"{case}.fit.csv").set_index("name")["value"]
    assert fi["df"] == fm["df"] and fi["npar"] == fm["npar"]
    assert abs(fi["chi2"] - fm["chisq"]) < 1e-6 * max(1.0, fm["chisq"])


@pytest.mark.parametrize("case", sorted(p.name[:-len(".meta.json")] for p in MODELS.glob("*.meta.json")))
def test_loading_start_values_are_lavaans(case):
    """The start values of the free loadings equal lavaan's (parTable()'s ``start``
    column: FABIN 3 per factor, lavaan's bounds, std.lv scaling). Not on FIML cases
    (lavaan starts from the EM covariance matrix) nor where ``==`` rows tie loadings
    (lavaan then copies the start of one tied row to another; smsem's tied rows are one
    parameter)."""
    import json

    import smsem
    from smsem.estimate.matrices import param_map_from_table, start_values
    from smsem.estimate.results import with_interaction_products

    root = MODELS.parents[2]
    m = json.loads((MODELS / f"{case}.meta.json").read_text(encoding="utf-8"))
    ref = pd.read_csv(MODELS / f"{case}.partable.csv", keep_default_na=False, na_values=[""])
    if m["missing"] in ("ml", "fiml") or (ref["op"] == "==").any():
        pytest.skip("FIML or tied loadings")
    model = smsem.load_model(str(root / m["model"]))
    pt = model.table(**{k: m[k] for k in _OPTION_KEYS if k in m})
    pm = param_map_from_table(pt)
    x = with_interaction_products(model, pd.read_csv(root / m["data"]))[list(pm.base.observed)].dropna()
    x = x.to_numpy(float)
    start = start_values(pt, pm, x.mean(axis=0), np.cov(x.T, bias=True))
    rows = ref[(ref["op"] == "=~") & (ref["free"] > 0)]
    ours = [start[pm.aliases[(r.lhs, r.op, r.rhs)]] for r in rows.itertuples()]
    # lavaan's start column is written with 15 significant digits
    np.testing.assert_allclose(ours, rows["start"].to_numpy(float), rtol=1e-9, atol=1e-12)
