"""The semopy backend: the only module of smsem that imports semopy.

semopy raises bare exceptions, logs its warnings and warm-starts each fit from the
previous one; this module wraps it so that every fit starts from a stated vector,
failures become smsem exceptions or warnings, and results come out as plain arrays.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..exceptions import ConvergenceWarning, EstimationError, HeywoodWarning, NonPositiveDefiniteWarning
from ..model.syntax import ParsedModel
from .matrices import Matrices, ParamMap

__all__ = [
    "SemopyFit", "Matrices", "ParamMap", "semopy_syntax", "fit_semopy", "refit", "standardized_matrices",
]

# semopy reports trouble through the logging module; smsem reports it as warnings.
logging.getLogger("semopy").setLevel(logging.ERROR)


def semopy_syntax(parsed: ParsedModel) -> str:
    """semopy's model description for a parsed lavaan model (``:=`` lines dropped)."""
    lines = []
    markers = {v: parsed.indicators(v)[0] for v in parsed.latents}
    for p in parsed.parameters:
        mod = ""
        if p.fixed is not None:
            mod = f"{p.fixed!r}*"
        elif p.label is not None and p.op == "=~" and markers.get(p.lhs) == p.rhs:
            # lavaan keeps a labelled first loading fixed to 1 (the label names the constant);
            # semopy would free it, so write the 1 explicitly.
            mod = "1.0*"
        elif p.label is not None:
            mod = f"{p.label}*"
        lines.append(f"{p.lhs} {p.op} {mod}{p.rhs}")
    lines += exogenous_covariances(parsed)
    return "\n".join(lines)


def exogenous_covariances(parsed: ParsedModel) -> list[str]:
    """The ``~~`` statements smsem adds for observed covariates, as lavaan's ``sem()``.

    semopy fixes the variances and covariances of observed exogenous variables without
    counting them out of the degrees of freedom. smsem frees them instead: the
    variances and covariances of lavaan's fixed covariates (``ov.x``), whose ML estimates
    are then the sample values lavaan fixes them to, so every other estimate, SE, chi2
    and df equals lavaan's default (and ``npar``, ``logl``, AIC, BIC equal lavaan's
    ``fixed.x = FALSE``); and the variance of a covariate named in a user's ``~~``
    formula, which lavaan treats as random.
    """
    written = {frozenset((p.lhs, p.rhs)) for p in parsed.parameters if p.op == "~~"}
    fixed_x = parsed.fixed_x
    out = []
    for i, a in enumerate(fixed_x):
        for b in fixed_x[i:]:
            if frozenset((a, b)) not in written:
                out.append(f"{a} ~~ {b}")
    exo = parsed.exogenous_observed
    for i, v in enumerate(exo):
        if v in fixed_x:
            continue
        if frozenset((v,)) not in written:
            out.append(f"{v} ~~ {v}")
        # lavaan leaves a random covariate uncorrelated with the other observed
        # covariates unless told otherwise; semopy would fix the sample covariance.
        for w in exo[:i] + exo[i + 1:]:
            if frozenset((v, w)) not in written and (w in fixed_x or exo.index(w) > i):
                out.append(f"{v} ~~ 0*{w}")
    return out


def _param_name(m: int, i: int, j: int, inner: tuple[str, ...], observed: tuple[str, ...]) -> tuple[str, str, str]:
    if m == 0:
        return (inner[i], "~", inner[j])
    if m == 1:
        return (inner[j], "=~", observed[i])
    if m == 2:
        return (inner[i], "~~", inner[j])
    return (observed[i], "~~", observed[j])


def standardized_matrices(mx: Matrices) -> tuple[np.ndarray, np.ndarray]:
    """std.all structural coefficients and loadings: ``(beta_std, lambda_std)``."""
    with np.errstate(invalid="ignore"):  # a negative variance (Heywood case) gives NaN
        sd_inner = np.sqrt(np.diag(mx.inner_cov))
        sd_obs = np.sqrt(np.diag(mx.implied_cov))
    beta_std = mx.beta * sd_inner[None, :] / sd_inner[:, None]
    lambda_std = mx.lambda_ * sd_inner[None, :] / sd_obs[:, None]
    return beta_std, lambda_std


@dataclass
class SemopyFit:
    """A fitted semopy model kept for reuse (refits start from ``start``)."""

    model: semopy.Model
    start: np.ndarray
    success: bool
    message: str
    objective: float

    def matrices(self) -> Matrices:
        m = self.model
        return Matrices(
            tuple(m.vars["inner"]),
            tuple(m.vars["observed"]),
            m.mx_beta.copy(),
            m.mx_lambda.copy(),
            m.mx_psi.copy(),
            m.mx_theta.copy(),
        )

    def param_map(self) -> ParamMap:
        """The free parameters' locations, read from semopy's parameter table."""
        m = self.model
        mats = m.matrices
        base = self.matrices()
        names, locations = [], []
        for param in m.parameters.values():
            if not param.active:
                continue
            locs = []
            for loc in param.locations:
                k = next(n for n, mx in enumerate(mats) if mx is loc.matrix)
                i, j = (int(x) for x in loc.indices)
                locs.append((k, i, j))
                if loc.symmetric and i != j:
                    locs.append((k, j, i))
            names.append(_param_name(*locs[0], base.inner, base.observed))
            locations.append(tuple(locs))
        return ParamMap(tuple(names), tuple(locations), base)

    def vcov(self) -> np.ndarray:
        """Inverse expected information (semopy's), in :class:`ParamMap` order."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _, inv = self.model.calc_fim(inverse=True)
        return np.asarray(inv, dtype=float)

    def inspect(self) -> pd.DataFrame:
        """semopy's parameter table with standardized estimates."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return self.model.inspect(std_est=True)

    def calc_stats(self) -> pd.DataFrame:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import semopy  # imported on first fit: ``import smsem`` stays light

            return semopy.calc_stats(self.model)


def fit_semopy(parsed: ParsedModel, data: pd.DataFrame | None, *, cov: pd.DataFrame | None = None,
               n_samples: int | None = None) -> SemopyFit:
    """Fit by maximum likelihood (semopy's ``MLW`` objective on the N-divided covariance).

    That objective is lavaan's ML fit function, so estimates equal lavaan's ``sem()``
    defaults; the sample covariance divides by N, as lavaan's does. With ``cov`` (a
    covariance matrix with item labels) instead of ``data``, fit to that matrix (used for
    the start values of FIML from the EM covariance). ``data`` must be complete.
    """
    if data is not None and bool(data.isna().to_numpy().any()):
        raise EstimationError("the data contain missing values; the covariance-based ML fit (and its "
                              "bootstrap) needs complete cases: drop them or use missing='fiml'")
    import semopy  # imported on first fit: ``import smsem`` stays light

    try:
        model = semopy.Model(semopy_syntax(parsed))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if cov is not None:
                res = model.fit(cov=cov, n_samples=n_samples, obj="MLW", solver="SLSQP")
            else:
                res = model.fit(data, obj="MLW", solver="SLSQP")
    except np.linalg.LinAlgError as exc:
        raise EstimationError(f"the model could not be estimated: {exc}") from None
    except (KeyError, ValueError, SyntaxError) as exc:
        raise EstimationError(f"semopy rejected the model or data: {exc}") from None
    fit = SemopyFit(model, np.array(res.x, dtype=float), bool(res.success), str(res.message), float(res.fun))
    if not fit.success or not np.isfinite(fit.objective):
        warnings.warn(f"the optimizer did not converge ({fit.message}); estimates may be unreliable",
                      ConvergenceWarning, stacklevel=3)
    _warn_heywood(fit)
    return fit


def _warn_heywood(fit: SemopyFit) -> None:
    """One warning per inadmissible variance (negative or at semopy's bound 0) or non-PD matrix."""
    from .admissibility import free_cells, inadmissibility

    for problem in inadmissibility(fit.matrices(), free_cells=free_cells(fit.param_map())):
        cls = NonPositiveDefiniteWarning if "positive definite" in problem or "computed" in problem else HeywoodWarning
        warnings.warn(f"{problem}: the solution is inadmissible", cls, stacklevel=4)


def refit(fit: SemopyFit, data: pd.DataFrame) -> tuple[bool, Matrices | None]:
    """Refit the same model to new data, starting from ``fit.start``.

    Returns ``(ok, matrices)``; ``ok`` is False when the optimizer failed. The start is
    reset on every call so that consecutive refits do not depend on each other.
    """
    m = fit.model
    m.param_vals = fit.start.copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = m.fit(data, obj="MLW", solver="SLSQP")
    except (np.linalg.LinAlgError, ValueError, ZeroDivisionError):
        return False, None
    if not res.success or not np.isfinite(res.fun):
        return False, None
    return True, fit.matrices()
