"""Latent interactions by product indicators: double-mean-centering and residual centering.

``method="dmc"`` (Lin, Wen, Marsh & Lin 2010) and ``method="rca"`` (Little, Bovaird &
Widaman 2006) rewrite a model with a latent product ``a:b`` into an ordinary SEM, as the R
package modsem does with its defaults (``method = "dblcent"`` / ``"rca"``):

- the product latent variable ``a.b`` is measured by every product of an indicator of
  ``a`` with an indicator of ``b`` (all pairs, modsem's ``match = FALSE``; an observed
  factor counts as its own single indicator), loading of the first fixed to 1;
- ``dmc``: each first-order indicator is centered at its sample mean before the product,
  and the product is centered again (semTools ``indProd(meanC = TRUE, doubleMC = TRUE)``);
  ``rca``: the raw product is replaced by its residual from the OLS regression on all
  indicators of ``a`` and ``b`` with an intercept (``indProd(residualC = TRUE)``);
- the residuals of two product indicators that share a first-order indicator covary
  freely (modsem's ``res.cov.method = "simple"``); no other constraint;
- the regression row ``y ~ a:b`` becomes ``y ~ a.b``.

The rewritten model is fitted by smsem's ML engine exactly as lavaan's ``sem()`` fits it
(tests/test_interaction_product.py compares with lavaan on the same product indicators).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ...exceptions import DataError, OptionError, SpecError

__all__ = ["PRODUCT_METHODS", "product_name", "product_indicators", "product_syntax",
           "product_data", "fit_product", "ProductIndicatorFit"]

PRODUCT_METHODS = ("dmc", "rca")


def product_name(a: str, b: str) -> str:
    """Name of the product latent variable of ``a:b`` in the rewritten model (``a.b``)."""
    return f"{a}.{b}"


def _indicators(parsed: Any, v: str) -> list[str]:
    ind = parsed.indicators(v)
    return ind if ind else [v]


def product_indicators(parsed: Any, match: bool = False) -> list[tuple[str, str, list[tuple[str, str, str]]]]:
    """For every latent interaction ``(name, a, b)`` of the model: ``(name, latent name,
    [(product column, indicator of a, indicator of b), ...])``: all pairs, a's order outer
    (modsem's ``match = FALSE``), or with ``match=True`` the i-th indicator of ``a`` with the
    i-th of ``b`` (modsem's ``match = TRUE``; the longer list is cut to the shorter, an
    observed factor is paired with every indicator of the other)."""
    out = []
    for name, a, b in parsed.latent_interactions:
        xa, xb = _indicators(parsed, a), _indicators(parsed, b)
        if match and len(xa) > 1 and len(xb) > 1:
            pairs = [(f"{x}.{z}", x, z) for x, z in zip(xa, xb)]
        else:
            pairs = [(f"{x}.{z}", x, z) for x in xa for z in xb]
        out.append((name, product_name(a, b), pairs))
    return out


def product_syntax(model: Any, match: bool = False) -> str:
    """The lavaan syntax of the product-indicator model (see the module docstring)."""
    parsed = model.parsed
    text = model.syntax
    known = set(parsed.latents) | set(parsed.observed)
    extra = ["", "# --- product indicators (smsem.estimate.interaction.product) ---"]
    for name, lv, pairs in product_indicators(parsed, match):
        a, b = name.split(":")
        clash = [v for v in [lv, *(p for p, _, _ in pairs)] if v in known]
        if clash:
            raise SpecError(f"the interaction {name!r} needs the name {clash[0]!r} for its product, "
                            "but the model already uses it; rename that variable")
        pat = re.compile(rf"(?<![\w.]){re.escape(a)}\s*:\s*{re.escape(b)}(?![\w.])")
        text = pat.sub(lv, text)
        extra.append(f"{lv} =~ " + " + ".join(p for p, _, _ in pairs))
        # a shared item of a single-indicator (or observed) factor adds no residual
        # covariance (modsem's include.single.inds = FALSE): every product shares it
        multi_a, multi_b = len(_indicators(parsed, a)) > 1, len(_indicators(parsed, b)) > 1
        for i, (p1, x1, z1) in enumerate(pairs):
            for p2, x2, z2 in pairs[i + 1:]:
                if (multi_a and x1 == x2) or (multi_b and z1 == z2):
                    extra.append(f"{p1} ~~ {p2}")
    return text.rstrip("\n") + "\n" + "\n".join(extra) + "\n"


def _residualize(prod: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Residuals of each column of ``prod`` from OLS on ``first`` with an intercept; rows
    with a missing value anywhere stay missing."""
    ok = ~(np.isnan(prod).any(axis=1) | np.isnan(first).any(axis=1))
    out = np.full_like(prod, np.nan)
    x = np.column_stack([np.ones(ok.sum()), first[ok]])
    coef, *_ = np.linalg.lstsq(x, prod[ok], rcond=None)
    out[ok] = prod[ok] - x @ coef
    return out


def product_data(model: Any, data: pd.DataFrame, method: str, match: bool = False) -> pd.DataFrame:
    """``data`` with the product-indicator columns of ``method`` appended."""
    if method not in PRODUCT_METHODS:
        raise OptionError(f"unknown product-indicator method {method!r}; choose one of {', '.join(PRODUCT_METHODS)}")
    new = {}
    for name, _lv, pairs in product_indicators(model.parsed, match):
        a, b = name.split(":")
        cols = list(dict.fromkeys([*_indicators(model.parsed, a), *_indicators(model.parsed, b)]))
        absent = [c for c in cols if c not in data.columns]
        if absent:
            raise DataError(f"the data lack the column(s) {', '.join(absent)} of the interaction term {name!r}")
        try:
            first = data[cols].to_numpy(dtype=float)
        except (TypeError, ValueError) as exc:
            raise DataError(f"the indicators of the interaction term {name!r} must be numeric ({exc})") from None
        pos = {c: i for i, c in enumerate(cols)}
        if method == "dmc":
            first_c = first - np.nanmean(first, axis=0)
            prod = np.column_stack([first_c[:, pos[x]] * first_c[:, pos[z]] for _, x, z in pairs])
            prod = prod - np.nanmean(prod, axis=0)
        else:
            prod = np.column_stack([first[:, pos[x]] * first[:, pos[z]] for _, x, z in pairs])
            prod = _residualize(prod, first)
        for j, (p, _, _) in enumerate(pairs):
            new[p] = prod[:, j]
    return data.assign(**new)


@dataclass(frozen=True)
class ProductIndicatorFit:
    """A latent-interaction model fitted by product indicators (``dmc`` or ``rca``).

    Attributes
    ----------
    model : SEMModel
        The model as written (with ``a:b`` terms).
    pi_model : SEMModel
        The rewritten product-indicator model that was fitted.
    fit : FitResults
        smsem's ML fit of ``pi_model`` (its ``params`` name the products ``a.b``).
    data : DataFrame
        The data as given (without product columns).
    method : str
    options : dict
        The keyword arguments passed on to :func:`smsem.fit`.

    The moderation accessors (:mod:`smsem.estimate.interaction.moderation`) accept the
    interaction either as ``a:b`` or as its product name ``a.b``.
    """

    model: Any
    pi_model: Any
    fit: Any
    data: pd.DataFrame
    method: str
    options: dict = field(default_factory=dict)
    match: bool = False

    # ------------------------------------------------------------------ accessors
    @property
    def params(self) -> pd.DataFrame:
        return self.fit.params

    @property
    def fit_indices(self) -> dict:
        return self.fit.fit_indices

    @property
    def n(self) -> int:
        return self.fit.n

    @property
    def interactions(self) -> dict[str, str]:
        """``{"a:b": "a.b"}`` for every latent interaction."""
        return {name: product_name(*name.split(":")) for name, _, _ in self.model.parsed.latent_interactions}

    @property
    def converged(self) -> bool:
        return bool(self.fit.converged)

    def summary(self) -> str:
        """The ML fit's summary of the product-indicator model, under a line naming the method."""
        pairs = "matched" if self.match else "all pairs"
        return (f"latent interactions by product indicators: {self.method} ({pairs}); products "
                + ", ".join(f"{k} -> {v}" for k, v in self.interactions.items()) + "\n" + self.fit.summary())

    def __str__(self) -> str:
        return self.summary()

    def _rhs(self, rhs: str) -> str:
        return self.interactions.get(rhs, rhs)

    def _index(self, lhs: str, rhs: str) -> int | None:
        """Position of the free coefficient ``lhs ~ rhs`` in ``fit.start`` (None if fixed)."""
        names = list(self.fit.param_map.names)
        key = (lhs, "~", self._rhs(rhs))
        return names.index(key) if key in names else None

    def coef(self, lhs: str, rhs: str) -> float:
        """The regression coefficient ``lhs ~ rhs`` (0 when the model has no such path)."""
        p = self.fit.params
        row = p[(p["op"] == "~") & (p["lhs"] == lhs) & (p["rhs"] == self._rhs(rhs))]
        return float(row["est"].iloc[0]) if len(row) else 0.0

    def cov_coef(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        """Covariance matrix of the listed regression coefficients ``(lhs, rhs)`` (zeros
        for fixed or absent paths)."""
        idx = [self._index(l, r) for l, r in pairs]
        out = np.zeros((len(idx), len(idx)))
        v = self.fit.vcov
        for i, a in enumerate(idx):
            for j, b in enumerate(idx):
                if a is not None and b is not None:
                    out[i, j] = v[a, b]
        return (out + out.T) / 2  # the information inverse is symmetric up to rounding

    def latent_moments(self) -> tuple[pd.Series, pd.DataFrame]:
        """Model-implied means (0 without a mean structure: product indicators and items
        are analysed as deviations) and covariance of the first-order latent variables;
        an observed factor of an interaction enters with its sample moments (N-divided, as
        ML), centered like the latent ones when the model has no mean structure."""
        return _with_observed(_latent_moments(self.fit.matrices, self.model.latents), self)

    # --------------------------------------------------------------- bootstrap
    def refit_theta(self, data: pd.DataFrame) -> np.ndarray:
        """Estimates (``fit.param_map`` order) of the same model on other data, the
        products rebuilt from those data (used by the moderation bootstrap)."""
        from ..results import fit_table

        d = product_data(self.model, data, self.method, self.match)
        res = fit_table(self.pi_model, self.fit.partable, d)
        return res.start

    def accessors_at(self, theta: np.ndarray) -> "_ThetaView":
        """The accessors (``coef``, ``cov_coef`` zeros, ``latent_moments``) at the
        estimates ``theta`` (``fit.param_map`` order), e.g. a bootstrap draw."""
        return _ThetaView(self, np.asarray(theta, dtype=float))

    def bootstrap_thetas(self, n_boot: int, seed: int) -> np.ndarray:
        """``n_boot`` nonparametric bootstrap estimates, products rebuilt in every
        resample, all draws fitted in one batch (:func:`smsem.estimate.batched.fit_batch`,
        the engine of smsem's ML bootstrap) from the full-sample estimate. Failed draws
        are rows of NaN. Same ``seed`` → same draws."""
        from ..batched import ModelStructure, fit_batch

        pt = self.fit.partable
        if getattr(pt, "meanstructure", False):
            raise OptionError("the product-indicator bootstrap needs a model without a mean structure")
        pm = self.fit.param_map
        obs = list(pm.base.observed)
        rng = np.random.default_rng(np.random.SeedSequence(seed))
        base = self.data.reset_index(drop=True)
        n = len(self.fit.data)
        s = np.empty((n_boot, len(obs), len(obs)))
        for b in range(n_boot):
            idx = rng.integers(0, len(base), len(base))
            d = product_data(self.model, base.iloc[idx].reset_index(drop=True), self.method, self.match)
            x = d[obs].dropna().to_numpy(dtype=float)
            xc = x - x.mean(axis=0)
            s[b] = xc.T @ xc / len(x)
        x0 = self.fit.data[obs].to_numpy(dtype=float)
        x0 = x0 - x0.mean(axis=0)
        s0 = x0.T @ x0 / n
        st = ModelStructure(pm)
        bf = fit_batch(pm, s, self.fit.start, s_start=s0, structure=st)
        out = bf.theta.copy()
        out[~bf.ok] = np.nan
        return out


class _ThetaView:
    """A product-indicator fit read at other estimates (no standard errors)."""

    def __init__(self, parent: ProductIndicatorFit, theta: np.ndarray):
        self.parent, self.theta, self.model = parent, theta, parent.model

    def coef(self, lhs: str, rhs: str) -> float:
        i = self.parent._index(lhs, rhs)
        return float(self.theta[i]) if i is not None else self.parent.coef(lhs, rhs)

    def cov_coef(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        return np.zeros((len(pairs), len(pairs)))

    def latent_moments(self) -> tuple[pd.Series, pd.DataFrame]:
        mom = _latent_moments(self.parent.fit.param_map.matrices_at(self.theta), self.model.latents)
        return _with_observed(mom, self.parent)


def _with_observed(mom: tuple[pd.Series, pd.DataFrame], res: "ProductIndicatorFit"
                   ) -> tuple[pd.Series, pd.DataFrame]:
    means, cov = mom
    lat = set(res.model.latents)
    obs = [v for _, a, b in res.model.parsed.latent_interactions for v in (a, b) if v not in lat]
    obs = [v for v in dict.fromkeys(obs) if v not in cov.index]
    if not obs:
        return means, cov
    x = res.fit.data
    names = list(cov.index) + obs
    full = pd.DataFrame(np.zeros((len(names), len(names))), index=names, columns=names)
    full.loc[cov.index, cov.columns] = cov
    # covariances of an observed factor with the latent variables are not kept by the
    # model's moments: only its own variance (and with other observed factors) is filled
    full.loc[obs, obs] = x[obs].cov(ddof=0).to_numpy()
    centered = res.fit.matrices.inner_mean is None
    m = pd.concat([means, pd.Series(0.0 if centered else x[obs].mean(), index=obs)])
    return m, full


def _latent_moments(mx: Any, latents: Sequence[str]) -> tuple[pd.Series, pd.DataFrame]:
    inner = list(mx.inner)
    idx = [inner.index(v) for v in latents if v in inner]
    names = [inner[i] for i in idx]
    cov = mx.inner_cov[np.ix_(idx, idx)]
    mean = mx.inner_mean
    m = np.zeros(len(idx)) if mean is None else mean[idx]
    return pd.Series(m, index=names), pd.DataFrame(cov, index=names, columns=names)


def fit_product(model: Any, data: pd.DataFrame, *, method: str = "dmc", match: bool = False,
                **options: Any) -> ProductIndicatorFit:
    """Fit ``model`` (with latent products ``a:b``) by product indicators (all pairs, or
    matched pairs with ``match=True``); ``options`` go to :func:`smsem.fit` (estimator,
    missing, model options)."""
    from ...model.spec import SEMModel
    from ...model.syntax import parse_lavaan
    from ..results import fit as ml_fit

    if method not in PRODUCT_METHODS:
        raise OptionError(f"unknown product-indicator method {method!r}; choose one of {', '.join(PRODUCT_METHODS)}")
    if options.get("group") is not None:
        raise OptionError(f"interaction_method={method!r} with several groups is not supported yet")
    if options.get("ordered") not in (None, False):
        raise OptionError(f"interaction_method={method!r} with ordered items is not supported")
    text = product_syntax(model, match)
    pi_model = SEMModel(f"{model.name} ({method} product indicators)", text, parse_lavaan(text), {}, (), None,
                        getattr(model, "scale_points", 5), getattr(model, "source", ""))
    d = product_data(model, data, method, match)
    try:
        res = ml_fit(pi_model, d, **options)
    except DataError as exc:
        if match or "free parameters" not in str(exc):
            raise
        raise DataError(f"{exc} (the {method} model with all pairs of product indicators; matched pairs, "
                        "match=True / --match, need far fewer)") from None
    return ProductIndicatorFit(model, pi_model, res, data, method, dict(options), bool(match))


def fit_without_interactions(res: ProductIndicatorFit) -> Any:
    """The same product-indicator model and data with every ``y ~ a.b`` coefficient fixed
    at 0 (same observed variables, so nested in ``res.fit``): the linear model of a
    likelihood-ratio test of all interactions at once."""
    from ...model.spec import SEMModel
    from ...model.syntax import parse_lavaan
    from ..results import fit as ml_fit

    text = res.pi_model.syntax
    for lv in res.interactions.values():
        # `y ~ ... + a.b` and `y ~ ... + label*a.b` (a label or a start/fixed value in front)
        # become `0*a.b`; the `a.b =~` line and comments keep the name
        text = re.sub(rf"(?<![\w.])(?:[\w.]+\s*\*\s*)?{re.escape(lv)}(?![\w.])(?!\s*=~)(?!\s*~~)",
                      f"0*{lv}", text)
    try:
        parsed = parse_lavaan(text)
    except SpecError as exc:
        raise SpecError(f"the linear model (interactions fixed at 0) cannot be built: {exc}; a label on an "
                        "interaction used elsewhere in the model prevents fixing it") from None
    m = SEMModel(f"{res.model.name} (interactions fixed at 0)", text, parsed, {}, (), None,
                 getattr(res.model, "scale_points", 5), getattr(res.model, "source", ""))
    d = product_data(res.model, res.data, res.method, res.match)
    lin = ml_fit(m, d, **res.options)
    freed = sum(res._index(y, t) is not None for y, t in
                ((p.lhs, p.rhs) for p in res.model.parsed.regressions if p.rhs in res.interactions))
    if res.fit.fit_indices["npar"] - lin.fit_indices["npar"] != freed:
        raise SpecError(f"the linear model should have {freed} parameter(s) fewer than the interaction model, "
                        f"it has {res.fit.fit_indices['npar'] - lin.fit_indices['npar']:.0f}")
    return lin
