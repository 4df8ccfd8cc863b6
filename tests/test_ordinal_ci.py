"""Every bootstrap CI type for ordinal fits: percentile, bc, normal and bca (the acceleration from
the batched jackknife). A jackknife row equals the fit of the data without that case (1e-6, as a
bootstrap draw equals its refit); the intervals are smsem.bootstrap's functions of those draws.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import smsem
from smsem.bootstrap import bc_ci, bca_ci, normal_ci
from smsem.estimate.categorical.bootstrap import bootstrap_ordinal, jackknife_ordinal, ordinal_conf_int
from smsem.estimate.categorical.fit import fit_ordinal
from smsem.exceptions import HeywoodWarning, OptionError

ROOT = Path(__file__).resolve().parents[1]
ORD = ROOT / "tests" / "reference" / "lavaan_ordinal"
HS = "visual =~ x1 + x2 + x3\ntextual =~ x4 + x5 + x6\nspeed =~ x7 + x8 + x9\n"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    p = tmp_path_factory.mktemp("m") / "hs.lav"
    p.write_text(HS)
    model = smsem.load_model(str(p))
    data = pd.read_csv(ORD / "hs_cut4.csv")[[f"x{i}" for i in range(1, 10)]].iloc[:90].reset_index(drop=True)
    return model, data, fit_ordinal(model, data, ordered=True)


def test_jackknife_rows_equal_refits(small):
    model, data, res = small
    jk = jackknife_ordinal(res, chunk=40)  # several chunks
    assert jk.shape == (len(data), res.vcov.shape[0])
    for i in (0, 57):
        if not np.all(np.isfinite(jk[i])):
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", HeywoodWarning)
            one = fit_ordinal(model, data.drop(index=i).reset_index(drop=True), ordered=True)
        np.testing.assert_allclose(jk[i], one.start, atol=1e-6)


def test_normal_and_bc(small):
    _, data, res = small
    bs = bootstrap_ordinal(res, 40, seed=4)
    e, est = bs.estimates[bs.ok], res.start
    for method, ref in (("normal", normal_ci(e, est, 0.9)), ("bc", bc_ci(e, est, 0.9))):
        ci = ordinal_conf_int(res, bs, 0.9, method)
        np.testing.assert_allclose(ci.ci_lower, ref[0])
        np.testing.assert_allclose(ci.ci_upper, ref[1])
    with pytest.raises(OptionError, match="BCa intervals need"):  # fewer usable draws than respondents
        ordinal_conf_int(res, bs, 0.9, "bca")


@pytest.mark.slow
def test_bca(small):
    _, data, res = small
    bs = bootstrap_ordinal(res, 150, seed=4)
    e, est = bs.estimates[bs.ok], res.start
    assert bs.n_ok >= len(data)  # BCa needs B >= n usable draws
    ci = ordinal_conf_int(res, bs, 0.9, "bca")
    lo, hi = bca_ci(e, est, jackknife_ordinal(res), 0.9)
    np.testing.assert_allclose(ci.ci_lower, lo)
    np.testing.assert_allclose(ci.ci_upper, hi)
    assert np.all(ci.ci_lower <= ci.ci_upper)


@pytest.mark.slow
def test_bca_acceleration_from_leave_one_out_fits(small):
    """BCa of a std.all value (as the proposition verdicts use it): the acceleration from the
    batched jackknife equals the one from n leave-one-out refits."""
    from smsem.estimate.categorical.propositions import _std_values

    model, data, res = small
    key = list(zip(res.params.lhs, res.params.op, res.params.rhs)).index(("visual", "=~", "x2"))

    def std_of(r):
        return r.params.set_index(["lhs", "op", "rhs"])["std_all"][("visual", "=~", "x2")]

    bs = bootstrap_ordinal(res, 150, seed=4)
    draws = np.array([_std_values(res, bs.estimates[b])[key] for b in np.flatnonzero(bs.ok)])[:, None]
    jack = []
    for i in range(len(data)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                jack.append(std_of(fit_ordinal(model, data.drop(index=i).reset_index(drop=True), ordered=True)))
            except smsem.SmsemError:  # an emptied category: the batched jackknife row is NaN too
                jack.append(np.nan)
    lo, hi = bca_ci(draws, np.array([std_of(res)]), np.array(jack)[:, None], 0.95)
    jk = jackknife_ordinal(res)
    mj = np.array([_std_values(res, t)[key] if np.all(np.isfinite(t)) else np.nan for t in jk])[:, None]
    lo2, hi2 = bca_ci(draws, np.array([std_of(res)]), mj, 0.95)
    np.testing.assert_allclose([lo2[0], hi2[0]], [lo[0], hi[0]], atol=1e-6)
