"""Summaries of a study in simsem's and Mplus' terms (computed here; formatted in report/).

Per cell and free parameter: population value, mean estimate, empirical SD, mean SE,
relative bias, relative SE bias, RMSE, coverage, mean CI width and power (two-sided and
one-sided in the hypothesized direction), every rate with its Wilson interval for the
Monte Carlo uncertainty. Per cell: convergence, improper solutions and fit-index
distributions. Per proposition: power curves over n and the sample size needed.

Which replications count: those with status ``ok`` (converged); improper solutions are
counted and kept unless ``exclude_improper`` (simsem and Mplus keep them by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.stats.proportion import proportion_confint

from .config import StudyConfig
from .scenarios import models, true_values
from .store import Store

__all__ = ["StudyResults", "wilson", "interpolate_n", "MC_LEVEL", "CFI_CUT", "RMSEA_CUT"]

MC_LEVEL = 0.95  # level of the Wilson intervals for Monte Carlo uncertainty
CFI_CUT, RMSEA_CUT = 0.95, 0.06  # Hu & Bentler (1999) cut-offs
_KEY = ["lhs", "op", "rhs"]


def wilson(count, nobs) -> tuple[np.ndarray, np.ndarray]:
    """95% Wilson interval of ``count / nobs`` (statsmodels); NaN where ``nobs`` is 0."""
    count = np.asarray(count, dtype=float)
    nobs = np.asarray(nobs, dtype=float)
    safe = np.where(nobs > 0, nobs, 1.0)
    lo, hi = proportion_confint(count, safe, alpha=1 - MC_LEVEL, method="wilson")
    lo = np.where(nobs > 0, lo, np.nan)
    hi = np.where(nobs > 0, hi, np.nan)
    return lo, hi


def interpolate_n(ns: np.ndarray, power: np.ndarray, target: float) -> tuple[float, float]:
    """Smallest grid n with ``power >= target`` and the n interpolated linearly before it.

    The interpolated n lies on the segment between that grid point and the one before
    it; it equals the grid n when the first grid point already reaches the target.
    Returns ``(nan, nan)`` when no grid point reaches the target.
    """
    ns = np.asarray(ns, dtype=float)
    power = np.asarray(power, dtype=float)
    hit = np.flatnonzero(power >= target)
    if hit.size == 0:
        return float("nan"), float("nan")
    i = int(hit[0])
    if i == 0:
        return float(ns[0]), float(ns[0])
    n0, n1, p0, p1 = ns[i - 1], ns[i], power[i - 1], power[i]
    return float(ns[i]), float(n0 + (target - p0) * (n1 - n0) / (p1 - p0))


@dataclass(frozen=True)
class StudyResults:
    """The stored replications of a study and everything summarized from them.

    Attributes
    ----------
    config : StudyConfig
    replications : DataFrame
        One row per stored replication (status, reason, improper, fit indices).
    estimates : DataFrame
        One row per replication and free parameter (est, se, std, bootstrap CI bounds).
    """

    config: StudyConfig
    replications: pd.DataFrame = field(repr=False)
    estimates: pd.DataFrame = field(repr=False)

    @classmethod
    def from_store(cls, config: StudyConfig, store: Store) -> "StudyResults":
        return cls(config, store.replications(), store.estimates())

    @property
    def complete(self) -> bool:
        """Every replication of every cell is stored."""
        return len(self.replications) == self.config.n_tasks

    @cached_property
    def cells(self) -> pd.DataFrame:
        """One row per cell: index and factor levels."""
        return pd.DataFrame([c.factors() for c in self.config.cells])

    @cached_property
    def raw(self) -> pd.DataFrame:
        """The per-replication table with the cell factors (non-converged rows kept)."""
        return self.cells.merge(self.replications, on="cell", how="right")

    @cached_property
    def _paths(self) -> pd.DataFrame:
        """Proposition paths of the analysis model: lhs, rhs, path_id, proposition, sign."""
        from ..model.hypotheses import default_hypotheses

        _, ana = models(self.config)
        props = ana.propositions
        if not props and (self.config.population_values or self.config.interaction):
            # One's own study (population values of its own) without hypotheses: every
            # regression path. (A shipped study such as the misspecified analysis model keeps
            # no planning rows when its analysis model has no propositions.)
            props = default_hypotheses(ana)
        # Direct paths only (an indirect or := hypothesis has no Wald test per replication;
        # list its paths under one proposition id for their joint power). A path in two
        # entries counts once; no expected sign (0) takes the population's sign.
        rows = [(p.target, "~", p.source, p.id, p.proposition or p.id, p.sign if p.sign else np.nan)
                for p in props if p.kind == "path"]
        out = pd.DataFrame(rows, columns=[*_KEY, "path_id", "proposition", "sign"])
        return out.drop_duplicates(subset=list(_KEY), keep="first").reset_index(drop=True)

    @cached_property
    def _used(self) -> pd.DataFrame:
        """Estimates of the replications that enter the summaries, with truth and tests."""
        cfg = self.config
        reps = self.replications
        keep = reps.status == "ok"
        if cfg.exclude_improper:
            keep &= reps.improper == 0
        est = self.estimates.merge(reps.loc[keep, ["cell", "rep"]], on=["cell", "rep"])
        truth = pd.concat([true_values(cfg, c).assign(cell=c.index) for c in cfg.cells], ignore_index=True)
        est = est.merge(truth, on=["cell", *_KEY], how="left")
        est = est.merge(self._paths, on=_KEY, how="left")
        # The hypothesized direction: the proposition's sign, else the population sign.
        direction = est["sign"].where(est["sign"].notna(), np.sign(est["pop"]).replace(0, np.nan))
        z = est["est"] / est["se"]
        zc = stats.norm.ppf(0.5 + cfg.level / 2)
        est["reject"] = (2 * stats.norm.sf(np.abs(z)) < cfg.alpha).astype(float)
        est["reject_one"] = (direction * z > stats.norm.isf(cfg.alpha)).astype(float).where(direction.notna())
        est["covered"] = (np.abs(est["est"] - est["pop"]) <= zc * est["se"]).astype(float)
        est["width"] = 2 * zc * est["se"]
        est["sqerr"] = (est["est"] - est["pop"]) ** 2
        has_boot = est["boot_lower"].notna()
        est["boot_reject"] = ((est["boot_lower"] > 0) | (est["boot_upper"] < 0)).astype(float).where(has_boot)
        est["boot_covered"] = ((est["boot_lower"] <= est["pop"]) & (est["pop"] <= est["boot_upper"])
                               ).astype(float).where(has_boot)
        return est

    @cached_property
    def parameters(self) -> pd.DataFrame:
        """Per cell and free parameter: simsem's/Mplus' columns with Wilson intervals.

        ``rel_bias = (mean_est - pop) / pop`` and ``rel_se_bias = (mean_se - sd_est) /
        sd_est`` (NaN when the denominator is 0); ``coverage`` of the Wald CI at
        ``config.level``; ``power`` rejects H0: 0 two-sided at ``alpha``; ``power_one``
        one-sided in the hypothesized direction (the proposition's sign, else the sign of
        the population value). ``*_lower``/``*_upper``: 95% Wilson interval.
        """
        e = self._used
        g = e.groupby(["cell", *_KEY], sort=False)
        out = g.agg(
            pop=("pop", "first"), pop_std=("pop_std", "first"), path_id=("path_id", "first"),
            proposition=("proposition", "first"), reps=("est", "size"), mean_est=("est", "mean"),
            sd_est=("est", "std"), mean_se=("se", "mean"), mean_std=("std", "mean"), mse=("sqerr", "mean"),
            covered=("covered", "sum"), ci_width=("width", "mean"), rejected=("reject", "sum"),
            rejected_one=("reject_one", "sum"), n_one=("reject_one", "count"),
            boot_rejected=("boot_reject", "sum"), boot_covered=("boot_covered", "sum"),
            n_boot=("boot_reject", "count"),
        ).reset_index()
        out["bias"] = out.mean_est - out["pop"]
        out["rel_bias"] = out.bias / out["pop"].where(out["pop"] != 0)
        out["rel_se_bias"] = (out.mean_se - out.sd_est) / out.sd_est.where(out.sd_est != 0)
        out["rmse"] = np.sqrt(out.mse)
        for name, count, nobs in (("coverage", "covered", "reps"), ("power", "rejected", "reps"),
                                  ("power_one", "rejected_one", "n_one"), ("boot_power", "boot_rejected", "n_boot"),
                                  ("boot_coverage", "boot_covered", "n_boot")):
            n_ = out[nobs].to_numpy(dtype=float)
            out[name] = np.where(n_ > 0, out[count] / np.where(n_ > 0, n_, 1), np.nan)
            out[f"{name}_lower"], out[f"{name}_upper"] = wilson(out[count], n_)
        cols = ["cell", *self.config.grid_keys, *_KEY, "path_id", "proposition", "reps", "pop", "mean_est", "sd_est",
                "mean_se", "bias", "rel_bias", "rel_se_bias", "rmse", "coverage", "coverage_lower",
                "coverage_upper", "ci_width", "power", "power_lower", "power_upper", "power_one",
                "power_one_lower", "power_one_upper", "pop_std", "mean_std"]
        if self.config.inference == "bootstrap":
            cols += ["boot_power", "boot_power_lower", "boot_power_upper", "boot_coverage",
                     "boot_coverage_lower", "boot_coverage_upper"]
        return out.merge(self.cells, on="cell")[cols]

    @cached_property
    def fit(self) -> pd.DataFrame:
        """Per cell: convergence, improper solutions, and fit-index distributions."""
        cfg = self.config
        rows = []
        for c in cfg.cells:
            r = self.replications[self.replications.cell == c.index]
            ok = r[r.status == "ok"]
            used = ok[ok.improper == 0] if cfg.exclude_improper else ok
            reasons = r.loc[r.status != "ok", "reason"].str.split(":").str[0].value_counts()
            row = {
                **c.factors(), "reps": len(r), "converged": len(ok),
                "nonconverged": int((r.status == "nonconvergence").sum()),
                "errors": int((r.status == "error").sum()),
                "improper": int(ok.improper.sum()), "used": len(used),
                "failure_reasons": "; ".join(f"{k} ({v})" for k, v in reasons.items()),
                "chi2_mean": used.chi2.mean(), "df": used["df"].mean(),
                # NaN when the fits give no test (LMS/QML have a likelihood, no chi-square)
                "chi2_reject": (used.pvalue < cfg.alpha).mean() if used.pvalue.notna().any() else np.nan,
                "cfi_mean": used.cfi.mean(), "cfi_sd": used.cfi.std(),
                "cfi_ok": (used.cfi >= CFI_CUT).mean() if used.cfi.notna().any() else np.nan,
                "tli_mean": used.tli.mean(),
                "rmsea_mean": used.rmsea.mean(), "rmsea_sd": used.rmsea.std(),
                "rmsea_ok": (used.rmsea <= RMSEA_CUT).mean() if used.rmsea.notna().any() else np.nan,
            }
            row["convergence"] = row["converged"] / row["reps"] if row["reps"] else np.nan
            rows.append(row)
        out = pd.DataFrame(rows)
        out["convergence_lower"], out["convergence_upper"] = wilson(out.converged, out.reps)
        for k in ("cfi_ok", "rmsea_ok"):
            out[f"{k}_lower"], out[f"{k}_upper"] = wilson(np.round(out[k].fillna(0) * out.used), out.used)
        return out

    def _power_column(self) -> str:
        return "power_one" if self.config.planning_test == "one-sided" else "power"

    @cached_property
    def power_curves(self) -> pd.DataFrame:
        """Power of each proposition path over n, plus per proposition the ``min`` over its
        paths and the ``joint`` power (share of replications rejecting all its paths).

        Columns: cell factors, ``proposition``, ``path_id`` (a path, ``"min"`` or
        ``"joint"``), ``path``, ``power``, ``lower``, ``upper``.
        """
        col = self._power_column()
        p = self.parameters[self.parameters.path_id.notna()]
        curves = p[["cell", *self.config.grid_keys, "proposition", "path_id"]].copy()
        curves["path"] = p.rhs + " -> " + p.lhs
        curves["power"], curves["lower"], curves["upper"] = p[col], p[f"{col}_lower"], p[f"{col}_upper"]
        mins = (curves.sort_values("power").groupby(["cell", "proposition"], sort=False).head(1)
                .assign(path_id="min", path="all paths (weakest)"))
        e = self._used[self._used.path_id.notna()]
        rej = e["reject_one" if col == "power_one" else "reject"]
        per_rep = rej.groupby([e.cell, e.proposition, e.rep]).min().groupby(level=[0, 1]).agg(["sum", "count"])
        joint = per_rep.reset_index().merge(self.cells, on="cell")
        joint["path_id"], joint["path"] = "joint", "all paths rejected together"
        joint["power"] = joint["sum"] / joint["count"]
        joint["lower"], joint["upper"] = wilson(joint["sum"], joint["count"])
        out = pd.concat([curves, mins, joint[curves.columns]], ignore_index=True)
        return out.sort_values(["proposition", "path_id", *self.config.grid_keys], kind="stable").reset_index(drop=True)

    @cached_property
    def planning(self) -> pd.DataFrame:
        """Per proposition (and level of every other factor): the sample size needed.

        ``n_grid``: smallest n on the grid at which all the proposition's paths reach
        ``target_power`` (the weakest path's power); ``n_interpolated``: linear
        interpolation of that power between the grid points around the crossing; NaN
        when the grid never reaches the target. ``n_grid_joint``/``n_interpolated_joint``:
        the same for the joint power.
        """
        cfg = self.config
        others = [k for k in self.config.grid_keys if k != "n"]
        curves = self.power_curves
        rows = []
        for keys, g in curves[curves.path_id.isin(["min", "joint"])].groupby(["proposition", *others], sort=True):
            mins = g[g.path_id == "min"].sort_values("n")
            joint = g[g.path_id == "joint"].sort_values("n")
            n_grid, n_int = interpolate_n(mins.n, mins.power, cfg.target_power)
            nj, nj_int = interpolate_n(joint.n, joint.power, cfg.target_power)
            rows.append({
                "proposition": keys[0], **dict(zip(others, keys[1:])),
                "paths": ", ".join(self._paths.loc[self._paths.proposition == keys[0], "path_id"]),
                "target_power": cfg.target_power, "test": cfg.planning_test,
                "n_grid": n_grid, "n_interpolated": n_int, "n_grid_joint": nj, "n_interpolated_joint": nj_int,
                "power_at_max_n": float(mins.power.iloc[-1]) if len(mins) else np.nan,
                "max_n": int(mins.n.iloc[-1]) if len(mins) else np.nan,
            })
        return pd.DataFrame(rows)

    @cached_property
    def planning_paths(self) -> pd.DataFrame:
        """Per proposition path (and level of every other factor): the n at which that
        path alone reaches ``target_power``; same columns as :attr:`planning` without the
        joint ones."""
        cfg = self.config
        others = [k for k in self.config.grid_keys if k != "n"]
        curves = self.power_curves
        rows = []
        paths = curves[~curves.path_id.isin(["min", "joint"])]
        for keys, g in paths.groupby(["proposition", "path_id", *others], sort=True):
            g = g.sort_values("n")
            n_grid, n_int = interpolate_n(g.n, g.power, cfg.target_power)
            rows.append({
                "proposition": keys[0], "path_id": keys[1], "path": g.path.iloc[0],
                **dict(zip(others, keys[2:])), "target_power": cfg.target_power, "test": cfg.planning_test,
                "n_grid": n_grid, "n_interpolated": n_int, "power_at_max_n": float(g.power.iloc[-1]),
                "max_n": int(g.n.iloc[-1]),
            })
        return pd.DataFrame(rows)

