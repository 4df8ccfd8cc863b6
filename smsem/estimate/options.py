"""lavaan's model options as keyword options of :func:`smsem.fit`.

``std_lv``, ``meanstructure``, ``fixed_x`` and ``model_type`` are lavaan's ``std.lv``,
``meanstructure``, ``fixed.x`` and the choice among ``sem()``, ``cfa()`` and ``growth()``.
They decide which parameters the model has, so they belong to the parameter table; until
the table reads them, :func:`fit` accepts every value that gives the model smsem fits
today and refuses, in one line, any value that would give a different model (never a
silently different fit).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from .._validation import check_option
from ..exceptions import OptionError
from ..model.spec import SEMModel
from .results import FitResults
from .results import fit as _fit

__all__ = ["fit", "check_lavaan_options", "MODEL_TYPES", "LAVAAN_OPTIONS"]

#: lavaan's fitting functions; ``cfa()`` and ``sem()`` pass the same defaults.
MODEL_TYPES = ("sem", "cfa", "growth")
#: The keyword options of :func:`fit` that map lavaan's options (command line flags).
LAVAAN_OPTIONS = {"std_lv": "--std-lv", "meanstructure": "--meanstructure", "fixed_x": "--fixed-x",
                  "model_type": "--model-type"}


def _flag(value: Any, name: str) -> bool | None:
    if value is None or isinstance(value, bool):
        return value
    raise OptionError(f"{name} must be True, False or None (lavaan's default), got {value!r}")


def check_lavaan_options(model: Any, *, missing: str = "listwise", std_lv: bool = False,
                         meanstructure: bool | None = None, fixed_x: bool | None = None,
                         model_type: str = "sem") -> None:
    """Refuse, in one line, option values that would change the model smsem fits today.

    Accepted: ``std_lv=False`` (lavaan's marker scaling; ``True`` too when the model has
    no latent variable), ``meanstructure`` ``None`` (lavaan's default: a mean structure
    with FIML only), ``False`` without FIML or ``True`` with FIML; ``fixed_x`` ``None`` or
    ``True`` (lavaan's default), ``False`` when the model has no observed exogenous
    covariate; ``model_type`` ``"sem"`` or ``"cfa"`` (the same defaults in lavaan).

    Raises
    ------
    OptionError
        ``"--std-lv is not supported yet"`` and the like, naming the command line flag.
    """
    std_lv = _flag(std_lv, "std_lv")
    meanstructure = _flag(meanstructure, "meanstructure")
    fixed_x = _flag(fixed_x, "fixed_x")
    check_option("model_type", model_type, MODEL_TYPES)
    parsed = getattr(model, "parsed", None)
    if std_lv and (parsed is None or parsed.latents):
        raise OptionError("--std-lv is not supported yet")
    if meanstructure and missing != "fiml":
        raise OptionError("--meanstructure is not supported yet (a mean structure is fitted with --missing fiml)")
    if fixed_x is False and (parsed is None or parsed.fixed_x):
        raise OptionError("--no-fixed-x is not supported yet")
    if model_type == "growth":
        raise OptionError("--model-type growth is not supported yet")


def fit(model: SEMModel, data: pd.DataFrame, *, estimator: str = "ML", missing: str = "listwise", std_lv: bool = False,
        meanstructure: bool | None = None, fixed_x: bool | None = None, model_type: str = "sem") -> FitResults:
    check_lavaan_options(model, missing=missing, std_lv=std_lv, meanstructure=meanstructure,
                         fixed_x=fixed_x, model_type=model_type)
    return _fit(model, data, estimator=estimator, missing=missing)


fit.__doc__ = (_fit.__doc__ or "").rstrip() + """

    lavaan's options (see :func:`check_lavaan_options`)
    ----------------------------------------------------
    std_lv : bool, default=False
        lavaan's ``std.lv``: latent variances fixed to 1 instead of the first loadings.
    meanstructure : bool, optional
        lavaan's ``meanstructure``; default: a mean structure with FIML only.
    fixed_x : bool, optional
        lavaan's ``fixed.x``; default True (observed exogenous covariates fixed at their
        sample moments).
    model_type : {"sem", "cfa", "growth"}, default="sem"
        The defaults of lavaan's ``sem()``, ``cfa()`` or ``growth()``.
"""
