"""The fast Monte Carlo path (batched ML per chunk) against the reference path (smsem.fit)."""

from __future__ import annotations

import contextlib
import dataclasses
import json

import numpy as np
import pytest

import smsem.montecarlo.replication as replication
from montecarlo_helpers import config
from smsem.exceptions import OptionError
from smsem.montecarlo import (config_from_mapping, reference_replication, run_replication, run_replications,
                              true_values)
from smsem.estimate import ml
from smsem.montecarlo.fast import _information, cell_plan, fast_applicable
from smsem.montecarlo.runner import MAX_CHUNK, chunk_tasks


def _text(obj):
    """Exact text of a row (floats by repr; NaN != NaN, so rows are compared as text)."""
    return json.dumps(obj, default=lambda o: o.to_list())


REPS = 20


@pytest.fixture(scope="module")
def integrative():
    """The issue's benchmark cell: integrative model, n = 300, 5-point Likert, ML + Wald."""
    cfg = config_from_mapping({"population": {"model": "integrative"}, "grid": {"n": [300], "likert": [5]},
                               "replications": REPS, "seed": 11}, source="fast.yaml")
    cell = cfg.cells[0]
    with _spy() as settled:
        fast = run_replications(cell, range(REPS), cfg)
    assert settled == [REPS]  # one chunk, every replication settled by the fast path itself
    ref = [reference_replication(cell, r, cfg) for r in range(REPS)]
    return cfg, cell, fast, ref


@contextlib.contextmanager
def _spy():
    """Record how many replications of each chunk the fast path settles (no fallback)."""
    orig, settled = replication.fit_chunk, []

    def spy(plan, s, n):
        out = orig(plan, s, n)
        settled.append(sum(r is not None for r in out))
        return out

    replication.fit_chunk = spy
    try:
        yield settled
    finally:
        replication.fit_chunk = orig


def _arrays(row):
    return np.array([e[3:6] for e in row["estimates"]], dtype=float)


def test_fast_path_applies_to_the_benchmark_cell(integrative):
    cfg, cell, _, _ = integrative
    assert cfg.engine == "fast" and fast_applicable(cfg, cell)
    assert not fast_applicable(dataclasses.replace(cfg, engine="reference"), cell)
    assert not fast_applicable(dataclasses.replace(cfg, inference="bootstrap", n_boot=20), cell)


def test_fast_rows_equal_reference_rows(integrative):
    _, _, fast, ref = integrative
    for f, r in zip(fast, ref):
        assert r["status"] == "ok" and f["status"] == "ok"
        for k in ("cell", "rep", "status", "reason", "improper", "improper_reason", "n_used", "df"):
            assert f[k] == r[k], k
        # Same parameters in the same order, then the numbers. The reference polishes
        # semopy's solution by Fisher scoring to ~1e-10; the fast path stops at a relative
        # F decrease of 1e-12, i.e. parameters to ~1e-6: 1e-5 abs leaves a margin of 10.
        assert [e[:3] for e in f["estimates"]] == [e[:3] for e in r["estimates"]]
        fa, ra = _arrays(f), _arrays(r)
        np.testing.assert_allclose(fa[:, 0], ra[:, 0], rtol=0, atol=1e-5)  # est
        np.testing.assert_allclose(fa[:, 1], ra[:, 1], rtol=1e-4, atol=0)  # SE (expected information / N)
        np.testing.assert_allclose(fa[:, 2], ra[:, 2], rtol=0, atol=1e-5)  # std.all (paths: structural std)
        # chi2 = N F_ML is flat at the optimum (error quadratic in the parameters' ~1e-6).
        for k in ("chi2", "pvalue", "cfi", "tli", "rmsea"):
            assert f[k] == pytest.approx(r[k], rel=0, abs=1e-6), k
        assert np.isnan([e[6:] for e in f["estimates"]]).all()  # no bootstrap bounds under Wald


def test_rows_do_not_depend_on_the_chunk(integrative):
    cfg, cell, fast, _ = integrative
    text = [_text(r) for r in fast]  # (NaN != NaN, so compare the stored text)
    assert [_text(run_replication(cell, r, cfg)) for r in range(4)] == text[:4]
    odd = run_replications(cell, [7, 3, 12, 0, 19], cfg)
    assert [_text(r) for r in odd] == [text[i] for i in (7, 3, 12, 0, 19)]


def test_start_is_the_population_solution(integrative):
    cfg, cell, _, _ = integrative
    plan = cell_plan(cfg, cell.effect_multiplier)
    truth = true_values(cfg, cell)
    assert len(truth) == plan.pmap.n_free
    for t in truth.itertuples(index=False):
        # The analysis model is the population model: its ML solution for the population
        # covariance is the truth (Fisher scoring to 1e-10).
        assert plan.start[plan.pmap.index(t.lhs, t.op, t.rhs)] == pytest.approx(t.pop, abs=1e-7)


def test_engine_reference_and_fallback_give_reference_rows(tmp_path, monkeypatch):
    cfg = config(tmp_path, grid={"n": [80]})
    cell = cfg.cells[0]
    ref = [_text(reference_replication(cell, r, cfg)) for r in range(3)]
    slow = dataclasses.replace(cfg, engine="reference")
    assert [_text(run_replication(cell, r, slow)) for r in range(3)] == ref
    # A replication the fast path cannot settle (non-converged or inadmissible) is rerun
    # by the reference path, status, reason and improper flag included.
    monkeypatch.setattr(replication, "fit_chunk", lambda plan, s, n: [None] * len(s))
    assert [_text(r) for r in run_replications(cell, range(3), cfg)] == ref


def test_fast_path_with_listwise_deletion(tmp_path):
    cfg = config(tmp_path, grid={"n": [150], "missing": [0.1], "likert": [5]})  # nullable Int8 items with NA
    cell = cfg.cells[0]
    for r in range(3):
        with _spy() as settled:
            f = run_replication(cell, r, cfg)
        assert settled == [1]
        ref = reference_replication(cell, r, cfg)
        assert f["n_used"] == ref["n_used"] < cell.n
        np.testing.assert_allclose(_arrays(f)[:, 0], _arrays(ref)[:, 0], rtol=0, atol=1e-5)
        np.testing.assert_allclose(_arrays(f)[:, 1], _arrays(ref)[:, 1], rtol=1e-4)
        assert f["chi2"] == pytest.approx(ref["chi2"], abs=1e-6)


def test_engine_key_is_checked(tmp_path):
    with pytest.raises(OptionError, match=r"key engine: must be one of fast, reference; got 'turbo'"):
        config(tmp_path, engine="turbo")
    assert config(tmp_path, engine="reference").engine == "reference"
    assert config(tmp_path).fingerprint != config(tmp_path, engine="reference").fingerprint


def test_chunks_group_one_cell_at_a_time(tmp_path):
    cfg = config(tmp_path, replications=50)
    tasks = [(c, r) for c in cfg.cells for r in range(cfg.replications)]
    chunks = chunk_tasks(tasks, workers=1)
    assert [(c, r) for c, reps in chunks for r in reps] == tasks
    assert all(len(reps) <= MAX_CHUNK for _, reps in chunks)
    assert max(len(reps) for _, reps in chunks) == -(-len(tasks) // 4)  # 25: four chunks per worker
    assert len(chunk_tasks(tasks, workers=2)) >= 8


def test_information_equals_the_reference_formula(integrative):
    cfg, cell, _, _ = integrative
    plan = cell_plan(cfg, cell.effect_multiplier)
    rng = np.random.default_rng(3)
    theta = plan.start + 0.05 * rng.standard_normal((4, plan.pmap.n_free))
    info = _information(plan.structure, plan.structure.implied(theta), plan.pairs)
    for b in range(4):
        ref = ml.expected_information(ml.sigma_jacobian(plan.pmap, theta[b]), plan.pmap.matrices_at(theta[b]).implied_cov)
        # Same quantity by another factorization: agreement to rounding (~1e-15 relative).
        np.testing.assert_allclose(info[b], ref, rtol=0, atol=1e-12 * np.abs(ref).max())


@pytest.mark.parametrize("equal_loadings", [False, True])
def test_information_with_residual_covariances_and_shared_labels(equal_loadings):
    """Political Democracy: psi and theta covariances (a pair of cells per parameter) and,
    with lavaan's equality labels, parameters spread over two loadings (two pairs each)."""
    from semopy.examples import political_democracy

    from conftest import ROOT
    from smsem import parse_lavaan
    from smsem.estimate.backend import fit_semopy
    from smsem.estimate.batched import ModelStructure
    from smsem.montecarlo.fast import _pairs

    text = (ROOT / "tests" / "reference" / "lavaan" / "poldem.lav").read_text(encoding="utf-8")
    if equal_loadings:
        text = (text.replace("dem60 =~ y1 + y2 + y3 + y4", "dem60 =~ y1 + a*y2 + b*y3 + c*y4")
                .replace("dem65 =~ y5 + y6 + y7 + y8", "dem65 =~ y5 + a*y6 + b*y7 + c*y8"))
    sfit = fit_semopy(parse_lavaan(text), political_democracy.get_data())
    pmap = sfit.param_map()
    st = ModelStructure(pmap)
    pairs = _pairs(st)
    assert pairs[0].shape[1] == (2 if equal_loadings else 1)
    theta = sfit.start + 0.02 * np.random.default_rng(5).standard_normal((3, pmap.n_free))
    info = _information(st, st.implied(theta), pairs)
    for b in range(3):
        ref = ml.expected_information(ml.sigma_jacobian(pmap, theta[b]), pmap.matrices_at(theta[b]).implied_cov)
        # Same quantity by another factorization: agreement to rounding.
        np.testing.assert_allclose(info[b], ref, rtol=0, atol=1e-12 * np.abs(ref).max())


def test_inverse_diagonal_by_cholesky():
    from smsem.montecarlo.fast import _inverse_diagonal

    rng = np.random.default_rng(8)
    a = rng.standard_normal((5, 30, 30))
    info = a @ np.swapaxes(a, 1, 2) + 0.1 * np.eye(30)
    info[2] = -info[2]  # not positive definite: NaN, and the others are unaffected
    got = _inverse_diagonal(info)
    assert np.isnan(got[2]).all()
    keep = [0, 1, 3, 4]
    np.testing.assert_allclose(got[keep], np.diagonal(np.linalg.inv(info[keep]), axis1=1, axis2=2), rtol=1e-10)
    np.testing.assert_array_equal(_inverse_diagonal(info[3:4]), got[3:4])  # per matrix, whatever the stack
