"""Readers of the lavaan reference files in tests/reference/lavaan/ (made by
scripts/lavaan_reference.R) and the matching smsem fits, shared by tests/test_lavaan_*.py."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

import smsem

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "tests" / "reference" / "lavaan"


def meta(case: str) -> dict:
    return json.loads((REF / f"{case}.meta.json").read_text(encoding="utf-8"))


def params(case: str) -> pd.DataFrame:
    df = pd.read_csv(REF / f"{case}.params.csv", keep_default_na=False, na_values=[""])
    df["rhs"] = df["rhs"].fillna("")
    return df


def std(case: str) -> pd.DataFrame:
    df = pd.read_csv(REF / f"{case}.std.csv", keep_default_na=False, na_values=[""])
    df["rhs"] = df["rhs"].fillna("")
    return df


def fit_measures(case: str) -> pd.Series:
    return pd.read_csv(REF / f"{case}.fit.csv").set_index("name")["value"]


@lru_cache(maxsize=None)
def smsem_fit(case: str) -> smsem.FitResults:
    """smsem's fit of a reference case, with the data and model the R script used."""
    m = meta(case)
    model = smsem.load_model(str(ROOT / m["model"]))
    data = pd.read_csv(ROOT / m["data"])
    estimator = m["estimator"]
    missing = "fiml" if m["missing"] == "ml" else "listwise"
    return smsem.fit(model, data, estimator=estimator, missing=missing, fixed_x=m.get("fixed_x", True))


def match(ours: pd.DataFrame, ref: pd.DataFrame) -> pd.DataFrame:
    """Join our rows to lavaan's by ``lhs op rhs`` (covariances in either order).

    Every lavaan row must be found: a missing or extra parameter is a failure.
    """
    def key(l, o, r):
        return (min(l, r), o, max(l, r)) if o == "~~" else (l, o, r)

    ours = ours.assign(_key=[key(*t) for t in zip(ours.lhs, ours.op, ours.rhs)])
    ref = ref.assign(_key=[key(*t) for t in zip(ref.lhs, ref.op, ref.rhs)])
    j = ref.merge(ours.drop(columns=["lhs", "op", "rhs"]), on="_key", how="left", suffixes=("_lav", ""),
                  indicator=True)
    missing = j[j["_merge"] != "both"]
    assert missing.empty, f"parameters not in smsem's table: {missing._key.tolist()}"
    assert len(ours) == len(ref), f"smsem has {len(ours)} rows, lavaan {len(ref)}"
    return j


# Tolerances of every comparison with lavaan: about 100x the largest difference measured over
# the 15 reference cases (``PYTHONPATH=.:tests python scripts/lavaan_compare.py --margins``;
# lavaan 0.6.14, smsem at this commit). Absolute unless the name says rel. The estimates agree
# to ~1e-5 only because lavaan stops its optimizer there (the chi2 agrees to 1e-11); the indices
# are flat at the optimum and agree far closer. A convention error moves a quantity by more:
# N - 1 in the ML SEs 0.17-0.67%, N - 1 in the RMSEA CI up to 6e-4, implied instead of sample SDs
# in SRMR ~4e-5 — each beyond its tolerance below.
TOL = {
    "est": 7e-4,             # measured 6.8e-6 (poldem_ml)
    "se_rel": 1.2e-3,        # measured 1.2e-5 (integrative_fiml_mlr); 9.3e-6 over ML/MLM
    "ci": 9e-4,              # Wald bounds; measured 8.6e-6 (covariates_mlm)
    "param_pvalue": 3e-3,    # measured 3.1e-5 (covariates_mlm; p moves with z = est/se)
    "std_est": 7e-4,         # std.all and std.lv; measured 6.8e-6 (poldem_ml)
    "std_se_rel": 1e-3,      # measured 9.2e-6 (integrative_fiml_mlr)
    "std_ci": 9e-4,          # measured 8.8e-6 (poldem_ml)
    "chi2_rel": 1e-6,        # measured 9.7e-9 (integrative_fiml; 5.5e-11 on complete data)
    "baseline_chi2_rel": 1e-7,  # measured 1.1e-9 (integrative_fiml)
    "pvalue": 3e-6,          # measured 3.0e-8 (integrative_fiml)
    "cfi": 1.5e-7,           # measured 1.3e-9 (integrative_fiml)
    "tli": 1.5e-7,           # measured 1.5e-9 (integrative_fiml)
    "rmsea": 1.1e-7,         # measured 1.1e-9 (integrative_fiml)
    "rmsea_ci": 7e-7,        # bounds; measured 6.5e-9 (integrative_fiml upper)
    "rmsea_pvalue": 6e-10,   # measured 6.0e-12 (poldem_ml)
    "srmr": 2.6e-5,          # measured 2.6e-7 (integrative_fiml)
    "srmr_complete": 5e-6,   # complete data: measured 4.7e-8 (integrative_ml)
    "logl": 2e-6,            # logl, AIC, BIC, BIC2; measured 1.5e-8 (covariates_fiml)
    "unrestricted_logl": 1e-4,  # measured 1.0e-6 (integrative_fiml: lavaan's EM stops at ~1e-6)
    "scaled_rel": 3e-5,      # chi2_scaled, scaling factors (model, baseline); measured 2.4e-7 (hs_mlm)
    "pvalue_scaled": 4e-5,   # measured 3.6e-7 (integrative_fiml_mlr)
    "cfi_tli_scaled": 4e-6,  # measured 3.8e-8 (hs_mlm tli_scaled)
    "rmsea_scaled": 6e-6,    # rmsea_scaled and its CI; measured 6.0e-8 (poldem_mlm upper)
    "rmsea_pvalue_scaled": 4e-5,  # measured 3.3e-7 (poldem_mlm)
    "rmsea_robust": 3e-6,    # rmsea.robust and its CI; measured 3.0e-8 (poldem_mlm)
}


def rel_err(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(np.asarray(a, float) / np.asarray(b, float) - 1.0)


# Every quantity the tests in tests/test_lavaan_*.py compare with lavaan, as (smsem name, lavaan
# name): fit indices by absolute difference, chi2-like statistics by relative difference.
ABS_INDICES = [("cfi", "cfi"), ("tli", "tli"), ("rmsea", "rmsea"), ("rmsea_ci_lower", "rmsea.ci.lower"),
               ("rmsea_ci_upper", "rmsea.ci.upper"), ("srmr", "srmr"), ("rmsea_pvalue", "rmsea.pvalue"),
               ("pvalue", "pvalue")]
SCALED_INDICES = [("pvalue_scaled", "pvalue.scaled"), ("cfi_scaled", "cfi.scaled"), ("tli_scaled", "tli.scaled"),
                  ("rmsea_scaled", "rmsea.scaled"), ("rmsea_ci_lower_scaled", "rmsea.ci.lower.scaled"),
                  ("rmsea_ci_upper_scaled", "rmsea.ci.upper.scaled"), ("rmsea_pvalue_scaled", "rmsea.pvalue.scaled")]
ROBUST_INDICES = [("rmsea_robust", "rmsea.robust"), ("rmsea_ci_lower_robust", "rmsea.ci.lower.robust"),
                  ("rmsea_ci_upper_robust", "rmsea.ci.upper.robust")]
REL_STATS = [("chi2", "chisq"), ("baseline_chi2", "baseline.chisq"), ("chi2_scaled", "chisq.scaled"),
             ("scaling_factor", "chisq.scaling.factor"), ("baseline_chi2_scaled", "baseline.chisq.scaled"),
             ("baseline_scaling_factor", "baseline.chisq.scaling.factor")]
LOGL = [("logl", "logl"), ("unrestricted_logl", "unrestricted.logl"), ("aic", "aic"), ("bic", "bic"),
        ("bic2", "bic2")]


def margins(case: str) -> dict[str, float]:
    """The largest difference from lavaan of every compared quantity of one case (what the
    tolerances in the tests are set from; ``scripts/lavaan_compare.py --margins`` prints them).

    Keys: ``est``, ``ci`` (Wald bounds) and ``pvalue`` (absolute), ``se`` (relative, free
    parameters); ``std_est``, ``std_ci`` (absolute) and ``std_se`` (relative, SE > 1e-6) over
    std.all and std.lv; one key per fit index (absolute) or chi2-like statistic (relative).
    """
    res = smsem_fit(case)
    out: dict[str, float] = {}
    j = match(res.params, params(case))
    free = j.se_lav > 0
    out["est"] = float(np.abs(j.est - j.est_lav).max())
    out["se"] = float(rel_err(j.se[free], j.se_lav[free]).max())
    out["ci"] = float(np.abs(j.ci_lower[free] - j["ci.lower"][free]).max())
    out["param_pvalue"] = float(np.abs(j.pvalue[free] - j.pvalue_lav[free]).max())
    ref = std(case)
    for kind in ("std.all", "std.lv"):
        r = ref[ref.type == kind].drop(columns="type")
        col = kind.replace(".", "_")
        ours = res.standardized.rename(columns={col: "est.std", f"{col}_se": "se_std",
                                                f"{col}_ci_lower": "lo_std", f"{col}_ci_upper": "hi_std"})
        s = match(ours[["lhs", "op", "rhs", "est.std", "se_std", "lo_std", "hi_std"]], r)
        pos = s.se > 1e-6
        for key, val in (("std_est", np.abs(s["est.std"] - s["est.std_lav"]).max()),
                         ("std_se", rel_err(s.se_std[pos], s.se[pos]).max()),
                         ("std_ci", max(np.abs(s.lo_std - s["ci.lower"]).max(),
                                        np.abs(s.hi_std - s["ci.upper"]).max()))):
            out[key] = max(out.get(key, 0.0), float(val))
    fi, fm = res.fit_indices, fit_measures(case)
    for ours, lav in ABS_INDICES + SCALED_INDICES + ROBUST_INDICES + LOGL:
        if ours in fi and lav in fm:
            out[ours] = float(abs(fi[ours] - fm[lav]))
    for ours, lav in REL_STATS:
        if ours in fi and lav in fm:
            out[ours] = float(rel_err(fi[ours], fm[lav]))
    return out
