"""What a moderation analysis reports, for any fit of a model with interactions.

Every function reads a fit through three accessors (the contract shared by the LMS/QML
:class:`InteractionFit` and the product-indicator :class:`ProductIndicatorFit`; an ordinary
:class:`~smsem.estimate.results.FitResults` with observed products ``x:z`` is adapted by
:func:`moderation_source`):

- ``coef(lhs, rhs) -> float``: the regression coefficient ``lhs ~ rhs`` (``rhs`` may be a
  product ``a:b``); 0 when the model has no such path;
- ``cov_coef(pairs) -> ndarray``: the covariance matrix of the listed ``(lhs, rhs)``
  coefficients (zeros for fixed or absent ones);
- ``latent_moments() -> (means, cov)``: model-implied means and covariance of the
  first-order variables (latent, and for observed moderators the sample moments).

Reported quantities (moderator values default to mean - SD, mean, mean + SD):

- :func:`standardized_interaction`: ``gamma * sd(a) * sd(b) / sd(y)`` (Wen, Marsh & Hau
  2010, their eq. for the standardized latent interaction; ``sd(y)`` the model-implied SD
  of the outcome, interaction variance included);
- :func:`simple_slopes`: ``b_focal + b_int * w`` with delta-method SE
  ``sqrt(v_ff + 2 w v_fi + w^2 v_ii)``, z, p and Wald CI;
- :func:`johnson_neyman`: the moderator values where the simple slope's Wald z equals the
  critical value, roots of ``(b_f + b_i w)^2 = z^2 (v_ff + 2 w v_fi + w^2 v_ii)``;
- :func:`conditional_indirect`: the product of the chain's (conditional) coefficients at
  each moderator value, delta-method SE; the index of moderated mediation (Hayes 2015) when
  exactly one link of the chain is moderated (the indirect effect is then linear in ``w``
  and the index is its slope: the interaction coefficient times the other links);
- :func:`plot_simple_slopes`: the figure (PNG 300 dpi and SVG);
- :func:`moderation_bootstrap`: percentile CIs of all of these from bootstrap draws of the
  fit (``res.bootstrap_thetas(n_boot, seed)`` and ``res.accessors_at(theta)``; the product
  -indicator fit refits all draws in one batch with the products rebuilt per draw).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ...exceptions import OptionError

__all__ = ["moderation_source", "interaction_term", "standardized_interaction", "moderator_values",
           "simple_slopes", "johnson_neyman", "conditional_indirect", "plot_simple_slopes",
           "moderation_bootstrap", "moderation_report"]


# ----------------------------------------------------------------------------- adapter
class _FitResultsSource:
    """The accessor contract for an ordinary FitResults (observed products ``x:z``)."""

    def __init__(self, res: Any):
        self.res = res
        self.model = res.model

    def coef(self, lhs: str, rhs: str) -> float:
        p = self.res.params
        row = p[(p["op"] == "~") & (p["lhs"] == lhs) & (p["rhs"] == rhs)]
        return float(row["est"].iloc[0]) if len(row) else 0.0

    def cov_coef(self, pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        names = list(self.res.param_map.names)
        idx = [names.index((l, "~", r)) if (l, "~", r) in names else None for l, r in pairs]
        out = np.zeros((len(idx), len(idx)))
        for i, a in enumerate(idx):
            for j, b in enumerate(idx):
                if a is not None and b is not None:
                    out[i, j] = self.res.vcov[a, b]
        return (out + out.T) / 2

    def latent_moments(self) -> tuple[pd.Series, pd.DataFrame]:
        mx = self.res.matrices
        inner = list(mx.inner)
        cov = pd.DataFrame(mx.inner_cov, index=inner, columns=inner)
        mean = mx.inner_mean
        means = pd.Series(np.zeros(len(inner)) if mean is None else mean, index=inner)
        # observed variables: their sample means (the coefficients of observed products apply
        # to the raw columns; a model without mean structure leaves them out); observed
        # variables that are not inner: sample moments (N-divided, as ML)
        data = self.res.data
        for c in data.columns:
            if c in means.index:
                means[c] = float(data[c].mean())
        extra = [c for c in data.columns if c not in inner]
        if extra:
            allv = inner + extra
            full = pd.DataFrame(np.zeros((len(allv), len(allv))), index=allv, columns=allv)
            full.loc[inner, inner] = cov
            full.loc[extra, extra] = data[extra].cov(ddof=0)
            cov = full
            means = pd.concat([means, data[extra].mean()])
        return means, cov


def _coef(src: Any, lhs: str, rhs: str) -> float:
    """``src.coef(lhs, rhs)``, 0 for a path the model does not have (some results raise)."""
    try:
        return float(src.coef(lhs, rhs))
    except KeyError:
        return 0.0


def moderation_source(res: Any) -> Any:
    """``res`` itself when it provides the accessors, else the adapter of a FitResults."""
    if all(callable(getattr(res, a, None)) for a in ("coef", "cov_coef", "latent_moments")):
        return res
    if hasattr(res, "param_map") and hasattr(res, "params"):
        return _FitResultsSource(res)
    raise OptionError(f"{type(res).__name__} does not provide coef/cov_coef/latent_moments")


def interaction_term(res: Any, y: str, a: str, b: str) -> str:
    """The name of the product of ``a`` and ``b`` predicting ``y`` (``a:b`` or ``b:a``, as
    written in the model); OptionError if the model has none."""
    model = getattr(res, "model", None)
    terms = [t for t, _, _ in (model.parsed.interactions if model is not None else [])]
    for name in (f"{a}:{b}", f"{b}:{a}"):
        if name in terms:
            return name
    raise OptionError(f"the model has no interaction {a}:{b} predicting {y}")


def _moments(src: Any) -> tuple[pd.Series, pd.DataFrame]:
    means, cov = src.latent_moments()
    return means, cov


def moderator_values(res: Any, moderator: str, sds: Sequence[float] = (-1.0, 0.0, 1.0)) -> pd.Series:
    """Moderator values at mean + k SD (model-implied latent moments), labelled."""
    src = moderation_source(res)
    means, cov = _moments(src)
    if moderator not in cov.index:
        raise OptionError(f"{moderator!r} is not a variable of the fitted model")
    m, sd = float(means[moderator]), math.sqrt(float(cov.loc[moderator, moderator]))
    labels = [("mean" if k == 0 else f"mean{k:+g} SD") for k in sds]
    return pd.Series([m + k * sd for k in sds], index=labels, name=moderator)


def standardized_interaction(res: Any, y: str, a: str, b: str) -> float:
    """Wen, Marsh & Hau (2010): ``gamma * sd(a) * sd(b) / sd(y)`` with model-implied SDs."""
    src = moderation_source(res)
    g = _coef(src, y, interaction_term(res, y, a, b))
    _, cov = _moments(src)
    return float(g * math.sqrt(cov.loc[a, a] * cov.loc[b, b] / cov.loc[y, y]))


def _z(level: float) -> float:
    from scipy import stats

    return float(stats.norm.ppf(0.5 + level / 2))


def simple_slopes(res: Any, y: str, focal: str, moderator: str, values: Any = None,
                  level: float = 0.95) -> pd.DataFrame:
    """Conditional effect of ``focal`` on ``y`` at moderator values (default mean -1/0/+1
    SD): ``slope, se, z, pvalue, ci_lower, ci_upper`` (delta method, Wald CI)."""
    from scipy import stats

    src = moderation_source(res)
    term = interaction_term(res, y, focal, moderator)
    if values is None:
        values = moderator_values(res, moderator)
    values = pd.Series(values) if not isinstance(values, pd.Series) else values
    bf, bi = _coef(src, y, focal), _coef(src, y, term)
    v = src.cov_coef([(y, focal), (y, term)])
    w = values.to_numpy(dtype=float)
    slope = bf + bi * w
    se = np.sqrt(np.maximum(v[0, 0] + 2 * w * v[0, 1] + w * w * v[1, 1], 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):  # a bootstrap view has no SEs
        z = np.where(se > 0, slope / np.where(se > 0, se, 1.0), np.nan)
    q = _z(level)
    return pd.DataFrame({"moderator": w, "slope": slope, "se": se, "z": z,
                         "pvalue": 2 * stats.norm.sf(np.abs(z)), "ci_lower": slope - q * se,
                         "ci_upper": slope + q * se}, index=values.index)


@dataclass(frozen=True)
class JohnsonNeyman:
    """Johnson-Neyman bounds of the moderator: ``bounds`` (sorted real roots, 0-2 of them)
    and ``significant_inside`` (True: the slope is significant between the bounds; False:
    outside them). ``text`` says it in one line."""

    bounds: tuple[float, ...]
    significant_inside: bool
    level: float
    text: str


def johnson_neyman(res: Any, y: str, focal: str, moderator: str, level: float = 0.95) -> JohnsonNeyman:
    """Moderator values where the simple slope of ``focal`` is exactly significant at
    ``level`` (two-sided Wald z)."""
    src = moderation_source(res)
    term = interaction_term(res, y, focal, moderator)
    bf, bi = _coef(src, y, focal), _coef(src, y, term)
    v = src.cov_coef([(y, focal), (y, term)])
    q2 = _z(level) ** 2
    a = bi * bi - q2 * v[1, 1]
    b = 2 * (bf * bi - q2 * v[0, 1])
    c = bf * bf - q2 * v[0, 0]
    disc = b * b - 4 * a * c
    if a == 0 or disc < 0:
        roots: tuple[float, ...] = ()
    else:
        r = np.sort(np.array([(-b - math.sqrt(disc)) / (2 * a), (-b + math.sqrt(disc)) / (2 * a)]))
        roots = (float(r[0]), float(r[1]))
    # f(w) = (slope^2 - q^2 var) = a w^2 + b w + c; significant where f > 0
    inside = a < 0
    if not roots:
        sig = (c > 0) if a == 0 else (a > 0)
        text = (f"the slope of {focal} is significant at every value of {moderator}" if sig
                else f"the slope of {focal} is significant at no value of {moderator}")
    elif inside:
        text = f"the slope of {focal} is significant for {moderator} between {roots[0]:.3f} and {roots[1]:.3f}"
    else:
        text = f"the slope of {focal} is significant for {moderator} below {roots[0]:.3f} and above {roots[1]:.3f}"
    return JohnsonNeyman(roots, bool(inside), level, text)


def _chain_terms(res: Any, chain: Sequence[str], moderator: str) -> list[tuple[str, str, str | None]]:
    """Per link ``(outcome, predictor, interaction term with the moderator or None)``."""
    model = res.model
    terms = {t for t, _, _ in model.parsed.interactions}
    out = []
    for pred, outc in zip(chain[:-1], chain[1:]):
        term = next((t for t in (f"{pred}:{moderator}", f"{moderator}:{pred}") if t in terms), None)
        out.append((outc, pred, term))
    return out


def conditional_indirect(res: Any, chain: Sequence[str], moderator: str, values: Any = None,
                         level: float = 0.95) -> tuple[pd.DataFrame, dict]:
    """Conditional indirect effects of ``chain[0]`` on ``chain[-1]`` through the chain at
    moderator values, and the index of moderated mediation.

    Returns ``(table, index)``: ``table`` has ``moderator, effect, se, z, pvalue, ci_lower,
    ci_upper`` per value; ``index`` is ``{"index", "se", "z", "pvalue", "ci_lower",
    "ci_upper", "moderated_links"}`` — the index (Hayes 2015) when exactly one link is
    moderated, else NaN (the effect is then not linear in the moderator: compare the
    conditional effects instead)."""
    from scipy import stats

    src = moderation_source(res)
    links = _chain_terms(res, chain, moderator)
    pairs: list[tuple[str, str]] = []
    for outc, pred, term in links:
        pairs.append((outc, pred))
        if term:
            pairs.append((outc, term))
    est = np.array([_coef(src, l, r) for l, r in pairs])
    vc = src.cov_coef(pairs)
    pos = {p: i for i, p in enumerate(pairs)}
    if values is None:
        values = moderator_values(res, moderator)
    values = pd.Series(values) if not isinstance(values, pd.Series) else values
    q = _z(level)
    rows = []
    for w in values.to_numpy(dtype=float):
        link_vals, grads = [], []
        for outc, pred, term in links:
            g = np.zeros(len(pairs))
            g[pos[(outc, pred)]] = 1.0
            val = est[pos[(outc, pred)]]
            if term:
                g[pos[(outc, term)]] = w
                val += w * est[pos[(outc, term)]]
            link_vals.append(val)
            grads.append(g)
        eff = float(np.prod(link_vals))
        grad = np.zeros(len(pairs))
        for k, g in enumerate(grads):
            grad += g * np.prod([lv for j, lv in enumerate(link_vals) if j != k])
        se = float(math.sqrt(max(grad @ vc @ grad, 0.0)))
        z = eff / se if se > 0 else float("nan")
        rows.append((w, eff, se, z, 2 * stats.norm.sf(abs(z)), eff - q * se, eff + q * se))
    table = pd.DataFrame(rows, index=values.index,
                         columns=["moderator", "effect", "se", "z", "pvalue", "ci_lower", "ci_upper"])
    moderated = [(outc, pred) for outc, pred, term in links if term]
    index = {"index": float("nan"), "se": float("nan"), "z": float("nan"), "pvalue": float("nan"),
             "ci_lower": float("nan"), "ci_upper": float("nan"),
             "moderated_links": [f"{p} -> {o}" for o, p in moderated]}
    if len(moderated) == 1:
        k = next(i for i, (_, _, t) in enumerate(links) if t)
        outc, _pred, term = links[k]
        others = [est[pos[(o, p)]] for j, (o, p, _) in enumerate(links) if j != k]
        val = float(est[pos[(outc, term)]] * np.prod(others))
        grad = np.zeros(len(pairs))
        grad[pos[(outc, term)]] = np.prod(others)
        for j, (o, p, _) in enumerate(links):
            if j != k:
                grad[pos[(o, p)]] = est[pos[(outc, term)]] * np.prod(
                    [est[pos[(o2, p2)]] for i2, (o2, p2, _) in enumerate(links) if i2 not in (j, k)])
        se = float(math.sqrt(max(grad @ vc @ grad, 0.0)))
        z = val / se if se > 0 else float("nan")
        index.update(index=val, se=se, z=z, pvalue=float(2 * stats.norm.sf(abs(z))),
                     ci_lower=val - q * se, ci_upper=val + q * se)
    return table, index


# ---------------------------------------------------------------------------- bootstrap
def moderation_bootstrap(res: Any, quantities: Any, *, n_boot: int = 1000, seed: int = 20240917,
                         level: float = 0.95) -> pd.DataFrame:
    """Percentile bootstrap CIs of ``quantities(source) -> dict[name, float]`` (any of the
    functions above applied to an accessor object): ``estimate, boot_se, boot_lower,
    boot_upper, n_ok`` per name.

    A result with ``bootstrap_thetas(n_boot, seed)`` and ``accessors_at(theta)`` (the
    product-indicator fits) has all its draws refitted in one batch. Any other result with
    ``model``, ``data`` and ``method`` (LMS, QML) is refitted draw by draw with
    :func:`smsem.estimate.interaction.fit_interaction` (slow: one full fit per draw; a draw
    whose fit fails or does not converge is left out). Resamples come from
    ``numpy.random.SeedSequence(seed)``: same seed, same draws."""
    point = quantities(res)
    names = list(point)
    batched = getattr(res, "method", None) != "qml"  # QML has no warm-started draws: refit each
    if batched and callable(getattr(res, "bootstrap_thetas", None)) and callable(getattr(res, "accessors_at", None)):
        thetas = res.bootstrap_thetas(int(n_boot), int(seed))
        draws = np.full((len(thetas), len(point)), np.nan)
        for i, th in enumerate(thetas):
            if np.all(np.isfinite(th)):
                vals = quantities(res.accessors_at(th))
                draws[i] = [vals[k] for k in names]
    elif all(getattr(res, a, None) is not None for a in ("model", "data", "method")):
        draws = _refit_draws(res, quantities, names, int(n_boot), int(seed))
    else:
        raise OptionError(f"bootstrap CIs are not available for a {type(res).__name__}")
    alpha = (1 - level) / 2
    out = {}
    for j, k in enumerate(names):
        d = draws[:, j][np.isfinite(draws[:, j])]
        lo, hi = (np.quantile(d, [alpha, 1 - alpha]) if len(d) else (np.nan, np.nan))
        out[k] = {"estimate": point[k], "boot_se": float(np.std(d, ddof=1)) if len(d) > 1 else np.nan,
                  "boot_lower": float(lo), "boot_upper": float(hi), "n_ok": int(len(d))}
    return pd.DataFrame(out).T


def _refit_draws(res: Any, quantities: Any, names: list, n_boot: int, seed: int) -> np.ndarray:
    import warnings

    from ...exceptions import ConvergenceWarning
    from . import fit_interaction

    rng = np.random.default_rng(np.random.SeedSequence(seed))
    data = res.data.reset_index(drop=True)
    draws = np.full((n_boot, len(names)), np.nan)
    for b in range(n_boot):
        idx = rng.integers(0, len(data), len(data))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                warnings.simplefilter("error", category=ConvergenceWarning)  # leave an unconverged draw out
                r = fit_interaction(res.model, data.iloc[idx].reset_index(drop=True), method=res.method)
        except Exception:  # noqa: BLE001  (a failed draw is counted, not fatal)
            continue
        if getattr(r, "converged", True) is False:
            continue
        vals = quantities(r)
        draws[b] = [vals[k] for k in names]
    return draws


# ------------------------------------------------------------------------------- figure
def plot_simple_slopes(res: Any, y: str, focal: str, moderator: str, path: str | Path, *,
                       force: bool = False) -> list[Path]:
    """The simple-slopes figure: predicted ``y`` (deviation from its mean) against
    ``focal`` over its mean +/- 2 SD, one line per moderator value (mean - SD, mean,
    mean + SD). Writes ``<path>.png`` (300 dpi) and ``<path>.svg`` atomically."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ...io import write_bytes

    src = moderation_source(res)
    means, cov = _moments(src)
    term = interaction_term(res, y, focal, moderator)
    bf, bm, bi = _coef(src, y, focal), _coef(src, y, moderator), _coef(src, y, term)
    mf, sf = float(means[focal]), math.sqrt(float(cov.loc[focal, focal]))
    x = np.linspace(mf - 2 * sf, mf + 2 * sf, 50)
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for (label, w), style in zip(moderator_values(res, moderator).items(), ("--", "-", ":")):
        ax.plot(x, bf * x + bm * w + bi * x * w, style, color="black", label=f"{moderator} = {label} ({w:.2f})")
    ax.set_xlabel(focal)
    ax.set_ylabel(f"predicted {y}")
    ax.set_title(f"Simple slopes of {focal} on {y} by {moderator}")
    ax.legend(frameon=False)
    fig.tight_layout()
    out = []
    base = Path(path)
    for ext, kw in (("png", {"dpi": 300}), ("svg", {})):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, **kw)
        out.append(write_bytes(base.with_suffix(f".{ext}"), buf.getvalue(), force=force))
    plt.close(fig)
    return out


# ------------------------------------------------------------------------------- report
def moderation_report(res: Any, *, chain: Any = None, n_boot: int = 0,
                      seed: int = 20240917, level: float = 0.95) -> dict:
    """Everything above for every interaction ``y ~ a:b`` of the model (both ``a`` and
    ``b`` taken as moderator in turn), plus each chain's conditional indirect effects for
    each moderator of one of its links (``chain``: one chain ``["IS", "IC", "EA", "OP"]``
    or a list of chains); with ``n_boot > 0`` percentile bootstrap CIs. ``out["chain"]``
    maps ``"IS->IC->EA->OP | COM"`` to ``(table, index)``."""
    src = moderation_source(res)
    model = res.model
    regs = [(p.lhs, p.rhs) for p in model.parsed.regressions if ":" in p.rhs]
    out: dict = {"interactions": [], "chain": None}
    for y, term in regs:
        a, b = term.split(":")
        item = {"outcome": y, "term": term, "est": _coef(src, y, term),
                "se": float(math.sqrt(src.cov_coef([(y, term)])[0, 0])),
                "std": standardized_interaction(res, y, a, b), "probes": []}
        for focal, mod in ((a, b), (b, a)):
            item["probes"].append({"focal": focal, "moderator": mod,
                                   "simple_slopes": simple_slopes(res, y, focal, mod, level=level),
                                   "johnson_neyman": johnson_neyman(res, y, focal, mod, level=level)})
        out["interactions"].append(item)
    chains = [] if not chain else ([list(chain)] if isinstance(chain[0], str) else [list(c) for c in chain])
    probes: list[tuple[list[str], str]] = []
    for ch in chains:
        for pred, outc in zip(ch[:-1], ch[1:]):
            for p in model.parsed.regressions:
                if p.lhs == outc and ":" in p.rhs and pred in p.rhs.split(":"):
                    a, b = p.rhs.split(":")
                    m = b if a == pred else a
                    if (ch, m) not in probes and m not in ch:
                        probes.append((ch, m))
    if chains:
        out["chain"] = {f"{'->'.join(ch)} | {m}": conditional_indirect(res, ch, m, level=level) for ch, m in probes}
    if n_boot:
        def q(s: Any) -> dict:
            d = {}
            for y, term in regs:
                a, b = term.split(":")
                d[f"{y}~{term}"] = _coef(s, y, term)
                d[f"std {y}~{term}"] = standardized_interaction(s, y, a, b)
                for focal, mod in ((a, b), (b, a)):
                    ss = simple_slopes(s, y, focal, mod, values=moderator_values(res, mod), level=level)
                    for lab, v in ss["slope"].items():
                        d[f"slope {focal}->{y} | {mod}={lab}"] = v
            for ch, m in probes:
                tab, idx = conditional_indirect(s, ch, m, values=moderator_values(res, m), level=level)
                for lab, v in tab["effect"].items():
                    d[f"indirect {'->'.join(ch)} | {m}={lab}"] = v
                if len(idx["moderated_links"]) == 1:  # the index exists (Hayes 2015)
                    d[f"index of moderated mediation {'->'.join(ch)} | {m}"] = idx["index"]
            return d

        out["bootstrap"] = moderation_bootstrap(res, q, n_boot=n_boot, seed=seed, level=level)
    return out


def json_safe(obj: Any) -> Any:
    """``obj`` with NaN and infinities replaced by None (strict JSON)."""
    if isinstance(obj, dict):
        return {k: json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_safe(v) for v in obj]
    if isinstance(obj, (float, np.floating)):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def render_moderation(report: dict, fmt: str = "text") -> str:
    """The moderation report as text, markdown or JSON."""
    import json

    if fmt == "json":
        def tab(df: pd.DataFrame) -> list:
            return [{"value": k, **{c: float(v) for c, v in r.items()}} for k, r in df.iterrows()]

        doc: dict = {"interactions": [], "chain": None}
        for it in report["interactions"]:
            doc["interactions"].append({
                "outcome": it["outcome"], "term": it["term"], "est": it["est"], "se": it["se"], "std": it["std"],
                "probes": [{"focal": p["focal"], "moderator": p["moderator"],
                            "simple_slopes": tab(p["simple_slopes"]),
                            "johnson_neyman": {"bounds": list(p["johnson_neyman"].bounds),
                                               "significant_inside": p["johnson_neyman"].significant_inside,
                                               "text": p["johnson_neyman"].text}} for p in it["probes"]]})
        if report.get("chain"):
            doc["chain"] = {m: {"conditional_indirect": tab(t), "index": i} for m, (t, i) in report["chain"].items()}
        if "bootstrap" in report:
            doc["bootstrap"] = {k: {c: float(v) for c, v in r.items()} for k, r in report["bootstrap"].iterrows()}
        return json.dumps(json_safe(doc), indent=2, allow_nan=False) + "\n"
    md = fmt == "markdown"
    h = (lambda s: f"### {s}\n") if md else (lambda s: f"{s}\n{'-' * len(s)}\n")

    def table(df: pd.DataFrame) -> str:
        df = df.round(4)
        if md:
            return (df.to_markdown() if _has_tabulate() else f"```\n{df.to_string()}\n```") + "\n"
        return df.to_string() + "\n"

    out = [h("Latent interactions (moderation)")]
    for it in report["interactions"]:
        out.append(f"{it['outcome']} ~ {it['term']}: {it['est']:.4f} (SE {it['se']:.4f}), "
                   f"standardized {it['std']:.4f} (Wen, Marsh & Hau 2010)\n")
        for p in it["probes"]:
            out.append(f"\nSimple slopes of {p['focal']} -> {it['outcome']} at values of {p['moderator']}:\n")
            out.append(table(p["simple_slopes"]))
            jn = p["johnson_neyman"]
            out.append(f"Johnson-Neyman ({jn.level:.0%}): {jn.text}\n")
        out.append("\n")
    for m, (t, idx) in (report.get("chain") or {}).items():
        out.append(h(f"Conditional indirect effects {m}"))
        out.append(table(t))
        if math.isnan(idx["index"]):
            out.append(f"Index of moderated mediation: not defined ({len(idx['moderated_links'])} moderated links: "
                       "the indirect effect is not linear in the moderator; compare the conditional effects)\n\n")
        else:
            out.append(f"Index of moderated mediation (Hayes 2015): {idx['index']:.4f} (SE {idx['se']:.4f}, "
                       f"p {idx['pvalue']:.4f}); moderated link {', '.join(idx['moderated_links'])}\n\n")
    if "bootstrap" in report:
        b = report["bootstrap"]
        out.append(h(f"Bootstrap percentile CIs ({int(b['n_ok'].max()) if len(b) else 0} successful draws)"))
        out.append(table(b[["estimate", "boot_se", "boot_lower", "boot_upper"]]))
    return "".join(out)


def _has_tabulate() -> bool:
    import importlib.util

    return importlib.util.find_spec("tabulate") is not None


# ----------------------------------------------------------------- linear vs moderation
def linear_comparison(res: Any) -> dict:
    """The moderation model against its linear counterpart: likelihood-ratio test of all
    interaction coefficients at once, AIC and BIC of both.

    Product-indicator fits (dmc, rca): the linear model is the same product-indicator
    model with the interaction coefficients fixed at 0 (the only nested comparison: the
    product indicators are data the linear model of the original items does not have).
    LMS/QML fits: the linear model is the model without its ``a:b`` terms fitted by ML to
    the same items (``res.fit_indices`` must give ``logl`` and ``npar``).
    Returns ``{"table": DataFrame(model, npar, logl, aic, bic), "lrt": {chi2, df, pvalue},
    "linear": the linear fit, "note": str}``."""
    from scipy import stats

    from .product import ProductIndicatorFit, fit_without_interactions

    if isinstance(res, ProductIndicatorFit):
        lin = fit_without_interactions(res)
        full_fi, lin_fi = res.fit.fit_indices, lin.fit_indices
        note = (f"{res.method}: nested test within the product-indicator model "
                "(interaction coefficients fixed at 0 vs free)")
    else:
        import dataclasses

        from ...model.spec import SEMModel
        from ...model.syntax import parse_lavaan
        from ..results import fit as ml_fit

        # the same statements without the product rows (and without := rows, which may name
        # a product's label and play no part in the likelihood)
        parsed = res.model.parsed
        products = {name for name, _, _ in parsed.latent_interactions}
        linear = dataclasses.replace(parsed, parameters=tuple(p for p in parsed.parameters
                                                              if not (p.op == "~" and p.rhs in products)),
                                     defined=())
        text = linear.to_lavaan()
        m = SEMModel(f"{res.model.name} (linear)", text, parse_lavaan(text), {}, (), None, 5, "")
        # the interaction fit estimates item intercepts (its npar counts them): the linear
        # model with a mean structure has the same saturated means, so the LRT compares slopes only
        lin = ml_fit(m, res.data, meanstructure=True)
        full_fi, lin_fi = res.fit_indices, lin.fit_indices
        note = f"{getattr(res, 'method', 'interaction')}: the interaction model against the linear ML fit"
    n = float(full_fi.get("ntotal", res.n))
    rows = []
    for label, fi in (("linear", lin_fi), ("moderation", full_fi)):
        ll, k = float(fi["logl"]), float(fi["npar"])
        rows.append({"model": label, "npar": k, "logl": ll, "aic": -2 * ll + 2 * k, "bic": -2 * ll + k * math.log(n)})
    chi2 = 2 * (rows[1]["logl"] - rows[0]["logl"])
    df = rows[1]["npar"] - rows[0]["npar"]
    return {"table": pd.DataFrame(rows), "lrt": {"chi2": chi2, "df": df, "pvalue": float(stats.chi2.sf(chi2, df))},
            "linear": lin, "note": note}


def default_moderators(model: Any) -> list[str]:
    """The factors of the model's interactions that no regression explains (the essay's
    facilitators COM and MA in models/integrative_moderation.lav), in order of appearance."""
    lhs = {p.lhs for p in model.parsed.regressions}
    out: list[str] = []
    for _, a, b in model.parsed.interactions:
        for v in (a, b):
            if v not in lhs and v not in out:
                out.append(v)
    return out


def p5_as_moderation(res: Any, propositions: Sequence[Any], *, moderators: Sequence[str] | None = None,
                     level: float = 0.95, comparison: dict | None = None) -> dict:
    """The essay's second reading of P5: for every proposition path ``source -> target``
    of ``propositions`` moderated in ``res`` by one of ``moderators`` (a term
    ``target ~ source:W``; default :func:`default_moderators`), the interaction, its
    standardized value, the simple slopes at W mean -1 SD, mean, mean +1 SD and the
    Johnson-Neyman bounds; with the linear-vs-moderation comparison."""
    src = moderation_source(res)
    mods = set(default_moderators(res.model) if moderators is None else moderators)
    rows = []
    for p in propositions:
        if getattr(p, "kind", "path") != "path":
            continue
        for q in res.model.parsed.regressions:
            if q.lhs != p.target or ":" not in q.rhs or p.source not in q.rhs.split(":"):
                continue
            a, b = q.rhs.split(":")
            w = b if a == p.source else a
            if w not in mods or w == p.source:
                continue
            est = _coef(src, p.target, q.rhs)
            se = float(math.sqrt(src.cov_coef([(p.target, q.rhs)])[0, 0]))
            ss = simple_slopes(res, p.target, p.source, w, level=level)
            jn = johnson_neyman(res, p.target, p.source, w, level=level)
            from scipy import stats

            rows.append({"id": p.id, "path": f"{p.source} -> {p.target}", "moderator": w, "term": q.rhs,
                         "est": est, "se": se, "pvalue": float(2 * stats.norm.sf(abs(est / se))) if se > 0 else np.nan,
                         "std": standardized_interaction(res, p.target, p.source, w),
                         "slope_low": float(ss["slope"].iloc[0]), "slope_mean": float(ss["slope"].iloc[1]),
                         "slope_high": float(ss["slope"].iloc[2]), "johnson_neyman": jn.text})
    return {"table": pd.DataFrame(rows), "comparison": comparison if comparison is not None else linear_comparison(res)}


def render_p5_moderation(block: dict, fmt: str = "text") -> str:
    t = block["table"]
    c = block["comparison"]
    mods = list(dict.fromkeys(t["moderator"])) if len(t) else []
    ids = list(dict.fromkeys(t["id"])) if len(t) else []
    title = f"P5 as moderation ({' and '.join(mods) or 'no moderator'} moderating {', '.join(ids) or 'no proposition'})"
    out = [f"### {title}\n" if fmt == "markdown" else f"{title}\n{'-' * len(title)}\n"]
    cols = ["id", "path", "moderator", "est", "se", "pvalue", "std", "slope_low", "slope_mean", "slope_high"]
    fence = (lambda x: f"```\n{x}\n```\n") if fmt == "markdown" else (lambda x: x + "\n")
    out.append(fence(t[cols].round(4).to_string(index=False)) if len(t) else "no moderated proposition path\n")
    for r in t.itertuples(index=False):
        out.append(f"{r.id} by {r.moderator}: {r.johnson_neyman}\n")
    lr = c["lrt"]
    out.append(f"\nLinear vs moderation ({c['note']}):\n")
    out.append(fence(c["table"].round(3).to_string(index=False)))
    out.append(f"LRT chi2 = {lr['chi2']:.3f}, df = {lr['df']:.0f}, p = {lr['pvalue']:.4g}\n")
    return "".join(out)


def p5_json(block: dict) -> dict:
    """The "P5 as moderation" block as JSON-ready data (rows, comparison table, LRT)."""
    c = block["comparison"]
    return {"rows": [{k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in r.items()}
                     for r in block["table"].to_dict("records")],
            "comparison": {"note": c["note"], "lrt": {k: float(v) for k, v in c["lrt"].items()},
                           "models": [{k: (float(v) if k != "model" else v) for k, v in r.items()}
                                      for r in c["table"].to_dict("records")]}}
