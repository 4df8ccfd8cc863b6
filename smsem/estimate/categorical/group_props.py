"""The proposition table of an ordinal multiple-group fit (WLSMV, ULSMV, DWLS, ULS): each
proposition path per group, then the group-differences block, as
:func:`smsem.propositions.group_proposition_table` for ML.

First block: per group, the path's unstandardized estimate, robust SE, p-value and std.all
(``res.params``) and, with a stratified bootstrap, the percentile CI of the std.all value and
its verdict. Second block (:data:`smsem.estimate.multigroup.PATH_DIFF_COLUMNS`): the estimate in
the reference group (group 1) and in each other group, the difference (group - reference), its
Wald test with the SE from the fit's robust covariance of the two estimates
(``var_a + var_b - 2 cov``: lavaan's delta-method SE of ``diff := a2 - a1`` for a path labelled
``c(a1, a2)*``; 0 and no test when the path is held equal), and the stratified-bootstrap
percentile CI of the difference.

The stratified bootstrap (:func:`stratified_bootstrap_ordinal`) resamples the cases within each
group (every draw keeps the groups' sizes) and refits the model draw by draw with every group's
sample statistics (thresholds, polychoric correlations, NACOV) recomputed from the draw. Draw
``b`` uses ``SeedSequence(seed).spawn(n_boot)[b]`` (one generator, the groups in order), so the
draws do not depend on anything else. A draw fails (NaN row, counted) when its refit raises
(e.g. an item loses a category), its parameter vector has another length, or it does not
converge.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["ordinal_path_differences", "ordinal_group_proposition_table", "stratified_bootstrap_ordinal",
           "OrdinalStratifiedBootstrap"]


@dataclass(frozen=True)
class OrdinalStratifiedBootstrap:
    """Draws of an ordinal multiple-group fit resampled within groups.

    ``estimates`` (n_boot x n_global): every draw's global parameter vector; ``std_all``
    (n_boot x len(res.params)): every draw's std.all column; NaN rows for failed draws."""

    estimates: np.ndarray
    std_all: np.ndarray
    n_boot: int
    n_failed: int
    seed: int


def _group_rows(res: Any, data: pd.DataFrame) -> list[np.ndarray]:
    """The row positions of ``data`` each group of ``res`` was fitted on (the fit's deletion)."""
    from ..multigroup import _label

    info = res._internal
    ov, missing = info["ov"], info["stats_bundle"][7]
    x = data[ov]
    answered = x.notna().all(axis=1) if missing == "listwise" else x.notna().any(axis=1)
    gcol = data[res.group]
    keep = (answered & gcol.notna()).to_numpy()
    lab = np.array([_label(v) if k else "" for v, k in zip(gcol, keep)], dtype=object)
    rows = [np.flatnonzero(keep & (lab == g)) for g in res.group_labels]
    if [len(r) for r in rows] != list(res.n_per_group):
        raise ValueError("the data are not those of the fit (group sizes differ)")
    return rows


def stratified_bootstrap_ordinal(res: Any, model: Any, data: pd.DataFrame, n_boot: int = 1000,
                                 seed: int = 20190102, *, jobs: int = 1) -> OrdinalStratifiedBootstrap:
    """Stratified nonparametric bootstrap of an ordinal multiple-group fit ``res`` of ``model`` on
    ``data`` (see the module docstring); the refits use the fit's own options. ``jobs`` worker
    processes share fixed chunks of draws; every draw is computed from its own stream with one
    BLAS thread, so the results do not depend on ``jobs``."""
    import multiprocessing
    import os

    n_boot = int(n_boot)
    info = res._internal
    job = {"model": model, "data": data[list(info["ov"]) + [res.group]], "rows": _group_rows(res, data),
           "group": res.group, "seed": int(seed), "npar": len(res.x), "nrow": len(res.params),
           "opts": dict(info["options"], estimator=res.estimator, group_equal=res.group_equal,
                        group_partial=res.group_partial, parameterization=res.parameterization,
                        missing=info["stats_bundle"][7])}
    est = np.full((n_boot, len(res.x)), np.nan)
    std = np.full((n_boot, len(res.params)), np.nan)
    chunks = [(b0, min(b0 + _CHUNK, n_boot)) for b0 in range(0, n_boot, _CHUNK)]
    if jobs <= 1 or len(chunks) == 1:
        outs = (_chunk(job, b0, b1) for b0, b1 in chunks)
        for b0, e, s_ in outs:
            est[b0:b0 + len(e)], std[b0:b0 + len(e)] = e, s_
    else:
        pool = multiprocessing.get_context().Pool(int(jobs), initializer=_init_worker, initargs=(job, os.getpid()))
        try:
            for b0, e, s_ in pool.imap_unordered(_chunk_in_worker, chunks, chunksize=1):
                est[b0:b0 + len(e)], std[b0:b0 + len(e)] = e, s_
        except BaseException:
            pool.terminate()
            pool.join()
            raise
        pool.close()
        pool.join()
    failed = int(np.sum(~np.all(np.isfinite(est), axis=1)))
    return OrdinalStratifiedBootstrap(est, std, n_boot, failed, int(seed))


_WORKER_JOB: dict | None = None
#: draws per chunk (fixed: never depends on the number of processes)
_CHUNK = 8


def _init_worker(job: dict, parent: int) -> None:
    import signal

    from ..._processes import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    die_with_parent(parent)
    global _WORKER_JOB
    _WORKER_JOB = job


def _chunk_in_worker(bounds):
    assert _WORKER_JOB is not None
    return _chunk(_WORKER_JOB, *bounds)


def _chunk(job: dict, b0: int, b1: int):
    """Draws b0..b1-1: draw b resamples each group's rows with the stream
    ``SeedSequence(seed, spawn_key=(b,))`` (= ``SeedSequence(seed).spawn(n_boot)[b]``)."""
    from ...exceptions import SmsemError
    from .multigroup import fit_ordinal_multigroup

    est = np.full((b1 - b0, job["npar"]), np.nan)
    std = np.full((b1 - b0, job["nrow"]), np.nan)
    for t, b in enumerate(range(b0, b1)):
        rng = np.random.default_rng(np.random.SeedSequence(job["seed"], spawn_key=(b,)))
        idx = np.concatenate([r[rng.integers(0, len(r), len(r))] for r in job["rows"]])
        d = job["data"].iloc[idx].reset_index(drop=True)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fb = fit_ordinal_multigroup(job["model"], d, job["group"], **job["opts"])
        except (SmsemError, ValueError, np.linalg.LinAlgError):
            continue
        if not fb.converged or len(fb.x) != job["npar"] or len(fb.params) != job["nrow"]:
            continue
        est[t] = fb.x
        std[t] = fb.params["std_all"].to_numpy()
    return b0, est, std


def _path_row(res: Any, g: int, source: str, target: str):
    p = res.params
    r = p[(p["group"] == g + 1) & (p["op"] == "~") & (p["lhs"] == target) & (p["rhs"] == source)]
    return None if not len(r) else r.index[0]


def _global(res: Any, g: int, source: str, target: str):
    t = res._internal["table"]
    r = t[(t["group"] == g + 1) & (t["op"] == "~") & (t["lhs"] == target) & (t["rhs"] == source)]
    if not len(r) or int(r["free"].iloc[0]) <= 0:
        return None
    return int(res._internal["gidx"][int(r["id"].iloc[0])])


def ordinal_path_differences(res: Any, paths: Sequence[Any], boot: OrdinalStratifiedBootstrap | None = None,
                             level: float = 0.95) -> pd.DataFrame:
    """The group-differences block (columns ``PATH_DIFF_COLUMNS``) of ``paths`` (PropositionPath
    entries of kind ``path``)."""
    from scipy import stats

    from ..multigroup import PATH_DIFF_COLUMNS

    z = stats.norm.ppf(0.5 + level / 2)
    V = res.vcov
    out = []
    for q in paths:
        ks = [_global(res, g, q.source, q.target) for g in range(res.ngroups)]
        r0 = _path_row(res, 0, q.source, q.target)
        if r0 is None:
            continue
        ea = float(res.params.loc[r0, "est"])
        for g in range(1, res.ngroups):
            rg = _path_row(res, g, q.source, q.target)
            if rg is None:
                continue
            eb = float(res.params.loc[rg, "est"])
            d = eb - ea
            a, b = ks[0], ks[g]
            if a is None or b is None or a == b:  # fixed or held equal: no test
                se = 0.0 if a == b else float("nan")
            else:
                se = math.sqrt(max(V[a, a] + V[b, b] - 2 * V[a, b], 0.0))
            ok = np.isfinite(se) and se > 0
            zz = d / se if ok else float("nan")
            pv = float(2 * stats.norm.sf(abs(zz))) if ok else float("nan")
            lo = hi = float("nan")
            if boot is not None and ok:
                draws = boot.estimates[:, b] - boot.estimates[:, a]
                draws = draws[np.isfinite(draws)]
                if len(draws):
                    lo, hi = (float(v) for v in np.quantile(draws, [(1 - level) / 2, (1 + level) / 2]))
            out.append([q.id, f"{q.target} ~ {q.source}", f"{res.group_labels[g]} - {res.group_labels[0]}", ea, eb,
                        d, se, zz, pv, d - z * se if ok else float("nan"), d + z * se if ok else float("nan"), lo, hi])
    return pd.DataFrame(out, columns=PATH_DIFF_COLUMNS)


def ordinal_group_proposition_table(res: Any, boot: OrdinalStratifiedBootstrap | None = None, *, model: Any = None,
                                    hypotheses: Any = None, level: float = 0.95):
    """The :class:`~smsem.propositions.PropositionTable` of an ordinal multiple-group fit (both
    blocks; see the module docstring). Hypotheses: ``hypotheses`` (a file or entries), else
    ``model``'s propositions, else every regression of group 1 with no expected sign. Indirect and
    ``:=`` hypotheses are not tested per group (left out of both blocks), as for ML."""
    from ...model.hypotheses import load_hypotheses
    from ...model.spec import PropositionPath
    from ...propositions import _EXPECTED, TABLE_COLUMNS, PropositionTable, verdict

    if hypotheses is None:
        props = tuple(getattr(model, "propositions", None) or ())
        if not props:
            p = res.params
            regs = p[(p["op"] == "~") & (p["group"] == 1)]
            props = tuple(PropositionPath(f"{r.lhs}~{r.rhs}", f"{r.lhs}~{r.rhs}", r.rhs, r.lhs, 0)
                          for r in regs.itertuples())
    elif isinstance(hypotheses, (str, bytes)) or hasattr(hypotheses, "__fspath__"):
        props = load_hypotheses(hypotheses, model)
    else:
        props = tuple(hypotheses)
    paths = [q for q in props if q.kind == "path"]
    ok = None if boot is None else np.all(np.isfinite(boot.std_all[:, res.params["op"].to_numpy() == "~"]), axis=1)
    rows = []
    for q in paths:
        for g, lab in enumerate(res.group_labels):
            k = _path_row(res, g, q.source, q.target)
            if k is None:
                continue
            r = res.params.loc[k]
            lo = hi = float("nan")
            if boot is not None and ok.any():
                lo, hi = (float(v) for v in np.quantile(boot.std_all[ok, res.params.index.get_loc(k)],
                                                        [(1 - level) / 2, (1 + level) / 2]))
            exp = _EXPECTED[q.sign]
            rows.append({"id": q.id, "group": lab, "proposition": q.proposition, "path": f"{q.source} -> {q.target}",
                         "expected": exp, "est": float(r["est"]), "std_est": float(r["std_all"]),
                         "se": float(r["se"]), "pvalue": float(r["pvalue"]), "ci_lower": lo, "ci_upper": hi,
                         "verdict": verdict(lo, hi, q.sign), "label": q.text})
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS + ["group"])
    diffs = ordinal_path_differences(res, paths, boot, level)
    n_boot = boot.n_boot if boot is not None else 0
    n_failed = boot.n_failed if boot is not None else 0
    acc = (f"{n_boot - n_failed} of {n_boot} bootstrap draws used (stratified: resampled within groups, each "
           f"group's thresholds and polychorics recomputed; {n_failed} refits failed)" if boot is not None else "")
    fi = {k: v for k, v in res.fit_indices.items()}
    return PropositionTable(table, res.n, n_boot, n_failed, {"not converged": n_failed} if n_failed else {}, level,
                            "percentile", fi, accounting=acc, group_differences=diffs)
