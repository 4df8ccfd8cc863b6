"""The few distribution functions the fit path needs, from ``scipy.special``.

``scipy.stats`` takes about 0.45 s to import, more than the whole ML fit of the essay's
model; the fit, its standard errors and fit indices only need the normal, chi-square and
noncentral chi-square distributions, which ``scipy.special`` computes with the same
algorithms (cdflib; ``tests/test_dist.py`` checks every function against ``scipy.stats``
to 1e-12). Modules on the fit path import this as ``stats``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = ["norm", "chi2", "ncx2", "t"]


class _Norm:
    @staticmethod
    def cdf(x):
        return special.ndtr(x)

    @staticmethod
    def sf(x):
        return special.ndtr(-np.asarray(x, dtype=float))

    @staticmethod
    def ppf(q):
        return special.ndtri(q)

    @staticmethod
    def isf(q):
        return -special.ndtri(q)


class _Chi2:
    @staticmethod
    def cdf(x, df):
        return special.chdtr(df, np.maximum(x, 0.0))

    @staticmethod
    def sf(x, df):
        return special.chdtrc(df, np.maximum(x, 0.0))


class _Ncx2:
    @staticmethod
    def cdf(x, df, nc):
        return special.chndtr(np.maximum(x, 0.0), df, nc)

    @staticmethod
    def sf(x, df, nc):
        return 1.0 - special.chndtr(np.maximum(x, 0.0), df, nc)


class _T:
    @staticmethod
    def ppf(q, df):
        return special.stdtrit(df, q)


norm, chi2, ncx2, t = _Norm(), _Chi2(), _Ncx2(), _T()
