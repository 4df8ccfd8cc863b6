"""smsem._dist (scipy.special) equals scipy.stats on the fit path's distributions.

The tolerance 1e-12 is far below every lavaan comparison (p-values and RMSEA interval
bounds are compared at >= 1e-7); both use cdflib's algorithms."""

import numpy as np
from scipy import stats

from smsem import _dist


def test_every_function_equals_scipy_stats():
    x = np.linspace(0.0, 400.0, 301)
    z = np.linspace(-8, 8, 161)
    q = np.linspace(1e-6, 1 - 1e-6, 101)
    np.testing.assert_allclose(_dist.norm.cdf(z), stats.norm.cdf(z), rtol=0, atol=1e-14)
    np.testing.assert_allclose(_dist.norm.sf(z), stats.norm.sf(z), rtol=1e-12, atol=1e-300)
    np.testing.assert_allclose(_dist.norm.ppf(q), stats.norm.ppf(q), rtol=1e-12)
    np.testing.assert_allclose(_dist.norm.isf(q), stats.norm.isf(q), rtol=1e-12)
    np.testing.assert_allclose(_dist.t.ppf(q, 7), stats.t.ppf(q, 7), rtol=1e-10)
    for df in (1, 3, 24, 196, 300):
        np.testing.assert_allclose(_dist.chi2.cdf(x, df), stats.chi2.cdf(x, df), rtol=0, atol=1e-13)
        np.testing.assert_allclose(_dist.chi2.sf(x, df), stats.chi2.sf(x, df), rtol=1e-10, atol=1e-300)
        for nc in (0.5, 10.0, 80.0, 200.0):
            np.testing.assert_allclose(_dist.ncx2.cdf(x, df, nc), stats.ncx2.cdf(x, df, nc), rtol=0, atol=1e-12)
            np.testing.assert_allclose(_dist.ncx2.sf(x, df, nc), stats.ncx2.sf(x, df, nc), rtol=0, atol=1e-12)
