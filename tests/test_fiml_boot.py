"""The bootstrap of a FIML fit (missing = "fiml"): batched refits over resamples.

Each draw must be the ordinary FIML fit of the resampled data set (the rows drawn, with
their missing cells), whatever the batch it is refitted in.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

import smsem
import importlib

sb = importlib.import_module("smsem.bootstrap")
from smsem.estimate.batched import ModelStructure, resample_counts

MODEL = """
X =~ X1 + X2 + X3
M =~ M1 + M2 + M3
Y =~ Y1 + Y2 + Y3
M ~ X        # P1
Y ~ M + X    # P2, P3
"""
# Population (unstandardized; marker loadings 1): the truths of the coverage study.
A, B, C = 0.5, 0.4, 0.2      # M ~ X, Y ~ M, Y ~ X
LOADINGS = (1.0, 0.8, 0.9)
RESIDUAL = 0.5


def _mar_sample(n: int, seed: int, high: float = 0.36) -> pd.DataFrame:
    """Continuous responses; the M and Y items are missing with probability ``high`` when
    X1 is above its median (MAR: X1 is always observed), about 12% of all cells."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n)
    m = A * x + rng.standard_normal(n) * math.sqrt(1 - A ** 2)
    y = B * m + C * x + rng.standard_normal(n) * math.sqrt(0.7)
    cols = {}
    for name, lat in (("X", x), ("M", m), ("Y", y)):
        for k, lam in enumerate(LOADINGS, start=1):
            cols[f"{name}{k}"] = lam * lat + rng.standard_normal(n) * math.sqrt(RESIDUAL)
    df = pd.DataFrame(cols)
    above = df["X1"].to_numpy() > np.median(df["X1"])
    for col in [c for c in df.columns if c[0] in "MY"]:
        drop = above & (rng.random(n) < high)
        df.loc[drop, col] = np.nan
    return df


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("fimlboot") / "chain.lav"
    path.write_text(MODEL)
    return smsem.load_model(str(path))


@pytest.fixture(scope="module")
def fiml_fit(small_model):
    return smsem.fit(small_model, _mar_sample(100, seed=7), missing="fiml")


def _single_fit(model, data: pd.DataFrame, counts: np.ndarray) -> smsem.FitResults:
    rows = np.repeat(np.arange(len(data)), counts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return smsem.fit(model, data.iloc[rows].reset_index(drop=True), missing="fiml")


def test_draws_equal_one_at_a_time_fiml_fits(small_model, fiml_fit):
    boot = smsem.bootstrap(fiml_fit, n_boot=4, seed=11, progress=False)
    assert boot.accounting() == "4 bootstrap draws, 4 used"
    targets = sb._Targets.build(fiml_fit)
    st = ModelStructure(fiml_fit.param_map)
    n = fiml_fit.n
    for b in range(4):
        counts = resample_counts(np.random.default_rng(np.random.SeedSequence(11, spawn_key=(b,))), n)
        one = _single_fit(small_model, fiml_fit.data, counts)
        assert one.converged
        expect = targets.compute(st, one.start[None, :], None, None, n)[0]
        # Both fits stop on a step below 1e-9 (fit_fiml: Newton; the batch: quasi-Newton
        # with a gradient below 1e-10), so 1e-6 leaves three orders of magnitude for the
        # conditioning of the statistics (std values, products of paths).
        np.testing.assert_allclose(boot.draws[b], expect, rtol=0, atol=1e-6)
        # Every free parameter, intercepts included, is in the draws.
        assert np.abs(boot.draws[b][:len(expect)] - expect).max() < 1e-6


def test_statistics_and_no_moment_statistics(fiml_fit):
    boot = smsem.bootstrap(fiml_fit, n_boot=3, seed=1, progress=False)
    names = set(boot.names)
    # Intercepts are drawn; fit indices and HTMT (functions of a complete-data S) are not.
    assert {"X1~1", "M~X", "M~X:std", "R2:Y", "indirect:X->M->Y"} <= names
    assert not any(n.startswith(("fit:", "htmt")) for n in names)
    assert np.isfinite(boot.estimate).all()
    assert np.isnan(boot.chi2).all() and math.isnan(boot.chi2_observed)


def test_draws_do_not_depend_on_the_chunking(fiml_fit, monkeypatch):
    one = smsem.bootstrap(fiml_fit, n_boot=6, seed=5, progress=False)
    # Chunks of 4 draws instead of one chunk of 6: each draw is iterated to its own
    # convergence and frozen, so its bits must not change.
    pat_size = sb._fiml_chunks(sb._FimlJob(fiml_fit.param_map, None, None,
                                           sb._fiml_setup(fiml_fit)[0], fiml_fit.n, 5, 6, None, True))
    assert pat_size == [(0, 6)]
    monkeypatch.setattr(sb, "_FIML_CHUNK_ELEMENTS", 1)
    other = smsem.bootstrap(fiml_fit, n_boot=6, seed=5, progress=False)
    np.testing.assert_array_equal(one.draws, other.draws)


def test_jackknife_rows_equal_leave_one_out_fits(small_model, fiml_fit):
    jack = sb._jackknife_fiml(fiml_fit)
    assert jack.shape == (fiml_fit.n, len(sb._Targets.build(fiml_fit).names))
    targets = sb._Targets.build(fiml_fit)
    st = ModelStructure(fiml_fit.param_map)
    for i in (0, 77):  # rows with and without missing cells
        counts = np.ones(fiml_fit.n, dtype=int)
        counts[i] = 0
        one = _single_fit(small_model, fiml_fit.data, counts)
        expect = targets.compute(st, one.start[None, :], None, None, fiml_fit.n)[0]
        np.testing.assert_allclose(jack[i], expect, rtol=0, atol=1e-6)  # as the draws above


def test_other_kinds_refused(fiml_fit):
    with pytest.raises(smsem.exceptions.OptionError, match="missing='fiml'"):
        smsem.bootstrap(fiml_fit, n_boot=2, kind="bollen-stine")


def test_cli_fiml_boot_gives_verdicts_with_bootstrap_cis(small_model, tmp_path, capsys):
    from smsem.cli import main

    data = tmp_path / "survey.csv"
    _mar_sample(100, seed=7).to_csv(data, index=False)
    model = tmp_path / "chain.lav"
    model.write_text(MODEL)
    rc = main(["fit", str(data), "--model", str(model), "--missing", "fiml", "--boot", "200",
               "--quiet", "--format", "csv"])
    out = capsys.readouterr().out
    assert rc == 0
    table = pd.read_csv(__import__("io").StringIO(out.split("\n\n")[0]))
    assert len(table) == 3
    assert table["verdict"].notna().all() and not (table["verdict"] == "no bootstrap").any()
    # The CIs are the bootstrap percentiles of the std paths (the point estimate inside).
    assert table[["ci_lower", "ci_upper"]].notna().all().all()
    assert ((table["ci_lower"] < table["std_est"]) & (table["std_est"] < table["ci_upper"])).all()
    assert set(table["verdict"]) <= {"CI excludes 0", "CI includes 0"}


@pytest.mark.slow  # ~14 min of CPU (0.84 s per replication): a coverage study; can be split with scripts/fiml_boot_coverage.py
def test_coverage_on_a_mar_population(small_model):
    reps, n, n_boot = 1000, 300, 400
    keys = {"M~X": A, "indirect:X->M->Y": A * B}
    hits = {k: 0 for k in keys}
    for r in range(reps):
        res = smsem.fit(small_model, _mar_sample(n, seed=10_000 + r), missing="fiml")
        ci = smsem.bootstrap(res, n_boot=n_boot, seed=r, progress=False).conf_int(0.95)
        for k, truth in keys.items():
            hits[k] += bool(ci.loc[k, "lower"] <= truth <= ci.loc[k, "upper"])
    cov = {k: v / reps for k, v in hits.items()}
    print("coverage of the 95% percentile CIs under 12% MAR (FIML bootstrap):", cov)
    # The band .93-.97: the binomial SD at 0.95 with 1000 replications is 0.0069,
    # so the band is about +-2.9 SD around nominal.
    for k, v in cov.items():
        assert 0.93 <= v <= 0.97, (k, v)


def test_a_resample_without_an_item_is_a_singular_draw(fiml_fit):
    from smsem.estimate.batched import FAIL_REASONS, FimlStructure, fiml_moments, fit_batch_fiml

    job_pat, fs, _, hess0 = sb._fiml_setup(fiml_fit)
    x = fiml_fit.data[list(fiml_fit.param_map.base.observed)].to_numpy(float)
    w = np.ones((2, len(x)))
    w[1, ~np.isnan(x[:, 3])] = 0.0   # draw 1: nobody who answered M1
    bf = fit_batch_fiml(fs, fiml_moments(job_pat, w), fiml_fit.start, hess0)
    assert bf.status[0] == 0
    assert FAIL_REASONS[int(bf.status[1])] == "singular resample"
    # The full-sample draw is the full-sample fit.
    np.testing.assert_allclose(bf.theta[0], fiml_fit.start, rtol=0, atol=1e-8)


def test_complete_data_mean_structure_draws_equal_single_fits():
    # Complete data with a mean structure: one pattern, FIML is ML with means.
    from conftest import ROOT

    model = smsem.load_model(str(ROOT / "tests" / "reference" / "lavaan" / "poldem.lav"))
    data = pd.read_csv(ROOT / "tests" / "reference" / "lavaan" / "PoliticalDemocracy.csv")
    res = smsem.fit(model, data, meanstructure=True)
    boot = smsem.bootstrap(res, n_boot=2, seed=4, progress=False)
    targets = sb._Targets.build(res)
    st = ModelStructure(res.param_map)
    for b in range(2):
        counts = resample_counts(np.random.default_rng(np.random.SeedSequence(4, spawn_key=(b,))), res.n)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            one = smsem.fit(model, res.data.iloc[np.repeat(np.arange(res.n), counts)].reset_index(drop=True),
                            meanstructure=True)
        expect = targets.compute(st, one.start[None, :], None, None, res.n)[0]
        np.testing.assert_allclose(boot.draws[b], expect, rtol=0, atol=1e-6)  # as above
