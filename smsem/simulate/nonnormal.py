"""Non-normal continuous responses by the Vale–Maurelli (1983) method.

Each item is a Fleishman (1978) power polynomial ``a + b Z + c Z² + d Z³`` of a standard
normal ``Z`` whose coefficients give the target skewness and excess kurtosis; the normals
are drawn with an *intermediate* correlation chosen so that the polynomials have the
target correlation. This is what lavaan's ``simulateData(skewness=, kurtosis=)`` does
(``lavaan:::ValeMaurelli1983``): the same equations, the same start values (Fleishman:
``b, c, d = 1, 0, 0``; intermediate correlation: the target), solved here with
:mod:`scipy.optimize` instead of R's ``nlminb``. ``tests/reference/vale_maurelli.json``
holds lavaan's own solutions for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator, Mapping, Sequence

import numpy as np
from scipy import optimize

from ..exceptions import SpecError

__all__ = ["fleishman_coefficients", "fleishman_moments", "intermediate_correlation", "ValeMaurelli"]


def fleishman_moments(b: float, c: float, d: float) -> tuple[float, float, float]:
    """Variance, skewness and excess kurtosis of ``-c + bZ + cZ² + dZ³`` (Fleishman 1978)."""
    var = b * b + 6 * b * d + 2 * c * c + 15 * d * d
    skew = 2 * c * (b * b + 24 * b * d + 105 * d * d + 2)
    kurt = 24 * (b * d + c * c * (1 + b * b + 28 * b * d) + d * d * (12 + 48 * b * d + 141 * c * c + 225 * d * d))
    return var, skew, kurt


@lru_cache(maxsize=256)
def fleishman_coefficients(skewness: float, kurtosis: float) -> tuple[float, float, float, float]:
    """Coefficients ``(a, b, c, d)`` with ``a = -c`` giving mean 0, variance 1 and the targets.

    Parameters
    ----------
    skewness : float
        Target skewness.
    kurtosis : float
        Target *excess* kurtosis (0 for the normal), as in lavaan.

    Raises
    ------
    SpecError
        If no polynomial reaches the pair (Fleishman's method covers roughly
        ``kurtosis >= 1.6 * skewness**2 - 1.1``); the message quotes the pair.
    """
    skewness, kurtosis = float(skewness), float(kurtosis)
    if skewness == 0.0 and kurtosis == 0.0:
        return (0.0, 1.0, 0.0, 0.0)

    def equations(x: np.ndarray) -> np.ndarray:
        var, sk, ku = fleishman_moments(*x)
        return np.array([var - 1.0, sk - skewness, ku - kurtosis])

    sol = optimize.least_squares(equations, x0=[1.0, 0.0, 0.0], xtol=1e-15, ftol=1e-15, gtol=1e-15)
    resid = float(np.max(np.abs(equations(sol.x))))
    if resid > 1e-9:
        raise SpecError(f"skewness {skewness:g} with excess kurtosis {kurtosis:g} cannot be reached by "
                        f"Fleishman's power method (best residual {resid:.2g}); raise the kurtosis "
                        f"(it must be about 1.6 * skewness^2 - 1.1 or more)")
    b, c, d = (float(v) for v in sol.x)
    return (-c, b, c, d)


def _icor_poly(c1: Sequence[float], c2: Sequence[float]) -> np.ndarray:
    """Coefficients (rho³, rho², rho, 1) of the correlation of two Fleishman variables."""
    _, b1, k1, d1 = c1
    _, b2, k2, d2 = c2
    return np.array([6 * d1 * d2, 2 * k1 * k2, b1 * b2 + 3 * b1 * d2 + 3 * d1 * b2 + 9 * d1 * d2, 0.0])


def intermediate_correlation(r: float, c1: Sequence[float], c2: Sequence[float], *, where: str = "") -> float:
    """The normal correlation ``rho`` whose two Fleishman transforms correlate ``r``.

    Solves Vale & Maurelli's cubic
    ``r = rho (b1 b2 + 3 b1 d2 + 3 d1 b2 + 9 d1 d2) + rho² 2 c1 c2 + rho³ 6 d1 d2``
    for the root in ``[-1, 1]`` nearest ``r`` (lavaan starts its search at ``r``).
    """
    if r == 0.0:
        return 0.0
    poly = _icor_poly(c1, c2)

    def f(rho: float) -> float:
        return float(np.polyval(poly, rho)) - r

    lo, hi = (0.0, 1.0) if r > 0 else (-1.0, 0.0)
    if f(lo) * f(hi) > 0:
        reach = np.polyval(poly, hi if r > 0 else lo)
        raise SpecError(f"Vale-Maurelli: {where or 'a pair of items'} cannot have correlation {r:.4f} with "
                        f"these skewness/kurtosis targets (the most extreme reachable is {reach:.4f})")
    rho = optimize.brentq(f, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    return float(rho)


@dataclass(frozen=True)
class ValeMaurelli:
    """A prepared Vale–Maurelli generator for one correlation matrix.

    Attributes
    ----------
    items : tuple of str
    target_corr : ndarray (p, p)
        Correlation the responses must have.
    coefficients : ndarray (p, 4)
        Fleishman ``a, b, c, d`` of each item.
    intermediate : ndarray (p, p)
        Correlation of the normals before the power transform.
    """

    items: tuple[str, ...]
    target_corr: np.ndarray
    skewness: np.ndarray
    kurtosis: np.ndarray
    coefficients: np.ndarray
    intermediate: np.ndarray

    @classmethod
    def prepare(cls, corr: np.ndarray, items: Sequence[str], skewness: float | Sequence[float] | Mapping[str, float],
                kurtosis: float | Sequence[float] | Mapping[str, float]) -> "ValeMaurelli":
        """Solve the Fleishman coefficients and the intermediate correlations."""
        items = tuple(items)
        p = len(items)
        sk = _per_item("skewness", skewness, items)
        ku = _per_item("kurtosis", kurtosis, items)
        coefs = np.empty((p, 4))
        for i, item in enumerate(items):
            try:
                coefs[i] = fleishman_coefficients(sk[i], ku[i])
            except SpecError as exc:
                raise SpecError(f"item {item}: {exc}") from None
        corr = np.asarray(corr, dtype=float)
        inter = np.eye(p)
        for i in range(p):
            for j in range(i):
                inter[i, j] = inter[j, i] = intermediate_correlation(
                    corr[i, j], coefs[i], coefs[j], where=f"items {items[i]} and {items[j]}")
        eig = np.linalg.eigvalsh(inter)
        if eig.min() <= 1e-10:
            raise SpecError(f"Vale-Maurelli: the intermediate correlation matrix is not positive definite "
                            f"(smallest eigenvalue {eig.min():.3g}); lower the skewness/kurtosis targets")
        return cls(items, corr, sk, ku, coefs, inter)

    def chunks(self, n: int, rng: np.random.Generator, rows: int) -> Iterator[np.ndarray]:
        """Responses ``rows`` at a time; together the numbers of one :meth:`draw`."""
        chol = np.linalg.cholesky(self.intermediate).T
        a, b, c, d = self.coefficients.T
        for start in range(0, n, rows):
            z = rng.standard_normal((min(rows, n - start), len(self.items))) @ chol
            # Horner form a + z (b + z (c + d z)), in place: one extra array per chunk.
            out = z * d
            out += c
            out *= z
            out += b
            out *= z
            out += a
            yield out

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` responses with mean 0, variance 1 and the target moments, shape ``(n, p)``."""
        return np.concatenate(list(self.chunks(n, rng, max(n, 1))))


def _per_item(name: str, value: float | Sequence[float] | Mapping[str, float], items: tuple[str, ...]) -> np.ndarray:
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - set(items))
        if unknown:
            raise SpecError(f"{name}: {', '.join(unknown)} not an item of the model")
        return np.array([float(value.get(i, 0.0)) for i in items])
    arr = np.atleast_1d(np.asarray(value, dtype=float))
    if arr.size == 1:
        return np.full(len(items), float(arr[0]))
    if arr.size != len(items):
        raise SpecError(f"{name} needs one value or one per item ({len(items)}), got {arr.size}")
    return arr
