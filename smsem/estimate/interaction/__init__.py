"""Latent interactions (``y ~ a:b`` with ``a`` or ``b`` latent): estimation and moderation.

:func:`fit_interaction` dispatches on ``method``:

- ``"lms"``: latent moderated structural equations (Klein & Moosbrugger 2000),
  :mod:`smsem.estimate.interaction.lms`;
- ``"qml"``: quasi-maximum likelihood (Klein & Muthén 2007), :mod:`.qml`;
- ``"dmc"``: product indicators with double-mean-centering (Lin et al. 2010), and
  ``"rca"``: residual centering (Little et al. 2006), :mod:`.product` (ordinary SEMs).

Every result provides the accessors read by :mod:`.moderation`: ``coef(lhs, rhs)``,
``cov_coef(pairs)`` and ``latent_moments()``.

The default method is ``DEFAULT_METHOD``, chosen from the method comparison of
docs/moderation-power.md (see docs/moderation.md, "Default").
"""

from __future__ import annotations

from typing import Any

from ...exceptions import OptionError

__all__ = ["INTERACTION_METHODS", "DEFAULT_METHOD", "fit_interaction"]

INTERACTION_METHODS = ("lms", "qml", "dmc", "rca")
# docs/moderation-power.md (method comparison, `smsem power scripts/moderation_methods.yaml`):
# LMS is unbiased with SEs matching the SD of its estimates and the smallest SD; dmc/rca Wald
# SEs understate the SD at n = 200 and QML is 3-18x slower. Options LMS does not take
# (estimators other than ML, FIML, groups, ordinal items, matched pairs) need dmc or rca.
DEFAULT_METHOD = "lms"


def fit_interaction(model: Any, data: Any, *, method: str | None = None, **options: Any) -> Any:
    """Fit ``model`` with its latent interactions by ``method`` (one of
    ``INTERACTION_METHODS``; None → ``DEFAULT_METHOD``). ``options`` go to the estimator."""
    method = DEFAULT_METHOD if method is None else str(method).lower()
    if method not in INTERACTION_METHODS:
        raise OptionError(f"unknown interaction method {method!r}; choose one of {', '.join(INTERACTION_METHODS)}")
    if method in ("dmc", "rca"):
        from .product import fit_product

        return fit_product(model, data, method=method, **options)
    given = {k: v for k, v in options.items() if not (v is None or (isinstance(v, (tuple, list)) and not v))}
    estimator = str(given.pop("estimator", "ML")).upper()
    missing = given.pop("missing", "listwise")
    if estimator != "ML" or missing != "listwise":
        raise OptionError(f"interaction method {method!r} is maximum likelihood on complete cases: it takes "
                          f"estimator='ML' and missing='listwise', not {estimator!r} and {missing!r}; product "
                          "indicators take them (interaction_method='dmc' or 'rca'; CLI --interaction-method dmc)")
    for key in ("group", "group_equal", "group_partial", "ordered", "match"):
        if given.get(key) not in (None, False):
            raise OptionError(f"interaction method {method!r} does not take {key}={given[key]!r}; product "
                              "indicators do (interaction_method='dmc' or 'rca'; CLI --interaction-method dmc)")
        given.pop(key, None)
    import inspect

    from ...model.partable import lavaanify

    try:
        if method == "lms":
            from .lms import fit_lms as fitter
        else:
            from .qml import fit_qml as fitter
    except ModuleNotFoundError as exc:
        if exc.name != f"{__name__}.{method}":
            raise
        raise OptionError(f"interaction method {method!r} is not available in this build of smsem; "
                          "use 'dmc' or 'rca'") from None
    table_keys = set(inspect.signature(lavaanify).parameters) - {"model"}
    table_options = {k: given.pop(k) for k in list(given) if k in table_keys}
    return fitter(model, model.table(**table_options), data, **given)
