"""The proposition table of an ordinal (WLSMV, ULSMV, DWLS, ULS) fit.

Same table, verdicts and renderers as :func:`smsem.propositions.proposition_table` for ML: each
hypothesis (a structural path, an indirect effect along a chain, or a ``:=`` parameter) with its
estimate, SE and p-value (the fit's robust SEs; an indirect effect's SE by the delta method on the
product of its paths), its standardized value (lavaan's std.all, as in ``res.params``), and the
bootstrap CI of that standardized value behind the verdict. The draws are those of the batched
ordinal bootstrap (:func:`.bootstrap.bootstrap_ordinal`): each usable draw's free parameters are
turned into std.all values exactly as the full-sample fit's (same code), the product of the
standardized paths for a chain, the ``:=`` expression at the standardized free rows for a defined
parameter (lavaan's ``standardizedSolution()``).

CI methods: percentile, bc (bias-corrected), bca (the acceleration from the leave-one-out fits,
batched as the bootstrap: :func:`.bootstrap.jackknife_ordinal`; needs at least n usable draws, as
for ML) and normal. The mediation block (the chains whose every link is a proposition, with
their total indirect, direct and total effects) is :func:`smsem.propositions.mediation_block`
on :func:`.effects.ordinal_effects` with the same draws, as for ML.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from ...exceptions import OptionError

__all__ = ["ordinal_proposition_table", "ORDINAL_CI_METHODS"]

ORDINAL_CI_METHODS = ("percentile", "bc", "bca", "normal")
_DROPPED = "dropped (an item lost a category, or the refit did not converge)"


def _props(res, hypotheses):
    from ...model.hypotheses import default_hypotheses, load_hypotheses

    if hypotheses is None:
        return tuple(res.model.propositions) or default_hypotheses(res.model)
    if isinstance(hypotheses, (str, bytes)) or hasattr(hypotheses, "__fspath__"):
        return load_hypotheses(hypotheses, res.model)
    return tuple(hypotheses)


def _std_values(res, theta: np.ndarray, dstd=None) -> np.ndarray:
    """std.all of every row of ``res.params`` (``:=`` rows last: by ``dstd``, a
    :class:`.fit._DefinedStd`, or NaN without it)."""
    from .fit import _row_values

    info = res._ordinal
    eng, table = info["engine"], res.ordinal_table
    _, sa, _ = _row_values(eng, theta, table, info["ordinal"])
    n_def = int((table["op"] == ":=").sum())
    if not n_def:
        return sa
    if dstd is None:
        return np.concatenate([sa, np.full(n_def, np.nan)])
    return np.concatenate([sa, dstd(theta)[0]])


class _Rows:
    """Where each hypothesis reads its values in ``res.params`` (row indices) and its point row."""

    def __init__(self, res):
        self.res = res
        p = res.params
        self.key = {(a, o, b): i for i, (a, o, b) in enumerate(zip(p.lhs, p.op, p.rhs))}
        self.defined = {a: i for i, (a, o) in enumerate(zip(p.lhs, p.op)) if o == ":="}
        # free index (0-based) of each params row, -1 if fixed (the params rows are the table's)
        t = res.ordinal_table
        free = t["free"].to_numpy(dtype=int)
        self.free = np.concatenate([free[t["op"].to_numpy() != ":="] - 1,
                                    np.full(len(self.defined), -1)])

    def path_rows(self, p) -> list[int]:
        rows = []
        for a, b in zip(p.chain, p.chain[1:]):
            i = self.key.get((b, "~", a))
            if i is None:
                raise OptionError(f"hypothesis {p.id}: the model has no path {b} ~ {a}")
            rows.append(i)
        return rows

    def point(self, p, std: np.ndarray) -> dict:
        from ...propositions import _EXPECTED

        prm = self.res.params
        if p.kind == "defined":
            if p.defined not in self.defined:
                raise OptionError(f"hypothesis {p.id}: the model has no := parameter {p.defined}")
            i = self.defined[p.defined]
            r = prm.iloc[i]
            est, se, pv, sd = float(r.est), float(r.se), float(r.pvalue), float(std[i])
            path = p.defined
        else:
            rows = self.path_rows(p)
            ests = prm["est"].to_numpy(dtype=float)[rows]
            est = float(np.prod(ests))
            sd = float(np.prod(std[rows]))
            if len(rows) == 1:
                se, pv = float(prm["se"].iloc[rows[0]]), float(prm["pvalue"].iloc[rows[0]])
            else:  # delta method on the product of the paths
                g = np.zeros(self.res.vcov.shape[0])
                for k, i in enumerate(rows):
                    if self.free[i] >= 0:
                        g[self.free[i]] += float(np.prod(np.delete(ests, k)))
                se = float(np.sqrt(g @ self.res.vcov @ g))
                pv = float(2 * stats.norm.sf(abs(est / se))) if se > 0 else float("nan")
            path = p.label
        return {"id": p.id, "proposition": p.proposition, "path": path, "expected": _EXPECTED[p.sign],
                "est": est, "std_est": sd, "se": se, "pvalue": pv, "label": p.text}

    def statistic(self, p, m: np.ndarray) -> np.ndarray:
        """The hypothesis' standardized value for each row of std.all draws ``m`` (B, rows)."""
        if p.kind == "defined":
            return m[:, self.defined[p.defined]]
        return np.prod(m[:, self.path_rows(p)], axis=1)


def ordinal_proposition_table(res, boot=None, *, hypotheses: str | Sequence | None = None, n_boot: int = 1000,
                              seed=None, level: float = 0.95, ci: str = "percentile"):
    """:class:`smsem.propositions.PropositionTable` of an ordinal fit (see the module).

    ``boot``: an :class:`.bootstrap.OrdinalBootstrap` of ``res``; if omitted, ``n_boot`` draws
    are made with ``seed`` (``n_boot=0``: the table without CIs, verdict "no bootstrap").
    """
    from ..._validation import check_option, check_real
    from ...bootstrap import DEFAULT_BOOT_SEED, bc_ci, bca_ci, normal_ci, percentile_ci
    from ...propositions import TABLE_COLUMNS, PropositionTable, mediation_block, verdict

    if getattr(res, "_ordinal", None) is None:
        raise OptionError("ordinal_proposition_table needs a fit with ordered items (fit(..., ordered=...))")
    check_option("ci", ci, ORDINAL_CI_METHODS)
    level = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
    props = _props(res, hypotheses)
    from .fit import _DefinedStd

    info = res._ordinal
    n_def = int((res.ordinal_table["op"] == ":=").sum())
    dstd = _DefinedStd(info["engine"], info["ordinal"]) if n_def else None
    has_def = any(p.kind == "defined" for p in props)
    where = _Rows(res)
    std0 = _std_values(res, res.start, dstd)
    rows = [where.point(p, std0) for p in props]
    if boot is None and n_boot > 0 and props:
        from .bootstrap import bootstrap_ordinal

        boot = bootstrap_ordinal(res, n_boot, seed=DEFAULT_BOOT_SEED if seed is None else seed)
    if boot is not None and props:
        ok = np.flatnonzero(boot.ok)
        m = np.array([_std_values(res, boot.estimates[b], dstd if has_def else None)
                      for b in ok]).reshape(len(ok), -1)
        draws = np.stack([where.statistic(p, m) for p in props], axis=1)
        est = np.array([where.statistic(p, std0[None, :])[0] for p in props])
        if ci == "percentile":
            lo, hi = percentile_ci(draws, level)
        elif ci == "normal":
            lo, hi = normal_ci(draws, est, level)
        elif ci == "bc":
            lo, hi = bc_ci(draws, est, level)
        else:  # bca: the acceleration from the batched jackknife, standardized as the draws
            from .bootstrap import check_bca, jackknife_ordinal

            check_bca(len(ok), len(res.data))
            jk = jackknife_ordinal(res)
            mj = np.array([_std_values(res, t, dstd if has_def else None) if np.all(np.isfinite(t))
                           else np.full(len(std0), np.nan) for t in jk])
            jack = np.stack([where.statistic(p, mj) for p in props], axis=1)
            lo, hi = bca_ci(draws, est, jack, level)
    else:
        lo = hi = np.full(len(props), np.nan)
    for r, p, a, b in zip(rows, props, lo, hi):
        r.update(ci_lower=float(a), ci_upper=float(b), verdict=verdict(a, b, p.sign))
    n_b = int(len(boot.ok)) if boot is not None else 0
    n_fail = int(n_b - boot.n_ok) if boot is not None else 0
    return PropositionTable(pd.DataFrame(rows, columns=TABLE_COLUMNS), int(res.n), n_b, n_fail,
                            {_DROPPED: n_fail} if n_fail else {}, level, ci, dict(res.fit_indices),
                            mediation_block(res, props, boot, level=level, ci=ci), "")
