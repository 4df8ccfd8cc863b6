"""The batched ML estimator against semopy, finite differences and explicit formulas."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import semopy

import smsem
from conftest import ROOT
from smsem.estimate.backend import fit_semopy, semopy_syntax
from smsem.estimate.batched import (
    ModelStructure, _evaluate, fit_batch, resample_counts, start_metric, weighted_moments,
)

# Bollen's Political Democracy SEM, the same file the lavaan references were made from.
PD_MODEL = (ROOT / "tests" / "reference" / "lavaan" / "poldem.lav").read_text(encoding="utf-8")


def semopy_tight(parsed, data: pd.DataFrame) -> tuple[np.ndarray, float]:
    """semopy's ML solution with a tight SLSQP tolerance.

    semopy's default (ftol 1e-6) stops about 5e-4 short of the optimum on this model (the
    batched estimator's F is lower there); with ftol 1e-13 both reach the same point.
    """
    model = semopy.Model(semopy_syntax(parsed))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = model.fit(data, obj="MLW", solver="SLSQP", options={"ftol": 1e-13, "maxiter": 10000})
    assert r.success
    return np.asarray(r.x, dtype=float), float(r.fun)


def _setup(parsed, data: pd.DataFrame):
    sfit = fit_semopy(parsed, data)
    pmap = sfit.param_map()
    x = data[list(pmap.base.observed)].to_numpy(dtype=float)
    xc = x - x.mean(axis=0)
    s_full = xc.T @ xc / len(xc)
    return sfit, pmap, x, xc, s_full


@pytest.fixture(scope="module")
def integrative(fitted):
    return _setup(fitted.model.parsed, fitted.data)


@pytest.fixture(scope="module")
def poldem():
    from semopy.examples import political_democracy

    data = political_democracy.get_data()
    return smsem.parse_lavaan(PD_MODEL), data, _setup(smsem.parse_lavaan(PD_MODEL), data)


def _resample_check(parsed, pmap, x, xc, s_full, start, seeds):
    n = len(x)
    streams = [np.random.SeedSequence(sd) for sd in seeds]
    counts = np.stack([resample_counts(np.random.default_rng(ss), n) for ss in streams])
    s = weighted_moments(xc, counts)
    bf = fit_batch(pmap, s, start, s_start=s_full)
    assert bf.ok.all(), bf.failures()
    for b, ss in enumerate(streams):
        # Same stream -> same row indices as resample_counts used.
        idx = np.random.default_rng(ss).integers(0, n, n)
        sample = pd.DataFrame(x[idx], columns=list(pmap.base.observed))
        ref, fun = semopy_tight(parsed, sample)
        # The criterion: every free parameter within 1e-4 of semopy's ML solution.
        assert np.abs(bf.theta[b] - ref).max() <= 1e-4
        # Same objective (semopy's MLW is the same F); ours is never worse than semopy's.
        assert bf.fmin[b] <= fun + 1e-10
        assert bf.fmin[b] == pytest.approx(fun, abs=1e-9)


def test_equals_semopy_on_integrative_resamples(integrative, fitted):
    sfit, pmap, x, xc, s_full = integrative
    _resample_check(fitted.model.parsed, pmap, x, xc, s_full, sfit.start, seeds=[11, 12, 13, 14])


def test_equals_semopy_on_political_democracy(poldem):
    parsed, data, (sfit, pmap, x, xc, s_full) = poldem
    # Residual covariances: Theta is not diagonal, so the general (LU) path is used.
    assert not ModelStructure(pmap).diagonal_theta
    # Seeds whose resamples have admissible solutions: semopy bounds variances at 0, so
    # a Heywood draw would differ by construction (the bootstrap excludes those).
    _resample_check(parsed, pmap, x, xc, s_full, sfit.start, seeds=[1, 2, 5, 6])


def test_full_sample_reaches_semopy_tight(integrative, fitted):
    sfit, pmap, x, xc, s_full = integrative
    bf = fit_batch(pmap, s_full[None], sfit.start, s_start=s_full)
    ref, fun = semopy_tight(fitted.model.parsed, fitted.data[list(pmap.base.observed)])
    assert bf.ok[0]
    assert np.abs(bf.theta[0] - ref).max() <= 1e-5
    assert bf.grad_max[0] <= 1e-6


@pytest.mark.parametrize("method", ["fisher", "chord"])
def test_other_step_methods_agree(integrative, method):
    sfit, pmap, x, xc, s_full = integrative
    n = len(x)
    counts = np.stack([resample_counts(np.random.default_rng(s), n) for s in (5, 6)])
    s = weighted_moments(xc, counts)
    a = fit_batch(pmap, s, sfit.start, s_start=s_full)
    b = fit_batch(pmap, s, sfit.start, s_start=s_full, method=method, max_iter=400)
    assert b.ok.all()
    assert np.abs(a.theta - b.theta).max() <= 1e-5


def test_gradient_matches_finite_differences(poldem):
    parsed, data, (sfit, pmap, x, xc, s_full) = poldem
    st = ModelStructure(pmap)
    theta = sfit.start + 0.01  # off the optimum so the gradient is not ~0
    s = s_full[None]
    ev = _evaluate(st, theta[None], s, np.zeros(1))
    gamma = ev.sinv - ev.sinv @ s @ ev.sinv
    g = st.gradient(ev.parts, gamma)[0]
    h = 1e-6
    pts = np.concatenate([theta + h * np.eye(len(theta)), theta - h * np.eye(len(theta))])
    f = _evaluate(st, pts, np.broadcast_to(s_full, (len(pts), *s_full.shape)), np.zeros(len(pts))).f
    q = len(theta)
    fd = (f[:q] - f[q:]) / (2 * h)
    # Central differences: truncation O(h^2) and rounding ~1e-16/h ~ 1e-10.
    np.testing.assert_allclose(g, fd, atol=1e-7)


def test_information_equals_kronecker_form(integrative):
    sfit, pmap, x, xc, s_full = integrative
    st = ModelStructure(pmap)
    parts = st.implied(sfit.start[None])
    h = st.information(parts)[0]
    d = st.jacobian(parts)[0].reshape(st.n_free, -1)  # rows: vec(dSigma/dtheta_k)
    sinv = np.linalg.inv(parts["Sigma"][0])
    w = np.kron(sinv, sinv)
    np.testing.assert_allclose(h, d @ w @ d.T, rtol=1e-9, atol=1e-9)


def test_jacobian_matches_finite_differences(integrative):
    sfit, pmap, x, xc, s_full = integrative
    st = ModelStructure(pmap)
    d = st.jacobian(st.implied(sfit.start[None]))[0]
    hstep = 1e-6
    q = st.n_free
    pts = np.concatenate([sfit.start + hstep * np.eye(q), sfit.start - hstep * np.eye(q)])
    sig = st.implied(pts)["Sigma"]
    fd = (sig[:q] - sig[q:]) / (2 * hstep)
    np.testing.assert_allclose(d, fd, atol=1e-8)


def test_weighted_moments_equal_resampled_covariance(integrative):
    sfit, pmap, x, xc, s_full = integrative
    n = len(x)
    rng = np.random.default_rng(3)
    idx = rng.integers(0, n, n)
    counts = np.bincount(idx, minlength=n)
    # Several row blocks, to exercise the blocking.
    s = weighted_moments(xc, counts[None], block_rows=64)[0]
    ref = np.cov(x[idx], rowvar=False, bias=True)
    np.testing.assert_allclose(s, ref, atol=1e-12)


def test_start_metric_is_the_hessian(poldem):
    parsed, data, (sfit, pmap, x, xc, s_full) = poldem
    st = ModelStructure(pmap)
    h = start_metric(st, sfit.start, s_full)
    exp = start_metric(st, sfit.start, None)
    assert np.allclose(h, h.T)
    # At a perfect fit (S = Sigma(theta)) the Hessian equals the expected information.
    sig = st.implied(sfit.start[None])["Sigma"][0]
    np.testing.assert_allclose(start_metric(st, sfit.start, sig), exp, rtol=1e-5, atol=1e-6)


def test_failures_are_classified(poldem):
    parsed, data, (sfit, pmap, x, xc, s_full) = poldem
    st = ModelStructure(pmap)
    # A population whose exact solution has a negative unique variance (Heywood case):
    # Sigma stays positive definite, so the fit converges to it and flags it.
    theta = sfit.start.copy()
    k = pmap.index("x1", "~~", "x1")
    theta[k] = -0.02
    sig = st.implied(theta[None])["Sigma"][0]
    assert np.all(np.linalg.eigvalsh(sig) > 0)
    # A singular "resample" (fewer distinct rows than items).
    sing = np.cov(x[:5], rowvar=False, bias=True)
    bf = fit_batch(pmap, np.stack([sig, sing, s_full]), sfit.start, s_start=s_full)
    assert bf.status.tolist() == [2, 4, 0]
    assert bf.failures() == {"negative variance": 1, "singular resample": 1}
    assert abs(bf.theta[0, k] + 0.02) < 1e-6


def test_equals_lavaan_on_political_democracy_resamples():
    """lavaan's sem() estimates on the full sample and six resamples (reference files made
    by scripts/make_poldem_resamples.py and scripts/lavaan_poldem_resamples.R).

    lavaan does not bound variances, so the resamples with a negative latent variance are
    compared too (smsem flags them as inadmissible but finds the same optimum).
    """
    from conftest import ROOT

    ref_dir = ROOT / "tests" / "reference"
    data = pd.read_csv(ref_dir / "poldem_data.csv")
    idx = pd.read_csv(ref_dir / "poldem_resamples.csv")
    ref = pd.read_csv(ref_dir / "lavaan_poldem_resamples.csv")
    parsed = smsem.parse_lavaan(PD_MODEL)
    sfit, pmap, x, xc, s_full = _setup(parsed, data)
    resamples = sorted(ref["resample"].unique())
    assert len(resamples) == 7
    counts = np.stack([np.bincount(idx["row"][idx["resample"] == r].to_numpy() - 1, minlength=len(x))
                       for r in resamples])
    bf = fit_batch(pmap, weighted_moments(xc, counts), sfit.start, s_start=s_full)
    assert bf.converged.all()
    for b, r in enumerate(resamples):
        tab = ref[ref["resample"] == r]
        assert len(tab) == pmap.n_free
        ours = np.array([bf.theta[b, pmap.index(t.lhs, t.op, t.rhs)] for t in tab.itertuples()])
        # lavaan's nlminb stops at rel.tol 1e-10 on F: parameters within ~1e-5 of the optimum;
        # 1e-4 is the criterion.
        assert np.abs(ours - tab.est.to_numpy()).max() <= 1e-4
        assert bf.fmin[b] == pytest.approx(tab.fmin.iloc[0], abs=1e-8)
    # Some of these resamples are Heywood cases: flagged, not hidden.
    assert set(bf.status.tolist()) <= {0, 2}
