"""Step 1 of the ordinal chain: item codes and univariate thresholds (lavaan's ``lav_uvord``).

An ordinal item is recoded as lavaan does (``as.integer(ordered(y))``): its *observed* distinct
values, sorted, become the codes 1..K. A value of the answer scale that nobody chose is not a
category (an unused middle category merges its neighbours' thresholds, exactly as lavaan's
thresholds skip it). Missing answers get code 0 and are left out item by item (pairwise).

Without covariates the probit ML thresholds have the closed form
``tau_k = qnorm(cumsum(p)[k])`` (lavaan starts ``nlminb`` there and stays).

Refusals, one line each (:class:`~smsem.exceptions.DataError`): an item with a single observed
category (lavaan: "ordered variable(s) has/have only 1 level"), an item with more than
:data:`MAX_LEVELS` categories (treat it as continuous instead), a declared ``pandas.Categorical``
level that nobody used (lavaan: "some categories of variable ... are empty").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from ...exceptions import DataError

__all__ = ["MAX_LEVELS", "OrdinalData", "prepare", "item_thresholds", "thresholds", "threshold_names"]

#: more categories than this are refused: an item with 12+ levels is better treated as continuous
MAX_LEVELS = 11


@dataclass(frozen=True)
class OrdinalData:
    """Variables ready for the two-step estimators.

    ``codes`` holds the ordinal items as int codes 1..K (0 = missing) in columns of ``names``
    whose ``types`` is ``"ordered"``; ``values`` holds every variable as float (NaN = missing;
    for ordinal items the code). ``levels[j]`` are the original observed values of item j
    (``None`` for a continuous variable).
    """

    names: list[str]
    types: list[str]
    codes: np.ndarray
    values: np.ndarray
    nlev: np.ndarray
    levels: list = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.codes.shape[0]

    def level_map(self) -> dict:
        """``{item: observed values}`` of the ordinal items (pass to ``prepare(levels=...)``)."""
        return {c: list(lv) for c, t, lv in zip(self.names, self.types, self.levels) if t == "ordered"}

    @property
    def ordered_idx(self) -> np.ndarray:
        return np.array([i for i, t in enumerate(self.types) if t == "ordered"], dtype=int)

    @property
    def numeric_idx(self) -> np.ndarray:
        return np.array([i for i, t in enumerate(self.types) if t == "numeric"], dtype=int)


def _code_item(name: str, col) -> tuple[np.ndarray, list]:
    s = pd.Series(col)
    if isinstance(s.dtype, pd.CategoricalDtype):
        if not s.cat.ordered:
            s = s.astype(pd.CategoricalDtype(sorted(s.dropna().unique()), ordered=True))
        counts = s.value_counts(sort=False).reindex(s.cat.categories, fill_value=0)
        empty = [str(c) for c, k in counts.items() if k == 0]
        if empty and counts.gt(0).sum() > 1:
            raise DataError(
                f"some categories of ordered item {name!r} are empty; frequencies are "
                f"[{' '.join(str(int(k)) for k in counts)}] (drop the unused levels or merge categories)"
            )
        levels = [c for c, k in counts.items() if k > 0]
        codes = np.asarray(s.cat.codes, dtype=np.int64)  # -1 = missing
        remap = np.full(len(counts) + 1, 0, dtype=np.int64)
        used = np.flatnonzero(counts.to_numpy() > 0)
        remap[used] = np.arange(1, used.size + 1)
        codes = np.where(codes < 0, 0, remap[np.clip(codes, 0, None)])
    else:
        try:
            v = pd.to_numeric(s, errors="raise").to_numpy(dtype=float)
        except (ValueError, TypeError):
            raise DataError(
                f"ordered item {name!r} has non-numeric values; give numbers or an ordered pandas Categorical"
            ) from None
        obs = ~np.isnan(v)
        levels = list(np.unique(v[obs]))
        codes = np.zeros(v.shape[0], dtype=np.int64)
        codes[obs] = np.searchsorted(np.asarray(levels), v[obs]) + 1
    k = len(levels)
    if k == 0:
        raise DataError(f"ordered item {name!r} has no observed answers")
    if k == 1:
        raise DataError(
            f"ordered item {name!r} has only one observed category ({levels[0]!r}): "
            "no threshold or polychoric correlation can be estimated; drop it from the model"
        )
    if k > MAX_LEVELS:
        raise DataError(
            f"ordered item {name!r} has {k} categories (more than {MAX_LEVELS}): "
            "treat it as continuous instead of ordered"
        )
    return codes, levels


def _code_with_levels(name: str, col, levels, group) -> tuple[np.ndarray, list]:
    """Codes of ``col`` against the given (e.g. all-groups) ``levels``; an unused one is an error."""
    s = pd.Series(col)
    lv = list(levels)
    if isinstance(s.dtype, pd.CategoricalDtype):
        s = s.astype(object)
    idx = {v: k + 1 for k, v in enumerate(lv)}
    try:
        codes = np.array([0 if pd.isna(v) else idx[v] for v in s.to_numpy()], dtype=np.int64)
    except KeyError as e:
        raise DataError(f"ordered item {name!r} has the value {e.args[0]!r}, not one of its levels {lv}") from None
    freq = np.bincount(codes, minlength=len(lv) + 1)[1:]
    if np.any(freq == 0):
        where = f" in group {group}" if group is not None else ""
        raise DataError(
            f"some categories of ordered item {name!r} are empty{where}; frequencies are "
            f"[{' '.join(str(int(k)) for k in freq)}] (merge categories so every group uses all of them)")
    return codes, lv


def prepare(data, ordered=True, names=None, *, levels=None, group=None) -> OrdinalData:
    """Code the columns of ``data`` (DataFrame or 2-D array) for the two-step estimators.

    ``ordered`` is ``True`` (every column ordinal), a list of column names, or ``False``.
    Columns not in ``ordered`` are continuous (polyserial correlations with the items).
    ``levels`` (``{item: [values...]}``, e.g. ``prepare(all_groups).level_map()``) codes the
    items against levels fixed elsewhere, as lavaan does in a multi-group model: a level no
    case of this group uses is refused in one line naming the item and ``group``.
    """
    given = levels
    if isinstance(data, pd.DataFrame):
        df = data
    else:
        arr = np.asarray(data)
        if arr.ndim != 2:
            raise DataError(f"data must be a 2-D table (cases x variables), got shape {arr.shape}")
        cols = list(names) if names is not None else [f"V{j + 1}" for j in range(arr.shape[1])]
        df = pd.DataFrame(arr, columns=cols)
    cols = [str(c) for c in df.columns]
    if ordered is True:
        ord_set = set(cols)
    elif ordered is False or ordered is None:
        ord_set = set()
    else:
        ord_list = [ordered] if isinstance(ordered, str) else list(ordered)
        unknown = [o for o in ord_list if o not in cols]
        if unknown:
            raise DataError(f"ordered item(s) not in the data: {', '.join(map(str, unknown))}")
        ord_set = set(ord_list)
    if not ord_set:
        raise DataError("no ordered item: give ordered=True or a list of item names")
    n, p = df.shape
    codes = np.zeros((n, p), dtype=np.int64)
    values = np.full((n, p), np.nan)
    nlev = np.zeros(p, dtype=np.int64)
    types, levels = [], []
    for j, c in enumerate(cols):
        col = df.iloc[:, j]
        if c in ord_set:
            if given is not None and c in given:
                cj, lv = _code_with_levels(c, col, given[c], group)
            else:
                cj, lv = _code_item(c, col)
            codes[:, j] = cj
            values[:, j] = np.where(cj > 0, cj, np.nan)
            nlev[j] = len(lv)
            types.append("ordered")
            levels.append(lv)
        else:
            try:
                v = pd.to_numeric(col, errors="raise").to_numpy(dtype=float)
            except (ValueError, TypeError):
                raise DataError(f"variable {c!r} is not numeric and not declared ordered") from None
            if np.sum(~np.isnan(v)) < 2 or np.nanvar(v) == 0:
                raise DataError(f"continuous variable {c!r} has no variance")
            values[:, j] = v
            types.append("numeric")
            levels.append(None)
    return OrdinalData(names=cols, types=types, codes=codes, values=values, nlev=nlev, levels=levels)


def item_thresholds(counts: np.ndarray) -> np.ndarray:
    """Thresholds ``qnorm(cumsum(p))`` from category counts; works on stacked counts (..., K)."""
    counts = np.asarray(counts, dtype=float)
    tot = counts.sum(axis=-1, keepdims=True)
    cum = np.cumsum(counts, axis=-1)[..., :-1] / tot
    return ndtri(cum)


def threshold_names(od: OrdinalData) -> list[str]:
    """lavaan's names of the threshold slots: ``x1|t1``... and ``age~1`` for a continuous variable."""
    out = []
    for j, c in enumerate(od.names):
        if od.types[j] == "ordered":
            out += [f"{c}|t{k + 1}" for k in range(od.nlev[j] - 1)]
        else:
            out.append(f"{c}~1")
    return out


def thresholds(data, ordered=True, *, weights=None) -> pd.Series:
    """Thresholds of every ordinal item of ``data`` (lavaan's ``lavInspect(fit, "th")``)."""
    od = data if isinstance(data, OrdinalData) else prepare(data, ordered)
    vals, names = [], []
    for j in od.ordered_idx:
        k = od.nlev[j]
        c = od.codes[:, j]
        cnt = np.bincount(c, weights=weights, minlength=k + 1)[1:]
        vals.append(item_thresholds(cnt))
        names += [f"{od.names[j]}|t{t + 1}" for t in range(k - 1)]
    return pd.Series(np.concatenate(vals), index=names, name="threshold")


def category_probs(th: np.ndarray) -> np.ndarray:
    """Model probabilities of the K categories from K-1 thresholds (lavaan's upper-tail trick)."""
    th = np.asarray(th, dtype=float)
    up = np.concatenate([th, [np.inf]])
    lo = np.concatenate([[-np.inf], th])
    p = ndtr(up) - ndtr(lo)
    big = lo > 1
    p[big] = ndtr(-lo[big]) - ndtr(-up[big])
    return p
