"""Synthetic diagnostic answers: organizations at a stated level, departments with a gap.

The response model (one organization, one department ``d``): respondent ``r`` answers
item ``i`` with the code ``1 + #{k : y_ri > t_k}`` of the continuous response

    y_ri = mu_di + person_sd * z_r + item_sd * e_ri,   z_r, e_ri ~ N(0, 1),

cut at ``t = 1.5, 2.5, 3.5, 4.5``. ``z_r`` is the respondent's general perception of the
integration (it makes the items correlate), ``e_ri`` the item-specific part. Each
``mu_di`` is solved (Brent's method) so that the *expected code* is exactly
``T_d / 20 + s_d * (gap / 2) * w_i / sum(w)`` for the organization's expected total ``T``
(the middle of the level band by default), ``s_d = -1`` for the first department and
``+1`` for the second: so the expected total is ``T - gap/2`` for sales and ``T + gap/2``
for marketing, and the expected gap is exactly ``gap``, spread over items by weights ``w``.

Streams: organization ``j`` draws from ``SeedSequence(seed).spawn(n_orgs)[j]``, so an
organization's answers do not depend on how many others are simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import optimize, stats

from .._validation import check_int, check_real, check_seed
from ..exceptions import OptionError
from .instrument import Instrument, load_instrument

__all__ = ["simulate_diagnostic", "expected_code", "total_moments", "TotalMoments", "DEFAULT_DIAG_SEED"]

from .._defaults import DEFAULT_DIAG_SEED  # noqa: E402  (re-exported)


def _cuts(points: int) -> np.ndarray:
    return np.arange(1, points) + 0.5


def expected_code(mu: np.ndarray, sd: float, points: int = 5) -> np.ndarray:
    """Expected Likert code ``E[1 + #{k: y > t_k}]`` for ``y ~ N(mu, sd^2)``."""
    mu = np.asarray(mu, dtype=float)
    return 1.0 + stats.norm.sf((_cuts(points)[None, :] - mu.reshape(-1, 1)) / sd).sum(axis=1).reshape(mu.shape)


def _solve_mu(target: float, sd: float, points: int) -> float:
    """The location whose expected code is ``target`` (strictly inside 1..points)."""
    return float(optimize.brentq(lambda m: expected_code(np.array([m]), sd, points)[0] - target,
                                 -30.0 * sd - 10, points + 30.0 * sd + 10, xtol=1e-12))


@dataclass(frozen=True)
class TotalMoments:
    """Population mean and SD of the total score of one department (exact up to quadrature)."""

    mean: float
    sd: float


def total_moments(mu: np.ndarray, person_sd: float, item_sd: float, points: int = 5,
                  nodes: int = 80) -> TotalMoments:
    """Mean and SD of ``sum_i code_i`` under the response model (no missing answers).

    Given ``z`` the items are independent, so ``Var(total) = E[Var(total|z)] + Var(E[total|z])``;
    the outer expectation uses Gauss-Hermite quadrature with ``nodes`` points.
    """
    x, w = np.polynomial.hermite_e.hermegauss(nodes)
    w = w / w.sum()
    cuts = _cuts(points)
    mu = np.asarray(mu, dtype=float)
    cond_mean = np.empty(len(x))
    cond_var = np.empty(len(x))
    for k, z in enumerate(x):
        # P(code > c) for each item and cut, given z.
        sf = stats.norm.sf((cuts[None, :] - (mu[:, None] + person_sd * z)) / item_sd)
        surv = np.concatenate([np.ones((len(mu), 1)), sf, np.zeros((len(mu), 1))], axis=1)
        probs = -np.diff(surv, axis=1)  # P(code = c) = P(code >= c) - P(code >= c + 1)
        codes = np.arange(1, points + 1)
        m = probs @ codes
        cond_mean[k] = m.sum()
        cond_var[k] = (probs @ codes**2 - m**2).sum()
    mean = float(w @ cond_mean)
    var = float(w @ cond_var + w @ (cond_mean - mean) ** 2)
    return TotalMoments(mean, float(np.sqrt(var)))


def _targets(inst: Instrument, level, total) -> list[float]:
    if total is not None:
        totals = [total] if np.isscalar(total) else list(total)
        return [check_real("total", t, low=inst.min_total, high=inst.max_total, low_open=True, high_open=True)
                for t in totals]
    levels = [level] if isinstance(level, str) else list(level)
    if not levels:
        raise OptionError("level must name at least one level")
    for lv in levels:
        if lv not in inst.level_ids:
            raise OptionError(f"level must be one of {', '.join(inst.level_ids)}; got {lv!r}")
    return [inst.band_center(lv) for lv in levels]


def simulate_diagnostic(
    level: str | Sequence[str] = "aligned",
    n: int = 50,
    gap: float = 0.0,
    seed: int = DEFAULT_DIAG_SEED,
    *,
    total: float | Sequence[float] | None = None,
    departments: tuple[str, str] = ("sales", "marketing"),
    item_weights: Sequence[float] | None = None,
    person_sd: float = 0.6,
    item_sd: float = 0.8,
    missing: float = 0.0,
    person_scores: Sequence[float] | None = None,
    instrument: Instrument | None = None,
) -> pd.DataFrame:
    """Simulate diagnostic answers for one or more organizations.

    Parameters
    ----------
    level : str or sequence of str, default="aligned"
        The level of each organization (one organization per entry): its expected total
        is the middle of the band (30, 50, 70, 90 for the shipped key).
    n : int, default=50
        Respondents per department and organization.
    gap : float, default=0.0
        Expected total of the second department minus the first (marketing minus
        sales), in total-score points.
    seed : int, default=20060701
    total : float or sequence of float, optional
        Expected organization totals instead of ``level``.
    departments : (str, str), default=("sales", "marketing")
    item_weights : sequence of float, optional
        Non-negative weights spreading the gap over the items (default: equally).
    person_sd, item_sd : float, default=0.6, 0.8
        SDs of the respondent and item-specific parts of the continuous response.
    missing : float, default=0.0
        Probability that an answer is left empty (completely at random).
    person_scores : sequence of float, optional
        The respondent part ``z_r`` of every output row (``2 * n`` per organization, in
        output order), e.g. standardized scores from another survey of the same people,
        so that the diagnostic correlates with them. Default: independent N(0, 1) draws.
        Expected totals are exact only when these have mean 0 and variance 1.
    instrument : Instrument, optional
        Default the shipped ``krk_diagnostic``.

    Returns
    -------
    DataFrame
        Columns ``org`` (``org1``, ``org2``, ...), ``department`` and the items (integer
        codes; nullable ``Int64`` with ``<NA>`` when ``missing > 0``). ``df.attrs["smsem"]`` holds the settings and
        the expected total of every organization and department.
    """
    inst = instrument if instrument is not None else load_instrument()
    n = check_int("n", n, low=1)
    seed = check_seed(seed)
    gap = check_real("gap", gap)
    person_sd = check_real("person_sd", person_sd, low=0)
    item_sd = check_real("item_sd", item_sd, low=0, low_open=True)
    missing = check_real("missing", missing, low=0, high=1, high_open=True)
    targets = _targets(inst, level, total)
    k, p = inst.scale_points, inst.n_items
    w = np.ones(p) if item_weights is None else np.asarray(item_weights, dtype=float)
    if w.shape != (p,) or np.any(w < 0) or not np.all(np.isfinite(w)) or w.sum() <= 0:
        raise OptionError(f"item_weights must be {p} non-negative numbers with a positive sum")
    w = w / w.sum()
    sd = float(np.hypot(person_sd, item_sd))
    z_given = None
    if person_scores is not None:
        z_given = np.asarray(person_scores, dtype=float)
        if z_given.shape != (2 * n * len(targets),) or not np.all(np.isfinite(z_given)):
            raise OptionError(f"person_scores must be {2 * n * len(targets)} finite numbers (2 departments x "
                              f"n = {n} x {len(targets)} organization(s)), got shape {z_given.shape}")
    row = 0
    solved: dict[float, float] = {}  # expected code -> location (organizations often share targets)
    streams = np.random.SeedSequence(seed).spawn(len(targets))
    blocks, orgs, depts, expected = [], [], [], []
    for j, (t, ss) in enumerate(zip(targets, streams)):
        rng = np.random.default_rng(ss)
        org = f"org{j + 1}"
        for sign, dept in zip((-1.0, 1.0), departments):
            item_means = t / p + sign * (gap / 2.0) * w
            if np.any(item_means <= 1) or np.any(item_means >= k):
                raise OptionError(f"gap {gap:g} around total {t:g} asks {dept} for an expected answer outside "
                                  f"1..{k} on some item; use a smaller gap or a level nearer the middle")
            mu = np.array([solved[m] if m in solved else solved.setdefault(m, _solve_mu(m, sd, k))
                           for m in item_means])
            z = rng.standard_normal((n, 1))
            if z_given is not None:  # the draw above still happens, so streams do not shift
                z = z_given[row:row + n, None]
            row += n
            y = mu[None, :] + person_sd * z + item_sd * rng.standard_normal((n, p))
            codes = (1 + np.searchsorted(_cuts(k), y, side="right")).astype(float)
            if missing > 0:
                codes[rng.random(codes.shape) < missing] = np.nan
            blocks.append(codes)
            orgs += [org] * n
            depts += [dept] * n
            expected.append({"org": org, "department": dept, "expected_total": round(float(item_means.sum()), 9)})
    # Nullable integers: codes stay integers and an unanswered item is <NA> (empty in CSV).
    df = pd.DataFrame(np.vstack(blocks), columns=list(inst.items)).astype("Int64" if missing > 0 else "int64")
    df.insert(0, "department", depts)
    df.insert(0, "org", orgs)
    df.attrs["smsem"] = {
        "generator": "simulate_diagnostic", "instrument": inst.name, "seed": seed, "n": n, "gap": gap,
        "person_sd": person_sd, "item_sd": item_sd, "missing": missing, "item_weights": w.tolist(),
        "expected": expected,
    }
    return df
