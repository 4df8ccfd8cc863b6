"""Bootstrap engine: reproducibility, CI methods, kinds, failures, large n."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy import stats

import smsem
from smsem.bootstrap import (
    _bollen_stine, _centered, _covariances, _Job, _Targets, bc_ci, bca_ci, normal_ci, percentile_ci,
)
from smsem.exceptions import OptionError


@pytest.fixture(scope="module")
def boot(fitted):
    return smsem.bootstrap(fitted, n_boot=300, seed=7)


def test_names_and_legacy_api(boot, fitted):
    regs = [f"{r.lhs}~{r.rhs}" for r in fitted.model.parsed.regressions]
    assert boot.names[:len(regs)] == regs
    assert boot.names[len(regs):2 * len(regs)] == [f"{r}:std" for r in regs]
    assert "R2:OP" in boot.names and "indirect:COM->OP:std" in boot.names
    assert "COM=~COM2" in boot.names
    assert boot.draws.shape == (300, len(boot.names))
    ci = boot.conf_int()
    assert list(ci.columns) == ["lower", "upper"] and list(ci.index) == boot.names
    assert (ci.lower < ci.upper).all()
    assert boot.std_errors.index.tolist() == boot.names
    assert boot.n_boot == 300 and boot.n_failed == sum(boot.failures.values())


def test_estimate_matches_fit(boot, fitted):
    est = dict(zip(boot.names, boot.estimate))
    # fit() ends with Fisher scoring at the optimum the batched refit reaches: measured
    # differences 0 (<= 1e-14), so 1e-10.
    for key, value in fitted.standardized_paths.items():
        assert est[f"{key}:std"] == pytest.approx(value, abs=1e-10)
    # Indirect effect of COM on OP from the std paths of its chains, by hand.
    p = {k: est[f"{k}:std"] for k in fitted.standardized_paths.index}
    via_ic = p["IC~COM"] + p["IS~COM"] * p["IC~IS"] + p["SL~COM"] * p["IC~SL"]
    total_ea = p["EA~COM"] + via_ic * p["EA~IC"]
    assert est["total:COM->OP:std"] == pytest.approx(total_ea * p["OP~EA"], abs=1e-10)
    # R2 of OP: only EA predicts it.
    assert est["R2:OP"] == pytest.approx(p["OP~EA"] ** 2, abs=1e-10)


def test_same_seed_same_draws_and_seed_matters(boot, fitted):
    again = smsem.bootstrap(fitted, n_boot=300, seed=7)
    np.testing.assert_array_equal(again.draws, boot.draws)
    other = smsem.bootstrap(fitted, n_boot=20, seed=8)
    assert not np.allclose(other.draws, boot.draws[:20])
    # Draw b does not depend on how many draws are made, nor on the other draws of its
    # chunk: bit-identical.
    np.testing.assert_array_equal(smsem.bootstrap(fitted, n_boot=20, seed=7).draws, boot.draws[:20])


def test_jobs_give_identical_arrays(fitted):
    # 600 draws make 5 chunks of 128 at n = 300, so two processes really share them.
    one = smsem.bootstrap(fitted, n_boot=600, seed=3, jobs=1)
    two = smsem.bootstrap(fitted, n_boot=600, seed=3, jobs=2)
    np.testing.assert_array_equal(one.draws, two.draws)
    np.testing.assert_array_equal(one.chi2, two.chi2)
    assert one.failures == two.failures


def test_ci_methods_and_levels(boot):
    for method in ("percentile", "bc", "normal", "bca"):
        ci95 = boot.conf_int(0.95, method)
        ci80 = boot.conf_int(0.80, method)
        params = [nm for nm in boot.names if not nm.startswith("fit:")]
        ci95, ci80 = ci95.loc[params], ci80.loc[params]
        assert ci95.notna().all().all()
        # A lower level gives a nested, shorter interval.
        assert (ci95.lower <= ci80.lower + 1e-12).all() and (ci80.upper <= ci95.upper + 1e-12).all()
    with pytest.raises(OptionError, match="method must be one of"):
        boot.conf_int(0.95, "studentized")
    with pytest.raises(OptionError, match="level"):
        boot.conf_int(1.5)


def test_bca_refuses_fewer_draws_than_n(fitted):
    small = smsem.bootstrap(fitted, n_boot=50, seed=1)
    with pytest.raises(OptionError, match=r"50 < n = 300"):
        small.conf_int(method="bca")


def test_ci_formulas_on_known_draws():
    rng = np.random.default_rng(0)
    draws = rng.normal(1.0, 2.0, size=(4000, 1))
    est = np.array([1.0])
    lo, hi = normal_ci(draws, est, 0.9)
    center = 2 * 1.0 - draws.mean()
    z = stats.norm.ppf(0.95)
    assert lo[0] == pytest.approx(center - z * draws.std(ddof=1))
    assert hi[0] == pytest.approx(center + z * draws.std(ddof=1))
    # BC with the estimate at the median of the draws is the percentile interval.
    med = np.median(draws, axis=0)
    np.testing.assert_allclose(bc_ci(draws, med, 0.9), percentile_ci(draws, 0.9), atol=1e-3)
    # An estimate above most draws shifts the BC interval up.
    assert bc_ci(draws, est + 1.0, 0.9)[0][0] > percentile_ci(draws, 0.9)[0][0]


def _corr_draws(x, y, idx):
    xs, ys = x[idx], y[idx]
    xs = xs - xs.mean(axis=1, keepdims=True)
    ys = ys - ys.mean(axis=1, keepdims=True)
    return (xs * ys).sum(axis=1) / np.sqrt((xs ** 2).sum(axis=1) * (ys ** 2).sum(axis=1))


def test_bca_agrees_with_scipy(survey):
    x = survey["IS1"].to_numpy(float)
    y = survey["IC1"].to_numpy(float)
    n = len(x)
    nb = 10_000
    level = 0.95

    def corr(a, b, axis=-1):
        a = a - a.mean(axis=axis, keepdims=True)
        b = b - b.mean(axis=axis, keepdims=True)
        return (a * b).sum(axis=axis) / np.sqrt((a ** 2).sum(axis=axis) * (b ** 2).sum(axis=axis))

    ref = stats.bootstrap((x, y), corr, paired=True, vectorized=True, n_resamples=nb,
                          confidence_level=level, method="BCa", random_state=np.random.default_rng(1))
    est = np.array([corr(x, y)])
    keep = ~np.eye(n, dtype=bool)
    jack = np.array([corr(x[keep[i]], y[keep[i]]) for i in range(n)])[:, None]
    # 1) Same draws as scipy: the formulas must agree to rounding.
    same = bca_ci(ref.bootstrap_distribution[:, None], est, jack, level)
    assert same[0][0] == pytest.approx(ref.confidence_interval.low, abs=1e-12)
    assert same[1][0] == pytest.approx(ref.confidence_interval.high, abs=1e-12)
    # 2) Our own independent draws: agreement within Monte Carlo error. The SE of a
    # bootstrap quantile at tail probability a is sd * sqrt(a (1 - a) / B) / phi(z_a)
    # (~0.027 sd at a = 0.025, B = 10000); two independent estimates differ by
    # sqrt(2) of that; we allow 4 such SEs.
    idx = np.random.default_rng(2).integers(0, n, size=(nb, n))
    own = _corr_draws(x, y, idx)[:, None]
    lo, hi = bca_ci(own, est, jack, level)
    sd = own.std(ddof=1)
    a = (1 - level) / 2
    se_q = sd * np.sqrt(a * (1 - a) / nb) / stats.norm.pdf(stats.norm.ppf(a))
    tol = 4 * np.sqrt(2) * se_q
    assert abs(lo[0] - ref.confidence_interval.low) <= tol
    assert abs(hi[0] - ref.confidence_interval.high) <= tol


def test_bollen_stine_transform_and_pvalue(fitted):
    x = _centered(fitted)
    s = x.T @ x / len(x)
    pm = fitted.param_map
    from smsem.estimate.batched import ModelStructure

    sigma = ModelStructure(pm).implied(fitted.start[None])["Sigma"][0]
    z = _bollen_stine(x, s, sigma)
    np.testing.assert_allclose(z.T @ z / len(z), sigma, atol=1e-10)
    bs = smsem.bootstrap(fitted, n_boot=200, seed=5, kind="bollen-stine")
    # chi2 = n F at the optimum fit() also reaches: measured 1e-14 relative, so 1e-10.
    assert bs.chi2_observed == pytest.approx(fitted.fit_indices["chi2"], rel=1e-10)
    ok = bs.chi2[np.isfinite(bs.chi2)]
    assert bs.pvalue == pytest.approx(np.mean(ok >= bs.chi2_observed))
    # Under a true model chi2 has mean ~ df: the bootstrap chi2 draws centre near df = 196
    # (n = 300 is large relative to p = 22; allow 10%).
    assert np.mean(ok) == pytest.approx(fitted.fit_indices["df"], rel=0.10)
    with pytest.raises(OptionError, match="bollen-stine"):
        smsem.bootstrap(fitted, n_boot=5, seed=5).pvalue


def test_parametric_draws_have_wishart_mean(fitted):
    targets = _Targets.build(fitted)
    from smsem.estimate.batched import ModelStructure

    sigma = ModelStructure(fitted.param_map).implied(fitted.start[None])["Sigma"][0]
    n = fitted.n
    job = _Job("parametric", fitted.param_map, fitted.start, sigma, None, sigma, n, 4, 2000, targets, False)
    s = _covariances(job, 0, 2000)
    # E[S] = (n - 1)/n Sigma; each element's SD is about sqrt((s_ij^2 + s_ii s_jj)/n)/sqrt(B).
    se = np.sqrt((sigma ** 2 + np.outer(np.diag(sigma), np.diag(sigma))) / n / 2000)
    assert np.all(np.abs(s.mean(axis=0) - (n - 1) / n * sigma) <= 5 * se)
    # Jointly and exactly: n tr(Sigma^-1 S) ~ chi2 with p (n - 1) df, so the mean over B draws
    # of tr(Sigma^-1 S) is p (n - 1)/n with SD sqrt(2 p (n - 1) / B) / n (0.0085 here); the
    # divisor n - 1 instead of n would move it by p/n = 0.073, 8.6 SD.
    p = sigma.shape[0]
    tr = np.einsum("ij,bji->b", np.linalg.inv(sigma), s)
    assert abs(tr.mean() - p * (n - 1) / n) < 4 * np.sqrt(2 * p * (n - 1) / 2000) / n
    pb = smsem.bootstrap(fitted, n_boot=50, seed=4, kind="parametric")
    assert pb.n_failed < 50 and pb.kind == "parametric"


def test_large_n_without_copies(model):
    n, nb = 100_000, 16
    data = smsem.simulate(model, n=n, seed=9)
    res = smsem.fit(model, data)
    p = len(model.items)
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        b = smsem.bootstrap(res, n_boot=nb, seed=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert b.n_failed == 0
    # Resampled data sets would take nb * n * p * 8 bytes (282 MB here); the engine keeps
    # one centered copy of the data, count weights and row blocks.
    assert peak < 0.4 * nb * n * p * 8
    # At this n the draws hardly move: every std path has a tiny bootstrap SE.
    se = b.std_errors[[nm for nm in b.names if nm.endswith(":std") and "~" in nm]]
    assert (se < 0.02).all()


def test_bad_bootstrap_options_are_refused(fitted):
    # include_inadmissible on known Heywood draws: tests/test_bootstrap_ci.py.
    with pytest.raises(OptionError):
        smsem.bootstrap(fitted, n_boot=0)
    with pytest.raises(OptionError, match="kind"):
        smsem.bootstrap(fitted, n_boot=5, kind="wild")


def test_fit_indices_match_the_fit(boot, fitted):
    est = dict(zip(boot.names, boot.estimate))
    fi = fitted.fit_indices
    n, df = fitted.n, fi["df"]
    # chi2 = n F at the optimum fit() also reaches (measured 1e-14 relative), and the same
    # baseline model (closed form) -> CFI and TLI too (measured 1.3e-15): 1e-10.
    assert est["fit:chi2"] == pytest.approx(fi["chi2"], rel=1e-10)
    assert est["fit:cfi"] == pytest.approx(fi["cfi"], abs=1e-10)
    assert est["fit:tli"] == pytest.approx(fi["tli"], abs=1e-10)
    # RMSEA: lavaan's N (semopy uses N - 1).
    assert est["fit:rmsea"] == pytest.approx(np.sqrt(max(est["fit:chi2"] - df, 0) / (df * n)), abs=1e-12)
    assert est["fit:rmsea"] == pytest.approx(fi["rmsea"], abs=1e-10)  # measured 8.6e-16
    col = boot.draws[:, boot.names.index("fit:cfi")]
    assert np.all((col >= 0) & (col <= 1))
    # Resampling respondents adds misfit: every draw's chi2 exceeds the sample's, so the
    # BC interval (z0 = -inf) is undefined, NaN rather than a made-up number.
    assert np.all(boot.draws[:, boot.names.index("fit:chi2")] > est["fit:chi2"])
    assert boot.conf_int(method="bc").loc["fit:chi2"].isna().all()


def test_draw_streams_are_the_spawned_children(fitted):
    """Draw b resamples with child b of SeedSequence(seed).spawn(n_boot)."""
    targets = _Targets.build(fitted)
    x = _centered(fitted)
    job = _Job("nonparametric", fitted.param_map, fitted.start, None, x, None, len(x), 11, 40, targets, False)
    from smsem.estimate.batched import resample_counts, weighted_moments

    children = np.random.SeedSequence(11).spawn(40)
    counts = np.stack([resample_counts(np.random.default_rng(children[b]), len(x)) for b in range(30, 40)])
    np.testing.assert_array_equal(_covariances(job, 30, 40), weighted_moments(x, counts))


def test_std_loadings_equal_the_fits(boot, fitted):
    """The bootstrap's full-sample std loadings are the fit's std_all column (that column is
    checked against lavaan's std files in test_lavaan_ml.py and against semopy's std_est
    in test_simulate.py)."""
    est = dict(zip(boot.names, boot.estimate))
    loads = fitted.params[fitted.params.op == "=~"]
    assert len(loads) == 22  # markers included
    for r in loads.itertuples():
        # Same optimum (fit() ends with Fisher scoring): measured 0, so 1e-10.
        assert est[f"{r.lhs}=~{r.rhs}:std"] == pytest.approx(r.std_all, abs=1e-10)


def test_htmt_targets_equal_reliability_and_resample(fitted):
    """Bootstrapped HTMT/HTMT2: the full-sample value equals smsem.reliability's (semTools-checked)
    values, and the draws vary around it."""
    import smsem

    res = fitted
    q = smsem.reliability(res)
    boot = smsem.bootstrap(res, n_boot=50, seed=3)
    names = [n for n in boot.names if n.startswith("htmt")]
    cons = list(q.htmt.columns)
    assert len(names) == 2 * len(cons) * (len(cons) - 1) // 2
    est = dict(zip(boot.names, boot.estimate))
    for nm in names:
        kind, pair = nm.split(":")
        a, b = pair.split("~")
        ref = (q.htmt if kind == "htmt" else q.htmt2).loc[a, b]
        assert est[nm] == pytest.approx(ref, abs=1e-12)
    ci = boot.conf_int(0.95).loc[names]
    assert (ci.lower < ci.upper).all()
