"""Identification checks made before any fitting.

Necessary conditions only (a model that passes can still be empirically
under-identified; the estimator then warns): every latent variable has a scale and
enough indicators, no variable is regressed on itself, and the model does not have more
free parameters than the observed covariance matrix has moments (the t-rule).
Failures raise :class:`~smsem.exceptions.IdentificationError` naming the construct.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Iterable

from ..exceptions import IdentificationError, SpecError
from .syntax import ParameterSpec, ParsedModel

if TYPE_CHECKING:  # pragma: no cover
    from .spec import SEMModel

__all__ = ["check_identification", "check_variables", "n_moments"]


def n_moments(p: int) -> int:
    """Distinct elements of a ``p x p`` covariance matrix, ``p (p + 1) / 2``."""
    return p * (p + 1) // 2


def _where(p: ParameterSpec) -> str:
    return f"line {p.line}, column {p.column}" if p.column else f"line {p.line}"


def _fixed_variance(parsed: ParsedModel, var: str) -> bool:
    return any(p.op == "~~" and p.lhs == var and p.rhs == var and p.fixed is not None
               for p in parsed.parameters)


def check_identification(model: "SEMModel") -> None:
    """Raise :class:`IdentificationError` if ``model`` is certainly not identified.

    Parameters
    ----------
    model : SEMModel

    Raises
    ------
    IdentificationError
        A variable regressed on (or measured by) itself; a latent variable with a single
        indicator whose residual variance and latent variance are both free; more free
        parameters than moments.
    """
    parsed = model.parsed
    for p in parsed.parameters:
        if p.op in ("=~", "~") and p.lhs == p.rhs:
            what = "measured by" if p.op == "=~" else "regressed on"
            raise IdentificationError(f"{_where(p)}: {p.lhs} is {what} itself ('{p.lhs} {p.op} {p.rhs}'); "
                                      "remove the statement")
    for p in parsed.parameters:
        if p.op == "~~" and p.lhs == p.rhs and p.fixed is not None and p.fixed < 0:
            raise SpecError(f"{_where(p)}: the variance {p.lhs} ~~ {p.rhs} is fixed to {p.fixed:g}; a variance "
                            "cannot be negative: fix it to 0 or a positive value, or free it")
    pt = model.partable
    rows = pt.parameters
    # (op, lhs, rhs, free, ustart or 0) of every row, as plain values (one pass, no per-latent filters)
    recs = [(o, l, r, f, 0 if u is None or u != u else u) for o, l, r, f, u in
            zip(rows.op.tolist(), rows.lhs.tolist(), rows.rhs.tolist(), rows.free.tolist(), rows.ustart.tolist())]
    for lat in parsed.latents:
        loads = [p for p in parsed.parameters if p.op == "=~" and p.lhs == lat]
        first = loads[0]
        if all(p.fixed == 0 for p in loads):
            raise IdentificationError(f"{_where(first)}: every loading of latent variable {lat} is fixed to 0, "
                                      f"so {lat} is not measured; free at least one loading")
        lrows = [r for r in recs if r[0] == "=~" and r[1] == lat]
        var = [r for r in recs if r[0] == "~~" and r[1] == lat and r[2] == lat]
        scaled = any(r[3] == 0 and r[4] != 0 for r in lrows) or any(r[3] == 0 for r in var)
        if not scaled:
            raise IdentificationError(
                f"{_where(first)}: latent variable {lat} has no scale: no loading is fixed (NA* frees the first) "
                f"and its variance is free; fix one loading (1*{first.rhs}) or the variance ({lat} ~~ 1*{lat})")
        if len(loads) == 1:
            ind = first.rhs
            res = [r for r in recs if r[0] == "~~" and r[1] == ind and r[2] == ind]
            if all(r[3] > 0 for r in res) and all(r[3] > 0 for r in var) and all(r[3] == 0 for r in lrows):
                raise IdentificationError(
                    f"{_where(first)}: latent variable {lat} has one indicator ({ind}) and neither its variance "
                    f"nor the residual variance of {ind} is fixed, so the model is not identified; add "
                    f"'{ind} ~~ 0*{ind}' (or a fixed error variance), or give {lat} at least two more indicators")
    if pt.df_model < 0:
        p_obs = len(pt.ov)
        raise IdentificationError(
            f"model {model.name!r} has {pt.npar - pt.n_equalities} free parameters but only "
            f"{pt.df_model + pt.npar - pt.n_equalities} sample moments ({p_obs} observed variables"
            f"{', with means' if pt.meanstructure else ''}), so it is not identified (t-rule: df = "
            f"{pt.df_model}); fix or remove parameters, or add indicators")


def check_variables(model: "SEMModel", columns: Iterable[str]) -> None:
    """Name the variables of ``model`` that are neither latent nor data columns.

    A missing *indicator* is a missing data column (reported by the survey check); a
    variable that appears only in regressions or covariances and is not a column is an
    unknown variable, typically a typo in the model file.

    Raises
    ------
    SpecError
        Naming the first unknown variable and where it is written.
    """
    parsed = model.parsed
    cols = set(columns)
    indicators = {p.rhs for p in parsed.parameters if p.op == "=~"}
    latents = set(parsed.latents)
    for p in parsed.parameters:
        names = (p.lhs, *p.rhs.split(":")) if p.op == "~" and ":" in p.rhs else (p.lhs, p.rhs)
        for v in names:
            if v in latents or v in cols or v in indicators or v in ("1", ""):
                continue
            raise SpecError(
                f"{_where(p)}: unknown variable {v} in '{p.lhs} {p.op} {p.rhs}': it is neither a latent "
                f"variable (defined with =~) nor a column of the data; fix the name or add the column")
