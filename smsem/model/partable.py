"""The parameter table: lavaan's ``lavaanify()`` / ``parTable()`` for one group.

Everything downstream reads this table: which parameters exist, which are free, their
fixed values, labels and equality constraints. It is built from the parsed syntax with
lavaan's defaults for ``sem()``, ``cfa()`` and ``growth()`` (lavaan 0.6 rules, checked
row by row against ``parTable()`` in ``tests/test_partable.py``):

- the user's statements come first, in the order written (covariances ``a ~~ b`` are
  oriented so that ``a`` comes first among the latent then observed variables);
- then the defaults, in lavaan's order: (residual) variances of every non-exogenous
  observed variable and every latent variable (``auto.var``); covariances among
  exogenous latent variables (``auto.cov.lv.x``); covariances among dependent latent
  and observed variables (``auto.cov.y``); variances and covariances of the observed
  exogenous covariates (``fixed.x``: fixed at their sample values, ``exo = 1``);
  intercepts of every observed then latent variable when there is a mean structure;
- identification: the first loading of each factor fixed at 1 (``auto.fix.first``) or
  every latent variance fixed at 1 (``std.lv``); the residual variance of a single
  indicator fixed at 0 (``auto.fix.single``); observed intercepts free and latent means
  0 (``sem``/``cfa``), or observed intercepts 0 and latent means free (``growth``);
- the modifiers then override the defaults (``2*x`` fixes, ``NA*x`` frees, labels);
- parameters sharing a label are equal: lavaan's default (``ceq.simple = FALSE``) keeps
  each its own free number and adds one ``.pA. == .pB.`` row per extra member
  (``user = 2``); a label shared with a fixed parameter fixes them all;
- ``:=``, ``==``, ``<`` and ``>`` rows follow, as written, then the label equalities.

Columns are lavaan's: ``id lhs op rhs user block group free ustart exo label plabel``
plus ``start`` (a ``start()`` value) and ``line`` (where the statement is written).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from itertools import combinations
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..exceptions import SpecError
from .syntax import ParsedModel, parse_lavaan

__all__ = ["ParTable", "lavaanify", "MODEL_TYPES", "TABLE_COLUMNS", "GROUP_EQUAL"]

MODEL_TYPES = ("sem", "cfa", "growth")
GROUP_EQUAL = ("loadings", "intercepts", "means", "regressions", "residuals", "residual.covariances",
               "lv.variances", "lv.covariances")
TABLE_COLUMNS = ["id", "lhs", "op", "rhs", "user", "block", "group", "free", "ustart", "exo", "label",
                 "plabel", "start", "line"]


@dataclass(frozen=True)
class _Names:
    """lavaan's variable lists (``lavNames``) of a flat table, in lavaan's order."""

    lv: tuple[str, ...]
    ov: tuple[str, ...]
    ov_x: tuple[str, ...]
    ov_nox: tuple[str, ...]
    lv_x: tuple[str, ...]
    lv_y: tuple[str, ...]
    ov_y: tuple[str, ...]
    ov_ind: tuple[str, ...]


def _unique(seq: Iterable[str]) -> list[str]:
    out: list[str] = []
    for v in seq:
        if v not in out:
            out.append(v)
    return out


def _vnames(rows: Sequence[tuple[str, str, str]], fixed_x_candidates: bool = True) -> _Names:
    """``lav_partable_vnames`` for one block; ``rows`` are (lhs, op, rhs) of the user rows."""
    lv = _unique(l for l, o, _ in rows if o == "=~")
    eqs_y = _unique(l for l, o, _ in rows if o == "~")
    # a product with a latent factor (``IC ~ COM:IS``) is neither observed nor latent: no
    # variance, covariance or intercept rows (smsem.estimate.interaction fits it); a product
    # of two observed variables is an observed covariate, as lavaan's ov.interaction
    eqs_x = _unique(r for _, o, r in rows if o == "~" and not _latent_product(r, lv))
    v_ind = _unique(r for _, o, r in rows if o == "=~")
    ov_ind = [v for v in v_ind if v not in lv]
    ov_y2 = [v for v in eqs_y if v not in lv and v not in ov_ind]
    ov_x = [v for v in eqs_x if v not in lv and v not in ov_ind and v not in ov_y2]
    ov_cov = [l for l, o, _ in rows if o == "~~" and l not in lv] + [r for _, o, r in rows if o == "~~" and r not in lv]
    ov_int = [l for l, o, _ in rows if o == "~1" and l not in lv]
    tmp = ov_ind + ov_y2 + ov_x
    extra = _unique(ov_cov + ov_int)
    ov = tmp + [v for v in extra if v not in tmp]
    # a covariate named in a variance, covariance or intercept formula is random
    mentioned = {l for l, o, _ in rows if o in ("~1", "~~")} | {r for _, o, r in rows if o == "~~"}
    ov_x = [v for v in ov_x if v not in mentioned] if fixed_x_candidates else ov_x
    ov_nox = [v for v in ov if v not in ov_x]
    lv_x = [v for v in lv if v not in v_ind and v not in eqs_y]
    lv_y = [v for v in lv if v in eqs_y and v not in v_ind and v not in eqs_x]
    ov_y = [v for v in ov if v in eqs_y and v not in v_ind and v not in eqs_x and v not in lv]
    return _Names(tuple(lv), tuple(ov), tuple(ov_x), tuple(ov_nox), tuple(lv_x), tuple(lv_y), tuple(ov_y),
                  tuple(ov_ind))


def _latent_product(name: str, lv: Sequence[str]) -> bool:
    return ":" in name and any(part in lv for part in name.split(":"))


class ParTable:
    """A parameter table (lavaan's ``parTable()``); build it with :func:`lavaanify`.

    Attributes
    ----------
    df : DataFrame
        One row per parameter and constraint, columns ``TABLE_COLUMNS``, in lavaan's order.
    meanstructure : bool
    options : dict
        The options the table was built with (``model_type``, ``std_lv``, ``fixed_x``, ...).
    """

    def __init__(self, df: pd.DataFrame, names: _Names, meanstructure: bool, options: dict):
        self._df = df
        self._names = names
        self.meanstructure = bool(meanstructure)
        self.options = dict(options)

    @property
    def df(self) -> pd.DataFrame:
        """A copy of the table (the table itself is immutable)."""
        return self._df.copy()

    def __len__(self) -> int:
        return len(self._df)

    def __repr__(self) -> str:
        return f"<ParTable: {len(self._df)} rows, {self.npar} free parameters>"

    def __str__(self) -> str:
        cols = ["id", "lhs", "op", "rhs", "user", "free", "ustart", "exo", "label", "plabel"]
        return self._df[cols].to_string(index=False)

    @property
    def npar(self) -> int:
        """Free parameters as lavaan counts them (``max(free)``)."""
        return int(self._df["free"].max()) if len(self._df) else 0

    @property
    def n_equalities(self) -> int:
        """Equality constraint rows (``==``), each removing one degree of freedom."""
        return int((self._df["op"] == "==").sum())

    @property
    def ov(self) -> list[str]:
        """Observed variables in lavaan's order (``lavNames(fit, "ov")``)."""
        return list(self._names.ov)

    @property
    def lv(self) -> list[str]:
        """Latent variables in lavaan's order (``lavNames(fit, "lv")``)."""
        return list(self._names.lv)

    @property
    def ov_x(self) -> list[str]:
        """The fixed covariates: observed exogenous variables whose (co)variances (and
        means) are fixed at their sample values (empty with ``fixed_x=False``)."""
        return list(self._names.ov_x) if self.options.get("fixed_x", True) else []

    @property
    def ov_nox(self) -> list[str]:
        return [v for v in self._names.ov if v not in self.ov_x]

    @property
    def lv_x(self) -> list[str]:
        return list(self._names.lv_x)

    @property
    def lv_y(self) -> list[str]:
        return list(self._names.lv_y)

    @property
    def ov_y(self) -> list[str]:
        return list(self._names.ov_y)

    @property
    def interactions(self) -> list[tuple[str, str, str]]:
        """Every interaction term ``a:b`` (right of a ``~`` row) as ``(name, a, b)``, in
        the table's order."""
        out: list[tuple[str, str, str]] = []
        for r in self.df.loc[(self.df["op"] == "~") & self.df["rhs"].str.contains(":", regex=False), "rhs"]:
            if r not in [t[0] for t in out]:
                a, b = r.split(":")
                out.append((r, a, b))
        return out

    @property
    def lv_interactions(self) -> list[tuple[str, str, str]]:
        """The interaction terms with a latent factor: not observed, no variance rows;
        fitted by :mod:`smsem.estimate.interaction` (lavaan refuses them)."""
        lv = set(self._names.lv)
        return [t for t in self.interactions if t[1] in lv or t[2] in lv]

    @property
    def ov_interactions(self) -> list[tuple[str, str, str]]:
        """Products of two observed variables (lavaan's ``ov.interaction``): observed
        covariates (in :attr:`ov`) computed from the data as the product of the raw columns."""
        lv = set(self._names.lv)
        return [t for t in self.interactions if t[1] not in lv and t[2] not in lv]

    @cached_property
    def _param_rows(self) -> pd.DataFrame:
        return self._df[self._df["op"].isin(["=~", "~", "~~", "~1"])]

    @property
    def parameters(self) -> pd.DataFrame:
        """The model's parameter rows (``=~ ~ ~~ ~1``), free and fixed."""
        return self._param_rows.copy()

    @property
    def constraints(self) -> pd.DataFrame:
        """The ``==``, ``<`` and ``>`` rows (user constraints and label equalities)."""
        return self._df[self._df["op"].isin(["==", "<", ">"])].copy()

    @property
    def defined(self) -> pd.DataFrame:
        """The ``:=`` rows."""
        return self._df[self._df["op"] == ":="].copy()

    @property
    def ngroups(self) -> int:
        return int(self.options.get("ngroups", 1))

    @property
    def n_moments(self) -> int:
        """Sample moments the model is fitted to: ``p(p+1)/2`` (+ ``p`` means) per group."""
        p = len(self._names.ov)
        return (p * (p + 1) // 2 + (p if self.meanstructure else 0)) * self.ngroups

    @property
    def df_model(self) -> int:
        """lavaan's degrees of freedom: moments - free parameters + equality constraints.

        With ``fixed.x`` the covariates' moments are not modelled: lavaan drops them from
        the moments (their rows are fixed, not free), so they cancel out.
        """
        k = len(self.ov_x)
        fixed_moments = (k * (k + 1) // 2 + (k if self.meanstructure else 0)) * self.ngroups
        return self.n_moments - fixed_moments - self.npar + self.n_equalities

    def label_of(self, free_index: int) -> str:
        row = self._df[self._df["free"] == free_index].iloc[0]
        return str(row["label"] or row["plabel"])


def lavaanify(model: ParsedModel | str, *, model_type: str = "sem", std_lv: bool = False,
              meanstructure: bool | None = None, fixed_x: bool = True, int_ov_free: bool | None = None,
              int_lv_free: bool | None = None, auto_fix_first: bool | None = None,
              auto_fix_single: bool = True, auto_var: bool = True, auto_cov_lv_x: bool = True,
              auto_cov_y: bool = True, orthogonal: bool = False, missing: str = "listwise",
              ngroups: int = 1, group_equal: Sequence[str] = (), group_partial: Sequence[str] = ()) -> ParTable:
    """Build the parameter table of ``model`` with lavaan's defaults.

    Parameters
    ----------
    model : ParsedModel or str
        Parsed model, or lavaan syntax.
    model_type : {"sem", "cfa", "growth"}, default="sem"
        The defaults of lavaan's ``sem()``, ``cfa()`` (the same) or ``growth()`` (observed
        intercepts fixed at 0, latent means free, always a mean structure).
    std_lv : bool, default=False
        Scale latent variables by fixing their variances at 1 instead of a first loading.
    meanstructure : bool or None
        None: lavaan's "default" -- a mean structure when the syntax has a ``~ 1`` term,
        with FIML (``missing="fiml"``) or for growth models.
    fixed_x : bool, default=True
        Observed exogenous covariates' (co)variances and means fixed at the sample values.
    missing : {"listwise", "fiml"}
        FIML implies a mean structure.
    ngroups : int, default=1
        Number of groups: every row is repeated per group (``group`` 1..G), ``c(...)``
        modifiers give one value per group, and a mean structure is the default.
    group_equal : sequence of str
        lavaan's ``group.equal``: ``loadings``, ``intercepts``, ``means``, ``regressions``,
        ``residuals``, ``residual.covariances``, ``lv.variances``, ``lv.covariances``.
    group_partial : sequence of str
        lavaan's ``group.partial``: parameters (``"f=~x2"``, ``"x1~1"``) exempt from
        ``group_equal``.

    Returns
    -------
    ParTable

    Raises
    ------
    SpecError
        Labels used by constraints that the model does not define, and other problems,
        naming the line.
    """
    if isinstance(model, str):
        model = parse_lavaan(model)
    if model_type not in MODEL_TYPES:
        raise SpecError(f"model type {model_type!r} is not one of {', '.join(MODEL_TYPES)}")
    growth = model_type == "growth"
    if int_ov_free is None:
        int_ov_free = not growth
    if int_lv_free is None:
        int_lv_free = growth
    if auto_fix_first is None:
        auto_fix_first = not std_lv
    ngroups = int(ngroups)
    if ngroups < 1:
        raise SpecError(f"the number of groups must be at least 1, got {ngroups}")
    bad = sorted(set(group_equal) - set(GROUP_EQUAL))
    if bad:
        raise SpecError(f"group.equal value {bad[0]!r} is not one of {', '.join(GROUP_EQUAL)}")
    group_equal = tuple(group_equal)
    group_partial = tuple(re.sub(r"\s+", "", g) for g in group_partial)
    if meanstructure is None:
        meanstructure = growth or missing == "fiml" or model.has_intercepts or ngroups > 1
    elif model.has_intercepts:
        meanstructure = True  # lavaan: any '~ 1' in the syntax forces a mean structure

    specs = list(model.parameters)
    # 1. the user's rows, with covariances oriented by lavaan's variable order
    flat = [(s.lhs, s.op, s.rhs) for s in specs]
    names0 = _vnames(flat)
    order = {v: i for i, v in enumerate(list(names0.lv) + list(names0.ov))}
    user_rows = []
    for s in specs:
        lhs, rhs = s.lhs, s.rhs
        if s.op == "~~" and lhs != rhs and order.get(lhs, 0) > order.get(rhs, 0):
            lhs, rhs = rhs, lhs
        user_rows.append((lhs, s.op, rhs, s))
    names = _vnames([(l, o, r) for l, o, r, _ in user_rows])
    ov_x = list(names.ov_x)

    # 2. defaults, in lavaan's order
    defaults: list[tuple[str, str, str]] = []
    defaults += [(v, "~~", v) for v in names.ov_nox]
    defaults += [(v, "~~", v) for v in names.lv]
    if auto_cov_lv_x and len(names.lv_x) > 1:
        defaults += [(a, "~~", b) for a, b in combinations(names.lv_x, 2)]
    lvov_y = list(names.lv_y) + list(names.ov_y)
    if auto_cov_y and len(lvov_y) > 1:
        defaults += [(a, "~~", b) for a, b in combinations(lvov_y, 2)]
    for j, a in enumerate(ov_x):  # lower triangle, column by column
        for b in ov_x[j:]:
            defaults.append((a, "~~", b))
    if meanstructure:
        defaults += [(v, "~1", "") for v in list(names.ov) + list(names.lv)]
    written = {(l, o, r) for l, o, r, _ in user_rows}
    defaults = [d for d in defaults if d not in written]

    rows: list[dict] = []
    for lhs, op, rhs, s in user_rows:
        rows.append(dict(lhs=lhs, op=op, rhs=rhs, user=1, free=1, ustart=np.nan, exo=0, label="", start=np.nan,
                         line=s.line, spec=s))
    for lhs, op, rhs in defaults:
        rows.append(dict(lhs=lhs, op=op, rhs=rhs, user=0, free=1, ustart=np.nan, exo=0, label="", start=np.nan,
                         line=0, spec=None))

    lv = set(names.lv)
    # 3. identification and the other defaults (before the modifiers, as lavaan)
    if std_lv:
        for r in rows:
            if r["op"] == "~~" and r["lhs"] == r["rhs"] and r["lhs"] in lv:
                r["ustart"], r["free"] = 1.0, 0
    if auto_fix_first:
        seen: set[str] = set()
        for r in rows:
            if r["op"] == "=~" and r["lhs"] not in seen:
                seen.add(r["lhs"])
                r["ustart"], r["free"] = 1.0, 0
    if auto_var and auto_fix_single:
        loadings = [(r["lhs"], r["rhs"]) for r in rows if r["op"] == "=~"]
        count: dict[str, int] = {}
        for l, _ in loadings:
            count[l] = count.get(l, 0) + 1
        rhs_count: dict[str, int] = {}
        for _, r_ in loadings:
            rhs_count[r_] = rhs_count.get(r_, 0) + 1
        single = {r_ for l, r_ in loadings if count[l] == 1 and l != r_ and rhs_count[r_] == 1}
        for r in rows:
            if r["op"] == "~~" and r["lhs"] == r["rhs"] and r["lhs"] in single and r["user"] == 0:
                r["ustart"], r["free"] = 0.0, 0
    if orthogonal:
        for r in rows:
            if r["op"] == "~~" and r["lhs"] != r["rhs"] and r["lhs"] in lv and r["rhs"] in lv and r["user"] == 0:
                r["ustart"], r["free"] = 0.0, 0
    if meanstructure:
        for r in rows:
            if r["op"] == "~1" and r["user"] == 0:
                if (r["lhs"] in lv and not int_lv_free) or (r["lhs"] not in lv and not int_ov_free):
                    r["ustart"], r["free"] = 0.0, 0
    if fixed_x and ov_x:
        xs = set(ov_x)
        for r in rows:
            if r["user"] == 0 and ((r["op"] == "~~" and r["lhs"] in xs and r["rhs"] in xs)
                                   or (r["op"] == "~1" and r["lhs"] in xs)):
                r["ustart"], r["free"], r["exo"] = np.nan, 0, 1

    # 3b. one copy of every row per group, with lavaan's per-group changes
    base = rows
    rows = []
    for g in range(1, ngroups + 1):
        for r in base:
            c = dict(r)
            c["group"] = g
            if g > 1 and c["user"] == 0:
                if (meanstructure and not int_lv_free and c["op"] == "~1" and c["lhs"] in lv
                        and "intercepts" in group_equal and "means" not in group_equal):
                    c["free"], c["ustart"] = 1, np.nan
                if (std_lv and "loadings" in group_equal and "lv.variances" not in group_equal
                        and c["op"] == "~~" and c["lhs"] == c["rhs"] and c["lhs"] in lv):
                    c["free"], c["ustart"] = 1, np.nan
            rows.append(c)

    # 4. the modifiers (a single value applies to every group; c(...) gives one per group)
    for r in rows:
        s = r.pop("spec")
        if s is None:
            continue
        if s.groups is not None:
            if len(s.groups) != ngroups:
                raise SpecError(f"line {s.line}: c(...) in '{s.lhs} {s.op} {s.rhs}' has {len(s.groups)} "
                                f"value(s) but the model has {ngroups} group(s); give one value per group")
            s = s.groups[r["group"] - 1]
        if s.fixed is not None:
            r["ustart"], r["free"] = float(s.fixed), 0
        elif s.free:
            r["ustart"], r["free"] = np.nan, 1
        if s.start is not None:
            r["ustart"] = float(s.start)
            r["start"] = float(s.start)
        if s.label is not None:
            r["label"] = s.label

    # 5. plabels and equality constraints from shared labels
    for i, r in enumerate(rows, start=1):
        r["id"], r["plabel"] = i, f".p{i}."
        r["block"] = r["group"]
    eq_label = _equality_labels(rows, names, group_equal, group_partial)
    _check_labels(rows, model)
    generated: list[tuple[str, str]] = []
    seen_labels: dict[str, list[int]] = {}
    for i, lab in enumerate(eq_label):
        seen_labels.setdefault(lab, []).append(i)
    # lavaan: unique(label[duplicated(label)]) -- in the order of each label's second use
    second_use = sorted((idx[1], lab) for lab, idx in seen_labels.items() if len(idx) > 1)
    for _, lab in second_use:
        idx = seen_labels[lab]
        fixed = [i for i in idx if rows[i]["free"] == 0]
        if fixed:
            value = rows[fixed[0]]["ustart"]
            for i in idx:
                rows[i]["ustart"], rows[i]["free"] = value, 0
            continue
        ref = idx[0]
        for i in idx[1:]:
            generated.append((rows[ref]["plabel"], rows[i]["plabel"]))
        for i in idx:
            if not rows[i]["label"]:
                rows[i]["label"] = rows[ref]["plabel"]

    # 6. constraint rows: := and ==/</> as written (in file order), then label equalities
    con: list[dict] = []
    stmts = [(d.line, 0, d) for d in model.defined] + [(c.line, 1, c) for c in model.constraints]
    for _, kind, st in sorted(stmts, key=lambda t: t[0]):
        if kind == 0:
            con.append(dict(lhs=st.name, op=":=", rhs=_squeeze(st.expression), user=1, label=st.name,
                            line=st.line))
        else:
            con.append(dict(lhs=_squeeze(st.lhs), op=st.op, rhs=_squeeze(st.rhs), user=1, label="", line=st.line))
    con += [dict(lhs=a, op="==", rhs=b, user=2, label="", line=0) for a, b in generated]
    for c in con:
        c.update(id=len(rows) + 1, block=0, group=0, free=0, ustart=np.nan, exo=0, plabel="", start=np.nan)
        rows.append(c)

    # 7. number the free parameters
    k = 0
    for r in rows:
        if r["free"]:
            k += 1
            r["free"] = k
    df = pd.DataFrame(rows)[TABLE_COLUMNS]
    df = df.astype({"id": int, "user": int, "block": int, "group": int, "free": int, "exo": int, "line": int,
                    "ustart": float, "start": float})
    options = dict(model_type=model_type, std_lv=std_lv, meanstructure=meanstructure, fixed_x=fixed_x,
                   int_ov_free=int_ov_free, int_lv_free=int_lv_free, auto_fix_first=auto_fix_first,
                   auto_fix_single=auto_fix_single, auto_var=auto_var, auto_cov_lv_x=auto_cov_lv_x,
                   auto_cov_y=auto_cov_y, orthogonal=orthogonal, missing=missing, ngroups=ngroups,
                   group_equal=group_equal, group_partial=group_partial)
    return ParTable(df, names, meanstructure, options)


def _equality_labels(rows: list[dict], names: _Names, group_equal: Sequence[str],
                     group_partial: Sequence[str]) -> list[str]:
    """lavaan's ``lav_partable_labels``: a row's label for equality detection -- the
    user's label, else ``lhs op rhs`` (with ``.g<g>`` from group 2 on), with the rows
    named in ``group_equal`` sharing their group-1 label."""
    label = [f"{r['lhs']}{r['op']}{r['rhs']}" + (f".g{r['group']}" if r["group"] > 1 else "") for r in rows]
    if group_equal and any(r["group"] > 1 for r in rows):
        ov_nox, lvs = set(names.ov_nox), set(names.lv)
        ge = set(group_equal)

        def flagged(r: dict) -> bool:
            op, lhs, rhs = r["op"], r["lhs"], r["rhs"]
            return (("loadings" in ge and op == "=~")
                    or ("intercepts" in ge and op == "~1" and lhs in ov_nox)
                    or ("means" in ge and op == "~1" and lhs in lvs)
                    or ("regressions" in ge and op == "~")
                    or ("residuals" in ge and op == "~~" and lhs in ov_nox and lhs == rhs)
                    or ("residual.covariances" in ge and op == "~~" and lhs in ov_nox and lhs != rhs)
                    or ("lv.variances" in ge and op == "~~" and lhs in lvs and lhs == rhs)
                    or ("lv.covariances" in ge and op == "~~" and lhs in lvs and lhs != rhs))

        partial = set(group_partial)
        g1 = {(r["lhs"], r["op"], r["rhs"]): i for i, r in enumerate(rows)
              if r["group"] == 1 and flagged(r) and label[i] not in partial}
        for i, r in enumerate(rows):
            ref = g1.get((r["lhs"], r["op"], r["rhs"])) if r["group"] > 1 else None
            if ref is not None:
                label[i] = label[ref]
    return [r["label"] if r["label"] else lab for r, lab in zip(rows, label)]


def _squeeze(expr: str) -> str:
    """An expression as lavaan stores it: without white space."""
    return re.sub(r"\s+", "", expr)


def _check_labels(rows: list[dict], model: ParsedModel) -> None:
    """Every name in a constraint or ``:=`` expression is a label, a plabel or a defined
    parameter; a label is not also a variable name (lavaan refuses both)."""
    labels = {r["label"] for r in rows if r["label"]}
    plabels = {r["plabel"] for r in rows}
    variables = {r["lhs"] for r in rows} | {r["rhs"] for r in rows if r["rhs"]}
    for r in rows:
        if r["label"] and r["label"] in variables and r["user"] == 1:
            raise SpecError(f"line {r['line']}: label {r['label']!r} is also a variable name; "
                            "choose another label")
    known = labels | plabels
    for d in model.defined:
        _check_expression(d.expression, known, d.line, f"{d.name} := {d.expression}")
        if d.name in labels:
            raise SpecError(f"line {d.line}: defined parameter {d.name!r} has the name of a label; rename it")
        known = known | {d.name}
    for c in model.constraints:
        text = f"{c.lhs} {c.op} {c.rhs}"
        for side in (c.lhs, c.rhs):
            _check_expression(side, known, c.line, text)


def _check_expression(expr: str, known: set[str], line: int, text: str) -> None:
    from .expressions import parse_expression

    parsed = parse_expression(expr, line, statement=text)
    for name in sorted(parsed.names):
        if name not in known:
            raise SpecError(f"line {line}: {name!r} in '{text}' is not a label of the model; label the "
                            f"parameter (e.g. {name}*x) or use a defined parameter")
