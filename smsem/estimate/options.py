"""lavaan's model options as keyword options of :func:`smsem.fit`.

``std_lv``, ``meanstructure``, ``fixed_x`` and ``model_type`` are lavaan's ``std.lv``,
``meanstructure``, ``fixed.x`` and the choice among ``sem()``, ``cfa()`` and ``growth()``.
They decide which parameters the model has, so they go to the parameter table
(:meth:`SEMModel.table`), which the estimator reads.
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
    """Check the option values (before any work): flags are True, False or None (lavaan's
    default), ``model_type`` one of ``MODEL_TYPES``.

    Raises
    ------
    OptionError
        Naming the option and the allowed values.
    """
    _flag(std_lv, "std_lv")
    _flag(meanstructure, "meanstructure")
    _flag(fixed_x, "fixed_x")
    check_option("model_type", model_type, MODEL_TYPES)


def _table_options(std_lv: bool | None, meanstructure: bool | None, fixed_x: bool | None, model_type: str
                   ) -> dict[str, Any]:
    """The keyword arguments of :meth:`SEMModel.table` (lavaan's defaults left out, so the
    default table is the cached ``SEMModel.partable``)."""
    out: dict[str, Any] = {}
    if std_lv:
        out["std_lv"] = True
    if meanstructure is not None:
        out["meanstructure"] = meanstructure
    if fixed_x is False:
        out["fixed_x"] = False
    if model_type != "sem":
        out["model_type"] = model_type
    return out


def fit(model: SEMModel, data: pd.DataFrame, *, estimator: str = "ML", missing: str = "listwise", std_lv: bool = False,
        meanstructure: bool | None = None, fixed_x: bool | None = None, model_type: str = "sem",
        **lavaanify_options: Any) -> FitResults:
    check_lavaan_options(model, missing=missing, std_lv=std_lv, meanstructure=meanstructure,
                         fixed_x=fixed_x, model_type=model_type)
    return _fit(model, data, estimator=estimator, missing=missing,
                **_table_options(std_lv, meanstructure, fixed_x, model_type), **lavaanify_options)


fit.__doc__ = (_fit.__doc__ or "").rstrip() + """

    lavaan's options (they build the parameter table, :meth:`SEMModel.table`)
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
    **lavaanify_options
        lavaan's other model options (``orthogonal``, ``int_ov_free``, ``int_lv_free``,
        ``auto_fix_first``, ``auto_fix_single``, ``auto_var``, ``auto_cov_lv_x``,
        ``auto_cov_y``), as :func:`smsem.model.partable.lavaanify` takes them.
"""
