"""Bootstrap confidence intervals through the public API (``smsem.bootstrap(...).conf_int``
and the CLI's ``--ci``), each recomputed in the test from the draws by its textbook
formula; BCa's acceleration from a brute-force leave-one-out refit; and the
inadmissible-draw policy on resamples with known Heywood draws.

The small model is a one-factor CFA on the first 120 rows of lavaan's
HolzingerSwineford1939 data (x4, x5, x6, x1): fast enough for 1000 draws and a full
jackknife, and skewed enough that BCa's acceleration moves the bounds (up to 0.011 from BC
here), so an interval that silently drops it fails.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import smsem
from conftest import ROOT
from smsem.estimate.batched import fit_batch

HS = ROOT / "tests" / "reference" / "lavaan" / "HolzingerSwineford1939.csv"
N_ROWS, N_BOOT, SEED = 120, 1000, 11


@pytest.fixture(scope="module")
def cfa(tmp_path_factory):
    lav = tmp_path_factory.mktemp("cfa") / "textual.lav"
    lav.write_text("textual =~ x4 + x5 + x6 + x1\n", encoding="utf-8")
    data = pd.read_csv(HS)[["x4", "x5", "x6", "x1"]].iloc[:N_ROWS].reset_index(drop=True)
    return smsem.fit(smsem.load_model(str(lav)), data)


@pytest.fixture(scope="module")
def boot(cfa):
    return smsem.bootstrap(cfa, n_boot=N_BOOT, seed=SEED, include_inadmissible=False)


def _std_loadings(pmap, theta: np.ndarray) -> dict[str, np.ndarray]:
    """std.all loadings of a one-factor model by hand: lambda sqrt(phi) / sqrt(lambda^2 phi + theta)."""
    names = ["".join(k) for k in pmap.names]
    col = {nm: theta[:, i] for i, nm in enumerate(names)}
    phi = col["textual~~textual"]
    out = {}
    for item in ("x4", "x5", "x6", "x1"):
        lam = col.get(f"textual=~{item}", np.ones_like(phi))  # x4 is the marker (loading 1)
        out[f"textual=~{item}:std"] = lam * np.sqrt(phi) / np.sqrt(lam ** 2 * phi + col[f"{item}~~{item}"])
    return {**col, **out}


@pytest.fixture(scope="module")
def brute_jackknife(cfa):
    """Leave-one-out statistics by brute force: drop row i, take the N-divided covariance
    of the other n - 1 rows (numpy), refit (the batched ML estimator, checked against
    smsem.fit below), standardize by hand."""
    pmap = cfa.param_map
    x = cfa.data[list(pmap.base.observed)].to_numpy(float)
    n = len(x)
    s = np.stack([np.cov(np.delete(x, i, axis=0), rowvar=False, bias=True) for i in range(n)])
    s_full = np.cov(x, rowvar=False, bias=True)
    bf = fit_batch(pmap, s, cfa.start, s_start=s_full)
    assert bf.ok.all()
    return _std_loadings(pmap, bf.theta)


def _expected_bca(draws: np.ndarray, est: float, jack: np.ndarray | None, level: float) -> tuple[float, float]:
    """Efron & Tibshirani (1993) eq. 14.10 and 14.15, written out for one statistic."""
    draws = draws[~np.isnan(draws)]
    z0 = stats.norm.ppf((np.sum(draws < est) + 0.5 * np.sum(draws == est)) / draws.size)
    if jack is None:
        a = 0.0
    else:
        u = jack.mean() - jack
        a = np.sum(u ** 3) / (6.0 * np.sum(u ** 2) ** 1.5)
    out = []
    for alpha in ((1 - level) / 2, (1 + level) / 2):
        z = stats.norm.ppf(alpha)
        out.append(np.percentile(draws, 100 * stats.norm.cdf(z0 + (z0 + z) / (1 - a * (z0 + z)))))
    return out[0], out[1]


STATS = ["textual=~x5", "textual=~x1", "x1~~x1", "textual~~textual", "textual=~x4:std", "textual=~x1:std"]


def test_jackknife_is_the_brute_force_leave_one_out(boot, brute_jackknife, cfa):
    jk = boot.jackknife
    assert jk.shape == (N_ROWS, len(boot.names))
    for name in STATS:
        # Both are ML optima of the same leave-one-out data (converged to 1e-9 in the
        # gradient); measured 3e-12.
        np.testing.assert_allclose(jk[:, boot.names.index(name)], brute_jackknife[name], atol=1e-8, err_msg=name)
    # The batched refit is smsem.fit's optimum: three leave-one-out samples refitted in full.
    # The batched estimator stops at a max gradient ~1e-6 (fit() at 5e-11): measured
    # differences 2.5e-7, so 1e-5.
    for i in (0, 57, N_ROWS - 1):
        res = smsem.fit(cfa.model, cfa.data.drop(index=i))
        est = {f"{r.lhs}{r.op}{r.rhs}": r.est for r in res.params.itertuples()}
        for name in ("textual=~x5", "x1~~x1"):
            assert brute_jackknife[name][i] == pytest.approx(est[name], abs=1e-5)


@pytest.mark.parametrize("level", [0.95, 0.90])
def test_bca_through_conf_int_uses_the_leave_one_out_acceleration(boot, brute_jackknife, level):
    ci = boot.conf_int(level, method="bca")
    bc = boot.conf_int(level, method="bc")
    moved = 0.0
    for name in STATS:
        j = boot.names.index(name)
        lo, hi = _expected_bca(boot.draws[:, j], boot.estimate[j], brute_jackknife[name], level)
        # Same draws, same formula: equal to rounding (measured 0).
        assert ci.loc[name, "lower"] == pytest.approx(lo, abs=1e-12), name
        assert ci.loc[name, "upper"] == pytest.approx(hi, abs=1e-12), name
        moved = max(moved, abs(ci.loc[name, "lower"] - bc.loc[name, "lower"]),
                    abs(ci.loc[name, "upper"] - bc.loc[name, "upper"]))
    # The design check: the acceleration matters here (BCa is not BC in disguise).
    assert moved > 5e-3


@pytest.mark.parametrize("level", [0.95, 0.80])
def test_bc_percentile_and_normal_through_conf_int(boot, level):
    ok = boot.draws[boot.status == 0]  # the draws conf_int uses (one Heywood draw dropped here)
    assert N_BOOT - 5 <= len(ok) < N_BOOT and not np.isnan(ok).any()
    z = stats.norm.ppf((1 + level) / 2)
    pct, bc, nrm = (boot.conf_int(level, method=m) for m in ("percentile", "bc", "normal"))
    for name in STATS:
        j = boot.names.index(name)
        d, est = ok[:, j], boot.estimate[j]
        assert pct.loc[name, "lower"] == pytest.approx(np.quantile(d, (1 - level) / 2), abs=1e-12)
        assert pct.loc[name, "upper"] == pytest.approx(np.quantile(d, (1 + level) / 2), abs=1e-12)
        lo, hi = _expected_bca(d, est, None, level)
        assert (bc.loc[name, "lower"], bc.loc[name, "upper"]) == pytest.approx((lo, hi), abs=1e-12)
        centre = est - (d.mean() - est)  # estimate minus the bootstrap bias
        assert nrm.loc[name, "lower"] == pytest.approx(centre - z * d.std(ddof=1), abs=1e-12)
        assert nrm.loc[name, "upper"] == pytest.approx(centre + z * d.std(ddof=1), abs=1e-12)


def test_bootstrap_estimate_is_the_fit(boot, cfa):
    """The full-sample statistics behind every interval are the fit's: fit() ends at the
    same optimum as the batched estimator (measured 5e-13)."""
    est = dict(zip(boot.names, boot.estimate))
    for r in cfa.params.itertuples():
        key = f"{r.lhs}{r.op}{r.rhs}"
        if key in est:
            assert est[key] == pytest.approx(r.est, abs=1e-9), key
        if r.op == "=~":
            assert est[f"{key}:std"] == pytest.approx(r.std_all, abs=1e-9), key


SURVEY = ROOT / "data" / "synthetic" / "integrative_n300_seed1.csv"


@pytest.fixture(scope="module")
def survey_boot():
    model = smsem.load_model("integrative")
    return SURVEY, smsem.bootstrap(smsem.fit(model, pd.read_csv(SURVEY)), n_boot=300, seed=5)


@pytest.mark.parametrize("method", ["percentile", "bc", "bca", "normal"])
def test_cli_ci_prints_the_api_interval(survey_boot, method, capsys):
    """``smsem fit --ci METHOD`` reports BootstrapResults.conf_int(method=METHOD) of the
    standardized paths (the JSON keeps every digit)."""
    from smsem.cli import main

    path, boot300 = survey_boot
    rc = main(["fit", str(path), "--boot", "300", "--seed", "5", "--ci", method, "--level", "0.9",
               "--format", "json", "--quiet"])
    out = capsys.readouterr()
    assert rc == 0, out.err
    doc = json.loads(out.out)
    assert doc["ci_method"] == method and doc["level"] == 0.9
    ci = boot300.conf_int(0.9, method=method)
    model = smsem.load_model("integrative")
    paths = {p.id: f"{p.target}~{p.source}:std" for p in model.propositions}
    for row in doc["paths"]:
        key = paths[row["id"]]
        assert row["ci_lower"] == pytest.approx(ci.loc[key, "lower"], abs=1e-12)
        assert row["ci_upper"] == pytest.approx(ci.loc[key, "upper"], abs=1e-12)


# ------------------------------------------------------------------ inadmissible draws

@pytest.fixture(scope="module")
def heywood_fit(tmp_path_factory):
    """A one-factor model whose third item has a residual variance near 0 (loading 0.9 of a
    unit-variance item, n = 80): admissible in the sample, but about an eighth of the
    resamples give a negative residual variance (a Heywood case)."""
    lav = tmp_path_factory.mktemp("hey") / "f.lav"
    lav.write_text("f =~ y1 + y2 + y3 + y4\n", encoding="utf-8")
    rng = np.random.default_rng(1)
    n, lam = 80, np.array([0.6, 0.7, 0.9, 0.6])
    x = rng.normal(size=n)[:, None] * lam + rng.normal(size=(n, 4)) * np.sqrt(1 - lam ** 2)
    return smsem.fit(smsem.load_model(str(lav)), pd.DataFrame(x, columns=["y1", "y2", "y3", "y4"]))


def test_include_inadmissible_keeps_exactly_the_heywood_draws(heywood_fit):
    res = heywood_fit
    assert (res.params.loc[res.params.op == "~~", "est"] > 0).all()  # the sample is admissible
    excl = smsem.bootstrap(res, n_boot=400, seed=3, include_inadmissible=False)
    incl = smsem.bootstrap(res, n_boot=400, seed=3, include_inadmissible=True)
    variances = [i for i, nm in enumerate(incl.names) if nm.endswith(("~~y1", "~~y2", "~~y3", "~~y4", "f~~f"))
                 and nm.split("~~")[0] == nm.split("~~")[1]]
    assert len(variances) == 5
    np.testing.assert_array_equal(excl.status, incl.status)  # the same draws, classified the same
    assert excl.failures == incl.failures
    heywood = np.isin(incl.status, (2, 3))
    failed = np.isin(incl.status, (1, 4))
    n_heywood = int(heywood.sum())
    assert 20 <= n_heywood <= 100  # the design: a real share of Heywood draws
    # The Heywood draws are exactly the converged draws with a negative variance (counted
    # here from the kept values, independently of the status codes).
    negative = (incl.draws[:, variances] < 0).any(axis=1)
    np.testing.assert_array_equal(negative[~failed], heywood[~failed])
    assert incl.failures["negative variance"] == int(negative[~failed].sum())
    # Excluded: NaN rows; included: finite rows; admissible draws identical in both.
    assert np.isnan(excl.draws[heywood]).all() and np.isfinite(incl.draws[heywood]).all()
    assert np.isnan(incl.draws[failed]).all() and np.isnan(excl.draws[failed]).all()
    ok = incl.status == 0
    np.testing.assert_array_equal(excl.draws[ok], incl.draws[ok])
    assert excl.successful.shape[0] == int(ok.sum())
    assert incl.successful.shape[0] == int(ok.sum()) + n_heywood
    # The intervals follow: y3's residual variance reaches below 0 only with them.
    y3 = incl.names.index("y3~~y3")
    assert excl.conf_int().iloc[y3].lower >= 0 > incl.conf_int().iloc[y3].lower
    assert incl.n_failed == excl.n_failed == int((~ok).sum())
