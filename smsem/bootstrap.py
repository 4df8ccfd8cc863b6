"""Bootstrap of a fitted model: resampling, the batched refits, and every CI method.

Three kinds of draws, all refitted by the batched ML estimator
(:mod:`smsem.estimate.batched`, warm-started from the full-sample estimate):

* ``"nonparametric"``: respondents resampled with replacement. A draw is a vector of
  counts per respondent and its covariance matrix a weighted cross-product, so no
  resampled data set is ever built (n = 100000 works; B = 10000 draws keep only the
  statistics).
* ``"bollen-stine"``: the data are first transformed so that their covariance equals the
  model-implied one (Bollen & Stine, 1992), then resampled; the share of draws whose chi2
  reaches the observed chi2 is the bootstrap p-value of the model test.
* ``"parametric"``: covariance matrices of samples of size n from ``N(0, Sigma hat)``,
  drawn directly from their Wishart distribution.

A FIML fit (``missing="fiml"``) is bootstrapped nonparametrically by batched FIML refits
of the resampled respondents (:func:`_bootstrap_fiml`, see docs/bootstrap.md).

Draw ``b`` uses its own stream ``SeedSequence(seed).spawn(n_boot)[b]`` and draws are
processed in fixed chunks, so results are identical whatever the number of processes.
"""

from __future__ import annotations

import os
import signal
import sys
import multiprocessing
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable

import warnings

import numpy as np
import pandas as pd
from . import _dist as stats

from ._testhooks import pause_point
from ._processes import die_with_parent
from ._threads import single_thread
from ._validation import check_int, check_option, check_real, check_seed
from .estimate import fitindices as fitidx
from .estimate.backend import ParamMap
from .estimate.batched import FAIL_REASONS, ModelStructure, fit_batch, resample_counts, weighted_moments
from .estimate.results import FitResults
from .exceptions import OptionError

__all__ = [
    "BootstrapResults", "bootstrap", "percentile_ci", "normal_ci", "bc_ci", "bca_ci",
    "DEFAULT_BOOT_SEED", "CI_METHODS", "BOOT_KINDS",
]

from ._defaults import CI_METHODS, DEFAULT_BOOT_SEED  # noqa: E402  (re-exported)
BOOT_KINDS = ("nonparametric", "bollen-stine", "parametric")


# ------------------------------------------------------------------ CI formulas (generic)


def _alphas(level: float) -> tuple[float, float]:
    a = (1.0 - level) / 2
    return a, 1.0 - a


def percentile_ci(draws: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of each column of ``draws`` (NaN entries ignored; a column with
    no finite draw, e.g. the std.all of an inadmissible solution, gives NaN silently)."""
    lo_a, hi_a = _alphas(level)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Mean of empty slice|All-NaN slice", RuntimeWarning)
        return np.nanquantile(draws, lo_a, axis=0), np.nanquantile(draws, hi_a, axis=0)


def normal_ci(draws: np.ndarray, estimate: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Normal interval with bootstrap bias correction and SE (``boot::norm.ci``):
    ``estimate - bias -/+ z * sd(draws)``, ``bias = mean(draws) - estimate``."""
    z = stats.norm.ppf(_alphas(level)[1])
    sd = np.nanstd(draws, axis=0, ddof=1)
    center = 2.0 * np.asarray(estimate) - np.nanmean(draws, axis=0)
    return center - z * sd, center + z * sd


def _z0(draws: np.ndarray, estimate: np.ndarray) -> np.ndarray:
    """Bias constant ``Phi^-1(share of draws below the estimate)``; ties count half (as
    scipy.stats.bootstrap)."""
    valid = ~np.isnan(draws)
    nb = valid.sum(axis=0)
    below = (draws < estimate).sum(axis=0) + (draws <= estimate).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return stats.norm.ppf(below / (2.0 * nb))


def _adjusted_quantiles(draws: np.ndarray, probs: np.ndarray) -> np.ndarray:
    out = np.full(draws.shape[1], np.nan)
    for j in range(draws.shape[1]):
        col = draws[:, j]
        col = col[~np.isnan(col)]
        if col.size and np.isfinite(probs[j]):
            out[j] = np.percentile(col, 100.0 * probs[j])
    return out


def bc_ci(draws: np.ndarray, estimate: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected percentile interval (lavaan's ``bca.simple``, Mplus' BCBOOTSTRAP):
    BCa with acceleration 0."""
    return bca_ci(draws, estimate, None, level)


def bca_ci(
    draws: np.ndarray, estimate: np.ndarray, jackknife: np.ndarray | None, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Bias-corrected and accelerated interval (Efron & Tibshirani 1993, eq. 14.10, 14.15).

    Parameters
    ----------
    draws : ndarray (B, k)
        Bootstrap statistics (NaN rows of failed draws are ignored).
    estimate : ndarray (k,)
        Full-sample statistics.
    jackknife : ndarray (n, k) or None
        Leave-one-out statistics for the acceleration
        ``a = sum(d^3) / (6 sum(d^2)^1.5)``, ``d = mean(jack) - jack``; None gives a = 0
        (the BC interval).
    level : float

    Returns
    -------
    (lower, upper) : ndarrays (k,)
        Percentiles ``Phi(z0 + (z0 + z) / (1 - a (z0 + z)))`` of the draws (linear
        interpolation, as numpy and scipy).
    """
    draws = np.asarray(draws, dtype=float)
    estimate = np.asarray(estimate, dtype=float)
    z0 = _z0(draws, estimate)
    if jackknife is None:
        acc = np.zeros_like(z0)
    else:
        d = np.nanmean(jackknife, axis=0) - jackknife
        num = np.nansum(d ** 3, axis=0)
        den = 6.0 * np.nansum(d ** 2, axis=0) ** 1.5
        with np.errstate(divide="ignore", invalid="ignore"):
            acc = np.where(den > 0, num / den, 0.0)
    out = []
    for a_ in _alphas(level):
        z = stats.norm.ppf(a_)
        with np.errstate(divide="ignore", invalid="ignore"):
            prob = stats.norm.cdf(z0 + (z0 + z) / (1.0 - acc * (z0 + z)))
        out.append(_adjusted_quantiles(draws, prob))
    return out[0], out[1]


# The draws' masks are computed 4096 rows at a time: a whole-array np.isnan(draws) would be
# a B x k temporary (one byte per statistic and draw) on top of the draws themselves.
_ROWS = 4096


def _row_blocks(a: np.ndarray, f: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``f`` (a row-wise reduction) over blocks of rows of ``a``, concatenated."""
    if a.shape[0] == 0:
        return f(a)
    return np.concatenate([f(a[i:i + _ROWS]) for i in range(0, a.shape[0], _ROWS)])


def _column_counts(a: np.ndarray, test: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """Per column, the number of entries for which ``test`` holds (``test(a).sum(axis=0)``)."""
    out = np.zeros(a.shape[1], dtype=np.int64)
    for i in range(0, a.shape[0], _ROWS):
        out += test(a[i:i + _ROWS]).sum(axis=0)
    return out


# ------------------------------------------------------------------ bootstrapped statistics

FIT_INDICES = ("chi2", "cfi", "tli", "rmsea")


def fit_indices(fmin: np.ndarray, s: np.ndarray, n: int, n_free: int, fixed_x: np.ndarray | None = None
                ) -> np.ndarray:
    """chi2, CFI, TLI and RMSEA (B, 4) from ``F_min`` and the fitted covariances.

    lavaan's ML definitions with N: ``chi2 = N F``; the baseline model has the closed
    form :func:`smsem.estimate.fitindices.baseline_fmin` (``log|diag S| - log|S|`` without
    fixed covariates ``fixed_x``) with :func:`~smsem.estimate.fitindices.baseline_df` df;
    CFI is clipped to [0, 1]; ``RMSEA = sqrt(max(chi2 - df, 0) / (df N))``. (semopy
    divides RMSEA by N - 1 and does not clip CFI; at n = 300 the difference is below 1e-4.)
    """
    fixed_x = np.array([], dtype=np.intp) if fixed_x is None else fixed_x
    p = s.shape[1]
    df = p * (p + 1) / 2 - n_free
    df_b = fitidx.baseline_df(p, len(fixed_x))
    chi2 = n * fmin
    chi2_b = n * fitidx.baseline_fmin(s, fixed_x)
    with np.errstate(invalid="ignore", divide="ignore"):
        d, d_b = np.maximum(chi2 - df, 0.0), np.maximum(chi2_b - df_b, 0.0)
        den = np.maximum(d, d_b)
        cfi = np.where(den > 0, 1.0 - d / np.where(den > 0, den, 1.0), 1.0)
        tli = (chi2_b / df_b - chi2 / df) / (chi2_b / df_b - 1.0)
        rmsea = np.sqrt(d / (df * n))
    return np.stack([chi2, cfi, tli, rmsea], axis=1)


@dataclass(frozen=True)
class _Targets:
    """Which statistics are bootstrapped and how to compute them from parameter rows."""

    names: tuple[str, ...]
    pmap: ParamMap
    reg_cells: tuple[tuple[int, int], ...]      # (row, col) of each regression in beta
    other_params: tuple[int, ...]                # free parameters that are not regressions
    endogenous: tuple[int, ...]                  # latents with R^2
    effects: tuple[tuple[int, int], ...]         # (outcome, source) with an indirect path
    loadings: tuple[tuple[int, int], ...] = ()   # (item, latent) of every non-zero loading
    htmt_blocks: tuple[tuple[int, ...], ...] = ()  # item indices of each construct with >= 2 items
    fixed_x: tuple[int, ...] = ()                  # lavaan's fixed covariates (saturated in the baseline)
    chains: tuple[tuple[int, ...], ...] = ()       # every specific indirect chain to an outcome
    totals: tuple[tuple[int, int], ...] = ()       # (outcome, source) of every total effect
    totals_std: tuple[tuple[int, int], ...] = ()   # the total effects not already in ``effects``
    defined: tuple[tuple[str, str], ...] = ()      # (name, expression) of the := parameters
    label_cells: tuple[tuple[str, int, int, int], ...] = ()  # label -> (matrix, row, col)
    moments: bool = True   # fit indices and HTMT (functions of the complete-data S); False under FIML

    @classmethod
    def build(cls, res: FitResults) -> "_Targets":
        pmap = res.param_map
        inner = pmap.base.inner
        idx = {v: i for i, v in enumerate(inner)}
        regs = res.model.parsed.regressions
        reg_cells = tuple((idx[r.lhs], idx[r.rhs]) for r in regs)
        reg_names = [f"{r.lhs}~{r.rhs}" for r in regs]
        names = reg_names + [f"{nm}:std" for nm in reg_names]
        other = tuple(k for k, nm in enumerate(pmap.names) if nm[1] != "~")
        names += [f"{lhs}{op}{rhs}" for lhs, op, rhs in (pmap.names[k] for k in other)]
        # std.all loadings, the marker loadings (fixed to 1) included.
        lam_pattern = pmap.base.lambda_ != 0
        for m_, i, j in (loc for locs in pmap.locations for loc in locs):
            if m_ == 1:
                lam_pattern[i, j] = True
        loadings = tuple((int(i), int(j)) for j in range(len(inner)) for i in np.flatnonzero(lam_pattern[:, j]))
        obs = pmap.base.observed
        names += [f"{inner[j]}=~{obs[i]}:std" for i, j in loadings]
        endo = tuple(sorted({idx[r.lhs] for r in regs}))
        names += [f"R2:{inner[i]}" for i in endo]
        # Indirect effects on every outcome (latents that predict nothing) from every
        # latent with a path of length >= 2 to it.
        pattern = np.zeros((len(inner), len(inner)))
        for i, j in reg_cells:
            pattern[i, j] = 1.0
        two_plus = np.zeros_like(pattern)
        power = pattern @ pattern
        while power.any():
            two_plus += power
            power = power @ pattern
        outcomes = [i for i in endo if not pattern[:, i].any()]
        effects = tuple((y, x) for y in outcomes for x in range(len(inner)) if two_plus[y, x] > 0)
        for y, x in effects:
            names += [f"indirect:{inner[x]}->{inner[y]}", f"indirect:{inner[x]}->{inner[y]}:std",
                      f"total:{inner[x]}->{inner[y]}:std"]
        # Under FIML a draw has no complete-data covariance matrix: its fit indices (which
        # would need an EM fit of the unrestricted model per draw) and HTMT are not drawn.
        moments = not _fiml_engine(res)
        if moments:
            names += [f"fit:{k}" for k in FIT_INDICES]
        # HTMT and HTMT2 (as smsem.reliability / semTools::htmt) of each pair of
        # constructs measured by two or more items: functions of the resampled S only.
        blocks = {j: tuple(i for i, jj in loadings if jj == j) for j in range(len(inner))}
        blocks = {j: b for j, b in blocks.items() if len(b) >= 2 and inner[j] not in obs}
        keys = sorted(blocks) if moments else []
        for a_pos, a in enumerate(keys):
            for b in keys[a_pos + 1:]:
                names += [f"htmt:{inner[a]}~{inner[b]}", f"htmt2:{inner[a]}~{inner[b]}"]
        fixed_x = tuple(int(i) for i in fitidx.fixed_x_index(obs, res.model.parsed.fixed_x))
        # Every specific indirect chain and every total effect on each outcome (as the rows
        # of smsem.effects), and every := parameter, unstandardized and std.all.
        from .estimate.effects import chains as _all_chains, compile_defined, label_cells

        parsed = res.model.parsed
        chain_list, totals, totals_std = [], [], []
        eff_set = set(effects)
        for y in outcomes:
            for x in range(len(inner)):
                if x == y or not (pattern[y, x] or two_plus[y, x]):
                    continue
                for c in _all_chains(parsed, inner[x], inner[y]):
                    if len(c) > 2:
                        chain_list.append(tuple(idx[v] for v in c))
                totals.append((y, x))
                if (y, x) not in eff_set:
                    totals_std.append((y, x))
        for c in chain_list:
            nm = "indirect:" + "->".join(inner[v] for v in c)
            names += [nm, f"{nm}:std"]
        names += [f"total:{inner[x]}->{inner[y]}" for y, x in totals]
        names += [f"total:{inner[x]}->{inner[y]}:std" for y, x in totals_std]
        defined = tuple((d.name, d.expression) for d, _ in compile_defined(parsed))
        for nm, expr in defined:
            names += [f"{nm}:={expr}", f"{nm}:={expr}:std"]
        cells = tuple((lab, *cell) for lab, cell in label_cells(res).items()) if defined else ()
        return cls(tuple(names), pmap, reg_cells, other, endo, effects, loadings,
                   tuple(blocks[j] for j in keys), fixed_x, tuple(chain_list), tuple(totals),
                   tuple(totals_std), defined, cells, moments)

    def compute(self, st: ModelStructure, theta: np.ndarray, fmin: np.ndarray, s: np.ndarray,
                n: int) -> np.ndarray:
        """Statistics (B, k) at parameter rows ``theta`` (B, q); ``fmin`` and ``s`` (the
        fitted covariance matrices) give the fit indices, ``n`` their sample size."""
        beta, lam, psi, th = st.matrices(theta)
        m = beta.shape[1]
        c = np.linalg.inv(np.eye(m) - beta)
        phi = c @ psi @ np.swapaxes(c, 1, 2)
        var = np.diagonal(phi, axis1=1, axis2=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(var)
            cols = []
            r, cc = (np.array(a, dtype=np.intp) for a in zip(*self.reg_cells)) if self.reg_cells else ([], [])
            unstd = beta[:, r, cc]
            cols += [unstd, unstd * sd[:, cc] / sd[:, r]]
            cols.append(theta[:, list(self.other_params)])
            if self.loadings:
                li, lj = (np.array(a, dtype=np.intp) for a in zip(*self.loadings))
                obs_var = ((lam @ phi) * lam).sum(axis=2) + np.diagonal(th, axis1=1, axis2=2)
                cols.append(lam[:, li, lj] * sd[:, lj] / np.sqrt(obs_var[:, li]))
            endo = list(self.endogenous)
            cols.append(1.0 - psi[:, endo, endo] / var[:, endo])
            if self.effects:
                y, x = (np.array(a, dtype=np.intp) for a in zip(*self.effects))
                total = c[:, y, x]
                ind = total - beta[:, y, x]
                ratio = sd[:, x] / sd[:, y]
                cols.append(np.stack([ind, ind * ratio, total * ratio], axis=2).reshape(theta.shape[0], -1))
            if self.moments:
                cols.append(fit_indices(fmin, s, n, st.n_free, np.array(self.fixed_x, dtype=np.intp)))
            if self.moments and len(self.htmt_blocks) > 1:
                cols.append(_htmt_columns(s, self.htmt_blocks))
            for ch in self.chains:
                prod = beta[:, ch[1], ch[0]]
                for a, b in zip(ch[1:], ch[2:]):
                    prod = prod * beta[:, b, a]
                cols.append(np.stack([prod, prod * sd[:, ch[0]] / sd[:, ch[-1]]], axis=1))
            if self.totals:
                y, x = (np.array(a, dtype=np.intp) for a in zip(*self.totals))
                cols.append(c[:, y, x])
            if self.totals_std:
                y, x = (np.array(a, dtype=np.intp) for a in zip(*self.totals_std))
                cols.append(c[:, y, x] * sd[:, x] / sd[:, y])
            if self.defined:
                cols.append(self._defined_columns((beta, lam, psi, th), sd, phi))
        return np.concatenate(cols, axis=1)

    def _defined_columns(self, mats: tuple[np.ndarray, ...], sd: np.ndarray, phi: np.ndarray) -> np.ndarray:
        """The ``:=`` parameters (B, 2 m): value and std.all value of each in turn, as
        :func:`smsem.estimate.effects.defined_evaluator` for one row (labels read from the
        matrices; std.all scales by the model-implied standard deviations)."""
        beta, lam, psi, th = mats
        obs_sd = np.sqrt(((lam @ phi) * lam).sum(axis=2) + np.diagonal(th, axis1=1, axis2=2))
        exprs = _compiled_defined(self.defined)
        nb = beta.shape[0]
        out = np.empty((nb, 2 * len(self.defined)))
        for off, std in ((0, False), (1, True)):
            env: dict[str, Any] = {}
            for lab, m_, i, j in self.label_cells:
                v = mats[m_][:, i, j]
                if std:
                    v = v * {0: sd[:, j] / sd[:, i], 1: sd[:, j] / obs_sd[:, i],
                             2: 1.0 / (sd[:, i] * sd[:, j]), 3: 1.0 / (obs_sd[:, i] * obs_sd[:, j])}[m_]
                env[lab] = v
            for k, ((name, _), f) in enumerate(zip(self.defined, exprs)):
                env[name] = np.broadcast_to(np.asarray(f(env), dtype=float), (nb,))
                out[:, 2 * k + off] = env[name]
        return out


_COMPILED: dict[tuple[tuple[str, str], ...], list] = {}


def _compiled_defined(defined: tuple[tuple[str, str], ...]) -> list:
    """Compiled ``:=`` expressions (cached per process: the targets travel to workers as data)."""
    if defined not in _COMPILED:
        from .estimate.effects import _compile_expr
        from .model.syntax import DefinedSpec

        known: set[str] = set()
        out = []
        for name, expr in defined:
            # Labels are checked when the model is read; here every name is accepted.
            out.append(_compile_expr(DefinedSpec(name, expr), _AnyName()))
            known.add(name)
        _COMPILED[defined] = out
    return _COMPILED[defined]


class _AnyName(set):
    def __contains__(self, item: object) -> bool:  # every name is known
        return True


# ------------------------------------------------------------------ the results object

_INADMISSIBLE = (2, 3)  # status codes of converged draws with an inadmissible solution
_INADMISSIBLE_NAMES = tuple(FAIL_REASONS[c] for c in _INADMISSIBLE)
_OPS = ("=~", "~~", ":=", "~1", "~")


def _split_name(name: str) -> tuple[str, str, str, bool]:
    """``(lhs, op, rhs, std)`` of a statistic's name (see :class:`BootstrapResults`)."""
    std = name.endswith(":std")
    base = name[:-4] if std else name
    kind, sep, rest = base.partition(":")
    if sep and kind in ("indirect", "total") and "->" in rest:
        nodes = rest.split("->")
        if kind == "total":
            return nodes[-1], "total", nodes[0], std
        if len(nodes) == 2:
            return nodes[-1], "total_indirect", nodes[0], std
        return nodes[-1], "indirect", " -> ".join(nodes), std
    if sep and kind in ("R2", "fit", "htmt", "htmt2"):
        return rest, kind, "", std
    for op in _OPS:
        if op in base:
            lhs, _, rhs = base.partition(op)
            return lhs, op, rhs, std
    return base, "", "", std


@dataclass(frozen=True)
class BootstrapResults:
    """Bootstrap draws of a model's statistics.

    Attributes
    ----------
    names : list of str
        Column names of ``draws``: ``"lhs~rhs"`` (unstandardized regressions), then
        ``"lhs~rhs:std"`` (std.all), the other free parameters (``"COM=~COM2"``,
        ``"IS~~IS"``), std.all loadings (``"COM=~COM1:std"``, markers included),
        ``"R2:latent"``, for each outcome latent ``"indirect:X->Y"``,
        ``"indirect:X->Y:std"``, ``"total:X->Y:std"``, and ``"fit:chi2"``, ``"fit:cfi"``,
        ``"fit:tli"``, ``"fit:rmsea"`` (see :func:`fit_indices`; resampling respondents
        inflates chi2, so their nonparametric intervals describe the resampled fits,
        not the population's; the Bollen-Stine kind is the one for testing fit),
        ``"htmt:A~B"``/``"htmt2:A~B"``, then every specific indirect chain to an outcome
        ``"indirect:IS->IC->EA->OP"`` (and ``:std``), every total effect
        ``"total:X->Y"`` (and the ``:std`` ones not listed before), and every ``:=``
        parameter ``"name:=expression"`` (and ``:std``). :meth:`table` splits the names into
        lavaan's ``lhs``/``op``/``rhs``.
    draws : ndarray (n_boot, k)
        One row per draw; rows of draws left out (see :attr:`used`) are NaN, and so is a
        statistic not computable in a used draw (it leaves that statistic's CI only).
    failures : dict
        Count of draws per reason (nonconvergence, negative variance,
        non-positive-definite covariance, singular resample), whether or not kept.
    seed : int
    kind : str
        ``"nonparametric"``, ``"bollen-stine"`` or ``"parametric"``.
    estimate : ndarray (k,)
        The full-sample statistics.
    chi2 : ndarray (n_boot,)
        ``n * F_min`` of each draw (NaN if it failed).
    chi2_observed : float
    status : ndarray of int (n_boot,)
        0 for a used draw, else the failure code (see ``smsem.estimate.batched.FAIL_REASONS``).
    """

    names: list[str]
    draws: np.ndarray = field(repr=False)
    failures: dict[str, int]
    seed: int
    kind: str = "nonparametric"
    estimate: np.ndarray | None = field(default=None, repr=False)
    chi2: np.ndarray | None = field(default=None, repr=False)
    chi2_observed: float = float("nan")
    status: np.ndarray | None = field(default=None, repr=False)
    fit: FitResults | None = field(default=None, repr=False, compare=False)
    jobs: int = field(default=1, repr=False, compare=False)
    include_inadmissible: bool = True

    @property
    def n_boot(self) -> int:
        return int(self.draws.shape[0])

    @property
    def n_failed(self) -> int:
        """Draws whose refit was not admissible (every reason of :attr:`failures`, kept or not)."""
        return int(sum(self.failures.values()))

    @cached_property
    def used(self) -> np.ndarray:
        """Mask (n_boot,) of the draws behind the CIs: converged and admissible, plus the
        inadmissible ones (negative variance, non-positive-definite matrix) when
        ``include_inadmissible`` (lavaan's default)."""
        if self.status is None:
            return ~_row_blocks(self.draws, lambda b: np.isnan(b).all(axis=1))
        keep = self.status == 0
        if self.include_inadmissible:
            keep |= np.isin(self.status, _INADMISSIBLE)
        return keep

    @cached_property
    def successful(self) -> np.ndarray:
        """The rows of the used draws (a statistic not computable in a draw is NaN there and
        ignored by that statistic's CI only). When every draw is used this is
        :attr:`draws` itself (no B x k copy)."""
        used = self.used
        return self.draws if used.all() else self.draws[used]

    @cached_property
    def inadmissible(self) -> dict[str, int]:
        """Draws with a negative variance or a non-positive-definite matrix, per reason
        (kept in the CIs when ``include_inadmissible``, left out otherwise)."""
        return {k: v for k, v in self.failures.items() if k in _INADMISSIBLE_NAMES}

    @cached_property
    def nan_counts(self) -> pd.Series:
        """Per statistic: used draws in which it is not computable (NaN), e.g. an HTMT with a
        zero item correlation in the resample. Such a draw stays in every other CI."""
        return pd.Series(_column_counts(self.successful, np.isnan), index=self.names)

    @cached_property
    def excluded(self) -> dict[str, int]:
        """Every draw left out of at least one CI, per reason: the failed refits
        (nonconvergence, singular resample), the inadmissible ones when excluded, and
        ``"statistic not computable"`` (used draws with a NaN in at least one statistic;
        :attr:`nan_counts` tells which). A draw is counted under one reason only."""
        out = {k: v for k, v in self.failures.items()
               if not (self.include_inadmissible and k in _INADMISSIBLE_NAMES)}
        partial = int(_row_blocks(self.successful, lambda b: np.isnan(b).any(axis=1)).sum())
        if partial:
            out["statistic not computable"] = partial
        return out

    @property
    def n_excluded(self) -> int:
        return int(sum(self.excluded.values()))

    def n_used(self, name: str) -> int:
        """Draws behind the CI of statistic ``name``."""
        return int(np.isfinite(self.successful[:, self.names.index(name)]).sum())

    @cached_property
    def std_errors(self) -> pd.Series:
        # 16 columns at a time: nanstd makes about two float copies of its input, so the
        # temporaries stay at B x 16 values whatever the number of statistics (a column's
        # result is bit-identical to the one of a whole-array call: same order of sums).
        ok = self.successful
        sd = [np.nanstd(ok[:, j:j + 16], axis=0, ddof=1) for j in range(0, ok.shape[1], 16)]
        return pd.Series(np.concatenate(sd) if sd else np.zeros(0), index=self.names)

    def accounting(self) -> str:
        """One line: draws made, used, kept inadmissible, and left out per reason."""
        used = int(self.used.sum())
        parts = [f"{self.n_boot} bootstrap draws, {used} used"]
        if self.inadmissible:
            what = ", ".join(f"{k} {v}" for k, v in sorted(self.inadmissible.items()))
            parts.append(("kept as lavaan does: " if self.include_inadmissible else "excluded "
                          "(--exclude-inadmissible): ") + f"{sum(self.inadmissible.values())} inadmissible ({what})")
        left = {k: v for k, v in self.excluded.items()
                if self.include_inadmissible or k not in _INADMISSIBLE_NAMES}
        if left:
            parts.append("left out of some CI: " + ", ".join(f"{k} {v}" for k, v in sorted(left.items())))
        return "; ".join(parts)

    def table(self, level: float = 0.95, method: str = "percentile") -> pd.DataFrame:
        """Every statistic as a row named the lavaan way, to join ``res.params``,
        ``res.standardized``, ``smsem.effects(res).table`` or ``.defined``.

        Columns: ``name`` (the column of :attr:`draws`), ``lhs``, ``op``, ``rhs`` (a
        parameter: ``IC ~ IS``, ``COM =~ COM2``; a ``:=`` parameter: its name, ``:=``, its
        expression; an effect: ``OP``, ``indirect``/``total_indirect``/``total``, the chain
        ``IS -> IC -> EA -> OP`` (the ``path`` of the effects table) or the source),
        ``std`` (std.all value), ``est`` (full sample), ``boot_se``, ``boot_lower``,
        ``boot_upper`` and ``n_used`` (draws behind the CI).
        """
        ci = self.conf_int(level, method)
        keys = [_split_name(nm) for nm in self.names]
        est = self.estimate if self.estimate is not None else np.full(len(self.names), np.nan)
        return pd.DataFrame({
            "name": self.names, "lhs": [k[0] for k in keys], "op": [k[1] for k in keys],
            "rhs": [k[2] for k in keys], "std": [k[3] for k in keys], "est": est,
            "boot_se": self.std_errors.to_numpy(), "boot_lower": ci["lower"].to_numpy(),
            "boot_upper": ci["upper"].to_numpy(),
            "n_used": _column_counts(self.successful, np.isfinite),
        })

    @cached_property
    def jackknife(self) -> np.ndarray:
        """Leave-one-out statistics (n, k) of the full sample (for BCa); NaN rows for
        leave-one-out fits that failed."""
        if self.fit is None:
            raise OptionError("the jackknife needs the fitted model; these bootstrap results have none")
        return jackknife(self.fit)

    @property
    def pvalue(self) -> float:
        """Bollen-Stine p-value: share of successful draws with ``chi2 >= chi2_observed``.

        Only meaningful for ``kind="bollen-stine"`` (the draws then come from a population
        where the model holds).
        """
        if self.kind != "bollen-stine":
            raise OptionError(f"the bootstrap p-value of chi2 needs kind='bollen-stine', not {self.kind!r}")
        ok = self.chi2[np.isfinite(self.chi2)]
        return float(np.mean(ok >= self.chi2_observed)) if ok.size else float("nan")

    def conf_int(self, level: float = 0.95, method: str = "percentile") -> pd.DataFrame:
        """Confidence intervals with columns ``lower`` and ``upper`` (one row per statistic).

        Parameters
        ----------
        level : float, default=0.95
            Any level strictly between 0 and 1.
        method : {"percentile", "bc", "bca", "normal"}, default="percentile"
            ``"bc"`` is lavaan's ``bca.simple``; ``"bca"`` adds the jackknife acceleration
            and needs at least n successful draws, as lavaan does.

        Raises
        ------
        OptionError
            Bad level or method; BCa with fewer successful draws than respondents.
        """
        level = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
        check_option("method", method, CI_METHODS)
        ok = self.successful
        if method == "percentile":
            lo, hi = percentile_ci(ok, level)
        else:
            if self.estimate is None:
                raise OptionError(f"the {method} interval needs the full-sample estimate")
            if method == "normal":
                lo, hi = normal_ci(ok, self.estimate, level)
            elif method == "bc":
                lo, hi = bc_ci(ok, self.estimate, level)
            else:
                n = self.fit.n if self.fit is not None else 0
                if ok.shape[0] < n:
                    raise OptionError(
                        f"BCa intervals need at least as many successful bootstrap draws as "
                        f"respondents ({ok.shape[0]} < n = {n}); use more draws (--boot) or "
                        f"another CI method")
                lo, hi = bca_ci(ok, self.estimate, self.jackknife, level)
        return pd.DataFrame({"lower": lo, "upper": hi}, index=self.names)


# ------------------------------------------------------------------ the engine


@dataclass(frozen=True)
class _Job:
    """Everything a worker needs for its chunks (picklable; sent once per process)."""

    kind: str
    pmap: ParamMap
    start: np.ndarray
    s_full: np.ndarray
    x: np.ndarray | None          # centered data (nonparametric / bollen-stine)
    sigma_hat: np.ndarray | None  # parametric
    n: int
    seed: int
    n_boot: int
    targets: _Targets
    include_inadmissible: bool


_WORKER_JOB: _Job | None = None


def _init_worker(job: _Job, parent: int) -> None:
    # Ctrl-C is handled by the parent, which stops the pool; workers just stop. A parent
    # killed outright (SIGKILL) takes its workers with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    global _WORKER_JOB
    _WORKER_JOB = job


def _run_chunk_in_worker(bounds: tuple[int, int]) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    assert _WORKER_JOB is not None
    return _run_chunk(_WORKER_JOB, *bounds)


def _covariances(job: _Job, b0: int, b1: int) -> np.ndarray:
    # Child b of SeedSequence(seed).spawn(n_boot), built directly (spawning all n_boot
    # children for every chunk would cost O(n_boot) per chunk).
    streams = [np.random.SeedSequence(job.seed, spawn_key=(b,)) for b in range(b0, b1)]
    if job.kind == "parametric":
        p = job.sigma_hat.shape[0]
        out = np.empty((b1 - b0, p, p))
        for t, ss in enumerate(streams):
            from scipy.stats import wishart  # the parametric bootstrap only

            w = wishart.rvs(df=job.n - 1, scale=job.sigma_hat, random_state=np.random.default_rng(ss))
            out[t] = w / job.n  # N-divided covariance of n normal draws
        return out
    counts = np.stack([resample_counts(np.random.default_rng(ss), job.n) for ss in streams])
    return weighted_moments(job.x, counts)


def _keep_used(values: np.ndarray, bf: Any, include_inadmissible: bool) -> np.ndarray:
    """``values`` (B, k) with the rows of unused draws set to NaN: a draw is used when its
    refit converged to an admissible solution, or (``include_inadmissible``, lavaan's
    default) converged with a negative variance or a non-positive-definite matrix
    (status 2, 3)."""
    use = bf.ok | (include_inadmissible & np.isin(bf.status, (2, 3)))
    values[~use] = np.nan
    return values


def _run_chunk(job: _Job, b0: int, b1: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    pause_point("bootstrap-chunk")  # tests interrupt the draws here (smsem._testhooks)
    # One BLAS thread in every process, so a draw's bits do not depend on where it runs.
    with single_thread():
        return _run_chunk_pinned(job, b0, b1)


def _run_chunk_pinned(job: _Job, b0: int, b1: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(job, _FimlJob):
        return _run_fiml_chunk(job, b0, b1)
    s = _covariances(job, b0, b1)
    st = ModelStructure(job.pmap)
    bf = fit_batch(job.pmap, s, job.start, s_start=job.s_full, structure=st)
    values = _keep_used(job.targets.compute(st, bf.theta, bf.fmin, s, job.n), bf, job.include_inadmissible)
    chi2 = np.where(bf.converged, job.n * bf.fmin, np.nan)
    return b0, values, chi2, bf.status


def _chunks(n_boot: int, n: int) -> list[tuple[int, int]]:
    """Fixed chunks of draw indices: their size depends on the problem only (never on the
    number of processes), so every draw is computed identically in any process."""
    size = int(np.clip(4_000_000 // max(n, 1), 8, 128))
    return [(b0, min(b0 + size, n_boot)) for b0 in range(0, n_boot, size)]


def _execute(job: _Job, jobs: int, progress: bool | None, desc: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    k = len(job.targets.names)
    values = np.full((job.n_boot, k), np.nan)
    chi2 = np.full(job.n_boot, np.nan)
    status = np.zeros(job.n_boot, dtype=np.int64)
    chunks = _fiml_chunks(job) if isinstance(job, _FimlJob) else _chunks(job.n_boot, job.n)
    if progress is None:
        progress = sys.stderr.isatty()
    bar = _progress_bar(job.n_boot, progress, desc)

    def store(out: tuple[int, np.ndarray, np.ndarray, np.ndarray]) -> None:
        b0, v, c, s_ = out
        values[b0:b0 + len(v)] = v
        chi2[b0:b0 + len(v)] = c
        status[b0:b0 + len(v)] = s_
        bar.update(len(v))

    try:
        if jobs == 1 or len(chunks) == 1:
            for b0, b1 in chunks:
                store(_run_chunk(job, b0, b1))
        else:
            # multiprocessing.Pool rather than concurrent.futures: on Ctrl-C (or any
            # error) Pool.terminate() stops the workers at once, where a
            # ProcessPoolExecutor would let the chunks already queued run to the end.
            pool = multiprocessing.get_context().Pool(jobs, initializer=_init_worker, initargs=(job, os.getpid()))
            try:
                for out in pool.imap_unordered(_run_chunk_in_worker, chunks, chunksize=1):
                    store(out)
            except BaseException:
                pool.terminate()
                pool.join()
                raise
            pool.close()
            pool.join()
    finally:
        bar.close()
    return values, chi2, status


class _NoBar:
    def update(self, k: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, enabled: bool, desc: str) -> Any:
    if not enabled:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="draw", file=sys.stderr, leave=False)


def _htmt_columns(s: np.ndarray, blocks: tuple[tuple[int, ...], ...]) -> np.ndarray:
    """HTMT and HTMT2 of every pair of blocks for a stack of covariances ``s`` (B, p, p).

    Same definition as :func:`smsem.estimate.quality.htmt` (absolute item correlations;
    arithmetic means for HTMT, geometric means for HTMT2), vectorized over draws.
    """
    sd = np.sqrt(np.diagonal(s, axis1=1, axis2=2))
    r = np.abs(s / (sd[:, :, None] * sd[:, None, :]))
    with np.errstate(divide="ignore"):
        logr = np.log(r)

    def means(ii: tuple[int, ...], jj: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        if ii == jj:
            a, b = np.triu_indices(len(ii), 1)  # off-diagonal pairs, each once
            sub, lsub = r[:, ii][:, :, ii][:, a, b], logr[:, ii][:, :, ii][:, a, b]
        else:
            sub = r[:, ii][:, :, jj].reshape(len(s), -1)
            lsub = logr[:, ii][:, :, jj].reshape(len(s), -1)
        return sub.mean(axis=1), np.exp(lsub.mean(axis=1))

    mono = [means(b, b) for b in blocks]
    cols = []
    for a in range(len(blocks)):
        for b in range(a + 1, len(blocks)):
            het, het_g = means(blocks[a], blocks[b])
            cols += [het / np.sqrt(mono[a][0] * mono[b][0]), het_g / np.sqrt(mono[a][1] * mono[b][1])]
    out = np.stack(cols, axis=1)
    # An exactly zero item correlation in a resample makes a geometric mean 0, so HTMT2 is
    # 0/0 or x/0: not computable (NaN, counted per statistic), never an infinite bound.
    out[~np.isfinite(out)] = np.nan
    return out


def _centered(res: FitResults) -> np.ndarray:
    x = res.data[list(res.param_map.base.observed)].to_numpy(dtype=float)
    return x - x.mean(axis=0)


def _sample_cov(x: np.ndarray) -> np.ndarray:
    return (x.T @ x) / x.shape[0]


def _bollen_stine(x: np.ndarray, s: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Rows transformed so that their covariance is ``sigma``: ``x S^-1/2 Sigma^1/2``."""
    def sqrtm(a: np.ndarray, inverse: bool = False) -> np.ndarray:
        w, v = np.linalg.eigh(a)
        w = 1.0 / np.sqrt(w) if inverse else np.sqrt(w)
        return (v * w) @ v.T
    return x @ sqrtm(s, inverse=True) @ sqrtm(sigma)


def _setup(res: FitResults) -> tuple[ParamMap, ModelStructure, "_Targets", np.ndarray, int, np.ndarray]:
    """What every resampling scheme starts from: structure, targets, centred data, S."""
    _check_fit(res)
    pmap = res.param_map
    x = _centered(res)
    return pmap, ModelStructure(pmap), _Targets.build(res), x, x.shape[0], _sample_cov(x)


def _check_fit(res: FitResults) -> None:
    if res.param_map is None:
        raise OptionError("the bootstrap needs FitResults.param_map (fit the model with smsem.fit)")
    if getattr(res.param_map, "meanstructure", False):
        # Mean structures go to the FIML engine (_fiml_engine), except with constraints
        # beyond equalities of two labels, which its refits would not impose.
        raise OptionError("the bootstrap of a model with a mean structure and ==, <, > constraints is not "
                          "supported yet; use --boot 0 (n_boot=0)")


def bootstrap(
    res: FitResults,
    n_boot: int = 1000,
    seed: int = DEFAULT_BOOT_SEED,
    *,
    kind: str = "nonparametric",
    jobs: int = 1,
    progress: bool | None = None,
    include_inadmissible: bool = True,
) -> BootstrapResults:
    """Bootstrap a fitted model with the batched ML estimator.

    Parameters
    ----------
    res : FitResults
        The full-sample fit.
    n_boot : int, default=1000
        Number of draws.
    seed : int, default=20190102
        Seed of the ``SeedSequence`` from which one stream per draw is spawned.
    kind : {"nonparametric", "bollen-stine", "parametric"}, default="nonparametric"
    jobs : int, default=1
        Local worker processes; results do not depend on it.
    progress : bool, optional
        Show a tqdm progress bar on stderr; default: only when stderr is a terminal.
    include_inadmissible : bool, default=True
        Keep converged draws with a negative variance or a non-positive-definite
        covariance in the CIs, as lavaan does (they are always counted in ``failures``
        and :attr:`BootstrapResults.inadmissible`); ``False`` leaves them out
        (``--exclude-inadmissible``; see docs/bootstrap.md for the effect on the CIs of
        small variances).

    Returns
    -------
    BootstrapResults
    """
    from ._validation import check_single_group

    check_single_group(res, "the bootstrap")
    n_boot = check_int("n_boot", n_boot, low=1)
    seed = check_seed(seed)
    check_option("kind", kind, BOOT_KINDS)
    jobs = check_int("jobs", jobs, low=1)
    if _fiml_engine(res):
        return _bootstrap_fiml(res, n_boot, seed, kind, jobs, progress, include_inadmissible)
    pmap, st, targets, x, n, s_full = _setup(res)
    sigma_hat = st.implied(res.start[None, :])["Sigma"][0]
    fmin_full = fit_batch(pmap, s_full[None], res.start, s_start=s_full, structure=st)
    # The polished full-sample optimum (semopy stops a little short of it); semopy's
    # estimate if the polish fails.
    theta_full = fmin_full.theta[0] if fmin_full.converged[0] else res.start
    chi2_obs = float(n * fmin_full.fmin[0])
    if kind == "bollen-stine":
        x = _bollen_stine(x, s_full, sigma_hat)
    job = _Job(kind, pmap, theta_full, s_full if kind == "nonparametric" else sigma_hat,
               None if kind == "parametric" else x, sigma_hat if kind == "parametric" else None,
               n, seed, n_boot, targets, include_inadmissible)
    values, chi2, status = _execute(job, jobs, progress, "bootstrap")
    failures = {FAIL_REASONS[c]: int(np.sum(status == c)) for c in FAIL_REASONS if np.any(status == c)}
    estimate = targets.compute(st, theta_full[None, :], fmin_full.fmin, s_full[None], n)[0]
    return BootstrapResults(list(targets.names), values, failures, seed, kind, estimate, chi2, chi2_obs,
                            status, res, jobs, include_inadmissible)


def jackknife(res: FitResults) -> np.ndarray:
    """Leave-one-out statistics (n, k) by the batched estimator (rows in data order)."""
    if _fiml_engine(res):
        return _jackknife_fiml(res)
    pmap, st, targets, x, n, s_full = _setup(res)
    out = np.full((n, len(targets.names)), np.nan)
    total = x.T @ x
    colsum = x.sum(axis=0)
    for i0 in range(0, n, 256):
        xi = x[i0:i0 + 256]
        # Rank-one downdates of the full cross-product: no leave-one-out data copies.
        mean = (colsum[None, :] - xi) / (n - 1)
        s = (total[None] - xi[:, :, None] * xi[:, None, :]) / (n - 1) - mean[:, :, None] * mean[:, None, :]
        bf = fit_batch(pmap, s, res.start, s_start=s_full, structure=st)
        vals = targets.compute(st, bf.theta, bf.fmin, s, n - 1)
        vals[~bf.ok] = np.nan
        out[i0:i0 + len(xi)] = vals
    return out


# ------------------------------------------------------------------ FIML (missing data)
#
# lavaan's ``bootstrapLavaan`` on a ``missing = "ml"`` fit resamples respondents (rows with
# missing items included) and refits each resample by FIML. Here a draw is a vector of
# counts over respondents; per missing-data pattern its weighted count, mean and
# cross-products are formed (no resampled data set), and all draws of a chunk are refitted
# together by :func:`smsem.estimate.batched.fit_batch_fiml`, warm-started from the
# full-sample FIML estimate with its Hessian as the first metric. Same streams, chunks,
# statistics (less the fit indices and HTMT), CIs and draw accounting as the ML bootstrap.


def _fiml_engine(res: FitResults) -> bool:
    """True when the draws are refitted by the batched FIML engine: a FIML fit, or a
    complete-data fit with a mean structure (one missing-data pattern: FIML is then ML with
    means), unless it has constraints beyond equalities of two labels."""
    if getattr(res, "missing", "listwise") == "fiml":
        return True
    pm = getattr(res, "param_map", None)
    if pm is None or not getattr(pm, "meanstructure", False) or getattr(res, "partable", None) is None:
        return False
    from .estimate.matrices import nonlinear_constraints

    return not nonlinear_constraints(res.partable)


@dataclass(frozen=True)
class _FimlJob:
    """A FIML bootstrap's work (picklable; sent once per worker process)."""

    pmap: ParamMap
    start: np.ndarray
    hess0: np.ndarray
    patterns: Any            # smsem.estimate.batched.MissingPatterns of the full sample
    n: int
    seed: int
    n_boot: int
    targets: _Targets
    include_inadmissible: bool
    kind: str = "nonparametric"


def _fiml_setup(res: FitResults) -> tuple[Any, Any, "_Targets", np.ndarray]:
    """Patterns, structure, targets and the full-sample Hessian of a FIML fit."""
    from .estimate.batched import FimlStructure, MissingPatterns, fiml_hessian, fiml_moments

    if res.param_map is None or not getattr(res.param_map, "meanstructure", False):
        raise OptionError("the FIML bootstrap needs a FIML fit made by smsem.fit(..., missing='fiml')")
    pmap = res.param_map
    targets = _Targets.build(res)
    if any(m_ >= 4 for _, m_, _, _ in targets.label_cells):
        raise OptionError("the bootstrap of a := parameter built on a labelled intercept or mean is not "
                          "supported yet; use --boot 0 (n_boot=0)")
    x = res.data[list(pmap.base.observed)].to_numpy(dtype=float)
    pat = MissingPatterns.from_data(x)
    fs = FimlStructure(ModelStructure(pmap))
    with single_thread():
        hess0 = fiml_hessian(fs, np.asarray(res.start, dtype=float), fiml_moments(pat, np.ones((1, pat.n))))
    return pat, fs, targets, hess0


def _fiml_chunks(job: "_FimlJob", size: int | None = None) -> list[tuple[int, int]]:
    """Fixed chunks for the FIML refits, sized by the problem only (patterns x items: the
    per-(draw, pattern) arrays hold a few items-long rows each, so about 2 million numbers
    per array at most). Measured on the integrative survey (205 patterns): 13.0, 10.2, 9.8
    and 9.0 ms of CPU per draw with chunks of 16, 32, 64 and 128 draws."""
    pat = job.patterns
    if size is None:
        size = int(np.clip(_FIML_CHUNK_ELEMENTS // max(pat.n_patterns * pat.p, 1), 4, 128))
    return [(b0, min(b0 + size, job.n_boot)) for b0 in range(0, job.n_boot, size)]


_FIML_CHUNK_ELEMENTS = 2_000_000


def _bootstrap_fiml(res: FitResults, n_boot: int, seed: int, kind: str, jobs: int, progress: bool | None,
                    include_inadmissible: bool) -> BootstrapResults:
    if kind != "nonparametric":
        what = ("missing='fiml' (lavaan's Bollen-Stine and parametric bootstraps assume complete data)"
                if getattr(res, "missing", "listwise") == "fiml" else "a mean structure")
        raise OptionError(f"kind={kind!r} is not available with {what}; use kind='nonparametric'")
    pat, fs, targets, hess0 = _fiml_setup(res)
    theta_full = np.asarray(res.start, dtype=float)
    job = _FimlJob(res.param_map, theta_full, hess0, pat, pat.n, seed, n_boot, targets, include_inadmissible)
    values, chi2, status = _execute(job, jobs, progress, "FIML bootstrap")
    failures = {FAIL_REASONS[c]: int(np.sum(status == c)) for c in FAIL_REASONS if np.any(status == c)}
    estimate = targets.compute(fs.st, theta_full[None, :], None, None, pat.n)[0]
    return BootstrapResults(list(targets.names), values, failures, seed, kind, estimate, chi2, float("nan"),
                            status, res, jobs, include_inadmissible)


def _fiml_refit(job: _FimlJob, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Statistics (B, k) and status (B,) of the FIML refits to the case weights (B, n)."""
    from .estimate.batched import FimlStructure, fiml_moments, fit_batch_fiml

    fs = FimlStructure(ModelStructure(job.pmap))
    bf = fit_batch_fiml(fs, fiml_moments(job.patterns, weights), job.start, job.hess0)
    return _keep_used(job.targets.compute(fs.st, bf.theta, None, None, job.n), bf, job.include_inadmissible), bf.status


def _run_fiml_chunk(job: _FimlJob, b0: int, b1: int) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    # The same per-draw streams as the complete-data bootstrap (resample_counts).
    counts = np.stack([resample_counts(np.random.default_rng(np.random.SeedSequence(job.seed, spawn_key=(b,))),
                                       job.n) for b in range(b0, b1)])
    values, status = _fiml_refit(job, counts)
    # No chi2 per draw: it would need the unrestricted (EM) fit of every resample.
    return b0, values, np.full(b1 - b0, np.nan), status


def _jackknife_fiml(res: FitResults) -> np.ndarray:
    """Leave-one-out statistics (n, k) of a FIML fit: every leave-one-out refit is a draw
    with weight 0 on one respondent and 1 on the others, refitted in batches."""
    pat, _, targets, hess0 = _fiml_setup(res)
    job = _FimlJob(res.param_map, np.asarray(res.start, dtype=float), hess0, pat, pat.n, 0, pat.n, targets, False)
    n = pat.n
    out = np.full((n, len(targets.names)), np.nan)
    with single_thread():
        for i0 in range(0, n, 32):
            i1 = min(i0 + 32, n)
            w = np.ones((i1 - i0, n))
            w[np.arange(i1 - i0), np.arange(i0, i1)] = 0.0
            out[i0:i1] = _fiml_refit(job, w)[0]
    return out
