"""Direct, indirect and total effects of an ordinal (WLSMV, ULSMV, DWLS, ULS, WLS) fit.

The same table as :func:`smsem.estimate.effects.effects` for ML (``EFFECT_COLUMNS``; the ``:=``
rows in ``DEFINED_COLUMNS``), computed from the ordinal fit's free vector (lavaan's order,
thresholds included) and its covariance matrix ``res.vcov`` (the robust sandwich for WLSMV and
ULSMV): every effect is a function of the structural matrices at ``theta``, its SE is the delta
method ``sqrt(g' V g)`` with ``g`` by central differences, as lavaan does for a ``:=`` row. So the
row ``IS -> IC -> EA -> OP`` equals lavaan's ``ind := b1*d*f`` on the same fit (est, se; std.all
the product of the std.all paths, lavaan's ``standardizedSolution()`` of that row), the total
indirect effect the sum of the chains, the total effect direct + total indirect
(``scripts/lavaan_wlsmv_reference.R`` case ``integrative_effects``).

Standardized effects are ``effect * sd(x) / sd(y)`` with the model-implied SDs of the latent
variables (the structural model of an ordinal fit joins latent variables only: regressions on
observed variables are refused by the fit). ``:=`` rows are the fit's own (``res.params``),
evaluated at ``theta`` by the code that gives ``res.params`` and ``res.standardized``.

With ``boot`` (an :class:`.bootstrap.OrdinalBootstrap` of ``res``) every usable draw's free
vector is turned into the same values, and the CIs (percentile, bc, bca with the batched
jackknife, normal) are those of :mod:`smsem.bootstrap`'s functions, as for ML.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ...exceptions import OptionError, SpecError

__all__ = ["ordinal_effects"]


class _DefinedValues:
    """``theta -> (est, std.all)`` of the fit's ``:=`` rows (the order of ``res.params``)."""

    def __init__(self, res):
        from .fit import _DefinedStd

        info = res._ordinal
        self.std = _DefinedStd(info["engine"], info["ordinal"])

    def __call__(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        d = self.std
        x = np.zeros(d.nx)
        for f, _ in d.slots:
            x[f] = theta[f]
        v = d.params.values(x)
        est = np.array([float(d.full[n].evaluate(v)) for n in d.names])
        return est, d(theta)[0]


def _effect_values(res, rows):
    """``theta -> [effects, std.all effects]`` (length ``2 len(rows)``)."""
    info = res._ordinal
    eng, ordinal = info["engine"], info["ordinal"]
    inner = list(eng.pm.matrices_at(eng.split(res.start)[0]).inner)
    for r in rows:
        for v in (r[0], r[1]):
            if v not in inner:
                raise SpecError(f"effects of an ordinal fit: {v} is not a latent variable of the model")
    idx = {v: i for i, v in enumerate(inner)}

    def values(theta: np.ndarray) -> np.ndarray:
        mx = eng.matrices(theta, ordinal)
        b = mx.beta
        t = np.linalg.inv(np.eye(len(inner)) - b) - np.eye(len(inner))
        sd = np.sqrt(np.diag(mx.inner_cov))
        out = np.empty(2 * len(rows))
        for k, (y, x, _, _, spec) in enumerate(rows):
            if spec[0] == "chain":
                c = spec[1]
                v = float(np.prod([b[idx[c[i + 1]], idx[c[i]]] for i in range(len(c) - 1)]))
            elif spec[0] == "total":
                v = t[idx[y], idx[x]]
            else:
                v = t[idx[y], idx[x]] - b[idx[y], idx[x]]
            out[k] = v
            out[len(rows) + k] = v * sd[idx[x]] / sd[idx[y]]
        return out

    return values


def _boot_columns(df: pd.DataFrame, draws: np.ndarray, est: np.ndarray, jack, level: float, ci: str,
                  m: int) -> pd.DataFrame:
    """``BOOT_COLUMNS`` from ``draws`` (B, 2m): the m values then their std.all versions."""
    from ...bootstrap import bc_ci, bca_ci, normal_ci, percentile_ci

    out = df.copy()
    if ci == "percentile":
        lo, hi = percentile_ci(draws, level)
    elif ci == "normal":
        lo, hi = normal_ci(draws, est, level)
    elif ci == "bc":
        lo, hi = bc_ci(draws, est, level)
    else:
        lo, hi = bca_ci(draws, est, jack, level)
    out["boot_se"] = np.nanstd(draws[:, :m], axis=0, ddof=1) if len(draws) > 1 else np.nan
    out["boot_ci_lower"], out["boot_ci_upper"] = lo[:m], hi[:m]
    out["std_boot_ci_lower"], out["std_boot_ci_upper"] = lo[m:], hi[m:]
    return out


def ordinal_effects(res, outcome: str | Sequence[str] | None = None, *, level: float = 0.95, boot=None,
                    ci: str = "percentile"):
    """:class:`smsem.estimate.effects.Effects` of an ordinal fit (see the module).

    ``boot``: an :class:`.bootstrap.OrdinalBootstrap` of ``res`` (adds ``BOOT_COLUMNS``).
    """
    from ..._validation import check_option, check_real
    from ..effects import (BOOT_COLUMNS, DEFINED_COLUMNS, EFFECT_COLUMNS, Effects, _assemble,
                           _inference, compile_defined, delta_se, jacobian)
    from ..effects import effect_rows
    from .bootstrap import ORDINAL_CI

    if getattr(res, "_ordinal", None) is None:
        raise OptionError("ordinal_effects needs a fit with ordered items (fit(..., ordered=...))")
    level = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
    check_option("ci", ci, ORDINAL_CI)
    parsed = res.model.parsed
    rows = effect_rows(parsed, outcome)
    theta = np.asarray(res.start, dtype=float)
    vcov = np.asarray(res.vcov, dtype=float)
    values = _effect_values(res, rows)
    table = _assemble(rows, values, theta, vcov, level) if rows else pd.DataFrame(columns=EFFECT_COLUMNS)

    compiled = compile_defined(parsed)
    dvals = None
    if compiled:
        dv = _DefinedValues(res)
        by_name = {n: i for i, n in enumerate(dv.std.names)}
        order = [by_name[d.name] for d, _ in compiled]

        def dvals(t):
            a, s = dv(t)
            return np.concatenate([a[order], s[order]])

        m = len(compiled)
        est = dvals(theta)
        se = delta_se(jacobian(dvals, theta), vcov)
        z, p, lo, hi = _inference(est[:m], se[:m], level)
        _, _, slo, shi = _inference(est[m:], se[m:], level)
        defined = pd.DataFrame({
            "name": [d.name for d, _ in compiled], "expression": [d.expression for d, _ in compiled],
            "est": est[:m], "se": se[:m], "z": z, "pvalue": p, "ci_lower": lo, "ci_upper": hi,
            "std_all": est[m:], "std_se": se[m:], "std_ci_lower": slo, "std_ci_upper": shi,
        }, columns=DEFINED_COLUMNS)
    else:
        defined = pd.DataFrame(columns=DEFINED_COLUMNS)

    if boot is not None:
        ok = np.flatnonzero(boot.ok)
        jk = None
        if ci == "bca":
            from .bootstrap import check_bca, jackknife_ordinal

            check_bca(len(ok), len(res.data))
            jk = jackknife_ordinal(res)
        for which, fn, n_rows in (("table", values if rows else None, len(rows)),
                                  ("defined", dvals, len(defined))):
            df = table if which == "table" else defined
            if fn is None or not n_rows:
                df = df.copy()
                for c in BOOT_COLUMNS:
                    df[c] = pd.Series(dtype=float)
            else:
                with np.errstate(all="ignore"):
                    draws = np.array([fn(boot.estimates[b]) for b in ok]).reshape(len(ok), 2 * n_rows)
                    jack = None
                    if jk is not None:
                        jack = np.array([fn(t) if np.all(np.isfinite(t)) else np.full(2 * n_rows, np.nan)
                                         for t in jk])
                df = _boot_columns(df, draws, fn(theta), jack, level, ci, n_rows)
            if which == "table":
                table = df
            else:
                defined = df
    return Effects(table, defined, level, int(res.n))
