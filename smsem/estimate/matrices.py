"""The model matrices, filled from the parameter table (lavaan's ``lav_model``).

The layout is LISREL-like with *phantom* inner variables, the one semopy uses:

- ``observed``: the table's observed variables (``pt.ov``, lavaan's order);
- ``inner``: the latent variables (``pt.lv``) followed by an inner copy of every observed
  variable that takes part in the structural part (in a ``~`` row, or in a ``~~`` row with
  a latent or another such variable): its loading is 1 (fixed), its residual variance 0,
  and its (residual) variance, covariances and intercept live in ``psi`` / ``alpha``;
- ``Sigma = Lambda (I - B)^-1 Psi (I - B)^-T Lambda' + Theta`` and, with a mean structure,
  ``mu = nu + Lambda (I - B)^-1 alpha``.

Matrix codes of a :class:`ParamMap` location ``(matrix, row, col)``: 0 beta, 1 lambda,
2 psi, 3 theta, 4 nu, 5 alpha (the vectors use ``col`` 0).

Parameters: every free row of the table, and every fixed.x row (``exo == 1``). Rows that
share a label, or are tied by a simple equality ``a == b`` (lavaan's ``user == 2`` rows
between plabels, or a user's equality of two labels), are one parameter with several
locations: the estimates, SEs and chi2 are lavaan's (its ``ceq.simple`` and ``==`` forms
give the same numbers). fixed.x rows are estimated as free parameters: their ML estimates
are exactly the sample moments lavaan fixes them to, and the information is block
diagonal between them and the model's parameters (so ML SEs are lavaan's), while the
robust estimators get lavaan's numbers as established in ``tests/test_lavaan_covariates.py``.
They are not counted in ``npar`` (lavaan's count) but are in the degrees of freedom's
moments, so ``df`` is lavaan's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import SpecError

__all__ = ["Matrices", "ParamMap", "param_map_from_table", "start_values", "table_rows", "free_vector_map",
           "simple_equalities", "nonlinear_constraints", "MATRIX_CODES"]

MATRIX_CODES = {"beta": 0, "lambda": 1, "psi": 2, "theta": 3, "nu": 4, "alpha": 5}

Row = tuple[str, str, str]


@dataclass(frozen=True)
class Matrices:
    """Model matrices (copies, safe to keep). ``nu``/``alpha`` only with a mean structure.

    ``latent``: the inner variables that are latent (default: the inner ones that are not
    observed; the table layout names them, its phantom copies of observed ones are not).
    """

    inner: tuple[str, ...]
    observed: tuple[str, ...]
    beta: np.ndarray
    lambda_: np.ndarray
    psi: np.ndarray
    theta: np.ndarray
    nu: np.ndarray | None = None
    alpha: np.ndarray | None = None
    latent: tuple[str, ...] | None = None

    @property
    def inner_cov(self) -> np.ndarray:
        """Model-implied covariance of the inner (latent) variables."""
        c = np.linalg.inv(np.eye(len(self.inner)) - self.beta)
        return c @ self.psi @ c.T

    @property
    def implied_cov(self) -> np.ndarray:
        return self.lambda_ @ self.inner_cov @ self.lambda_.T + self.theta

    @property
    def inner_mean(self) -> np.ndarray | None:
        """Model-implied means of the inner variables, ``(I - B)^-1 alpha`` (None without means)."""
        if self.alpha is None:
            return None
        return np.linalg.solve(np.eye(len(self.inner)) - self.beta, self.alpha)

    @property
    def implied_mean(self) -> np.ndarray | None:
        """``nu + Lambda (I - B)^-1 alpha`` (None without a mean structure)."""
        if self.nu is None or self.alpha is None:
            return None
        return self.nu + self.lambda_ @ self.inner_mean

    @property
    def latent_names(self) -> tuple[str, ...]:
        if self.latent is not None:
            return self.latent
        return tuple(v for v in self.inner if v not in set(self.observed))


@dataclass(frozen=True)
class ParamMap:
    """Where each free parameter sits in the model matrices (pure numpy; no semopy).

    ``theta`` vectors everywhere in smsem follow this order. A parameter shared by several
    cells (symmetric pairs, equality constraints by label) has several locations.

    Attributes
    ----------
    names : tuple of (lhs, op, rhs)
        lavaan-style name of each free parameter (its first location).
    locations : tuple of tuple of (matrix, row, col)
        ``matrix`` is 0..5 for beta, lambda, psi, theta, nu, alpha; symmetric matrices list
        both triangles; the vectors use column 0.
    base : Matrices
        The matrices with every fixed value in place (free cells hold the estimate).
    meanstructure : bool
        True when the model has a mean structure (``nu``, ``alpha`` and mean parameters).
    exo : tuple of int
        Parameters that are lavaan's fixed.x rows (estimated at the sample moments; not in
        lavaan's ``npar``).
    aliases : dict
        ``(lhs, op, rhs) -> parameter`` for every free row (shared labels included).
    rows : tuple of (lhs, op, rhs)
        The table's parameter rows (``=~ ~ ~~ ~1``), in its order (table layout only).
    row_locations : tuple of (matrix, row, col)
        Each row's cell (table layout only).
    """

    names: tuple[tuple[str, str, str], ...]
    locations: tuple[tuple[tuple[int, int, int], ...], ...]
    base: Matrices
    meanstructure: bool = False
    exo: tuple[int, ...] = ()
    aliases: dict[Row, int] = field(default_factory=dict, repr=False, compare=False)
    rows: tuple[Row, ...] = ()
    row_locations: tuple[tuple[int, int, int], ...] = ()

    @property
    def n_free(self) -> int:
        return len(self.names)

    @property
    def npar(self) -> int:
        """lavaan's ``npar``: free parameters less fixed.x rows and simple equalities."""
        return self.n_free - len(self.exo)

    def matrices_at(self, theta: np.ndarray) -> Matrices:
        """The model matrices at parameter vector ``theta``."""
        b = self.base
        mats = [b.beta.copy(), b.lambda_.copy(), b.psi.copy(), b.theta.copy(),
                None if b.nu is None else b.nu.copy(), None if b.alpha is None else b.alpha.copy()]
        scatter = self._scatter
        if scatter is not None and len(theta) >= len(self.locations):
            values = np.asarray(theta)
            for m, k, i, j in scatter:  # every cell written once: the loop below, in one step
                if m >= 4:
                    mats[m][i] = values[k]
                else:
                    mats[m][i, j] = values[k]
        else:
            for value, locs in zip(theta, self.locations):
                for m, i, j in locs:
                    if m >= 4:
                        mats[m][i] = value
                    else:
                        mats[m][i, j] = value
        return Matrices(b.inner, b.observed, *mats, latent=b.latent)

    @property
    def _scatter(self) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]] | None:
        """Per matrix, the parameter index and cell of each location (built once; None when
        a cell has two locations, where the loop's order decides the value)."""
        kept = self.__dict__.get("_scatter_plan", False)  # (a frozen dataclass: the plan goes to __dict__)
        if kept is not False:
            return kept
        per: dict[int, list[tuple[int, int, int]]] = {}
        for k, locs in enumerate(self.locations):
            for m, i, j in locs:
                per.setdefault(m, []).append((k, i, j if m < 4 else 0))
        plan: list | None = []
        for m, cells in sorted(per.items()):
            if len({(i, j) for _, i, j in cells}) < len(cells):
                plan = None
                break
            k, i, j = (np.array(x, dtype=np.intp) for x in zip(*cells))
            plan.append((m, k, i, j))
        self.__dict__["_scatter_plan"] = plan
        return plan

    def index(self, lhs: str, op: str, rhs: str) -> int:
        """Position of parameter ``lhs op rhs`` in ``theta`` (covariances in either order)."""
        if self.aliases:
            for key in ((lhs, op, rhs), (rhs, op, lhs)) if op == "~~" else ((lhs, op, rhs),):
                if key in self.aliases:
                    return self.aliases[key]
        for k, nm in enumerate(self.names):
            if nm == (lhs, op, rhs) or (op == "~~" and nm == (rhs, op, lhs)):
                return k
        raise KeyError(f"{lhs} {op} {rhs} is not a free parameter")


# --------------------------------------------------------------------------- the table


def _col(df: Any, name: str, default: Any) -> list:
    return list(df[name]) if name in df.columns else [default] * len(df)


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return float("nan")
    return f


def table_rows(pt: Any) -> list[dict]:
    """The table's rows as dicts (id, lhs, op, rhs, user, free, ustart, exo, label, plabel,
    start, line), whatever the DataFrame's dtypes.

    A table is immutable (its ``df`` is a copy), so the rows of a table object are built
    once and kept on it; each call returns fresh dicts (callers may change them).
    """
    df = getattr(pt, "_df", None)
    kept = getattr(pt, "_smsem_table_rows", None) if df is not None else None
    if kept is not None and kept[0] is df:
        return [dict(r) for r in kept[1]]
    out = _table_rows(pt.df if df is None else df)
    if df is not None:
        try:
            pt._smsem_table_rows = (df, [dict(r) for r in out])
        except AttributeError:  # a table type that takes no attributes: rebuilt every call
            pass
    return out


def _table_rows(df: Any) -> list[dict]:
    out = []
    cols = {c: _col(df, c, d) for c, d in (("id", 0), ("lhs", ""), ("op", ""), ("rhs", ""), ("user", 0),
                                           ("free", 0), ("ustart", np.nan), ("exo", 0), ("label", ""),
                                           ("plabel", ""), ("start", np.nan), ("line", 0), ("group", 1))}
    for k in range(len(df)):
        r = {c: cols[c][k] for c in cols}
        for c in ("lhs", "rhs", "label", "plabel", "op"):
            v = r[c]
            r[c] = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)
        for c in ("user", "free", "exo", "line", "group", "id"):
            v = _num(r[c])
            r[c] = int(v) if np.isfinite(v) else 0
        r["ustart"], r["start"] = _num(r["ustart"]), _num(r["start"])
        out.append(r)
    return out


_NAME = re.compile(r"^\s*([A-Za-z_.][A-Za-z0-9_.]*)\s*$")


def _is_name(s: str) -> bool:
    return bool(_NAME.match(s))


def simple_equalities(pt: Any) -> list[dict]:
    """``==`` rows tying two labels/plabels of free rows (collapsed into one parameter)."""
    rows = table_rows(pt)
    names = {r["label"] for r in rows if r["label"] and r["free"] > 0} | \
        {r["plabel"] for r in rows if r["plabel"] and r["free"] > 0}
    return [r for r in rows if r["op"] == "==" and _is_name(r["lhs"]) and _is_name(r["rhs"])
            and r["lhs"].strip() in names and r["rhs"].strip() in names]


def nonlinear_constraints(pt: Any) -> list[dict]:
    """Constraint rows (``== < >``) that are not simple equalities of two free parameters."""
    simple = {r["id"] for r in simple_equalities(pt)}
    return [r for r in table_rows(pt) if r["op"] in ("==", "<", ">") and r["id"] not in simple]


def _phantoms(rows: list[dict], ov: list[str], lv: list[str]) -> list[str]:
    """Observed variables that need an inner copy (in ``~`` rows, or covarying with inner ones)."""
    ovs, lvs = set(ov), set(lv)
    ph = set()
    for r in rows:
        if r["op"] == "~":
            ph |= {v for v in (r["lhs"], r["rhs"]) if v in ovs}
        elif r["op"] == "=~" and r["lhs"] in ovs:
            raise SpecError(f"line {r['line']}: {r['lhs']} =~ {r['rhs']}: an observed variable cannot be "
                            "defined by indicators (declare a latent variable)")
    changed = True
    while changed:
        changed = False
        for r in rows:
            if r["op"] != "~~" or r["lhs"] == r["rhs"]:
                continue
            a, b = r["lhs"], r["rhs"]
            inner_a, inner_b = a in lvs or a in ph, b in lvs or b in ph
            for v, other_inner in ((a, inner_b), (b, inner_a)):
                if other_inner and v in ovs and v not in ph:
                    ph.add(v)
                    changed = True
    return [v for v in ov if v in ph]


def _locate(r: dict, inner: dict[str, int], obs: dict[str, int]) -> tuple[int, int, int]:
    lhs, op, rhs = r["lhs"], r["op"], r["rhs"]
    try:
        if op == "=~":
            if rhs in inner:  # a second-order loading, or an observed indicator in the structural part
                return (0, inner[rhs], inner[lhs])
            return (1, obs[rhs], inner[lhs])
        if op == "~":
            return (0, inner[lhs], inner[rhs])
        if op == "~~":
            if lhs in inner and rhs in inner:
                return (2, inner[lhs], inner[rhs])
            return (3, obs[lhs], obs[rhs])
        if op == "~1":
            if lhs in inner:
                return (5, inner[lhs], 0)
            return (4, obs[lhs], 0)
    except KeyError as exc:
        raise SpecError(f"line {r['line']}: {lhs} {op} {rhs}: {exc.args[0]!r} is neither an observed nor a "
                        "latent variable of the model") from None
    raise SpecError(f"line {r['line']}: the operator {op!r} is not supported yet ({lhs} {op} {rhs})")


def _cells(loc: tuple[int, int, int]) -> tuple[tuple[int, int, int], ...]:
    m, i, j = loc
    if m in (2, 3) and i != j:
        return ((m, i, j), (m, j, i))
    return (loc,)


_PARAM_OPS = ("=~", "~", "~~", "~1")


def param_map_from_table(pt: Any, *, collapse: bool = True) -> ParamMap:
    """The :class:`ParamMap` of a parameter table (see the module docstring for the layout).

    ``collapse=False`` keeps every free row its own parameter (shared labels and ``==``
    rows are then left to :mod:`smsem.estimate.constraints`): the parameters that are not
    fixed.x rows are then lavaan's free vector, in its order.

    Raises
    ------
    SpecError
        A row whose operator or variables the engine cannot place (naming its line).
    """
    rows = [r for r in table_rows(pt) if r["op"] in _PARAM_OPS and r["group"] <= 1]
    unsupported = [r for r in table_rows(pt) if r["op"] not in _PARAM_OPS + ("==", "<", ">", ":=")]
    if unsupported:
        r = unsupported[0]
        raise SpecError(f"line {r['line']}: the operator {r['op']!r} is not supported yet "
                        f"({r['lhs']} {r['op']} {r['rhs']})")
    if any(r["group"] > 1 for r in table_rows(pt) if r["op"] in _PARAM_OPS):
        raise SpecError("multiple groups are not supported yet by the ML engine")
    ov, lv = list(pt.ov), list(pt.lv)
    ph = _phantoms(rows, ov, lv)
    inner_names = tuple(lv + ph)
    inner = {v: i for i, v in enumerate(inner_names)}
    obs = {v: i for i, v in enumerate(ov)}
    p, m = len(ov), len(inner_names)
    ms = bool(pt.meanstructure)
    beta, lam, psi, th = np.zeros((m, m)), np.zeros((p, m)), np.zeros((m, m)), np.zeros((p, p))
    nu, alpha = (np.zeros(p), np.zeros(m)) if ms else (None, None)
    for v in ph:
        lam[obs[v], inner[v]] = 1.0
    mats = [beta, lam, psi, th, nu, alpha]

    # Union-find over free rows tied by a shared label or a simple equality.
    free_rows = [r for r in rows if r["free"] > 0 or r["exo"] == 1]
    parent = {r["id"]: r["id"] for r in free_rows}

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    by_name: dict[str, int] = {}
    for r in free_rows:
        if r["exo"] == 1 or not collapse:
            continue
        for nm in (r["plabel"], r["label"]):
            if not nm:
                continue
            if nm in by_name:
                parent[find(r["id"])] = find(by_name[nm])
            else:
                by_name[nm] = r["id"]
    for c in simple_equalities(pt) if collapse else ():
        a, b = by_name[c["lhs"].strip()], by_name[c["rhs"].strip()]
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    names: list[Row] = []
    locations: list[list[tuple[int, int, int]]] = []
    exo: list[int] = []
    aliases: dict[Row, int] = {}
    root_index: dict[int, int] = {}
    row_keys, row_locs = [], []
    for r in rows:
        loc = _locate(r, inner, obs)
        key = (r["lhs"], r["op"], r["rhs"])
        row_keys.append(key)
        row_locs.append(loc)
        if r["id"] in parent:
            root = find(r["id"])
            if root not in root_index:
                root_index[root] = len(names)
                names.append(key)
                locations.append([])
                if r["exo"] == 1:
                    exo.append(root_index[root])
            k = root_index[root]
            locations[k].extend(_cells(loc))
            aliases[key] = k
        else:
            value = r["ustart"]
            if not np.isfinite(value):
                raise SpecError(f"line {r['line']}: {r['lhs']} {r['op']} {r['rhs']} is fixed without a value")
            for mm, i, j in _cells(loc):
                if mm >= 4:
                    mats[mm][i] = value
                else:
                    mats[mm][i, j] = value
    base = Matrices(inner_names, tuple(ov), beta, lam, psi, th, nu, alpha, latent=tuple(lv))
    return ParamMap(tuple(names), tuple(tuple(x) for x in locations), base, ms, tuple(exo), aliases,
                    tuple(row_keys), tuple(row_locs))


def _fabin_1fac(s: np.ndarray, std_lv: bool) -> np.ndarray:
    """Loadings of a one-factor model by lavaan's ``lav_cfa_1fac_fabin`` (FABIN 3,
    Hagglund 1982; with three or fewer indicators lavaan's closed form
    ``lav_cfa_1fac_3ind``), with lavaan's bounds (reliability of the first indicator at
    least 0.1); under ``std_lv`` scaled by ``sqrt(|psi|)``. ``s``: the indicators'
    covariance matrix, the marker first."""
    nvar = s.shape[0]
    if nvar < 4:
        if nvar == 1:
            s = np.ones((3, 3))
        elif nvar == 2:
            extra = [np.mean(np.diag(s)), s[1, 0]]
            s = np.array([[s[0, 0], s[0, 1], extra[0]], [s[1, 0], s[1, 1], extra[1]],
                          [extra[0], extra[1], max(np.diag(s))]])
        s11, s22, s33, s21, s31, s32 = s[0, 0], s[1, 1], s[2, 2], s[1, 0], s[2, 0], s[2, 1]
        if s21 * s31 * s32 < 0:  # negative triad: lavaan's start.c: 1 (0.7 under std.lv)
            return np.full(nvar, 0.7 if std_lv else 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            psi, lam = s21 * s31 / s32, np.array([1.0, s32 / s31, s32 / s21])
        lower = 0.1 * s11
        psi = min(max(psi, lower), s11)
        for i, sii in ((1, s22), (2, s33)):
            bound = np.sqrt(sii / lower)
            lam[i] = min(max(-bound, lam[i]), bound)
        if std_lv:
            lam = lam * np.sign(psi) * np.sqrt(abs(psi))
        return lam[:nvar]
    lam = np.ones(nvar)
    for i in range(1, nvar):
        idx3 = [k for k in range(nvar) if k not in (0, i)]
        s23, s31 = s[i, idx3], s[idx3, 0]
        try:
            tmp = np.linalg.solve(s[np.ix_(idx3, idx3)], s31)
            lam[i] = (s23 @ tmp) / (s31 @ tmp)
        except np.linalg.LinAlgError:
            lam[i] = (s23 @ s31) / (s31 @ s31)
    lower = 0.1 * s[0, 0]
    for i in range(1, nvar):
        bound = np.sqrt(s[i, i] / lower)
        lam[i] = min(max(-bound, lam[i]), bound)
    if std_lv:
        d = np.outer(lam, lam) / (lam @ lam)
        theta = np.linalg.solve(np.eye(nvar) - d * d, np.diag(s - d @ s @ d))
        s1 = s - np.diag(theta)
        l2 = lam @ lam
        psi = float(((lam[:, None] * s1).sum(axis=0) * lam).sum() / (l2 * l2))
        lam = lam * np.sign(psi) * np.sqrt(abs(psi))
    return lam


def _fabin_loadings(pt: Any, obs: dict[str, int], lv: set[str], cov: np.ndarray) -> dict[tuple[str, str], float]:
    """lavaan's start values of the loadings (``lav_start``, ``start.initial = "lavaan"``
    for ``sem()``/``cfa()``): per factor whose indicators are all observed, FABIN 3 on the
    indicators' sample covariances (sign flipped after a negative marker)."""
    rows = [r for r in table_rows(pt) if r["op"] == "=~"]
    by_f: dict[str, list] = {}
    for r in rows:
        by_f.setdefault(r["lhs"], []).append(r)
    var_rows = {r["lhs"]: r for r in table_rows(pt) if r["op"] == "~~" and r["lhs"] == r["rhs"] and r["lhs"] in by_f}
    out: dict[tuple[str, str], float] = {}
    for f, rs in by_f.items():
        if any(r["rhs"] in lv or r["rhs"] not in obs for r in rs):
            continue
        idx = [obs[r["rhs"]] for r in rs]
        s = cov[np.ix_(idx, idx)]
        if not np.all(np.isfinite(s)) or np.any(np.diag(s) <= 0):
            continue
        vr = var_rows.get(f)
        std_lv = vr is not None and vr["free"] == 0 and vr["ustart"] == 1
        with np.errstate(all="ignore"):
            lam = _fabin_1fac(s, std_lv)
        lam = np.where(np.isfinite(lam), lam, 1.0)
        if not std_lv and np.isfinite(rs[0]["ustart"]) and rs[0]["ustart"] < 0:
            lam = -lam
        for r, value in zip(rs, lam):
            out[(f, r["rhs"])] = float(value)
    return out


def start_values(pt: Any, pm: ParamMap, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """lavaan's default start values (``lav_start``), with the user's ``start()`` (or a
    free row's ``ustart``) winning: loadings by FABIN 3 per factor whose indicators are
    observed (1 otherwise), regressions and covariances 0, residual variances of
    observed variables half their sample variance, latent variances 0.05, intercepts the
    sample means, latent means 0; fixed.x rows the sample moments. (With the "simple"
    loadings of 1 a reverse-keyed marker, as psych::bfi's A1, leaves Fisher scoring in a
    region where Sigma is indefinite for thousands of iterations.)

    ``mean`` and ``cov`` are the sample moments in ``pm.base.observed`` order (N divisor).
    """
    obs = {v: i for i, v in enumerate(pm.base.observed)}
    lv = set(pm.base.latent_names)
    start = np.full(pm.n_free, np.nan)
    user = np.full(pm.n_free, np.nan)
    fabin = _fabin_loadings(pt, obs, lv, np.asarray(cov, dtype=float))
    for r in table_rows(pt):
        key = (r["lhs"], r["op"], r["rhs"])
        if r["op"] not in _PARAM_OPS or key not in pm.aliases:
            continue
        k = pm.aliases[key]
        u = r["start"] if np.isfinite(r["start"]) else (r["ustart"] if r["free"] > 0 else np.nan)
        if np.isfinite(u) and not np.isfinite(user[k]):
            user[k] = u
        if np.isfinite(start[k]):
            continue
        lhs, op, rhs = key
        if op == "=~":
            s = fabin.get((lhs, rhs), 1.0)
        elif op == "~":
            s = 0.0
        elif op == "~~":
            if lhs in lv or rhs in lv:
                s = 0.05 if lhs == rhs else 0.0
            elif r["exo"] == 1:
                s = cov[obs[lhs], obs[rhs]]
            else:
                s = 0.5 * cov[obs[lhs], obs[lhs]] if lhs == rhs else 0.0
        else:  # ~1
            s = 0.0 if lhs in lv else mean[obs[lhs]]
        start[k] = s
    return np.where(np.isfinite(user), user, start)


def free_vector_map(pt: Any, pm: ParamMap) -> np.ndarray:
    """``E`` (npar_lavaan x n_free): lavaan's free vector is ``E @ theta`` (row ``i`` picks
    the parameter of the table row with ``free == i + 1``)."""
    rows = [r for r in table_rows(pt) if r["op"] in _PARAM_OPS and r["free"] > 0]
    n = max((r["free"] for r in rows), default=0)
    e = np.zeros((n, pm.n_free))
    for r in rows:
        e[r["free"] - 1, pm.aliases[(r["lhs"], r["op"], r["rhs"])]] = 1.0
    return e
