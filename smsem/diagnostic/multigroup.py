"""Link to the integrative model: sales-versus-marketing multi-group fit, KRK total as a variable.

Multi-group fit: the model is fitted separately to each department's rows (an
unconstrained, "configural" multi-group model: with no equality constraints across
groups, lavaan's multi-group ML estimates equal the separate per-group fits). Each
proposition path is reported per group as a standardized (std.all) estimate, with a
bootstrap CI of the difference ``b - a``: each draw resamples respondents *within* each
group (stratified bootstrap, so group sizes stay fixed) and refits both groups.
Draw ``k`` uses stream ``SeedSequence(seed).spawn(n_boot)[k]`` for both groups in turn,
and every refit starts from the full-sample estimate of its group.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .._validation import check_int, check_real, check_seed
from ..bootstrap import DEFAULT_BOOT_SEED, percentile_ci
from ..estimate.backend import SemopyFit, fit_semopy, refit
from ..estimate.results import FitResults, fit, structural_std
from ..exceptions import DataError, SpecError
from ..model.spec import SEMModel
from ..model.syntax import ParameterSpec, ParsedModel
from .results import DiagnosticResults, pick_groups

__all__ = ["MultiGroupResults", "multigroup_fit", "add_krk_total", "model_with_observed", "MULTIGROUP_COLUMNS"]

MULTIGROUP_COLUMNS = ["id", "proposition", "path", "expected", "std_a", "std_b", "diff", "ci_lower", "ci_upper"]


@dataclass(frozen=True)
class MultiGroupResults:
    """Per-group fits and the difference of each proposition path between groups.

    Attributes
    ----------
    groups : (str, str)
        ``(a, b)``; differences are ``b - a``.
    fits : dict
        ``group -> FitResults``.
    table : DataFrame
        Columns ``MULTIGROUP_COLUMNS``: std.all estimate in each group, their difference
        and its stratified-bootstrap percentile CI.
    draws : ndarray (n_boot, n_paths)
        Bootstrap differences (NaN rows: failed draws).
    n_boot, n_failed : int
    level : float
    seed : int
    """

    groups: tuple[str, str]
    fits: Mapping[str, FitResults]
    table: pd.DataFrame
    draws: np.ndarray
    n_boot: int
    n_failed: int
    level: float
    seed: int


def _std_paths_draw(worker: SemopyFit, res: FitResults, sample: pd.DataFrame) -> np.ndarray | None:
    """std.all paths of one bootstrap refit, or None when it fails or is inadmissible.

    The single place where a draw is refitted, so that a faster engine can replace it.
    """
    ok, mx = refit(worker, sample)
    if not ok or mx is None or np.any(np.diag(mx.psi) < 0) or np.any(np.diag(mx.theta) < 0):
        return None
    return structural_std(mx, res.model).to_numpy()


def multigroup_fit(model: SEMModel, data: pd.DataFrame, *, group: str = "department",
                   groups: tuple[str, str] | None = None, n_boot: int = 500,
                   seed: int = DEFAULT_BOOT_SEED, level: float = 0.95) -> MultiGroupResults:
    """Fit ``model`` to each of two groups and bootstrap the difference of the proposition paths.

    Parameters
    ----------
    model : SEMModel
    data : DataFrame
        The model's item columns and the ``group`` column.
    group : str, default="department"
    groups : (str, str), optional
        Groups to compare (difference = second minus first); default sales and marketing
        (see :func:`smsem.diagnostic.pick_groups`).
    n_boot : int, default=500
        Stratified bootstrap draws (0: no CI).
    seed : int, default=20190102
    level : float, default=0.95

    Returns
    -------
    MultiGroupResults
    """
    n_boot = check_int("n_boot", n_boot, low=0)
    seed = check_seed(seed)
    level = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
    if group not in data.columns:
        raise DataError(f"the data have no group column {group!r}")
    labels = data[group].astype(str)
    pair = pick_groups(labels, groups)
    fits = {g: fit(model, data.loc[(labels == g).to_numpy()].reset_index(drop=True)) for g in pair}
    keys = [f"{p.target}~{p.source}" for p in model.propositions]
    all_keys = list(fits[pair[0]].standardized_paths.index)
    pos = [all_keys.index(k) for k in keys]
    draws = np.full((n_boot, len(keys)), np.nan)
    if n_boot:
        workers = {}
        for g in pair:
            w = fit_semopy(model.parsed, fits[g].data)
            w.start = fits[g].start.copy()
            workers[g] = w
        arrays = {g: fits[g].data.to_numpy() for g in pair}
        cols = list(fits[pair[0]].data.columns)
        for k, ss in enumerate(np.random.SeedSequence(seed).spawn(n_boot)):
            rng = np.random.default_rng(ss)
            std = []
            for g in pair:
                x = arrays[g]
                sample = pd.DataFrame(x[rng.integers(0, len(x), len(x))], columns=cols)
                std.append(_std_paths_draw(workers[g], fits[g], sample))
            if std[0] is not None and std[1] is not None:
                draws[k] = std[1][pos] - std[0][pos]
    ok = draws[~np.isnan(draws).any(axis=1)]
    if len(ok):
        lo, hi = percentile_ci(ok, level)
    else:
        lo = hi = np.full(len(keys), np.nan)
    sa = fits[pair[0]].standardized_paths
    sb = fits[pair[1]].standardized_paths
    rows = [{"id": p.id, "proposition": p.proposition, "path": p.label, "expected": "+" if p.sign > 0 else "-",
             "std_a": float(sa[key]), "std_b": float(sb[key]), "diff": float(sb[key] - sa[key]),
             "ci_lower": float(lo[i]), "ci_upper": float(hi[i])}
            for i, (p, key) in enumerate(zip(model.propositions, keys))]
    table = pd.DataFrame(rows, columns=MULTIGROUP_COLUMNS)
    return MultiGroupResults(pair, fits, table, draws, n_boot, int(n_boot - len(ok)), level, seed)


def add_krk_total(data: pd.DataFrame, diagnostic: DiagnosticResults, name: str = "KRK_total",
                  scale: float = 1.0) -> pd.DataFrame:
    """``data`` with a column of diagnostic totals, matched row by row.

    Parameters
    ----------
    data : DataFrame
        Survey rows in the same order as the rows the diagnostic scored.
    diagnostic : DiagnosticResults
    name : str, default="KRK_total"
    scale : float, default=1.0
        Divide the total by this (e.g. 20 gives the mean answer 1..5, whose variance is
        on the items' scale, which helps the optimizer).

    Returns
    -------
    DataFrame
        A copy; excluded respondents get NaN (dropped by :func:`smsem.fit`, listwise).
    """
    scale = check_real("scale", scale, low=0, low_open=True)
    if len(data) != diagnostic.n:
        raise DataError(f"the survey has {len(data)} rows but the diagnostic scored {diagnostic.n}; "
                        "they must describe the same respondents in the same order")
    out = data.copy()
    out[name] = diagnostic.respondents["total"].to_numpy() / scale
    return out


def model_with_observed(model: SEMModel, variable: str = "KRK_total", outcome: str = "OP",
                        covary: Sequence[str] | str | None = "exogenous") -> SEMModel:
    """The model with an observed predictor added to an outcome's regression.

    ``OP ~ EA`` becomes ``OP ~ EA + KRK_total``; with ``covary``, the variable also covaries
    freely with the named latent variables (``KRK_total ~~ COM``, ...); its variance
    ``KRK_total ~~ KRK_total`` is a free parameter, as in lavaan.

    Parameters
    ----------
    model : SEMModel
    variable : str, default="KRK_total"
        The data column to add.
    outcome : str, default="OP"
        The regression that receives it.
    covary : sequence of str, "exogenous" or None, default="exogenous"
        Latent variables it covaries with; ``"exogenous"``: every latent variable that
        is never regressed on (COM and MA in the integrative model), as lavaan does among
        exogenous latent variables; ``None``: none, which asserts the variable is
        uncorrelated with them (a strong claim for a diagnostic of the same practices).

    Returns
    -------
    SEMModel
        Codebook, constructs and propositions kept; population values dropped.
    """
    parsed = model.parsed
    if outcome not in {p.lhs for p in parsed.regressions}:
        raise SpecError(f"{outcome!r} is not the outcome of a regression of model {model.name!r}")
    if variable in parsed.latents or variable in parsed.observed:
        raise SpecError(f"{variable!r} is already a variable of model {model.name!r}")
    if covary == "exogenous":
        lhs = {p.lhs for p in parsed.regressions}
        partners = [v for v in parsed.latents if v not in lhs]
    else:
        partners = list(covary or [])
    unknown = [v for v in partners if v not in parsed.latents]
    if unknown:
        raise SpecError(f"covary: {', '.join(unknown)} not latent variable(s) of model {model.name!r}")
    params = list(parsed.parameters)
    last = max(i for i, p in enumerate(params) if p.op == "~" and p.lhs == outcome)
    params.insert(last + 1, ParameterSpec(outcome, "~", variable, line=params[last].line))
    params += [ParameterSpec(variable, "~~", v) for v in partners]
    # Its variance is written out: semopy would otherwise fix it at the sample value and
    # count one degree of freedom more than lavaan (measured: df 216 vs lavaan's 215).
    params.append(ParameterSpec(variable, "~~", variable))
    new = ParsedModel(tuple(params), parsed.defined)
    return replace(model, name=f"{model.name}+{variable}", syntax=new.to_lavaan(), parsed=new, population=None)
