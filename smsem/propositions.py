"""The proposition table: each hypothesis with its estimate, bootstrap CI and verdict.

The hypotheses are the model's propositions (from the codebook, e.g. the essay's P1-P5),
or a user's own hypotheses file (:mod:`smsem.model.hypotheses`), or, for a model with
neither, every regression path and every ``:=`` parameter with no expected sign. A
hypothesis is a structural path, a specific indirect effect along a chain, or a ``:=``
parameter; its verdict reads the bootstrap CI of its standardized value (std.all: the
standardized path, the product of the standardized paths along the chain, or the ``:=``
expression evaluated on the std.all values, as lavaan's ``standardizedSolution()``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np
import pandas as pd

from ._validation import check_option, check_real
from ._defaults import CI_METHODS, DEFAULT_BOOT_SEED
from .estimate.results import FitResults
from .exceptions import OptionError
from .model.hypotheses import default_hypotheses, load_hypotheses
from .model.spec import PropositionPath

if TYPE_CHECKING:  # the bootstrap (multiprocessing, the batched refits) is imported when draws are made
    from .bootstrap import BootstrapResults

__all__ = ["PropositionTable", "proposition_table", "group_proposition_table", "verdict", "VERDICTS", "TABLE_COLUMNS",
           "MEDIATION_COLUMNS"]

VERDICTS = ("supported", "opposite sign", "not supported", "CI excludes 0", "CI includes 0", "no bootstrap")
TABLE_COLUMNS = [
    "id", "proposition", "path", "expected", "est", "std_est", "se", "pvalue",
    "ci_lower", "ci_upper", "verdict", "label",
]
_EXPECTED = {1: "+", -1: "-", 0: "?"}
#: Columns of :attr:`PropositionTable.mediation`.
MEDIATION_COLUMNS = [
    "outcome", "source", "kind", "path", "ids", "est", "boot_ci_lower", "boot_ci_upper", "std_all",
    "std_ci_lower", "std_ci_upper", "verdict",
]


def verdict(lower: float, upper: float, sign: int) -> str:
    """Verdict of a hypothesis from the CI of its standardized estimate.

    With an expected sign (1 or -1): ``"supported"`` when the interval lies entirely on
    the hypothesized side of 0, ``"opposite sign"`` when it lies entirely on the other
    side, ``"not supported"`` otherwise (it contains 0). Without one (``sign=0``):
    ``"CI excludes 0"`` or ``"CI includes 0"``. ``"no bootstrap"`` when there is no
    interval.
    """
    if pd.isna(lower) or pd.isna(upper):
        return "no bootstrap"
    if lower > 0:
        side = 1
    elif upper < 0:
        side = -1
    else:
        return "CI includes 0" if sign == 0 else "not supported"
    if sign == 0:
        return "CI excludes 0"
    return "supported" if side == sign else "opposite sign"


@dataclass(frozen=True)
class PropositionTable:
    """One row per proposition path, with the facts printed under it.

    Attributes
    ----------
    table : DataFrame
        Columns ``TABLE_COLUMNS``. ``ci_lower``/``ci_upper`` bound the bootstrap
        CI (method ``ci_method``) of the standardized estimate.
    n : int
        Respondents used.
    n_boot, n_failed : int
        Bootstrap draws requested and failed (0 and 0 without bootstrap).
    level : float
    ci_method : str
    fit_indices : dict
    mediation : DataFrame
        Columns ``MEDIATION_COLUMNS``: the mediation block of the propositions' chain
        (e.g. the essay's P1-P4: IS -> IC -> EA -> OP). Every specific indirect effect
        whose every link is a proposition path, then for each of their sources the total
        indirect, direct and total effects, with bootstrap CIs (``ci_method``, ``level``)
        unstandardized and std.all; ``ids`` names the propositions along a chain
        (``"P1·P3·P4"``). Empty without such a chain.
    accounting : str
        One line on the bootstrap draws (used, inadmissible kept or excluded, left out of
        some CI per reason); see :meth:`BootstrapResults.accounting`.
    group_differences : DataFrame
        Multiple-group tables only (:func:`group_proposition_table`): the second block, one
        row per proposition path and group contrast with columns
        :data:`smsem.estimate.multigroup.PATH_DIFF_COLUMNS` (per-group unstandardized
        estimates, the difference group - reference, its Wald test and the stratified
        bootstrap percentile CI). Empty for a one-group table; ``table`` then has a
        ``group`` column (one row per proposition and group).
    """

    table: pd.DataFrame
    n: int
    n_boot: int
    n_failed: int
    failures: dict
    level: float
    ci_method: str
    fit_indices: dict
    mediation: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=MEDIATION_COLUMNS))
    accounting: str = ""
    group_differences: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __str__(self) -> str:
        from .report import render_propositions

        return render_propositions(self, "text")


def proposition_table(
    res: FitResults,
    boot: BootstrapResults | None = None,
    *,
    hypotheses: str | Sequence[PropositionPath] | None = None,
    n_boot: int = 1000,
    seed: int = DEFAULT_BOOT_SEED,
    level: float = 0.95,
    ci: str = "percentile",
    jobs: int = 1,
    progress: bool | None = None,
) -> PropositionTable:
    """Test the model's propositions (or ``hypotheses``).

    Parameters
    ----------
    res : FitResults
    boot : BootstrapResults, optional
        Draws to use; if omitted, ``n_boot`` draws are made with ``seed`` (``n_boot=0``
        gives the table without CIs).
    hypotheses : path or sequence of PropositionPath, optional
        A hypotheses file (see :mod:`smsem.model.hypotheses`) or its entries. Default: the
        model's propositions (its codebook's, or those set by
        :func:`smsem.model.hypotheses.with_hypotheses`); for a model with none, every
        regression path and every ``:=`` parameter, with no expected sign.
    n_boot : int, default=1000
    seed : int, default=20190102
    level : float, default=0.95
    ci : {"percentile", "bc", "bca", "normal"}, default="percentile"
        CI method of the standardized values behind the verdicts (see
        :meth:`BootstrapResults.conf_int`).
    jobs : int, default=1
        Worker processes for the draws (results do not depend on it).
    progress : bool, optional
        Progress bar on stderr; default: only when stderr is a terminal.

    Returns
    -------
    PropositionTable
    """
    from ._validation import check_single_group

    check_single_group(res, "the proposition table")
    if getattr(res, "ordinal_table", None) is not None:  # WLSMV & co.: the batched ordinal bootstrap
        from .estimate.categorical.propositions import ordinal_proposition_table

        return ordinal_proposition_table(res, boot, hypotheses=hypotheses, n_boot=n_boot, seed=seed, level=level,
                                         ci=ci)
    check_option("ci", ci, CI_METHODS)
    level = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
    ci_method = ci
    if hypotheses is None:
        props = tuple(res.model.propositions) or default_hypotheses(res.model)
    elif isinstance(hypotheses, (str, bytes)) or hasattr(hypotheses, "__fspath__"):
        props = load_hypotheses(hypotheses, res.model)  # type: ignore[arg-type]
    else:
        props = tuple(hypotheses)
    if boot is None and n_boot > 0 and props:
        from .bootstrap import bootstrap

        boot = bootstrap(res, n_boot=n_boot, seed=seed, jobs=jobs, progress=progress)
    points = _Points(res)
    rows = [points.row(p) for p in props]
    if boot is not None and props:
        lo, hi = _conf_int(boot, [_statistic(p, boot, res) for p in props], level, ci_method)
    else:
        lo = hi = np.full(len(props), np.nan)
    for r, p, a, b in zip(rows, props, lo, hi):
        r.update(ci_lower=float(a), ci_upper=float(b), verdict=verdict(a, b, p.sign))
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    return PropositionTable(
        table,
        res.n,
        boot.n_boot if boot is not None else 0,
        boot.n_failed if boot is not None else 0,
        dict(boot.failures) if boot is not None else {},
        level,
        ci_method,
        dict(res.fit_indices),
        mediation_block(res, props, boot, level=level, ci=ci_method),
        boot.accounting() if boot is not None else "",
    )


def mediation_block(res: FitResults, props: Sequence[PropositionPath], boot: BootstrapResults | None, *,
                    level: float = 0.95, ci: str = "percentile") -> pd.DataFrame:
    """The mediation block of :class:`PropositionTable` (see ``mediation`` there)."""
    from .estimate.effects import effects

    links = {(p.source, p.target): p.id for p in props if p.kind == "path"}
    if not links or not res.model.parsed.regressions:
        return pd.DataFrame(columns=MEDIATION_COLUMNS)
    try:
        t = effects(res, level=level, boot=boot, ci=ci).table
    except Exception:  # a feedback loop: no chains to report  # noqa: BLE001
        return pd.DataFrame(columns=MEDIATION_COLUMNS)
    chosen: dict[tuple[str, str], list] = {}
    for r in t[t.kind == "indirect"].itertuples(index=False):
        nodes = r.path.split(" -> ")
        ids = [links.get((a, b)) for a, b in zip(nodes, nodes[1:])]
        if all(ids):
            chosen.setdefault((r.outcome, r.source), []).append((r, "·".join(ids)))
    rows = []
    for (y, x), chain_rows in chosen.items():
        rows += chain_rows
        rest = t[(t.outcome == y) & (t.source == x) & (t.kind != "indirect")]
        n_chains = int(((t.outcome == y) & (t.source == x) & (t.kind == "indirect")).sum())
        has_direct = bool((rest.kind == "direct").any())
        for r in rest.itertuples(index=False):
            # Without a direct path the total is the total indirect effect, and with a single
            # chain the total indirect effect is that chain: such rows would repeat a row.
            if (r.kind == "total_indirect" and n_chains == 1) or (r.kind == "total" and not has_direct):
                continue
            rows.append((r, links.get((x, y), "") if r.kind == "direct" else ""))
    out = []
    for r, ids in rows:
        lo = getattr(r, "boot_ci_lower", np.nan)
        hi = getattr(r, "boot_ci_upper", np.nan)
        slo = getattr(r, "std_boot_ci_lower", np.nan)
        shi = getattr(r, "std_boot_ci_upper", np.nan)
        out.append({"outcome": r.outcome, "source": r.source, "kind": r.kind,
                    "path": r.path or f"{r.source} -> {r.outcome}", "ids": ids, "est": r.est,
                    "boot_ci_lower": lo, "boot_ci_upper": hi, "std_all": r.std_all,
                    "std_ci_lower": slo, "std_ci_upper": shi, "verdict": verdict(slo, shi, 0)})
    return pd.DataFrame(out, columns=MEDIATION_COLUMNS)


class _Points:
    """Point estimates, SEs and p-values of each kind of hypothesis (effects computed once)."""

    def __init__(self, res: FitResults):
        self.res = res
        self._effects: dict[str, pd.DataFrame] = {}
        self._defined: pd.DataFrame | None = None

    def row(self, p: PropositionPath) -> dict:
        from .estimate.effects import defined_parameters, effects

        res = self.res
        if p.kind == "path":
            prm = res.path(p.target, p.source)
            est, se, pv = float(prm["est"]), float(prm["se"]), float(prm["pvalue"])
            std = float(res.standardized_paths[f"{p.target}~{p.source}"])
        elif p.kind == "indirect":
            if p.target not in self._effects:
                self._effects[p.target] = effects(res, p.target).table
            t = self._effects[p.target]
            r = t[(t.kind == "indirect") & (t.path == " -> ".join(p.chain))].iloc[0]
            est, se, pv, std = float(r.est), float(r.se), float(r.pvalue), float(r.std_all)
        else:
            if self._defined is None:
                self._defined = defined_parameters(res).set_index("name")
            r = self._defined.loc[p.defined]
            est, se, pv, std = float(r.est), float(r.se), float(r.pvalue), float(r.std_all)
        path = f"{p.defined} := {self._defined.loc[p.defined, 'expression']}" if p.defined else p.label
        return {"id": p.id, "proposition": p.proposition, "path": path, "expected": _EXPECTED[p.sign],
                "est": est, "std_est": std, "se": se, "pvalue": pv, "label": p.text}


def _statistic(p: PropositionPath, boot: BootstrapResults, res: FitResults
               ) -> Callable[[np.ndarray], np.ndarray]:
    """``rows of bootstrap statistics (r, k) -> the hypothesis' standardized value (r,)``."""
    col = {name: j for j, name in reversed(list(enumerate(boot.names)))}
    if p.kind == "path":
        j = col[f"{p.target}~{p.source}:std"]
        return lambda m: m[:, j]
    if p.kind == "indirect":
        name = "indirect:" + "->".join(p.chain) + ":std"
        if name in col:  # the bootstrapped chain itself
            j = col[name]
            return lambda m: m[:, j]
        js = [col[f"{b}~{a}:std"] for a, b in zip(p.chain, p.chain[1:])]
        return lambda m: np.prod(m[:, js], axis=1)
    named = [j for nm, j in col.items() if nm.startswith(f"{p.defined}:=") and nm.endswith(":std")]
    if named:
        j = named[0]
        return lambda m: m[:, j]
    return _defined_statistic(p.defined, col, res)


def _defined_statistic(name: str, col: dict[str, int], res: FitResults) -> Callable[[np.ndarray], np.ndarray]:
    """A ``:=`` parameter's std.all value per row of draws: the free parameters are read
    back from the draws' columns (regressions ``lhs~rhs``, the others ``lhs op rhs``) and
    the expression is evaluated at them, as for the full-sample estimate."""
    from .estimate.effects import compile_defined, defined_evaluator

    compiled = compile_defined(res.model.parsed)
    k = [d.name for d, _ in compiled].index(name)
    values = defined_evaluator(res, compiled)
    names = res.param_map.names  # type: ignore[union-attr]
    idx = np.array([col[f"{lhs}{op}{rhs}"] for lhs, op, rhs in names], dtype=np.intp)
    shift = len(compiled) + k

    def stat(m: np.ndarray) -> np.ndarray:
        out = np.full(m.shape[0], np.nan)
        for i, row in enumerate(m[:, idx]):
            if np.all(np.isfinite(row)):
                out[i] = values(row)[shift]
        return out

    return stat


def _conf_int(boot: BootstrapResults, stats: list[Callable[[np.ndarray], np.ndarray]], level: float,
              method: str) -> tuple[np.ndarray, np.ndarray]:
    """CIs of functions of the bootstrap statistics, by the methods of
    :meth:`BootstrapResults.conf_int` (identical to it for a single column)."""
    from .bootstrap import bc_ci, bca_ci, normal_ci, percentile_ci

    def apply(m: np.ndarray) -> np.ndarray:
        return np.stack([f(m) for f in stats], axis=1)

    ok = apply(boot.successful)
    if method == "percentile":
        return percentile_ci(ok, level)
    if boot.estimate is None:
        raise OptionError(f"the {method} interval needs the full-sample estimate")
    est = apply(np.asarray(boot.estimate, dtype=float)[None, :])[0]
    if method == "normal":
        return normal_ci(ok, est, level)
    if method == "bc":
        return bc_ci(ok, est, level)
    n = boot.fit.n if boot.fit is not None else 0
    if ok.shape[0] < n:
        raise OptionError(f"BCa intervals need at least as many successful bootstrap draws as respondents "
                          f"({ok.shape[0]} < n = {n}); use more draws (--boot) or another CI method")
    return bca_ci(ok, est, apply(boot.jackknife), level)


def p5_moderation_block(res: Any, propositions: Sequence[PropositionPath] | None = None, *,
                        level: float = 0.95) -> dict:
    """The proposition report's "P5 as moderation" block for a fit of a model with latent
    interactions (e.g. models/integrative_moderation.lav): per moderated proposition path
    the interaction, its standardized value, simple slopes and Johnson-Neyman bounds, and
    the comparison with the linear model (see
    :func:`smsem.estimate.interaction.moderation.p5_as_moderation`). ``propositions``
    default to the model's own."""
    from .estimate.interaction.moderation import p5_as_moderation

    props = list(propositions if propositions is not None else getattr(res.model, "propositions", ()))
    return p5_as_moderation(res, props, level=level)



def group_proposition_table(res: Any, boot: Any = None, *, model: Any = None,
                            hypotheses: str | Sequence[PropositionPath] | None = None,
                            level: float = 0.95) -> PropositionTable:
    """The proposition table of a multiple-group fit (:class:`MultiGroupFit`, ML family).

    First block: each proposition path in each group (``table`` has a ``group`` column):
    unstandardized estimate, SE, p-value, the std.all value and, with ``boot`` (a
    :class:`~smsem.estimate.multigroup.StratifiedBootstrap`), the percentile CI of the
    std.all value over the draws resampled within groups, and its verdict. Second block,
    ``group_differences``: :func:`~smsem.estimate.multigroup.path_differences`. The
    hypotheses: ``hypotheses`` (a file or entries), else ``model``'s propositions, else
    every regression of the fit with no expected sign. Indirect and ``:=`` hypotheses are
    not tested per group (left out of both blocks)."""
    from .estimate.multigroup import PATH_DIFF_COLUMNS, group_path_rows, path_differences

    level = check_real("level", level, low=0, high=1, low_open=True, high_open=True)
    if hypotheses is None:
        props = tuple(getattr(model, "propositions", None) or ())
        if not props:
            regs = res.params[(res.params["op"] == "~") & (res.params["group"] == 1)]
            props = tuple(PropositionPath(f"{r.lhs}~{r.rhs}", f"{r.lhs}~{r.rhs}", r.rhs, r.lhs, 0)
                          for r in regs.itertuples())
    elif isinstance(hypotheses, (str, bytes)) or hasattr(hypotheses, "__fspath__"):
        props = load_hypotheses(hypotheses, model)  # type: ignore[arg-type]
    else:
        props = tuple(hypotheses)
    paths = [p for p in props if p.kind == "path"]
    rows = group_path_rows(res, paths, boot, level)
    for r in rows:
        r["expected"] = _EXPECTED[r.pop("sign")]
        r["verdict"] = verdict(r["ci_lower"], r["ci_upper"], {"+": 1, "-": -1, "?": 0}[r["expected"]])
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS + ["group"])
    diffs = path_differences(res, boot, paths=paths, level=level) if paths else pd.DataFrame(columns=PATH_DIFF_COLUMNS)
    n_boot = boot.n_boot if boot is not None else 0
    n_failed = boot.n_failed if boot is not None else 0
    acc = (f"{n_boot - n_failed} of {n_boot} bootstrap draws used (stratified: resampled within groups; "
           f"{n_failed} refits failed)" if boot is not None else "")
    return PropositionTable(table, res.n, n_boot, n_failed, {"not converged": n_failed} if n_failed else {}, level,
                            "percentile", dict(res.fit_indices), accounting=acc, group_differences=diffs)
